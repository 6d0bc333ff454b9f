"""A full disk stops a run with exit 3 and one line, its last checkpoint intact; after space
is freed, `ionsim resume` finishes it exactly as an uninterrupted run.

The test mounts a small tmpfs (it needs root and a kernel that allows the mount: CI's
machine does; elsewhere it skips, saying why).
"""

import subprocess
import sys

import h5py
import numpy as np
import pytest
import yaml

from sim.cli import main
from sim.io import load_checkpoint
from sim.rundir import DiskReserve
from tests.scenario_factory import tree

STEPS = 20000
RUN = {"dt": "0.05 ps", "steps": STEPS, "seed": 3, "sample_interval": 10, "frame_interval": 10,
       "checkpoint_interval": 500}
# Room for the reserve and about 2.75 MB of run files: the trajectory (92 ions, a frame
# every 10 steps) outgrows it after roughly a third of the run. (face_density's first
# chunk takes 1 MiB at once: with 1.5 MB the disk filled before the first checkpoint.)
SIZE_MIB = DiskReserve.RESERVE_BYTES // 2**20 + 2.75


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    size_kib = int(SIZE_MIB * 1024)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_stops_the_run_safely_and_resume_finishes_it(tmp_path, small_disk):
    t = tree()
    t["run"] = RUN
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(t))
    out = small_disk / "run"
    proc = subprocess.run([sys.executable, "-m", "sim", "run", str(path), "--out", str(out),
                           "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "No space left on device" in lines[0] and "ionsim resume" in lines[0], lines[0]
    step = int(load_checkpoint(out)["step"])
    assert 0 < step < STEPS
    assert f"checkpoint at step {step}" in lines[0]
    with h5py.File(out / "trajectory.h5", "r") as f:  # closed cleanly, readable
        assert f["particles/ions/position/step"][-1] >= step - RUN["frame_interval"]

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    assert main(["resume", str(out), "--quiet"]) == 0
    reference = tmp_path / "reference"
    assert main(["run", str(path), "--out", str(reference), "--quiet"]) == 0
    with h5py.File(out / "trajectory.h5", "r") as a, h5py.File(reference / "trajectory.h5",
                                                               "r") as b:
        for name in ("particles/ions/position/value", "particles/ions/position/step",
                     "observables/counts/value", "observables/density/value",
                     "ionsim/crossings/step", "ionsim/crossings/particle"):
            assert np.array_equal(a[name][()], b[name][()]), name


def test_an_unwritable_directory_is_refused_in_one_line(tmp_path, capsys):
    if subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() == "0":
        # root writes anywhere: a read-only bind mount stands in for an unwritable place
        ro = tmp_path / "ro"
        ro.mkdir()
        done = subprocess.run(["mount", "--bind", "-o", "ro", str(ro), str(ro)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot make a read-only mount here ({done.stderr.strip()})")
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
    try:
        t = tree()
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(t))
        assert main(["run", str(path), "--out", str(ro / "run"), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "cannot create the run directory" in err, err
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)
