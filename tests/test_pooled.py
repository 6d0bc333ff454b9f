"""Pooled analysis of sweeps and replicas (analysis.pooled, ``ionsim analyze/report SWEEP``).

First the arithmetic against exact formulas (the SE over replicas, the weighted slope fit
and its SE, the counting limit), then one small sweep (2 points x 2 replicas of the
flagship, 3000 steps each) made once and analysed, reported, and pooled with runs missing
or damaged.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from sim.cli import main
from sim.sweep import PLAN
from sim.units import thermal_voltage_mV

from analysis.pooled import (CHANNEL_COUNT, DEPTH_SERIES, NERNST_SLOPE, PooledNernst,
                             PooledPoint, PooledSweep, analyses_for, pool)
from analysis.pooled_fits import slope_fit, weighted_line_fit, weighted_mean
from analysis.runs import counting_limit_mV, counting_se_mV, unit_charge_crossings
from analysis.statistics import pool_independent, spread_se
from tests.scenario_factory import concentration_sweep

T_BODY = 310.15


# --- exact arithmetic -----------------------------------------------------------------------

def test_se_over_replicas_is_the_larger_of_the_sample_sd_over_sqrt_r_and_the_own_ses():
    means = [-88.0, -93.5, -90.25, -95.0, -86.5]
    r = len(means)
    sd = math.sqrt(sum((v - sum(means) / r) ** 2 for v in means) / (r - 1))
    assert spread_se(means) == pytest.approx(sd / math.sqrt(r), rel=1e-14)
    mean, se = pool_independent(means, [1.0] * r)  # spread 1.6 > sqrt(5) / 5 = 0.45
    assert mean == pytest.approx(sum(means) / r, rel=1e-15)
    assert se == pytest.approx(sd / math.sqrt(r), rel=1e-14)
    _, se = pool_independent(means, [6.0] * r)  # own SEs sqrt(5 * 36) / 5 = 2.68 > spread
    assert se == pytest.approx(math.sqrt(5 * 36.0) / 5, rel=1e-14)
    assert pool_independent([-90.0], [3.0]) == (-90.0, 3.0)  # one replica: its own SE
    assert spread_se([-90.0]) == 0.0


def test_weighted_line_fit_recovers_the_slope_and_its_analytic_se():
    rng = np.random.default_rng(3)
    x = np.log10([0.01, 0.033, 0.1, 0.33, 1.0])
    se = np.array([4.0, 2.5, 3.0, 1.5, 2.0])
    exact = weighted_line_fit(x, 58.0 * x - 1.0, se)
    assert exact.slope == pytest.approx(58.0, rel=1e-12)
    assert exact.intercept == pytest.approx(-1.0, abs=1e-10)
    assert exact.chi2 == pytest.approx(0.0, abs=1e-18) and exact.dof == 3

    y = 58.0 * x - 1.0 + rng.normal(0.0, se)
    fit = weighted_line_fit(x, y, se)
    w = 1.0 / se ** 2
    xbar = np.sum(w * x) / np.sum(w)
    slope = np.sum(w * (x - xbar) * y) / np.sum(w * (x - xbar) ** 2)
    assert fit.slope == pytest.approx(slope, rel=1e-12)
    # SE(b) = 1 / sqrt(sum w (x - xbar_w)^2), SE(a)^2 = 1/sum w + xbar_w^2 SE(b)^2
    assert fit.slope_se == pytest.approx(1.0 / math.sqrt(np.sum(w * (x - xbar) ** 2)),
                                         rel=1e-12)
    assert fit.intercept_se == pytest.approx(
        math.sqrt(1.0 / np.sum(w) + xbar ** 2 * fit.slope_se ** 2), rel=1e-12)
    _, cov = np.polyfit(x, y, 1, w=1.0 / se, cov="unscaled")
    assert fit.slope_se == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-10)
    resid = y - fit.intercept - fit.slope * x
    assert fit.chi2 == pytest.approx(np.sum(w * resid ** 2), rel=1e-12)
    assert fit.chi2_per_dof == pytest.approx(fit.chi2 / 3)
    with pytest.raises(ValueError):
        weighted_line_fit([1.0, 1.0], [2.0, 3.0], [1.0, 1.0])

    mean, mean_se, chi2, dof = weighted_mean([1.0, 3.0], [1.0, 1.0])
    assert (mean, mean_se, chi2, dof) == (2.0, pytest.approx(1 / math.sqrt(2)), 2.0, 1)


def _synthetic_sweep(ratios, vms, ses) -> PooledSweep:
    points = [PooledPoint(index=i, values={"compartments[1].concentrations.K+": f"{150 * r:g} mM"},
                          replicas_planned=2, replicas=[], vm_mean=v, vm_se_replicas=s,
                          counting_limit_mV=1.0, vm_se=s, se_source="replicas", crossings=100,
                          nernst=[PooledNernst("K+", 1, 150.0, 150.0 * r, None)],
                          temperature_K=T_BODY)
              for i, (r, v, s) in enumerate(zip(ratios, vms, ses))]
    return PooledSweep(dir=Path("."), source="synthetic", base="potassium",
                       axes=["compartments[1].concentrations.K+"], combine="zip", seed=1,
                       runs_planned=2 * len(points), points=points,
                       analyses=[NERNST_SLOPE], nernst_species="K+")


def test_slope_fit_of_pooled_points_against_the_nernst_slope():
    ratios = [0.01, 0.1, 1.0]
    ses = [3.0, 2.0, 1.0]
    sweep = _synthetic_sweep(ratios, [55.0 * math.log10(r) + 0.5 for r in ratios], ses)
    fit = slope_fit(sweep)
    assert fit.species == "K+" and fit.points == (0, 1, 2)
    assert fit.fit.slope == pytest.approx(55.0, rel=1e-12)
    assert fit.fit.intercept == pytest.approx(0.5, abs=1e-10)
    theory = thermal_voltage_mV(T_BODY) * math.log(10)
    assert fit.theory_mV_per_decade == pytest.approx(theory, rel=1e-12)
    assert fit.theory_mV_per_decade == pytest.approx(61.54, abs=0.01)  # 61.5 mV per decade
    assert fit.deviation == pytest.approx((55.0 - theory) / fit.fit.slope_se)
    assert slope_fit(_synthetic_sweep([0.1, 0.1], [-60.0, -61.0], [1.0, 1.0])) is None


def test_counting_limit_for_known_crossing_counts():
    kT = thermal_voltage_mV(T_BODY)
    # 200 unit charges crossing is 100 each way: (kT/e) sqrt(2/100)
    assert counting_limit_mV(T_BODY, 200) == pytest.approx(kT * math.sqrt(0.02), rel=1e-14)
    assert counting_limit_mV(T_BODY, 0) == pytest.approx(kT * math.sqrt(2.0))  # at least 1
    scenario = SimpleNamespace(temperature=T_BODY,
                               species=[SimpleNamespace(valence=1), SimpleNamespace(valence=2)])
    crossings = {"time": np.array([5.0, 10.0, 20.0, 30.0, 40.0]),
                 "species": np.array([0, 1, 0, 1, 0])}
    assert unit_charge_crossings(scenario, crossings, 15.0) == (1 + 4 + 1, 3)
    se, n = counting_se_mV(scenario, crossings, 15.0)
    assert n == 3 and se == pytest.approx(kT * math.sqrt(2 / 3.0), rel=1e-14)
    # replicas pool their crossings: two runs of 50 unit charges = one of 100
    assert counting_limit_mV(T_BODY, 50 + 50) == pytest.approx(kT * math.sqrt(2 / 50))


def test_the_axes_decide_the_analysis():
    assert analyses_for(["compartments[1].concentrations.K+",
                         "compartments[1].concentrations.A-"]) == [NERNST_SLOPE]
    assert analyses_for(["membranes[0].channels[0].count"]) == [CHANNEL_COUNT]
    assert analyses_for(["compartments[0].depth"]) == [DEPTH_SERIES]
    assert analyses_for([]) == [] and analyses_for(["temperature"]) == []


# --- one small sweep, end to end ------------------------------------------------------------

SWEEP = concentration_sweep(steps=3000, seed=7)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    from sim.ensemble import run_sweep
    from sim.sweep import load_sweep
    folder = tmp_path_factory.mktemp("pooled")
    path = folder / "sweep.yaml"
    path.write_text(SWEEP)
    out = folder / "sweep"
    run_sweep(load_sweep(path), out, workers=2, quiet=True, log=lambda *a: None)
    return out


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_analyze_pools_a_sweep_and_writes_its_tables(sweep_dir, capsys):
    assert main(["analyze", str(sweep_dir)]) == 0
    out = capsys.readouterr().out
    assert "V_m per point, pooled over replicas (4 of 4 runs)" in out
    assert "Nernst slope: V_m against log10(c_out/c_in) of K+" in out
    assert "theory (kT/ze) ln 10 at 310.15 K" in out and "+61.54 mV/decade" in out

    rows = _rows(sweep_dir / "pooled.csv")
    assert [r["point"] for r in rows] == ["0", "1"]
    for column in ("compartments[1].concentrations.K+", "replicas_finished", "V_m_mV",
                   "V_m_se_mV", "V_m_se_source", "V_m_se_replicas_mV",
                   "V_m_counting_limit_mV", "crossings", "c_out_over_c_in_K+",
                   "E_K+_initial_mV", "E_K+_bulk_mV", "E_K+_activity_mV", "dev_K+_bulk_SE",
                   "channels", "depth_inside_nm"):
        assert column in rows[0], column
    assert [r["compartments[1].concentrations.K+"] for r in rows] == ["5 mM", "50 mM"]
    assert [float(r["c_out_over_c_in_K+"]) for r in rows] == pytest.approx([5 / 150, 50 / 150])

    doc = json.loads((sweep_dir / "pooled.json").read_text())
    assert doc["runs_pooled"] == doc["runs_planned"] == 4 and len(doc["points"]) == 2
    assert doc["analyses"] == [NERNST_SLOPE] and doc["nernst_species"] == "K+"
    assert doc["nernst_slope"]["theory_mV_per_decade"] == pytest.approx(61.54, abs=0.01)
    for point, row in zip(doc["points"], rows):
        reps = [r["V_m_mV"] for r in point["replicas"]]
        assert [r["dir"] for r in point["replicas"]] == [f"p00{point['point']}-r000",
                                                        f"p00{point['point']}-r001"]
        assert point["V_m_mV"] == pytest.approx(np.mean(reps), rel=1e-12)
        assert point["V_m_se_replicas_mV"] == pytest.approx(np.std(reps, ddof=1) / math.sqrt(2))
        assert point["V_m_se_mV"] == max(point["V_m_se_replicas_mV"],
                                         point["V_m_counting_limit_mV"])
        assert float(row["V_m_mV"]) == pytest.approx(point["V_m_mV"], rel=1e-12)


def test_report_of_a_sweep_writes_pages_and_plots(sweep_dir, capsys):
    from analysis.report import main as report_main
    assert report_main([str(sweep_dir)]) == 0  # python -m analysis.report
    assert main(["report", str(sweep_dir)]) == 0
    printed = capsys.readouterr().out
    md = (sweep_dir / "report.md").read_text()
    page = (sweep_dir / "report.html").read_text()
    assert "V_m per point, pooled over replicas" in md and "Nernst slope" in page
    assert "data:image/png;base64," in page and 'src="report_' not in page
    for name in ("report_nernst_slope.png", "report_lecture_curves_p000.png",
                 "report_lecture_curves_p001.png"):
        path = sweep_dir / name
        assert path.stat().st_size > 0 and name in printed and name in md
        with Image.open(path) as im:
            assert im.format == "PNG" and np.asarray(im.convert("L")).std() > 10
    assert (sweep_dir / "pooled.csv").stat().st_size > 0


def _copy(sweep_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(sweep_dir, target)
    return target


def test_a_missing_run_is_left_out_and_named(sweep_dir, tmp_path, capsys):
    d = _copy(sweep_dir, tmp_path)
    shutil.rmtree(d / "p001-r001")
    (d / "p000-r001" / "summary.json").unlink()  # an unfinished run
    pooled = pool(d)
    assert [p.replicas_finished for p in pooled.points] == [1, 1]
    assert [p.replicas_planned for p in pooled.points] == [2, 2]
    assert any(n.startswith("p001-r001: not started") for n in pooled.notes), pooled.notes
    assert any(n.startswith("p000-r001: no summary.json") for n in pooled.notes), pooled.notes
    assert pooled.points[0].se_source in ("run", "counting")
    assert pooled.points[0].vm_se_replicas is None
    assert main(["analyze", str(d)]) == 0
    assert "p001-r001: not started; left out" in capsys.readouterr().out
    assert [r["replicas_finished"] for r in _rows(d / "pooled.csv")] == ["1", "1"]


def test_a_damaged_trajectory_is_skipped_with_a_note(sweep_dir, tmp_path):
    d = _copy(sweep_dir, tmp_path)
    traj = d / "p001-r000" / "trajectory.h5"
    traj.write_bytes(traj.read_bytes()[:2000])
    pooled = pool(d)
    assert [p.replicas_finished for p in pooled.points] == [2, 1]
    assert any(n.startswith("p001-r000: skipped") for n in pooled.notes), pooled.notes


def test_sweeps_that_cannot_be_pooled_are_one_line_errors(sweep_dir, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(sweep_dir / PLAN, empty / PLAN)
    for cmd in ("analyze", "report"):
        assert main([cmd, str(empty)]) == 2
        _one_line_error(capsys, empty, "none of its 4 runs has finished")
    (empty / PLAN).write_text('{"format": "ionsim sweep 1", "runs": []}')
    assert main(["analyze", str(empty)]) == 2
    _one_line_error(capsys, PLAN, "damaged")
    (empty / PLAN).write_text("{ not json")
    assert main(["report", str(empty)]) == 2
    _one_line_error(capsys, PLAN, "cannot be read")


def test_channel_count_and_depth_axes_get_their_fits_and_figures(tmp_path, capsys):
    """Both in one zipped sweep of two single runs: each axis calls for its analysis."""
    from sim.ensemble import run_sweep
    from sim.sweep import load_sweep
    path = tmp_path / "sweep.yaml"
    path.write_text("""base: potassium
axes:
  compartments[0].depth: [2 nm, 4 nm]
  membranes[0].channels[0].count: [4, 16]
  membranes[1].channels[0].count: [4, 16]
combine: zip
replicas: 1
seed: 5
set: {run.steps: 3000, run.equilibration: 0.02 ns}
""")
    out = tmp_path / "sweep"
    run_sweep(load_sweep(path), out, workers=2, quiet=True, log=lambda *a: None)
    assert main(["report", str(out)]) == 0
    capsys.readouterr()
    md = (out / "report.md").read_text()
    assert "V_m against the channel count" in md
    assert "Crossed fraction of the inside's K+ against compartment depth" in md
    for name in ("report_channel_count.png", "report_depth_series.png"):
        assert (out / name).stat().st_size > 0 and name in md
    assert not (out / "report_nernst_slope.png").exists()
    doc = json.loads((out / "pooled.json").read_text())
    assert doc["analyses"] == [CHANNEL_COUNT, DEPTH_SERIES]
    assert [p["channels_per_membrane"] for p in doc["points"]] == [[4, 4], [16, 16]]
    assert [p["depth_inside_nm"] for p in doc["points"]] == [2.0, 4.0]
    assert doc["channel_count"]["x"] == "channels per membrane"
    assert all(p["V_m_se_source"] in ("run", "counting") for p in doc["points"])
