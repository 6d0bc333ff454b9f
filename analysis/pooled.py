"""A sweep's runs pooled per point: the numbers ``ionsim analyze SWEEP_DIR`` prints and writes.

A sweep or replica directory (:mod:`sim.sweep`: ``sweep.json`` and one run directory per
run, ``pPPP-rRRR``) is read with :func:`pool`. Each run is measured as ``ionsim analyze``
measures one run (:func:`analysis.runs.measure`, :func:`analysis.comparison.nernst_rows`);
a run that has not finished (no ``summary.json``) or cannot be read is left out and named in
the notes. For each point, over its R finished replicas with means V_i (mV):
- V_m = (1/R) sum_i V_i, the mean of the replica means;
- SE over replicas = max( sqrt(sum_i SE_i^2) / R, s / sqrt(R) ),
  s = sqrt(sum_i (V_i - V_m)^2 / (R - 1)) (:func:`analysis.statistics.pool_independent`,
  the rule of every pooled quantity here and in ``ionsim validate --full``);
- the counting limit (kT/e) sqrt(2/n), n = (1/2) sum z^2 over the crossings after each
  replica's equilibration, all replicas together (:func:`analysis.runs.counting_limit_mV`:
  independent runs add their crossings);
- the SE reported is the larger of the two (for R = 1, of the run's own SE and the limit);
  the table says which ('replicas', 'run' or 'counting');
- the Nernst potentials of each permeant species: from the scenario's concentrations, and
  the replica means of the ideal one from the measured bulk concentrations (SE by the same
  rule: a slowly exchanging bulk differs between replicas by more than its own SE) and of
  the activity-corrected one; the deviation
  (V_m - E) / sqrt(SE(V_m)^2 + SE(E)^2) (:func:`analysis.comparison.deviation_in_se`).
Which analyses apply follows from the sweep's axes (:func:`analyses_for`; the fits are
:mod:`analysis.pooled_fits`, the tables and files :mod:`analysis.pooled_tables`); a sweep
without axes (``ionsim run --replicas N``) has its one point. :func:`replica_series` sets a
point's replicas' time series side by side with their mean and SE s / sqrt(R) at each
sample. Units: mV, mM, nm, K, ps, ns (in the names).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.errors import UserError
from sim.io import CHECKPOINT, SCENARIO, load_checkpoint, read_scenario, summary_readable
from sim.sweep import PLAN, read_plan
from sim.units import PS_PER_NS

from analysis.comparison import deviation_in_se, nernst_rows
from analysis.runs import (Measurements, SeriesMean, counting_limit_mV, measure, open_run,
                           unit_charge_crossings)
from analysis.statistics import pool_independent, spread_se

__all__ = ["NERNST_SLOPE", "CHANNEL_COUNT", "DEPTH_SERIES", "analyses_for", "ReplicaVm",
           "PooledNernst", "PooledPoint", "PooledSweep", "pool", "pool_point",
           "ReplicaSeries", "replica_series"]

NERNST_SLOPE, CHANNEL_COUNT, DEPTH_SERIES = "nernst_slope", "channel_count", "depth_series"
_CONCENTRATION_AXIS = re.compile(r"compartments\[\d+\]\.concentrations\.(?P<species>.+)")
_CHANNEL_COUNT_AXIS = re.compile(r"(.+\.)?channels\[\d+\]\.count")
_DEPTH_AXIS = re.compile(r"compartments\[\d+\]\.depth")


def analyses_for(axis_paths) -> list[str]:
    """The analyses a sweep's axes call for, in this order: NERNST_SLOPE (an axis
    ``compartments[k].concentrations.X``), CHANNEL_COUNT (``...channels[j].count``),
    DEPTH_SERIES (``compartments[k].depth``); empty for none of these (replicas only)."""
    found = []
    for kind, pattern in ((NERNST_SLOPE, _CONCENTRATION_AXIS),
                          (CHANNEL_COUNT, _CHANNEL_COUNT_AXIS), (DEPTH_SERIES, _DEPTH_AXIS)):
        if any(pattern.fullmatch(p) for p in axis_paths):
            found.append(kind)
    return found


# --- the pooled numbers ---------------------------------------------------------------------

@dataclass(frozen=True)
class ReplicaVm:
    """One finished replica: its run directory's name, V_m mean +- SE (mV; None without
    V_m), its equilibration time (ps) and its crossings after it (count, and sum of z^2)."""

    dir: str
    vm: SeriesMean | None
    t_equil_ps: float
    crossings: int
    unit_charges: float


@dataclass(frozen=True)
class PooledNernst:
    """One permeant species' Nernst potentials at a point (mV, V_in - V_out).

    Attributes:
        species, valence: name and charge number.
        c_in_mM, c_out_mM: the scenario's (initial) concentrations, mM.
        initial_mV: Nernst from them (None if one is zero).
        bulk_mV, bulk_se_mV: replica mean of the Nernst potential from the measured bulk
            concentrations and its SE (analysis.statistics.pool_independent; None when no
            replica has one).
        activity_mV: replica mean of the activity-corrected one (None likewise).
        dev_initial, dev_bulk, dev_activity: (V_m - E) / combined SE (None without V_m).
    """

    species: str
    valence: int
    c_in_mM: float
    c_out_mM: float
    initial_mV: float | None
    bulk_mV: float | None = None
    bulk_se_mV: float | None = None
    activity_mV: float | None = None
    dev_initial: float | None = None
    dev_bulk: float | None = None
    dev_activity: float | None = None

    @property
    def ratio(self) -> float:
        """c_out / c_in of the initial concentrations (NaN when c_in is zero)."""
        return self.c_out_mM / self.c_in_mM if self.c_in_mM > 0 else math.nan


@dataclass
class PooledPoint:
    """A sweep point pooled over its finished replicas (see the module docstring).

    Attributes:
        index: the point's index; values: key path -> value as written in the sweep file.
        replicas_planned: replicas in the plan; replicas: the finished ones pooled.
        vm_mean: mean of the replica means, mV (None without V_m).
        vm_se_replicas: the spread's s / sqrt(R), mV (None for R < 2).
        counting_limit_mV: (kT/e) sqrt(2/n) from all replicas' crossings (None without
            channels).
        vm_se: the SE reported, mV; se_source: "replicas", "counting" or "run" (R = 1: the
            run's own SE, already at least its counting limit).
        crossings: crossings after equilibration, all replicas.
        nernst: one :class:`PooledNernst` per permeant species.
        temperature_K: K; channels_per_membrane: pores in each membrane; depths_nm:
            compartment name -> depth, nm.
        measurements: the replicas' :class:`analysis.runs.Measurements` (for the plots).
    """

    index: int
    values: dict
    replicas_planned: int
    replicas: list[ReplicaVm]
    vm_mean: float | None
    vm_se_replicas: float | None
    counting_limit_mV: float | None
    vm_se: float | None
    se_source: str
    crossings: int
    nernst: list[PooledNernst]
    temperature_K: float
    channels_per_membrane: tuple[int, ...] = ()
    depths_nm: dict = field(default_factory=dict)
    measurements: list = field(default_factory=list, repr=False, compare=False)

    @property
    def replicas_finished(self) -> int:
        return len(self.replicas)

    @property
    def channels(self) -> int:
        """Pores in all membranes together."""
        return int(sum(self.channels_per_membrane))

    def nernst_of(self, species: str | None) -> PooledNernst | None:
        return next((n for n in self.nernst if n.species == species), None)


@dataclass
class PooledSweep:
    """A sweep directory pooled (:func:`pool`).

    Attributes:
        dir: the sweep directory; source: the sweep file it was made from; base: its base.
        axes: the axes' key paths; combine, seed: as in the sweep file.
        runs_planned: runs in the plan; points: the points with a finished replica.
        analyses: what the axes call for (:func:`analyses_for`).
        nernst_species: the permeant species whose concentration is on an axis (else the
            first permeant species), whose c_out/c_in the Nernst slope is fitted against.
        notes: runs and points left out, and why.
    """

    dir: Path
    source: str
    base: str
    axes: list[str]
    combine: str
    seed: int | None
    runs_planned: int
    points: list[PooledPoint]
    analyses: list[str]
    nernst_species: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def runs_pooled(self) -> int:
        return sum(p.replicas_finished for p in self.points)

    @property
    def temperature_K(self) -> float:
        return self.points[0].temperature_K


def _nernst_pooled(ms: list[Measurements], vm: SeriesMean | None) -> list[PooledNernst]:
    per_replica = [nernst_rows(m) for m in ms]
    out = []
    for k, first in enumerate(per_replica[0]):
        rows = [rows[k] for rows in per_replica]
        bulk = [r.measured for r in rows if r.measured is not None]
        bulk_mV = bulk_se = activity = None
        if bulk:
            bulk_mV, bulk_se = pool_independent([b.mean for b in bulk], [b.sem for b in bulk])
        acts = [r.activity_mV for r in rows if r.activity_mV is not None]
        if acts:
            activity = float(np.mean(acts))
        out.append(PooledNernst(
            species=first.species, valence=first.valence, c_in_mM=first.c_in_initial_mM,
            c_out_mM=first.c_out_initial_mM, initial_mV=first.initial_mV, bulk_mV=bulk_mV,
            bulk_se_mV=bulk_se, activity_mV=activity,
            dev_initial=deviation_in_se(vm, first.initial_mV),
            dev_bulk=deviation_in_se(vm, bulk_mV, bulk_se),
            dev_activity=deviation_in_se(vm, activity, bulk_se)))
    return out


def pool_point(index: int, values: dict, replicas_planned: int, ms: list[Measurements],
               names: list[str], notes: list[str]) -> PooledPoint:
    """Pool one point's measured replicas (``names``: their run directories' names) by the
    module docstring's formulas; caveats go to ``notes``."""
    m0 = ms[0]
    sc = m0.scenario
    channelled = m0.two_compartments and bool(m0.permeant)
    replicas = []
    for m, name in zip(ms, names):
        charges, n = unit_charge_crossings(m.scenario, m.run.crossings, m.t_equil_ps)
        replicas.append(ReplicaVm(name, m.vm, m.t_equil_ps, n, charges))
    crossings = sum(r.crossings for r in replicas)
    limit = counting_limit_mV(sc.temperature, sum(r.unit_charges for r in replicas)) \
        if channelled else None
    vm_mean = spread = se = None
    source = ""
    if all(r.vm is not None for r in replicas):
        vm_mean, base = pool_independent([r.vm.mean for r in replicas],
                                         [r.vm.sem for r in replicas])
        spread = spread_se([r.vm.mean for r in replicas]) if len(replicas) >= 2 else None
        source, se = ("replicas" if len(replicas) >= 2 else "run"), base
        if limit is not None and not base > limit:
            se, source = limit, "counting"
    elif any(r.vm is not None for r in replicas):
        notes.append(f"point {index}: some replicas have no V_m; no pooled V_m")
    vm = None if vm_mean is None else SeriesMean(vm_mean, se)
    return PooledPoint(
        index=index, values=dict(values), replicas_planned=replicas_planned,
        replicas=replicas, vm_mean=vm_mean, vm_se_replicas=spread, counting_limit_mV=limit,
        vm_se=se, se_source=source, crossings=crossings, nernst=_nernst_pooled(ms, vm),
        temperature_K=sc.temperature,
        channels_per_membrane=tuple(len(mem.channels) for mem in sc.membranes),
        depths_nm={c.name: c.depth for c in sc.compartments}, measurements=list(ms))


def _unfinished(run_dir: Path) -> str | None:
    """Why a planned run cannot be pooled yet (None when it has finished)."""
    if not (run_dir / SCENARIO).is_file():
        return "not started"
    if summary_readable(run_dir):
        return None
    try:
        step = int(load_checkpoint(run_dir)["step"])
        steps = read_scenario(run_dir).run.steps
    except Exception:  # noqa: BLE001 - any damage: say only that it has not finished
        return "not finished (no summary.json)"
    if step >= steps:
        return (f"no summary.json, though its {CHECKPOINT} is at the last step (`ionsim "
                f"resume {run_dir}` rebuilds it)")
    return f"not finished (step {step} of {steps}, no summary.json)"


def _measure_or_note(run_dir: Path, notes: list[str]) -> Measurements | None:
    why = _unfinished(run_dir)
    if why is not None:
        notes.append(f"{run_dir.name}: {why}; left out")
        return None
    try:
        return measure(open_run(run_dir))
    except UserError as err:
        notes.append(f"{run_dir.name}: skipped: {err}")
    except (OSError, KeyError, ValueError, IndexError) as err:
        notes.append(f"{run_dir.name}: skipped: its trajectory cannot be read "
                     f"({type(err).__name__}: {str(err)[:120]})")
    return None


def _plan_parts(sweep_dir: Path):
    """(plan, points [(index, values)], runs [(point, dir)], axis paths) of sweep.json;
    UserError when it is damaged."""
    plan = read_plan(sweep_dir)
    try:
        points = [(int(p["index"]), dict(p["values"])) for p in plan["points"]]
        runs = [(int(r["point"]), str(r["dir"])) for r in plan["runs"]]
        axes = [str(a[0]) for a in plan["spec"]["axes"]]
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise UserError(f"{sweep_dir / PLAN}: damaged ({type(err).__name__}: {err}); run the "
                        f"sweep again into a new directory") from None
    bad = [d for _, d in runs if Path(d).name != d or d in ("", ".", "..")]
    if bad:
        raise UserError(f"{sweep_dir / PLAN}: damaged (run directory {bad[0]!r} is not a name "
                        f"inside the sweep directory)")
    return plan, points, runs, axes


def pool(sweep_dir) -> PooledSweep:
    """Measure every finished run of a sweep or replica directory and pool each point.

    Raises:
        UserError: not a sweep directory, a damaged sweep.json, or no finished run at all.
    """
    sweep_dir = Path(sweep_dir)
    plan, points, runs, axes = _plan_parts(sweep_dir)
    notes: list[str] = []
    pooled = []
    for index, values in points:
        names = [d for p, d in runs if p == index]
        measured = [(d, _measure_or_note(sweep_dir / d, notes)) for d in names]
        measured = [(d, m) for d, m in measured if m is not None]
        if not measured:
            notes.append(f"point {index}: no finished run ({len(names)} planned); left out")
            continue
        if len(measured) < len(names):
            notes.append(f"point {index}: {len(measured)} of {len(names)} replicas pooled")
        pooled.append(pool_point(index, values, len(names), [m for _, m in measured],
                                 [d for d, _ in measured], notes))
    if not pooled:
        first = f" ({notes[0]}{', ...' if len(notes) > 1 else ''})" if notes else ""
        raise UserError(f"{sweep_dir}: none of its {len(runs)} runs has finished and can be "
                        f"read{first}, so there is nothing to pool; run the sweep (`ionsim "
                        f"sweep {plan.get('source', 'SWEEP_FILE')} --out {sweep_dir}`)")
    analyses = analyses_for(axes)
    spec = plan.get("spec", {})
    sweep = PooledSweep(dir=sweep_dir, source=str(plan.get("source", "")),
                        base=str(plan.get("base", "")), axes=axes,
                        combine=str(spec.get("combine", "")), seed=spec.get("seed"),
                        runs_planned=len(runs), points=pooled, analyses=analyses,
                        nernst_species=_nernst_species(axes, pooled[0]), notes=notes)
    if len({p.temperature_K for p in pooled}) > 1:
        notes.append("the points differ in temperature; the Nernst slope's theory uses the "
                     f"first point's, {pooled[0].temperature_K:g} K")
    return sweep


def _nernst_species(axes: list[str], point: PooledPoint) -> str | None:
    permeant = [n.species for n in point.nernst]
    on_axes = [m.group("species") for m in map(_CONCENTRATION_AXIS.fullmatch, axes) if m]
    return next((s for s in on_axes if s in permeant), permeant[0] if permeant else None)


# --- time series over the replicas (the lecture's curves) ------------------------------------

@dataclass(frozen=True)
class ReplicaSeries:
    """One point's time series side by side: times (T,) ns; per replica (R, T) arrays of
    V_m (mV; None without V_m) and of the net ions of ``species`` moved inside -> outside;
    the mean over the replicas and its SE s / sqrt(R) at each sample (NaN for R = 1);
    the latest equilibration time of the replicas, ns."""

    species: str | None
    times_ns: np.ndarray
    vm: np.ndarray | None
    vm_mean: np.ndarray | None
    vm_se: np.ndarray | None
    moved: np.ndarray | None
    moved_mean: np.ndarray | None
    moved_se: np.ndarray | None
    t_equil_ns: float


def _across(rows: np.ndarray):
    mean = rows.mean(axis=0)
    se = rows.std(axis=0, ddof=1) / math.sqrt(rows.shape[0]) if rows.shape[0] >= 2 \
        else np.full(rows.shape[1], math.nan)
    return mean, se


def replica_series(point: PooledPoint, species: str | None) -> ReplicaSeries:
    """The replicas' V_m(t) and net ``species`` moved out (t), cut to the shortest, with
    their mean and SE at every sample (:class:`ReplicaSeries`)."""
    ms = point.measurements
    vm = moved = None
    vm_mean = vm_se = moved_mean = moved_se = None
    if all(m.vm_series is not None for m in ms):
        n = min(m.vm_series.value.size for m in ms)
        times = np.asarray(ms[0].vm_series.time[:n], dtype=float) / PS_PER_NS
        vm = np.stack([np.asarray(m.vm_series.value[:n], dtype=float) for m in ms])
        vm_mean, vm_se = _across(vm)
    else:
        times = ms[0].times_ps / PS_PER_NS
    s = ms[0].species_names.index(species) if species in ms[0].species_names else None
    if s is not None and all(s in m.moved_out for m in ms):
        n = min(min(m.moved_out[s].size for m in ms), times.size)
        times = times[:n]
        vm, vm_mean, vm_se = (None if a is None else a[..., :n] for a in (vm, vm_mean, vm_se))
        moved = np.stack([m.moved_out[s][:n] for m in ms])
        moved_mean, moved_se = _across(moved)
    return ReplicaSeries(species, times, vm, vm_mean, vm_se, moved, moved_mean, moved_se,
                         max(m.t_equil_ps for m in ms) / PS_PER_NS)
