"""Widom insertion (analysis.widom): the insertion energy is the model's energy difference,
and the excess chemical potential it gives is the hard-sphere one where that is known.

- Delta U of the Coulomb part equals the direct Ewald sum of the frame with and without the
  group (analysis/validation/ewald_direct_sum.py, converged to rounding);
- the full Delta U (WCA, Ewald, and with membranes the 1-D dielectric correction) equals the
  engine's own force terms evaluated before and after adding the group, within the SPME's
  energy error, and the membrane part alone equals MembraneFieldCorrection exactly (also
  with fixed surface sheets, whose ions are not neutral);
- without electrostatics, ln gamma_+- of WCA ions matches BMCSL hard spheres of the
  Barker-Henderson diameter at packing fraction 0.07;
- two compartments of one composition give the activity ratio 1 (symmetry);
- mistakes a user can make are one-line errors.

The bulk electrolyte's Widom gamma_+- against the MSA is in tests/test_thermo.py (it shares
that file's run).
"""

from __future__ import annotations

import dataclasses

import math

import numpy as np
import pytest

from analysis.activity import barker_henderson_diameter, bmcsl_hard_spheres
from analysis.runs import measure, open_run
from analysis.validation.ewald_direct_sum import direct_ewald
from analysis.widom import InsertionModel, MembraneTerm, activity_ratio, widom
from sim import units
from sim.electrostatics import build_electrostatic_terms
from sim.errors import UserError
from sim.units import thermal_voltage_mV
from sim.forces.membrane_field import MembraneFieldCorrection
from sim.io import RunData
from sim.run import run_scenario
from sim.simulation import Simulation
from sim.scenario import parse_scenario
from tests.scenario_factory import bulk, tree


def _membrane_scenario(steps=200, seed=4, conc=("150 mM", "150 mM")):
    """Two 3 nm compartments of K+ Cl- between 2 nm membranes with K+ and Cl- channels."""
    comps = [{"name": n, "depth": "3 nm", "concentrations": {"K+": c, "Cl-": c}}
             for n, c in zip(("inside", "outside"), conc)]
    mem = {"thickness": "2 nm", "permittivity": 2,
           "channels": [{"count": 4, "radius": "1.0 nm", "permeant": ["K+", "Cl-"]}]}
    t = tree(electrostatics="ewald", box={"lateral": "7 nm"}, compartments=comps,
             membranes=[mem, mem],
             run={"dt": "0.05 ps", "steps": steps, "seed": seed, "sample_interval": 20,
                  "frame_interval": 100})
    return parse_scenario(t, "widom_membranes.yaml")


def _placed(scenario):
    sim = Simulation(scenario)
    return sim.ions.pos.copy(), sim.ions.species.copy(), sim.charges.copy()


def _trials(rng, box, m, window=None):
    t = rng.random((m, 2, 3)) * box
    if window is not None:
        t[:, :, 2] = window[0] + (window[1] - window[0]) * rng.random((m, 2))
    return t


def test_coulomb_insertion_energy_is_the_direct_ewald_difference():
    sc = bulk(conc="150 mM", side="6 nm", electrostatics="ewald")
    pos, species, charges = _placed(sc)
    model = InsertionModel(sc, species, charges)
    model.wca_cut2[:] = 0.0  # Coulomb only: what the direct sum knows
    model.set_frame(pos)
    box = np.array(sc.box)
    p = units.COULOMB_CONSTANT / sc.solvent_permittivity
    e0, _ = direct_ewald(pos, charges, box, p)
    group = np.array([sc.species_index("K+"), sc.species_index("Cl-")])
    trials = _trials(np.random.default_rng(1), box, 6)
    du = model.delta_u(trials, group)
    for k, t in enumerate(trials):
        e1, _ = direct_ewald(np.vstack([pos, t]), np.concatenate([charges, [1.0, -1.0]]),
                             box, p)
        # EWALD_TOLERANCE 1e-5 truncates both sums at 1e-5 of their first terms: ~1e-5 kJ/mol
        assert du[k] == pytest.approx(e1 - e0, abs=1e-4)


def _engine_energy(scenario, pos, species, charges, params):
    """The engine's total energy (kJ/mol) of a configuration: its force terms (WCA + real
    space, SPME, self, membrane correction) with fixed Ewald parameters, SPME in double
    precision so that a difference of two energies carries no float32 rounding."""
    es = dataclasses.replace(scenario.electrostatics, alpha=params.alpha,
                             cutoff=params.cutoff, mesh=tuple(params.mesh), order=params.order)
    sc = dataclasses.replace(scenario, electrostatics=es)
    diam = [s.diameter for s in sc.species]
    terms, _ = build_electrostatic_terms(sc, species, charges, diam, positions=pos)
    for term in terms:
        if hasattr(term, "spme"):
            s = term.spme
            term.spme = type(s)(s.box, s.alpha, s.mesh, s.order, s.prefactor,
                                single_precision=False)
    forces = np.zeros((len(species), 3))
    return sum(sum(term.compute(pos, forces).values()) for term in terms)


@pytest.mark.parametrize("with_membranes", [False, True])
def test_insertion_energy_is_the_engines_energy_difference(with_membranes):
    if with_membranes:
        sc = _membrane_scenario()
        lo, hi = sc.compartment_bounds()[1]
        window = (lo + 0.5, hi - 0.5)
    else:
        sc, window = bulk(conc="150 mM", side="6 nm", electrostatics="ewald"), None
    pos, species, charges = _placed(sc)
    box = np.array(sc.box)
    _, params = build_electrostatic_terms(sc, species, charges,
                                          [s.diameter for s in sc.species], positions=pos)
    model = InsertionModel(sc, species, charges)
    model.set_frame(pos)
    k, cl = sc.species_index("K+"), sc.species_index("Cl-")
    group = np.array([k, cl])
    trials = _trials(np.random.default_rng(2), box, 8, window)
    du = model.delta_u(trials, group)
    e0 = _engine_energy(sc, pos, species, charges, params)
    diffs = []
    for j, t in enumerate(trials):
        e1 = _engine_energy(sc, np.vstack([pos, t]), np.concatenate([species, group]),
                            np.concatenate([charges, [1.0, -1.0]]), params)
        diffs.append(du[j] - (e1 - e0))
    # The engine's SPME and truncated real space approximate the exact Ewald sum to an RMS
    # relative force error of 1e-3; its energy differences for two added ions then stand
    # within ~1e-3 kT of the exact ones (measured: below 3e-3 kJ/mol here). 0.01 kT is far
    # below anything Widom resolves (its SEs are ~0.01 in ln gamma).
    assert np.max(np.abs(diffs)) < 0.01 * sc.kT, diffs


def test_membrane_term_is_the_engines_correction_difference_with_surface_sheets():
    """The incremental 1-D term against MembraneFieldCorrection before and after, exactly:
    slabs of eps 2, fixed sheets of net charge +6 e (so the ions carry -6 e and the eps_w
    problem holds their background), groups of two and three ions."""
    rng = np.random.default_rng(3)
    box = np.array([6.0, 6.0, 14.0])
    slabs = [(2.0, 4.0, 2.0), (9.0, 11.5, 3.0)]
    sheets = (np.array([2.0, 4.0, 9.0, 11.5]), np.array([1.0, 2.0, 1.0, 2.0]))
    n = 60
    charges = np.where(np.arange(n) < 27, 1.0, -1.0)  # 27 - 33 = -6
    z = np.concatenate([rng.uniform(4.3, 8.7, n // 2), rng.uniform(11.8, 15.7, n - n // 2)])
    pos = np.column_stack([rng.random(n) * 6.0, rng.random(n) * 6.0, np.mod(z, 14.0)])
    term = MembraneTerm(box, slabs, 80.0, sheets)
    ref = MembraneFieldCorrection(box, slabs, 80.0, sheets)
    e0 = ref.compute(pos, charges, np.zeros((n, 3)))
    for group_q in (np.array([1.0, -1.0]), np.array([2.0, -1.0, -1.0])):
        g = len(group_q)
        tz = rng.uniform(4.3, 8.7, (5, g))
        tz[2, -1] = rng.uniform(11.8, 13.9)  # one group across the two compartments
        du = term.delta(pos, charges, tz, group_q)
        for j in range(5):
            p1 = np.vstack([pos, np.column_stack([np.zeros(g), np.zeros(g), tz[j]])])
            q1 = np.concatenate([charges, group_q])
            e1 = MembraneFieldCorrection(box, slabs, 80.0, sheets).compute(
                p1, q1, np.zeros((n + g, 3)))
            assert du[j] == pytest.approx(e1 - e0, rel=1e-9, abs=1e-9)


@pytest.fixture(scope="module")
def wca_run(tmp_path_factory):
    """WCA spheres of 0.6 nm without charges' forces: X+ and A- at 500 mM each (packing
    fraction 0.071 at the Barker-Henderson diameter), 1 ns after 0.1 ns."""
    d = tmp_path_factory.mktemp("wca")
    sc = bulk(conc="500 mM", side="6 nm", species=("X+", "A-"),
              run={"dt": "0.05 ps", "steps": 22000, "seed": 5, "sample_interval": 50,
                   "frame_interval": 100, "equilibration": "0.1 ns"})
    run_scenario(sc, d)
    return RunData(d)


def test_widom_without_electrostatics_matches_bmcsl_hard_spheres(wca_run):
    sc = wca_run.scenario
    res = widom(wca_run, group=("X+", "A-"), insertions=1000, t_from_ps=100.0, seed=1)
    sigma = np.array([s.diameter for s in sc.species])
    counts = np.bincount(wca_run.species, minlength=len(sigma))
    rho = counts / float(np.prod(sc.box))
    hs = bmcsl_hard_spheres(rho, barker_henderson_diameter(sigma, sc.wca_epsilon / sc.kT))
    x, a = sc.species_index("X+"), sc.species_index("A-")
    theory = 0.5 * (hs.ln_gamma[x] + hs.ln_gamma[a])
    assert 0.06 < hs.packing_fraction < 0.08 and theory > 0.6
    # The Barker-Henderson diameter gives the WCA spheres the hard spheres' second virial
    # coefficient (to first order in the softness); the third-order term, 15 eta^2 = 0.08
    # of the 0.65 here, differs between soft and hard spheres by a few per cent of itself:
    # a model tolerance of 0.02 in ln gamma (3 %).
    assert abs(res.ln_gamma - theory) <= 3 * res.ln_gamma_sem + 0.02, \
        (res.ln_gamma, res.ln_gamma_sem, theory)
    assert res.ln_gamma_sem < 0.02 and res.frames >= 200


@pytest.fixture(scope="module")
def two_sides(tmp_path_factory):
    d = tmp_path_factory.mktemp("two_sides")
    run_scenario(_membrane_scenario(steps=6000, seed=6), d)
    return measure(open_run(d))


def test_equal_compartments_have_activity_ratio_one(two_sides):
    pred = activity_ratio(two_sides, ("K+", "Cl-"), insertions=300)
    w_in, w_out = pred.widom
    assert w_in.frames >= 20 and w_in.window != w_out.window
    assert abs(pred.widom_ratio - 1.0) <= 3 * pred.widom_se, (pred.widom_ratio, pred.widom_se)
    # the MSA at the two (statistically equal) measured compositions
    assert pred.msa_ratio == pytest.approx(1.0, abs=0.05)


def test_user_errors(two_sides, wca_run):
    run = two_sides.run
    with pytest.raises(UserError, match="give a z-window"):
        widom(run, group=("K+", "Cl-"))
    with pytest.raises(UserError, match="neutral group"):
        widom(run, group=("K+", "K+"), window=(1.0, 2.0))
    with pytest.raises(UserError, match="inside"):
        widom(run, group=("K+", "Cl-"), window=(-1.0, 2.0))
    with pytest.raises(UserError, match="no frames"):
        widom(wca_run, group=("X+", "A-"), t_from_ps=1e9)


def test_donnan_case_compares_with_the_widom_ratio(tmp_path):
    """check_donnan's donnan_ratio row: reference = the Widom ratio of this run's two bulk
    windows with its SE, the MSA and the ideal 1 as information (a 0.15 ns Donnan run,
    too short to decide anything; what is checked is where the numbers go)."""
    from analysis.validation.scenario_checks import check_donnan
    from sim.api import load, with_values
    sc = with_values(load("donnan"), {"run.steps": 3000, "run.frame_interval": 100,
                                      "run.checkpoint_interval": 1000})
    run_scenario(sc, tmp_path / "donnan")
    m = measure(open_run(tmp_path / "donnan"))
    row = next(r for r in check_donnan(m) if r.case == "donnan_ratio")
    pred = activity_ratio(m, ("K+", "Cl-"))
    assert row.reference == pytest.approx(pred.widom_ratio)
    assert row.reference_se == pytest.approx(pred.widom_se) and row.reference_se > 0
    assert "Widom" in row.source
    assert any("MSA + BMCSL" in n and "ideal Donnan predicts 1" in n for n in row.notes)
    # the two windows differ in composition (the big X+ A- outside): gamma_out > gamma_in
    assert pred.msa_ratio > 1.0
    # the V_m row: the mean of the measured bulks' ideal E_K and E_Cl, +- half their
    # difference (how the activity coefficients split between the two ions)
    vm = next(r for r in check_donnan(m) if r.case == "donnan")
    b, names = m.bulk_mM, m.species_names
    k, cl = names.index("K+"), names.index("Cl-")
    vt = thermal_voltage_mV(m.scenario.temperature)
    e_k = vt * math.log(b[1, k].mean / b[0, k].mean)
    e_cl = -vt * math.log(b[1, cl].mean / b[0, cl].mean)
    assert vm.reference == pytest.approx(0.5 * (e_k + e_cl))
    assert vm.reference_se >= 0.5 * abs(e_k - e_cl) > 0
    assert any("ideal Donnan from the initial concentrations" in n for n in vm.notes)
