"""Engine checks against exact results, without scenario files.

Each function returns a :class:`~analysis.validation.verdict.CaseResult` (undecided; the
runner calls ``decide``). They re-implement, small, what tests/ checks (analysis/ must not
import tests/):

- :func:`free_diffusion`: an ideal gas (no forces) in a periodic box; D from the mean
  squared displacement, MSD = 6 D t, against the D the scenario gives K+ (nm^2/ps).
- :func:`harmonic_well`: a test-only external force U = k |r - r0|^2 / 2; under
  Leimkuhler-Matthews Var(x) = kT / k exactly at any stable dt (Leimkuhler and Matthews,
  AMRX 2013; ../shared/reference/README.md), in nm^2. k D dt / kT = 0.6 here, where
  Euler-Maruyama would be 43% too wide.
- :func:`ewald_forces`: the engine's electrostatic forces (real space + SPME + self, tuned
  for an RMS relative force error of 1e-3) against a direct Ewald sum converged to rounding
  (:func:`analysis.validation.ewald_direct_sum.direct_ewald`, shared with the tests), RMS
  relative error (dimensionless), which must stay below 1e-3.
- :func:`capacitor`: +Q sheets just inside both membranes, -Q just outside: the 1-D
  Poisson solver's V = phi(inside) - phi(outside) against Q / (C A) with
  C = [d / (eps0 eps_m) + 2 gap / (eps0 eps_w)]^-1 per area (mV; exact up to rounding).

Internal units: nm, ps, kJ/mol, e; results as stated per check.
"""

from __future__ import annotations

import math

import numpy as np

from sim import units
from sim.observe import advance_unwrapped
from sim.run import ForceTerm, Simulation
from sim.scenario import parse_scenario

from analysis.validation.ewald_direct_sum import direct_ewald
from analysis.validation.verdict import CaseResult

__all__ = ["free_diffusion", "harmonic_well", "ewald_forces", "capacitor", "bulk_scenario"]

IDEAL = {"wca_epsilon": "0 kJ/mol"}


def bulk_scenario(side_nm: float, conc, run: dict, electrostatics="off",
                  interactions=None):
    """A periodic cube of electrolyte at 310.15 K, no membranes; ``conc`` is one
    concentration for K+ and Cl- or a species -> concentration map."""
    if isinstance(conc, str):
        conc = {"K+": conc, "Cl-": conc}
    tree = {"name": "bulk", "temperature": "310.15 K", "box": {"lateral": f"{side_nm} nm"},
            "compartments": [{"name": "bulk", "depth": f"{side_nm} nm",
                              "concentrations": dict(conc)}],
            "membranes": [], "electrostatics": electrostatics, "run": run}
    if interactions:
        tree["interactions"] = interactions
    return parse_scenario(tree, "<validate>")


# ------------------------------------------------------------------------- free diffusion
def free_diffusion(quick: bool = True) -> CaseResult:
    """D of K+ from the MSD of an ideal gas (nm^2/ps), independent windows pooled."""
    sc = bulk_scenario(12, "1 M", {"dt": "2 ps", "steps": 1, "seed": 11}, interactions=IDEAL)
    sim = Simulation(sc)
    steps, windows, every = 500, (4 if quick else 20), 10
    k = sim.ions.species == 0
    estimates = []
    for _ in range(windows):
        moved = advance_unwrapped(sim, steps, every)
        estimates.append((moved[k] ** 2).sum(axis=1) / (6 * steps * sc.run.dt))
    x = np.concatenate(estimates)  # disjoint windows of an ideal gas: independent samples
    d_in = sc.species[0].diffusion
    return CaseResult(
        case="free_diffusion", question="Does an ion diffuse with the D it was given?",
        quantity="D of K+ from MSD = 6 D t", unit="nm^2/ps", value=float(x.mean()),
        se=float(x.std(ddof=1) / math.sqrt(x.size)), reference=d_in,
        source="input D (sim/data/species.yaml, 37 C); MSD = 6 D t for free diffusion",
        abs_tol=0.02 * d_in, count=int(x.size), min_count=500,
        notes=[f"{x.size} independent displacements over {steps * sc.run.dt:g} ps"])


# ------------------------------------------------------------------------- harmonic well
class HarmonicWell(ForceTerm):
    """Test-only external force: U = k/2 |r - centre|^2 on every ion (kJ/mol, nm)."""

    name = "harmonic"

    def __init__(self, k: float, centre):
        self.k, self.centre = k, np.asarray(centre, dtype=float)

    def compute(self, pos, forces):
        d = pos - self.centre
        forces -= self.k * d
        return {"harmonic": 0.5 * self.k * float((d ** 2).sum())}


def harmonic_well(quick: bool = True) -> CaseResult:
    """Var(x) of K+ in a harmonic well under Leimkuhler-Matthews (nm^2) against kT/k."""
    sc = bulk_scenario(12, "1 M", {"dt": "1 ps", "steps": 1, "seed": 4,
                                   "integrator": "leimkuhler-matthews"}, interactions=IDEAL)
    kT = units.kT(sc.temperature)
    d_k = sc.species[0].diffusion
    k = 0.6 * kT / (d_k * sc.run.dt)  # k D dt / kT = 0.6 for K+: a large step
    centre = np.array(sc.box) / 2
    sim = Simulation(sc, extra_forces=[HarmonicWell(k, centre)])
    sim.ions.pos[:] = centre
    sim.advance(50)  # relaxation time kT / (k D) < 2 steps
    sel = sim.ions.species == 0
    samples = []
    for _ in range(200 if quick else 1000):
        sim.advance(5)
        samples.append(sim.ions.pos[sel] - centre)
    x = np.concatenate(samples).ravel()
    var = float(x.var())
    n_eff = x.size / 2  # samples 5 steps apart, correlation time <= 2 steps: conservative
    exact = kT / k
    em = exact / (1 - k * d_k * sc.run.dt / (2 * kT))
    return CaseResult(
        case="harmonic_well", question="Does Leimkuhler-Matthews sample the Boltzmann "
                                       "distribution at a large time step?",
        quantity="Var(x) of K+ in U = k x^2 / 2 (k D dt / kT = 0.6)", unit="nm^2",
        value=var, se=var * math.sqrt(2 / n_eff), reference=exact,
        source="kT / k, exact for Leimkuhler-Matthews at any stable dt (Leimkuhler and "
               "Matthews 2013; shared/reference/README.md)",
        abs_tol=0.01 * exact,
        notes=[f"Euler-Maruyama would give {em:.4g} nm^2 (+{100 * (em / exact - 1):.0f}%)"])


# ------------------------------------------------------------------------------ Ewald
MIXTURE = {"K+": "150 mM", "Ca2+": "50 mM", "Cl-": "150 mM", "A-": "100 mM"}  # neutral


def ewald_forces(quick: bool = True) -> CaseResult:
    """RMS relative force error of the engine's tuned Ewald sum against the direct sum."""
    requested = 1e-3
    errors = []
    seeds = (1, 2) if quick else (1, 2, 3, 4)
    for seed in seeds:
        sc = bulk_scenario(9, MIXTURE, {"dt": "0.05 ps", "steps": 1, "seed": seed},
                           electrostatics={"method": "ewald", "force_error": requested},
                           interactions=IDEAL)
        sim = Simulation(sc)
        sim.compute_forces()
        engine = sim.forces.copy()
        _, exact = direct_ewald(sim.ions.pos, sim.charges, sc.box,
                                units.COULOMB_CONSTANT / sc.solvent_permittivity)
        rms = lambda f: math.sqrt(np.mean(np.sum(f * f, axis=1)))  # noqa: E731
        errors.append(rms(engine - exact) / rms(exact))
    worst = max(errors)
    return CaseResult(
        case="ewald_forces", question="Are the Ewald forces as accurate as requested?",
        quantity="RMS relative force error, worst of "
                 f"{len(seeds)} configurations ({sim.ions.n} ions, K+ Cl- Ca2+ A-)",
        unit="1", value=worst, se=0.0, reference=requested, mode="upper",
        source="requested force_error (DESIGN.md section 4); direct Ewald sum converged to "
               "~1e-16 as the exact answer",
        notes=[f"errors {', '.join(f'{e:.2g}' for e in errors)}; tuned "
               f"alpha {sim.ewald_parameters.alpha:.3g} nm^-1, cut-off "
               f"{sim.ewald_parameters.cutoff:.3g} nm, mesh "
               f"{'x'.join(map(str, sim.ewald_parameters.mesh))}"])


# --------------------------------------------------------------------------- capacitor
def capacitor(quick: bool = True) -> CaseResult:
    """V across a double-membrane capacitor of point-charge sheets (mV) against Q/(C A)."""
    from sim.forces.membrane_field import window_mean_potentials
    lx, gap, eps_m, eps_w, d_m = 10.0, 0.05, 2.0, 74.15, 2.0
    membranes = [(6.0, 8.0, eps_m), (16.0, 18.0, eps_m)]  # inside 8..16, outside 18..24(=0..6)
    lz = 24.0
    q_sheet = 0.32  # e on 100 nm^2, ~100 mV

    def sheet(z, total, n_side=4):
        g = (np.arange(n_side) + 0.5) * lx / n_side
        x, y = np.meshgrid(g, g, indexing="ij")
        return (np.stack([x.ravel(), y.ravel(), np.full(n_side ** 2, z)], axis=1),
                np.full(n_side ** 2, total / n_side ** 2))

    parts = [sheet(8.0 + gap, q_sheet), sheet(16.0 - gap, q_sheet),
             sheet(6.0 - gap, -q_sheet), sheet(18.0 + gap, -q_sheet)]
    pos = np.concatenate([p for p, _ in parts])
    q = np.concatenate([c for _, c in parts])
    inside, outside = window_mean_potentials(pos[:, 2], q, (lx, lx, lz), membranes, eps_w,
                                             [(10.0, 14.0), (20.0, 4.0)])
    c_area = 1.0 / (d_m / (units.EPS0 * eps_m) + 2 * gap / (units.EPS0 * eps_w))
    expected = q_sheet / (c_area * lx * lx) * units.MV_PER_KJ_MOL_E
    measured = (inside - outside) * units.MV_PER_KJ_MOL_E
    return CaseResult(
        case="capacitor", question="Does the 1-D field with eps(z) give a membrane the "
                                   "capacitance eps0 eps_m / d?",
        quantity="V across two membranes holding +-0.32 e sheets on 100 nm^2", unit="mV",
        value=float(measured), se=0.0, reference=float(expected), abs_tol=1e-6 * expected,
        source="V = Q / (C A), C = [d/(eps0 eps_m) + 2 gap/(eps0 eps_w)]^-1 per area "
               "(parallel-plate capacitor in series with two water gaps)")
