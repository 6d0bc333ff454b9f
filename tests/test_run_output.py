"""`ionsim run` end to end: the run directory, the H5MD file, summary.json, `ionsim check`,
and a killed run resumed from its checkpoint continuing bit for bit."""

import json

import h5py
import numpy as np
import yaml

from sim.cli import main
from sim.io import RunData, write_scenario
from sim.run import run_scenario
from tests.scenario_factory import scenario, tree


def _write(tmp_path, **run):
    t = tree()
    t["run"].update(run)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(t))
    return path


def test_run_writes_a_complete_run_directory(tmp_path, capsys):
    path = _write(tmp_path, steps=200)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    for name in ("scenario.yaml", "trajectory.h5", "summary.json", "checkpoint.npz"):
        assert (out / name).exists(), name
    resolved = yaml.safe_load((out / "scenario.yaml").read_text())
    assert resolved["run"]["integrator"] == "leimkuhler-matthews"  # defaults filled in
    assert resolved["species"]["K+"]["diffusion"].endswith("m^2/s")
    with h5py.File(out / "trajectory.h5") as f:
        assert tuple(f["h5md"].attrs["version"]) == (1, 1)
        pos = f["particles/ions/position"]
        assert list(pos["step"][:]) == [0, 50, 100, 150, 200]
        assert pos["value"].attrs["unit"] == "nm"
        counts = f["observables/counts/value"]
        assert counts.shape[0] == 21  # every 10 steps, both ends included
    run = RunData(out)
    counts = run.observable("counts").value
    assert np.all(counts.sum(axis=1) == counts[0].sum(axis=0))  # ions conserved
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 200 and summary["n_ions"] == run.species.size
    assert capsys.readouterr().out == ""  # --quiet


def test_check_prints_what_would_run(tmp_path, capsys):
    path = _write(tmp_path, steps=1000)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    for text in ("box", "compartment 0 'inside'", "accessible volume", "ions: ", "K+",
                 "membrane 1", "4 x radius 0.8 nm admitting K+", "dt 0.05 ps x 1000 steps",
                 "memory"):
        assert text in out, text


def test_killed_run_resumes_bit_for_bit(tmp_path):
    full = scenario(run={"dt": "0.05 ps", "steps": 400, "seed": 9, "sample_interval": 10,
                         "frame_interval": 50, "checkpoint_interval": 100})
    a = run_scenario(full, tmp_path / "a")
    # A run "killed" right after its checkpoint at step 200: same scenario, stopped early.
    b_dir = tmp_path / "b"
    run_scenario(full.with_run(steps=200), b_dir)
    write_scenario(b_dir, full)
    assert main(["resume", str(b_dir), "--quiet"]) == 0
    ra, rb = RunData(a.run_dir), RunData(b_dir)
    assert np.array_equal(ra.positions(), rb.positions())
    for name in ("counts", "bulk_concentration", "energy_wca"):
        sa, sb = ra.observable(name), rb.observable(name)
        assert np.array_equal(sa.step, sb.step) and np.array_equal(sa.value, sb.value)
    for key in ra.crossings:
        assert np.array_equal(ra.crossings[key], rb.crossings[key])


def test_duration_option_sets_the_steps_from_a_time(tmp_path, capsys):
    path = _write(tmp_path, steps=1000)  # dt 0.05 ps
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--duration", "2.5 ps"]) == 0
    assert json.loads((out / "summary.json").read_text())["steps"] == 50
    for bad, says in (("5", "missing unit"), ("5 nm", "is a length"),
                      ("0.01 ps", "at least one time step")):
        assert main(["run", str(path), "--out", str(out), "--duration", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--duration" in err and says in err, err
