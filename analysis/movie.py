"""Animations of a finished run: ions leaking through channels while the membrane charges
(the command is :mod:`analysis.animate`).

``ionsim animate RUN_DIR`` (also ``python -m analysis.animate RUN_DIR``) renders a movie:

- left, the box seen from the side (x horizontal, z vertical, projected along y). Membranes
  are shaded bands, each channel a pore through its band; ions are dots coloured per species
  and drawn to scale (their diameter in nm) wherever that stays readable (never smaller than
  ``MIN_ION_PT`` points). z is shown periodically wrapped so that compartment 0 ("inside")
  sits in the middle between its two membranes, with the outside above and below.
  An ion that crossed a channel since the previous frame gets a ring and a label naming where
  it went; the ring fades over the next ``~0.6 s`` of movie so the eye catches it.
  ``--view top`` shows instead the plane of membrane 0 from above: the channel mouths and the
  ions within ``TOP_NEAR_NM`` of its faces; ``--view both`` shows the two side by side.
  Agents (sim.gating, sim.pumps), in both views: a gated channel's pore is drawn grey and
  hatched while its gate is in a non-conducting state (from its initial state and the gate
  events at steps <= the frame's); a pump is a blue footprint in its membrane with a diamond
  at its centre that flashes (yellow, larger) in a frame whose step window holds one of its
  half-cycles, and the ions pumps carried in that window get a blue ring. The title then
  names the pumps' acceleration factor. A run without agents looks as it did before them.
- right, on one simulated-time axis (ns) that grows with the movie: the membrane potential
  V_m(t) = phi(compartment 0) - phi(compartment 1) in mV (instantaneous samples, thin, and
  their running mean, bold) with the Nernst potential of each permeant species as a labelled
  dashed line; below it the net number of ions of each permeant species moved out of
  compartment 0, ``counts[0, 0, s] - counts[t, 0, s]``. Runs without electrostatics have no
  V_m: the panel is left out and the title says so.
- the title carries the clock (ns) and the current V_m (the running mean, in mV).

Speed. The figure is built once. Everything that does not move (axes, ticks, membranes,
pores, Nernst lines, legends) is drawn once into a background that each frame restores
(blitting); each frame then redraws only the moving artists (ions, rings, growing curves,
title) and hands the RGBA buffer straight to the encoder. A 600-frame 1280x720 movie renders
in seconds, not minutes, and no frame is kept after it is encoded.

Frames come from the H5MD file (positions every ``run.frame_interval``); the time series
from the observables (every ``run.sample_interval``); crossing events from
``/ionsim/crossings``: a frame at step F shows the crossings with F_prev < step <= F, F_prev
the previous frame shown (for the run's first frame, every step up to it); pump and gate
events from ``/ionsim/pump_events``, ``pump_transfers`` and ``gate_events`` (sim.io) the same
way. Agents act before a step's snapshot (sim.loop), so a frame shows their events' effects.

API: :func:`animate_run` (what ``ionsim run --animate`` calls), :func:`render_movie`,
:func:`render_pngs` (selected frames to PNG files: tests and the README still) and
:class:`RunAnimation` (the figure; ``draw(i)`` returns frame i as an RGBA array).
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import blended_transform_factory

from sim.console import show_progress
from sim.errors import UserError
from sim.io import RunData
from sim.units import PER_NM3_TO_MM, PS_PER_NS

from analysis.animation_writers import FORMATS, ffmpeg_exe, open_writer
from analysis.runs import open_run, permeant_species
from analysis.theory import nernst_mV

__all__ = ["animate_run", "render_movie", "render_pngs", "RunAnimation", "select_frames",
           "parse_window", "species_color", "MEMBRANE_COLOR", "VIEWS"]

VIEWS = ("side", "top", "both")

# Colours: fixed per known species so every movie of a course agrees (K+ violet as in the
# CPK convention, Cl- green, Na+ amber); others take the tab10 cycle.
SPECIES_COLORS = {"K+": "#7b3fc4", "Na+": "#e59400", "Cl-": "#2e9e44", "Ca2+": "#1b9fb8",
                  "A-": "#5a6f8c", "X+": "#9a6a3a"}
FALLBACK_COLORS = ("#d62728", "#17becf", "#bcbd22", "#e377c2", "#8c564b", "#7f7f7f")
MEMBRANE_COLOR = "#e8c98a"   # lipid tan
MEMBRANE_EDGE = "#a88440"
PORE_COLOR = "#eef6ff"       # water in the pore
PORE_WALL = "#6b4f1d"
WATER_COLOR = "#ffffff"
HIGHLIGHT_COLOR = "#ff1f5a"  # ring around an ion that just crossed
CLOSED_COLOR = "#8c8c8c"     # a closed gate's pore (hatched)
CLOSED_EDGE = "#3c3c3c"
PUMP_FILL = "#b7c8ee"        # a pump's footprint in the membrane
PUMP_COLOR = "#2b59c3"       # its marker, and the ring around an ion it carried
PUMP_FLASH = "#ffe600"       # its marker in a frame where it made a half-cycle

FIG_SIZE_IN = (12.8, 7.2)    # 1280 x 720 px at the default 100 dpi
MIN_ION_PT = 3.0             # smallest drawn ion diameter, points
TOP_NEAR_NM = 1.0            # top view: ions within this distance of the membrane faces
HOLD_S = 0.6                 # how long (movie seconds) a crossing ring stays visible
AVERAGE_FRACTION = 0.08       # V_m running-mean window, as a fraction of the time span
N_LABELS = 8                 # crossing labels shown at once (the rest get rings only)
PUMP_PT, PUMP_FLASH_PT = 8.0, 15.0  # pump marker size, points: resting, flashing


def species_color(name: str, index: int) -> str:
    """The colour of species `name` (index = its position in the scenario, for others)."""
    return SPECIES_COLORS.get(name, FALLBACK_COLORS[index % len(FALLBACK_COLORS)])


def parse_window(text) -> tuple[float, float | None]:
    """``--window``: 'T' (the first T ns), 'T0:T1' or 'T0:' (from T0 ns to the end).

    Returns (t0_ns, t1_ns or None). Raises UserError naming the option.
    """
    if text is None:
        return 0.0, None
    if isinstance(text, (int, float)):
        parts = ["", str(text)]
    else:
        s = str(text).strip().removesuffix("ns").strip()
        parts = s.split(":") if ":" in s else ["", s]
    accepted = "accepted: 'T' (first T ns), 'T0:T1' or 'T0:' in ns, e.g. --window 5 or 2:8"
    if len(parts) != 2:
        raise UserError(f"--window: cannot read {text!r}; {accepted}")
    try:
        t0 = float(parts[0]) if parts[0].strip() else 0.0
        t1 = float(parts[1]) if parts[1].strip() else None
    except ValueError:
        raise UserError(f"--window: cannot read {text!r}; {accepted}") from None
    if not math.isfinite(t0) or t0 < 0 or (t1 is not None and (not math.isfinite(t1)
                                                              or t1 <= t0)):
        raise UserError(f"--window: {text!r} is not a time span of positive length from "
                        f">= 0 ns; {accepted}")
    return t0, t1


def select_frames(run: RunData, window=None, every: int = 1, minimum: int = 2) -> np.ndarray:
    """Indices of the frames a movie shows: those inside `window` (see parse_window), every
    `every`-th. Raises UserError when fewer than `minimum` remain."""
    if every < 1:
        raise UserError(f"--every: must be an integer >= 1, got {every}")
    if run.n_frames == 0:
        raise UserError(f"{run.dir}: the run has no frames (trajectory.h5 holds no positions); "
                        f"rerun with a run.frame_interval shorter than the run")
    t0, t1 = parse_window(window) if not isinstance(window, tuple) else window
    t_ns = run.frame_times / PS_PER_NS
    eps = 1e-9 * max(1.0, float(t_ns[-1]))
    if t0 > t_ns[-1] + eps:
        raise UserError(f"--window: starts at {t0:g} ns, after the run's last frame at "
                        f"{t_ns[-1]:g} ns")
    inside = t_ns >= t0 - eps
    if t1 is not None:
        inside &= t_ns <= t1 + eps
    idx = np.nonzero(inside)[0][::every]
    if len(idx) < minimum:
        spacing = (f"frames every {np.median(np.diff(t_ns)):g} ns" if run.n_frames > 1
                   else "a single frame")
        span = (f"{t0:g} to {t1:g} ns" if t1 is not None else f"{t0:g} ns to the end")
        raise UserError(f"--window/--every: the run has {spacing}; {span}"
                        f"{f' every {every}th frame' if every > 1 else ''} holds {len(idx)} "
                        f"frame(s) and a movie needs at least {minimum}; widen --window, "
                        f"lower --every or rerun with a smaller run.frame_interval")
    return idx


def _running_mean(values: np.ndarray, n: int) -> np.ndarray:
    """Causal running mean over the last n samples (fewer at the start)."""
    c = np.cumsum(np.concatenate([[0.0], values]))
    k = np.arange(1, len(values) + 1)
    lo = np.maximum(k - n, 0)
    return (c[k] - c[lo]) / (k - lo)


def _factor_text(a: float) -> str:
    """A rate factor for a title: 300 -> '300', 1e9 -> '1e9', 2.5e10 -> '2.5e10'."""
    if a < 1e4:
        return f"{a:g}"
    m, e = f"{a:.2e}".split("e")
    return f"{float(m):g}e{int(e)}"


def _show_closed(coll, is_open: np.ndarray) -> None:
    """Keep the closed channels' patches of a closed-gate overlay (is_open: (C,) bool)."""
    keep = ~is_open[coll.channel_of]
    coll.set_paths([p for p, k in zip(coll.all_patches, keep) if k])
    coll.set_visible(bool(keep.any()))


def _show_pumps(marks, pump_of: np.ndarray, active: np.ndarray) -> None:
    """Pump markers: the active pumps' (active: (P,) bool) larger and in PUMP_FLASH."""
    on = active[pump_of]
    marks.set_sizes(np.where(on, PUMP_FLASH_PT, PUMP_PT) ** 2)
    marks.set_facecolors([PUMP_FLASH if a else PUMP_COLOR for a in on])


def _show_rings(rings, x: np.ndarray, y: np.ndarray, size: float) -> None:
    """Rings (a scatter) at (x, y) nm, each `size` points^2."""
    rings.set_offsets(np.column_stack([x, y]) if len(x) else np.empty((0, 2)))
    rings.set_sizes(np.full(len(x), size))


class RunAnimation:
    """The animation figure of one run, built once; ``draw(i)`` renders frame i.

    Args:
        run: a RunData (see analysis.runs.open_run).
        frames: indices of the run's frames to show, increasing (see select_frames).
        view: 'side' (x-z, default), 'top' (the plane of membrane 0) or 'both'.
        dpi: dots per inch of the 12.8 x 7.2 in figure (100 gives 1280 x 720 px).
        fps: the movie's frame rate, used only for how long crossing rings stay visible.
        time_span_ns: the time axis limits (t0, t1) ns; default the shown frames' span.
        blit: restore a pre-drawn background and redraw only moving artists (fast). False
            redraws the whole figure every frame (slow; the reference the fast path matches).
    """

    def __init__(self, run: RunData, frames, view: str = "side", dpi: float = 100,
                 fps: float = 20, time_span_ns=None, blit: bool = True):
        if view not in VIEWS:
            raise UserError(f"--view: must be one of {', '.join(VIEWS)}, got {view!r}")
        self.run = run
        self.sc = run.scenario
        self.frames = np.asarray(frames, dtype=np.int64)
        self.view = view
        self.dpi = float(dpi)
        self.blit = blit
        self.hold = max(1, int(round(HOLD_S * fps)))
        self._chunk_start, self._chunk = -1, None
        self._load_series(time_span_ns)
        self._build_figure()

    # -- data ---------------------------------------------------------------------------------
    def _load_series(self, time_span_ns):
        run, sc = self.run, self.sc
        self.box = np.array(sc.box, dtype=float)
        self.n_species = len(sc.species)
        self.colors = [species_color(s.name, k) for k, s in enumerate(sc.species)]
        from matplotlib.colors import to_rgba_array
        self.ion_rgba = to_rgba_array(self.colors)[run.species] if len(run.species) \
            else np.zeros((0, 4))
        self.permeant = permeant_species(sc)
        comp = sc.compartment_bounds()
        # Display z periodically wrapped with compartment 0 centred (inside in the middle).
        lz = self.box[2]
        self.z_lo = (0.5 * (comp[0][0] + comp[0][1]) - 0.5 * lz) if sc.membranes else 0.0
        self.frame_steps = run.frame_steps
        self.frame_t_ns = run.frame_times / PS_PER_NS
        sel_t = self.frame_t_ns[self.frames]
        if time_span_ns is None:
            time_span_ns = (float(sel_t[0]), float(sel_t[-1]))
        t0, t1 = time_span_ns
        if not t1 > t0:
            t1 = t0 + max(1e-3, float(self.frame_t_ns[-1]) - t0) if self.frame_t_ns[-1] > t0 \
                else t0 + 1e-3
        self.t_span = (t0, t1)
        # Membrane potential (absent without electrostatics).
        self.vm = None
        if "membrane_potential" in run.observable_names:
            s = run.observable("membrane_potential")
            t = s.time / PS_PER_NS
            v = np.asarray(s.value, dtype=float)
            dt_ns = np.median(np.diff(t)) if len(t) > 1 else 1.0
            # A window of 8% of the shown span: on a small patch V_m's thermal noise
            # (sqrt(kT/C), ~35 mV for the flagship) is correlated over ~0.5 ns, and a window
            # of several correlation times is what lets the eye see the plateau.
            n_avg = max(1, int(round(AVERAGE_FRACTION * (t1 - t0) / dt_ns)))
            self.vm = (t, v, _running_mean(v, n_avg), n_avg * dt_ns)
        # Net ions of each permeant species moved out of compartment 0.
        c = run.observable("counts")
        self.counts_t = c.time / PS_PER_NS
        counts = np.asarray(c.value)
        self.moved = counts[0, 0, :][None, :] - counts[:, 0, :] if len(counts) else None
        # Nernst potentials from the initial concentrations (compartment 0 in, 1 out).
        self.nernst = []
        if len(sc.compartments) >= 2:
            cin, cout = sc.compartments[0], sc.compartments[1]
            for s in self.permeant:
                sp = sc.species[s]
                ci = cin.concentration(sp.name) * PER_NM3_TO_MM
                co = cout.concentration(sp.name) * PER_NM3_TO_MM
                if ci > 0 and co > 0 and sp.valence != 0:
                    self.nernst.append((s, nernst_mV(co, ci, sp.valence, sc.temperature)))
        # Crossings, sorted by step.
        cr = run.crossings
        order = np.argsort(cr["step"], kind="stable")
        self.cross = {k: np.asarray(v)[order] for k, v in cr.items()}
        self._load_agents()

    def _events(self, table: str) -> dict[str, np.ndarray]:
        """The run's event table `table` (sim.io.EVENT_TABLES) sorted by step; {} if absent."""
        ev = getattr(self.run, "events", {}).get(table) or {}
        if "step" not in ev or len(ev["step"]) == 0:
            return {}
        order = np.argsort(ev["step"], kind="stable")
        return {k: np.asarray(v)[order] for k, v in ev.items()}

    def _load_agents(self):
        """Gated channels and pumps (sim.gating, sim.pumps): records and sorted events.

        channels: every channel in the geometry's order (membranes, then channels: the
        index of gate events); gate_steps/gate_to[c]: the steps and new states of gated
        channel c; pumps: (membrane, record) in the pump events' order."""
        sc = self.sc
        self.channels = [ch for m in sc.membranes for ch in m.channels]
        self.gated = [c for c, ch in enumerate(self.channels) if ch.gating is not None]
        gates = self._events("gate_events")
        self.gate_steps, self.gate_to = {}, {}
        for c in self.gated:
            mine = gates["channel"] == c if gates else np.zeros(0, dtype=bool)
            self.gate_steps[c] = gates["step"][mine] if gates else np.zeros(0, np.int64)
            self.gate_to[c] = gates["to"][mine] if gates else np.zeros(0, np.int64)
        self.pumps = [(j, p) for j, m in enumerate(sc.membranes) for p in m.pumps]
        self.pump_ev = self._events("pump_events")
        self.transfers = self._events("pump_transfers")

    def _step_window(self, j: int) -> tuple[int, int]:
        """(prev, hi): shown frame j covers the events with prev < step <= hi, hi its step
        and prev the step of the frame before it (the run's frame before the first shown
        one; for the run's first frame, every step up to it: agents act at step 0)."""
        hi = self.frame_steps[self.frames[j]]
        prev = (self.frame_steps[self.frames[j - 1]] if j > 0
                else (self.frame_steps[self.frames[0] - 1] if self.frames[0] > 0 else -1))
        return prev, hi

    def channel_open(self, i: int) -> np.ndarray:
        """(C,) bool: whether each channel (geometry order) conducts at shown frame i, from
        its gate's initial state and the gate events at steps <= the frame's step."""
        step = self.frame_steps[self.frames[i]]
        is_open = np.ones(len(self.channels), dtype=bool)
        for c in self.gated:
            g = self.channels[c].gating
            k = int(np.searchsorted(self.gate_steps[c], step, side="right"))
            state = (g.states[int(self.gate_to[c][k - 1])] if k else g.initial)
            is_open[c] = state in g.conducting
        return is_open

    def pumps_active(self, i: int) -> np.ndarray:
        """(P,) bool: the pumps that executed a half-cycle in shown frame i's step window
        (see _step_window)."""
        active = np.zeros(len(self.pumps), dtype=bool)
        if self.pump_ev:
            prev, hi = self._step_window(i)
            a, b = np.searchsorted(self.pump_ev["step"], [prev, hi], side="right")
            active[self.pump_ev["pump"][a:b].astype(np.int64)] = True
        return active

    def carried(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(particles, pumps): the ions a pump carried in shown frame i's step window, and
        which pump carried each (one entry per transfer)."""
        if not self.transfers:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        prev, hi = self._step_window(i)
        a, b = np.searchsorted(self.transfers["step"], [prev, hi], side="right")
        return (self.transfers["particle"][a:b].astype(np.int64),
                self.transfers["pump"][a:b].astype(np.int64))

    def _positions(self, i: int) -> np.ndarray:
        """Positions (N, 3) nm of shown frame i, read in chunks of 64 shown frames."""
        chunk = 64
        start = (i // chunk) * chunk
        if start != self._chunk_start:
            idx = self.frames[start:start + chunk]
            if len(idx) > 1 and np.all(np.diff(idx) == idx[1] - idx[0]):
                sl = slice(int(idx[0]), int(idx[-1]) + 1, int(idx[1] - idx[0]))
            else:
                sl = slice(int(idx[0]), int(idx[0]) + 1) if len(idx) == 1 else idx
            self._chunk = self.run.positions(sl)
            self._chunk_start = start
        return self._chunk[i - start]

    def _crossings_for(self, i: int):
        """Crossing rows to mark at shown frame i: (row indices, age in shown frames)."""
        rows, ages = [], []
        steps = self.cross["step"]
        for age in range(self.hold):
            j = i - age
            if j < 0:
                break
            prev, hi = self._step_window(j)
            a, b = np.searchsorted(steps, [prev, hi], side="right")
            rows.extend(range(a, b))
            ages.extend([age] * (b - a))
        return np.array(rows, dtype=np.int64), np.array(ages, dtype=np.int64)

    # -- figure -------------------------------------------------------------------------------
    def _build_figure(self):
        w_px = 2 * round(FIG_SIZE_IN[0] * self.dpi / 2)
        h_px = 2 * round(FIG_SIZE_IN[1] * self.dpi / 2)
        if w_px < 160 or h_px < 90:
            raise UserError(f"--dpi: {self.dpi:g} gives a {w_px}x{h_px} px movie; use >= 13")
        # +0.25 px so that Agg's int() truncation lands on the even size.
        fig = Figure(figsize=((w_px + 0.25) / self.dpi, (h_px + 0.25) / self.dpi),
                     dpi=self.dpi, layout="constrained")
        self.fig, self.canvas = fig, FigureCanvasAgg(fig)
        fig.get_layout_engine().set(w_pad=0.08, h_pad=0.06, wspace=0.04, hspace=0.05)
        lx, _, lz = self.box
        has_series = self.moved is not None and len(self.permeant) > 0
        n_right = (self.vm is not None) + has_series
        # Column widths (inches) so the equal-aspect geometry panels fill the height
        # available; the time series take the rest (at least 40 % when present).
        h_avail = 0.78 * FIG_SIZE_IN[1]
        geo = {"side": [lx / lz], "top": [lx / self.box[1]],
               "both": [lx / lz, lx / self.box[1]]}[self.view]
        geo = [h_avail * max(0.25, min(2.5, a)) for a in geo]
        room = (0.6 if n_right else 0.97) * FIG_SIZE_IN[0]
        if sum(geo) > room:
            geo = [g * room / sum(geo) for g in geo]
        widths = geo + ([max(0.4 * FIG_SIZE_IN[0], 0.97 * FIG_SIZE_IN[0] - sum(geo))]
                        if n_right else [])
        gs = fig.add_gridspec(max(1, n_right), len(widths), width_ratios=widths)
        col = 0
        self.ax_side = self.ax_top = self.ax_v = self.ax_n = None
        if self.view in ("side", "both"):
            self.ax_side = fig.add_subplot(gs[:, col])
            col += 1
        if self.view in ("top", "both"):
            self.ax_top = fig.add_subplot(gs[:, col])
            col += 1
        row = 0
        if self.vm is not None:
            self.ax_v = fig.add_subplot(gs[row, col])
            row += 1
        if has_series:
            self.ax_n = fig.add_subplot(gs[row, col], sharex=self.ax_v)
        self.animated = []
        n = len(self.run.species)
        self.top_sizes, self.ring_size, self.top_ring_size = np.full(n, 16.0), 200.0, 200.0
        self.ring_r_nm = 0.5
        if self.ax_side is not None:
            self._build_side(self.ax_side)
        if self.ax_top is not None:
            self._build_top(self.ax_top)
        if self.ax_v is not None:
            self._build_vm(self.ax_v)
        if self.ax_n is not None:
            self._build_moved(self.ax_n)
        self._build_legend()
        fs = 14
        self.title = self._animate(fig.suptitle("", fontsize=fs, fontweight="bold"))
        self.update(0)  # real text everywhere, so the layout reserves room for it
        for a in self.animated:
            a.set_animated(self.blit)
        self.canvas.draw()  # lays out (constrained) and paints the static background
        fig.set_layout_engine("none")  # freeze the layout: every frame has the same geometry
        self._scale_ions()
        if self.blit:
            self.background = self.canvas.copy_from_bbox(fig.bbox)
        self.size = (int(self.canvas.get_width_height()[0]),
                     int(self.canvas.get_width_height()[1]))

    def _animate(self, artist):
        self.animated.append(artist)
        return artist

    def _wrap_z(self, z):
        lz = self.box[2]
        return np.mod(z - self.z_lo, lz) + self.z_lo

    def _build_side(self, ax):
        sc = self.sc
        lx, _, lz = self.box
        ax.set_facecolor(WATER_COLOR)
        ax.set_xlim(0, lx)
        ax.set_ylim(self.z_lo, self.z_lo + lz)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("x (nm)")
        ax.set_ylabel("z (nm), across the membranes" if sc.membranes else "z (nm)")
        ax.set_title("side view (projected along y)", fontsize=10)
        for (lo, hi), mem in zip(sc.membrane_bounds(), sc.membranes):
            a = float(self._wrap_z(lo))
            for z in (a, a - lz):
                ax.add_patch(Rectangle((-lx, z), 3 * lx, hi - lo, facecolor=MEMBRANE_COLOR,
                                       edgecolor="none", zorder=1))
                ax.plot([0, lx], [z, z], color=MEMBRANE_EDGE, lw=0.8, zorder=1.5)
                ax.plot([0, lx], [z + hi - lo] * 2, color=MEMBRANE_EDGE, lw=0.8, zorder=1.5)
                for ch in mem.channels:
                    for x in (ch.x - lx, ch.x, ch.x + lx):
                        ax.add_patch(Rectangle((x - ch.radius, z), 2 * ch.radius, hi - lo,
                                               facecolor=PORE_COLOR, edgecolor="none",
                                               zorder=2))
                        for xw in (x - ch.radius, x + ch.radius):
                            ax.plot([xw, xw], [z, z + hi - lo], color=PORE_WALL, lw=1.2,
                                    zorder=2.5)
        # Compartment names at the right edge, outside the box.
        tr = blended_transform_factory(ax.transAxes, ax.transData)
        for (lo, hi), comp in zip(sc.compartment_bounds(), sc.compartments):
            a = float(self._wrap_z(lo))
            for z in (a, a - lz):
                top, bot = min(z + hi - lo, self.z_lo + lz), max(z, self.z_lo)
                if top - bot > 0.12 * lz:
                    ax.text(1.02, 0.5 * (top + bot), comp.name, transform=tr, rotation=90,
                            va="center", ha="left", fontsize=10, color="#333333",
                            clip_on=False)
        self.side_closed = self._closed_overlay(ax, self._side_pore_patches())
        self.side_pumps, self.side_pump_of = self._pump_artists(ax, self._side_pump_sites())
        n = len(self.run.species)
        self.side_ions = self._animate(ax.scatter(
            np.zeros(n), np.zeros(n), s=16, c=[self.colors[s] for s in self.run.species],
            edgecolors="#202020", linewidths=0.4, zorder=5))
        self.side_rings = self._animate(ax.scatter(
            [], [], s=200, facecolors="none", edgecolors=HIGHLIGHT_COLOR, linewidths=2.2,
            zorder=6))
        self.side_carried = self._carried_rings(ax)
        self.side_labels = [self._animate(ax.text(
            0, 0, "", fontsize=9, fontweight="bold", color=HIGHLIGHT_COLOR, zorder=7,
            ha="left", va="bottom", clip_on=True,
            bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none",
                      alpha=0.8))) for _ in range(N_LABELS)]

    def _build_top(self, ax):
        sc = self.sc
        lx, ly, _ = self.box
        ax.set_facecolor(MEMBRANE_COLOR)
        ax.set_xlim(0, lx)
        ax.set_ylim(0, ly)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("x (nm)")
        ax.set_ylabel("y (nm)")
        if sc.membranes:
            lo, hi = sc.membrane_bounds()[0]
            below, above = sc.compartments[0].name, sc.compartments[1 % len(sc.compartments)].name
            ax.set_title(f"membrane 0 from above: ions within {TOP_NEAR_NM:g} nm of it\n"
                         f"(solid: on the {below!r} face, pale: on the {above!r} face)",
                         fontsize=10)
            from matplotlib.patches import Circle
            for ch in sc.membranes[0].channels:
                for dx in (-lx, 0, lx):
                    for dy in (-ly, 0, ly):
                        ax.add_patch(Circle((ch.x + dx, ch.y + dy), ch.radius,
                                            facecolor=PORE_COLOR, edgecolor=PORE_WALL, lw=1.2,
                                            zorder=2))
            # |z - mid-plane| (periodic) within half the thickness + TOP_NEAR_NM.
            self.top_band = (0.5 * (lo + hi), 0.5 * (hi - lo) + TOP_NEAR_NM)
            self.top_channels = len(sc.membranes[0].channels)  # ids 0.. are membrane 0's
        else:
            ax.set_facecolor(WATER_COLOR)
            ax.set_title("top view (no membrane): all ions", fontsize=10)
            self.top_band = (0.0, np.inf)
            self.top_channels = 0
        self.top_closed = self._closed_overlay(ax, self._top_pore_patches())
        self.top_pumps, self.top_pump_of = self._pump_artists(ax, self._top_pump_sites())
        self.top_ions = self._animate(ax.scatter([], [], s=16, edgecolors="#202020",
                                                 linewidths=0.4, zorder=5))
        self.top_rings = self._animate(ax.scatter(
            [], [], s=200, facecolors="none", edgecolors=HIGHLIGHT_COLOR, linewidths=2.2,
            zorder=6))
        self.top_carried = self._carried_rings(ax)

    # -- gates and pumps in the geometry panels ------------------------------------------------
    def _membrane_copies(self):
        """(membrane index, z of its lower face, thickness) nm for each drawn copy of each
        membrane in the side view (z wrapped; every membrane is drawn at z and z - Lz)."""
        lz = self.box[2]
        for j, (lo, hi) in enumerate(self.sc.membrane_bounds()):
            a = float(self._wrap_z(lo))
            for z in (a, a - lz):
                yield j, z, hi - lo

    def _side_pore_patches(self):
        """[(channel index, Rectangle)]: the pore of every gated channel in every side-view
        copy (periodic images in x), for the closed-gate overlay."""
        lx = self.box[0]
        first = np.cumsum([0] + [len(m.channels) for m in self.sc.membranes])
        out = []
        for j, z, thick in self._membrane_copies():
            for k, ch in enumerate(self.sc.membranes[j].channels):
                if ch.gating is None:
                    continue
                for x in (ch.x - lx, ch.x, ch.x + lx):
                    out.append((int(first[j] + k),
                                Rectangle((x - ch.radius, z), 2 * ch.radius, thick)))
        return out

    def _top_pore_patches(self):
        """[(channel index, Circle)]: the mouth of every gated channel of membrane 0 and its
        periodic images, for the top view's closed-gate overlay."""
        from matplotlib.patches import Circle
        lx, ly, _ = self.box
        chans = self.sc.membranes[0].channels if self.sc.membranes else ()
        return [(k, Circle((ch.x + dx, ch.y + dy), ch.radius))
                for k, ch in enumerate(chans) if ch.gating is not None
                for dx in (-lx, 0, lx) for dy in (-ly, 0, ly)]

    def _closed_overlay(self, ax, patches):
        """An animated collection drawing the closed pores over the open ones (grey,
        hatched), or None without gated channels. Its `channel_of` (K,) maps its patches to
        channels; update() keeps only the closed ones' paths."""
        if not patches:
            return None
        from matplotlib.collections import PatchCollection
        coll = PatchCollection([p for _, p in patches], facecolor=CLOSED_COLOR,
                               edgecolor=CLOSED_EDGE, linewidth=0.8, hatch="xxx", zorder=2.7)
        coll.all_patches = [p for _, p in patches]
        coll.channel_of = np.array([c for c, _ in patches], dtype=np.int64)
        ax.add_collection(coll)
        return self._animate(coll)

    def _side_pump_sites(self):
        """[(pump index, x, z, half width, thickness)] nm: every pump's footprint across its
        membrane in each side-view copy, with its periodic images in x."""
        lx = self.box[0]
        first = np.cumsum([0] + [len(m.pumps) for m in self.sc.membranes])
        return [(int(first[j] + k), x, z, p.radius, thick)
                for j, z, thick in self._membrane_copies()
                for k, p in enumerate(self.sc.membranes[j].pumps)
                for x in (p.x - lx, p.x, p.x + lx)]

    def _top_pump_sites(self):
        """[(pump index, x, y, radius)] nm: membrane 0's pumps and their periodic images."""
        lx, ly, _ = self.box
        pumps = self.sc.membranes[0].pumps if self.sc.membranes else ()
        return [(k, p.x + dx, p.y + dy, p.radius) for k, p in enumerate(pumps)
                for dx in (-lx, 0, lx) for dy in (-ly, 0, ly)]

    def _pump_artists(self, ax, sites):
        """Static footprints (to scale) and an animated marker at each site's centre; returns
        (marker scatter, (K,) pump index of each marker), or (None, None) without pumps."""
        if not sites:
            return None, None
        from matplotlib.patches import Circle
        centres = []
        for site in sites:
            if len(site) == 5:  # side view: the footprint spans the membrane
                _, x, z, r, thick = site
                ax.add_patch(Rectangle((x - r, z), 2 * r, thick, facecolor=PUMP_FILL,
                                       edgecolor=PUMP_COLOR, lw=0.8, zorder=1.7))
                centres.append((x, z + 0.5 * thick))
            else:
                _, x, y, r = site
                ax.add_patch(Circle((x, y), r, facecolor=PUMP_FILL, edgecolor=PUMP_COLOR,
                                    lw=0.8, zorder=1.7))
                centres.append((x, y))
        c = np.array(centres)
        marks = ax.scatter(c[:, 0], c[:, 1], s=PUMP_PT ** 2, marker="D", facecolors=PUMP_COLOR,
                           edgecolors="#101010", linewidths=0.6, zorder=4)
        return self._animate(marks), np.array([s[0] for s in sites], dtype=np.int64)

    def _carried_rings(self, ax):
        """An animated scatter of rings around the ions a pump carried, or None."""
        if not self.pumps:
            return None
        return self._animate(ax.scatter([], [], s=200, facecolors="none",
                                        edgecolors=PUMP_COLOR, linewidths=2.0, zorder=6))

    def _build_vm(self, ax):
        t, v, vmean, avg_ns = self.vm
        ax.set_xlim(*self.t_span)
        lo, hi = np.percentile(v, [1, 99]) if len(v) else (-1.0, 1.0)
        vals = [lo, hi, 0.0] + [e for _, e in self.nernst]
        lo, hi = min(vals), max(vals)
        pad = 0.12 * (hi - lo) + 2.0
        ax.set_ylim(lo - pad, hi + pad)
        names = [c.name for c in self.sc.compartments]
        ax.set_ylabel(f"V_m (mV)\n{names[0]} \u2212 {names[1 % len(names)]}")
        ax.axhline(0, color="#999999", lw=0.6, zorder=1)
        ax.grid(alpha=0.25)
        for s, e in self.nernst:
            name = self.sc.species[s].name
            ax.axhline(e, color=self.colors[s], ls="--", lw=1.4, zorder=2,
                       label=f"Nernst E({name}) = {e:.1f} mV".replace("-", "\u2212"))
            # A tag in the right margin, where the growing trace never covers it.
            ax.text(1.01, e, f"E({name})", transform=blended_transform_factory(
                ax.transAxes, ax.transData), ha="left", va="center", fontsize=9,
                color=self.colors[s], clip_on=False)
        self.v_raw = self._animate(ax.plot([], [], color="#777777", lw=0.6, alpha=0.6,
                                           label="V_m (samples)")[0])
        self.v_mean = self._animate(ax.plot([], [], color="#111111", lw=1.8,
                                            label=f"running mean ({avg_ns:.2g} ns)")[0])
        self.v_dot = self._animate(ax.plot([], [], "o", color="#111111", ms=5)[0])
        ax.legend(handles=[self.v_raw, self.v_mean] + [
            h for h in ax.get_lines() if h.get_label().startswith("Nernst")],
            loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, fontsize=9, frameon=False,
            borderaxespad=0.2, handlelength=1.8, columnspacing=1.2)
        self.v_cursor = self._animate(ax.axvline(self.t_span[0], color="#444444", lw=0.8,
                                                 alpha=0.6))
        if self.ax_n is None:
            ax.set_xlabel("simulated time (ns)")
        else:
            ax.tick_params(labelbottom=False)

    def _build_moved(self, ax):
        ax.set_xlim(*self.t_span)
        moved = self.moved[:, self.permeant]
        lo, hi = min(0, int(moved.min())), max(1, int(moved.max()))
        pad = max(0.5, 0.1 * (hi - lo))
        ax.set_ylim(lo - pad, hi + pad)
        from matplotlib.ticker import MaxNLocator
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        out = self.sc.compartments[0].name
        ax.set_ylabel(f"net ions moved\nout of '{out}'")
        ax.set_xlabel("simulated time (ns)")
        ax.axhline(0, color="#999999", lw=0.6)
        ax.grid(alpha=0.25)
        self.n_lines = [self._animate(ax.plot([], [], color=self.colors[s], lw=1.8,
                                              drawstyle="steps-post",
                                              label=self.sc.species[s].name)[0])
                        for s in self.permeant]
        ax.legend(handles=[Line2D([], [], color=self.colors[s], lw=1.8,
                                  label=f"{self.sc.species[s].name}")
                           for s in self.permeant], loc="upper left", fontsize=8,
                  framealpha=0.9)
        self.n_cursor = self._animate(ax.axvline(self.t_span[0], color="#444444", lw=0.8,
                                                 alpha=0.6))

    def _build_legend(self):
        present = sorted(set(int(s) for s in self.run.species))
        handles = []
        for s in present:
            sp = self.sc.species[s]
            tag = "permeant" if s in self.permeant else "impermeant"
            handles.append(Line2D([], [], ls="none", marker="o", ms=8, mfc=self.colors[s],
                                  mec="#202020", mew=0.5,
                                  label=f"{sp.name} ({tag}, {sp.diameter:.2g} nm)"))
        if self.sc.membranes:
            handles.append(Patch(facecolor=MEMBRANE_COLOR, edgecolor=MEMBRANE_EDGE,
                                 label="membrane"))
            handles.append(Patch(facecolor=PORE_COLOR, edgecolor=PORE_WALL, label="channel pore"))
        handles.append(Line2D([], [], ls="none", marker="o", ms=11, mfc="none",
                              mec=HIGHLIGHT_COLOR, mew=2, label="just crossed"))
        handles += self._agent_handles()
        self.fig.legend(handles=handles, loc="outside lower center",
                        ncol=len(handles) if len(handles) <= 7 else math.ceil(len(handles) / 2),
                        fontsize=9, frameon=False, handletextpad=0.4, columnspacing=1.6)

    def _agent_handles(self) -> list:
        """Legend entries for closed gates and pumps (none in a run without them)."""
        handles = []
        if self.gated:
            handles.append(Patch(facecolor=CLOSED_COLOR, edgecolor=CLOSED_EDGE, hatch="xxx",
                                 label="closed gate"))
        if self.pumps:
            handles.append(Line2D([], [], ls="none", marker="D", ms=7, mfc=PUMP_COLOR,
                                  mec="#101010", mew=0.6, label="pump"))
            handles.append(Line2D([], [], ls="none", marker="D", ms=10, mfc=PUMP_FLASH,
                                  mec="#101010", mew=0.6, label="pump cycling"))
            handles.append(Line2D([], [], ls="none", marker="o", ms=11, mfc="none",
                                  mec=PUMP_COLOR, mew=2, label="carried by a pump"))
        return handles

    def _scale_ions(self):
        """Ion markers to scale: diameter in nm -> points via the side axes' data scale."""
        diam = np.array([s.diameter for s in self.sc.species])[self.run.species]
        for ax, coll in ((self.ax_side, getattr(self, "side_ions", None)),
                         (self.ax_top, getattr(self, "top_ions", None))):
            if ax is None:
                continue
            bbox = ax.get_window_extent()
            pt_per_nm = bbox.width * 72.0 / self.dpi / (ax.get_xlim()[1] - ax.get_xlim()[0])
            d_pt = np.maximum(diam * pt_per_nm, MIN_ION_PT)
            if ax is self.ax_side:
                self.side_sizes = d_pt ** 2
                coll.set_sizes(self.side_sizes)
                self.ring_size = float(max(3.2 * d_pt.max(), 12.0)) ** 2
                self.ring_r_nm = 0.5 * math.sqrt(self.ring_size) / pt_per_nm
            else:
                self.top_sizes = d_pt ** 2
                self.top_ring_size = float(max(3.2 * d_pt.max(), 12.0)) ** 2

    # -- one frame ----------------------------------------------------------------------------
    def update(self, i: int) -> None:
        """Set every moving artist to shown frame i."""
        pos = self._positions(i)
        f = self.frames[i]
        t_ns = float(self.frame_t_ns[f])
        lx, ly, _ = self.box
        x = np.mod(pos[:, 0], lx)
        y = np.mod(pos[:, 1], ly)
        z = self._wrap_z(pos[:, 2])
        rows, ages = self._crossings_for(i)
        alpha = 1.0 - 0.75 * ages / max(1, self.hold)
        rgba = np.zeros((len(rows), 4))
        rgba[:, :3] = (1.0, 0.12, 0.35)
        rgba[:, 3] = alpha
        part = self.cross["particle"][rows].astype(np.int64) if len(rows) else rows
        if self.ax_side is not None:
            self.side_ions.set_offsets(np.column_stack([x, z]))
            self.side_rings.set_offsets(np.column_stack([x[part], z[part]]) if len(rows)
                                        else np.empty((0, 2)))
            self.side_rings.set_edgecolors(rgba)
            self.side_rings.set_sizes(np.full(len(rows), self.ring_size))
            order = np.argsort(ages, kind="stable")[:N_LABELS]
            for k, label in enumerate(self.side_labels):
                if k < len(order):
                    r = rows[order[k]]
                    p = int(self.cross["particle"][r])
                    name = self.sc.species[int(self.cross["species"][r])].name
                    to = self.sc.compartments[int(self.cross["to"][r])].name
                    label.set_text(f"{name} → {to}")
                    right = x[p] < 0.6 * lx  # keep the label inside the box
                    label.set_horizontalalignment("left" if right else "right")
                    r_nm = 0.8 * self.ring_r_nm  # beside the ring's upper corner
                    label.set_position((x[p] + (r_nm if right else -r_nm), z[p] + r_nm))
                    label.set_alpha(float(alpha[order[k]]))
                    label.set_visible(True)
                else:
                    label.set_visible(False)
            self._update_side_agents(i, x, z)
        if self.ax_top is not None:
            lz = self.box[2]
            dz = np.mod(pos[:, 2] - self.top_band[0] + 0.5 * lz, lz) - 0.5 * lz
            near = np.abs(dz) <= self.top_band[1]
            self.top_ions.set_offsets(np.column_stack([x[near], y[near]]))
            face = self.ion_rgba[near].copy()
            pale = (dz[near] > 0) & bool(self.sc.membranes)  # the far (compartment 1) face
            face[pale, :3] = 1.0 - 0.35 * (1.0 - face[pale, :3])
            self.top_ions.set_facecolors(face)
            self.top_ions.set_sizes(self.top_sizes[near])
            # Rings only for crossings of membrane 0 by ions still drawn near it.
            mine = np.zeros(len(rows), dtype=bool)
            if len(rows):
                mine = (self.cross["channel"][rows] < self.top_channels) & near[part]
            self.top_rings.set_offsets(np.column_stack([x[part[mine]], y[part[mine]]])
                                       if mine.any() else np.empty((0, 2)))
            self.top_rings.set_edgecolors(rgba[mine])
            self.top_rings.set_sizes(np.full(int(mine.sum()), self.top_ring_size))
            self._update_top_agents(i, x, y, near)
        vm_now = None
        if self.ax_v is not None:
            t, v, vmean, _ = self.vm
            k = int(np.searchsorted(t, t_ns * (1 + 1e-12) + 1e-12, side="right"))
            self.v_raw.set_data(t[:k], v[:k])
            self.v_mean.set_data(t[:k], vmean[:k])
            if k:
                vm_now = float(vmean[k - 1])
                self.v_dot.set_data([t[k - 1]], [vm_now])
            self.v_cursor.set_xdata([t_ns, t_ns])
        if self.ax_n is not None:
            k = int(np.searchsorted(self.counts_t, t_ns * (1 + 1e-12) + 1e-12, side="right"))
            for line, s in zip(self.n_lines, self.permeant):
                line.set_data(self.counts_t[:k], self.moved[:k, s])
            self.n_cursor.set_xdata([t_ns, t_ns])
        vm_text = (f"V_m = {vm_now:+.1f} mV".replace("-", "\u2212") if vm_now is not None else
                   "V_m: none (electrostatics off)" if self.vm is None else "V_m: -")
        pumps = f"    {self.pump_text()}" if self.pumps else ""
        self.title.set_text(f"{self.sc.name}    t = {t_ns:.3f} ns    {vm_text}{pumps}")

    def pump_text(self) -> str:
        """'pumps accelerated 1e9\u00d7' (the factor, or the range of factors, multiplying the
        pumps' rates: their cycles run that much faster than a real pump's)."""
        lo = min(p.acceleration for _, p in self.pumps)
        hi = max(p.acceleration for _, p in self.pumps)
        span = _factor_text(lo) if lo == hi else f"{_factor_text(lo)}\u2013{_factor_text(hi)}"
        return f"pumps accelerated {span}\u00d7"

    def _update_side_agents(self, i: int, x: np.ndarray, z: np.ndarray) -> None:
        """Side view, shown frame i: closed pores, flashing pumps, rings around carried ions
        (x, z: every ion's drawn position, nm)."""
        if self.side_closed is not None:
            _show_closed(self.side_closed, self.channel_open(i))
        if self.side_pumps is not None:
            _show_pumps(self.side_pumps, self.side_pump_of, self.pumps_active(i))
            part, _ = self.carried(i)
            _show_rings(self.side_carried, x[part], z[part], self.ring_size)

    def _update_top_agents(self, i: int, x: np.ndarray, y: np.ndarray,
                           near: np.ndarray) -> None:
        """Top view, shown frame i: as the side view's, for membrane 0's channels and pumps
        and the ions drawn near it (near: (N,) bool)."""
        if self.top_closed is not None:
            _show_closed(self.top_closed, self.channel_open(i))
        if self.top_pumps is not None:
            _show_pumps(self.top_pumps, self.top_pump_of, self.pumps_active(i))
        if self.top_carried is not None:
            part, pump = self.carried(i)
            mine = (pump < len(self.sc.membranes[0].pumps)) & near[part]
            _show_rings(self.top_carried, x[part[mine]], y[part[mine]], self.top_ring_size)

    def draw(self, i: int) -> np.ndarray:
        """Render shown frame i; returns an (H, W, 4) uint8 RGBA view of the canvas buffer
        (valid until the next draw: copy it to keep it)."""
        self.update(i)
        if self.blit:
            self.canvas.restore_region(self.background)
            renderer = self.canvas.get_renderer()
            for a in self.animated:
                if a.get_visible():
                    a.draw(renderer)
        else:
            self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())

    def __len__(self) -> int:
        return len(self.frames)


# -- rendering entry points -------------------------------------------------------------------

def _check_out(out: Path, accepted=FORMATS) -> Path:
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in accepted:
        raise UserError(f"--out: unknown format {suffix or '(no suffix)'!r} for {out}; "
                        f"accepted: {', '.join(accepted)}")
    if out.is_dir():
        raise UserError(f"--out: {out} is a directory; give a file name ending in "
                        f"{', '.join(accepted)}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"--out: cannot write {out}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (out.exists() and
                                                    not os.access(out, os.W_OK)):
        raise UserError(f"--out: cannot write {out}: permission denied")
    if suffix == ".mp4" and ffmpeg_exe() is None:
        raise UserError(f"--out: {out}: MP4 needs the ffmpeg binary of imageio-ffmpeg "
                        f"(pip install imageio-ffmpeg); or give --out FILE.gif")
    return out


def _progress(total: int, quiet: bool, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, unit="frame", desc=desc, disable=not show_progress(quiet),
                file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


def _open(run_or_dir) -> RunData:
    return run_or_dir if isinstance(run_or_dir, RunData) else open_run(run_or_dir)


def render_movie(run_dir, out, fps: float = 20, dpi: float = 100, every: int = 1,
                 view: str = "side", window=None, quiet: bool = True, blit: bool = True) -> Path:
    """Render the run's animation to `out` (.mp4 or .gif), frame by frame.

    Args:
        run_dir: the run directory (or a RunData).
        out: the movie file; its suffix picks the format.
        fps: frames per second of the movie (> 0).
        dpi: resolution; the figure is 12.8 x 7.2 in (100 dpi = 1280 x 720 px).
        every: show every k-th frame of the run.
        view: 'side', 'top' or 'both'.
        window: simulated-time window, see parse_window (ns).
        quiet: no progress bar (it shows only on a terminal anyway).

    Returns:
        The path written. Raises UserError for what the user can fix.
    """
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and 0 < fps <= 120):
        raise UserError(f"--fps: must be a number in (0, 120], got {fps}")
    run = _open(run_dir)
    out = _check_out(Path(out))
    frames = select_frames(run, window, every)
    anim = RunAnimation(run, frames, view=view, dpi=dpi, fps=fps, blit=blit)
    try:
        writer = open_writer(out, fps)
    except OSError as err:
        raise UserError(f"--out: cannot write {out}: {err.strerror or err}") from None
    t0 = time.perf_counter()
    with writer, _progress(len(anim), quiet, out.name) as bar:
        for i in range(len(anim)):
            writer.write(anim.draw(i))
            bar.update(1)
        path = writer.close()
    anim.render_seconds = time.perf_counter() - t0
    return path


def render_pngs(run_dir, out_dir, frames=None, dpi: float = 100, view: str = "side",
                window=None, every: int = 1, fps: float = 20, name: str = "frame_{:05d}.png",
                blit: bool = True) -> list[Path]:
    """Render selected frames to PNG files.

    Args:
        run_dir: the run directory (or a RunData).
        out_dir: the directory to write into (created).
        frames: positions in the movie's frame list (after `window` and `every`) to render;
            negative counts from the end; None renders all.
        name: file name pattern, formatted with the position.
        Others as render_movie.

    Returns:
        The PNG paths, in order.
    """
    from PIL import Image
    run = _open(run_dir)
    shown = select_frames(run, window, every, minimum=1)
    anim = RunAnimation(run, shown, view=view, dpi=dpi, fps=fps, blit=blit)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    picks = range(len(anim)) if frames is None else [int(k) % len(anim) for k in frames]
    paths = []
    for k in picks:
        path = out_dir / name.format(k)
        Image.fromarray(anim.draw(k)[..., :3].copy()).save(path, optimize=True)
        paths.append(path)
    return paths


def render_still(run_dir, out, at_ns=None, dpi: float = 100, view: str = "side",
                 window=None) -> Path:
    """One frame to a PNG: the frame nearest `at_ns` (default the last) on the time axis of
    `window` (default the whole run)."""
    from PIL import Image
    run = _open(run_dir)
    out = _check_out(Path(out), accepted=(".png",))
    shown = select_frames(run, window, 1, minimum=1)
    t = run.frame_times[shown] / PS_PER_NS
    if at_ns is None:
        k = len(shown) - 1
    else:
        if not (math.isfinite(at_ns) and t[0] - 1e-9 <= at_ns <= t[-1] + 1e-9):
            raise UserError(f"--at: {at_ns:g} ns is outside the frames shown "
                            f"({t[0]:g} to {t[-1]:g} ns)")
        k = int(np.argmin(np.abs(t - at_ns)))
    anim = RunAnimation(run, shown, view=view, dpi=dpi,
                        time_span_ns=(float(t[0]), float(t[-1])))
    # Earlier frames only matter for fading rings; render the still like the movie's frame.
    img = anim.draw(k)[..., :3].copy()
    Image.fromarray(img).save(out, optimize=True)
    return out


def default_output(run_dir) -> Path:
    """RUN_DIR/animation.mp4, or animation.gif when the MP4 encoder is not installed."""
    return Path(run_dir) / ("animation.mp4" if ffmpeg_exe() is not None else "animation.gif")


def animate_run(run_dir, out=None, quiet: bool = False, fps: float = 20, dpi: float = 100,
                every: int = 1, view: str = "side", window=None) -> Path:
    """Render a run's movie with sensible defaults (what ``ionsim run --animate`` calls).

    Writes RUN_DIR/animation.mp4 (animation.gif without imageio-ffmpeg) unless `out` is
    given, and returns its path.
    """
    out = default_output(run_dir) if out is None else Path(out)
    return render_movie(run_dir, out, fps=fps, dpi=dpi, every=every, view=view,
                        window=window, quiet=quiet)
