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
