"""The agents' figure of ``ionsim report``: the fraction of each gating's channels open over
time beside its stationary theory, and the pumps' cumulative net cycles over time with their
acceleration in the title. Numbers come from :mod:`analysis.agents`; time in ns.
"""

from __future__ import annotations

import numpy as np

from sim.units import PS_PER_NS

from analysis.agents import AgentAnalysis, cumulative_net_cycles, open_fraction_series
from analysis.agents_text import accel_text
from analysis.plots import new_figure

__all__ = ["figure_agents", "draw_open_fraction", "draw_net_cycles", "SIZE"]

SIZE = (1000, 650)  # pixels at analysis.plots.DPI


def draw_open_fraction(ax, a: AgentAnalysis) -> None:
    """Each gating's fraction of channels open (steps) and its stationary theory (dashed)."""
    for k, g in enumerate(a.gates):
        t, f = open_fraction_series(g)
        t = np.append(t, a.window_ps[1])
        f = np.append(f, f[-1])
        line, = ax.step(t / PS_PER_NS, f, where="post", lw=1.2,
                        label=f"{g.label}: {g.open_mean:.3f} over the window")
        if g.theory_open is not None:
            ax.axhline(g.theory_open, ls="--", color=line.get_color(),
                       label=f"stationary theory {g.theory_open:.3f}")
    if a.window_ps[0] > 0:
        ax.axvspan(0, a.window_ps[0] / PS_PER_NS, color="0.85", zorder=0,
                   label="before the window")
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("fraction of channels open")
    ax.set_title("Gated channels: open fraction over time")
    ax.legend(fontsize=8, loc="best")


def draw_net_cycles(ax, a: AgentAnalysis, pump_events: dict) -> None:
    """All pumps' cumulative net cycles (out forward - out backward) against time, from the
    run's pump_events table."""
    led = a.pumps_total
    t, n = cumulative_net_cycles(pump_events)
    ax.step(np.append(t, a.window_ps[1]) / PS_PER_NS, np.append(n, n[-1]), where="post",
            lw=1.2, color="tab:red", label=f"net cycles of {len(a.pumps)} pump(s)")
    if a.window_ps[0] > 0:
        ax.axvspan(0, a.window_ps[0] / PS_PER_NS, color="0.85", zorder=0,
                   label="before the window")
    ax.set_ylabel("cumulative net cycles")
    ax.set_title(f"Pumps: net cycles over time ({accel_text(led.acceleration)}: a simulated "
                 f"ns is {_real_time_text(led.acceleration)} of the real pump's time)")
    ax.legend(fontsize=8, loc="best")


def _real_time_text(a: float | None) -> str:
    """What a simulated ns is in the real pump's time: 'A ns', in s where that reads
    better."""
    if a is None:
        return "A ns"
    seconds = a * 1e-9
    return f"{seconds:.3g} s" if seconds >= 1e-3 else f"{a:.3g} ns"


def figure_agents(a: AgentAnalysis, pump_events: dict):
    """The figure: open fraction (if the run has gated channels) above the cumulative net
    cycles (if it has pumps; `pump_events` is the run's pump_events table)."""
    panels = (["gates"] if a.gates else []) + (["pumps"] if a.pumps_total is not None else [])
    fig, axes = new_figure(SIZE, nrows=len(panels), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, what in zip(axes, panels):
        if what == "gates":
            draw_open_fraction(ax, a)
        else:
            draw_net_cycles(ax, a, pump_events)
    axes[-1].set_xlabel("time (ns)")
    return fig
