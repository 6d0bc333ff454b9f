"""`ionsim validate`: the verdict rule, the writers, the scenario library, the command.

The verdict rule is checked on synthetic numbers whose right answer is known by hand; the
end-to-end tests run the cheap engine checks (exact theory: the capacitor's Q / (C A), the
Ewald bound) through the command line, and a FAIL planted in the case list must give exit
code 1.
"""

from __future__ import annotations

import json
import math

import pytest

from analysis.validation import cases as case_module
from analysis.validation.cases import SCENARIO_DIR
from analysis.validation.output import table, write_json, write_markdown, write_plots
from analysis.validation.verdict import FAIL, INCONCLUSIVE, PASS, CaseResult, judge
from sim.cli import main as ionsim_main
from sim.scenario import load_scenario


# --------------------------------------------------------------------------- verdict rule
def test_within_three_se_passes_and_beyond_fails():
    assert judge(-60.0, 2.0, -61.5)[0] == PASS          # 0.75 SE
    assert judge(-60.0, 2.0, -65.9)[0] == PASS          # 2.95 SE
    verdict, dev, _ = judge(-60.0, 2.0, -66.1)           # 3.05 SE
    assert verdict == FAIL and dev == pytest.approx(3.05)


def test_reference_uncertainty_combines_in_quadrature():
    # 10 apart, SE 3 and 4: combined 5, dev 2 -> PASS; without the reference SE: 3.3 -> FAIL
    assert judge(10.0, 3.0, 0.0, 4.0)[1] == pytest.approx(2.0)
    assert judge(10.0, 3.0, 0.0, 4.0)[0] == PASS
    assert judge(10.0, 3.0, 0.0)[0] == FAIL


def test_wide_error_bar_or_too_few_events_is_inconclusive_never_pass():
    assert judge(-60.0, 12.0, -61.0, resolution=10.0)[0] == INCONCLUSIVE
    assert judge(-60.0, 1.0, -61.0, count=5, min_count=30)[0] == INCONCLUSIVE
    assert judge(-60.0, math.nan, -61.0)[0] == INCONCLUSIVE
    assert judge(None, 1.0, -61.0)[0] == INCONCLUSIVE
    # even a value far off is not called FAIL when the run cannot decide
    assert judge(0.0, 20.0, -61.0, resolution=10.0)[0] == INCONCLUSIVE
    # an SE from too few independent samples cannot decide either
    assert judge(3.8, 0.76, 0.0, n_eff=4.4, min_n_eff=20)[0] == INCONCLUSIVE
    assert judge(3.8, 0.76, 0.0, n_eff=40, min_n_eff=20)[0] == FAIL


def test_absolute_tolerance_and_exact_checks():
    assert judge(1.0, 0.0, 1.0 + 1e-12, abs_tol=1e-9)[0] == PASS
    assert judge(1.0, 0.0, 1.1, abs_tol=1e-9)[0] == FAIL
    assert judge(1.0, 0.0, 1.0)[0] == INCONCLUSIVE  # no SE, no tolerance: cannot decide
    assert judge(1.00, 0.001, 1.002, abs_tol=0.0001)[0] == FAIL  # 2 SE but beyond the tolerance


def test_upper_bound():
    assert judge(9e-4, 0.0, 1e-3, mode="upper")[0] == PASS
    assert judge(1.1e-3, 0.0, 1e-3, mode="upper")[0] == FAIL
    assert judge(9e-4, 1e-4, 1e-3, mode="upper")[0] == FAIL  # not below by 3 SE


# --------------------------------------------------------------------------------- writers
def _results():
    rows = [CaseResult("a", "q a?", "V_m", "mV", -60.0, 2.0, -61.5, "Nernst"),
            CaseResult("b", "q b?", "V_m", "mV", -40.0, 2.0, -61.5, "Nernst"),
            CaseResult("c", "q c?", "V_m", "mV", -40.0, 20.0, -61.5, "Nernst", resolution=10)]
    return [r.decide() for r in rows]


def test_table_json_markdown_and_plots(tmp_path):
    results = _results()
    assert [r.verdict for r in results] == [PASS, FAIL, INCONCLUSIVE]
    text = "\n".join(table(results).text())
    assert "-60 +/- 2" in text and "FAIL" in text and "INCONCLUSIVE" in text
    doc = json.loads(write_json(results, tmp_path / "v.json", {"mode": "quick"}).read_text())
    assert doc["summary"] == {PASS: 1, FAIL: 1, INCONCLUSIVE: 1}
    b = doc["cases"][1]
    assert b["deviation"] == pytest.approx((-40.0 + 61.5) / 2.0)
    assert b["source"] == "Nernst" and b["value"] == -40.0 and b["se"] == 2.0
    md = write_markdown(results, tmp_path / "v.md").read_text()
    assert "| b |" in md and "### c: INCONCLUSIVE" in md and "source: Nernst" in md
    paths = write_plots(results, tmp_path)
    assert (tmp_path / "deviations.png").stat().st_size > 1000 and paths


# ------------------------------------------------------------------------ scenario library
SCENARIOS = sorted(SCENARIO_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_scenario_parses_and_states_its_question(path, capsys):
    assert ionsim_main(["check", str(path)]) == 0
    assert "valid" in capsys.readouterr().out
    header = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    assert any("Question:" in line for line in header), f"{path.name}: no '# Question:'"


def test_every_scenario_case_has_a_scenario_file_and_a_check():
    from analysis.validation.scenario_checks import CHECKS
    for case in case_module.CASES:
        if case.scenario:
            assert (SCENARIO_DIR / case.scenario).exists()
            assert case.name in CHECKS
            text = (SCENARIO_DIR / case.scenario).read_text()
            assert "Expected:" in text and "Run time" in text


def test_validation_scenarios_are_electroneutral_and_thin():
    for case in case_module.CASES:
        if case.scenario:
            sc = load_scenario(SCENARIO_DIR / case.scenario)
            assert all(m.thickness == pytest.approx(2.0) for m in sc.membranes)
            assert 10.0 <= sc.box[0] <= 20.0  # calcium needs 20 nm (see its header)


# ------------------------------------------------------------------------------ the command
def test_engine_cases_end_to_end(tmp_path, capsys):
    out = tmp_path / "v"
    rc = ionsim_main(["validate", "--cases", "capacitor", "ewald_forces", "--out", str(out)])
    assert rc == 0
    doc = json.loads((out / "validation.json").read_text())
    by_case = {c["case"]: c for c in doc["cases"]}
    cap = by_case["capacitor"]
    # theory by hand: Q/(C A) with C = [d/(eps0 eps_m) + 2 gap/(eps0 eps_w)]^-1, in mV
    eps0 = 8.8541878128e-12
    c_area = 1 / (2e-9 / (eps0 * 2.0) + 2 * 0.05e-9 / (eps0 * 74.15))  # F/m^2
    v = 0.32 * 1.602176634e-19 / (c_area * 100e-18) * 1e3
    assert cap["value"] == pytest.approx(v, rel=1e-6) and cap["verdict"] == PASS
    assert by_case["ewald_forces"]["value"] < 1e-3
    assert (out / "validation.md").exists() and (out / "deviations.png").exists()
    assert "PASS" in capsys.readouterr().out


def test_a_scenario_case_runs_through_the_cli(tmp_path):
    out = tmp_path / "v"
    rc = ionsim_main(["validate", "--cases", "no_channels", "--duration", "0.05",
                      "--out", str(out)])
    doc = json.loads((out / "validation.json").read_text())
    (case,) = doc["cases"]
    assert (out / "runs" / "no_channels" / "summary.json").exists() or \
        (out / "runs" / "no_channels" / "scenario.yaml").exists()
    # 0.05 ns: too short to decide, but never a FAIL for a membrane without channels
    assert case["verdict"] in (PASS, INCONCLUSIVE) and rc == 0
    assert case["reference"] == 0.0


def test_reuse_reanalyses_a_finished_run(tmp_path):
    out = tmp_path / "v"
    argv = ["validate", "--cases", "no_channels", "--duration", "0.05", "--out", str(out)]
    ionsim_main(argv)
    first = json.loads((out / "validation.json").read_text())["cases"][0]
    stamp = (out / "runs" / "no_channels" / "trajectory.h5").stat().st_mtime_ns
    ionsim_main(argv + ["--reuse"])
    again = json.loads((out / "validation.json").read_text())["cases"][0]
    assert (out / "runs" / "no_channels" / "trajectory.h5").stat().st_mtime_ns == stamp
    assert again["value"] == first["value"]
    assert any("re-analysed" in n for n in again["notes"])


def test_quick_leaves_out_only_the_full_only_cases():
    from analysis.validate import select_cases
    quick, left_out = select_cases(None, full=False)
    full, none_left = select_cases(None, full=True)
    assert [c.name for c in left_out] == ["donnan", "pump_leak", "sodium_channels_open"]
    assert not none_left
    assert len(quick) + 3 == len(full) == len(case_module.CASES)
    assert all(c.full_only for c in left_out)
    named, _ = select_cases(["donnan"], full=False)  # named: runs even with --quick
    assert [c.name for c in named] == ["donnan"]


def test_surface_charge_case_compares_both_double_layers(tmp_path):
    """The surface-charge case reports V_m and one Gouy-Chapman row per compartment; the
    reference for -0.1 e/nm^2 at ~100 mM is about -23 mV (psi_0 -21, Stern gap -2.5)."""
    out = tmp_path / "v"
    ionsim_main(["validate", "--cases", "surface_charge", "--duration", "0.3",
                 "--out", str(out)])
    doc = json.loads((out / "validation.json").read_text())
    by_case = {c["case"]: c for c in doc["cases"]}
    assert set(by_case) == {"surface_charge", "gouy_chapman_inside", "gouy_chapman_outside",
                            "contact_value_inside", "contact_value_outside"}
    for name in ("contact_value_inside", "contact_value_outside"):  # the absolute form
        assert by_case[name]["unit"] == "mM" and by_case[name]["se"] > 0
    for name in ("gouy_chapman_inside", "gouy_chapman_outside"):
        row = by_case[name]
        assert -27.0 < row["reference"] < -19.0 and row["se"] > 0
        assert row["verdict"] == INCONCLUSIVE  # 0.3 ns: too few independent samples


def test_a_fail_gives_exit_code_1(tmp_path, monkeypatch):
    from analysis.validation import engine_checks
    bad = case_module.Case("planted_fail", "a case that must fail")

    def planted_fail(quick=True):
        return CaseResult("planted_fail", "a case that must fail", "x", "1", 10.0, 1.0, 0.0,
                          "0 by construction")
    monkeypatch.setattr(engine_checks, "planted_fail", planted_fail, raising=False)
    monkeypatch.setattr(case_module, "CASES", case_module.CASES + [bad])
    rc = ionsim_main(["validate", "--cases", "planted_fail", "capacitor",
                      "--out", str(tmp_path / "v")])
    assert rc == 1


@pytest.mark.parametrize("argv", [["--jobs", "0"], ["--cases", "nonsense"],
                                  ["--duration", "-1"], ["--full", "--max-replicas", "0"],
                                  ["--max-replicas", "2"]])
def test_user_errors_exit_2(tmp_path, argv, capsys):
    assert ionsim_main(["validate", "--out", str(tmp_path / "v"), *argv]) == 2
    assert "error" in capsys.readouterr().err


def test_out_that_is_a_file_or_foreign_directory_exits_2(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    assert ionsim_main(["validate", "--cases", "capacitor", "--out", str(f)]) == 2
    d = tmp_path / "foreign"
    d.mkdir()
    (d / "precious.txt").write_text("keep")
    assert ionsim_main(["validate", "--cases", "capacitor", "--out", str(d)]) == 2
    assert (d / "precious.txt").exists()


def test_python_dash_m_entry_point(tmp_path):
    from analysis.validate import main
    assert main(["--cases", "capacitor", "--out", str(tmp_path / "v")]) == 0
    assert main(["--jobs", "0", "--out", str(tmp_path / "v")]) == 2
