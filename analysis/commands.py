"""Running an analysis sub-command on its own: ``python -m analysis.<module> ...``.

The sub-commands are registered once, in ``sim.commands.COMMANDS``; each analysis module there
keeps its ``add_arguments(parser)`` and its handler, and its ``main(argv)`` is one call of
:func:`run_standalone`, which builds the same parser as ``ionsim <command>`` (under the
program name ``python -m analysis.<module>``) and gives the same one-line errors with exit
code 2 for mistakes a user can make.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.commands import add_command, command_for, describe
from sim.errors import EXIT_USAGE, UserError

__all__ = ["run_standalone"]


def run_standalone(module_name: str, argv=None) -> int:
    """Parse argv for the command that module `module_name` implements and run it.

    Pass the calling module's ``__name__``: under ``python -m`` that is ``"__main__"``, and
    the module is then used as it runs rather than imported a second time.
    """
    module = sys.modules[module_name]
    # Run as a file (python analysis/nernst.py) the module has no spec; its file names it.
    name = getattr(module.__spec__, "name", None) or f"analysis.{Path(module.__file__).stem}"
    prog = f"python -m {name}"
    parser = argparse.ArgumentParser(prog=prog, description=describe(module.__doc__))
    add_command(parser, command_for(name), module)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UserError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
