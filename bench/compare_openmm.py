"""ionsim against OpenMM on the same bulk electrolyte, side by side; prints one JSON object.

    python bench/compare_openmm.py [--sizes 1000 10000 100000] [--rounds 2]
                                   [--particle-steps 1e6] [--threads 2]

Needs OpenMM (``pip install ".[peers]"``). The system is bench_engine's: 150 mM K+ Cl- at
310.15 K in a periodic cube, eps_w 78.5, WCA between the ions (Lorentz-mixed Pauling
diameters), Coulomb by Ewald, Brownian dynamics at dt = 0.05 ps.

OpenMM's side: a CustomNonbondedForce for the WCA (cut at 2^(1/6) sigma_ij, shifted by
epsilon) and a NonbondedForce with PME (charges scaled by 1/sqrt(eps_w)) in a
BrownianIntegrator, its one friction coefficient with each ion's mass set to kT / (gamma D)
so that every species diffuses with its D; CPU platform. The PME parameters are chosen here
so that OpenMM's RMS relative electrostatic force error is the 1e-3 that ionsim is tuned for:
for each real-space cut-off in ``CUTOFFS_NM`` the ewaldErrorTolerance is bisected (in log) until
the error measured against a tight PME (tolerance 1e-7, cut-off 1.5 nm larger; see
``reference_tolerance`` for large boxes) is within
[0.8, 1.0] x 1e-3 (on at most 1e4 ions at the same density); of those, the fastest in a
timing of 2e6 particle-steps at N (``candidate_steps``) is used. Both codes' errors are
measured at N against the same reference on the same positions.

RMS relative force error: sqrt(sum_i |F_i - F_ref,i|^2 / sum_i |F_ref,i|^2) over the
electrostatic forces only (ionsim with its WCA off, OpenMM's PME force group alone).

Timing: each measurement runs in a fresh interpreter (so that its peak resident memory is
its own), after warm-up steps (ionsim's Numba compile, OpenMM's context), and the sides
alternate A B A B over ``--rounds``; each round's ratio is reported, and the median. Rate:
particle-steps per second. Memory: each child's peak resident set (ru_maxrss), MB and per ion
above an interpreter that only imported the code (so the Python, Numba or OpenMM libraries
themselves are not counted as the system's).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DT_PS = 0.05
TARGET_ERROR = 1e-3
CUTOFFS_NM = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
REFERENCE_TOLERANCES = (1e-7, 1e-6, 1e-5)  # the tightest whose mesh fits is used
REFERENCE_MAX_MESH_POINTS = 512 ** 3
SEARCH_IONS = 10000
FRICTION_PER_PS = 1.0  # any value: masses are set so that kT / (m gamma) = D


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


# ----------------------------------------------------------------------------- the system
def ionsim_system(n_ions: int, wca: bool = True):
    """The bench scenario (bench_engine.bulk_electrolyte) as a Simulation; wca=False: the
    ions' WCA off, so the forces are the electrostatic ones."""
    from bench.bench_engine import bulk_electrolyte
    from sim.run import Simulation
    from sim.variations import with_values
    sc = bulk_electrolyte(n_ions, "ewald", TARGET_ERROR)
    if not wca:
        sc = with_values(sc, {"interactions.wca_epsilon": "0 kJ/mol"})
    return Simulation(sc)


def openmm_system(sim, cutoff_nm: float, tolerance: float, wca: bool = True):
    """(System, positions nm) of OpenMM for ionsim's Simulation `sim` (same ions, box,
    WCA and Coulomb); the PME NonbondedForce is force group 1, the WCA group 0."""
    import openmm as mm
    sc = sim.scenario
    sp = sc.species
    box = sc.box
    system = mm.System()
    system.setDefaultPeriodicBoxVectors(mm.Vec3(box[0], 0, 0), mm.Vec3(0, box[1], 0),
                                        mm.Vec3(0, 0, box[2]))
    scale = 1.0 / math.sqrt(sc.solvent_permittivity)
    pme = mm.NonbondedForce()
    pme.setNonbondedMethod(mm.NonbondedForce.PME)
    pme.setCutoffDistance(cutoff_nm)
    pme.setEwaldErrorTolerance(tolerance)
    pme.setUseDispersionCorrection(False)
    pme.setForceGroup(1)
    wca_force = mm.CustomNonbondedForce(
        "step(rc - r) * (4 * eps * ((s / r)^12 - (s / r)^6) + eps); "
        "rc = 2^(1/6) * s; s = 0.5 * (d1 + d2)")  # (a definition uses later ones)
    wca_force.addGlobalParameter("eps", float(sc.wca_epsilon))
    wca_force.addPerParticleParameter("d")
    wca_force.setNonbondedMethod(mm.CustomNonbondedForce.CutoffPeriodic)
    wca_force.setCutoffDistance(2 ** (1 / 6) * max(s.diameter for s in sp))
    wca_force.setForceGroup(0)
    for s_index in sim.ions.species:
        s = sp[int(s_index)]
        system.addParticle(sc.kT / (FRICTION_PER_PS * s.diffusion))
        pme.addParticle(s.valence * scale, 0.0, 0.0)
        wca_force.addParticle([s.diameter])
    system.addForce(pme)
    if wca:
        system.addForce(wca_force)
    return system, np.array(sim.ions.pos, dtype=np.float64)


def _context(system, positions, threads: int, integrator=None):
    import openmm as mm
    platform_ = mm.Platform.getPlatformByName("CPU")
    integrator = integrator or mm.VerletIntegrator(0.001)
    ctx = mm.Context(system, integrator, platform_, {"Threads": str(threads)})
    ctx.setPositions(positions)
    return ctx


def reference_tolerance(box, cutoff: float) -> float:
    """The tightest of REFERENCE_TOLERANCES whose PME mesh has at most
    REFERENCE_MAX_MESH_POINTS points. OpenMM's PME picks alpha = sqrt(-ln(2 delta)) / r_c and
    n_i = ceil(2 alpha L_i / (3 delta^(1/5))) per axis (OpenMM user guide, "Coulomb
    Interaction With PME"): at N = 1e5 (82 nm) delta = 1e-7 would need 982^3 points, ~8 GB in
    float32 with its transform. A reference error of 1e-5 moves a measured 1e-3 by 5e-8
    (the errors add in quadrature)."""
    for delta in REFERENCE_TOLERANCES:
        alpha = math.sqrt(-math.log(2.0 * delta)) / cutoff
        points = math.prod(math.ceil(2.0 * alpha * float(length) / (3.0 * delta ** 0.2))
                           for length in box)
        if points <= REFERENCE_MAX_MESH_POINTS:
            return delta
    return REFERENCE_TOLERANCES[-1]


def _reference_forces(sim, threads):
    """(electrostatic forces of a tight PME, its tolerance) on sim's positions."""
    box_half = 0.5 * float(min(sim.scenario.box))
    cutoff = min(max(CUTOFFS_NM) + 1.5, box_half)
    tolerance = reference_tolerance(sim.scenario.box, cutoff)
    return _pme_forces(sim, cutoff, tolerance, threads), tolerance


def _pme_forces(sim, cutoff, tolerance, threads):
    system, pos = openmm_system(sim, cutoff, tolerance, wca=False)
    ctx = _context(system, pos, threads)
    f = ctx.getState(getForces=True, groups={1}).getForces(asNumpy=True)
    return np.asarray(f._value if hasattr(f, "_value") else f)


def _rms_error(f, ref) -> float:
    return math.sqrt(float(np.sum((f - ref) ** 2)) / float(np.sum(ref ** 2)))


def candidate_steps(n_ions: int) -> int:
    """Steps of the timing that picks OpenMM's cut-off: 2e6 particle-steps, at least 20.
    (With 2e5 and 5 at N = 1e5 the pick flipped between 3 and 4 nm from run to run, and
    the two ran at 9.8e5 and 6.9-7.4e5 particle-steps/s on 2026-12-07.)"""
    return max(20, int(2e6 / n_ions))


def choose_pme(n_ions: int, threads: int) -> dict:
    """OpenMM's PME at RMS relative force error ~1e-3 (see the module docstring), and
    ionsim's error against the same reference.

    The tolerance is bisected on a system of at most SEARCH_IONS ions at the same density
    (the relative error depends on the density, not on N; each step builds a Context, which
    at 1e5 ions takes tens of seconds); both codes' errors are then measured at N itself."""
    search = ionsim_system(min(n_ions, SEARCH_IONS), wca=False)
    candidates = _tolerances(search, threads)
    sim = search if n_ions <= SEARCH_IONS else ionsim_system(n_ions, wca=False)
    ref, ref_tolerance = _reference_forces(sim, threads)
    sim.compute_forces()
    ionsim_error = _rms_error(np.asarray(sim.forces, dtype=np.float64), ref)
    for c in candidates:
        if n_ions > SEARCH_IONS:
            c["rms_relative_force_error_at_search_size"] = c["rms_relative_force_error"]
            c["rms_relative_force_error"] = _rms_error(
                _pme_forces(sim, c["cutoff_nm"], c["tolerance"], threads), ref)
        c["particle_steps_per_s"] = openmm_rate(n_ions, c["cutoff_nm"], c["tolerance"],
                                                steps=candidate_steps(n_ions),
                                                threads=threads)["particle_steps_per_s"]
    chosen = max(candidates, key=lambda c: c["particle_steps_per_s"])
    p = sim.ewald_parameters
    return {"openmm": chosen, "openmm_candidates": candidates,
            "ionsim_rms_relative_force_error": ionsim_error,
            "ionsim_ewald": {"alpha_per_nm": p.alpha, "cutoff_nm": p.cutoff,
                             "mesh": list(p.mesh), "order": p.order,
                             "estimated_error": p.estimated_error},
            "reference": f"OpenMM PME, tolerance {ref_tolerance:g}",
            "tolerance_search_ions": search.ions.n}


def _tolerances(sim, threads: int) -> list[dict]:
    """Per cut-off, the largest ewaldErrorTolerance found whose RMS relative force error is
    at most TARGET_ERROR (bisection in log tolerance, stopping within [0.8, 1] x target)."""
    box_half = 0.5 * float(min(sim.scenario.box))
    ref, _ = _reference_forces(sim, threads)
    candidates = []
    for cutoff in (c for c in CUTOFFS_NM if c < box_half):
        lo, hi = math.log(1e-6), math.log(1e-1)
        best = None
        for _ in range(14):
            tol = math.exp(0.5 * (lo + hi))
            err = _rms_error(_pme_forces(sim, cutoff, tol, threads), ref)
            if err > TARGET_ERROR:
                hi = math.log(tol)
            else:
                lo = math.log(tol)
                best = (tol, err)
                if err >= 0.8 * TARGET_ERROR:
                    break
        if best is not None:
            candidates.append({"cutoff_nm": cutoff, "tolerance": best[0],
                               "rms_relative_force_error": best[1]})
    return candidates


# ----------------------------------------------------------------------------- the rates
def ionsim_rate(n_ions: int, steps: int) -> dict:
    sim = ionsim_system(n_ions)
    sim.advance(5)  # Numba compile, caches warm
    t0 = time.perf_counter()
    sim.advance(steps)
    wall = time.perf_counter() - t0
    return {"particle_steps_per_s": sim.ions.n * steps / wall, "steps": steps,
            "wall_s": wall, "peak_rss_mb": _peak_mb()}


def openmm_rate(n_ions: int, cutoff: float, tolerance: float, steps: int,
                threads: int) -> dict:
    import openmm as mm
    sim = ionsim_system(n_ions)
    system, pos = openmm_system(sim, cutoff, tolerance)
    temperature = sim.scenario.temperature
    integrator = mm.BrownianIntegrator(temperature, FRICTION_PER_PS, DT_PS)
    integrator.setRandomNumberSeed(1)
    ctx = _context(system, pos, threads, integrator)
    integrator.step(5)
    ctx.getState(getPositions=True)
    t0 = time.perf_counter()
    integrator.step(steps)
    ctx.getState(getPositions=True)  # the steps are done when their positions are read
    wall = time.perf_counter() - t0
    return {"particle_steps_per_s": n_ions * steps / wall, "steps": steps, "wall_s": wall,
            "peak_rss_mb": _peak_mb()}


def baseline(side: str) -> dict:
    """Peak RSS of an interpreter that imported what `side` needs and built nothing."""
    if side == "ionsim":
        import sim.run  # noqa: F401
    else:
        import openmm  # noqa: F401
    return {"peak_rss_mb": _peak_mb()}


def _child(args: list[str], threads: int) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, __file__, "--child", *args], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(n_ions: int, rounds: int, particle_steps: float, threads: int) -> dict:
    pme = _child(["choose", str(n_ions)], threads)
    steps = max(10, int(particle_steps / n_ions))
    omm = pme["openmm"]
    base = {s: _child(["baseline", s], threads)["peak_rss_mb"] for s in ("ionsim", "openmm")}
    pairs = []
    for _ in range(rounds):
        a = _child(["ionsim", str(n_ions), str(steps)], threads)
        b = _child(["openmm", str(n_ions), str(steps), repr(omm["cutoff_nm"]),
                    repr(omm["tolerance"])], threads)
        pairs.append({"ionsim": a, "openmm": b,
                      "ratio": a["particle_steps_per_s"] / b["particle_steps_per_s"]})
    ratios = [p["ratio"] for p in pairs]

    def per_ion_kb(side):
        peak = max(p[side]["peak_rss_mb"] for p in pairs)
        return {"peak_rss_mb": peak, "baseline_rss_mb": base[side],
                "kb_per_ion": 1024.0 * (peak - base[side]) / n_ions}

    return {"n_ions": n_ions, "steps_per_measurement": steps, **pme,
            "ionsim_particle_steps_per_s": float(np.median(
                [p["ionsim"]["particle_steps_per_s"] for p in pairs])),
            "openmm_particle_steps_per_s": float(np.median(
                [p["openmm"]["particle_steps_per_s"] for p in pairs])),
            "ratio_ionsim_over_openmm": float(np.median(ratios)),
            "ratios_per_round": ratios,
            "memory": {"ionsim": per_ion_kb("ionsim"), "openmm": per_ion_kb("openmm")}}


def child_main(argv: list[str]) -> None:
    what, rest = argv[0], argv[1:]
    threads = int(os.environ.get("NUMBA_NUM_THREADS", "2"))
    if what == "choose":
        out = choose_pme(int(rest[0]), threads)
    elif what == "baseline":
        out = baseline(rest[0])
    elif what == "ionsim":
        out = ionsim_rate(int(rest[0]), int(rest[1]))
    else:
        out = openmm_rate(int(rest[0]), float(rest[2]), float(rest[3]), int(rest[1]),
                          threads)
    print(json.dumps(out))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    p.add_argument("--rounds", type=int, default=2, help="A B pairs per size")
    p.add_argument("--particle-steps", type=float, default=1e6,
                   help="particle-steps per timed measurement (steps = this / N, >= 10)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    try:
        import openmm
    except ImportError:
        sys.exit("bench/compare_openmm.py needs OpenMM: pip install \".[peers]\"")
    import numba
    result = {"machine": {"cpus": os.cpu_count(), "threads": args.threads,
                          "python": platform.python_version(), "numba": numba.__version__,
                          "openmm": openmm.__version__},
              "dt_ps": DT_PS, "target_rms_relative_force_error": TARGET_ERROR,
              "sizes": []}
    for n in args.sizes:
        result["sizes"].append(compare(n, args.rounds, args.particle_steps, args.threads))
        print(json.dumps(result["sizes"][-1]), file=sys.stderr, flush=True)  # so far
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
