"""Multiple time stepping's error, measured: the drift of the smooth forces over a few steps.

    python bench/mts_drift.py [SCENARIO] [--origins 20] [--lags 16]

Multiple time stepping would hold the smooth force terms (reciprocal Ewald and the
membrane's dielectric correction) for up to m - 1 steps between evaluations, so that an ion
feels F_slow(x_{n-k}) instead of F_slow(x_n) for k = 0 .. m-1. From time origins n spaced
100 steps apart in an ordinary run of the scenario (the flagship by default), this script
measures, for each smooth term and for their sum, the drift

    d(k) = RMS_i |F(x_{n+k}) - F(x_n)| / RMS_i |F_coulomb(x_{n+k})|

(F_coulomb: real space + reciprocal + membrane correction, WCA left out: the normalisation
of the tuner's RMS relative force error, sim.forces.ewald_tuning), the largest single-ion
change, and for each m the error holding would add, e(m) = sqrt(mean over k < m of d(k)^2).
It prints JSON with the Ewald error the tuner allows and the largest m whose e(m) stays
within it (None: holding costs more accuracy than the whole Ewald budget already at m = 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def coulomb_real_space(sim):
    """A copy of the run's pair term with the WCA part switched off."""
    from sim.forces.short_range import ShortRangeForces
    pair = sim.force_field.pair
    sc = sim.scenario
    return ShortRangeForces(sc.box, sim.ions.species, sim.charges,
                            [s.diameter for s in sc.species], 0.0,
                            coulomb_prefactor=pair.prefactor, alpha=pair.alpha,
                            coulomb_cutoff=pair.coulomb_cutoff)


class ReciprocalPart:
    """The reciprocal-space (SPME) part of the run's Ewald term (sim.electrostatics.EwaldTerm,
    which evaluates it together with the real-space pairs) as a term of its own."""
    name = "reciprocal"

    def __init__(self, ewald_term):
        self.ewald = ewald_term

    def compute(self, pos, forces):
        return {"coulomb_reciprocal": self.ewald.spme.compute(pos, self.ewald.charges, forces)}


def smooth_terms(sim):
    """The terms multiple time stepping would hold: SPME and the membrane correction."""
    from sim.electrostatics import EwaldTerm
    terms = sim.force_field.terms
    return ([ReciprocalPart(t) for t in terms if isinstance(t, EwaldTerm)]
            + [t for t in terms if t.name == "membrane_dielectric"])


def term_forces(sim, terms) -> list[np.ndarray]:
    out = []
    for term in terms:
        f = np.zeros_like(sim.ions.pos)
        term.compute(sim.ions.pos, f)
        out.append(f)
    return out


def measure(scenario, origins: int, lags: int, spacing: int = 100, warmup: int = 2000):
    """Squared drifts (origins, lags, terms + 1; the last: their sum) relative to the
    Coulomb force's mean square, and the largest single-ion change (kJ/(mol nm)) by term."""
    from sim.simulation import Simulation
    sim = Simulation(scenario)
    real = coulomb_real_space(sim)
    terms = smooth_terms(sim)
    sim.advance(warmup)
    d2 = np.zeros((origins, lags, len(terms) + 1))
    largest = np.zeros(len(terms))
    for o in range(origins):
        ref = term_forces(sim, terms)
        ref_sum = sum(ref)
        for k in range(1, lags):
            sim.advance(1)
            now = term_forces(sim, terms)
            now_sum = sum(now)
            coulomb = now_sum.copy()
            real.compute(sim.ions.pos, coulomb)
            norm2 = np.mean(np.sum(coulomb ** 2, axis=1))
            diffs = [a - b for a, b in zip(now, ref)] + [now_sum - ref_sum]
            for j, d in enumerate(diffs):
                per_ion = np.sum(d ** 2, axis=1)
                d2[o, k, j] = per_ion.mean() / norm2
                if j < len(terms):
                    largest[j] = max(largest[j], float(np.sqrt(per_ion.max())))
        sim.advance(max(1, spacing - lags + 1))
    return sim, [t.name for t in terms], d2, largest


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "potassium.yaml"))
    p.add_argument("--origins", type=int, default=20)
    p.add_argument("--lags", type=int, default=16)
    args = p.parse_args()
    from sim.scenario import load_scenario
    sc = load_scenario(args.scenario)
    sim, names, d2, largest = measure(sc, args.origins, args.lags)
    mean_d2 = d2.mean(axis=0)
    allowed = sc.electrostatics.force_error
    total = mean_d2[:, -1]
    e = {m: float(np.sqrt(total[:m].mean())) for m in range(1, args.lags + 1)}
    ok = [m for m, v in e.items() if v <= allowed]
    p_ = sim.ewald_parameters
    print(json.dumps({
        "scenario": sc.name, "dt_ps": sc.run.dt, "origins": args.origins,
        "ewald": {"alpha_per_nm": p_.alpha, "cutoff_nm": p_.cutoff, "mesh": list(p_.mesh),
                  "order": p_.order, "estimated_error": p_.estimated_error},
        "drift_by_lag": {name: [float(np.sqrt(v)) for v in mean_d2[:, j]]
                         for j, name in enumerate(names + ["sum"])},
        "largest_single_ion_change_kJ_mol_nm": dict(zip(names, largest.tolist())),
        "holding_error_by_m": {str(m): v for m, v in e.items()},
        "allowed_error": allowed,
        "largest_m_within_allowed": max(ok) if ok else None,
    }, indent=2))


if __name__ == "__main__":
    main()
