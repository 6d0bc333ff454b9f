"""Fixed surface charge: uniform sheets on membrane faces, in the 1-D eps(z) problem only.

The ions then carry the sheets' counter-charge, so the Ewald sum of the ions alone implies a
uniform neutralising background; the correction removes that background's 1-D problem and
adds the sheets'. Checked here: the background problem against the direct kz sum, forces
against the energy, the whole against an Ewald sum in which each sheet is a fine lattice of
point charges, and the scenario option (counter-ions, errors)."""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from analysis.validation import ewald_direct_sum as ed  # noqa: E402
from oracles import z_force_by_central_difference  # noqa: E402

from sim.forces.membrane_field import (MembraneFieldCorrection,  # noqa: E402
                                       _one_d_uniform)
from sim.scenario import ScenarioError  # noqa: E402
from sim.units import COULOMB_CONSTANT, EPS0  # noqa: E402
from tests.scenario_factory import BASE, scenario  # noqa: E402

EPS_W = 78.5
EPS_M = 2.0


def test_background_problem_is_the_ewald_kz_line_for_a_charged_set():
    """For a non-neutral set the Ewald sum omits k = 0: its kx = ky = 0 part is the 1-D
    problem with a uniform background, (p / 2V) sum_{kz != 0} 4 pi / kz^2 |S(kz)|^2.
    Tolerance 1e-5: the direct k-sum is truncated (tail added). Fields are -dU/dz."""
    box = np.array([6.0, 7.0, 30.0])
    rng = np.random.default_rng(5)
    z = np.sort(rng.random(40) * box[2])
    q = rng.choice([1.0, -1.0, 2.0], size=40)
    assert abs(q.sum()) >= 3
    area = box[0] * box[1]
    inv_w = 1.0 / (EPS0 * EPS_W)
    ebar = np.zeros_like(z)
    energy = _one_d_uniform(z, q, area, box[2], inv_w, q.sum(), ebar)
    line = ed.line_energy_kz(z, q, box, COULOMB_CONSTANT / EPS_W, nmax=100000)
    assert energy == pytest.approx(line, rel=1e-5)
    h = 1e-6
    scratch = np.zeros_like(z)
    for i in (0, 7, 39):
        zp, zm = z.copy(), z.copy()
        zp[i] += h
        zm[i] -= h
        du = (_one_d_uniform(zp, q, area, box[2], inv_w, q.sum(), scratch)
              - _one_d_uniform(zm, q, area, box[2], inv_w, q.sum(), scratch)) / (2 * h)
        assert q[i] * ebar[i] == pytest.approx(-du, rel=1e-6)


def charged_setup(rng, n=40):
    """Two membranes with -0.05 e/nm^2 on each face, ions carrying +0.2 e net... per face."""
    box = np.array([6.0, 6.0, 24.0])
    slabs = [(4.0, 6.0, EPS_M), (16.0, 18.0, EPS_M)]
    sheet_q = -1.8  # e per face (sigma = -0.05 e/nm^2 on 36 nm^2)
    sheets = (np.array([4.0, 6.0, 16.0, 18.0]), np.full(4, sheet_q))
    pos = rng.random((n, 3)) * box
    pos[:, 2] = rng.choice([1.0, 10.0, 21.0], size=n) + rng.random(n) * 2.0  # in water
    pos[0, 2] = 5.0  # one ion in a pore
    q = rng.choice([1.0, -1.0], size=n)
    q[: int(round(-4 * sheet_q - q.sum()) // 2 + 1)] = 1.0
    excess = -4 * sheet_q - q.sum()  # make ions + sheets neutral
    q[-1] += excess
    assert q.sum() == pytest.approx(-4 * sheet_q)
    return box, slabs, sheets, pos, q


def test_forces_with_sheets_are_minus_energy_gradient():
    box, slabs, sheets, pos, q = charged_setup(np.random.default_rng(11))
    corr = MembraneFieldCorrection(box, slabs, EPS_W, sheets)
    forces = np.zeros_like(pos)
    corr.compute(pos, q, forces)
    scratch = np.zeros_like(pos)
    for i in (0, 1, 5, 20, 39):
        fd = z_force_by_central_difference(lambda p: corr.compute(p, q, scratch), pos, i)
        assert forces[i, 2] == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_sheets_match_an_ewald_sum_of_point_lattices():
    """Uniform permittivity (eps_m = eps_w): Ewald(ions) + correction(ions, sheets) must give
    the ions the forces of an Ewald sum of ions + sheets, each sheet a 12 x 12 lattice of
    point charges (0.5 nm spacing; its lateral field decays as exp(-2 pi d / 0.5 nm), below
    1e-7 at the ions' >= 1.5 nm). Tolerance 1e-5 of the RMS force."""
    rng = np.random.default_rng(3)
    box = np.array([6.0, 6.0, 16.0])
    sheet_zs, per_sheet = [4.0, 12.0], -2.0  # e per sheet
    n = 24
    pos = np.column_stack([rng.random(n) * 6, rng.random(n) * 6,
                           rng.choice([0.0, 6.0], size=n) + 1.0 + rng.random(n) * 2.0])
    pos[:, 2] %= box[2]
    q = np.where(np.arange(n) < 14, 1.0, -1.0)  # net +4 e: the sheets' counter-charge
    grid = (np.arange(12) + 0.5) * 0.5
    gx, gy = np.meshgrid(grid, grid, indexing="ij")
    lattice = [np.column_stack([gx.ravel(), gy.ravel(), np.full(144, zs)]) for zs in sheet_zs]
    all_pos = np.concatenate([pos] + lattice)
    all_q = np.concatenate([q, np.full(288, per_sheet / 144)])
    p = COULOMB_CONSTANT / EPS_W
    _, f_full = ed.direct_ewald(all_pos, all_q, box, p)
    _, f_ions = ed.direct_ewald(pos, q, box, p)
    corr = MembraneFieldCorrection(box, [(4.0, 5.0, EPS_W)], EPS_W,
                                   (np.array(sheet_zs), np.full(2, per_sheet)))
    f_corr = np.zeros_like(pos)
    corr.compute(pos, q, f_corr)
    expected = f_full[:n]
    got = f_ions + f_corr
    scale = np.sqrt(np.mean(expected ** 2))
    assert np.max(np.abs(got - expected)) < 1e-5 * scale
    # and the sheets matter: without them the forces are off by far more
    assert np.max(np.abs(f_ions - expected)) > 1e-2 * scale


def test_neutrality_counts_the_sheets():
    box, slabs, sheets, pos, q = charged_setup(np.random.default_rng(2))
    corr = MembraneFieldCorrection(box, slabs, EPS_W, sheets)
    q_bad = q.copy()
    q_bad[-1] += 1.0
    with pytest.raises(ValueError, match="neutral"):
        corr.compute(pos, q_bad, np.zeros_like(pos))


# ------------------------------------------------------------------------ the scenario option
def charged_membranes(sigma="-0.0625 e/nm^2", counterion="K+", **extra):
    """BASE's two membranes (8 nm box: 64 nm^2) with a surface charge on both faces;
    -0.0625 e/nm^2 is 4 e per face."""
    mems = [dict(m, surface_charge=sigma, counterion=counterion, **extra)
            for m in BASE["membranes"]]
    if counterion is None:
        for m in mems:
            del m["counterion"]
    return mems


def test_counterions_balance_each_compartment_with_its_faces():
    from sim.geometry import Geometry
    from sim.system import check_counts, ion_counts
    sc = scenario(membranes=charged_membranes())
    counts = ion_counts(sc, Geometry.from_scenario(sc))
    check_counts(sc, Geometry.from_scenario(sc), counts)
    plain = scenario()
    base = ion_counts(plain, Geometry.from_scenario(plain))
    k = sc.species_index("K+")
    # each compartment touches two charged faces of 4 e: 8 K+ more, anions unchanged
    assert list(counts[:, k] - base[:, plain.species_index("K+")]) == [8, 8]
    a = sc.species_index("A-")
    assert list(counts[:, a]) == list(base[:, plain.species_index("A-")])


@pytest.mark.parametrize("membranes, message", [
    (charged_membranes(counterion=None), "membranes[0].counterion: is required"),
    (charged_membranes(counterion="Cl-"), "opposite sign"),
    (charged_membranes(sigma="-0.05 e/nm^2"), "3.2 K+ per face, not a whole number"),
    (charged_membranes(counterion="Kx"), "unknown species 'Kx'"),
    ([dict(m, counterion="K+") for m in BASE["membranes"]], "given without a surface_charge"),
    (charged_membranes(sigma="-0.0625"), "surface_charge: missing unit"),
])
def test_bad_surface_charge_is_refused_with_the_key(membranes, message):
    with pytest.raises(ScenarioError, match=re.escape(message)):
        scenario(membranes=membranes)


def test_surface_charge_in_si_units():
    """0.01 C/m^2 is 0.0624 e/nm^2: within 0.5% of 4 e per face, so moved onto it."""
    sc = scenario(membranes=charged_membranes(sigma="-0.01 C/m^2"))
    assert sc.membranes[0].surface_charge == -0.0625


def test_a_charged_run_gathers_its_counterions_at_the_faces(tmp_path):
    """A short run (0.3 ns): the engine accepts the non-neutral ion set, V_m stays finite,
    and the ions within 1 nm of the four charged faces (-4 e each) carry net positive
    charge. Gouy-Chapman at the ~180 mM cation density of this box (lambda_D 0.72 nm) puts
    3/4 of each face's counter-charge there, 12 e in all; the check asks for more than 4 e
    (without the sheets it would be 0, give or take the ~2 e noise of 10 frames)."""
    from sim.io import RunData
    from sim.run import run_scenario
    sc = scenario(membranes=charged_membranes(), electrostatics="ewald",
                  run={"dt": "0.05 ps", "steps": 6000, "seed": 3, "sample_interval": 20,
                       "frame_interval": 400})
    run_scenario(sc, tmp_path / "run", quiet=True, log=lambda *a: None)
    data = RunData(tmp_path / "run")
    assert np.all(np.isfinite(np.asarray(data.observable("membrane_potential").value)))
    dens = np.asarray(data.observable("density").value)[5:].mean(axis=0)  # last 0.2 ns
    width = sc.box[2] / dens.shape[1]
    z = (np.arange(dens.shape[1]) + 0.5) * width
    valences = np.array([s.valence for s in sc.species], dtype=float)
    charge_per_bin = valences @ dens * sc.area * width  # e
    near = np.zeros_like(z, dtype=bool)
    for lo, hi in sc.compartment_bounds():
        near |= ((z > lo) & (z < lo + 1.0)) | ((z > hi - 1.0) & (z < hi))
    layer_charge = charge_per_bin[near].sum()
    assert 4.0 < layer_charge <= 16.0 + 1e-9


def test_the_resolved_scenario_reads_back_the_same():
    """run dirs keep scenario.yaml from to_dict(); a resume reads it back."""
    from sim.scenario import parse_scenario
    sc = scenario(membranes=charged_membranes())
    again = parse_scenario(sc.to_dict(), "again.yaml")
    assert again.membranes == sc.membranes and again.species == sc.species
