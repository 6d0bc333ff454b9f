"""Whole ion numbers from concentrations: round(c V), neutral in every compartment."""

import numpy as np

from sim.geometry import Geometry
from sim.system import _neutral_rounding, ion_counts
from tests.scenario_factory import scenario


def test_two_monovalent_species_round_alike():
    n = _neutral_rounding(np.array([10.4, 10.4]), np.array([1, -1]))
    assert n.tolist() == [10, 10]


def test_three_species_are_made_neutral_by_the_nearest_change():
    # 15.6 K+ and 147.3 X+ against 163.9 A-: plain rounding gives 16 + 147 - 164 = -1 e.
    # The changes that cancel it: 16 -> 17 K+ (1.4 from exact), 147 -> 148 X+ (0.7),
    # 164 -> 163 A- (0.9); the nearest wins.
    n = _neutral_rounding(np.array([15.6, 147.3, 163.9]), np.array([1, 1, -1]))
    assert n.tolist() == [16, 148, 164]
    assert n @ np.array([1, 1, -1]) == 0
    assert np.all(np.abs(n - [15.6, 147.3, 163.9]) < 1.0)


def test_divalent_mixtures_reach_neutrality():
    exact = np.array([3.3, 7.2, 13.9])  # Ca2+, K+, Cl-: 3 * 2 + 7 - 14 = -1 e when rounded
    n = _neutral_rounding(exact, np.array([2, 1, -1]))
    assert n @ np.array([2, 1, -1]) == 0
    assert np.all(np.abs(n - exact) <= 1.0)


def test_a_scenario_with_a_filler_cation_is_placed_neutral():
    sc = scenario(compartments=[
        {"name": "inside", "depth": "3 nm", "concentrations": {"K+": "500 mM", "A-": "500 mM"}},
        {"name": "outside", "depth": "3 nm",
         "concentrations": {"K+": "50 mM", "X+": "450 mM", "A-": "500 mM"}}],
        box={"lateral": "15 nm"})
    counts = ion_counts(sc, Geometry.from_scenario(sc))
    valences = np.array([s.valence for s in sc.species])
    assert np.all(counts @ valences == 0)
