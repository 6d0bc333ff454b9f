"""How many ions made the membrane potential, and why that is negligible: ``ionsim budget``.

Run as ``ionsim budget RUN_DIR [--cell-radius 5um] [--pump-density 1000]`` or
``python -m analysis.ion_budget``. ``--pump-density`` (pumps per um^2 of the real cell's
membrane, an order of magnitude: :mod:`analysis.pump_cost`) matters only for a run with
pumps.

This module is the command; the budget it prints, and what it means, is :mod:`analysis.budget`
(its names are also importable from here).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.errors import UserError

from analysis.budget import (DEFAULT_CELL_RADIUS_UM, CellBudget, DepthPoint,  # noqa: F401
                             DepthSeries, SpeciesBudget, box_budget, budget_lines,
                             budget_tables, depth_series, lecture_claims, parse_radius_um,
                             real_cell_budget)
from analysis.commands import run_standalone
from analysis.pump_cost import DEFAULT_PUMP_DENSITY_PER_UM2, parse_pump_density
from analysis.runs import measure, open_run

__all__ = ["SpeciesBudget", "box_budget", "CellBudget", "real_cell_budget", "lecture_claims",
           "DepthPoint", "DepthSeries", "depth_series", "budget_tables", "parse_radius_um",
           "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="run directory written by `ionsim run` (several with --series)")
    p.add_argument("--cell-radius", default=f"{DEFAULT_CELL_RADIUS_UM:g}um",
                   help="radius of the real cell to compare with, with a unit "
                        "(default 5um)")
    p.add_argument("--pump-density", default=f"{DEFAULT_PUMP_DENSITY_PER_UM2:g}",
                   help="pumps per um^2 of the real cell's membrane, for a run with pumps "
                        "(default 1000; real cells 10^2 to 10^4)")
    p.add_argument("--series", action="store_true",
                   help="runs differing in compartment depth: crossed fraction against "
                        "depth, as a table and a PNG")
    p.add_argument("--out", default="depth_series.png",
                   help="PNG written by --series (default depth_series.png)")


def run_command(args) -> int:
    radius = parse_radius_um(args.cell_radius)
    density = parse_pump_density(args.pump_density)
    if args.series:
        series = depth_series(args.run_dirs)
        out = Path(args.out)
        from analysis.plots import save_depth_series
        save_depth_series(series, out)
        print("\n".join(series.table().text()))
        print(f"\nplot: {out}")
        return 0
    if len(args.run_dirs) != 1:
        raise UserError(f"budget takes one RUN_DIR (got {len(args.run_dirs)}); use --series "
                        f"to compare runs of different depths")
    m = measure(open_run(args.run_dirs[0]))
    if not m.two_compartments:
        raise UserError(f"{args.run_dirs[0]}: this run has no membranes, so no ion crosses "
                        f"anything; budget needs a run with membranes and channels")
    print("\n".join(budget_lines(m, radius, density)))
    return 0


def main(argv=None) -> int:
    """``python -m analysis.ion_budget RUN_DIR``: same as ``ionsim budget``."""
    return run_standalone(__name__, argv)


if __name__ == "__main__":
    sys.exit(main())
