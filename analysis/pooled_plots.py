"""Figures of a pooled sweep (matplotlib, Agg backend), in the style of :mod:`analysis.plots`.

Every number comes from :mod:`analysis.pooled` and :mod:`analysis.pooled_fits`; ``draw_*``
draw on given axes, ``figure_*`` make a figure of a fixed size (``SIZES``, pixels at
``plots.DPI``). Potentials in mV, time in ns, error bars are the reported SE of
:class:`analysis.pooled.PooledPoint`:

- the Nernst plot: V_m against c_out/c_in (log axis) with the line (kT/ze) ln(c_out/c_in)
  and the fitted slope +- SE;
- V_m against the channel count, with the Nernst potential and the weighted mean;
- the lecture's two curves for one point: each replica thin, their mean +- SE as a band;
- the depth series (:func:`analysis.plots.draw_depth_series`).
"""

from __future__ import annotations

import math

import numpy as np

from sim.units import thermal_voltage_mV

from analysis import plots
from analysis.pooled import PooledPoint, PooledSweep, replica_series
from analysis.pooled_fits import FlatnessFit, SlopeFit, channel_count_x
from analysis.pooled_tables import point_label

__all__ = ["SIZES", "draw_nernst_slope", "draw_channel_count", "draw_replica_curves",
           "figure_nernst_slope", "figure_channel_count", "figure_lecture_curves",
           "figure_depth_series"]

#: figure name -> (width, height) in pixels at plots.DPI
SIZES = {"nernst_slope": (900, 600), "channel_count": (900, 550),
         "lecture_curves": (1000, 700)}


def _with_vm(pooled: PooledSweep) -> list[PooledPoint]:
    return [p for p in pooled.points
            if p.vm_mean is not None and p.vm_se is not None and math.isfinite(p.vm_se)]


def draw_nernst_slope(ax, pooled: PooledSweep, fit: SlopeFit | None) -> None:
    """V_m +- SE (mV) against c_out/c_in of the Nernst species (log axis), the activity-
    corrected Nernst potentials, the theory line and the fitted line."""
    sp = pooled.nernst_species
    pts = [(p, p.nernst_of(sp)) for p in _with_vm(pooled)]
    pts = [(p, n) for p, n in pts if n is not None and n.ratio > 0]
    if not pts:
        ax.text(0.5, 0.5, "no point with V_m and a c_out/c_in", transform=ax.transAxes,
                ha="center")
        return
    x = np.array([n.ratio for _, n in pts])
    ax.errorbar(x, [p.vm_mean for p, _ in pts], yerr=[p.vm_se for p, _ in pts], fmt="o",
                color="tab:blue", capsize=4, ms=7, zorder=3,
                label="simulation: V_m +/- SE (replica mean)")
    act = [(n.ratio, n.activity_mV) for _, n in pts if n.activity_mV is not None]
    if act:
        ax.plot(*zip(*act), "x", color="tab:purple", ms=8,
                label=f"Nernst {sp}, activity-corrected (measured bulk)")
    grid = np.geomspace(x.min() / 1.5, x.max() * 1.5, 200)
    z, t = pts[0][1].valence, pooled.temperature_K
    theory = fit.theory_mV_per_decade if fit else \
        thermal_voltage_mV(t) / z * math.log(10.0)
    ax.plot(grid, theory * np.log10(grid), color="k", lw=1.5,
            label=f"(kT/ze) ln(c_out/c_in): {theory:.1f} mV/decade at {t:g} K")
    if fit is not None:
        f = fit.fit
        chi = "" if f.chi2_per_dof is None else f", chi2/dof {f.chi2_per_dof:.2f}"
        ax.plot(grid, f.intercept + f.slope * np.log10(grid), color="tab:blue", ls="--",
                lw=1.2, label=f"fit: {f.slope:.1f} +/- {f.slope_se:.1f} mV/decade "
                              f"({fit.deviation:+.1f} SE from theory{chi})")
    ax.set_xscale("log")
    ax.set_xlabel(f"c_out / c_in of {sp} (initial concentrations)")
    ax.set_ylabel("V_m = V_in - V_out (mV)")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3, which="both")


def draw_channel_count(ax, pooled: PooledSweep, flat: FlatnessFit | None) -> None:
    """V_m +- SE (mV) against the channel count (:func:`analysis.pooled_fits.channel_count_x`),
    with the initial Nernst potential, the weighted mean +- SE and the fitted line."""
    pts = _with_vm(pooled)
    per_membrane = flat.per_membrane if flat is not None else False
    x = np.array([channel_count_x(p, per_membrane) for p in pts], dtype=float)
    ax.errorbar(x, [p.vm_mean for p in pts], yerr=[p.vm_se for p in pts], fmt="o",
                color="tab:blue", capsize=4, ms=7, zorder=3,
                label="simulation: V_m +/- SE (replica mean)")
    if flat is not None:
        if flat.nernst_mV is not None:
            ax.axhline(flat.nernst_mV, color="k", lw=1.5,
                       label=f"Nernst {pooled.nernst_species}, initial conc. "
                             f"({flat.nernst_mV:+.1f} mV)")
        chi = f", chi2/dof {flat.chi2 / flat.dof:.2f}" if flat.dof else ""
        ax.axhspan(flat.mean_mV - flat.mean_se_mV, flat.mean_mV + flat.mean_se_mV,
                   color="tab:blue", alpha=0.15, lw=0,
                   label=f"weighted mean {flat.mean_mV:+.1f} +/- {flat.mean_se_mV:.1f} mV"
                         f"{chi}")
        if flat.slope is not None and x.size:
            f = flat.slope
            grid = np.linspace(x.min(), x.max(), 50)
            ax.plot(grid, f.intercept + f.slope * grid, color="tab:blue", ls="--", lw=1.2,
                    label=f"fit: slope {f.slope:+.2f} +/- {f.slope_se:.2f} mV per channel")
        ax.set_xlabel(flat.x_label)
    else:
        ax.set_xlabel("channels (all membranes)")
    ax.set_ylabel("V_m = V_in - V_out (mV)")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)


def _band(ax, t, rows, mean, se, color, label):
    for row in rows:
        ax.plot(t, row, color=color, lw=0.7, alpha=0.45)
    ax.plot(t, mean, color=color, lw=1.8, label=label)
    ok = np.isfinite(se)
    if ok.any():
        ax.fill_between(t[ok], (mean - se)[ok], (mean + se)[ok], color=color, alpha=0.25,
                        lw=0)


def draw_replica_curves(top, bottom, point: PooledPoint, species: str | None) -> None:
    """The lecture's two curves over a point's replicas: net ``species`` moved inside ->
    outside (top, ions) and V_m (bottom, mV) against time (ns); each replica thin, the mean
    over the replicas with a +- SE band, the Nernst potentials and the pooled V_m."""
    series = replica_series(point, species)
    r = point.replicas_finished
    n = point.nernst_of(species)
    for ax in (top, bottom):
        plots.shade_equilibration(ax, series.t_equil_ns, label=ax is top)
    if series.moved is not None:
        _band(top, series.times_ns, series.moved, series.moved_mean, series.moved_se,
              "tab:orange", f"net {species} moved out: mean of {r} replicas +/- SE "
                            f"(thin: each replica)")
    top.set_ylabel("net ions moved out (ions)")
    if series.vm is None:
        bottom.text(0.5, 0.5, "no membrane potential in these runs",
                    transform=bottom.transAxes, ha="center")
    else:
        _band(bottom, series.times_ns, series.vm, series.vm_mean, series.vm_se, "tab:blue",
              f"V_m: mean of {r} replicas +/- SE (thin: each replica)")
        bottom.axhline(point.vm_mean, color="tab:blue", ls=":", lw=1.5,
                       label=f"pooled V_m {point.vm_mean:+.1f} +/- {point.vm_se:.1f} mV "
                             f"(SE from {point.se_source})")
    if n is not None and n.initial_mV is not None:
        bottom.axhline(n.initial_mV, color="tab:red", ls="--", lw=1.5,
                       label=f"Nernst {species}, initial conc. ({n.initial_mV:+.1f} mV)")
    if n is not None and n.bulk_mV is not None:
        bottom.axhline(n.bulk_mV, color="tab:green", ls="-.", lw=1.5,
                       label=f"Nernst {species}, measured bulk, replica mean "
                             f"({n.bulk_mV:+.1f} mV)")
    bottom.set_ylabel("V_m (mV)")
    bottom.set_xlabel("time (ns)")
    for ax in (top, bottom):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
        ax.grid(alpha=0.3)


def figure_nernst_slope(pooled: PooledSweep, fit: SlopeFit | None):
    fig, ax = plots.new_figure(SIZES["nernst_slope"])
    draw_nernst_slope(ax, pooled, fit)
    ax.set_title("the emergent membrane potential against the Nernst equation")
    return fig


def figure_channel_count(pooled: PooledSweep, flat: FlatnessFit | None):
    fig, ax = plots.new_figure(SIZES["channel_count"])
    draw_channel_count(ax, pooled, flat)
    ax.set_title("permeability sets the speed, not the potential")
    return fig


def figure_lecture_curves(pooled: PooledSweep, point: PooledPoint):
    fig, (top, bottom) = plots.new_figure(SIZES["lecture_curves"], 2, sharex=True)
    draw_replica_curves(top, bottom, point, pooled.nernst_species)
    values = point_label(point)
    ions = pooled.nernst_species or "no ion"
    top.set_title(f"point {point.index}" + (f" ({values})" if values else "")
                  + f", {point.replicas_finished} replicas: {ions} leaks out until the "
                    f"membrane potential holds it back", fontsize=10)
    return fig


def figure_depth_series(series):
    fig, ax = plots.new_figure(plots.SIZES["depth_series"])
    plots.draw_depth_series(ax, series)
    ax.set_title("few-ion charge separation: the crossed fraction falls as 1 / depth")
    return fig
