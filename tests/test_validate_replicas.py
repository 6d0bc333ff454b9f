"""`ionsim validate --full` with replicas: the pooling formulas on synthetic rows (exact
arithmetic), the rule that adds replicas, the clean-up of an earlier case directory, and
the replica loop end to end (a 0.05 ns symmetric case, 2 replicas, then --reuse)."""

from __future__ import annotations

import json
import math

import pytest

from analysis.statistics import pool_independent
from analysis.validation.replicas import clear, pool, wants_more
from analysis.validation.verdict import FAIL, INCONCLUSIVE, PASS, CaseResult
from sim.cli import main as ionsim_main
from sim.rundir import RUN_ID_PREFIX


def _row(value, se, reference=-60.0, reference_se=0.0, case="potassium", **kw):
    return CaseResult(case, "q?", "V_m", "mV", value, se, reference, "Nernst",
                      reference_se=reference_se, **kw)


# ------------------------------------------------------------------------------ the formulas
def test_pool_independent_two_replicas_use_their_ses():
    # mean 2; sqrt(3^2 + 4^2) / 2 = 2.5 > the spread's SD / sqrt(2) = 1
    assert pool_independent([1.0, 3.0], [3.0, 4.0]) == pytest.approx((2.0, 2.5))


def test_pool_independent_three_replicas_take_the_larger_of_ses_and_spread():
    # values 0, 10, 20: SD 10, SD / sqrt(3) = 5.7735 > sqrt(3) / 3 = 0.577
    assert pool_independent([0.0, 10.0, 20.0], [1.0, 1.0, 1.0]) == \
        pytest.approx((10.0, 10 / math.sqrt(3)))
    # values close together: the replicas' own SEs, sqrt(3 * 4) / 3 = 1.1547
    assert pool_independent([0.9, 1.0, 1.1], [2.0, 2.0, 2.0]) == \
        pytest.approx((1.0, math.sqrt(12) / 3))


def test_pool_combines_value_reference_counts_and_samples():
    reps = [[_row(-58.0, 3.0, -61.0, 1.0, count=10, min_count=30, n_eff=15.0,
                  min_n_eff=20, resolution=10.0, notes=["same", "a"])],
            [_row(-62.0, 4.0, -59.0, 2.0, count=25, min_count=30, n_eff=7.5,
                  min_n_eff=20, resolution=10.0, notes=["same", "b"])]]
    (p,) = pool(reps)
    assert p.value == pytest.approx(-60.0) and p.se == pytest.approx(2.5)
    assert p.reference == pytest.approx(-60.0)
    assert p.reference_se == pytest.approx(math.sqrt(5) / 2)
    assert p.count == 35 and p.n_eff == pytest.approx(22.5) and p.replicas == 2
    assert (p.min_count, p.min_n_eff, p.resolution) == (30, 20, 10.0)
    assert p.notes[0].startswith("pooled over 2 replicas")
    assert p.notes[1:] == ["same", "replica 0: a", "replica 1: b"]
    assert p.decide().verdict == PASS  # 35 crossings, 22.5 samples: it decides now


def test_a_model_uncertainty_of_the_reference_does_not_average_out():
    reps = [[_row(0.3, 0.05, 0.37, 0.037, reference_systematic=True)] for _ in range(4)]
    (p,) = pool(reps)
    assert p.reference_se == pytest.approx(0.037)  # not 0.037 / 2
    assert p.se == pytest.approx(0.05 / 2)
    spread = [[_row(0.3, 0.05, ref, 0.1, reference_systematic=True)] for ref in (0.9, 1.0, 1.1)]
    (q,) = pool(spread)
    assert q.reference == pytest.approx(1.0)
    assert q.reference_se == pytest.approx(math.hypot(0.1, 0.1 / math.sqrt(3)))


def test_a_replica_without_a_value_is_left_out_and_said_so():
    reps = [[_row(-58.0, 3.0, count=12, min_count=30)],
            [_row(math.nan, math.nan, count=0, min_count=30)]]
    (p,) = pool(reps)
    assert (p.value, p.se, p.count, p.replicas) == (-58.0, 3.0, 12, 2)
    assert "1 gave no value" in p.notes[0]
    (none,) = pool([[_row(None, None, count=0, min_count=30)]])
    assert none.value is None and none.count == 0


def test_rows_pool_per_quantity_and_the_strictest_tolerance_holds():
    reps = [[_row(1.0, 1.0, 0.0, case="no_channels"), _row(5.0, 1.0, 5.0, case="extra")],
            [_row(-1.0, 1.0, 0.0, case="no_channels", abs_tol=0.0)]]
    a, b = pool(reps)
    assert (a.case, b.case) == ("no_channels", "extra")
    assert a.abs_tol == 0.0 and a.value == 0.0
    assert b.value == 5.0 and b.replicas == 2 and "1 gave no value" in b.notes[0]


# --------------------------------------------------------------------------- adding replicas
def test_more_replicas_only_for_statistics_they_can_bring():
    assert wants_more(_row(-60.0, 1.0, count=9, min_count=30).decide())
    assert wants_more(_row(-60.0, 1.0, n_eff=6.0, min_n_eff=20).decide())
    assert wants_more(_row(-60.0, 12.0, resolution=10.0).decide())
    assert not wants_more(_row(-60.0, 1.0, count=40, min_count=30).decide())  # PASS
    assert not wants_more(_row(0.0, 1.0, count=40, min_count=30).decide())    # FAIL
    assert not wants_more(_row(-60.0, 1.0, math.nan).decide())  # no reference: stop
    assert _row(0.0, 1.0).decide().verdict == FAIL
    assert _row(-60.0, 1.0, math.nan).decide().verdict == INCONCLUSIVE


def _fake_run(path):
    path.mkdir(parents=True)
    (path / "scenario.yaml").write_text(f"{RUN_ID_PREFIX}abc\nname: x\n")
    (path / "trajectory.h5").write_bytes(b"x")
    (path / ".ionsim.lock").write_text("1\n")


def test_clear_removes_only_what_ionsim_wrote(tmp_path):
    case = tmp_path / "symmetric"
    _fake_run(case / "p000-r000")
    _fake_run(case / "p000-r001")
    (case / "p000-r001" / "mine.txt").write_text("keep")
    (case / "sweep.json").write_text("{}")
    (case / "notes.txt").write_text("keep")
    clear(case)
    assert sorted(p.name for p in case.iterdir()) == ["notes.txt", "p000-r001"]
    assert sorted(p.name for p in (case / "p000-r001").iterdir()) == [".ionsim.lock",
                                                                       "mine.txt"]
    single = tmp_path / "single"
    _fake_run(single)
    clear(single)
    assert not (single / "trajectory.h5").exists() and not (single / "scenario.yaml").exists()


# ------------------------------------------------------------------------------ end to end
def _cases(out):
    return {c["case"]: c for c in json.loads((out / "validation.json").read_text())["cases"]}


def test_full_adds_replicas_up_to_the_cap_and_reuse_runs_nothing(tmp_path):
    out = tmp_path / "v"
    argv = ["validate", "--full", "--cases", "symmetric", "--duration", "0.05",
            "--max-replicas", "2", "--out", str(out)]
    assert ionsim_main(argv) == 0
    first = _cases(out)["symmetric"]
    case_dir = out / "runs" / "symmetric"
    # 0.05 ns: far fewer than 30 crossings, so the case used every replica it may
    assert first["replicas"] == 2 and first["verdict"] == INCONCLUSIVE
    assert (case_dir / "sweep.json").exists() and first["run_dir"] == str(case_dir)
    assert any("stopped at the cap of 2" in n for n in first["notes"])
    stamps = {r: (case_dir / r / "trajectory.h5").stat().st_mtime_ns
              for r in ("p000-r000", "p000-r001")}
    assert ionsim_main(argv + ["--reuse"]) == 0
    again = _cases(out)["symmetric"]
    assert {r: (case_dir / r / "trajectory.h5").stat().st_mtime_ns for r in stamps} == stamps
    assert again["value"] == first["value"] and again["replicas"] == 2
    assert any("2 of 2 replicas were earlier runs" in n for n in again["notes"])
    # an engine check and --quick: one run; the --quick run replaces the replica directory
    assert ionsim_main(["validate", "--cases", "capacitor", "symmetric", "--duration", "0.05",
                        "--out", str(out)]) == 0
    quick = _cases(out)
    assert quick["capacitor"]["replicas"] == 1 and quick["symmetric"]["replicas"] == 1
    assert not (case_dir / "sweep.json").exists() and not (case_dir / "p000-r000").exists()
    assert (case_dir / "trajectory.h5").exists()
