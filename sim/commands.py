"""The ``ionsim`` sub-commands: one table, :data:`COMMANDS`.

``sim.cli`` builds its parser from it, and ``python -m analysis.<module>``
(analysis.commands.run_standalone) finds its own command in it. The table names modules
and functions as strings, so reading it imports nothing.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass




@dataclass(frozen=True)
class Command:
    """One ``ionsim`` sub-command: ``module`` holds the function ``arguments(parser)`` that
    adds its arguments and the ``handler(args) -> exit code`` that runs it. A standalone
    command also runs as ``python -m <module>`` (analysis.commands.run_standalone); its
    --help description there and under ionsim is the module docstring's first line."""

    name: str
    module: str
    help: str
    arguments: str = "add_arguments"
    handler: str = "run_command"
    standalone: bool = True


#: Every ``ionsim`` sub-command, in --help order. The commands that work on finished runs
#: live in the analysis package; their modules are imported when the parser is built.
COMMANDS = (
    Command("run", "sim.cli", "simulate a scenario and write a run directory",
            arguments="_run_arguments", handler="cmd_run", standalone=False),
    Command("sweep", "sim.sweep_cli", "run a sweep file: scenarios over parameter values "
                                      "and seeds, on every core or a dask cluster",
            arguments="_sweep_arguments", handler="cmd_sweep", standalone=False),
    Command("check", "sim.cli", "validate a scenario and show what would run",
            arguments="_check_arguments", handler="cmd_check", standalone=False),
    Command("resume", "sim.cli", "continue an interrupted run from its checkpoint",
            arguments="_resume_arguments", handler="cmd_resume", standalone=False),
    Command("analyze", "analysis.nernst", "compare a run's membrane potential with Nernst, "
                                          "GHK and the capacitor; a run without membranes: "
                                          "its bulk thermodynamics (also: python -m "
                                          "analysis.nernst)"),
    Command("budget", "analysis.ion_budget", "how many ions crossed, and the same for a real "
                                             "cell (also: python -m analysis.ion_budget)"),
    Command("report", "analysis.report", "write report.md and report.html with tables and "
                                         "plots into the run directory (also: python -m "
                                         "analysis.report)"),
    Command("validate", "analysis.validate", "run the scenario library and engine checks "
                                             "against theory (also: python -m "
                                             "analysis.validate)"),
    Command("animate", "analysis.animate", "render a movie (MP4/GIF) or a still of a run",
            handler="cmd_animate"),
)


def command_for(module_name: str) -> Command:
    """The table's entry for the command that module implements."""
    return next(c for c in COMMANDS if c.module == module_name)


def describe(doc: str) -> str:
    """A module docstring's first line without its reST literals, for --help."""
    return re.sub(r":? ``[^`]*``", "", doc.strip().splitlines()[0]).rstrip(".:") + "."


def add_command(parser: argparse.ArgumentParser, command: Command, module) -> None:
    """Give a parser the command's arguments and handler (as ``args.handler``)."""
    getattr(module, command.arguments)(parser)
    parser.set_defaults(handler=getattr(module, command.handler))
