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


def register(subparsers) -> None:
    """Add ``analyze``, ``budget`` and ``report`` to the ``ionsim`` command line."""
    from analysis import ion_budget, nernst, report

    p = subparsers.add_parser(
        "analyze", help="compare a run's membrane potential with Nernst, GHK and the "
                        "capacitor (also: python -m analysis.nernst)",
        description=describe(nernst.__doc__))
    nernst.add_arguments(p)
    p.set_defaults(handler=nernst.run_command)

    p = subparsers.add_parser(
        "budget", help="how many ions crossed, and the same for a real cell "
                       "(also: python -m analysis.ion_budget)",
        description=describe(ion_budget.__doc__))
    ion_budget.add_arguments(p)
    p.set_defaults(handler=ion_budget.run_command)

    p = subparsers.add_parser(
        "report", help="write report.md and report.html with tables and plots into the run "
                       "directory (also: python -m analysis.report)",
        description=describe(report.__doc__))
    report.add_arguments(p)
    p.set_defaults(handler=report.run_command)

    from analysis import validate
    p = subparsers.add_parser(
        "validate", help="run the scenario library and engine checks against theory "
                         "(also: python -m analysis.validate)",
        description=describe(validate.__doc__))
    validate.add_arguments(p)
    p.set_defaults(handler=validate.run_command)


def run_standalone(prog: str, description: str, add_arguments, handler, argv=None) -> int:
    """Parse argv for one command and run it; a UserError prints one line, exit code 2."""
    from sim.cli import EXIT_USAGE, UserError
    parser = argparse.ArgumentParser(prog=prog, description=describe(description))
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return handler(args)
    except UserError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
