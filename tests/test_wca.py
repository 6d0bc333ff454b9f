"""WCA repulsion: forces are minus the gradient of the energy, and the cell-list kernel
agrees with an O(N^2) NumPy oracle."""

import numpy as np
import pytest

from sim.forces.short_range import ShortRangeForces
from tests.oracles import wca_all_pairs


def _dense_random(n, box, seed, min_dist=0.22):
    """Random positions with no pair closer than min_dist (so forces stay moderate)."""
    rng = np.random.default_rng(seed)
    pos = []
    while len(pos) < n:
        p = rng.uniform(0, box)
        if pos:
            d = np.asarray(pos) - p
            d -= box * np.round(d / box)
            if np.min((d ** 2).sum(1)) < min_dist ** 2:
                continue
        pos.append(p)
    return np.array(pos)


@pytest.mark.parametrize("box", [np.array([3.0, 3.0, 3.0]), np.array([2.1, 4.0, 6.3])])
def test_cell_list_forces_match_all_pairs_oracle(box):
    species = np.random.default_rng(1).integers(0, 3, 300)
    diameters = [0.266, 0.362, 0.6]
    pos = _dense_random(300, box, seed=2)
    srf = ShortRangeForces(box, species, np.zeros(300), diameters, wca_epsilon=2.5)
    forces = np.zeros_like(pos)
    energy, _ = srf.compute(pos, forces)
    e_ref, f_ref = wca_all_pairs(pos, box, species, diameters, 2.5)
    assert e_ref > 1.0  # the configuration has overlapping pairs to test
    np.testing.assert_allclose(energy, e_ref, rtol=1e-12)
    np.testing.assert_allclose(forces, f_ref, rtol=1e-10, atol=1e-9)


def test_wca_forces_are_minus_energy_gradient():
    box = np.array([3.0, 3.0, 3.0])
    species = np.random.default_rng(3).integers(0, 2, 120)
    diameters = [0.3, 0.45]
    pos = _dense_random(120, box, seed=4, min_dist=0.3)
    srf = ShortRangeForces(box, species, np.zeros(120), diameters, wca_epsilon=2.5)

    def energy(p):
        return srf.compute(p, np.zeros_like(p))[0]

    forces = np.zeros_like(pos)
    srf.compute(pos, forces)
    h = 1e-6
    rng = np.random.default_rng(5)
    checked = 0
    for i in rng.permutation(120):
        if np.linalg.norm(forces[i]) < 1.0:
            continue
        for d in range(3):
            plus, minus = pos.copy(), pos.copy()
            plus[i, d] += h
            minus[i, d] -= h
            fd = -(energy(plus) - energy(minus)) / (2 * h)
            # central differences: error O(h^2 U''') ~ 1e-6 relative here
            assert fd == pytest.approx(forces[i, d], rel=1e-5, abs=1e-5)
        checked += 1
        if checked == 10:
            break
    assert checked == 10
