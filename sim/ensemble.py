"""Running a sweep's runs (sim.sweep) on dask.distributed: every core, or any cluster.

:func:`run_sweep` plans the sweep directory (its ``sweep.json``), skips the runs that have
finished, and submits the others as tasks (``pure=False``: a run is not a pure function of
its arguments for Dask's cache, it writes files) to

- a ``LocalCluster`` it starts and closes: one worker process per core (or ``workers``),
  one thread and one Numba thread each (``NUMBA_NUM_THREADS=1`` in the workers'
  environment), since independent runs scale better than threads within one small run;
- an existing scheduler (``scheduler``, an address, or ``scheduler_file``): its client is
  opened and closed here, the cluster is left running;
- a ``distributed.Client`` the caller passes in: used and never closed.

Nothing is lost: each run is an ordinary run directory (sim.run) with its checkpoints. A
task whose worker dies is started again by the scheduler elsewhere and resumes from the
run's last checkpoint, so the result equals an uninterrupted run's bit for bit; a sweep run
again skips what finished and resumes what was interrupted. A run that fails (an
unphysical state) is reported with its directory; the others go on.

Numba's on-disk cache is written by the first process that compiles a kernel; several
compiling at once have corrupted it ("pickle data was truncated"). Each task therefore
compiles, when it must, under an exclusive lock on the machine (:class:`CompileLock`, held
until the run's first step is done, by which time every kernel it uses is compiled or
loaded): the first worker compiles, the others then load the cache.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import rundir
from .console import show_progress
from .errors import RunStopped, UserError
from .loop import Trigger, Tuner
from .simulation import SimulationError
from .sweep import MAX_RUNS, Member, Sweep, check_same_sweep, is_sweep_directory, write_plan
from .threads import available_cores

__all__ = ["run_sweep", "SweepResult", "run_member", "member_state", "CONNECT_TIMEOUT_S",
           "CompileLock", "available_cores"]

CONNECT_TIMEOUT_S = 5.0  # an address that does not answer in this time is refused
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}


@dataclass
class SweepResult:
    """A finished (or partly failed) sweep: its directory, the plan, one outcome per run
    (``dir``, ``skipped``, ``crossings``, ``wall_time_s``; ``error`` for a failed run) and
    the wall time."""
    sweep_dir: Path
    sweep: Sweep
    outcomes: list[dict] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def failed(self) -> list[dict]:
        return [o for o in self.outcomes if o.get("error")]


# --- one run, on a worker -------------------------------------------------------------------

class CompileLock(Tuner):
    """An exclusive ``flock`` on a file in the temp directory, held from before the run's
    set-up until its first step is done (a Tuner: it lets go at the first call after the
    start step; :meth:`release_after` makes that its only call). Serialises Numba's first
    compilation on one machine."""

    trigger = Trigger(every=1)

    def __init__(self, path: Path | None = None):
        self.path = path or Path(tempfile.gettempdir()) / f"ionsim-numba-{os.getuid()}.lock"
        self._fd = None
        self._start = None

    def acquire(self) -> "CompileLock":
        import fcntl
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def release_after(self, start_step: int, dt: float) -> "CompileLock":
        """Fire once, at the step after ``start_step`` (the run's first, of dt ps), rather
        than every step of the run."""
        self._start = start_step
        self.trigger = Trigger(at_ps=((start_step + 1) * dt,))
        return self

    def tune(self, sim, step: int) -> None:
        if self._start is None:
            self._start = step
        elif step > self._start:
            self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def member_state(run_dir: Path, steps: int) -> str:
    """``finished`` (the checkpoint is at the last step), ``interrupted`` (a checkpoint before
    it) or ``new`` (no run here yet, or one killed before its first checkpoint)."""
    from .io import CHECKPOINT, load_checkpoint
    if not (Path(run_dir) / CHECKPOINT).exists():
        return "new"
    try:
        step = int(load_checkpoint(run_dir)["step"])
    except Exception:  # noqa: BLE001 - a checkpoint torn by a kill: start the run again
        return "new"
    return "finished" if step >= steps else "interrupted"


def run_member(run_dir: str, scenario_tree: dict, source: str) -> dict:
    """Run (or resume, or only report) one run of a sweep; the task a worker executes.

    Returns the outcome (:func:`_outcome`): ``dir``, ``skipped`` (it had finished before),
    ``crossings``, ``wall_time_s``."""
    from .io import summary_readable
    from .report import finish_run, rebuild_summary
    from .run import checkpoint_step, resume_run, run_scenario
    from .scenario import parse_scenario

    quiet = lambda *a: None  # noqa: E731
    scenario = parse_scenario(scenario_tree, source)
    path = Path(run_dir)
    state = member_state(path, scenario.run.steps)
    t0 = time.perf_counter()
    if state == "finished":
        if not summary_readable(path):
            rebuild_summary(path, quiet)
    else:
        start = checkpoint_step(path) if state == "interrupted" else 0
        lock = CompileLock().acquire().release_after(start, scenario.run.dt)
        try:
            if state == "interrupted":
                result = resume_run(path, quiet=True, log=quiet, extra_operations=[lock])
            else:
                result = run_scenario(scenario, path, quiet=True, log=quiet, force=True,
                                      extra_operations=[lock])
        finally:
            lock.close()
        finish_run(result, quiet)
    return _outcome(path, state == "finished", time.perf_counter() - t0)


# --- the cluster ----------------------------------------------------------------------------

@contextlib.contextmanager
def _client(client=None, scheduler=None, scheduler_file=None, workers=None):
    """The client to submit to, and whether this function owns it (and its cluster)."""
    if client is not None:
        yield client  # the caller's: never closed here
        return
    from distributed import Client
    if scheduler or scheduler_file:
        what = f"--scheduler {scheduler}" if scheduler else f"--scheduler-file {scheduler_file}"
        if scheduler_file and not Path(scheduler_file).is_file():
            raise UserError(f"--scheduler-file: {scheduler_file}: no such file (dask "
                            f"writes it when the scheduler starts: dask scheduler "
                            f"--scheduler-file FILE)")
        try:
            own = Client(scheduler, scheduler_file=scheduler_file,
                         timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError, ValueError) as err:
            why = str(err).splitlines()[0][:120] if str(err) else "no answer"
            raise UserError(f"{what}: no scheduler answered within {CONNECT_TIMEOUT_S:g} s "
                            f"({type(err).__name__}: {why})") from None
        with own:
            yield own
        return
    import logging
    import warnings

    from distributed import LocalCluster
    n = workers or available_cores()
    # The scheduler's HTTP server (health checks) tries port 8787 first and warns when
    # another cluster holds it, then takes a free port: nothing the user must act on.
    warnings.filterwarnings("ignore", message=r"Port \d+ is already in use", category=UserWarning)
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR,
                      env=dict(WORKER_ENV)) as cluster, Client(cluster) as own:
        yield own


# --- the sweep ------------------------------------------------------------------------------

def check_sweep_size(sweep: Sweep, yes: bool) -> None:
    """Refuse more than MAX_RUNS runs without ``yes``, and a point too large for one run
    (sim.limits.check_work)."""
    from .limits import check_work
    n = len(sweep.points) * sweep.replicas
    if n > MAX_RUNS and not yes:
        raise UserError(f"{sweep.source}: {len(sweep.points)} points x {sweep.replicas} "
                        f"replicas = {n} runs, more than {MAX_RUNS}; pass --yes to go ahead")
    for sc in sweep.scenarios:
        check_work(sc, allow_large=yes)


def _take_directory(out: Path, sweep: Sweep) -> rundir.RunLock:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if is_sweep_directory(out):
            check_same_sweep(out, sweep)
        elif rundir.is_run_directory(out):
            raise UserError(f"--out: {out} holds one run (ionsim run without --replicas); "
                            f"nothing was changed: choose another --out for the replicas")
        else:
            raise UserError(f"--out: {out} is a non-empty directory that is not an ionsim "
                            f"sweep; nothing was changed: choose a new or empty directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = rundir.RunLock(out).acquire()
        write_plan(out, sweep)
    except OSError as err:
        raise UserError(f"--out: cannot write the sweep directory {out}: "
                        f"{err.strerror or err}") from None
    return lock


def run_sweep(sweep: Sweep, out, *, client=None, scheduler: str | None = None,
              scheduler_file: str | None = None, workers: int | None = None,
              quiet: bool = False, yes: bool = False, log=print) -> SweepResult:
    """Run every run of a sweep into ``out`` (a new directory, or this sweep's, which is
    continued), on dask.distributed.

    Args:
        sweep: the plan (sim.sweep.load_sweep or replicas_of).
        out: the sweep directory.
        client: a ``distributed.Client`` to use (never closed here).
        scheduler, scheduler_file: join an existing cluster instead.
        workers: the LocalCluster's worker processes (default: one per core, at most one
            per run to do).
        quiet: no progress bar.
        yes: allow more than MAX_RUNS runs, or runs larger than sim.limits allows.

    Raises:
        UserError: the sweep is too large, the directory is another sweep's (naming what
            differs) or not a sweep's, the scheduler does not answer.
        RunStopped: some runs failed (the others finished; their directories are listed).
    """
    out = Path(out)
    check_sweep_size(sweep, yes)
    t0 = time.perf_counter()
    result = SweepResult(out, sweep)
    with contextlib.ExitStack() as stack:
        if client is None and (scheduler or scheduler_file):
            # first, so that an address that does not answer is refused before any writing
            client = stack.enter_context(_client(None, scheduler, scheduler_file))
        lock = _take_directory(out, sweep)
        stack.callback(lock.release)
        members = sweep.members
        todo = []
        for m in members:
            state = member_state(out / m.dir, sweep.scenarios[m.point].run.steps)
            if state == "finished" and (out / m.dir / rundir.SUMMARY).exists():
                result.outcomes.append(_outcome(out / m.dir, skipped=True))
            else:
                todo.append(m)
        if todo:
            log(f"{sweep.source}: {len(members)} runs ({len(members) - len(todo)} finished "
                f"before) -> {out}")
            local_workers = workers or min(available_cores(), len(todo))
            c = stack.enter_context(_client(client, workers=local_workers))
            result.outcomes += _execute(c, sweep, out, todo, len(members) - len(todo),
                                        sum(o["crossings"] for o in result.outcomes),
                                        quiet, log)
        else:
            log(f"{out}: all {len(members)} runs had finished; nothing to run")
    result.wall_time_s = time.perf_counter() - t0
    order = {m.dir: m.index for m in sweep.members}
    result.outcomes.sort(key=lambda o: order[o["dir"]])
    bugs = [o for o in result.failed if "exception" in o]
    if bugs:  # an error in ionsim keeps its traceback (the worker's, carried by dask)
        raise RuntimeError(f"{out / bugs[0]['dir']}: the run raised (the other runs "
                           f"finished)") from bugs[0]["exception"]
    if result.failed:
        lines = "; ".join(f"{o['dir']}: {o['error']}" for o in result.failed[:3])
        raise RunStopped(f"{len(result.failed)} of {len(result.outcomes)} runs failed "
                         f"({lines}); the others finished. Run the sweep again to retry "
                         f"them (finished runs are kept)")
    return result


def _outcome(run_dir: Path, skipped: bool, wall_time_s: float = 0.0) -> dict:
    """A run's outcome in a sweep: its directory's name, whether it had finished before,
    its crossings (summary.json's total) and the wall time spent on it now."""
    import json
    try:
        summary = json.loads((run_dir / rundir.SUMMARY).read_text())
        crossings = int(summary.get("total_crossings", 0))
    except (OSError, ValueError):
        crossings = 0
    return {"dir": run_dir.name, "skipped": skipped, "crossings": crossings,
            "wall_time_s": wall_time_s}


def _execute(client, sweep: Sweep, out: Path, todo: list[Member], done_before: int,
             crossings_before: int, quiet: bool, log) -> list[dict]:
    from distributed import as_completed
    futures = {}
    for m in todo:
        sc = sweep.scenario(m)
        f = client.submit(run_member, str((out / m.dir).resolve()), sc.to_dict(),
                          sc.source, pure=False, key=f"ionsim-{m.dir}-{os.urandom(4).hex()}")
        futures[f] = m
    bar = _progress_bar(len(todo) + done_before, done_before, quiet)
    outcomes, crossings = [], crossings_before
    try:
        for f in as_completed(futures):
            m = futures[f]
            try:
                outcome = f.result()
            except (UserError, RunStopped, SimulationError) as err:
                outcome = {"dir": m.dir, "error": str(err), "crossings": 0}
            except Exception as err:  # noqa: BLE001 - the other runs go on; re-raised after
                outcome = {"dir": m.dir, "error": f"{type(err).__name__}: {err}",
                           "crossings": 0, "exception": err}
            outcomes.append(outcome)
            crossings += outcome.get("crossings", 0)
            if bar is not None:
                bar.set_postfix_str(f"crossings {crossings}", refresh=False)
                bar.update(1)
            elif not quiet:
                log(f"  {m.dir}: " + (f"FAILED: {outcome['error']}" if outcome.get("error")
                                      else f"{outcome['crossings']} crossings, "
                                           f"{outcome['wall_time_s']:.0f} s"))
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise
    finally:
        if bar is not None:
            bar.close()
    return outcomes


def _progress_bar(total: int, initial: int, quiet: bool):
    if not show_progress(quiet):
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, unit="run", desc="sweep", dynamic_ncols=True)
