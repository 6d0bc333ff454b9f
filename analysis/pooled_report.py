"""A sweep's report: ``ionsim report SWEEP_DIR`` writes report.md and report.html into the
sweep directory (:mod:`analysis.report_writer` writes the pages).

The report holds the pooled table of ``ionsim analyze SWEEP_DIR`` (and writes its
pooled.csv and pooled.json), the fits the axes call for and the figures, each also a PNG
beside the report (``report_*.png``): the Nernst plot with its fitted slope, V_m against the
channel count, the depth series, and the lecture's two curves as replica means for each
point (the first :data:`MAX_CURVE_FIGURES`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sim import __version__
from sim.units import PS_PER_NS, thermal_voltage_mV

from analysis import pooled_plots
from analysis.pooled import pool
from analysis.pooled_fits import fits_for
from analysis.pooled_tables import pooled_tables, write_tables
from analysis.report_writer import Report, save_figures, write_documents

__all__ = ["write_pooled_report", "PLOT_CAPTIONS", "MAX_CURVE_FIGURES"]

#: The lecture's curves are drawn for this many points at most (one figure each).
MAX_CURVE_FIGURES = 8

#: plot key -> caption (the lecture curves: one key per point, ``lecture_curves_pNNN``)
PLOT_CAPTIONS = {
    "nernst_slope": "The Nernst plot: V_m (replica mean +- the reported SE) against c_out/c_in "
                    "on a log axis, the line (kT/ze) ln(c_out/c_in) and the weighted "
                    "least-squares fit with its slope +- SE.",
    "channel_count": "V_m against the number of channels: the Nernst potential holds for any "
                     "permeability; the band is the weighted mean +- SE.",
    "depth_series": "Crossed fraction of the inside's ions against the inside's depth, replica "
                    "means, with the capacitor's expectation C A |E| / e (1 / depth) and the "
                    "fit a / depth.",
    "lecture_curves": "The lecture's two curves over the replicas of point {index}: net ions "
                      "moved out (top) and V_m (bottom); thin lines each replica, thick the "
                      "mean over the replicas with a +- SE band; grey the equilibration left "
                      "out of every mean.",
}


def _figures(pooled, slope, flat, depth) -> tuple[dict, dict]:
    """(key -> figure, key -> caption) of what applies."""
    figs, captions = {}, {}
    if slope is not None:
        figs["nernst_slope"] = pooled_plots.figure_nernst_slope(pooled, slope)
    if flat is not None:
        figs["channel_count"] = pooled_plots.figure_channel_count(pooled, flat)
    if depth is not None:
        figs["depth_series"] = pooled_plots.figure_depth_series(depth)
    captions.update({k: PLOT_CAPTIONS[k] for k in figs})
    if pooled.points[0].measurements[0].two_compartments:
        for p in pooled.points[:MAX_CURVE_FIGURES]:
            key = f"lecture_curves_p{p.index:03d}"
            figs[key] = pooled_plots.figure_lecture_curves(pooled, p)
            captions[key] = PLOT_CAPTIONS["lecture_curves"].format(index=p.index)
        if len(pooled.points) > MAX_CURVE_FIGURES:
            pooled.notes.append(f"the lecture's curves are drawn for the first "
                                f"{MAX_CURVE_FIGURES} of {len(pooled.points)} points")
    return figs, captions


def _stale_curve_files(out: Path) -> dict:
    """The lecture-curve PNGs an earlier report left (key -> name), to be replaced."""
    return {p.stem[len("report_"):]: p.name for p in out.glob("report_lecture_curves_p*.png")}


def write_pooled_report(sweep_dir) -> Report:
    """Pool a sweep directory, write pooled.csv / pooled.json, draw its figures and write
    report.md, report.html and the PNGs into it.

    Raises:
        sim.errors.UserError: not a sweep directory, a damaged sweep.json, no finished run,
            or the directory is not writable.
    """
    pooled = pool(sweep_dir)
    out = pooled.dir
    slope, flat, depth = fits_for(pooled)
    tables = pooled_tables(pooled, slope, flat, depth)
    write_tables(pooled)
    figs, captions = _figures(pooled, slope, flat, depth)
    files = {key: f"report_{key}.png" for key in PLOT_CAPTIONS if key != "lecture_curves"}
    files.update(_stale_curve_files(out))
    files.update({key: f"report_{key}.png" for key in figs})
    pngs = save_figures(figs, out, files, "sweep directory")

    t = pooled.temperature_K
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    first = pooled.points[0].measurements[0]
    facts = [
        f"sweep directory `{out}`, written {stamp} by ionsim {__version__}",
        f"sweep file `{pooled.source}`, base scenario {pooled.base!r}, seed {pooled.seed}",
        "axes: " + (", ".join(f"`{a}`" for a in pooled.axes) + f" (combine {pooled.combine})"
                    if pooled.axes else "none (replicas of one scenario)"),
        f"{len(pooled.points)} points pooled, {pooled.runs_pooled} of {pooled.runs_planned} "
        f"runs; {len(first.run.species)} ions per run, "
        f"{first.duration_ps / PS_PER_NS:.3g} ns each, T = {t:g} K (kT/e = "
        f"{thermal_voltage_mV(t):.2f} mV)",
    ]
    title = f"ionsim report: {Path(pooled.source).stem or out.name}, pooled over replicas"
    md, html = write_documents(
        out, title, facts, [("Membrane potential and theory", tables)],
        pooled.notes, [(key, path, captions[key]) for key, path in pngs.items()],
        "sweep directory")
    return Report(md, html, pngs)
