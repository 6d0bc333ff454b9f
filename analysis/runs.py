"""What a finished run measured, reduced once for every analysis command.

:func:`open_run` opens a run directory (a user error, not a traceback, when it is not one);
:func:`measure` reduces its observables to the numbers every analysis needs: the membrane
potential's mean and standard error after equilibration, the measured bulk concentrations,
the ions that crossed. ``ionsim run``'s closing table, ``ionsim analyze``, ``ionsim budget``
and ``ionsim report`` all start from the same :class:`Measurements`, so each number is
computed in one place.

Conventions. Compartment 0 is the *inside*, compartment 1 the *outside*: the engine measures
V_m = phi_bar(compartment 0 bulk) - phi_bar(compartment 1 bulk), and every Nernst potential
here is V_in - V_out for those two compartments. Ions "moved out" are the net number that
went from compartment 0 to compartment 1. Units: concentrations mM, potentials mV, times ps
(ns where the name says so), volumes nm^3.

Equilibration. The first sample used is, in order of preference: the scenario's
``run.equilibration`` time; the start that :func:`analysis.statistics.analyze_series` detects
on V_m; the start detected on the net number of permeant ions moved (runs without
electrostatics); otherwise the first sample. A detected start is capped at half the run, with
a note: on a run short for its slowest relaxation (a few ions hopping through channels, a
step-like series) the detector (maximising the effective number of samples) can keep only the
last few samples, and a mean of half the run with a warning serves the user better.
Every mean of a time series (V_m, bulk concentrations, ions moved) starts there, so they
describe the same stretch of the run.

The SE of V_m is the larger of the series' own SE and the counting limit
(kT/e) sqrt(2/n) for n charges crossing each way after equilibration
(:func:`counting_se_mV`), in a run with channels: the membrane's charge changes only by
crossings, so fewer crossings cannot pin its mean better, whatever a short step-like series
suggests.
"""

from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.errors import UserError
from sim.io import SCENARIO, SUMMARY, TRAJECTORY, RunData, Series, salvage_hint
from sim.rundir import check_consistent
from sim.units import PER_NM3_TO_MM, PS_PER_NS

from analysis.statistics import TimeSeriesStats, analyze_series

__all__ = ["open_run", "measure", "Measurements", "SeriesMean", "permeant_species", "running_mean",
           "counting_se_mV", "counting_limit_mV", "unit_charge_crossings",
           "moved_out_by_position",
           "INSIDE", "OUTSIDE"]

INSIDE, OUTSIDE = 0, 1


def open_run(path, need_potential: bool = False) -> RunData:
    """Open a run directory written by ``ionsim run``.

    Args:
        path: the run directory.
        need_potential: refuse a run without the ``membrane_potential`` observable (one made
            with ``electrostatics: off`` or without membranes).

    Raises:
        sim.errors.UserError: one line naming the path and what is accepted; also when
            its files come from different runs (sim.rundir.check_consistent).
    """
    p = Path(path)
    hint = "give a run directory written by `ionsim run SCENARIO --out DIR`"
    if not p.exists():
        raise UserError(f"{p}: no such run directory ({hint})")
    if not p.is_dir():
        raise UserError(f"{p}: is a file, not a run directory ({hint})")
    missing = [name for name in (SCENARIO, TRAJECTORY) if not (p / name).exists()]
    if missing:
        raise UserError(f"{p}: not an ionsim run directory (no {' or '.join(missing)}; "
                        f"{hint})")
    check_consistent(p)
    try:
        run = RunData(p)
    except UserError:
        raise
    except (OSError, KeyError, ValueError) as err:
        raise UserError(f"{p / TRAJECTORY}: cannot be read ({type(err).__name__}: "
                        f"{str(err).splitlines()[0][:200] if str(err) else 'unreadable'}); "
                        f"{salvage_hint(p)}") from None
    if (p / SUMMARY).exists() and run.summary is None:
        print(f"ionsim: warning: {p / SUMMARY}: unreadable (it is derived data; `ionsim resume "
              f"{p}` rebuilds it from the trajectory); going on without it", file=sys.stderr)
    if "counts" not in run.observable_names or len(run.compartment_names) == 0:
        raise UserError(f"{p}: the run holds no samples yet (no 'counts' observable); {hint}")
    if need_potential and not run.scenario.membranes:
        raise UserError(f"{p}: this run has no membranes (a bulk electrolyte), so there is no "
                        f"membrane potential to analyze; give a run with two or more "
                        f"membranes")
    if need_potential and "membrane_potential" not in run.observable_names:
        raise UserError(f"{p}: this run has no membrane potential (it needs membranes and "
                        f"'electrostatics: ewald', this one has electrostatics "
                        f"{run.scenario.electrostatics.method!r} and "
                        f"{len(run.scenario.membranes)} membranes); `ionsim budget` works "
                        f"without it")
    return run


def permeant_species(scenario) -> list[int]:
    """Indices of the species that at least one channel admits (scenario order)."""
    admitted = {name for m in scenario.membranes for ch in m.channels for name in ch.permeant}
    return [s for s, sp in enumerate(scenario.species) if sp.name in admitted]


@dataclass(frozen=True)
class SeriesMean:
    """A mean over the equilibrated samples with its standard error (unit of the series).

    ``stats`` is the full :class:`analysis.statistics.TimeSeriesStats` (None for a series
    too short to analyse, where ``sem`` is NaN).
    """

    mean: float
    sem: float
    stats: TimeSeriesStats | None = None

    def __str__(self) -> str:
        return f"{self.mean:.4g} +/- {self.sem:.2g}"


@dataclass
class Measurements:
    """The reduced observables of one run (see the module docstring for the conventions).

    Attributes:
        run: the :class:`sim.io.RunData`.
        scenario: its scenario.
        times_ps: sample times (T,), ps.
        counts: ions per compartment label (T, K, S).
        t0: index of the first equilibrated sample; t_equil_ps its time.
        equilibration_source: how t0 was chosen (words).
        vm: mean V_m (mV) after equilibration, or None without the observable.
        vm_series: the V_m series (mV), or None.
        bulk_mM: (K, S) array of :class:`SeriesMean`: measured bulk concentrations, mM.
        initial_mM: (K, S) scenario concentrations, mM.
        initial_counts: (K, S) ions placed in each compartment.
        permeant: species indices admitted by some channel.
        moved_out: species index -> (T,) net ions moved from compartment 0 to 1 through
            the channels (what pumps carried is left out: sim.pumps).
        moved_out_mean: species index -> :class:`SeriesMean` of moved_out after t0.
        crossings_out, crossings_in: species index -> crossing events 0 -> 1 and 1 -> 0.
        notes: caveats found while measuring (short series, empty windows ...).
    """

    run: RunData
    scenario: object
    times_ps: np.ndarray
    counts: np.ndarray
    t0: int
    t_equil_ps: float
    equilibration_source: str
    vm: SeriesMean | None
    vm_series: Series | None
    bulk_mM: np.ndarray
    initial_mM: np.ndarray
    initial_counts: np.ndarray
    permeant: list[int]
    moved_out: dict[int, np.ndarray]
    moved_out_mean: dict[int, SeriesMean]
    crossings_out: dict[int, int]
    crossings_in: dict[int, int]
    notes: list[str] = field(default_factory=list)

    # -- convenience ----------------------------------------------------------------------
    @property
    def species_names(self) -> list[str]:
        return self.run.species_names

    @property
    def compartment_names(self) -> list[str]:
        return self.run.compartment_names

    @property
    def two_compartments(self) -> bool:
        """Whether there is an inside and an outside (two or more membranes)."""
        return len(self.compartment_names) >= 2

    @property
    def temperature(self) -> float:
        return self.scenario.temperature

    @property
    def membrane_area_nm2(self) -> float:
        """Total capacitor area: every membrane's lateral area (they are in parallel)."""
        return len(self.scenario.membranes) * self.scenario.area

    @property
    def valences(self) -> list[int]:
        return [sp.valence for sp in self.scenario.species]

    @property
    def duration_ps(self) -> float:
        return float(self.times_ps[-1]) if self.times_ps.size else 0.0

    def charge_moved(self) -> dict[int, "SeriesMean"] | None:
        """Permeant species -> ions moved out counted by position (the capacitor's charge,
        see :func:`moved_out_by_position`), mean +- SE over the frames after equilibration;
        None when it cannot be computed. Reads the frames once (cached)."""
        if not hasattr(self, "_charge_moved"):
            result = None
            if self.two_compartments and self.permeant:
                got = moved_out_by_position(self.run)
                if got is not None:
                    times, moved = got
                    f0 = min(int(np.searchsorted(times, self.t_equil_ps - 1e-9)),
                             max(0, times.size - 1))
                    result = {s: _stats(moved[:, s], None, f0, [], "") for s in self.permeant}
                    self.frame_times_ps, self.frame_moved = times, moved
            self._charge_moved = result
        return self._charge_moved

    def net_out_final(self, s: int) -> int:
        """Net ions of species s moved from compartment 0 to 1 by the end of the run."""
        return int(self.crossings_out[s] - self.crossings_in[s])


def _stats(values, times, t0, notes, what) -> SeriesMean:
    """Mean +- SE of values[t0:], warnings turned into notes."""
    x = np.asarray(values, dtype=float)[t0:]
    if x.size < 4:
        notes.append(f"{what}: only {x.size} samples after equilibration, no error bar")
        return SeriesMean(float(np.mean(x)) if x.size else math.nan, math.nan, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        st = analyze_series(x, None if times is None else times[t0:], equilibration=0)
    if any(issubclass(w.category, RuntimeWarning) for w in caught):
        notes.append(f"{what}: the series is short for its correlation time "
                     f"(g = {st.statistical_inefficiency:.3g}, {st.n_samples} samples); its "
                     f"error bar is itself uncertain")
    return SeriesMean(st.mean, st.sem, st)


def unit_charge_crossings(scenario, crossings, t_from_ps: float) -> tuple[float, int]:
    """The crossings at or after ``t_from_ps`` (ps): (sum over them of z^2, their number).

    Args:
        scenario: the run's scenario (the species' valences z).
        crossings: the run's crossing events (``sim.io.RunData.crossings``: ``time`` ps,
            ``species`` index).
    """
    after = np.asarray(crossings["time"]) >= t_from_ps
    species = np.asarray(crossings["species"])[after].astype(np.int64)
    valence = np.array([sp.valence for sp in scenario.species], dtype=float)
    unit_charges = float(np.sum(valence[species] ** 2)) if species.size else 0.0
    return unit_charges, int(species.size)


def counting_limit_mV(temperature_K: float, unit_charges: float) -> float:
    """The error bar of mean V_m that ``unit_charges`` crossings allow, mV.

    V_m's slow part is the membrane's charge, which changes only when an ion crosses; its
    mean is known to about (kT/e) sqrt(2 / n) for n unit charges crossing each way,
    n = unit_charges / 2 with unit_charges = sum over the crossings of z^2 (a count below
    one is taken as one). Independent runs add their unit charges.

    Args:
        temperature_K: K.
        unit_charges: sum of z^2 over the crossings counted (dimensionless).
    """
    from sim.units import thermal_voltage_mV
    n_each = max(1.0, 0.5 * float(unit_charges))
    return thermal_voltage_mV(temperature_K) * math.sqrt(2.0 / n_each)


def counting_se_mV(scenario, crossings, t_from_ps: float) -> tuple[float, int]:
    """The error bar of mean V_m that the crossings after t_from_ps allow, and their number:
    (:func:`counting_limit_mV` of their :func:`unit_charge_crossings`, in mV; crossings)."""
    unit_charges, n = unit_charge_crossings(scenario, crossings, t_from_ps)
    return counting_limit_mV(scenario.temperature, unit_charges), n


def _with_counting_floor(vm: SeriesMean, scenario, crossings, t_from_ps, notes) -> SeriesMean:
    """V_m's SE is at least the counting limit (see :func:`counting_se_mV`): a block or
    autocorrelation SE of a step-like series with a few crossings can be several times too
    small (a 6 ns Nernst run read -91 +- 5.7 mV against -61 mV from 21 crossings)."""
    floor, n = counting_se_mV(scenario, crossings, t_from_ps)
    if not vm.sem >= floor:
        notes.append(f"V_m: the SE of the series ({vm.sem:.3g} mV) is below what {n} "
                     f"crossings after equilibration allow, (kT/e) sqrt(2/n) = "
                     f"{floor:.3g} mV; the larger is reported")
        return SeriesMean(vm.mean, floor, vm.stats)
    return vm


def _equilibration(run: RunData, times, vm_values, moved, permeant, notes):
    """(t0, source) as described in the module docstring."""
    n = times.size
    given = run.scenario.run.equilibration
    if given is not None:
        t0 = int(np.searchsorted(times, given - 1e-9, side="left"))
        if t0 > n - 4:
            notes.append(f"run.equilibration = {given:g} ps leaves {n - t0} samples; using "
                         f"the last 4")
            t0 = max(0, n - 4)
        return t0, f"run.equilibration = {given / PS_PER_NS:g} ns"
    candidates = []
    if vm_values is not None:
        candidates.append((vm_values, "detected on V_m"))
    if permeant:
        s = max(permeant, key=lambda k: np.ptp(moved[k]) if n else 0)
        if n and np.ptp(moved[s]) > 0:
            candidates.append((moved[s], f"detected on the net {run.species_names[s]} "
                                         f"moved"))
    for series, source in candidates:
        if n < 8 or np.ptp(series) == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            st = analyze_series(series, equilibration="auto")
        t0 = st.t_equil_index
        if t0 > n // 2:
            notes.append(f"equilibration {source} at {times[t0] / PS_PER_NS:.3g} ns would "
                         f"leave {n - t0} of {n} samples: the run is short for its slowest "
                         f"relaxation; the second half is used instead (run longer, or set "
                         f"run.equilibration)")
            return n // 2, f"{source}, capped at half the run"
        return t0, source
    return 0, "no trend to detect"


def measure(run: RunData) -> Measurements:
    """Reduce a run's observables (fast: observables only, no positions).

    Args:
        run: an open run (see :func:`open_run`).
    """
    sc = run.scenario
    notes: list[str] = []
    counts_series = run.observable("counts")
    times = np.asarray(counts_series.time, dtype=float)
    counts = np.asarray(counts_series.value, dtype=np.int64)
    n_comp, n_species = counts.shape[1], counts.shape[2]
    initial_mM = np.array([[c.concentration(sp.name) * PER_NM3_TO_MM for sp in sc.species]
                           for c in sc.compartments])
    permeant = permeant_species(sc)
    two = n_comp >= 2

    moved = {s: (counts[0, INSIDE, s] - counts[:, INSIDE, s]).astype(float)
             if two else np.zeros(times.size) for s in range(n_species)}
    if two:
        # what the channels moved: the pumps' transfers (sim.pumps) taken out of the counts
        pumped = _pumped_out(run, np.asarray(counts_series.step), n_species)
        moved = {s: moved[s] - pumped[:, s] for s in moved}
    cr = run.crossings
    out = {s: int(np.sum((cr["species"] == s) & (cr["from"] == INSIDE) & (cr["to"] == OUTSIDE)))
           for s in range(n_species)}
    back = {s: int(np.sum((cr["species"] == s) & (cr["from"] == OUTSIDE) & (cr["to"] == INSIDE)))
            for s in range(n_species)}

    vm_series = None
    if "membrane_potential" in run.observable_names:
        vm_series = run.observable("membrane_potential")
        if vm_series.value.size == 0 or not np.all(np.isfinite(vm_series.value)):
            notes.append("membrane_potential is empty or not finite; ignored")
            vm_series = None
    t0, source = _equilibration(run, times, None if vm_series is None else vm_series.value,
                                moved, permeant if two else [], notes)
    t_equil = float(times[t0]) if times.size else 0.0

    vm = None
    if vm_series is not None:
        vm = _stats(vm_series.value, vm_series.time, t0, notes, "V_m")
        if two and permeant:
            vm = _with_counting_floor(vm, sc, cr, t_equil, notes)

    bulk = np.empty((n_comp, n_species), dtype=object)
    if "bulk_concentration" in run.observable_names:
        bc = run.observable("bulk_concentration").value
        for k in range(n_comp):
            for s in range(n_species):
                bulk[k, s] = _stats(bc[:, k, s], None, t0, [], "")
    else:
        for k in range(n_comp):
            for s in range(n_species):
                bulk[k, s] = SeriesMean(math.nan, math.nan, None)
    moved_mean = {}
    for s in permeant if two else []:
        moved_mean[s] = _stats(moved[s], None, t0, notes,
                               f"net {run.species_names[s]} moved")

    return Measurements(run=run, scenario=sc, times_ps=times, counts=counts, t0=t0,
                        t_equil_ps=t_equil, equilibration_source=source, vm=vm,
                        vm_series=vm_series, bulk_mM=bulk, initial_mM=initial_mM,
                        initial_counts=counts[0].copy() if times.size else
                        np.zeros((n_comp, n_species), dtype=np.int64),
                        permeant=permeant, moved_out=moved, moved_out_mean=moved_mean,
                        crossings_out=out, crossings_in=back, notes=notes)


def running_mean(values, g: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative mean of a series and its standard error at every sample.

    mean_n = (1/n) sum_{i<n} x_i and SE_n = sqrt(g s_n^2 / n), s_n^2 the running sample
    variance and g the statistical inefficiency of the whole series (the correlation time
    does not change along an equilibrated series; the first sample's SE is NaN).

    Args:
        values: the series (1-D), any unit.
        g: statistical inefficiency (>= 1), e.g. ``TimeSeriesStats.statistical_inefficiency``.

    Returns:
        (mean, sem), each the length of ``values``, in its unit.
    """
    x = np.asarray(values, dtype=float)
    n = np.arange(1, x.size + 1, dtype=float)
    mean = np.cumsum(x) / n
    sq = np.cumsum(x * x) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.maximum(sq - mean * mean, 0.0) * n / (n - 1)
        sem = np.sqrt(max(g, 1.0) * var / n)
    if sem.size:
        sem[0] = np.nan
    return mean, sem


def _pumped_out(run: RunData, sample_steps: np.ndarray, n_species: int) -> np.ndarray:
    """(T, S) net ions the pumps carried from compartment 0 to 1 up to each sample's step
    (zeros in a run without pumps)."""
    tr = getattr(run, "events", {}).get("pump_transfers")
    out = np.zeros((sample_steps.size, n_species))
    if not tr or not len(tr["step"]):
        return out
    sign = np.where((tr["from"] == INSIDE) & (tr["to"] == OUTSIDE), 1.0,
                    np.where((tr["from"] == OUTSIDE) & (tr["to"] == INSIDE), -1.0, 0.0))
    order = np.argsort(tr["step"], kind="stable")
    steps, species, sign = tr["step"][order], tr["species"][order], sign[order]
    for s in range(n_species):
        mine = species == s
        cum = np.concatenate([[0.0], np.cumsum(sign[mine])])
        out[:, s] = cum[np.searchsorted(steps[mine], sample_steps, side="right")]
    return out


def moved_out_by_position(run: RunData, max_values: int = 50_000_000):
    """Ions of each species moved from compartment 0 to 1, counting an ion inside a membrane
    by the fraction of the membrane it has traversed, at every frame.

    By the Shockley-Ramo theorem a charge q at the fraction s of the way through a uniform
    dielectric slab between two conductors (here the electrolytes) induces the charge s q on
    the far side, so this count is the charge on the membrane capacitor, in ions: the number
    that makes V_m. Counting whole crossings only (the compartment labels) misses the ions
    that sit in the pores, which in a small box can be most of that charge. s rises linearly
    from the face of compartment 0 to the face of compartment 1 (membrane 0 from below,
    membrane 1 from above across the periodic boundary); water of compartment 0 is s = 0,
    of compartment 1 s = 1.

    Args:
        run: a run with two compartments.
        max_values: refuse (return None) when frames x ions exceeds this, to stay fast.

    Returns:
        (times_ps (F,), moved (F, S)): moved[f, s] = sum over ions of species s of
        s_i(f) - s_i(0), or None for fewer than two compartments, no frames or too many
        values.
    """
    sc = run.scenario
    if len(sc.compartments) != 2 or run.n_frames == 0 or \
            run.n_frames * run.species.size > max_values:
        return None
    lz = sc.box[2]
    z = np.mod(run.positions()[:, :, 2], lz)
    progress = np.zeros_like(z)
    (lo1, hi1) = sc.compartment_bounds()[OUTSIDE]
    progress[(z >= lo1) & (z < hi1)] = 1.0
    (a0, b0), (a1, b1) = sc.membrane_bounds()
    in0 = (z >= a0) & (z < b0)
    progress[in0] = ((z - a0) / (b0 - a0))[in0]
    in1 = (z >= a1) & (z < b1)
    progress[in1] = ((b1 - z) / (b1 - a1))[in1]
    n_species = len(sc.species)
    per_species = np.stack([progress[:, run.species == s].sum(axis=1)
                            for s in range(n_species)], axis=1)
    return np.asarray(run.frame_times, dtype=float), per_species - per_species[0]
