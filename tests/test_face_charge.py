"""Surface charge face by face, and `concentration_basis: bulk`.

A membrane's `surface_charge` is one value (both faces) or a mapping that names faces,
`lower`/`upper` or by the compartment a face touches; counter-ions go to the compartment a
charged face touches, face by face. A compartment of `concentration_basis: bulk` gets
c V + the Gouy-Chapman surface excess of its charged faces instead of round(c V) plus
counter-ions, so that its measured bulk is the concentration asked for. Checked: reading,
the counts, the sheets, the round trip, the messages, the closed-form excess against the
profile of analysis.theory, and a run with electrostatics that measures both bases."""

from __future__ import annotations

import copy
import math
import re
import warnings

import numpy as np
import pytest

from sim import gouy_chapman, units
from sim.electrostatics import surface_sheets
from sim.geometry import Geometry
from sim.report import describe_scenario
from sim.scenario import ScenarioError, parse_scenario
from sim.system import check_counts, compartment_volume, ion_counts
from tests.scenario_factory import BASE, scenario

SIGMA = "-0.0625 e/nm^2"  # 4 e on a face of BASE's 64 nm^2


def membranes(surface_charge, counterion="K+"):
    """BASE's two membranes, both with this surface_charge (as one YAML anchor would)."""
    out = []
    for m in BASE["membranes"]:
        m = dict(m, surface_charge=copy.deepcopy(surface_charge))
        if counterion:
            m["counterion"] = counterion
        out.append(m)
    return out


def compartments(basis=("mean", "mean"), **changes):
    comps = copy.deepcopy(BASE["compartments"])
    for comp, b in zip(comps, basis):
        comp["concentration_basis"] = b
        comp.update(changes)
    return comps


def counts_of(sc):
    geo = Geometry.from_scenario(sc)
    counts = ion_counts(sc, geo)
    check_counts(sc, geo, counts)
    return counts


# ------------------------------------------------------------------------------ per face
def test_faces_named_by_side_or_by_compartment():
    """`lower`/`upper` are the sides of the slab; a compartment name picks the face that
    touches it, so one anchor {inside: ...} charges membrane 0's lower face and membrane
    1's upper face (both toward 'inside'); a face left out is uncharged."""
    sc = scenario(membranes=membranes({"lower": SIGMA}))
    assert [sc.face_surface_charges(j) for j in (0, 1)] == [(-0.0625, 0.0), (-0.0625, 0.0)]
    sc = scenario(membranes=membranes({"inside": SIGMA, "outside": "0 e/nm^2"}))
    assert [sc.face_surface_charges(j) for j in (0, 1)] == [(-0.0625, 0.0), (0.0, -0.0625)]
    sc = scenario(membranes=membranes(SIGMA))
    assert sc.face_surface_charges(1) == (-0.0625, -0.0625)
    assert sc.membranes[1].surface_charge == -0.0625  # one value where the faces agree


def test_the_old_single_value_refuses_to_stand_for_differing_faces():
    sc = scenario(membranes=membranes({"inside": SIGMA}))
    with pytest.raises(ValueError, match="face_surface_charges"):
        sc.membranes[0].surface_charge


def test_counterions_go_to_the_compartment_the_charged_face_touches():
    """Only 'inside' is bounded by charged faces (two of 4 e): 8 K+ more there, none
    outside; both compartments with their faces are neutral."""
    plain = counts_of(scenario())
    sc = scenario(membranes=membranes({"inside": SIGMA}))
    counts = counts_of(sc)
    k = sc.species_index("K+")
    assert sc.counterions(0) == {"K+": 8} and sc.counterions(1) == {}
    assert list(counts[:, k] - plain[:, k]) == [8, 0]
    valences = np.array([s.valence for s in sc.species])
    assert [int(counts[c] @ valences) + sc.face_charge(c) for c in (0, 1)] == [0, 0]
    assert [sc.face_charge(c) for c in (0, 1)] == [-8, 0]


def test_only_charged_faces_become_sheets_at_their_own_z():
    sc = scenario(membranes=membranes({"inside": SIGMA}))
    (lo0, hi0), (lo1, hi1) = sc.membrane_bounds()
    z, q = surface_sheets(sc)
    assert list(z) == [lo0, hi1] and list(q) == [-4.0, -4.0]  # the faces toward 'inside'
    assert hi1 == pytest.approx(sc.box[2])  # membrane 1's upper face: the periodic image of z = 0


def test_each_face_is_rounded_to_whole_counterions_on_its_own():
    """0.01 C/m^2 (0.0624 e/nm^2) is moved onto 4 e; the other face's -0.125 e/nm^2 (8 e)
    stays as written."""
    sc = scenario(membranes=membranes({"lower": "-0.01 C/m^2", "upper": "-0.125 e/nm^2"}))
    assert sc.face_surface_charges(0) == (-0.0625, -0.125)


def test_per_face_values_read_back_from_the_resolved_scenario():
    sc = scenario(membranes=membranes({"inside": SIGMA}),
                  compartments=compartments(("mean", "bulk")))
    resolved = sc.to_dict()
    assert resolved["membranes"][0]["surface_charge"] == {"lower": "-0.0625 e/nm^2",
                                                          "upper": "0.0 e/nm^2"}
    assert resolved["compartments"][1]["concentration_basis"] == "bulk"
    again = parse_scenario(copy.deepcopy(resolved), sc.source)
    assert again == sc and again.to_dict() == resolved
    # equal faces are written as one value, as before per-face charges existed
    assert scenario(membranes=membranes(SIGMA)).to_dict()["membranes"][0][
        "surface_charge"] == "-0.0625 e/nm^2"


def test_check_shows_each_face_and_what_balances_it():
    text = describe_scenario(scenario(membranes=membranes({"inside": SIGMA})))
    assert "lower face (toward 'inside'): surface charge -0.0625 e/nm^2 (-4 e), balanced by " \
           "4 K+ added to 'inside'" in text
    assert "upper face (toward 'inside')" in text and "toward 'outside'): surface" not in text
    assert "counter-ions added: 8 K+ for its faces (-8 e)" in text


@pytest.mark.parametrize("surface_charge, counterion, basis, message", [
    ({"top": SIGMA}, "K+", "mean",
     "membranes[0].surface_charge.top: unknown face 'top'; name a face as one of lower, "
     "upper, 'inside', 'outside'"),
    ({"lower": "-0.0625"}, "K+", "mean", "membranes[0].surface_charge.lower: missing unit"),
    ({"lower": "-3 e/nm^2"}, "K+", "mean",
     "membranes[0].surface_charge.lower: |-3| e/nm^2 is more than the 2 e/nm^2 accepted"),
    ({}, "K+", "mean", "membranes[0].surface_charge: is an empty mapping"),
    (["-0.1 e/nm^2"], "K+", "mean", "membranes[0].surface_charge: must be one surface charge"),
    ({"lower": SIGMA, "inside": SIGMA}, "K+", "mean",
     "membranes[0].surface_charge.inside: names the lower face (toward compartment "
     "'inside') again"),
    ({"lower": SIGMA, "upper": "0.0625 e/nm^2"}, "K+", "mean",
     "membranes[0].counterion: K+ (valence +1) has the sign of the surface charge +0.0625 "
     "e/nm^2 on the upper face (toward compartment 'outside')"),
    ({"upper": "-0.05 e/nm^2"}, "K+", "mean",
     "membranes[0].surface_charge.upper: -0.05 e/nm^2 x 64 nm^2 on the upper face (toward "
     "compartment 'outside') is 3.2 K+ per face, not a whole number"),
    ({"outside": "-0.05 e/nm^2"}, None, "bulk",
     "membranes[0].surface_charge.outside: -0.05 e/nm^2 x 64 nm^2 on the upper face "
     "(toward compartment 'outside') is 3.2 e, not a whole number"),
    ({"inside": SIGMA}, None, "mean", "membranes[0].counterion: is required"),
    ({"outside": SIGMA}, "K+", "bulk", "membranes[0].counterion: is not used"),
])
def test_bad_face_charges_are_refused_with_the_key(surface_charge, counterion, basis, message):
    with pytest.raises(ScenarioError, match=re.escape(message)):
        scenario(membranes=membranes(surface_charge, counterion),
                 compartments=compartments((basis, basis)))


def test_faces_of_opposite_sign_with_bulk_compartments_need_no_counterion():
    """One counterion cannot balance faces of both signs; bulk-basis compartments balance
    each face with their own salt."""
    sc = scenario(membranes=membranes({"lower": SIGMA, "upper": "0.0625 e/nm^2"}, None),
                  compartments=compartments(("bulk", "bulk")))
    counts = counts_of(sc)
    assert [sc.face_charge(c) for c in (0, 1)] == [0, 0]  # each: one -4 e and one +4 e face
    assert counts.sum() > 0


# ----------------------------------------------------------------------- Gouy-Chapman
def test_the_closed_form_excess_is_the_integral_of_the_gouy_chapman_profile():
    """Gamma_s = 2 c_s lambda_D (exp(-z_s u0/2) - 1) against the trapezoid integral of
    c_s (exp(-z_s u(x)) - 1), u(x) from analysis.theory's profile (written independently,
    from tanh(u/4) = tanh(u0/4) exp(-x/lambda_D)); relative 1e-4 (grid 1e-4 lambda_D near
    the face, out to 40 lambda_D). A mixture of monovalent ions is the 1:1 problem at the
    total cation density, each species weighted by its own share; the layer balances the
    face exactly."""
    from analysis.theory import gouy_chapman as theory
    temperature, eps_r, kT = 310.15, 74.15, units.kT(310.15)
    for sigma, mM in [(-0.2, 100.0), (0.5, 300.0), (-0.05, 20.0)]:
        gc = theory(sigma, mM, temperature, eps_r)
        x = np.concatenate([np.linspace(0, 1, 10001), np.linspace(1, 40, 39001)[1:]]) \
            * gc.debye_length_nm
        n = mM * 1e-3 * units.MOLAR_TO_PER_NM3
        for z in (1, -1):
            y = gc.concentration_mM(x, z) / mM - 1.0
            integral = n * float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)
            closed = gouy_chapman.surface_excess(sigma, [n, n], [z, -z], kT, eps_r)[0]
            assert closed == pytest.approx(integral, rel=1e-4), (sigma, mM, z)
        # K+ 70 %, Na+ 30 % of the cations, Cl- all the anions
        mix = gouy_chapman.surface_excess(sigma, [0.7 * n, 0.3 * n, n], [1, 1, -1], kT, eps_r)
        pair = gouy_chapman.surface_excess(sigma, [n, n], [1, -1], kT, eps_r)
        assert mix == pytest.approx([0.7 * pair[0], 0.3 * pair[0], pair[1]], rel=1e-12)
        assert mix[0] + mix[1] - mix[2] == pytest.approx(-sigma, rel=1e-12)


def test_the_excess_refuses_what_it_does_not_cover():
    with pytest.raises(ValueError, match="monovalent"):
        gouy_chapman.surface_excess(-0.1, [0.06, 0.03], [-1, 2], 2.58, 74.0)
    with pytest.raises(ValueError, match="cations and anions"):
        gouy_chapman.surface_excess(-0.1, [0.06, 0.0], [1, -1], 2.58, 74.0)


# ------------------------------------------------------------------------ bulk basis
def test_bulk_basis_places_bulk_plus_surface_excess_and_stays_neutral():
    """'inside' (bulk basis, 150 mM K+ A-, two faces of -8 e): N_s = c V + 2 A Gamma_s
    rounded with the charge exactly +16 e, no counter-ions; 'outside' (mean basis, the
    same faces) gets round(c V) + 16 K+. The co-ion A- is depleted below c V."""
    mems = membranes("-0.125 e/nm^2")
    sc = scenario(membranes=mems, compartments=compartments(("bulk", "mean"), depth="6 nm"))
    counts = counts_of(sc)
    geo = Geometry.from_scenario(sc)
    k, a = sc.species_index("K+"), sc.species_index("A-")
    n = 150e-3 * units.MOLAR_TO_PER_NM3
    v = compartment_volume(sc, geo, 0)
    gamma = gouy_chapman.surface_excess(-0.125, [n, n], [1, -1], sc.kT,
                                        sc.solvent_permittivity)
    exact = [n * v + 2 * sc.area * gamma[0], n * v + 2 * sc.area * gamma[1]]
    assert abs(counts[0, k] - exact[0]) <= 1 and abs(counts[0, a] - exact[1]) <= 1
    assert counts[0, k] - counts[0, a] == 16 and counts[0, a] < n * v - 5
    assert sc.counterions(0) == {} and sc.counterions(1) == {"K+": 16}
    assert counts[1, k] - counts[1, a] == 16 and counts[1, a] == round(n * v)
    # without charged faces the bases agree
    assert (counts_of(scenario(compartments=compartments(("bulk", "bulk"))))
            == counts_of(scenario())).all()


def test_bulk_basis_needs_monovalent_ions_and_depth():
    comps = compartments(("bulk", "mean"))
    comps[0]["concentrations"] = {"K+": "100 mM", "Ca2+": "25 mM", "A-": "150 mM"}
    with pytest.raises(ScenarioError, match=re.escape(
            "compartments[0].concentration_basis: bulk is for monovalent ions only")):
        scenario(membranes=membranes(SIGMA), compartments=comps)
    sc = scenario(membranes=membranes("-0.5 e/nm^2", None),
                  compartments=compartments(("bulk", "bulk"), depth="1 nm"))
    with pytest.raises(ScenarioError, match=re.escape(
            "compartments[0].depth: 1 nm is too shallow for concentration_basis: bulk")):
        counts_of(sc)


# ------------------------------------------------------------------------------ the run
C_MM = 300.0
GC_TOLERANCE = 0.08  # of C_MM: what the Gouy-Chapman estimate may miss (see below)


def _salt_series(bc, k, sc):
    """(c_K+ + c_Cl-) / 2 in compartment k's bulk window, mM, per sample."""
    return 0.5 * (bc[:, k, sc.species_index("K+")] + bc[:, k, sc.species_index("Cl-")])


def _mean_basis_bulk(sc, k) -> float:
    """Gouy-Chapman's bulk salt (mM) for a mean-basis compartment: the c_b whose co-ions
    c_b V + A sum_faces Gamma_Cl(c_b) are the Cl- placed (bisection; Gamma_Cl < 0)."""
    geo = Geometry.from_scenario(sc)
    n_cl = ion_counts(sc, geo)[k, sc.species_index("Cl-")]
    v = compartment_volume(sc, geo, k)
    sigmas = [sc.face_surface_charges(j)[side] for j, side in sc.bounding_faces(k)]

    def placed(c):
        return c * v + sum(sc.area * gouy_chapman.surface_excess(
            s, [c, c], [1, -1], sc.kT, sc.solvent_permittivity)[1] for s in sigmas)
    lo, hi = n_cl / v, 3 * n_cl / v
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if placed(mid) < n_cl else (lo, mid)
    return 0.5 * (lo + hi) * units.PER_NM3_TO_MM


def test_a_bulk_basis_compartment_measures_the_bulk_it_asked_for(tmp_path):
    """Two compartments of 300 mM KCl, 4.5 nm deep (8.2 Debye lengths of 0.55 nm), every
    face -0.5 e/nm^2 (-32 e); 'bulk' asks for 300 mM in its bulk, 'mean' is today's
    behaviour (300 mM before 64 K+ counter-ions). 4 ns with Ewald (force error 1e-2, ample
    for ion counts), 0.5 ns left out.

    The measured bulk salt (mean of K+ and Cl- in the bulk window, observable
    bulk_concentration) of 'bulk' is 300 mM within 3 SE + 8 % (GC_TOLERANCE: Gouy-Chapman is
    mean field with point ions; 10 ns runs measured -2 % at -0.31 e/nm^2 and -5 % at -0.5
    e/nm^2, the finite ions excluding more co-ions). 'mean' expels co-ions from its double
    layers into its bulk: Gouy-Chapman puts it 37 % higher, about 410 mM; the measured
    difference of the two must be that within 3 SE + 8 % and more than 3 SE from 0 (so
    a bulk basis that placed ions as the mean one does, reading about 410 mM, fails both).
    Measured with this set-up, seeds 1-4: bulk 286 +- 13, 287 +- 8, 314 +- 11, 268 +- 18
    mM; mean - bulk 123 +- 17, 123 +- 14, 76 +- 15, 145 +- 18 mM against 109 mM. About 25 s
    on one thread."""
    from analysis.runs import measure, open_run
    from analysis.statistics import analyze_series
    from sim.run import run_scenario
    conc = {"K+": f"{C_MM:g} mM", "Cl-": f"{C_MM:g} mM"}
    mem = {"thickness": "2 nm", "permittivity": 2, "surface_charge": "-0.5 e/nm^2",
           "counterion": "K+", "channels": []}
    sc = scenario(box={"lateral": "8 nm"},
                  compartments=[{"name": "bulk", "depth": "4.5 nm", "concentrations": conc,
                                 "concentration_basis": "bulk"},
                                {"name": "mean", "depth": "4.5 nm", "concentrations": conc}],
                  membranes=[mem, mem],
                  electrostatics={"method": "ewald", "force_error": 1e-2},
                  run={"dt": "0.05 ps", "steps": 80000, "seed": 1, "sample_interval": 100,
                       "frame_interval": 8000, "equilibration": "0.5 ns"})
    expected_mean = _mean_basis_bulk(sc, 1)
    assert expected_mean == pytest.approx(1.37 * C_MM, rel=0.02)  # the theory, as stated
    run_scenario(sc, tmp_path / "run", quiet=True, log=lambda *a: None)
    m = measure(open_run(tmp_path / "run"))
    bc = np.asarray(m.run.observable("bulk_concentration").value)[m.t0:]
    with warnings.catch_warnings():
        # 35 samples per block of a 3.5 ns series: block averaging says its SE is itself
        # uncertain (by about 1 / sqrt(2 x 5 blocks)), which the 3 SE + 8 % allows for
        warnings.simplefilter("ignore", RuntimeWarning)
        bulk = analyze_series(_salt_series(bc, 0, sc), equilibration=0)
        diff = analyze_series(_salt_series(bc, 1, sc) - _salt_series(bc, 0, sc),
                              equilibration=0)
    tol = GC_TOLERANCE * C_MM
    assert abs(bulk.mean - C_MM) <= 3 * bulk.sem + tol, (bulk.mean, bulk.sem)
    assert diff.mean > 3 * diff.sem, (diff.mean, diff.sem)
    assert abs(diff.mean - (expected_mean - C_MM)) <= 3 * diff.sem + tol, \
        (diff.mean, diff.sem, expected_mean)
    assert math.isfinite(bulk.sem) and bulk.sem > 0
