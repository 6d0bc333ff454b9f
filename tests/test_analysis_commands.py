"""`ionsim analyze`, `budget`, `report` and the closing physics table, on short real runs.

Each run is made here by the engine (small boxes, a few hundred steps). The checks hold the
commands' numbers against theory applied to the same run's data, computed again here by
another route: the Nernst equation on bulk concentrations read straight from the H5MD file,
the ion budget from the crossing events, the real-cell fraction from the capacitor, the
capacitance of a bare slab from eps0 eps_m / d, V_m from the potential profile against the
V_m observable.
"""

import json
import math
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np
import pytest
from PIL import Image

from analysis import plots
from analysis.activity import nernst_with_activities_mV
from analysis.capacitance import capacitance_theory, double_layer_capacitance_uF_per_cm2
from analysis.cell import cell_ion_budget, specific_capacitance_uF_per_cm2
from analysis.ion_budget import box_budget, depth_series, real_cell_budget
from analysis.nernst import analyze_run, permeability_from_crossings
from analysis.profiles import Profiles
from analysis.report import PLOT_FILES
from analysis.run_summary import physics_summary
from analysis.runs import measure, moved_out_by_position, open_run, running_mean
from analysis.statistics import analyze_series
from analysis.theory import ionic_strength_mM, nernst_mV
from sim.cli import main
from sim.io import RunData
from sim.report import finish_run
from sim.run import run_scenario
from sim.scenario import parse_scenario
from sim.units import EPS0, PER_NM3_TO_MM, capacitance_uF_per_cm2, thermal_voltage_mV
from tests.scenario_factory import bulk, tree

T = 310.15


def _membrane(thickness="1 nm", count=4, radius="1.2 nm", permeant=("K+",)):
    return {"thickness": thickness, "permittivity": 2,
            "channels": [{"count": count, "radius": radius, "permeant": list(permeant)}]}


def _two_sides(inside_mM, outside_mM, depth_in, depth_out):
    return [{"name": "inside", "depth": depth_in,
             "concentrations": {"K+": f"{inside_mM} mM", "A-": f"{inside_mM} mM"}},
            {"name": "outside", "depth": depth_out,
             "concentrations": {"K+": f"{outside_mM} mM", "A-": f"{outside_mM} mM"}}]


def ewald_scenario(steps=300, depth_in="5 nm"):
    """K+ 150 / 100 mM with Coulomb interactions: V_m is measured."""
    t = tree(electrostatics="ewald", box={"lateral": "8 nm"},
             compartments=_two_sides(150, 100, depth_in, "5 nm"),
             membranes=[_membrane("2 nm")] * 2,
             run={"dt": "0.05 ps", "steps": steps, "seed": 2, "sample_interval": 10,
                  "frame_interval": 100})
    return parse_scenario(t, "ewald.yaml")


def ideal_scenario(depth_in="3 nm", steps=1200, seed=3):
    """An uncharged ideal gas (no pair forces, big time step): K+ leaks out fast."""
    t = tree(electrostatics="off", interactions={"wca_epsilon": "0 kJ/mol"},
             box={"lateral": "6 nm"}, compartments=_two_sides(500, 100, depth_in, "3 nm"),
             membranes=[_membrane()] * 2,
             run={"dt": "0.5 ps", "steps": steps, "seed": seed, "sample_interval": 10,
                  "frame_interval": 100})
    return parse_scenario(t, "ideal.yaml")


@pytest.fixture(scope="module")
def ewald_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("ewald")
    result = run_scenario(ewald_scenario(), d)
    assert "membrane_potential" in RunData(d).observable_names
    return result


@pytest.fixture(scope="module")
def ideal_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("ideal")
    return run_scenario(ideal_scenario(), d)


@pytest.fixture(scope="module")
def depth_runs(ideal_run, tmp_path_factory):
    """The ideal run (inside 3 nm deep) and one with the inside 1.5 nm deep."""
    d = tmp_path_factory.mktemp("depth")
    run_scenario(ideal_scenario("1.5 nm", steps=800, seed=5), d)
    return [ideal_run.run_dir, d]


def _bulk_means(run_dir, t0):
    """Mean bulk concentrations (K, S) in mM after sample t0, read from the file directly."""
    with h5py.File(run_dir / "trajectory.h5") as f:
        return f["observables/bulk_concentration/value"][t0:].mean(axis=0)


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(("ionsim: error:", "python -m analysis")), err
    assert "Traceback" not in err
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])
    return lines[0]


# --- ionsim analyze ---------------------------------------------------------------------------

def test_analyze_matches_nernst_and_capacitor_theory(ewald_run, capsys):
    d = ewald_run.run_dir
    assert main(["analyze", str(d)]) == 0
    out = capsys.readouterr().out
    c = analyze_run(d)
    m = c.measurements
    (row,) = c.rows
    assert row.species == "K+"

    # V_m: the mean of the observable after the equilibration the analysis chose
    vm = RunData(d).observable("membrane_potential").value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = analyze_series(vm[m.t0:], equilibration=0)
    assert m.vm.mean == pytest.approx(ref.mean, abs=1e-12)
    # its SE: the series' own, or the counting limit (kT/e) sqrt(2/n) when that is larger
    crossings_after = int(np.sum(np.asarray(RunData(d).crossings["time"]) >= m.t_equil_ps))
    counting = 26.727 * math.sqrt(2.0 / max(1.0, crossings_after / 2.0))
    assert m.vm.sem == pytest.approx(max(ref.sem, counting), rel=1e-3)
    assert f"{m.vm.mean:+.2f} +/- {m.vm.sem:.2f} mV" in out

    # Nernst from the initial concentrations: (kT/e) ln(100/150), by hand
    assert row.initial_mV == pytest.approx(26.727 * math.log(100 / 150), abs=0.01)
    assert f"{row.initial_mV:+.2f} mV" in out

    # Nernst from the bulk concentrations measured over the same samples
    conc = _bulk_means(d, m.t0)
    k = RunData(d).species_names.index("K+")
    assert conc[0, k] > 0 and conc[1, k] > 0  # the test must reach the comparison
    expected = nernst_mV(conc[1, k], conc[0, k], 1, T)
    assert row.measured.mean == pytest.approx(expected, abs=1e-9)
    assert f"{expected:+.2f} +/-" in out
    strength = [ionic_strength_mM({"K+": conc[i, 0], "A-": conc[i, 1]}, {"K+": 1, "A-": -1})
                for i in (0, 1)]
    act = nernst_with_activities_mV(conc[1, k], conc[0, k], 1, T, strength[1], strength[0],
                                    ion_size_nm=row.ion_size_nm,
                                    eps_r=m.scenario.solvent_permittivity)
    assert row.activity_mV == pytest.approx(act, abs=1e-9)
    assert f"{act:+.2f} +/- {row.measured.sem:.2f} mV" in out
    # the deviation in combined standard errors
    dev = (m.vm.mean - expected) / math.hypot(m.vm.sem, row.measured.sem)
    assert row.dev_measured == pytest.approx(dev, rel=1e-9)

    # capacitance: bare slab eps0 eps_m / d (2, 2 nm) = 0.885 uF/cm^2, by hand
    bare = 8.8541878128e-12 * 2 / 2e-9 / 1e-2
    assert c.theory.bare_mean == pytest.approx(bare, rel=1e-9)
    assert 0 < c.theory.series_mean < bare
    assert c.capacitance is not None  # kT / Var(V_m) over both membranes' area
    var = np.var(vm[m.t0:])
    kT_J = 1.380649e-23 * T
    c_meas = kT_J / (var * 1e-6) / (2 * 64e-18) / 1e-2
    assert c.capacitance.c_uF_per_cm2 == pytest.approx(c_meas, rel=1e-6)  # k_B vs R/N_A
    assert "Var(V_m) = kT/C" in out and "in series with the double layers" in out


def test_double_layer_capacitance_limits():
    eps_w = 74.0
    # deep compartment: Gouy-Chapman-Stern, eps0 eps_w / (a + lambda)
    deep = double_layer_capacitance_uF_per_cm2(0.8, 1000.0, eps_w, 0.15)
    assert deep == pytest.approx(capacitance_uF_per_cm2(EPS0 * eps_w / 0.95), rel=1e-9)
    # shallow: uniform charge, eps0 eps_w / (a + (L - 2a)/4)
    shallow = double_layer_capacitance_uF_per_cm2(1e4, 2.0, eps_w, 0.1)
    assert shallow == pytest.approx(capacitance_uF_per_cm2(EPS0 * eps_w / (0.1 + 1.8 / 4)),
                                    rel=1e-6)
    # series with a 4 nm, eps 2 membrane is a few per cent below 0.443 uF/cm^2
    theory = capacitance_theory(ewald_scenario())
    assert theory.bare == (specific_capacitance_uF_per_cm2(2, 2.0),) * 2
    assert 0.9 * theory.bare_mean < theory.series_mean < theory.bare_mean


def test_permeability_inverts_the_ghk_flux_equation():
    P, c_in, c_out, V = 0.37, 140.0, 5.0, -60.0  # nm/ns, mM, mV
    u = V / thermal_voltage_mV(T)
    area, t = 200.0, 10.0
    per_nm3 = 1.0 / PER_NM3_TO_MM  # 1 mM in nm^-3
    j_out = P * c_in * per_nm3 * u / (1 - math.exp(-u))
    j_in = P * c_out * per_nm3 * (-u) / (1 - math.exp(u))
    # Ussing's flux ratio holds for these fluxes
    assert j_out / j_in == pytest.approx(c_in / c_out * math.exp(u))
    n_out, n_in = j_out * area * t, j_in * area * t
    assert permeability_from_crossings(n_out, n_in, c_in, c_out, 1, V, T, area, t) == \
        pytest.approx(P, rel=1e-12)
    # V = 0: P = J / c
    assert permeability_from_crossings(10, 0, 10.0, 0.0, 1, 0.0, T, 1.0, 1.0) == \
        pytest.approx(10 / (10.0 * per_nm3))


def test_profile_potential_reproduces_the_measured_vm(ewald_run):
    m = measure(open_run(ewald_run.run_dir))
    prof = Profiles(start_ps=0.0).compute(m)
    vm = m.vm_series.value
    # every sample is in the profile; the bins displace charge by <= 0.125 nm
    assert prof.n_samples == vm.size
    assert prof.vm_from_profile_mV == pytest.approx(vm.mean(), abs=3.0)
    # charge and ion numbers are conserved by the averaging
    n_ions = prof.density_nm3.sum(axis=1) * m.scenario.area * prof.bin_width_nm
    assert np.allclose(n_ions, np.bincount(m.run.species), rtol=1e-9)
    assert prof.phi_mV.shape == prof.z_grid_nm.shape


def test_running_mean_ends_at_the_mean():
    x = np.random.default_rng(0).normal(3.0, 2.0, 500)
    mean, sem = running_mean(x, g=4.0)
    assert mean[-1] == pytest.approx(x.mean())
    assert sem[-1] == pytest.approx(math.sqrt(4.0 * x.var(ddof=1) / x.size))
    assert math.isnan(sem[0])


# --- the closing table of ionsim run ------------------------------------------------------

def test_finish_run_prints_physics_and_writes_it_to_summary(ewald_run):
    lines = []
    t0 = time.perf_counter()
    summary = finish_run(ewald_run, say=lines.append)
    assert time.perf_counter() - t0 < 5.0
    text = "\n".join(lines)
    assert "physics_error" not in summary
    for needle in ("V_m measured", "Nernst, initial conc.", "Nernst, measured bulk",
                   "Nernst, activity-corr.", "crossed (net inside -> outside)"):
        assert needle in text, needle
    saved = json.loads((ewald_run.run_dir / "summary.json").read_text())
    phys = saved["physics"]
    c = analyze_run(ewald_run.run_dir)
    assert phys["membrane_potential_mV"]["mean"] == pytest.approx(c.vm.mean)
    assert phys["nernst_mV"]["K+"]["initial"] == pytest.approx(c.rows[0].initial_mV)
    assert phys["nernst_mV"]["K+"]["measured"] == pytest.approx(c.rows[0].measured.mean)
    json.dumps(saved, allow_nan=False)  # strict JSON


def test_no_capacitance_from_noise_when_no_ion_crossed(ewald_run):
    """With no crossing the capacitor's charge never changed, so kT / Var(V_m) would be the
    double layers' noise: the closing table leaves the capacitance out."""
    m = measure(open_run(ewald_run.run_dir))
    assert sum(m.crossings_out.values()) + sum(m.crossings_in.values()) == 0  # 15 ps run
    lines = physics_summary(RunData(ewald_run.run_dir))["physics_table"]
    assert any("V_m measured" in line for line in lines)
    assert not any(line.lstrip().startswith("capacitance from Var") for line in lines)


def test_physics_summary_without_potential_or_membranes(ideal_run, tmp_path):
    s = physics_summary(RunData(ideal_run.run_dir))
    assert "physics_error" not in s
    assert s["physics"]["membrane_potential_mV"] is None
    crossed = s["physics"]["crossed"]["K+"]
    b = box_budget(measure(open_run(ideal_run.run_dir)))[0]
    assert crossed["net_out_final"] == b.net_final
    text = "\n".join(s["physics_table"])
    assert "electrostatics is off" in text and "Nernst, initial conc." in text
    json.dumps(s, allow_nan=False)

    run_scenario(bulk(conc="100 mM", side="4 nm",
                      run={"dt": "0.05 ps", "steps": 20, "seed": 1, "sample_interval": 10}),
                 tmp_path / "bulk")
    t0 = time.perf_counter()
    s = physics_summary(RunData(tmp_path / "bulk"))
    assert time.perf_counter() - t0 < 2.0
    assert "physics_error" not in s
    assert any("no membranes" in line for line in s["physics_table"])
    assert s["physics"]["crossed"] == {}


# --- ionsim budget ----------------------------------------------------------------------------

def test_budget_counts_the_crossings_and_scales_to_a_real_cell(ideal_run, capsys):
    d = ideal_run.run_dir
    assert main(["budget", str(d), "--cell-radius", "5um"]) == 0
    out = capsys.readouterr().out
    m = measure(open_run(d))
    (b,) = box_budget(m)
    cr = RunData(d).crossings
    k = m.species_names.index("K+")
    n_out = int(np.sum((cr["species"] == k) & (cr["from"] == 0)))
    n_in = int(np.sum((cr["species"] == k) & (cr["from"] == 1)))
    assert n_out > n_in  # it leaked out: the test has something to count
    assert (b.crossings_out, b.crossings_in, b.net_final) == (n_out, n_in, n_out - n_in)
    counts = RunData(d).observable("counts").value
    placed = counts[0, :, k]
    assert np.array_equal(b.placed, placed)
    assert b.fraction_final[0] == pytest.approx(-(n_out - n_in) / placed[0])
    assert b.fraction_final[1] == pytest.approx((n_out - n_in) / placed[1])
    # the plateau: the mean of (placed - counts inside) after equilibration, over placed
    moved = (placed[0] - counts[m.t0:, 0, k]).mean()
    assert b.net_mean.mean == pytest.approx(moved)
    assert b.fraction_mean[0] == pytest.approx(-moved / placed[0])
    assert f"{b.fraction_mean[0]:.2e} ({placed[0]} placed)" in out
    # the box's Nernst shift: Nernst before and after, concentrations = ions / volume
    v_in, v_out = b.volumes_nm3[:2]
    mM = PER_NM3_TO_MM
    before = nernst_mV(placed[1] / v_out * mM, placed[0] / v_in * mM, 1, T)
    after = nernst_mV((placed[1] + moved) / v_out * mM, (placed[0] - moved) / v_in * mM, 1, T)
    assert b.box.c_in_before_mM == pytest.approx(placed[0] / v_in * mM)
    assert b.box.nernst_shift_mV == pytest.approx(after - before, abs=1e-9)
    # a real cell of 5 um charged to the Nernst potential (no V_m here): ~1e-5 of its K+
    (cell,) = real_cell_budget(m, 5.0)
    e_k = nernst_mV(100.0, 500.0, 1, T)
    assert cell.voltage_mV == pytest.approx(e_k)
    ref = cell_ion_budget(e_k, 5.0, 500.0, 100.0, 1, T)
    assert cell.budget.fraction_of_inside == pytest.approx(ref.fraction_of_inside)
    assert 1e-6 < cell.budget.fraction_of_inside < 1e-4
    # C A |V| / e by hand: 1e-2 F/m^2 x 4 pi (5e-6 m)^2 x |E_K| / e
    ions = 1e-2 * 4 * math.pi * 25e-12 * abs(e_k) * 1e-3 / 1.602176634e-19
    assert abs(cell.budget.ions_out) == pytest.approx(ions, rel=1e-9)
    # the lecture's claims: 4.7e10 K+ in a 5 um cell; 1 mM out -> 16 V, 0.18 mV
    assert "4.730e+10" in out and "16.1 V" in out and "0.179 mV" in out
    assert "needs 1.1 mL" in out


def test_ions_in_pores_count_by_the_fraction_of_the_membrane_traversed(ideal_run):
    # by hand: a scenario's geometry with hand-placed ions (frame 0 all inside)
    sc = ideal_scenario()
    (c0, _), (c1, _) = sc.compartment_bounds()
    (a0, b0), (a1, b1) = sc.membrane_bounds()  # membrane 0 above compartment 0, 1 below it
    d = b0 - a0
    start = [c0 + 1.0] * 5
    later = [a0 + d / 4,  # a quarter through membrane 0 from the inside: 1/4
             a0 + d / 2,  # half-way: 1/2
             c1 + 1.0,    # in the outside water: 1
             b1 - d / 4,  # a quarter through membrane 1 from the inside (above it): 1/4
             b1 + c0 + 1.0]  # back inside across the periodic boundary (z wraps): 0

    class Frames:
        scenario, species, n_frames = sc, np.zeros(5, dtype=np.int64), 2
        frame_times = np.array([0.0, 10.0])

        def positions(self):
            pos = np.zeros((2, 5, 3))
            pos[0, :, 2], pos[1, :, 2] = start, later
            return pos

    times, moved = moved_out_by_position(Frames())
    assert moved[:, 0] == pytest.approx([0.0, 0.25 + 0.5 + 1.0 + 0.25 + 0.0])
    assert np.all(moved[:, 1] == 0)

    # a real run: whole ions where no ion is in a pore, within the pore count of it elsewhere
    run = RunData(ideal_run.run_dir)
    times, moved = moved_out_by_position(run)
    k = run.species_names.index("K+")
    counts = run.observable("counts")
    z = np.mod(run.positions()[:, :, 2], run.scenario.box[2])
    in_pore = np.zeros(z.shape, dtype=bool)
    for lo, hi in run.scenario.membrane_bounds():
        in_pore |= (z >= lo) & (z < hi)
    assert in_pore.any()
    for f, t in enumerate(times):
        i = int(np.searchsorted(counts.time, t))
        labels = counts.value[0, 0, k] - counts.value[i, 0, k]
        assert abs(moved[f, k] - labels) <= in_pore[f].sum() + 1e-9


def test_budget_cell_radius_changes_the_real_cell(ideal_run, capsys):
    assert main(["budget", str(ideal_run.run_dir), "--cell-radius", "10 um"]) == 0
    out = capsys.readouterr().out
    # 8x the volume, 4x the area: the fraction halves
    m = measure(open_run(ideal_run.run_dir))
    (c5,), (c10,) = real_cell_budget(m, 5.0), real_cell_budget(m, 10.0)
    assert c10.budget.fraction_of_inside == pytest.approx(c5.budget.fraction_of_inside / 2)
    assert "radius 10 um" in out


def test_budget_series_plots_fraction_against_depth(depth_runs, tmp_path, capsys):
    png = tmp_path / "series.png"
    assert main(["budget", "--series", *map(str, depth_runs), "--out", str(png)]) == 0
    out = capsys.readouterr().out
    series = depth_series(depth_runs)
    assert [p.depth_nm for p in series.points] == [1.5, 3.0]
    for p in series.points:
        assert p.fraction == pytest.approx(p.net.mean / p.placed)
        assert p.fraction_sem == pytest.approx(p.net.sem / p.placed)
        assert p.net.mean > 0 and p.net.sem > 0  # something crossed in both runs
        assert p.expected_fraction is None  # no electrostatics: no capacitor limits the leak
    # the ions placed inside scale with the accessible depth
    assert series.points[1].placed > 1.8 * series.points[0].placed
    # weighted least squares of f = a / L, by hand
    x = np.array([1 / p.depth_nm for p in series.points])
    f = np.array([p.fraction for p in series.points])
    w = np.array([1 / p.fraction_sem ** 2 for p in series.points])
    assert series.fit_a_nm == pytest.approx(np.sum(w * x * f) / np.sum(w * x * x))
    assert "fraction = a / depth" in out
    _check_png(png, "depth_series")


def test_depth_series_expects_the_capacitor_charge(ewald_run, tmp_path):
    shallow = tmp_path / "shallow"
    run_scenario(ewald_scenario(steps=50, depth_in="3 nm"), shallow)
    series = depth_series([ewald_run.run_dir, shallow])
    assert [p.depth_nm for p in series.points] == [3.0, 5.0]
    e_k = nernst_mV(100.0, 150.0, 1, T)
    for p in series.points:
        # C A |E_K| / e over the ions placed: C in series with the double layers, both
        # membranes (2 x 64 nm^2); the same number of ions whatever the depth
        theory = capacitance_theory(open_run(p.run_dir).scenario)
        ions = theory.series_mean * 1e-2 * 2 * 64e-18 * abs(e_k) * 1e-3 / 1.602176634e-19
        assert p.expected_ions == pytest.approx(ions, rel=1e-9)
        assert p.expected_fraction == pytest.approx(ions / p.placed, rel=1e-9)
        assert p.vm is not None
    assert series.points[0].expected_ions == pytest.approx(series.points[1].expected_ions,
                                                           rel=0.05)


# --- ionsim report ----------------------------------------------------------------------------

def _check_png(path, key):
    assert path.exists(), path
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == plots.SIZES[key], (path, im.size)
        pixels = np.asarray(im.convert("RGB"), dtype=float)
    assert pixels.std() > 10  # not blank
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # lines, text, colours


def test_report_writes_markdown_html_and_plots(ewald_run, capsys):
    d = ewald_run.run_dir
    assert main(["report", str(d)]) == 0
    capsys.readouterr()
    md = (d / "report.md").read_text()
    page = (d / "report.html").read_text()
    for key, (name, _) in PLOT_FILES.items():
        _check_png(d / name, key)
        assert f"]({name})" in md
    assert page.count('src="data:image/png;base64,') == len(PLOT_FILES)
    assert 'src="http' not in page and "src=\"report_" not in page  # self-contained
    c = analyze_run(d)
    assert f"{c.rows[0].initial_mV:+.2f} mV" in md and f"{c.rows[0].initial_mV:+.2f} mV" in page
    assert "Lecture claim 1" in md and "Membrane capacitance" in page


def test_report_without_potential(ideal_run, capsys):
    from analysis.report import main as report_main
    d = ideal_run.run_dir
    stale = d / PLOT_FILES["vm_histogram"][0]
    stale.write_bytes(b"an earlier report's plot")
    assert report_main([str(d)]) == 0
    capsys.readouterr()
    for key in ("lecture_curves", "profiles", "channel_crossings"):
        _check_png(d / PLOT_FILES[key][0], key)
    assert not stale.exists()  # no V_m: no histogram, and an old one is not left behind
    assert "n/a" in (d / "report.md").read_text()


# --- user errors --------------------------------------------------------------------------

def test_user_errors_exit_2_with_one_line(tmp_path, ideal_run, capsys):
    missing = tmp_path / "nope"
    for cmd in ("analyze", "budget", "report"):
        assert main([cmd, str(missing)]) == 2
        _one_line_error(capsys, missing, "no such run directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["analyze", str(empty)]) == 2
    _one_line_error(capsys, empty, "not an ionsim run directory")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert main(["budget", str(a_file)]) == 2
    _one_line_error(capsys, a_file, "is a file")
    # analyze needs V_m; budget does not
    assert main(["analyze", str(ideal_run.run_dir)]) == 2
    _one_line_error(capsys, ideal_run.run_dir, "no membrane potential", "electrostatics")
    assert main(["budget", str(ideal_run.run_dir), "--cell-radius", "5"]) == 2
    _one_line_error(capsys, "--cell-radius", "missing unit")
    assert main(["budget", str(ideal_run.run_dir), str(ideal_run.run_dir)]) == 2
    _one_line_error(capsys, "--series")
    assert main(["budget", "--series", str(ideal_run.run_dir)]) == 2
    _one_line_error(capsys, "at least two")
    assert main(["budget", "--series", str(ideal_run.run_dir), str(ideal_run.run_dir),
                 "--out", str(tmp_path / "no" / "such" / "dir.png")]) == 2
    _one_line_error(capsys, "same inside depth")


def test_unwritable_outputs_are_user_errors(depth_runs, tmp_path, capsys):
    bad = tmp_path / "missing_dir" / "series.png"
    assert main(["budget", "--series", *map(str, depth_runs), "--out", str(bad)]) == 2
    _one_line_error(capsys, bad, "cannot write")
    blocked = depth_runs[1] / "report.html"
    blocked.mkdir()  # a directory where the report must go (root ignores chmod)
    try:
        assert main(["report", str(depth_runs[1])]) == 2
        _one_line_error(capsys, blocked, "cannot write")
    finally:
        blocked.rmdir()


def test_module_entry_points(ideal_run, tmp_path, capsys):
    from analysis import ion_budget, nernst, report
    proc = subprocess.run([sys.executable, "-m", "analysis.nernst", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "no such run directory" in proc.stderr
    assert nernst.main([str(ideal_run.run_dir)]) == 2  # no V_m
    _one_line_error(capsys, "no membrane potential")
    assert ion_budget.main([str(ideal_run.run_dir)]) == 0
    assert "Lecture claim 2" in capsys.readouterr().out
    assert report.main([str(tmp_path)]) == 2
    _one_line_error(capsys, tmp_path, "not an ionsim run directory")


# --- the shipped depth series -------------------------------------------------------------

def test_depth_series_scenarios_are_the_flagship_at_other_depths():
    from pathlib import Path
    from sim.scenario import load_scenario
    root = Path(__file__).resolve().parents[1] / "scenarios"
    flagship = load_scenario(root / "potassium.yaml")
    series = [load_scenario(p) for p in sorted((root / "depth_series").glob("*.yaml"))]
    assert len(series) >= 3
    depths = [sc.compartments[0].depth for sc in series]
    assert len(set(depths)) == len(depths) and max(depths) / min(depths) >= 4
    assert flagship.compartments[0].depth in depths
    for sc in series:
        # everything but the inside depth (and the run length, seed, name) is the flagship's
        assert sc.species == flagship.species and sc.membranes == flagship.membranes
        assert sc.compartments[1] == flagship.compartments[1]
        assert sc.compartments[0].concentrations == flagship.compartments[0].concentrations
        assert (sc.temperature, sc.box_xy, sc.electrostatics) == \
            (flagship.temperature, flagship.box_xy, flagship.electrostatics)
        assert sc.run.dt == flagship.run.dt and sc.run.steps <= flagship.run.steps
