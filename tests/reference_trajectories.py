"""Short runs whose trajectories are kept in tests/fixtures/, recorded from main before the
loop and the Brownian step were restructured (commit 0fd2c58): a refactoring that leaves
the arithmetic alone must reproduce them bit for bit (tests/test_reference_trajectories.py).
The two Leimkuhler-Matthews cases were recorded again on 2026-12-02, when a reflection
began to mirror the noise the next step reuses (sim.integrate.mirror_noise_in_plane); the
Euler-Maruyama case, which never reuses it, reproduced unchanged. lm_ewald was recorded
again on 2026-12-07, when the real-space erfc came from a table instead of Abramowitz &
Stegun 7.1.26 (sim.forces.real_space_table): its positions moved by at most 1.0e-8 nm in the
400 steps, the real-space energy by 2.3e-7 of itself, the same crossings (none).

Run ``python -m tests.reference_trajectories`` to record them again, only after a change
that alters the arithmetic on purpose (and say so in the commit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.scenario_factory import scenario

FIXTURES = Path(__file__).parent / "fixtures"


def _membranes(channel, thickness):
    # thin membranes, so that ions cross within a few hundred picoseconds
    return [{"thickness": thickness, "permittivity": 2, "channels": [channel]}] * 2


CASES = {
    # Leimkuhler-Matthews with Ewald and the membrane field (the force arithmetic)
    "lm_ewald": dict(
        electrostatics="ewald",
        compartments=[
            {"name": "inside", "depth": "4 nm",
             "concentrations": {"K+": "300 mM", "A-": "300 mM"}},
            {"name": "outside", "depth": "4 nm",
             "concentrations": {"K+": "20 mM", "Cl-": "20 mM"}}],
        membranes=_membranes({"count": 4, "radius": "1.2 nm", "permeant": ["K+"]}, "3 nm"),
        run={"dt": "0.05 ps", "steps": 400, "seed": 21, "sample_interval": 10,
             "frame_interval": 50}),
    # Leimkuhler-Matthews through wide pores of a thin membrane (crossings, reflections)
    "lm_crossings": dict(
        electrostatics="off",
        compartments=[
            {"name": "inside", "depth": "3 nm",
             "concentrations": {"K+": "800 mM", "Cl-": "800 mM"}},
            {"name": "outside", "depth": "3 nm",
             "concentrations": {"K+": "20 mM", "Cl-": "20 mM"}}],
        membranes=_membranes({"count": 4, "radius": "1.4 nm", "permeant": ["K+", "Cl-"]},
                             "0.8 nm"),
        run={"dt": "0.05 ps", "steps": 8000, "seed": 8, "sample_interval": 10,
             "frame_interval": 1000}),
    # Euler-Maruyama with a Na+ barrier (the pore Metropolis test), no electrostatics
    "em_barrier": dict(
        electrostatics="off",
        compartments=[
            {"name": "inside", "depth": "3 nm",
             "concentrations": {"K+": "500 mM", "Na+": "500 mM", "Cl-": "1000 mM"}},
            {"name": "outside", "depth": "3 nm",
             "concentrations": {"K+": "20 mM", "Na+": "20 mM", "Cl-": "40 mM"}}],
        membranes=_membranes({"count": 4, "radius": "1.4 nm", "permeant": ["K+", "Na+"],
                              "barriers": {"Na+": "1 kT"}}, "0.8 nm"),
        run={"dt": "0.05 ps", "steps": 8000, "seed": 5, "sample_interval": 10,
             "frame_interval": 1000, "integrator": "euler-maruyama"}),
}


def record(name: str) -> dict:
    """Run case `name` through the engine's Python API; positions (F, N, 3) nm at every
    frame interval, the crossings, and the energies (kJ/mol) at each frame."""
    from sim.run import Simulation
    spec = dict(CASES[name])
    sc = scenario(**spec)
    sim = Simulation(sc)
    frames, energies = [], []
    every = sc.run.frame_interval
    for _ in range(sc.run.steps // every):
        sim.compute_forces()
        frames.append(sim.ions.pos.copy())
        energies.append([sim.energies[k] for k in sorted(sim.energies)])
        sim.advance(every)
    sim.compute_forces()
    frames.append(sim.ions.pos.copy())
    energies.append([sim.energies[k] for k in sorted(sim.energies)])
    crossings = np.array(sim.crossings, dtype=np.float64).reshape(-1, 7)
    return {"positions": np.array(frames), "energies": np.array(energies),
            "energy_names": np.array(sorted(sim.energies)), "crossings": crossings}


if __name__ == "__main__":
    FIXTURES.mkdir(exist_ok=True)
    for case in CASES:
        data = record(case)
        np.savez_compressed(FIXTURES / f"trajectory_{case}.npz", **data)
        print(case, data["positions"].shape, "crossings", len(data["crossings"]))
