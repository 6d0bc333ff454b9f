"""Ewald electrostatics: SPME + real space + self against a direct Ewald sum
(analysis/validation/ewald_direct_sum.py), the Coulomb limit, energy-force consistency, the
error model, tuning, and thread determinism."""

from __future__ import annotations

import math
import time

import numba
import numpy as np
import pytest

from analysis.validation import ewald_direct_sum as ed
from sim.forces.ewald import SPME, real_space_pair, self_energy
from sim.forces.real_space_table import real_space_table, screening
from sim.forces.ewald_tuning import (EwaldParameters, estimate_force_error,
                                     tune_ewald)
from sim.units import COULOMB_CONSTANT

EPS_W = 78.5
PREF = COULOMB_CONSTANT / EPS_W
BOX = np.array([9.0, 10.0, 11.5])  # non-cubic, ~1035 nm^3
# mixed valences, neutral: 20 x (+2) + 60 x (+1) + 100 x (-1); 180 ions = 0.17 nm^-3 (~145 mM)
CHARGES = np.array([2.0] * 20 + [1.0] * 60 + [-1.0] * 100)


def random_configuration(rng, box, n, min_distance=0.3):
    """Uniform positions with a hard-core distance (ions cannot overlap: their WCA cores)."""
    pos = np.empty((0, 3))
    while len(pos) < n:
        p = rng.random(3) * box
        d = pos - p
        d -= box * np.round(d / box)
        if len(pos) == 0 or np.min(np.sum(d * d, axis=1)) >= min_distance ** 2:
            pos = np.vstack([pos, p])
    return pos


@pytest.fixture(scope="module")
def configurations():
    """Two random neutral configurations with their exact Ewald energies and forces."""
    out = []
    for seed in (11, 12):
        pos = random_configuration(np.random.default_rng(seed), BOX, len(CHARGES))
        energy, forces = ed.direct_ewald(pos, CHARGES, BOX, PREF)
        out.append((pos, energy, forces))
    return out


@pytest.fixture(scope="module")
def reciprocal_reference(configurations):
    """The explicit reciprocal k-sum at alpha = 1 nm^-1 for each configuration."""
    return 1.0, [ed.reciprocal_direct(pos, CHARGES, BOX, 1.0, PREF)
                 for pos, _, _ in configurations]


def ewald_total(pos, charges, box, params: EwaldParameters):
    """Real space (NumPy minimum image) + SPME + self, as the engine will assemble it."""
    e_real, f_real = ed.real_space_minimum_image(pos, charges, box, params.alpha,
                                                 params.cutoff, PREF)
    spme = SPME(box, params.alpha, params.mesh, params.order, PREF)
    forces = f_real.copy()
    e_rec = spme.compute(pos, charges, forces)
    return e_real + e_rec + self_energy(charges, params.alpha, PREF), forces


def rms(f):
    return math.sqrt(np.mean(np.sum(f * f, axis=1)))


# ----------------------------------------------------------------------------------- oracle
def test_oracle_is_independent_of_its_splitting(configurations):
    """The direct sum is converged: two splitting parameters give the same answer."""
    pos, energy, forces = configurations[0]
    e2, f2 = ed.direct_ewald(pos, CHARGES, BOX, PREF, alpha=0.7)
    assert abs(e2 - energy) < 1e-10 * abs(energy)
    assert np.max(np.abs(f2 - forces)) < 1e-10 * rms(forces)


# ------------------------------------------------------------------------------ small parts
def test_real_space_pair_is_erfc_coulomb_and_its_gradient():
    alpha, qq = 0.9, -2.0
    for r in (0.3, 1.0, 2.7):
        energy, f_over_r = real_space_pair(r, qq, alpha, PREF)
        assert energy == pytest.approx(PREF * qq * math.erfc(alpha * r) / r, rel=1e-14)
        h = 1e-6
        fd = -(real_space_pair(r + h, qq, alpha, PREF)[0]
               - real_space_pair(r - h, qq, alpha, PREF)[0]) / (2 * h)
        assert f_over_r * r == pytest.approx(fd, rel=1e-7)


@pytest.mark.parametrize("alpha, cutoff", [(0.54, 4.5), (0.92, 2.7), (1.4, 3.0), (2.0, 1.2)])
def test_real_space_table_holds_erfc_coulomb_to_1e_9(alpha, cutoff):
    """The table's U and F/r against math.erfc from contact (0.05 nm) to the cut-off,
    including the nodes (where Hermite is exact), the series/closed-form seam at
    alpha^2 r^2 = 1, and points between; error relative to the bare Coulomb term."""
    table, inv_spacing = real_space_table(alpha, cutoff)
    nodes = np.arange(1, int(cutoff ** 2 * inv_spacing)) / inv_spacing
    r = np.sqrt(np.concatenate([np.linspace(0.05, cutoff * (1 - 1e-12), 20011), nodes,
                                nodes + 0.5 / inv_spacing, [1.0 / alpha]]))
    r = r[r < cutoff]
    for ri in r:
        h_e, h_f = screening.py_func(table, inv_spacing, ri * ri)
        u, f_over_r = real_space_pair(ri, 1.0, alpha, 1.0)
        assert abs((1 / ri - h_e) - u) < 1e-9 / ri
        assert abs((1 / ri ** 3 - h_f) - f_over_r) < 1e-9 / ri ** 3


def test_real_space_table_without_screening_is_bare_coulomb():
    table, inv_spacing = real_space_table(0.0, 3.0)
    assert screening.py_func(table, inv_spacing, 7.3) == (0.0, 0.0)


def test_self_energy():
    assert self_energy(CHARGES, 0.8, PREF) == pytest.approx(
        -PREF * 0.8 / math.sqrt(math.pi) * np.sum(CHARGES ** 2), rel=1e-14)


@pytest.mark.parametrize("mesh", [(40, 45, 50), (41, 45, 49)])  # even and odd last axis
def test_spme_converges_to_the_explicit_k_sum(configurations, reciprocal_reference, mesh):
    """With a fine mesh and order 8 SPME reproduces the explicit reciprocal sum (same alpha)."""
    pos = configurations[0][0]
    alpha, ((e_k, f_k), _) = reciprocal_reference
    forces = np.zeros_like(pos)
    energy = SPME(BOX, alpha, mesh, 8, PREF).compute(pos, CHARGES, forces)
    assert energy == pytest.approx(e_k, rel=1e-6)
    assert rms(forces - f_k) < 1e-6 * rms(f_k)


def test_spme_accepts_unwrapped_positions(configurations):
    pos = configurations[0][0]
    spme = SPME(BOX, 1.0, (16, 18, 20), 6, PREF)
    f1, f2 = np.zeros_like(pos), np.zeros_like(pos)
    e1 = spme.compute(pos, CHARGES, f1)
    shifted = pos + BOX * np.array([1, -2, 3])
    e2 = spme.compute(shifted, CHARGES, f2)
    assert e2 == pytest.approx(e1, rel=1e-12)
    assert np.max(np.abs(f2 - f1)) < 1e-10 * rms(f1)


# ----------------------------------------------------------------------- accuracy vs oracle
@pytest.mark.parametrize("force_error", [1e-3, 1e-4])
def test_tuned_ewald_meets_requested_force_error(configurations, force_error):
    """Real + SPME + self with tuned parameters against the direct sum.

    The RMS relative force error must be below the request. The energy is not what is tuned;
    its relative error is checked against a loose bound (5x the force tolerance: the
    energy's error is a sum of per-ion potential errors of partly systematic sign).
    """
    params = tune_ewald(BOX, CHARGES, force_error)
    assert params.cutoff <= 0.5 * BOX.min()
    assert params.estimated_error <= force_error
    for pos, e_exact, f_exact in configurations:
        energy, forces = ewald_total(pos, CHARGES, BOX, params)
        rel = rms(forces - f_exact) / rms(f_exact)
        assert rel < force_error, (params, rel)
        assert abs(energy - e_exact) < 5 * force_error * abs(e_exact)


@pytest.mark.parametrize("order,mesh", [(4, 16), (5, 24), (6, 20), (8, 16)])
def test_reciprocal_error_estimate_matches_measurement(configurations, reciprocal_reference,
                                                      order, mesh):
    """The SPME error model (pair aliasing + self force) against the measured error of SPME
    vs the explicit k-sum, averaged over the configurations: within 20% (the model assumes
    uncorrelated positions; measured agreement is ~5%)."""
    alpha, references = reciprocal_reference
    measured = []
    for (pos, _, _), (_, f_k) in zip(configurations, references):
        forces = np.zeros_like(pos)
        SPME(BOX, alpha, (mesh,) * 3, order, PREF).compute(pos, CHARGES, forces)
        measured.append(np.mean(np.sum((forces - f_k) ** 2, axis=1)))
    measured_rms = math.sqrt(np.mean(measured))
    # estimate_force_error is relative to its F_rms model; undo that to compare absolutes
    q = CHARGES
    n, volume = len(q), float(np.prod(BOX))
    radius = (3 * volume / (4 * math.pi)) ** (1 / 3)
    f_scale = PREF * math.sqrt(4 * math.pi / volume * (1 / 0.3 - 1.8 / radius)
                               * (np.sum(q ** 2) ** 2 - np.sum(q ** 4)) / n)
    est = estimate_force_error(BOX, q, alpha, 4.5, (mesh,) * 3, order)["reciprocal"] * f_scale
    assert measured_rms == pytest.approx(est, rel=0.2)


# ------------------------------------------------------------------------- Coulomb limit
def test_two_opposite_charges_feel_coulomb_in_water():
    """A +1/-1 pair alone in a large box: F -> p q^2 / r^2 along the pair axis as r^3/V -> 0.

    In a periodic box with tinfoil boundary conditions the pair also feels the lattice of its
    dipole's images; for a cubic box the relative change of the force is (4 pi / 3) r^3 / V
    (the Lorentz field of the image dipoles), and the box here is slightly non-cubic
    (30 x 32 x 34 nm: the exact periodic sum gives 1.3 x that along the short edge). The
    tolerance is therefore 2 (4 pi / 3) r^3 / V + 2e-4 (Ewald error tuned to 1e-4 of the
    random-ion force scale, negligible against this close pair's force): 2.3e-4 at
    r = 0.5 nm, 2.1e-3 at r = 2 nm.
    """
    box = np.array([30.0, 32.0, 34.0])
    volume = float(np.prod(box))
    q = np.array([1.0, -1.0])
    params = tune_ewald(box, q, 1e-4)
    for r in (0.5, 1.0, 2.0):
        pos = np.array([[10.0, 11.0, 12.0], [10.0 + r, 11.0, 12.0]])
        energy, forces = ewald_total(pos, q, box, params)
        coulomb = PREF / r ** 2
        tol = 2 * (4 * math.pi / 3) * r ** 3 / volume + 2e-4
        assert forces[0, 0] == pytest.approx(coulomb, rel=tol)  # attracted towards +x
        assert forces[1, 0] == pytest.approx(-coulomb, rel=tol)
        assert np.max(np.abs(forces[:, 1:])) < tol * coulomb
        assert energy == pytest.approx(-PREF / r, rel=tol)


# -------------------------------------------------------------------- energy-force consistency
def test_spme_forces_are_minus_energy_gradient(configurations):
    """SPME differentiates its own B-spline interpolation, so F = -grad U_rec exactly;
    central differences (h = 1e-5 nm, error ~h^2) agree to 1e-6 of the force scale. The
    double-precision mesh is used: float32 rounding of the energy (~1e-7 relative) over
    2h would swamp the comparison; the next test bounds the float32 mesh's difference."""
    pos = configurations[1][0].copy()
    spme = SPME(BOX, 0.9, (12, 15, 16), 5, PREF, single_precision=False)
    forces = np.zeros_like(pos)
    spme.compute(pos, CHARGES, forces)
    scale = rms(forces)
    h = 1e-5
    scratch = np.zeros_like(pos)
    for i in (0, 7, 33, 150):  # +2, +2, +1, -1
        for d in range(3):
            pos[i, d] += h
            e_plus = spme.compute(pos, CHARGES, scratch)
            pos[i, d] -= 2 * h
            e_minus = spme.compute(pos, CHARGES, scratch)
            pos[i, d] += h
            assert forces[i, d] == pytest.approx(-(e_plus - e_minus) / (2 * h),
                                                 abs=1e-6 * scale)


def test_single_precision_mesh_changes_forces_far_below_the_tuned_error(configurations):
    """The default float32 mesh against float64: the RMS force difference must stay below
    1e-5 of the force scale (a hundredth of the smallest requested error, 1e-3... 1e-4 in
    these tests), the energy within 1e-6."""
    pos = configurations[0][0]
    out = []
    for single in (True, False):
        spme = SPME(BOX, 0.9, (24, 24, 32), 6, PREF, single_precision=single)
        forces = np.zeros_like(pos)
        out.append((spme.compute(pos, CHARGES, forces), forces))
    (e32, f32), (e64, f64) = out
    assert rms(f32 - f64) < 1e-5 * rms(f64)
    assert e32 == pytest.approx(e64, rel=1e-6)
    assert not np.array_equal(f32, f64)  # the option does change the arithmetic


def test_spme_refuses_a_mesh_smaller_than_the_stencil():
    with pytest.raises(ValueError, match="order"):
        SPME(BOX, 1.0, (8, 5, 8), 6, PREF)


def test_spme_poisons_nan_positions_without_crashing():
    """A NaN position gives NaN results (for the engine's NaN guard), not a wild write."""
    pos = np.array([[1.0, 2.0, 3.0], [np.nan, 2.0, 3.0], [4.0, 5.0, 6.0]])
    forces = np.zeros((3, 3))
    energy = SPME(BOX, 1.0, (8, 8, 8), 4, PREF).compute(pos, np.array([1.0, -2.0, 1.0]),
                                                         forces)
    assert np.isnan(energy)


# ------------------------------------------------------------------------------ determinism
@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
def test_spme_bit_identical_with_1_and_2_threads():
    rng = np.random.default_rng(5)
    box = np.array([20.0, 21.0, 22.0])
    n = 2000
    pos = rng.random((n, 3)) * box
    q = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    q[:100] = 2.0
    q[100:300] = -1.0
    q[-1] -= q.sum()
    results = []
    previous = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            spme = SPME(box, 0.9, (24, 25, 27), 6, PREF)
            forces = np.zeros((n, 3))
            energy = spme.compute(pos, q, forces)
            results.append((energy, forces))
    finally:
        numba.set_num_threads(previous)
    assert results[0][0] == results[1][0]
    assert np.array_equal(results[0][1], results[1][1])


# ----------------------------------------------------------------------------------- tuning
def test_tuning_respects_fixed_arguments_and_limits():
    fixed = tune_ewald(BOX, CHARGES, 1e-3, cutoff=3.0, order=4)
    assert fixed.cutoff == 3.0 and fixed.order == 4
    assert fixed.estimated_error <= 1e-3
    fixed_alpha = tune_ewald(BOX, CHARGES, 1e-3, alpha=1.0)
    assert fixed_alpha.alpha == 1.0 and fixed_alpha.estimated_error <= 1e-3
    fixed_mesh = tune_ewald(BOX, CHARGES, 1e-3, mesh=(20, 20, 24))
    assert fixed_mesh.mesh == (20, 20, 24) and fixed_mesh.estimated_error <= 1e-3
    with pytest.raises(ValueError):
        tune_ewald(BOX, CHARGES, 1e-3, cutoff=5.0)  # > half the smallest edge
    with pytest.raises(ValueError):
        tune_ewald(BOX, CHARGES, 1e-4, alpha=0.3, cutoff=1.0)  # real space cannot converge
    assert tune_ewald(BOX, CHARGES, 1e-3) == tune_ewald(BOX, CHARGES, 1e-3)  # deterministic


def test_tuning_is_quick_and_prefers_long_cutoffs_for_dilute_ions():
    """150 mM 1:1, N = 10000: tuning takes well under a second and picks a cut-off of
    2-4 nm (dilute ions: a real-space pair is cheap compared with mesh work)."""
    density = 2 * 0.15 * 0.60221
    n = 10000
    edge = (n / density) ** (1 / 3)
    q = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    tune_ewald(np.full(3, edge), q, 1e-3)  # warm caches (tables, compiled kernels)
    start = time.perf_counter()
    params = tune_ewald(np.full(3, edge), q, 1e-3)
    assert time.perf_counter() - start < 0.5
    assert 2.0 <= params.cutoff <= 4.0


def test_real_space_work_is_counted_on_the_configuration():
    """The tuner's pair and check counts equal a brute-force count (minimum image) and the
    cell loop's own visits; ions crowded into a slab have several times the partners the
    mean density predicts, which is why the tuner counts them."""
    from sim.forces.cells import CellList
    from sim.forces.ewald_tuning import _RealSpaceWork
    rng = np.random.default_rng(4)
    box = np.array([12.0, 12.0, 30.0])
    n = 300
    pos = rng.random((n, 3)) * box
    pos[:250, 2] = 2.0 + 3.0 * rng.random(250)  # most ions in a 3 nm slab
    work = _RealSpaceWork(box, n, pos)
    d = pos[:, None, :] - pos[None, :, :]
    d -= box * np.round(d / box)
    r = np.sqrt((d ** 2).sum(-1))
    for rc in (1.5, 3.0, 5.5):
        assert work.pairs([rc])[0] == np.sum(r < rc) - n
        cells = CellList(box, rc, n)
        cells.build(pos)
        counts = np.diff(cells.cell_start).reshape(tuple(cells.ncell))
        checks = 0
        for i in range(n):
            c = np.unravel_index(cells.cell_of[i], tuple(cells.ncell))
            for o in np.ndindex(3, 3, 3):
                checks += counts[tuple((np.array(c) + np.array(o) - 1) % cells.ncell)]
        assert work.checks([rc])[0] == checks - n
    uniform = _RealSpaceWork(box, n)
    assert work.pairs([3.0])[0] > 3 * uniform.pairs([3.0])[0]


def test_real_space_work_samples_partners_at_long_radii():
    """Where a probe would count many partners, the tuner counts them in a halved sample of
    the ions and scales up: below the first halving the count is exact, beyond it within
    4 standard errors of the brute-force count (the error of a sample of M partners, each
    partner j carrying the number c_j of ions within r of it: SE = (n/M) sqrt(M Var(c) (1 -
    M/n)) for sampling without replacement)."""
    from sim.forces.ewald_tuning import _RealSpaceWork
    rng = np.random.default_rng(7)
    n, edge = 4000, 30.0
    box = np.full(3, edge)
    pos = rng.random((n, 3)) * box
    radii = np.arange(1.0, 15.0, 0.5)
    work = _RealSpaceWork(box, n, pos, sample=n, partners=100)
    halvings = work._halvings(radii)
    assert halvings[0] == 0 and halvings[-1] >= 3  # both regimes are exercised
    within = np.zeros((n, len(radii)))  # c_j: ions within each radius of ion j
    for rows in np.array_split(np.arange(n), 16):
        d = pos[rows, None, :] - pos[None, :, :]
        d -= box * np.round(d / box)
        r = np.sqrt((d ** 2).sum(-1))
        within[rows] = (r[:, :, None] <= radii).sum(1) - 1  # without j itself
    exact = within.sum(0)
    counted = work.pairs(radii)
    assert np.array_equal(counted[halvings == 0], exact[halvings == 0])
    m = np.maximum(1, n >> halvings).astype(float)
    se = (n / m) * np.sqrt(m * within.var(0) * (1 - m / n))
    far = halvings > 0
    assert np.all(np.abs(counted[far] - exact[far]) <= 4 * se[far])
    assert np.all(se[far] / exact[far] < 0.02)  # the test resolves a wrong scale or offset
