"""The `ionsim` command line.

Errors the user can cause (a bad scenario, a missing run directory, an existing directory
that a run must not overwrite) print one line naming the file, the key and what is accepted,
and exit with code 2, without a traceback. A run that becomes unphysical (NaN, blown-up
force) or cannot write (a full disk) exits with code 3 and keeps what it wrote, its last
checkpoint resumable. Errors in ionsim itself keep their traceback.

The sub-commands are one table, :data:`COMMANDS`: the parser is built from it, and
``python -m analysis.<module>`` finds its own command in it. A scenario argument is a file or
the name of a shipped scenario (:func:`sim.library.resolve`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from . import __version__, library, rundir
from .rundir import default_out  # noqa: F401 (sim.api uses it from here)
from .commands import COMMANDS, add_command, describe  # noqa: F401 (the table's home)
from .errors import (EXIT_INTERRUPTED, EXIT_STOPPED, EXIT_UNPHYSICAL, EXIT_USAGE,  # noqa: F401
                     RunStopped, UserError)
from .io import SUMMARY, TRAJECTORY, read_scenario, summary_readable
from .limits import check_work
from .scenario import load_scenario
from .sweep_cli import add_cluster_arguments, replica_count, run_replicas
from .units import UnitError, display_quantity, parse_quantity


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ionsim", description=(
        "Brownian dynamics of discrete ions crossing a membrane through selective channels; "
        "the membrane potential emerges."))
    p.add_argument("--version", action="version", version=f"ionsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        try:
            module = importlib.import_module(command.module)
        except ModuleNotFoundError as err:
            # An install without the analysis package still runs, checks and resumes.
            if err.name not in (command.module, command.module.partition(".")[0]):
                raise
            continue
        description = describe(module.__doc__) if command.standalone else None
        add_command(sub.add_parser(command.name, help=command.help, description=description),
                    command, module)
    return p


SCENARIO_HELP = "scenario YAML file, or the name of a shipped one (e.g. potassium)"


def _run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("scenario", help=SCENARIO_HELP)
    run.add_argument("--out", help="run directory (default: runs/<scenario name>)")
    length = run.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="override run.steps")
    length.add_argument("--duration", metavar="TIME",
                        help="override the simulated time, with a unit (e.g. '100 ns')")
    run.add_argument("--seed", type=int, help="override run.seed")
    run.add_argument("--force", action="store_true",
                     help="replace an earlier run in --out (only ionsim's own files there "
                          "are removed)")
    run.add_argument("--yes", action="store_true",
                     help="go ahead with a run larger than the stated limits")
    run.add_argument("--quiet", action="store_true", help="no progress bar or table")
    run.add_argument("--animate", action="store_true",
                     help="render the run's animation (animation.mp4) when it finishes")
    run.add_argument("--replicas", metavar="N|auto",
                     help="N independent runs with seeds derived from run.seed, pooled (a "
                          "replica directory, run on one worker per core; auto: one replica "
                          "per core)")
    add_cluster_arguments(run)


def _check_arguments(check: argparse.ArgumentParser) -> None:
    check.add_argument("scenario", help=SCENARIO_HELP)
    check.add_argument("--yes", action="store_true",
                       help="accept a scenario larger than the stated limits")


def _resume_arguments(resume: argparse.ArgumentParser) -> None:
    resume.add_argument("run_dir", help="run directory with checkpoint.npz")
    resume.add_argument("--quiet", action="store_true")
    resume.add_argument("--new-trajectory", action="store_true",
                        help="save a run whose trajectory.h5 is damaged: keep it as "
                             "trajectory.damaged.h5 and continue into a new one from the "
                             "checkpoint")
    longer = resume.add_mutually_exclusive_group()
    longer.add_argument("--duration", metavar="TIME",
                        help="extend the run (finished or not) to this simulated time, with "
                             "a unit; the result equals a run that long from the start")
    longer.add_argument("--steps", type=int, help="extend the run to this many steps")
    resume.add_argument("--yes", action="store_true",
                        help="go ahead with an extension larger than the stated limits")


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except UserError as err:
        print(f"ionsim: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except RunStopped as err:
        print(f"ionsim: run stopped: {err}", file=sys.stderr)
        return EXIT_STOPPED
    except KeyboardInterrupt:
        print("ionsim: interrupted; the run directory holds everything up to the last "
              "checkpoint (continue with `ionsim resume RUN_DIR`)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`ionsim check S | head`): nothing is lost, say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


SEED_LIMIT = 2**63  # seeds are int64 in the checkpoint and the random streams' keys


def _load(path, steps=None, seed=None, duration=None, yes=False):
    return with_run_options(load_scenario(library.resolve(path)), steps, seed, duration, yes)


def with_run_options(scenario, steps=None, seed=None, duration=None, yes=False, flag="--"):
    """The scenario with `ionsim run`'s --steps, --seed and --duration applied and its work
    checked (sim.limits.check_work; `yes` allows a large run). `flag` prefixes the option
    names in messages ("" for the Python API's arguments)."""
    if duration is not None and steps is not None:
        raise UserError(f"give {flag}duration or {flag}steps, not both")
    changes = {}
    if duration is not None:
        try:
            t = parse_quantity(duration, "time")
        except UnitError as err:
            raise UserError(f"{flag}duration: {err}") from None
        steps = scenario.steps_for(t)
        if steps < 1:
            raise UserError(f"{flag}duration: must be at least one time step "
                            f"({display_quantity(scenario.run.dt, 'time')}), got {duration!r}")
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise UserError(f"{flag}steps: must be >= 1, got {steps!r}")
        changes["steps"] = steps
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
            raise UserError(f"{flag}seed: must be an integer in [0, 2^63), got {seed!r}")
        changes["seed"] = seed
    scenario = scenario.with_run(**changes) if changes else scenario
    check_work(scenario, allow_large=yes)
    return scenario


def cmd_run(args) -> int:
    from .run import SimulationError, run_scenario
    args.replicas = replica_count(args.replicas)
    if args.replicas is None and (args.workers or args.scheduler or args.scheduler_file):
        raise UserError("--workers, --scheduler and --scheduler-file go with --replicas "
                        "(one run uses this process's threads)")
    scenario = _load(args.scenario, args.steps, args.seed, args.duration, args.yes)
    if args.replicas is not None:
        return run_replicas(args, scenario)
    out = Path(args.out) if args.out else default_out(scenario)
    claim = rundir.claim(out, force=args.force)
    say = (lambda *a: None) if args.quiet else print
    try:
        say(f"ionsim {__version__}: {scenario.name} -> {out}")
        try:
            result = run_scenario(scenario, out, quiet=args.quiet, log=say, claim=claim)
        except SimulationError as err:
            print(f"ionsim: run stopped: {err}; what was written so far is in {out}",
                  file=sys.stderr)
            return EXIT_UNPHYSICAL
        finish(result, say)
    finally:
        claim.release()
    if args.animate:
        from analysis.movie import animate_run
        path = animate_run(out, quiet=args.quiet)
        say(f"animation: {path}")
    return 0


def finish(result, say):
    from .report import finish_run
    try:
        finish_run(result, say)
    except OSError as err:
        raise RunStopped(f"the run finished, but {result.run_dir / SUMMARY} cannot be "
                         f"written ({err.strerror or err}): free space, then `ionsim resume "
                         f"{result.run_dir}` writes it") from None


def cmd_resume(args) -> int:
    from .run import SimulationError, checkpoint_step, resume_run
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    rundir.check_consistent(run_dir)
    step = checkpoint_step(run_dir)
    scenario = read_scenario(run_dir)
    say = (lambda *a: None) if args.quiet else print
    claim = rundir.claim(run_dir, resume=True, flag=str(run_dir))
    try:
        if args.duration is not None or args.steps is not None:
            scenario = _extended(run_dir, scenario, step, args, say)
        if step >= scenario.run.steps:
            return _already_finished(run_dir, scenario, say)
        try:
            result = resume_run(run_dir, quiet=args.quiet, log=say, claim=claim,
                                new_trajectory=args.new_trajectory)
        except SimulationError as err:
            print(f"ionsim: run stopped: {err}", file=sys.stderr)
            return EXIT_UNPHYSICAL
        finish(result, say)
    finally:
        claim.release()
    return 0


def _extended(run_dir, scenario, step, args, say):
    """The run's scenario with more steps (--duration, --steps), written into its
    scenario.yaml (the run id kept) before the run continues; refused when it would not be
    longer than the checkpoint's step."""
    from .io import write_scenario
    longer = with_run_options(scenario, args.steps, None, args.duration, args.yes)
    flag = "--duration" if args.duration is not None else "--steps"
    if longer.run.steps <= step:
        ns = step * scenario.run.dt / 1000.0
        raise UserError(f"{flag}: the run has reached step {step} ({ns:g} ns) already; "
                        f"extend it to more than that (it cannot be shortened)")
    if longer.run.steps != scenario.run.steps:
        write_scenario(run_dir, longer)
        say(f"{run_dir}: extended from {scenario.run.steps} to {longer.run.steps} steps")
    return longer


def _already_finished(run_dir, scenario, say) -> int:
    """A finished run is left as it is; only a missing or unreadable summary.json (derived
    data) is written again from the trajectory."""
    from .io import RunData, salvage_hint
    from .report import rebuild_summary
    try:
        RunData(run_dir)
    except OSError as err:
        raise UserError(f"{run_dir / TRAJECTORY}: cannot be read ({err}); "
                        f"{salvage_hint(run_dir)}") from None
    ns = scenario.run.steps * scenario.run.dt / 1000.0
    print(f"{run_dir}: the run is finished ({scenario.run.steps} steps, {ns:g} ns); nothing "
          f"to resume", file=sys.stderr)
    if not summary_readable(run_dir):
        rebuild_summary(run_dir, say)
        print(f"{run_dir}: {SUMMARY} was missing or unreadable and has been rebuilt from the "
              f"trajectory", file=sys.stderr)
    return 0


def cmd_check(args) -> int:
    from .report import describe_scenario
    scenario = load_scenario(library.resolve(args.scenario))
    check_work(scenario, allow_large=args.yes)
    print(describe_scenario(scenario))
    return 0
