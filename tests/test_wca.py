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


@pytest.mark.parametrize("threads", [1, 2])
def test_overlap_flags_both_ions_of_every_close_pair(threads):
    """overlapping[i] = 1 exactly for the ions closer than 0.8 sigma_ij to another (all
    pairs, minimum image), whichever ion of a pair owns it in the list."""
    import numba

    from sim.forces.short_range import OVERLAP_FRACTION
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("needs two Numba threads")
    box = np.array([3.0, 3.5, 4.0])
    species = np.random.default_rng(6).integers(0, 2, 200)
    diameters = np.array([0.3, 0.45])
    pos = _dense_random(200, box, seed=7, min_dist=0.2)
    sigma = 0.5 * (diameters[species][:, None] + diameters[species][None, :])
    d = pos[:, None, :] - pos[None, :, :]
    d -= box * np.round(d / box)
    close = (d ** 2).sum(-1) < (OVERLAP_FRACTION * sigma) ** 2
    np.fill_diagonal(close, False)
    expected = close.any(axis=1)
    assert 5 <= expected.sum() <= 150  # some ions overlap, most do not
    srf = ShortRangeForces(box, species, np.zeros(200), diameters, wca_epsilon=2.5)
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        srf.compute(pos, np.zeros_like(pos))
        np.testing.assert_array_equal(srf.overlapping.astype(bool), expected)
        assert srf.n_overlapping == expected.sum()
        # no pair closer than 0.4 nm > 0.8 sigma: the first evaluation's flags must not stay
        apart = _dense_random(200, box, seed=8, min_dist=0.4)
        srf.compute(apart, np.zeros_like(apart))
        assert srf.n_overlapping == 0 and not srf.overlapping.any()
    finally:
        numba.set_num_threads(previous)
