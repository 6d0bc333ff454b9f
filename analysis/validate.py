"""Run the validation cases against theory: ``ionsim validate``.

Run as ``ionsim validate [--quick | --full] [--out DIR] [--jobs N]`` or
``python -m analysis.validate``. Every scenario in scenarios/ that states a checkable
number, plus engine checks (free diffusion, harmonic well, Ewald vs a direct sum, the
capacitor), is run and held against its reference: simulated value +- SE, reference and
source, deviation in SE, verdict (PASS |dev| <= 3 SE; FAIL; INCONCLUSIVE when the error bar
cannot decide). Writes validation.md, validation.json, deviations.png and vm_traces.png into
DIR (default runs/validate), each run under DIR/runs/<case>; with --full that is a replica
directory, replicas added until the case can decide, at most --max-replicas
(analysis.validation.replicas).

Exit code: 0 when no case FAILs, 1 when one does, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import sys
import time
from pathlib import Path

from sim.errors import UserError

from analysis.commands import run_standalone
from analysis.validation import cases as case_module
from analysis.validation.output import (summary_line, table, write_json, write_markdown,
                                        write_plots)
from analysis.validation.replicas import MAX_REPLICAS
from analysis.validation.verdict import FAIL

__all__ = ["add_arguments", "run_command", "main", "validate", "select_cases"]

EXIT_FAIL = 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help="short runs (the default; about 4 minutes with --jobs 2 on 2 "
                           "cores)")
    mode.add_argument("--full", action="store_true",
                      help="each scenario's own (longer) duration")
    p.add_argument("--out", default="runs/validate",
                   help="output directory (default: runs/validate)")
    p.add_argument("--jobs", type=int, default=1, help="cases run in parallel (processes)")
    p.add_argument("--cases", nargs="+", metavar="CASE",
                   help=f"only these cases ({', '.join(c.name for c in case_module.CASES)})")
    p.add_argument("--duration", type=float, metavar="NS",
                   help="override every scenario's run length, ns (smoke tests)")
    p.add_argument("--reuse", action="store_true",
                   help="re-analyse the finished runs already in OUT/runs (same length) "
                        "instead of running them again")
    p.add_argument("--max-replicas", type=int, metavar="N",
                   help=f"--full: the most replicas a scenario case adds until it can "
                        f"decide (default {MAX_REPLICAS})")


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {out} exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not (out / "validation.json").exists() \
            and not (out / "runs").is_dir():
        raise UserError(f"--out: {out} is a non-empty directory that is not an ionsim "
                        f"validate output; choose another --out")


def validate(selected, out: Path, quick: bool, jobs: int, duration_ns=None, say=print,
             reuse=False, max_replicas: int = MAX_REPLICAS):
    """Run the cases (in parallel processes when jobs > 1); results in case order.
    ``max_replicas``: the cap on a scenario case's replicas with --full (quick: 1 run)."""
    order = sorted(range(len(selected)), key=lambda i: -selected[i].cost)
    results = [None] * len(selected)
    if jobs <= 1:
        for i in order:
            results[i] = case_module.run_case(selected[i], str(out), quick, duration_ns,
                                              reuse=reuse, max_replicas=max_replicas)
            _progress(results[i], say)
    else:
        with cf.ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(case_module.run_case, selected[i], str(out), quick,
                                   duration_ns, jobs, reuse, max_replicas): i
                       for i in order}
            for f in cf.as_completed(futures):
                results[futures[f]] = f.result()
                _progress(results[futures[f]], say)
    return [r for rs in results for r in rs]


def _progress(rs, say):
    for r in rs:
        runs = f", {r.replicas} replicas" if r.replicas > 1 else ""
        say(f"  {r.case}: {r.verdict} ({r.seconds:.0f} s{runs})")


def select_cases(names, full: bool):
    """(cases to run, cases left out). Named cases always run; without names, --quick leaves
    out the cases that only a full run can decide (Case.quick_ns None)."""
    known = {c.name: c for c in case_module.CASES}
    if names:
        unknown = [c for c in names if c not in known]
        if unknown:
            raise UserError(f"--cases: unknown case {', '.join(unknown)}; known: "
                            f"{', '.join(known)}")
        return [known[c] for c in names], []
    left_out = [] if full else [c for c in case_module.CASES
                                if c.scenario and c.quick_ns is None]
    return [c for c in case_module.CASES if c not in left_out], left_out


def _max_replicas(args) -> int:
    """--max-replicas: an integer >= 1, and only with --full (--quick runs each case once)."""
    if args.max_replicas is None:
        return MAX_REPLICAS
    if args.max_replicas < 1:
        raise UserError(f"--max-replicas: must be >= 1, got {args.max_replicas}")
    if not args.full:
        raise UserError("--max-replicas: only with --full (--quick runs each case once)")
    return args.max_replicas


def run_command(args) -> int:
    if args.jobs < 1:
        raise UserError(f"--jobs: must be >= 1, got {args.jobs}")
    if args.duration is not None and not args.duration > 0:
        raise UserError(f"--duration: must be > 0 ns, got {args.duration}")
    max_replicas = _max_replicas(args)
    selected, left_out = select_cases(args.cases, args.full)
    for c in left_out:
        print(f"--quick leaves out {c.name}: {c.full_only} (run it with --full, or name it "
              f"with --cases)")
    missing = [c.scenario for c in selected
               if c.scenario and not (case_module.SCENARIO_DIR / c.scenario).exists()]
    if missing:
        raise UserError(f"scenario files not found in {case_module.SCENARIO_DIR}: "
                        f"{', '.join(missing)} (an incomplete install: reinstall ionsim)")
    out = Path(args.out)
    _check_out(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out: cannot create {out}: {err}") from None
    quick = not args.full
    mode = "full" if args.full else "quick"
    print(f"ionsim validate --{mode}: {len(selected)} cases, {args.jobs} job(s) -> {out}")
    t0 = time.perf_counter()
    results = validate(selected, out, quick, args.jobs, args.duration, reuse=args.reuse,
                       max_replicas=max_replicas)
    wall = time.perf_counter() - t0
    header = (f"Mode --{mode}, {args.jobs} job(s), wall time {wall:.0f} s"
              + (f", runs of {args.duration:g} ns" if args.duration else "")
              + (f", up to {max_replicas} replicas per scenario case" if args.full else "")
              + (", finished runs re-analysed (--reuse)" if args.reuse else ""))
    print("\n".join(table(results, f"ionsim validate --{mode} ({wall:.0f} s)").text()))
    write_markdown(results, out / "validation.md", header)
    write_json(results, out / "validation.json",
               {"mode": mode, "jobs": args.jobs, "wall_time_s": wall,
                "duration_override_ns": args.duration,
                "max_replicas": max_replicas if args.full else 1})
    write_plots(results, out)
    print(f"written: {out / 'validation.md'}, validation.json, deviations.png")
    failed = [r.case for r in results if r.verdict == FAIL]
    if failed:
        print(f"FAIL: {', '.join(failed)}", file=sys.stderr)
        return EXIT_FAIL
    print(summary_line(results))
    return 0


def main(argv=None) -> int:
    """``python -m analysis.validate [options]``: same as ``ionsim validate``."""
    return run_standalone(__name__, argv)


if __name__ == "__main__":
    sys.exit(main())
