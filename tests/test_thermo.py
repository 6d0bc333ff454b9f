"""Bulk thermodynamics: the primitive model's theory (analysis.activity: MSA, BMCSL,
Debye-Hueckel on the number-density scale) and a bulk run's energies, osmotic coefficient
and Widom gamma_+- (analysis.bulk_thermo, `ionsim analyze` on a membrane-free run).

Theory against exact limits and closed forms: the MSA tends to the Debye-Hueckel limiting
law as c -> 0; the unequal-size solver equals the equal-size closed form of Waisman and
Lebowitz; ln gamma_i, phi and U are the derivatives of the MSA and BMCSL free energies that
thermodynamics requires; BMCSL is Carnahan-Starling for one diameter and the exact second
virial coefficient at low density. The model tolerance of the simulation comparison is
held to the gap between the MSA and the HNC integral equation of the very WCA + Coulomb
model (tests/hnc_oracle.py). Then one short bulk run at 120 mM K+ Cl-.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.activity import (barker_henderson_diameter, bmcsl_hard_spheres,
                               debye_hueckel_primitive, density_per_nm3, msa_primitive_model,
                               msa_rpm_closed_form, primitive_model)
from analysis.bulk_thermo import MODEL_TOLERANCE, analyze_bulk, frame_wca, wca_virial
from analysis.theory import bjerrum_length_nm
from sim.cli import main
from sim.forces.cells import CellList
from sim.io import RunData
from sim.run import run_scenario
from sim.water import relative_permittivity
from tests.hnc_oracle import hnc_wca_coulomb
from tests.scenario_factory import bulk

T = 310.15
EPS = relative_permittivity(T)
LB = bjerrum_length_nm(T, EPS)
KCL_SIGMA = np.array([0.266, 0.362])  # K+, Cl- (sim/data/species.yaml)
ONE_ONE = np.array([1.0, -1.0])


# --- MSA, BMCSL, Debye-Hueckel -----------------------------------------------------------

@pytest.mark.parametrize("valences, sigma", [((1.0, -1.0), (0.266, 0.362)),
                                             ((2.0, -1.0), (0.198, 0.362))])
def test_msa_tends_to_the_debye_hueckel_limiting_law(valences, sigma):
    z = np.array(valences)
    nu = np.array([-z[1], z[0]])  # a neutral salt: |z_-| cations per |z_+| anions
    for c_molar in (1e-6, 1e-5):
        rho = nu * density_per_nm3(1e3 * c_molar)
        msa = msa_primitive_model(rho, sigma, z, LB)
        dh = debye_hueckel_primitive(rho, z, LB)
        kappa = 2 * dh.gamma_per_nm
        # the first correction to the limiting law is of relative order kappa sigma
        # (Gamma = kappa/2 (1 - kappa sigma / 2 + ...)): 2 kappa sigma_max bounds it
        tol = 2 * kappa * max(sigma)
        assert msa.gamma_per_nm == pytest.approx(kappa / 2, rel=tol)
        assert msa.energy_per_ion == pytest.approx(dh.energy_per_ion, rel=tol)
        assert msa.osmotic_excess == pytest.approx(dh.osmotic_excess, rel=tol)
        np.testing.assert_allclose(msa.ln_gamma, dh.ln_gamma, rtol=tol)
        assert tol < 0.03


@pytest.mark.parametrize("c_mM", [1.0, 50.0, 150.0, 500.0, 2000.0])
@pytest.mark.parametrize("valence", [1.0, 2.0])
def test_unequal_size_msa_equals_the_equal_size_closed_form(c_mM, valence):
    rho = np.full(2, density_per_nm3(c_mM))
    sigma = 0.425  # the restricted primitive model of Card and Valleau (1970)
    msa = msa_primitive_model(rho, [sigma, sigma], [valence, -valence], LB)
    u_n, phi_el, ln_g = msa_rpm_closed_form(rho.sum(), sigma, LB, valence)
    assert msa.eta_per_nm2 == pytest.approx(0.0, abs=1e-14)
    assert msa.energy_per_ion == pytest.approx(u_n, rel=1e-12)
    assert msa.osmotic_excess == pytest.approx(phi_el, rel=1e-10)
    np.testing.assert_allclose(msa.ln_gamma, ln_g, rtol=1e-12)


def _central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_msa_is_thermodynamically_consistent_for_unequal_ions():
    """ln gamma_i = d(beta A / V) / d rho_i, phi_el = (sum rho_i ln gamma_i - beta A/V) / rho_T
    and beta U = l_B d(beta A) / d l_B, for a 2:1 salt with a neutral sphere beside it
    (sizes unequal: eta != 0, the charge-size coupling of Blum's solution)."""
    rho = np.array([0.10, 0.20, 0.05])
    sigma = np.array([0.20, 0.36, 0.60])
    z = np.array([2.0, -1.0, 0.0])
    m = msa_primitive_model(rho, sigma, z, LB)
    assert abs(m.eta_per_nm2) > 1e-3

    def free(r, lb=LB):
        return msa_primitive_model(r, sigma, z, lb).free_energy_per_volume
    for i in range(3):
        e = np.eye(3)[i]
        num = _central(lambda x: free(rho + x * e), 0.0, 1e-6)
        assert m.ln_gamma[i] == pytest.approx(num, rel=1e-6, abs=1e-8)
    assert m.osmotic_excess == pytest.approx(
        (np.sum(rho * m.ln_gamma) - m.free_energy_per_volume) / rho.sum(), rel=1e-12)
    charging = LB * _central(lambda lb: free(rho, lb), LB, 1e-6 * LB)
    assert m.energy_per_volume == pytest.approx(charging, rel=1e-7)


def test_bmcsl_limits_and_consistency():
    # one diameter: Carnahan-Starling
    for eta in (0.05, 0.3):
        hs = bmcsl_hard_spheres([eta / (math.pi / 6 * 0.3 ** 3)], [0.3])
        assert hs.ln_gamma[0] == pytest.approx((8 * eta - 9 * eta ** 2 + 3 * eta ** 3)
                                               / (1 - eta) ** 3, rel=1e-12)
        assert hs.osmotic_excess + 1 == pytest.approx((1 + eta + eta ** 2 - eta ** 3)
                                                      / (1 - eta) ** 3, rel=1e-12)
    # a mixture: mu_i = d(beta A/V)/d rho_i, beta P = sum rho mu - beta A/V + rho_T
    rho = np.array([0.5, 0.3, 0.1])
    sigma = np.array([0.2, 0.36, 0.6])
    hs = bmcsl_hard_spheres(rho, sigma)
    for i in range(3):
        e = np.eye(3)[i]
        num = _central(lambda x: bmcsl_hard_spheres(rho + x * e, sigma)
                       .free_energy_per_volume, 0.0, 1e-6)
        assert hs.ln_gamma[i] == pytest.approx(num, rel=1e-7)
    assert hs.pressure_per_kT == pytest.approx(
        np.sum(rho * hs.ln_gamma) - hs.free_energy_per_volume + rho.sum(), rel=1e-12)
    # low density: the exact second virial coefficients of additive hard spheres,
    # beta mu_i = sum_j rho_j 2 (2 pi / 3) sigma_ij^3
    low = rho * 1e-6
    hs = bmcsl_hard_spheres(low, sigma)
    sij = 0.5 * (sigma[:, None] + sigma[None, :])
    b2 = 4 * math.pi / 3 * np.sum(low[None, :] * sij ** 3, axis=1)
    np.testing.assert_allclose(hs.ln_gamma, b2, rtol=1e-5)


def test_barker_henderson_diameter_limits():
    assert barker_henderson_diameter(1.0, 0.0) == 0.0
    # a very stiff WCA is a hard sphere of its cut-off 2^(1/6) sigma
    assert float(barker_henderson_diameter(1.0, 1e4)) == pytest.approx(2 ** (1 / 6), rel=0.01)
    f = float(barker_henderson_diameter(1.0, 1.0))
    assert 1.0 < f < 1.03
    np.testing.assert_allclose(barker_henderson_diameter(KCL_SIGMA, 1.0), f * KCL_SIGMA)


def test_model_tolerance_covers_the_msa_against_hnc_of_the_wca_model():
    """MODEL_TOLERANCE is the room the simulation gets beyond 3 SE. It must cover the MSA's
    own error for this model, sized here by HNC on the WCA + Coulomb potential itself at
    the test run's state (HNC: within about 1 % of Monte Carlo for 1:1 salts)."""
    rho = np.full(2, 96 / 11.0 ** 3)
    hnc = hnc_wca_coulomb(rho, KCL_SIGMA, ONE_ONE, LB)
    pm = primitive_model(rho, barker_henderson_diameter(KCL_SIGMA, 1.0), ONE_ONE, T, EPS)
    gaps = {"energy_per_ion_kT": abs(pm.energy_per_ion - hnc["energy_per_ion"]),
            "osmotic_coefficient": abs(pm.osmotic_coefficient - hnc["osmotic"]),
            "ln_gamma_pm": abs(pm.ln_gamma.mean() - hnc["ln_gamma"].mean())}
    for key, gap in gaps.items():
        # room left for the Brownian time step and the finite box beside the MSA's error
        assert gap < 0.75 * MODEL_TOLERANCE[key], (key, gap)
    # ... and it is not so wide that the limiting law would pass
    dh = debye_hueckel_primitive(rho, ONE_ONE, LB)
    assert abs(dh.energy_per_ion - hnc["energy_per_ion"]) > 3 * MODEL_TOLERANCE[
        "energy_per_ion_kT"]


# --- the WCA virial kernel ---------------------------------------------------------------

@pytest.mark.parametrize("box", [(3.0, 3.1, 2.0), (1.5, 6.0, 6.0)])
def test_wca_virial_counts_each_pair_once(box):
    """Against all pairs by the minimum image, in boxes with fewer than three cells along
    an axis (the same neighbour cell reached twice)."""
    box = np.array(box)
    rng = np.random.default_rng(7)
    n = 150
    pos = rng.random((n, 3)) * box
    species = rng.integers(0, 2, n)
    diam = np.array([0.3, 0.6])
    sigma = 0.5 * (diam[:, None] + diam[None, :])
    cut2 = (2 ** (1 / 6) * sigma) ** 2
    cells = CellList(box, float(np.sqrt(cut2.max())), n)
    cells.build(pos)
    w, u = wca_virial(pos, species, box, sigma, cut2, 2.5, cells.ncell, cells.cell_start,
                      cells.order, cells.cell_of)
    d = pos[:, None] - pos[None]
    d -= box * np.round(d / box)
    r2 = np.sum(d * d, axis=-1)
    s = sigma[species[:, None], species[None]]
    mask = np.triu(r2 < (2 ** (1 / 6) * s) ** 2, 1)
    x6 = (s ** 2 / np.where(mask, r2, 1.0)) ** 3
    assert mask.sum() > 20
    assert w == pytest.approx(np.sum(np.where(mask, 24 * 2.5 * (2 * x6 ** 2 - x6), 0)),
                              rel=1e-12)
    assert u == pytest.approx(np.sum(np.where(mask, 4 * 2.5 * (x6 ** 2 - x6) + 2.5, 0)),
                              rel=1e-12)


# --- a bulk run ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kcl_run(tmp_path_factory):
    """120 mM K+ Cl- in an 11 nm cube (192 ions), 1.5 ns of which 1.3 ns are used, energies
    every ps and frames every 5 ps (about 20 s on one thread)."""
    d = tmp_path_factory.mktemp("kcl")
    sc = bulk(conc="120 mM", side="11 nm", electrostatics="ewald",
              run={"dt": "0.05 ps", "steps": 30000, "seed": 1, "sample_interval": 20,
                   "frame_interval": 100, "equilibration": "0.2 ns"})
    run_scenario(sc, d)
    return d


@pytest.fixture(scope="module")
def kcl_thermo(kcl_run):
    return analyze_bulk(kcl_run, insertions=300, seed=2)


def _within(sim, se, theory, tol):
    return abs(sim - theory) <= 3 * se + tol


def test_bulk_run_energy_osmotic_and_widom_agree_with_the_msa(kcl_thermo):
    bt = kcl_thermo
    th = bt.theory
    tol = MODEL_TOLERANCE
    u, u_se = bt.energy_el.mean / bt.kT, bt.energy_el.sem / bt.kT
    assert u_se < 0.015  # resolves the MSA from the limiting law (0.1 kT apart here)
    assert _within(u, u_se, th.energy_per_ion, tol["energy_per_ion_kT"]), (u, u_se)
    assert not _within(u, u_se, bt.dh_limiting.energy_per_ion, tol["energy_per_ion_kT"])
    phi = bt.osmotic
    assert phi.sem < 0.006
    assert _within(phi.mean, phi.sem, th.osmotic_coefficient, tol["osmotic_coefficient"]), phi
    assert not _within(phi.mean, phi.sem, 1 + bt.dh_limiting.osmotic_excess,
                       tol["osmotic_coefficient"])
    w = bt.widom
    assert w.group == ("K+", "Cl-") and w.frames >= 200 and w.ln_gamma_sem < 0.03
    assert _within(w.ln_gamma, w.ln_gamma_sem, bt.theory_ln_gamma_pm(th),
                   tol["ln_gamma_pm"]), (w.ln_gamma, w.ln_gamma_sem)
    # phi's two parts add up: W_el = U_el at the frames, plus the WCA virial (repulsive)
    assert bt.virial_wca.mean > 0 and bt.virial_el.mean < 0
    assert phi.mean == pytest.approx(1 + bt.virial_el.mean + bt.virial_wca.mean, abs=1e-12)


def test_wca_energy_from_the_frames_is_the_recorded_one(kcl_run):
    run = RunData(kcl_run)
    frames = np.arange(0, run.n_frames, 25)
    _, u = frame_wca(run, frames)
    rec = run.observable("energy_wca")
    at = np.searchsorted(rec.step, run.frame_steps[frames])
    # positions are stored in float32: a relative 1e-7 in r is 1e-6 in r^-12
    np.testing.assert_allclose(u, rec.value[at], rtol=1e-4, atol=1e-6)
    assert np.count_nonzero(u) > 0


def test_ionsim_analyze_prints_the_bulk_table(kcl_run, tmp_path, capsys):
    assert main(["analyze", str(kcl_run)]) == 0
    out = capsys.readouterr().out
    for needle in ("Bulk thermodynamics", "U_el per ion (kT)", "U_WCA per ion (kJ/mol)",
                   "osmotic coefficient phi", "ln gamma_+- (Widom, K+ Cl-)", "MSA + BMCSL",
                   "DH limiting law", "Barker-Henderson"):
        assert needle in out, needle
    # a run too short for frames: the energies, and one line saying what is missing
    short = tmp_path / "short"
    run_scenario(bulk(conc="100 mM", side="4 nm", electrostatics="ewald",
                      run={"dt": "0.05 ps", "steps": 40, "seed": 1, "sample_interval": 10,
                           "frame_interval": 20}), short)
    assert main(["analyze", str(short)]) == 0
    out = capsys.readouterr().out
    assert "U_el per ion (kT)" in out and "osmotic coefficient phi" not in out
    from sim import api  # the notebook call prints the same and returns the numbers
    printout = api.analyze(short)
    assert str(printout).strip() in out and printout.result.energy_el is not None
    notes = [line for line in out.splitlines() if "frames after equilibration" in line]
    assert len(notes) == 1 and "run.frame_interval" in notes[0]
