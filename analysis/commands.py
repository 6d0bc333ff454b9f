"""``ionsim`` sub-commands that analyse finished runs: analyze, budget, report.

``sim.cli`` imports this module and calls :func:`register` with its sub-parsers. Each command
also runs on its own as ``python -m analysis.<module> RUN_DIR`` through :func:`run_standalone`,
which gives the same one-line errors and exit code 2 for mistakes a user can make.
"""

from __future__ import annotations

import argparse
import re
import sys

__all__ = ["register", "run_standalone", "describe"]


def describe(doc: str) -> str:
    """A module docstring's first line without its reST literals, for --help."""
    return re.sub(r":? ``[^`]*``", "", doc.strip().splitlines()[0]).rstrip(".:") + "."


#: (sub-command, module, help); each module has add_arguments(parser) and run_command(args).
COMMANDS = (
    ("analyze", "nernst", "compare a run's membrane potential with Nernst, GHK and the "
                          "capacitor"),
    ("budget", "ion_budget", "how many ions crossed, and the same for a real cell"),
    ("report", "report", "write report.md and report.html with tables and plots into the "
                         "run directory"),
    ("validate", "validate", "run the scenario library and engine checks against theory"),
)


def register(subparsers) -> None:
    """Add the analysis sub-commands (COMMANDS) to the ``ionsim`` command line."""
    import importlib
    for name, module_name, help_text in COMMANDS:
        module = importlib.import_module(f"analysis.{module_name}")
        p = subparsers.add_parser(name, help=f"{help_text} (also: python -m "
                                             f"analysis.{module_name})",
                                  description=describe(module.__doc__))
        module.add_arguments(p)
        p.set_defaults(handler=module.run_command)


def run_standalone(prog: str, description: str, add_arguments, handler, argv=None) -> int:
    """Parse argv for one command and run it; a UserError prints one line, exit code 2."""
    from sim.errors import EXIT_USAGE, UserError
    parser = argparse.ArgumentParser(prog=prog, description=describe(description))
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return handler(args)
    except UserError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
