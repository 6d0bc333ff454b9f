"""Choose the time step from measurement: equilibrium averages against dt (Leimkuhler-Matthews).

    python bench/timestep_study.py [--ions 1000] [--time 1.0] [--dts 0.01 0.02 0.05 0.1]

For a bulk 150 mM KCl electrolyte at 310.15 K (WCA with Pauling diameters, Ewald at RMS
relative force error 1e-3), each dt runs the same simulated time and reports, with standard
errors: the potential energy per ion (WCA + Coulomb), the density of cation-anion contact
pairs (centres within 2^(1/6) sigma, the range of the WCA force), and D from the mean squared
displacement over 20 ps windows (contacts sampled ten times per window). The smallest dt is
the reference; for every other dt the printed JSON gives each observable's difference from
it in combined standard errors, z = (x - x_ref) / sqrt(se^2 + se_ref^2), and says which
dts stay within their error bars (|z| < 3) on every observable (the equilibrium checks of
issue 15), and which also within 1% (a tighter bar, reachable only with long runs). A dt
at which a force blows up is reported as unstable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.statistics import analyze_series  # noqa: E402
from bench.bench_engine import bulk_electrolyte  # noqa: E402
from sim.observe import advance_unwrapped  # noqa: E402
from sim.run import Simulation, SimulationError  # noqa: E402


def contact_pairs(pos, box, species, sigma_pm):
    """Cation-anion pairs closer than 2^(1/6) sigma, per ion."""
    plus, minus = pos[species == 0], pos[species == 1]
    d = plus[:, None, :] - minus[None, :, :]
    d -= box * np.round(d / box)
    r2 = (d ** 2).sum(-1)
    return np.sum(r2 < (2 ** (1 / 6) * sigma_pm) ** 2) / len(pos)


def measure(n_ions, dt, total_ps, window_ps=20.0):
    sc = bulk_electrolyte(n_ions, "ewald")
    sc = sc.with_run(dt=dt)
    sim = Simulation(sc)
    box = sim.geometry.box
    sigma_pm = 0.5 * (sc.species[0].diameter + sc.species[1].diameter)
    d_true = np.array([s.diffusion for s in sc.species])[sim.ions.species]
    window = max(1, int(round(window_ps / dt)))
    n_windows = int(total_ps / window_ps)
    t0 = time.perf_counter()
    try:
        sim.advance(int(round(20.0 / dt)))  # 20 ps to relax the random start
        energies, contacts, d_ratio = [], [], []
        for _ in range(n_windows):
            sub = max(1, window // 10)
            moved = np.zeros_like(sim.ions.pos)
            seen = []
            for _ in range(window // sub):
                moved += advance_unwrapped(sim, sub, sub)
                seen.append(contact_pairs(sim.ions.pos, box, sim.ions.species, sigma_pm))
            contacts.append(np.mean(seen))
            e = sim.energies
            energies.append((e["wca"] + e["coulomb_real"] + e["coulomb_reciprocal"]
                             + e["coulomb_self"]) / sim.ions.n)
            msd = (moved ** 2).sum(1)
            d_ratio.append(np.mean(msd / (6 * sub * (window // sub) * dt) / d_true))
    except SimulationError as err:
        return {"dt_ps": dt, "unstable": str(err)}
    out = {"dt_ps": dt, "wall_s": round(time.perf_counter() - t0, 1)}
    for name, series in (("energy_per_ion_kJ_mol", energies), ("contact_pairs_per_ion", contacts),
                         ("D_over_D0", d_ratio)):
        st = analyze_series(np.array(series), equilibration=0)
        out[name] = {"mean": st.mean, "sem": st.sem}
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ions", type=int, default=1000)
    p.add_argument("--time", type=float, default=1.0, help="simulated ns per dt")
    p.add_argument("--dts", type=float, nargs="+", default=[0.01, 0.02, 0.05, 0.1])
    args = p.parse_args()
    results = [measure(args.ions, dt, args.time * 1e3) for dt in sorted(args.dts)]
    ref = results[0]
    for r in results[1:]:
        if "unstable" in r:
            continue
        within, within_1 = True, True
        for key in ("energy_per_ion_kJ_mol", "contact_pairs_per_ion", "D_over_D0"):
            x, x_ref = r[key], ref[key]
            rel = x["mean"] / x_ref["mean"] - 1
            z = (x["mean"] - x_ref["mean"]) / np.hypot(x["sem"], x_ref["sem"])
            x["relative_to_reference"] = rel
            x["z"] = z
            within &= abs(z) < 3
            within_1 &= abs(rel) < 0.01
        r["within_error_bars"] = bool(within)
        r["within_1_percent"] = bool(within_1)
    ok = [r["dt_ps"] for r in results[1:] if r.get("within_error_bars")]
    ok1 = [r["dt_ps"] for r in results[1:] if r.get("within_1_percent")]
    print(json.dumps({"reference_dt_ps": ref["dt_ps"], "results": results,
                      "largest_dt_within_error_bars": max(ok) if ok else None,
                      "largest_dt_within_1_percent": max(ok1) if ok1 else None}, indent=2))


if __name__ == "__main__":
    main()
