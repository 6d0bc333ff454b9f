"""The laterally averaged 1-D field with eps(z): forces vs energy, the Ewald kx = ky = 0 line,
membrane capacitors against their analytic solutions, potentials, sorting and wrapping."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from analysis.validation import ewald_direct_sum as ed  # noqa: E402
from oracles import z_force_by_central_difference  # noqa: E402

from sim.forces.membrane_field import (MembraneFieldCorrection,  # noqa: E402
                                       potential_profile, window_mean_potentials)
from sim.units import COULOMB_CONSTANT, EPS0  # noqa: E402

EPS_W = 78.5
EPS_M = 2.0


def neutral_ions(rng, n, box):
    pos = rng.random((n, 3)) * box
    q = rng.choice([1.0, -1.0, 2.0], size=n)
    q[-1] = 0.0
    q[-1] = -q.sum()  # integer, exact
    return pos, q


# --------------------------------------------------------------------------- forces, energy
def test_forces_are_minus_energy_gradient_in_water_and_in_a_pore():
    """Central differences of U_eps(z) - U_eps_w against the forces, for ions in water and
    ions inside a membrane slab (in a pore). Between sheets U is quadratic in z_i, so the
    central difference is exact up to rounding: tolerance 1e-6 relative."""
    box = np.array([6.0, 7.0, 30.0])
    slabs = [(5.0, 9.0, EPS_M), (20.0, 24.0, EPS_M)]
    pos, q = neutral_ions(np.random.default_rng(3), 60, box)
    pos[0, 2], pos[1, 2], pos[2, 2] = 7.0, 21.3, 23.9  # three ions in pores
    pos[3, 2], pos[4, 2] = 4.95, 29.99  # water, near a face and near the periodic boundary
    corr = MembraneFieldCorrection(box, slabs, EPS_W)
    forces = np.zeros_like(pos)
    corr.compute(pos, q, forces)
    assert np.all(forces[:, :2] == 0.0)
    scratch = np.zeros_like(pos)
    for i in (0, 1, 2, 3, 4, 10, 30):
        fd = z_force_by_central_difference(lambda p: corr.compute(p, q, scratch), pos, i)
        assert forces[i, 2] == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_uniform_permittivity_gives_no_correction():
    box = np.array([5.0, 5.0, 20.0])
    pos, q = neutral_ions(np.random.default_rng(1), 40, box)
    corr = MembraneFieldCorrection(box, [(5.0, 9.0, EPS_W)], EPS_W)
    forces = np.zeros_like(pos)
    assert corr.compute(pos, q, forces) == pytest.approx(0.0, abs=1e-12)
    assert np.max(np.abs(forces)) < 1e-12


def test_uniform_1d_energy_is_the_ewald_kz_line():
    """With a uniform permittivity the 1-D sheet energy is the kx = ky = 0 part of the
    periodic Coulomb sum, (p / 2V) sum_{kz != 0} 4 pi / kz^2 |S(kz)|^2
    (analysis/validation/ewald_direct_sum.py), i.e. exactly what the engine's Ewald sum
    contains and the correction removes.

    Probed through the public correction with eps(z) = eps' everywhere (two slabs filling the
    period): U_1D(eps') - U_1D(eps_w) = U_line(eps_w) (eps_w / eps' - 1), since the energy
    scales as 1/eps. Tolerance 1e-5: the k-sum is truncated at |n| = 1e5 (tail added).
    """
    box = np.array([6.0, 7.0, 30.0])
    pos, q = neutral_ions(np.random.default_rng(7), 50, box)
    line_w = ed.line_energy_kz(pos[:, 2], q, box, COULOMB_CONSTANT / EPS_W, nmax=100000)
    eps_other = 2.5 * EPS_W
    # a "membrane" filling the whole period (two slabs touching) with eps_other
    slabs = [(0.0, 15.0, eps_other), (15.0, 30.0, eps_other)]
    corr = MembraneFieldCorrection(box, slabs, EPS_W)
    energy = corr.compute(pos, q, np.zeros_like(pos))
    assert energy == pytest.approx(line_w * (EPS_W / eps_other - 1.0), rel=1e-5)


# ------------------------------------------------------------------------------- capacitors
LX = LY = 10.0
LZ = 40.0
D_M = 4.0
GAP = 0.05
MEMBRANES = [(8.0, 12.0, EPS_M), (28.0, 32.0, EPS_M)]  # inside: 12..28, outside: 32..48(=8)


def sheet(z, total_charge, n_side=4):
    """A sheet of n_side^2 equal point charges on a lateral grid at height z."""
    g = (np.arange(n_side) + 0.5) * LX / n_side
    x, y = np.meshgrid(g, g, indexing="ij")
    pos = np.stack([x.ravel(), y.ravel(), np.full(n_side ** 2, z)], axis=1)
    return pos, np.full(n_side ** 2, total_charge / n_side ** 2)


def assemble(*sheets):
    return (np.concatenate([s[0] for s in sheets]), np.concatenate([s[1] for s in sheets]))


def test_double_membrane_capacitor():
    """+Q just inside the inner face of both membranes, -Q just outside the outer face.

    By symmetry the water is field-free (D = 0 there), each membrane is a capacitor with
    C = [d / (eps0 eps_m) + 2 gap / (eps0 eps_w)]^-1 per area (membrane and the two thin
    water gaps in series), and V = phi(inside) - phi(outside) = Q / (C A). The 1-D model is
    exact for laterally uniform sheets, so the tolerance is rounding (1e-9), far inside the
    1% a physical measurement would need.
    """
    q_sheet = 0.32  # e per sheet on 100 nm^2: ~0.0032 e/nm^2, ~100 mV
    pos, q = assemble(sheet(12.0 + GAP, q_sheet), sheet(28.0 - GAP, q_sheet),
                      sheet(8.0 - GAP, -q_sheet), sheet(32.0 + GAP, -q_sheet))
    box = (LX, LY, LZ)
    area = LX * LY
    c_per_area = 1.0 / (D_M / (EPS0 * EPS_M) + 2 * GAP / (EPS0 * EPS_W))
    expected = q_sheet / (c_per_area * area)
    inside, outside = window_mean_potentials(pos[:, 2], q, box, MEMBRANES, EPS_W,
                                             [(16.0, 24.0), (36.0, 4.0)])
    assert inside - outside == pytest.approx(expected, rel=1e-9)
    assert 50.0 < (inside - outside) * 10.3643 < 200.0  # a physiological ~100 mV
    # field-free water: the potential is flat through both compartments
    grid_in = np.linspace(12.0 + 2 * GAP, 28.0 - 2 * GAP, 50)
    grid_out = np.linspace(32.0 + 2 * GAP, 48.0 - 2 * GAP, 50)
    phi_in = potential_profile(pos[:, 2], q, box, MEMBRANES, EPS_W, grid_in)
    phi_out = potential_profile(pos[:, 2], q, box, MEMBRANES, EPS_W, grid_out)
    assert np.ptp(phi_in) < 1e-9 * expected and np.ptp(phi_out) < 1e-9 * expected
    assert phi_in[0] == pytest.approx(inside, rel=1e-9)


def test_single_charged_membrane_matches_periodic_1d_formula():
    """Only membrane 1 charged: +Q at 12 + gap, -Q at 8 - gap (sigma = Q / A).

    Periodic 1-D solution: let S_c = d/(eps0 eps_m) + 2 gap/(eps0 eps_w) be the elastance
    between the two sheets and S_L = 2 d/(eps0 eps_m) + (Lz - 2 d)/(eps0 eps_w) that of the
    whole period. D = D0 - sigma between the sheets and D0 elsewhere; zero mean field
    (periodic potential) gives D0 S_L - sigma S_c = 0, so D0 = sigma S_c / S_L and

        phi(12 + gap) - phi(8 - gap) = sigma S_c (1 - S_c / S_L)

    (the rest of the period, water and the uncharged membrane, is a load in parallel that
    carries the field D0 / (eps0 eps)). The whole profile follows from E = D / (eps0 eps):
    phi is checked against that piecewise-linear function everywhere (rounding tolerance).
    """
    q_sheet = 0.32
    pos, q = assemble(sheet(12.0 + GAP, q_sheet), sheet(8.0 - GAP, -q_sheet))
    box = (LX, LY, LZ)
    sigma = q_sheet / (LX * LY)
    s_c = D_M / (EPS0 * EPS_M) + 2 * GAP / (EPS0 * EPS_W)
    s_l = 2 * D_M / (EPS0 * EPS_M) + (LZ - 2 * D_M) / (EPS0 * EPS_W)
    d0 = sigma * s_c / s_l
    jump = sigma * s_c * (1 - s_c / s_l)
    phi = potential_profile(pos[:, 2], q, box, MEMBRANES, EPS_W,
                            np.array([8.0 - GAP, 12.0 + GAP]))
    assert phi[1] - phi[0] == pytest.approx(jump, rel=1e-9)

    # analytic field and potential on a fine grid, gauge fixed by the zero mean
    def field(z):
        eps = np.where(((z > 8) & (z < 12)) | ((z > 28) & (z < 32)), EPS_M, EPS_W)
        d = np.where((z > 8 - GAP) & (z < 12 + GAP), d0 - sigma, d0)
        return d / (EPS0 * eps)

    breaks = np.array([0.0, 8 - GAP, 8, 12, 12 + GAP, 28, 32, LZ])
    z = np.unique(np.concatenate([breaks, np.linspace(0, LZ, 801)]))
    mid = 0.5 * (z[1:] + z[:-1])
    phi_exact = np.concatenate([[0.0], -np.cumsum(field(mid) * np.diff(z))])
    phi_exact -= np.sum(0.5 * (phi_exact[1:] + phi_exact[:-1]) * np.diff(z)) / LZ
    phi_model = potential_profile(pos[:, 2], q, box, MEMBRANES, EPS_W, z)
    assert np.max(np.abs(phi_model - phi_exact)) < 1e-9 * jump
    assert phi_exact[-1] == pytest.approx(phi_exact[0], abs=1e-9 * jump)  # periodic


# ------------------------------------------------------------------------------- potentials
def test_window_means_are_averages_of_the_profile_and_gauge_is_zero_mean():
    box = np.array([6.0, 6.0, 30.0])
    slabs = [(-2.0, 2.0, EPS_M), (13.0, 17.0, EPS_M)]  # first slab straddles z = 0
    pos, q = neutral_ions(np.random.default_rng(4), 40, box)
    windows = [(3.0, 11.0), (20.0, 26.0), (27.0, 4.0), (0.0, 30.0)]
    means = window_mean_potentials(pos[:, 2], q, box, slabs, EPS_W, windows)
    for (lo, hi), mean in zip(windows, means):
        if lo > hi:
            hi += box[2]
        z = np.linspace(lo, hi, 200001)
        phi = potential_profile(pos[:, 2], q, box, slabs, EPS_W, z)
        trapezoid = np.sum(0.5 * (phi[1:] + phi[:-1]) * np.diff(z)) / (hi - lo)
        assert mean == pytest.approx(trapezoid, abs=1e-6 * np.ptp(phi))
    assert means[-1] == pytest.approx(0.0, abs=1e-10 * np.max(np.abs(means[:-1])))


def test_translation_invariance_and_wrapping():
    """Shifting ions and slabs together by any dz (wrapping through Lz) changes nothing."""
    box = np.array([5.0, 5.0, 24.0])
    slabs = [(4.0, 8.0, EPS_M), (15.0, 19.0, EPS_M)]
    pos, q = neutral_ions(np.random.default_rng(9), 30, box)
    pos[0, 2] = 6.0
    f1 = np.zeros_like(pos)
    e1 = MembraneFieldCorrection(box, slabs, EPS_W).compute(pos, q, f1)
    dz = 17.5
    moved = pos.copy()
    moved[:, 2] += dz  # left unwrapped on purpose
    f2 = np.zeros_like(pos)
    e2 = MembraneFieldCorrection(box, [(a + dz, b + dz, e) for a, b, e in slabs],
                                 EPS_W).compute(moved, q, f2)
    assert e2 == pytest.approx(e1, rel=1e-10)
    assert np.allclose(f2, f1, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------- sorting, ties, errors
def test_result_does_not_depend_on_sort_history():
    """The incremental sort restarts from the previous order; the sort key (z, index) is a
    total order, so a fresh object and a reused one give identical bits, ties included."""
    box = np.array([5.0, 5.0, 20.0])
    slabs = [(4.0, 8.0, EPS_M)]
    rng = np.random.default_rng(2)
    pos, q = neutral_ions(rng, 500, box)
    pos[10:20, 2] = 6.5  # a tied sheet inside the membrane
    pos[30:40, 2] = 12.0  # and one in water
    reused = MembraneFieldCorrection(box, slabs, EPS_W)
    for _ in range(3):  # a random walk, then a reshuffle that forces the merge sort
        pos[:, 2] += rng.normal(0.0, 0.05, len(pos))
        pos[10:20, 2] = 6.5
        reused.compute(pos, q, np.zeros_like(pos))
    pos[:, 2] = rng.random(len(pos)) * box[2]
    pos[10:20, 2] = 6.5
    pos[30:40, 2] = 12.0
    f_reused, f_fresh = np.zeros_like(pos), np.zeros_like(pos)
    e_reused = reused.compute(pos, q, f_reused)
    e_fresh = MembraneFieldCorrection(box, slabs, EPS_W).compute(pos, q, f_fresh)
    assert e_reused == e_fresh
    assert np.array_equal(f_reused, f_fresh)
    # a tied sheet: every member feels the sheet's mean field (equal force per charge)
    per_charge = f_fresh[10:20, 2] / q[10:20]
    assert np.ptp(per_charge) <= 1e-12 * np.max(np.abs(per_charge))


def test_non_neutral_system_is_refused():
    box = np.array([5.0, 5.0, 20.0])
    pos = np.array([[1.0, 1.0, 3.0], [2.0, 2.0, 12.0]])
    q = np.array([1.0, 1.0])
    with pytest.raises(ValueError, match="neutral"):
        MembraneFieldCorrection(box, [(4.0, 8.0, EPS_M)], EPS_W).compute(pos, q,
                                                                         np.zeros_like(pos))
    with pytest.raises(ValueError, match="neutral"):
        potential_profile(pos[:, 2], q, box, [(4.0, 8.0, EPS_M)], EPS_W, np.array([1.0]))


def test_nan_position_gives_nan_not_a_hang():
    box = np.array([5.0, 5.0, 20.0])
    pos = np.array([[1.0, 1.0, 3.0], [2.0, 2.0, np.nan], [2.0, 2.0, 12.0]])
    q = np.array([1.0, -2.0, 1.0])
    energy = MembraneFieldCorrection(box, [(4.0, 8.0, EPS_M)], EPS_W).compute(
        pos, q, np.zeros_like(pos))
    assert np.isnan(energy)


def test_bad_slabs_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        MembraneFieldCorrection((5, 5, 20), [(4.0, 8.0, 2.0), (7.0, 9.0, 2.0)], EPS_W)
    with pytest.raises(ValueError):
        MembraneFieldCorrection((5, 5, 20), [(8.0, 4.0, 2.0)], EPS_W)
