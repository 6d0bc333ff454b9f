"""The emergent membrane potential against Nernst, GHK and the capacitor: ``ionsim analyze``.

Run as ``ionsim analyze RUN_DIR`` or ``python -m analysis.nernst RUN_DIR``. Given a sweep or
replica directory (one with a ``sweep.json``), it pools each point's replicas instead, prints
the pooled table (and the Nernst slope or the channel-count fit where the axes call for
them) and writes pooled.csv and pooled.json into the directory. Given a run without
membranes (a bulk electrolyte, no membrane potential), it prints the run's bulk
thermodynamics instead: energies per ion, the osmotic coefficient and the Widom gamma_+-
against the MSA and Debye-Hueckel (:mod:`analysis.bulk_thermo`). A run with gated channels or
pumps also gets their tables (:mod:`analysis.agents`), with or without a membrane potential
(without one, V_m reads n/a and the gates are compared at V = 0, as the engine ran them).

This module is the command; the comparison it prints, and the physics behind it, is
:mod:`analysis.comparison` (its names are also importable from here), the pooling
:mod:`analysis.pooled` (fits :mod:`analysis.pooled_fits`, tables :mod:`analysis.pooled_tables`).
"""

from __future__ import annotations

import argparse
import sys

from sim.sweep import is_sweep_directory

from analysis.agents import has_agents
from analysis.bulk_thermo import bulk_thermodynamics, thermo_lines
from analysis.commands import run_standalone
from analysis.comparison import (GHKEstimate, NernstComparison, NernstRow,  # noqa: F401
                                 analyze_run, compare, comparison_lines, comparison_tables,
                                 equilibration_line, ghk_from_crossings, ion_size_nm,
                                 nernst_rows, permeability_from_crossings, vm_cell)
from analysis.pooled import pool
from analysis.pooled_fits import fits_for
from analysis.pooled_tables import pooled_lines, write_tables
from analysis.runs import measure, open_run

__all__ = ["NernstRow", "GHKEstimate", "NernstComparison", "compare", "ion_size_nm",
           "nernst_rows", "permeability_from_crossings", "ghk_from_crossings",
           "comparison_tables", "analyze_sweep", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="run directory written by `ionsim run`, or a sweep or replica "
                        "directory (`ionsim sweep`, `ionsim run --replicas N`) to pool")


def run_command(args) -> int:
    if is_sweep_directory(args.run_dir):
        analyze_sweep(args.run_dir)
        return 0
    run = open_run(args.run_dir)
    if not run.scenario.membranes:  # a bulk electrolyte: its thermodynamics
        print("\n".join(thermo_lines(bulk_thermodynamics(run))))
        return 0
    if has_agents(run.scenario) and "membrane_potential" not in run.observable_names:
        # the agents have something to say without V_m: the comparison with V_m n/a
        print("\n".join(comparison_lines(compare(measure(run)))))
        return 0
    print("\n".join(comparison_lines(analyze_run(args.run_dir))))
    return 0


def analyze_sweep(sweep_dir, say=print) -> None:
    """Pool a sweep or replica directory: print the pooled table and its fits, and write
    pooled.csv and pooled.json into it (also the closing table of ``ionsim sweep``)."""
    pooled = pool(sweep_dir)
    slope, flat, depth = fits_for(pooled)
    lines = pooled_lines(pooled, slope, flat, depth)
    paths = write_tables(pooled)
    say("\n".join(lines + [""] + [f"table: {p}" for p in paths]))


def main(argv=None) -> int:
    """``python -m analysis.nernst RUN_DIR``: same as ``ionsim analyze RUN_DIR``."""
    return run_standalone(__name__, argv)


if __name__ == "__main__":
    sys.exit(main())
