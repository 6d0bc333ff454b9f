"""A run killed with SIGKILL and resumed equals the uninterrupted run in every dataset of
trajectory.h5 (not only the positions), with a frame interval that does not divide the
checkpoint interval, so that the accumulators of the density profiles (density,
face_density, face_field) are cut in the middle, and no temp file of the checkpoint's
atomic write is left behind."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from sim.cli import main
from sim.io import load_checkpoint
from tests.scenario_factory import tree
from tests.run_files import h5_contents

STEPS = 3000
RUN = {"dt": "0.05 ps", "steps": STEPS, "seed": 11, "sample_interval": 10,
       "frame_interval": 230, "checkpoint_interval": 170}
# lcm(230, 170) = 3910 > STEPS: every checkpoint falls between two frames, with samples of
# the density profile summed but not yet written, whichever one the kill lands after (the
# run writes a checkpoint every few ms, so that cannot be chosen).


def _kill_after_checkpoints(scenario_path, out, min_step):
    proc = subprocess.Popen([sys.executable, "-m", "sim", "run", str(scenario_path), "--out",
                             str(out), "--quiet"], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NUMBA_NUM_THREADS": "1"})
    deadline = time.monotonic() + 240
    step = -1
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            step = int(load_checkpoint(out)["step"])
        except Exception:  # noqa: BLE001 - not written yet, or being replaced
            step = -1
        if step >= min_step:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    return proc.returncode, step


def test_a_killed_run_resumed_equals_the_uninterrupted_one_in_every_dataset(tmp_path):
    t = tree(electrostatics="ewald")
    t["run"] = RUN
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(t))
    reference = tmp_path / "reference"
    assert main(["run", str(path), "--out", str(reference), "--quiet"]) == 0

    killed = tmp_path / "killed"
    code, step = _kill_after_checkpoints(path, killed, min_step=400)
    if code != -signal.SIGKILL:
        pytest.fail(f"the run was not killed in the middle (exit {code}, checkpoint {step})")
    state = load_checkpoint(killed)
    assert 0 < int(state["step"]) < STEPS and int(state["density_samples"]) > 0
    assert int(state["face_density_samples"]) > 0 and "face_field_squared_sum" in state
    assert main(["resume", str(killed), "--quiet"]) == 0

    ref_data, ref_attrs = h5_contents(reference / "trajectory.h5")
    got_data, got_attrs = h5_contents(killed / "trajectory.h5")
    assert sorted(got_data) == sorted(ref_data)
    assert "observables/density/value" in ref_data and "observables/membrane_potential/value" \
        in ref_data
    assert {"observables/face_density/value", "observables/face_field/value",
            "observables/face_field_squared/value"} <= set(ref_data)
    for name, ref in ref_data.items():
        assert np.array_equal(got_data[name], ref, equal_nan=ref.dtype.kind == "f"), name
    assert got_attrs == ref_attrs
    ref_ckpt, got_ckpt = load_checkpoint(reference), load_checkpoint(killed)
    assert sorted(got_ckpt) == sorted(ref_ckpt)
    for key in ref_ckpt:
        if key != "run_id":
            assert np.array_equal(got_ckpt[key], ref_ckpt[key]), key
    assert not [p for p in killed.iterdir() if p.name.startswith(".checkpoint.npz.")]


def test_a_finished_run_extended_equals_a_run_that_long_from_the_start(tmp_path, capsys):
    """`ionsim resume RUN_DIR --steps N` continues a finished run: every dataset and
    attribute of its trajectory, and its checkpoint, equal those of a run of N steps. The
    first run ends between two frames (1000 is no multiple of 230), so the extension must
    carry the partial density sum across its old end."""
    t = tree(electrostatics="ewald")
    t["run"] = dict(RUN, steps=2000)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(t))
    reference = tmp_path / "reference"
    assert main(["run", str(path), "--out", str(reference), "--quiet"]) == 0
    extended = tmp_path / "extended"
    assert main(["run", str(path), "--out", str(extended), "--quiet", "--steps", "1000"]) == 0
    assert main(["resume", str(extended), "--steps", "500", "--quiet"]) == 2
    assert "cannot be shortened" in capsys.readouterr().err
    assert main(["resume", str(extended), "--duration", "0.1 ns", "--quiet"]) == 0  # 2000
    ref_data, ref_attrs = h5_contents(reference / "trajectory.h5")
    got_data, got_attrs = h5_contents(extended / "trajectory.h5")
    assert sorted(got_data) == sorted(ref_data)
    for name, ref in ref_data.items():
        assert np.array_equal(got_data[name], ref, equal_nan=ref.dtype.kind == "f"), name
    assert got_attrs == ref_attrs
    ref_ckpt, got_ckpt = load_checkpoint(reference), load_checkpoint(extended)
    for key in ref_ckpt:
        if key != "run_id":
            assert np.array_equal(got_ckpt[key], ref_ckpt[key]), key
    assert json.loads((extended / "summary.json").read_text())["steps"] == 2000
