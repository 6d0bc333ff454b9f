"""The `ionsim` command line.

Errors the user can cause (a bad scenario, a missing run directory) print one line naming
the file, the key and what is accepted, and exit with code 2, without a traceback. A run
that becomes unphysical (NaN, blown-up force) exits with code 3 and keeps what it wrote.
Errors in ionsim itself keep their traceback.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from . import __version__
from .errors import EXIT_UNPHYSICAL, EXIT_USAGE, UserError  # noqa: F401 (re-exported)
from .scenario import ScenarioError, load_scenario

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ionsim", description=(
        "Brownian dynamics of discrete ions crossing a membrane through selective channels; "
        "the membrane potential emerges."))
    p.add_argument("--version", action="version", version=f"ionsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a scenario and write a run directory")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--out", help="run directory (default: runs/<scenario name>)")
    length = run.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="override run.steps")
    length.add_argument("--duration", metavar="TIME",
                        help="override the simulated time, with a unit (e.g. '100 ns')")
    run.add_argument("--seed", type=int, help="override run.seed")
    run.add_argument("--quiet", action="store_true", help="no progress bar or table")
    run.add_argument("--animate", action="store_true",
                     help="render the run's animation (animation.mp4) when it finishes")
    run.set_defaults(handler=cmd_run)

    check = sub.add_parser("check", help="validate a scenario and show what would run")
    check.add_argument("scenario", help="scenario YAML file")
    check.set_defaults(handler=cmd_check)

    resume = sub.add_parser("resume", help="continue an interrupted run from its checkpoint")
    resume.add_argument("run_dir", help="run directory with checkpoint.npz")
    resume.add_argument("--quiet", action="store_true")
    resume.set_defaults(handler=cmd_resume)
    # Commands that work on finished runs live in the analysis package; each module's
    # register(subparsers) adds its sub-commands with a handler.
    import importlib
    for name in PLUGIN_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        module.register(sub)
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ScenarioError, UserError) as err:
        print(f"ionsim: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ionsim: interrupted; the run directory holds everything up to the last "
              "checkpoint (continue with `ionsim resume RUN_DIR`)", file=sys.stderr)
        return 130


def _load(path, steps=None, seed=None, duration=None):
    scenario = load_scenario(path)
    changes = {}
    if duration is not None:
        from .units import UnitError, display_quantity, parse_quantity
        try:
            t = parse_quantity(duration, "time")
        except UnitError as err:
            raise UserError(f"--duration: {err}") from None
        steps = scenario.steps_for(t)
        if steps < 1:
            raise UserError(f"--duration: must be at least one time step "
                            f"({display_quantity(scenario.run.dt, 'time')}), got {duration!r}")
    if steps is not None:
        if steps < 0:
            raise UserError(f"--steps: must be >= 0, got {steps}")
        changes["steps"] = steps
    if seed is not None:
        if seed < 0:
            raise UserError(f"--seed: must be >= 0, got {seed}")
        changes["seed"] = seed
    return scenario.with_run(**changes) if changes else scenario


def cmd_run(args) -> int:
    from .run import SimulationError, run_scenario
    scenario = _load(args.scenario, args.steps, args.seed, args.duration)
    out = Path(args.out) if args.out else Path("runs") / scenario.name
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {out} exists and is not a directory")
    if out.exists() and any(out.iterdir()):
        if not (out / "scenario.yaml").exists():
            raise UserError(f"--out: {out} is a non-empty directory that is not an ionsim run; "
                            f"choose another --out")
        shutil.rmtree(out)
    say = (lambda *a: None) if args.quiet else print
    say(f"ionsim {__version__}: {scenario.name} -> {out}")
    try:
        result = run_scenario(scenario, out, quiet=args.quiet, log=say)
    except SimulationError as err:
        print(f"ionsim: run stopped: {err}; what was written so far is in {out}",
              file=sys.stderr)
        return EXIT_UNPHYSICAL
    except OSError as err:
        raise UserError(f"--out: cannot write the run directory {out}: {err}") from None
    from .report import finish_run
    finish_run(result, say)
    if args.animate:
        from analysis.animate import animate_run
        path = animate_run(out, quiet=args.quiet)
        say(f"animation: {path}")
    return 0


def cmd_resume(args) -> int:
    from .run import SimulationError, resume_run
    run_dir = Path(args.run_dir)
    if not (run_dir / "checkpoint.npz").exists():
        raise UserError(f"{run_dir}: no checkpoint.npz here (not an interrupted ionsim run)")
    say = (lambda *a: None) if args.quiet else print
    try:
        result = resume_run(run_dir, quiet=args.quiet, log=say)
    except SimulationError as err:
        print(f"ionsim: run stopped: {err}", file=sys.stderr)
        return EXIT_UNPHYSICAL
    from .report import finish_run
    finish_run(result, say)
    return 0


def cmd_check(args) -> int:
    from .report import describe_scenario
    scenario = load_scenario(args.scenario)
    print(describe_scenario(scenario))
    return 0


PLUGIN_MODULES = ("analysis.commands", "analysis.animate")
