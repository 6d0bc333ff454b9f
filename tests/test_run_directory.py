"""A run never deletes what it did not write; one writer at a time; a run directory's files
belong to one run (the reliability issue's first rows)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from sim import rundir
from sim.cli import main
from sim.io import load_checkpoint
from tests.scenario_factory import tree


def _scenario_file(tmp_path, name="s.yaml", **run):
    t = tree()
    t["run"].update({"steps": 100, **run})
    path = tmp_path / name
    path.write_text(yaml.safe_dump(t))
    return path


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_error(capsys, *texts):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for text in texts:
        assert text in err, err
    return err


def test_a_users_folder_holding_a_scenario_is_refused_and_left_alone(tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    scenario = _scenario_file(project, name="scenario.yaml")
    (project / "notes.txt").write_text("three weeks of notes")
    (project / "results").mkdir()
    (project / "results" / "fig.png").write_bytes(b"\x89PNG")
    before = _snapshot(project)
    assert main(["run", str(scenario), "--out", str(project), "--quiet"]) == 2
    _one_line_error(capsys, "ionsim did not write", "nothing was changed")
    assert main(["run", str(scenario), "--out", str(project), "--quiet", "--force"]) == 2
    _one_line_error(capsys, "ionsim did not write")
    assert _snapshot(project) == before


def test_out_dot_from_a_users_folder_is_refused(tmp_path, capsys, monkeypatch):
    scenario = _scenario_file(tmp_path, name="scenario.yaml")
    (tmp_path / "notes.txt").write_text("keep me")
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    assert main(["run", "scenario.yaml", "--out", ".", "--quiet", "--force"]) == 2
    _one_line_error(capsys, "--out: .", "ionsim did not write")
    assert _snapshot(tmp_path) == before and scenario.exists()


def test_an_earlier_run_is_replaced_only_with_force_and_only_its_own_files(tmp_path, capsys):
    scenario = _scenario_file(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    first_id = rundir.check_consistent(out)
    (out / "my_notes.md").write_text("the user's, in a run directory")
    before = _snapshot(out)
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 2
    _one_line_error(capsys, "holds an earlier run", "--force", "ionsim resume")
    assert _snapshot(out) == before
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--force"]) == 0
    assert (out / "my_notes.md").read_text() == "the user's, in a run directory"
    second_id = rundir.check_consistent(out)
    assert second_id and second_id != first_id
    assert set(rundir.run_ids(out)) == {"scenario.yaml", "trajectory.h5", "checkpoint.npz",
                                        "summary.json"}


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path, capsys):
    scenario = _scenario_file(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    before = _snapshot(out)
    # Another process holds the lock, as a live `ionsim run` does for its whole run.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from sim.rundir import RunLock; "
         f"RunLock({str(out)!r}).acquire(); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["run", str(scenario), "--out", str(out), "--quiet", "--force"]) == 2
        _one_line_error(capsys, "in use by another ionsim process", f"pid {holder.pid}")
        assert main(["resume", str(out), "--quiet"]) == 2
        _one_line_error(capsys, "in use by another ionsim process")
        assert {k: v for k, v in _snapshot(out).items() if k != ".ionsim.lock"} == \
            {k: v for k, v in before.items() if k != ".ionsim.lock"}
    finally:
        holder.kill()
        holder.wait()
    # A killed holder leaves no stale lock: the kernel dropped it with the process.
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--force"]) == 0


def test_files_from_different_runs_are_refused(tmp_path, capsys):
    scenario = _scenario_file(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    (a / "summary.json").write_bytes((b / "summary.json").read_bytes())
    for command in (["analyze", str(a)], ["budget", str(a)], ["report", str(a)],
                    ["animate", str(a), "--out", str(tmp_path / "still.png"), "--at", "0.001"], ["resume", str(a)]):
        assert main(command) == 2, command
        _one_line_error(capsys, "come from different runs", "summary.json from run")


def test_stale_temp_files_of_a_killed_checkpoint_write_are_removed(tmp_path):
    scenario = _scenario_file(tmp_path, steps=200)
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    (out / ".checkpoint.npz.k3j2h1").write_bytes(b"half a checkpoint")
    (out / ".keep_me.txt").write_text("not ionsim's")
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--force"]) == 0
    assert not (out / ".checkpoint.npz.k3j2h1").exists()
    assert (out / ".keep_me.txt").exists()


def test_bad_numbers_on_the_command_line_are_refused_before_any_work(tmp_path, capsys):
    scenario = _scenario_file(tmp_path)
    out = tmp_path / "run"
    for args, says in ((["--seed", "99999999999999999999"], "--seed: must be an integer in"),
                       (["--seed", "-1"], "--seed: must be"),
                       (["--steps", "0"], "--steps: must be >= 1"),
                       (["--steps", "-5"], "--steps: must be >= 1")):
        assert main(["run", str(scenario), "--out", str(out), "--quiet", *args]) == 2
        _one_line_error(capsys, says)
    assert not out.exists()


def test_resume_of_a_finished_run_says_so_and_changes_nothing(tmp_path, capsys):
    scenario = _scenario_file(tmp_path, steps=150)
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    before = _snapshot(out)
    assert main(["resume", str(out), "--quiet"]) == 0
    assert "the run is finished (150 steps" in capsys.readouterr().err
    assert _snapshot(out) == before
    assert int(load_checkpoint(out)["step"]) == 150


def test_a_corrupt_summary_is_rebuilt_by_resume(tmp_path, capsys):
    scenario = _scenario_file(tmp_path, steps=150)
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    good = yaml.safe_load((out / "summary.json").read_text())
    (out / "summary.json").write_text('{"steps": 15')
    assert main(["analyze", str(out)]) in (0, 2)  # no membrane potential here: either way
    capsys.readouterr()
    assert main(["budget", str(out)]) == 0  # derived data: the run is still readable
    err = capsys.readouterr().err
    assert "summary.json" in err and "ionsim resume" in err, err
    assert main(["resume", str(out), "--quiet"]) == 0
    assert "rebuilt" in capsys.readouterr().err
    rebuilt = yaml.safe_load((out / "summary.json").read_text())
    assert rebuilt["rebuilt_from_trajectory"] is True
    for key in ("run_id", "steps", "n_ions", "ions", "total_crossings"):
        assert rebuilt[key] == good[key], key


@pytest.mark.parametrize("damage", ["scenario.yaml", "trajectory.h5", "checkpoint.npz"])
def test_damaged_files_give_one_line_naming_the_file(tmp_path, capsys, damage):
    scenario = _scenario_file(tmp_path, steps=150)
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    data = (out / damage).read_bytes()
    (out / damage).write_bytes(data[: len(data) // 2])
    commands = [["budget", str(out)], ["report", str(out)], ["resume", str(out)],
                ["animate", str(out), "--out", str(tmp_path / "still.png"), "--at", "0.001"]]
    if damage == "checkpoint.npz":
        commands = [["resume", str(out)]]
    for command in commands:
        assert main(command) == 2, command
        _one_line_error(capsys, damage)
