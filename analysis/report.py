"""A run report: ``ionsim report RUN_DIR`` writes report.md and report.html into the run.

Run as ``ionsim report RUN_DIR [--cell-radius 5um]`` or ``python -m analysis.report RUN_DIR``.
Given a sweep or replica directory (one with a ``sweep.json``), it writes the pooled report
into it instead (:mod:`analysis.pooled_report`), with pooled.csv and pooled.json.

This module is the command; what the report holds, and the writing of it, is
:mod:`analysis.report_writer` (its names are also importable from here).
"""

from __future__ import annotations

import argparse
import sys

from sim.sweep import is_sweep_directory

from analysis.budget import DEFAULT_CELL_RADIUS_UM, parse_radius_um
from analysis.commands import run_standalone
from analysis.pooled_report import write_pooled_report
from analysis.report_writer import PLOT_FILES, Report, write_report  # noqa: F401

__all__ = ["Report", "write_report", "write_pooled_report", "PLOT_FILES", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="run directory written by `ionsim run`, or a sweep or replica "
                        "directory (`ionsim sweep`, `ionsim run --replicas N`) to pool")
    p.add_argument("--cell-radius", default=f"{DEFAULT_CELL_RADIUS_UM:g}um",
                   help="radius of the real cell in the ion budget, with a unit (default 5um; "
                        "a run's report only)")


def run_command(args) -> int:
    radius = parse_radius_um(args.cell_radius)
    if is_sweep_directory(args.run_dir):
        rep = write_pooled_report(args.run_dir)
    else:
        rep = write_report(args.run_dir, radius)
    print(f"report: {rep.markdown}")
    print(f"        {rep.html} (self-contained)")
    for path in rep.pngs.values():
        print(f"plot:   {path}")
    return 0


def main(argv=None) -> int:
    """``python -m analysis.report RUN_DIR``: same as ``ionsim report RUN_DIR``."""
    return run_standalone(__name__, argv)


if __name__ == "__main__":
    sys.exit(main())
