"""The emergent membrane potential against Nernst, GHK and the capacitor: ``ionsim analyze``.

Run as ``ionsim analyze RUN_DIR`` or ``python -m analysis.nernst RUN_DIR``.

This module is the command; the comparison it prints, and the physics behind it, is
:mod:`analysis.comparison` (its names are also importable from here).
"""

from __future__ import annotations

import argparse
import sys

from analysis.commands import run_standalone
from analysis.comparison import (GHKEstimate, NernstComparison, NernstRow,  # noqa: F401
                                 analyze_run, compare, comparison_lines, comparison_tables,
                                 equilibration_line, ghk_from_crossings, ion_size_nm,
                                 nernst_rows, permeability_from_crossings, vm_cell)

__all__ = ["NernstRow", "GHKEstimate", "NernstComparison", "compare", "ion_size_nm",
           "nernst_rows", "permeability_from_crossings", "ghk_from_crossings",
           "comparison_tables", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `ionsim run`")


def run_command(args) -> int:
    print("\n".join(comparison_lines(analyze_run(args.run_dir))))
    return 0


def main(argv=None) -> int:
    """``python -m analysis.nernst RUN_DIR``: same as ``ionsim analyze RUN_DIR``."""
    return run_standalone(__name__, argv)


if __name__ == "__main__":
    sys.exit(main())
