"""Plots of a finished run (matplotlib, Agg backend).

``draw_*`` functions draw on the axes they are given and compute nothing themselves: every
number comes from :mod:`analysis.runs`, :mod:`analysis.comparison`, :mod:`analysis.profiles`...
``figure_*`` functions make a whole figure of a fixed size (``SIZES``, pixels at ``DPI``) and
``save_png`` writes it. Units are on every axis; time is shown in ns, potentials in mV,
concentrations in mM.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sim.units import PS_PER_NS  # noqa: E402

from analysis.cell import thermal_voltage_noise_mV  # noqa: E402
from analysis.runs import INSIDE, OUTSIDE, running_mean  # noqa: E402

__all__ = ["DPI", "SIZES", "new_figure", "shade_membranes", "shade_equilibration",
           "draw_moved_out", "draw_membrane_potential", "draw_density_profiles",
           "draw_potential_profile", "draw_vm_histogram", "draw_channel_crossings",
           "draw_depth_series", "plot_profiles", "figure_lecture_curves", "figure_profiles",
           "figure_vm_histogram", "figure_channel_crossings", "save_depth_series", "save_png"]

DPI = 100
#: figure name -> (width, height) in pixels at DPI
SIZES = {"lecture_curves": (1000, 700), "profiles": (1000, 700), "vm_histogram": (800, 500),
         "channel_crossings": (1000, 500), "depth_series": (800, 550)}

_MEMBRANE_COLOR = "#d9c27a"
_EQUIL_COLOR = "0.85"


def _figure(name, nrows=1, sharex=False, height_ratios=None):
    return new_figure(SIZES[name], nrows, sharex, height_ratios)


def new_figure(size_px, nrows: int = 1, sharex: bool = False, height_ratios=None):
    """A figure of ``size_px`` (width, height) pixels at DPI with ``nrows`` axes in a column
    (constrained layout): (figure, axes or array of axes)."""
    w, h = size_px
    kw = {"height_ratios": height_ratios} if height_ratios else None
    fig, axes = plt.subplots(nrows, 1, figsize=(w / DPI, h / DPI), dpi=DPI, sharex=sharex,
                             gridspec_kw=kw, layout="constrained")
    return fig, axes


def save_png(fig, path) -> Path:
    """Write a figure as PNG at its own size (no tight bounding box) and close it."""
    path = Path(path)
    fig.savefig(path, dpi=DPI, format="png")
    plt.close(fig)
    return path


def shade_membranes(ax, bounds, label: bool = True) -> None:
    """Shade each membrane slab (z_lo, z_hi) nm on an axes whose x is z in nm."""
    for i, (lo, hi) in enumerate(bounds):
        ax.axvspan(lo, hi, color=_MEMBRANE_COLOR, alpha=0.6, lw=0,
                   label="membrane" if (label and i == 0) else None)


def shade_equilibration(ax, t_equil_ns, label=True):
    """Shade the equilibration period [0, t_equil_ns] (ns) that every mean leaves out."""
    if t_equil_ns > 0:
        ax.axvspan(0.0, t_equil_ns, color=_EQUIL_COLOR, alpha=0.6, lw=0,
                   label="equilibration (dropped)" if label else None)


# --- the lecture's two curves ---------------------------------------------------------------

def draw_moved_out(ax, m) -> None:
    """Net ions of each permeant species moved inside -> outside against time (ns)."""
    t_ns = m.times_ps / PS_PER_NS
    names = m.compartment_names
    shade_equilibration(ax, m.t_equil_ps / PS_PER_NS)
    by_position = m.charge_moved()
    for s in m.permeant:
        line, = ax.step(t_ns, m.moved_out[s], where="post", lw=1.5,
                        label=f"net {m.species_names[s]} moved {names[INSIDE]} -> "
                              f"{names[OUTSIDE]} (whole crossings)")
        if by_position is not None:
            ax.plot(m.frame_times_ps / PS_PER_NS, m.frame_moved[:, s], "o-", ms=3, lw=0.8,
                    color=line.get_color(), alpha=0.7,
                    label=f"{m.species_names[s]} incl. ions in pores (capacitor charge, "
                          f"frames)")
    if not m.permeant:
        ax.text(0.5, 0.5, "no permeant species", transform=ax.transAxes, ha="center")
    ax.set_ylabel("net ions moved out (ions)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=9)
    ax.grid(alpha=0.3)


def draw_membrane_potential(ax, m, rows) -> None:
    """V_m (mV) against time (ns) with its running mean +- SE and the Nernst lines.

    Args:
        ax: the axes.
        m: :class:`analysis.runs.Measurements` with V_m.
        rows: :class:`analysis.comparison.NernstRow` list (the Nernst lines).
    """
    t_equil_ns = m.t_equil_ps / PS_PER_NS
    shade_equilibration(ax, t_equil_ns, label=False)
    if m.vm_series is None:
        ax.text(0.5, 0.5, "no membrane potential in this run (electrostatics off)",
                transform=ax.transAxes, ha="center", va="center")
        ax.set_ylabel("V_m (mV)")
        return
    t_ns = m.vm_series.time / PS_PER_NS
    v = m.vm_series.value
    ax.plot(t_ns, v, color="tab:blue", lw=0.6, alpha=0.5, label="V_m (inside - outside)")
    g = m.vm.stats.statistical_inefficiency if m.vm.stats else 1.0
    mean, sem = running_mean(v[m.t0:], g)
    tt = t_ns[m.t0:]
    ax.plot(tt, mean, color="tab:blue", lw=2,
            label=f"running mean +/- SE (final {m.vm.mean:+.1f} +/- {m.vm.sem:.1f} mV)")
    ok = np.isfinite(sem)
    ax.fill_between(tt[ok], (mean - sem)[ok], (mean + sem)[ok], color="tab:blue", alpha=0.25,
                    lw=0)
    styles = [("initial", "--", "tab:red"), ("measured", "-.", "tab:green"),
              ("activity", ":", "tab:purple")]
    for r in rows:
        for kind, ls, color in styles:
            if kind == "initial" and r.initial_mV is not None:
                ax.axhline(r.initial_mV, ls=ls, color=color, lw=1.5,
                           label=f"Nernst {r.species}, initial conc. ({r.initial_mV:+.1f} mV)")
            elif kind == "measured" and r.measured is not None:
                ax.axhline(r.measured.mean, ls=ls, color=color, lw=1.5,
                           label=f"Nernst {r.species}, measured bulk "
                                 f"({r.measured.mean:+.1f} mV)")
            elif kind == "activity" and r.activity_mV is not None:
                ax.axhline(r.activity_mV, ls=ls, color=color, lw=1.5,
                           label=f"Nernst {r.species}, activity-corrected "
                                 f"({r.activity_mV:+.1f} mV)")
    ax.set_ylabel("V_m (mV)")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)


def figure_lecture_curves(m, rows):
    """The lecture's two curves on one time axis: ions moved out, and V_m (one panel when
    the run has no V_m)."""
    ions = "/".join(m.species_names[s] for s in m.permeant) or "no ion"
    if m.vm_series is None:
        fig, top = _figure("lecture_curves")
        draw_moved_out(top, m)
        top.set_xlabel("time (ns)")
        top.set_title(f"{ions} leaks out; without electrostatics nothing holds it back "
                      f"(no membrane potential)")
        return fig
    fig, (top, bottom) = _figure("lecture_curves", 2, sharex=True)
    draw_moved_out(top, m)
    draw_membrane_potential(bottom, m, rows)
    bottom.set_xlabel("time (ns)")
    top.set_title(f"{ions} leaks out until the membrane potential holds it back")
    return fig


# --- profiles -----------------------------------------------------------------------------

def draw_density_profiles(ax, prof) -> None:
    """Mean concentration of each species (mM, log scale) against z (nm), membranes shaded."""
    shade_membranes(ax, prof.membrane_bounds)
    for s, name in enumerate(prof.species_names):
        c = np.where(prof.density_mM[s] > 0, prof.density_mM[s], np.nan)
        ax.step(prof.z_nm, c, where="mid", lw=1.5, label=name)
    for k, (lo, hi) in enumerate(prof.windows_nm):
        ax.axvspan(lo, hi, ymin=0, ymax=0.04, color="k", alpha=0.5, lw=0,
                   label="bulk windows" if k == 0 else None)
    if np.nanmax(np.where(prof.density_mM > 0, prof.density_mM, np.nan),
                 initial=0.0) > 0:
        ax.set_yscale("log")
    ax.set_xlim(0, prof.z_nm[-1] + prof.bin_width_nm / 2)
    ax.set_ylabel("concentration (mM)")
    ax.set_title(f"density profiles, mean over {prof.n_samples} samples from "
                 f"{prof.start_ps_used / PS_PER_NS:.3g} ns")
    ax.legend(loc="best", fontsize=9)
    ax.grid(alpha=0.3, which="both")


def draw_potential_profile(ax, prof) -> None:
    """phi_bar(z) (mV, outside bulk = 0) against z (nm), membranes shaded."""
    if prof.phi_mV is None:
        ax.text(0.5, 0.5, "no potential profile (electrostatics off or no membranes)",
                transform=ax.transAxes, ha="center", va="center")
        ax.set_ylabel("phi_bar (mV)")
        return
    shade_membranes(ax, prof.membrane_bounds)
    ax.plot(prof.z_grid_nm, prof.phi_mV, color="k", lw=1.5,
            label="phi_bar(z) from the mean charge density (1-D Poisson, eps(z))")
    for k, ((lo, hi), v) in enumerate(zip(prof.windows_nm, prof.window_potentials_mV)):
        ax.hlines(v, lo, hi, color="tab:red", lw=3,
                  label="bulk-window means" if k == 0 else None)
    if prof.vm_from_profile_mV is not None:
        ax.text(0.01, 0.95, f"V_m from this profile: {prof.vm_from_profile_mV:+.1f} mV",
                transform=ax.transAxes, fontsize=9, va="top",
                bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    ax.set_ylabel("phi_bar (mV, outside bulk = 0)")
    ax.legend(loc="best", fontsize=9)
    ax.grid(alpha=0.3)


def plot_profiles(prof, ax=None):
    """Density profiles (and phi_bar on a twin axis when computed) on one axes, a new
    figure's when none is given: the plot of an :class:`analysis.profiles.Profiles`."""
    has_potential = prof.has_potential  # a Profiles not yet computed says so here
    if ax is None:
        _, ax = plt.subplots()
    draw_density_profiles(ax, prof)
    if has_potential:
        draw_potential_profile(ax.twinx(), prof)
    return ax


def figure_profiles(prof):
    """Density profiles above phi_bar(z) (density only when there is no potential)."""
    if prof.phi_mV is None:
        fig, top = _figure("profiles")
        draw_density_profiles(top, prof)
        top.set_xlabel("z (nm)")
        return fig
    fig, (top, bottom) = _figure("profiles", 2, sharex=True)
    draw_density_profiles(top, prof)
    draw_potential_profile(bottom, prof)
    bottom.set_xlabel("z (nm)")
    return fig


# --- V_m noise ------------------------------------------------------------------------------

def draw_vm_histogram(ax, m, capacitance, theory) -> None:
    """Histogram of the equilibrated V_m with the Gaussian of variance k_B T / C.

    Args:
        capacitance: :class:`analysis.capacitance.MeasuredCapacitance` or None.
        theory: :class:`analysis.capacitance.CapacitanceTheory` (series C) or None.
    """
    if m.vm_series is None:
        ax.text(0.5, 0.5, "no membrane potential in this run", transform=ax.transAxes,
                ha="center")
        ax.set_xlabel("V_m (mV)")
        return
    v = np.asarray(m.vm_series.value[m.t0:], dtype=float)
    bins = max(10, min(60, int(math.sqrt(v.size))))
    heights, _, _ = ax.hist(v, bins=bins, density=True, color="tab:blue", alpha=0.5,
                            label=f"V_m after equilibration ({v.size} samples)")
    top = float(np.max(heights)) if len(heights) else 1.0
    mean = float(np.mean(v))
    span = max(float(np.ptp(v)), 1e-6)
    if theory is not None:
        sd = thermal_voltage_noise_mV(theory.series_mean, theory.total_area_nm2,
                                      m.temperature)
        span = max(span, 8 * sd)
        x = np.linspace(mean - span / 2 - sd, mean + span / 2 + sd, 400)
        ax.plot(x, np.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi)),
                color="k", lw=2, label=f"Gaussian, Var = kT/C: C = {theory.series_mean:.3f} "
                                       f"uF/cm^2 (theory), sd {sd:.1f} mV")
    if capacitance is not None:
        ax.axvspan(mean - capacitance.std_mV, mean + capacitance.std_mV, color="tab:orange",
                   alpha=0.15, lw=0, label=f"measured sd {capacitance.std_mV:.1f} mV -> C = "
                                            f"{capacitance.c_uF_per_cm2:.3f} uF/cm^2")
    ax.set_xlabel("V_m (mV)")
    ax.set_ylabel("probability density (1/mV)")
    ax.set_ylim(0, 1.4 * max(top, ax.get_ylim()[1] / 1.05))  # room for the legend
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)


def figure_vm_histogram(m, capacitance, theory):
    fig, ax = _figure("vm_histogram")
    draw_vm_histogram(ax, m, capacitance, theory)
    ax.set_title("thermal noise of the membrane capacitor")
    return fig


# --- channels -----------------------------------------------------------------------------

def _channel_labels(sc):
    labels = []
    for k, mem in enumerate(sc.membranes):
        for j, ch in enumerate(mem.channels):
            labels.append((k, f"membrane {k} channel {j} at ({ch.x:.1f}, {ch.y:.1f}) nm, "
                              f"{'/'.join(ch.permeant)}"))
    return labels


def draw_channel_crossings(ax, m, max_labelled: int = 8) -> None:
    """Cumulative net crossings (inside -> outside) of each channel against time (ns)."""
    cr = m.run.crossings
    labels = _channel_labels(m.scenario)
    t_end = m.duration_ps / PS_PER_NS
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    active = sorted(set(int(c) for c in cr["channel"]))
    few = len(active) <= max_labelled
    seen_membranes = set()
    for c in active:
        sel = cr["channel"] == c
        t = np.concatenate([[0.0], cr["time"][sel] / PS_PER_NS, [t_end]])
        step = np.where((cr["from"][sel] == INSIDE) & (cr["to"][sel] == OUTSIDE), 1,
                        np.where((cr["from"][sel] == OUTSIDE) & (cr["to"][sel] == INSIDE),
                                 -1, 0))
        y = np.concatenate([[0], np.cumsum(step), [np.sum(step)]])
        membrane = labels[c][0] if c < len(labels) else 0
        if few:
            label, color = labels[c][1] if c < len(labels) else f"channel {c}", None
        else:
            color = colors[membrane % len(colors)]
            label = None if membrane in seen_membranes else f"channels of membrane {membrane}"
            seen_membranes.add(membrane)
        ax.step(t, y, where="post", lw=1.2, color=color, label=label)
    idle = len(labels) - len(active)
    names = m.compartment_names
    ax.set_title(f"crossings per channel ({len(active)} of {len(labels)} channels used"
                 + (f", {idle} without crossings)" if idle else ")"))
    if not active:
        ax.text(0.5, 0.5, "no ion crossed any channel", transform=ax.transAxes, ha="center")
    else:
        ax.legend(loc="best", fontsize=8)
    ax.set_xlim(0, max(t_end, 1e-9))
    ax.set_xlabel("time (ns)")
    ax.set_ylabel(f"net crossings {names[INSIDE]} -> {names[OUTSIDE]} (ions)"
                  if m.two_compartments else "net crossings (ions)")
    ax.grid(alpha=0.3)


def figure_channel_crossings(m):
    fig, ax = _figure("channel_crossings")
    draw_channel_crossings(ax, m)
    return fig


# --- depth series -----------------------------------------------------------------------------

def draw_depth_series(ax, series) -> None:
    """Crossed fraction against inside depth (nm) with the expected 1/depth lines."""
    d = np.array([p.depth_nm for p in series.points])
    f = np.array([p.fraction for p in series.points])
    e = np.array([p.fraction_sem for p in series.points])
    e = np.where(np.isfinite(e), e, 0.0)
    pores = any(p.counted != "whole crossings" for p in series.points)
    ax.errorbar(d, f, yerr=e, fmt="o", color="tab:blue", capsize=4, ms=7,
                label=f"simulation: net {series.species} moved out"
                      + (" (incl. ions in pores)" if pores else "") + " / placed inside")
    x = np.geomspace(d.min() * 0.8, d.max() * 1.25, 200)
    exp = [(p.depth_nm, p.expected_fraction) for p in series.points
           if p.expected_fraction is not None]
    if exp:
        k = float(np.mean([dd * ff for dd, ff in exp]))
        ax.plot(x, k / x, color="k", lw=1.5,
                label="expected: C A |E_Nernst| / e over ions placed (1 / depth)")
    ax.plot(x, series.fit_a_nm / x, color="tab:blue", ls="--", lw=1.2,
            label=f"fit a / depth, a = {series.fit_a_nm:.3g} nm")
    if np.all(f > 0):
        from matplotlib.ticker import NullFormatter
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(d)
        ax.set_xticklabels([f"{v:g}" for v in d])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("inside compartment depth (nm)")
    ax.set_ylabel(f"fraction of the inside's {series.species} that crossed")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3, which="both")


def save_depth_series(series, path) -> Path:
    """Draw the depth series and write it as PNG (UserError if the path is unwritable)."""
    from sim.errors import UserError
    fig, ax = _figure("depth_series")
    draw_depth_series(ax, series)
    ax.set_title("few-ion charge separation: the crossed fraction falls as 1 / depth")
    try:
        return save_png(fig, path)
    except OSError as err:
        plt.close(fig)
        raise UserError(f"--out: cannot write {path}: {err.strerror or err}") from None
