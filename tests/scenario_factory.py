"""Small scenarios for tests, built as YAML trees and validated like real scenario files."""

from __future__ import annotations

import copy

from sim.scenario import parse_scenario

BASE = {
    "name": "test",
    "temperature": "310.15 K",
    "box": {"lateral": "8 nm"},
    "compartments": [
        {"name": "inside", "depth": "4 nm", "concentrations": {"K+": "150 mM", "A-": "150 mM"}},
        {"name": "outside", "depth": "4 nm", "concentrations": {"K+": "150 mM", "A-": "150 mM"}},
    ],
    "membranes": [
        {"thickness": "3 nm", "permittivity": 2,
         "channels": [{"count": 4, "radius": "0.8 nm", "permeant": ["K+"]}]},
        {"thickness": "3 nm", "permittivity": 2,
         "channels": [{"count": 4, "radius": "0.8 nm", "permeant": ["K+"]}]},
    ],
    "electrostatics": "off",
    "run": {"dt": "0.05 ps", "steps": 100, "seed": 1, "sample_interval": 10,
            "frame_interval": 50},
}


def tree(**changes) -> dict:
    """A deep copy of BASE with top-level keys replaced (None deletes a key)."""
    t = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            t.pop(key, None)
        else:
            t[key] = value
    return t


def scenario(**changes):
    return parse_scenario(tree(**changes), "test.yaml")


def bulk(conc="150 mM", side="10 nm", species=("K+", "Cl-"), **changes):
    """A periodic cube of electrolyte, no membranes."""
    return scenario(box={"lateral": side},
                    compartments=[{"name": "bulk", "depth": side,
                                   "concentrations": {s: conc for s in species}}],
                    membranes=[], **changes)


def concentration_sweep(steps: int, seed: int, checkpoint_interval: int | None = None) -> str:
    """A sweep file's text: the flagship at 5 and 50 mM outside K+ (zipped with its A-), two
    replicas each, ``steps`` steps with 0.02 ns of equilibration (about 2 s a run for 4000
    steps on one thread, Numba's cache warm)."""
    extra = f", run.checkpoint_interval: {checkpoint_interval}" if checkpoint_interval else ""
    return (f"base: potassium\naxes:\n"
            f"  compartments[1].concentrations.K+: [5 mM, 50 mM]\n"
            f"  compartments[1].concentrations.A-: [5 mM, 50 mM]\n"
            f"combine: zip\nreplicas: 2\nseed: {seed}\n"
            f"set: {{run.steps: {steps}, run.equilibration: 0.02 ns{extra}}}\n")
