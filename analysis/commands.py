"""``ionsim`` sub-commands that analyse finished runs: analyze, budget, report.

``sim.cli`` imports this module and calls :func:`register` with its sub-parsers. Each command
also runs on its own as ``python -m analysis.<module> RUN_DIR`` through :func:`run_standalone`,
which gives the same one-line errors and exit code 2 for mistakes a user can make.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run_standalone"]


def register(subparsers) -> None:
    """Add ``analyze``, ``budget`` and ``report`` to the ``ionsim`` command line."""
    from analysis import ion_budget, nernst, report

    p = subparsers.add_parser(
        "analyze", help="compare a run's membrane potential with Nernst, GHK and the "
                        "capacitor (also: python -m analysis.nernst)",
        description=nernst.__doc__.splitlines()[0])
    nernst.add_arguments(p)
    p.set_defaults(handler=nernst.run_command)

    p = subparsers.add_parser(
        "budget", help="how many ions crossed, and the same for a real cell "
                       "(also: python -m analysis.ion_budget)",
        description=ion_budget.__doc__.splitlines()[0])
    ion_budget.add_arguments(p)
    p.set_defaults(handler=ion_budget.run_command)

    p = subparsers.add_parser(
        "report", help="write report.md and report.html with tables and plots into the run "
                       "directory (also: python -m analysis.report)",
        description=report.__doc__.splitlines()[0])
    report.add_arguments(p)
    p.set_defaults(handler=report.run_command)


def run_standalone(prog: str, description: str, add_arguments, handler, argv=None) -> int:
    """Parse argv for one command and run it; a UserError prints one line, exit code 2."""
    from sim.cli import EXIT_USAGE, UserError
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return handler(args)
    except UserError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
