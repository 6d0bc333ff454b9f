"""``ionsim sweep SWEEP.yaml`` and ``ionsim run SCENARIO --replicas N``: many runs on dask.

Both make a sweep directory (sim.sweep: ``sweep.json`` and one run directory per run) and
run it with sim.ensemble: on a LocalCluster of one worker per core by default, or on an
existing cluster (``--scheduler ADDRESS`` or ``--scheduler-file FILE``). Running the same
command again skips the finished runs and resumes the interrupted ones. The pooled table
(analysis.pooled) closes the run; ``ionsim analyze`` and ``ionsim report`` on the directory
give it again, with plots.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import UserError
from .rundir import default_out
from .sweep import MAX_RUNS, Sweep, load_sweep, replicas_of

__all__ = ["add_cluster_arguments", "replica_count", "run_replicas", "cmd_sweep"]


def add_cluster_arguments(p: argparse.ArgumentParser) -> None:
    """--workers, --scheduler, --scheduler-file: where the runs of a sweep execute."""
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes of the local cluster (default: one per core; each "
                        "runs one run on one thread)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on an existing dask cluster (e.g. tcp://10.0.0.1:8786)")
    where.add_argument("--scheduler-file", metavar="FILE",
                       help="run on the dask cluster whose scheduler wrote FILE (dask "
                            "scheduler --scheduler-file FILE; see the README for SLURM/PBS)")


def _sweep_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep", help="sweep YAML file, or the name of a shipped one (e.g. "
                                 "nernst_slope)")
    p.add_argument("--out", help="sweep directory (default: runs/<sweep file name>)")
    p.add_argument("--yes", action="store_true",
                   help=f"go ahead with more than {MAX_RUNS} runs, or runs larger than the "
                        f"stated limits")
    p.add_argument("--quiet", action="store_true", help="no progress bar or table")
    add_cluster_arguments(p)


def replica_count(value: str | None) -> int | None:
    """--replicas: an integer >= 1, or ``auto`` for one replica per core."""
    if value is None:
        return None
    if value == "auto":
        from .ensemble import available_cores
        return available_cores()
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise UserError(f"--replicas: must be an integer >= 1 or auto, got {value!r}")
    return n


def _check_workers(workers) -> None:
    if workers is not None and workers < 1:
        raise UserError(f"--workers: must be >= 1, got {workers}")


def cmd_sweep(args) -> int:
    _check_workers(args.workers)
    sweep = load_sweep(args.sweep)
    out = Path(args.out) if args.out else sweep.default_directory()
    return _run(sweep, out, args)


def run_replicas(args, scenario) -> int:
    """``ionsim run SCENARIO --replicas N``: N runs with derived seeds into one directory."""
    if args.animate:
        raise UserError("--animate: animates one run; with --replicas, animate one of them "
                        "afterwards (ionsim animate RUN_DIR/p000-r000)")
    if args.force:
        raise UserError("--force: not with --replicas: a replica directory is continued when "
                        "run again (finished runs kept, interrupted ones resumed); choose "
                        "another --out for a new one")
    _check_workers(args.workers)
    sweep = replicas_of(scenario, args.replicas)
    out = Path(args.out) if args.out else default_out(scenario)
    return _run(sweep, out, args)


def _run(sweep: Sweep, out: Path, args) -> int:
    from . import __version__
    from .ensemble import run_sweep
    say = (lambda *a: None) if args.quiet else print
    say(f"ionsim {__version__}: {len(sweep.points)} point(s) x {sweep.replicas} replica(s) "
        f"-> {out}")
    result = run_sweep(sweep, out, scheduler=args.scheduler,
                       scheduler_file=args.scheduler_file, workers=args.workers,
                       quiet=args.quiet, yes=args.yes, log=say)
    ran = [o for o in result.outcomes if not o.get("skipped")]
    say(f"{out}: {len(result.outcomes)} runs ({len(ran)} run now, "
        f"{len(result.outcomes) - len(ran)} finished before), "
        f"{sum(o['crossings'] for o in result.outcomes)} crossings, "
        f"{result.wall_time_s:.0f} s")
    if not args.quiet:
        _print_pooled(out, say)
    return 0


def _print_pooled(out: Path, say) -> None:
    try:
        from analysis.nernst import analyze_sweep
    except ImportError:  # an install without the analysis package
        return
    analyze_sweep(out, say)
