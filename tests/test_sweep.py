"""Sweeps and replicas (sim.sweep, sim.ensemble, ``ionsim sweep``, ``ionsim run --replicas``).

Bad sweep files are refused in one line before any work; each run's seed is derived from the
sweep's seed and recorded, so one run reruns alone bit for bit; a sweep run again skips what
finished; a directory of a different sweep is refused with what differs; a worker killed in
the middle of a run does not change any result.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.sweep import MAX_RUNS, load_sweep, member_seed, read_plan

from tests.run_files import h5_contents
from tests.scenario_factory import concentration_sweep

# The flagship for 4000 steps (0.2 ns), its equilibration shortened to fit: about 2 s a run
# on one thread once Numba's cache is warm.
SMALL = {"run.steps": 4000, "run.equilibration": "0.02 ns", "run.checkpoint_interval": 2000}


def _sweep_file(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _set_block(values: dict) -> str:
    return "set:\n" + "".join(f"  {k}: {v}\n" for k, v in values.items())


CONCENTRATION_SWEEP = concentration_sweep(steps=4000, seed=11, checkpoint_interval=2000)


# --- bad input: one line, exit 2, nothing written -------------------------------------------

BAD_SWEEPS = {
    "no such path": ("axes:\n  compartments[1].concentration.K+: [5 mM]\n",
                     "axes.compartments[1].concentration.K+: no such key"),
    "no unit": ("axes:\n  compartments[1].concentrations.K+: [5]\n",
                "axes.compartments[1].concentrations.K+: 5 has no unit"),
    "empty axis": ("axes:\n  compartments[1].concentrations.K+: []\n",
                   "axes.compartments[1].concentrations.K+: is empty"),
    "zip lengths": ("axes:\n  compartments[1].concentrations.K+: [5 mM, 6 mM]\n"
                    "  compartments[1].concentrations.A-: [5 mM]\ncombine: zip\n",
                    "axes: zipped axes must have the same number of values"),
    "bad combine": ("combine: outer\n", "combine: must be product or zip"),
    "zero replicas": ("replicas: 0\n", "replicas: must be an integer >= 1"),
    "unknown key": ("replica: 2\n", "replica: unknown key"),
    "refused value": ("axes:\n  compartments[1].concentrations.K+: [5 mM, 7 mM]\n",
                      "is not electroneutral"),
}


@pytest.mark.parametrize("case", sorted(BAD_SWEEPS))
def test_a_bad_sweep_file_is_refused_in_one_line_before_any_work(case, tmp_path, capsys):
    body, expected = BAD_SWEEPS[case]
    path = _sweep_file(tmp_path, "base: potassium\n" + body)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert str(path) in err and expected in err, err
    assert not out.exists()


def test_too_many_runs_need_yes(tmp_path, capsys):
    n = MAX_RUNS + 1
    path = _sweep_file(tmp_path, f"base: potassium\nreplicas: {n}\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{n} runs, more than {MAX_RUNS}; pass --yes" in err
    assert not (tmp_path / "o").exists()


def test_replicas_zero_and_cluster_options_without_replicas_are_refused(tmp_path, capsys):
    assert main(["run", "potassium", "--replicas", "0", "--out", str(tmp_path / "o")]) == 2
    assert "--replicas: must be an integer >= 1 or auto, got '0'" in capsys.readouterr().err
    assert main(["run", "potassium", "--replicas", "two", "--out", str(tmp_path / "o")]) == 2
    assert "got 'two'" in capsys.readouterr().err
    assert main(["run", "potassium", "--workers", "2", "--out", str(tmp_path / "o")]) == 2
    assert "go with --replicas" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_scheduler_that_does_not_answer_is_refused_within_seconds(tmp_path, capsys):
    import socket
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = _sweep_file(tmp_path, CONCENTRATION_SWEEP)
    t0 = time.perf_counter()
    code = main(["sweep", str(path), "--out", str(tmp_path / "o"), "--quiet",
                 "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert code == 2 and time.perf_counter() - t0 < 20
    err = capsys.readouterr().err
    assert "no scheduler answered within 5 s" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


# --- the plan -------------------------------------------------------------------------------

def test_points_and_seeds_of_a_product_sweep(tmp_path):
    path = _sweep_file(tmp_path, "base: potassium\naxes:\n  temperature: [300 K, 310 K]\n"
                                 "  run.dt: [0.02 ps, 0.04 ps, 0.05 ps]\nreplicas: 2\nseed: 5\n")
    sweep = load_sweep(path)
    assert len(sweep.points) == 6 and len(sweep.members) == 12
    assert sweep.points[1] == {"temperature": "300 K", "run.dt": "0.04 ps"}  # last axis fastest
    seeds = [m.seed for m in sweep.members]
    assert len(set(seeds)) == 12 and all(0 <= s < 2**63 for s in seeds)
    m = sweep.members[7]
    assert (m.point, m.replica, m.dir) == (3, 1, "p003-r001")
    assert m.seed == member_seed(5, 3, 1)
    sc = sweep.scenario(m)
    assert sc.run.seed == m.seed and sc.temperature == 310.0 and sc.run.dt == 0.02
    # more replicas keep the seeds of the runs already planned
    more = load_sweep(_sweep_file(tmp_path, path.read_text().replace("replicas: 2",
                                                                     "replicas: 3"), "b.yaml"))
    assert {(x.point, x.replica): x.seed for x in more.members}.items() >= \
        {(x.point, x.replica): x.seed for x in sweep.members}.items()


def test_aliased_membranes_are_set_separately(tmp_path):
    """potassium.yaml shares its membrane with a YAML alias; an axis on membranes[0] must
    not change membranes[1]."""
    path = _sweep_file(tmp_path, "base: potassium\naxes:\n"
                                 "  membranes[0].channels[0].count: [4]\n")
    sc = load_sweep(path).scenarios[0]
    assert [len(m.channels) for m in sc.membranes] == [4, 36]


# --- running --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def concentration_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    path = _sweep_file(tmp, CONCENTRATION_SWEEP)
    out = tmp / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet", "--workers", "2"]) == 0
    return path, out


def test_a_sweep_writes_one_run_directory_per_run_with_its_seed(concentration_sweep):
    path, out = concentration_sweep
    plan = read_plan(out)
    assert [r["dir"] for r in plan["runs"]] == ["p000-r000", "p000-r001", "p001-r000",
                                                "p001-r001"]
    for r in plan["runs"]:
        run_dir = out / r["dir"]
        assert json.loads((run_dir / "summary.json").read_text())["steps"] == 4000
        text = (run_dir / "scenario.yaml").read_text()
        assert f"seed: {r['seed']}" in text
    assert "50 mM" in (out / "p001-r000" / "scenario.yaml").read_text()


def test_one_run_of_a_sweep_reruns_alone_bit_for_bit(concentration_sweep, tmp_path):
    _, out = concentration_sweep
    alone = tmp_path / "alone"
    assert main(["run", str(out / "p001-r001" / "scenario.yaml"), "--out", str(alone),
                 "--quiet"]) == 0
    a, _ = h5_contents(out / "p001-r001" / "trajectory.h5")
    b, _ = h5_contents(alone / "trajectory.h5")
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_a_sweep_run_again_skips_what_finished(concentration_sweep, capsys):
    path, out = concentration_sweep
    before = {p: p.stat().st_mtime_ns for p in out.glob("p*/trajectory.h5")}
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    assert "all 4 runs had finished" in capsys.readouterr().out
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("p*/trajectory.h5")}


def test_a_different_sweep_in_the_directory_is_refused_saying_what_differs(
        concentration_sweep, tmp_path, capsys):
    path, out = concentration_sweep
    other = _sweep_file(tmp_path, path.read_text().replace("50 mM", "40 mM")
                        .replace("seed: 11", "seed: 12"), "other.yaml")
    assert main(["sweep", str(other), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "holds a different sweep" in err and "axes:" in err and "seed: 11 before, 12 now" \
        in err, err


def _pids(client) -> set[int]:
    return set(client.run(os.getpid).values())


@pytest.mark.filterwarnings("ignore:Port .* is already in use")  # another cluster's port
def test_a_killed_worker_does_not_change_any_result(tmp_path):
    """One worker, two runs; the worker is killed (SIGKILL) after the first run's first
    checkpoint. The nanny starts a new worker, the scheduler gives it the task again, the
    run resumes from its checkpoint: every dataset equals the uninterrupted sweep's. A
    client passed in is not closed."""
    from distributed import Client, LocalCluster

    from sim.ensemble import WORKER_ENV, run_sweep

    small = dict(SMALL, **{"run.steps": 8000})
    text = ("base: potassium\nreplicas: 2\nseed: 3\n" + _set_block(small))
    sweep = load_sweep(_sweep_file(tmp_path, text))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None, env=dict(WORKER_ENV)) as cluster, \
            Client(cluster) as client:
        reference = tmp_path / "reference"
        run_sweep(sweep, reference, client=client, quiet=True, log=lambda *a: None)
        killed = tmp_path / "killed"
        first_pids = _pids(client)
        done = {}
        worker = threading.Thread(target=lambda: done.setdefault(
            "result", run_sweep(sweep, killed, client=client, quiet=True,
                                log=lambda *a: None)))
        worker.start()
        checkpoint = killed / "p000-r000" / "checkpoint.npz"
        deadline = time.time() + 120
        while not checkpoint.exists() and time.time() < deadline:
            time.sleep(0.05)
        assert checkpoint.exists(), "the first run wrote no checkpoint"
        assert not (killed / "p000-r000" / "summary.json").exists(), "killed too late"
        for pid in first_pids:
            os.kill(pid, signal.SIGKILL)
        worker.join(timeout=300)
        assert not worker.is_alive() and "result" in done
        assert _pids(client).isdisjoint(first_pids), "the worker was not replaced"
        assert client.status == "running"  # the caller's client is left open
    for run in ("p000-r000", "p000-r001"):
        a, attrs_a = h5_contents(reference / run / "trajectory.h5")
        b, attrs_b = h5_contents(killed / run / "trajectory.h5")
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{run}: {name}")


def test_run_with_replicas_makes_a_replica_directory(tmp_path, capsys):
    out = tmp_path / "k"
    for flag in ("--force", "--animate"):
        assert main(["run", "potassium", "--replicas", "2", "--out", str(out), flag]) == 2
        assert f"{flag}:" in capsys.readouterr().err
    assert main(["run", "potassium", "--replicas", "2", "--steps", "1000", "--workers", "2",
                 "--out", str(out), "--quiet"]) == 0
    plan = read_plan(out)
    assert plan["replicas"] == 2 and plan["spec"]["axes"] == []
    seeds = [r["seed"] for r in plan["runs"]]
    assert seeds == [member_seed(1, 0, 0), member_seed(1, 0, 1)]  # potassium's run.seed: 1
    for r in plan["runs"]:
        assert json.loads((out / r["dir"] / "summary.json").read_text())["steps"] == 1000


def test_one_run_and_replicas_do_not_take_each_others_directory(concentration_sweep, tmp_path,
                                                                capsys):
    _, out = concentration_sweep
    assert main(["run", "potassium", "--steps", "10", "--out", str(out), "--quiet"]) == 2
    assert "holds a sweep or replica directory" in capsys.readouterr().err
    single = tmp_path / "single"
    assert main(["run", "potassium", "--steps", "10", "--out", str(single), "--quiet"]) == 0
    assert main(["run", "potassium", "--replicas", "2", "--steps", "10", "--out", str(single),
                 "--quiet"]) == 2
    assert "holds one run" in capsys.readouterr().err


def test_the_python_api_pools_a_finished_sweep_without_running_it_again(concentration_sweep):
    from sim import api
    path, out = concentration_sweep
    before = {p: p.stat().st_mtime_ns for p in out.glob("p*/trajectory.h5")}
    pooled = api.sweep(path, out)
    assert [len(p.replicas) for p in pooled.points] == [2, 2]
    assert "pooled over replicas" in str(api.analyze(out))
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("p*/trajectory.h5")}


def test_the_compile_lock_admits_one_process_at_a_time(tmp_path):
    """Numba's first compilation runs under CompileLock: a second process must wait until
    the holder lets go (after its run's first step, or at close)."""
    import subprocess
    import sys

    from sim.ensemble import CompileLock
    path = tmp_path / "compile.lock"
    probe = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
             "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)")
    lock = CompileLock(path).acquire()
    held = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True)
    assert held.returncode != 0 and b"BlockingIOError" in held.stderr
    lock.tune(None, 5)   # the run's first step
    lock.tune(None, 5)   # ... is not done yet
    assert subprocess.run([sys.executable, "-c", probe, str(path)]).returncode != 0
    lock.tune(None, 6)   # the second step: every kernel has run once
    assert subprocess.run([sys.executable, "-c", probe, str(path)]).returncode == 0
