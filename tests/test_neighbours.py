"""The Verlet list behind the pair forces: complete while every ion stays within half the
skin of where it was at the build, rebuilt when one does not, and forces that depend on the
positions only (not on when the list was built)."""

import math

import numpy as np

from sim.forces.short_range import ShortRangeForces
from sim.units import COULOMB_CONSTANT
from tests.oracles import wca_all_pairs

BOX = np.array([7.0, 8.0, 9.0])
N = 400
DIAMETERS = [0.266, 0.362]
ALPHA, CUTOFF = 1.1, 2.6
PREFACTOR = COULOMB_CONSTANT / 78.5


def _config(seed=0):
    rng = np.random.default_rng(seed)
    species = rng.integers(0, 2, N)
    charges = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    pos = rng.random((N, 3)) * BOX
    # push apart the few close pairs so that WCA forces stay moderate
    for _ in range(50):
        d = pos[:, None, :] - pos[None, :, :]
        d -= BOX * np.round(d / BOX)
        r = np.sqrt((d ** 2).sum(-1)) + np.eye(N) * 10
        i, j = np.nonzero(r < 0.3)
        if len(i) == 0:
            break
        pos[i] = rng.random((len(i), 3)) * BOX
    return species, charges, pos


def _forces(sr, pos):
    f = np.zeros_like(pos)
    energies = sr.compute(pos, f)
    return f, energies


def _pair_distances(pos):
    """Minimum-image differences (N, N, 3) and distances (N, N), inf on the diagonal."""
    d = pos[:, None, :] - pos[None, :, :]
    d -= BOX * np.round(d / BOX)
    r = np.sqrt((d ** 2).sum(-1))
    np.fill_diagonal(r, np.inf)
    return d, r


def _real_space_oracle(pos, species, charges):
    """All pairs, minimum image: WCA plus p q q erfc(alpha r)/r within the cut-off."""
    e_w, f = wca_all_pairs(pos, BOX, species, DIAMETERS, 2.5)
    d, r = _pair_distances(pos)
    inside = r < CUTOFF
    qq = PREFACTOR * charges[:, None] * charges[None, :]
    erfc = np.vectorize(math.erfc)(ALPHA * np.where(inside, r, 1.0))
    e_pair = np.where(inside, qq * erfc / r, 0.0)
    f_over_r = np.where(inside, (e_pair + qq * 2 * ALPHA / math.sqrt(math.pi)
                                 * np.exp(-(ALPHA * r) ** 2)) / r ** 2, 0.0)
    f = f + (f_over_r[:, :, None] * d).sum(1)
    return e_w, 0.5 * e_pair.sum(), f


def _table_tolerance(pos):
    """What the real-space table may be off by (sim.forces.real_space_table: 1e-9 of the bare
    Coulomb term per pair), plus float64 rounding: (energy kJ/mol, force kJ/(mol nm) per
    ion), for charges of magnitude 1."""
    _, r = _pair_distances(pos)
    bare = np.where(r < CUTOFF, PREFACTOR / r, 0.0)
    e_tol = (1e-9 + 1e-12) * 0.5 * bare.sum()
    f_tol = 1e-9 * (bare / r).sum(1) + 1e-12 * (bare / r).sum()
    return e_tol, f_tol[:, None]


def _short_range(species, charges, skin=None):
    return ShortRangeForces(BOX, species, charges, DIAMETERS, 2.5, PREFACTOR, ALPHA, CUTOFF,
                            skin=skin)


def test_reused_list_gives_the_all_pairs_forces_and_the_same_bits_as_a_fresh_one():
    species, charges, pos = _config()
    sr = _short_range(species, charges)
    _forces(sr, pos)
    skin = sr.neighbours.skin
    assert skin == 0.4
    rng = np.random.default_rng(1)
    for _ in range(3):  # each ion moves 0.12 nm in all: under skin / 2 = 0.2 nm
        step = rng.normal(size=pos.shape)
        pos = np.mod(pos + 0.04 * step / np.linalg.norm(step, axis=1)[:, None], BOX)
        f, (u_w, u_c) = _forces(sr, pos)
    assert sr.neighbours.builds == 1
    e_w, e_c, f_ref = _real_space_oracle(pos, species, charges)
    e_tol, f_tol = _table_tolerance(pos)
    np.testing.assert_allclose(u_w, e_w, rtol=1e-12)
    assert abs(u_c - e_c) < e_tol
    assert np.all(np.abs(f - f_ref) < f_tol)
    fresh, energies = _forces(_short_range(species, charges), pos)
    assert np.array_equal(f, fresh)  # bit for bit: the summation order is the ion order
    assert energies == (u_w, u_c)
    assert np.abs(f.sum(0)).max() < 1e-9 * np.abs(f).max()  # Newton's third law


def test_moving_one_ion_past_half_the_skin_rebuilds_the_list():
    species, charges, pos = _config(2)
    sr = _short_range(species, charges)
    _forces(sr, pos)
    pos = pos.copy()
    pos[5, 0] = (pos[5, 0] + 0.21) % BOX[0]
    f, _ = _forces(sr, pos)
    assert sr.neighbours.builds == 2
    np.testing.assert_allclose(f, _real_space_oracle(pos, species, charges)[2], rtol=0,
                               atol=2e-5 * np.abs(f).max())


def test_small_box_clips_the_skin_and_rebuilds_every_call():
    """r_c + skin may not exceed half the box edge (minimum image); with no room left the
    list is rebuilt on every call and the forces are still complete."""
    species, charges, pos = _config(3)
    sr = ShortRangeForces(BOX, species, charges, DIAMETERS, 2.5, PREFACTOR, ALPHA, 3.5)
    assert sr.neighbours.skin == 0.0
    _forces(sr, pos)
    f, _ = _forces(sr, np.mod(pos + 1e-4, BOX))
    assert sr.neighbours.builds == 2
    ref = ShortRangeForces(BOX, species, charges, DIAMETERS, 2.5, PREFACTOR, ALPHA, 3.5)
    assert np.array_equal(f, _forces(ref, np.mod(pos + 1e-4, BOX))[0])


def test_rows_grow_when_a_denser_configuration_overflows_them():
    """Rows have one capacity, sized at the first build: a later build that finds a longer
    row counts it, grows every row and scans again, and the forces are still complete and
    the same bits as a list built for that configuration from the start."""
    species, charges, pos = _config(4)
    sr = _short_range(species, charges)
    _forces(sr, pos)
    nb = sr.neighbours
    assert nb.scans == 2  # rows start at INITIAL_ROW_CAPACITY slots: the first build grows
    capacity = nb.row_capacity
    assert np.max(nb.row_end - nb.row_start[:N]) < capacity
    dense = pos.copy()
    dense[:, 2] = 0.5 * dense[:, 2]  # twice the density in half the box
    f, _ = _forces(sr, dense)
    assert (nb.builds, nb.scans) == (2, 4) and nb.row_capacity > capacity
    np.testing.assert_allclose(f, _real_space_oracle(dense, species, charges)[2], rtol=0,
                               atol=2e-5 * np.abs(f).max())
    assert np.array_equal(f, _forces(_short_range(species, charges), dense)[0])
    loose = pos.copy()
    f, _ = _forces(sr, loose)  # fewer pairs: the grown rows hold them in one scan
    assert (nb.builds, nb.scans) == (3, 5)
    assert np.array_equal(f, _forces(_short_range(species, charges), loose)[0])
