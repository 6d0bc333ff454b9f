"""How many ions made the membrane potential, and why that is negligible: what
``ionsim budget`` prints (the command is :mod:`analysis.ion_budget`).

For each species that a channel admits:

- the crossings in each direction, the net number moved from the inside (compartment 0) to
  the outside (compartment 1) at the end and on average after equilibration, and the fraction
  of each compartment's ions of that species this is (net change / ions placed there);
- the shift of the Nernst potential this caused in the simulation box
  (:func:`analysis.cell.ion_budget` with the box's accessible volumes, the same volumes the
  engine used to place the ions, so the fraction is exactly moved / placed);
- the same for a real spherical cell of the given radius charged to the measured V_m (or, in a
  run without electrostatics, to the Nernst potential) with C_m = 1 uF/cm^2
  (:func:`analysis.cell.cell_ion_budget`): a fraction of order 1e-5;
- the two numerical claims of the lecture behind ionsim, recomputed with the arithmetic shown
  (:func:`analysis.cell.lecture_ions_in_cell`, :func:`analysis.cell.lecture_one_millimolar_leak`).

A run with pumps also gets what a real cell pays them in ATP (:mod:`analysis.pump_cost`):
the ATP that builds the run's gradient in a cell of the given radius, and the ATP per second
that holds it at the run's pump rate (divided by the pumps' acceleration) with
``--pump-density`` pumps per um^2.

``ionsim budget --series RUN_DIR...`` takes runs that differ in compartment depth L and plots
the crossed fraction against L with the expected 1/L line: the number of ions that charge
the membrane, n = C A |E| / (z e), does not depend on L, while the ions in the compartment,
c A L, grow with it. The expected line uses the series capacitance of
:mod:`analysis.capacitance` and the Nernst potential of the initial concentrations; a
one-parameter fit f = a / L is drawn beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.errors import UserError
from sim.geometry import Geometry
from sim.system import compartment_volume
from sim.units import (AVOGADRO, ELEMENTARY_CHARGE, MOLAR_TO_PER_NM3, UnitError,
                       parse_quantity)

from analysis.agents import analyze_agents
from analysis.capacitance import capacitance_theory
from analysis.cell import (IonBudget, OneMillimolarLeak, cell_ion_budget, ion_budget,
                           ions_for_voltage, lecture_ions_in_cell, lecture_one_millimolar_leak,
                           sphere_area_nm2, sphere_volume_nm3)
from analysis.pump_cost import DEFAULT_PUMP_DENSITY_PER_UM2, pump_cell_cost, pump_cost_table
from analysis.runs import INSIDE, OUTSIDE, Measurements, SeriesMean, measure, open_run
from analysis.tables import Table, fmt, fmt_pm, fmt_sci, printout
from analysis.theory import nernst_mV

__all__ = ["SpeciesBudget", "box_budget", "CellBudget", "real_cell_budget", "lecture_claims",
           "DepthPoint", "DepthSeries", "depth_series", "depth_point", "depth_species",
           "series_of_points", "fit_inverse", "budget_tables", "budget_lines",
           "parse_radius_um", "DEFAULT_CELL_RADIUS_UM"]

DEFAULT_CELL_RADIUS_UM = 5.0
_L_PER_NM3 = 1e-24
_CM2_PER_NM2 = 1e-14


@dataclass(frozen=True)
class SpeciesBudget:
    """The ions of one permeant species that crossed in the simulation box.

    Attributes:
        species, valence: name and charge number.
        crossings_out, crossings_in: crossing events inside -> outside and back.
        net_final: net ions moved inside -> outside by the end of the run.
        net_mean: net moved, mean +- SE over the equilibrated samples.
        placed: (K,) ions of this species placed in each compartment.
        change_final: (K,) change of each compartment's count by the end.
        fraction_final: (K,) change_final / placed (NaN where none were placed).
        fraction_mean: inside and outside fractions from net_mean, (2,) with their SE (2,).
        volumes_nm3: (K,) accessible volumes.
        charge_moved: ions moved out counting those in the pores by the fraction of the
            membrane they traversed (the capacitor's charge, from the frames), mean +- SE
            after equilibration; None when not computed.
        box: :class:`analysis.cell.IonBudget` for net_mean ions leaving the inside, or None.
        box_reason: why ``box`` is None.
    """

    species: str
    valence: int
    crossings_out: int
    crossings_in: int
    net_final: int
    net_mean: SeriesMean
    placed: np.ndarray
    change_final: np.ndarray
    fraction_final: np.ndarray
    fraction_mean: np.ndarray
    fraction_mean_sem: np.ndarray
    volumes_nm3: np.ndarray
    charge_moved: SeriesMean | None
    box: IonBudget | None
    box_reason: str = ""


def _per_mM(count: float, volume_nm3: float) -> float:
    """Concentration (mM) of `count` ions in `volume_nm3`."""
    return count / (volume_nm3 * MOLAR_TO_PER_NM3 * 1e-3)


def box_budget(m: Measurements, with_frames: bool = True) -> list[SpeciesBudget]:
    """The crossed ions of every permeant species (empty without two compartments).

    Args:
        m: the measurements.
        with_frames: also count the ions in the pores from the frames (``charge_moved``).
    """
    if not m.two_compartments:
        return []
    by_position = m.charge_moved() if with_frames else None
    sc = m.scenario
    geo = Geometry.from_scenario(sc)
    volumes = np.array([compartment_volume(sc, geo, k) for k in range(len(sc.compartments))])
    out = []
    for s in m.permeant:
        placed = m.initial_counts[:, s].astype(float)
        change = (m.counts[-1, :, s] - m.counts[0, :, s]).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(placed > 0, change / placed, np.nan)
        net = m.moved_out_mean[s]
        sign = np.array([-1.0, 1.0])  # the inside loses what the outside gains
        with np.errstate(divide="ignore", invalid="ignore"):
            fmean = np.where(placed[:2] > 0, sign * net.mean / placed[:2], np.nan) + 0.0
            fsem = np.where(placed[:2] > 0, net.sem / placed[:2], np.nan)
        box, reason = None, ""
        n_in, n_out = placed[INSIDE], placed[OUTSIDE]
        if n_in > 0 and n_out > 0:
            try:
                box = ion_budget(net.mean, _per_mM(n_in, volumes[INSIDE]),
                                 _per_mM(n_out, volumes[OUTSIDE]), m.valences[s],
                                 m.temperature, volumes[INSIDE], volumes[OUTSIDE])
            except ValueError as err:
                reason = str(err)
        else:
            reason = "no ions of this species on one side at the start: no Nernst potential"
        out.append(SpeciesBudget(
            species=m.species_names[s], valence=m.valences[s],
            crossings_out=m.crossings_out[s], crossings_in=m.crossings_in[s],
            net_final=m.net_out_final(s), net_mean=net, placed=placed, change_final=change,
            fraction_final=frac, fraction_mean=fmean, fraction_mean_sem=fsem,
            volumes_nm3=volumes,
            charge_moved=None if by_position is None else by_position.get(s),
            box=box, box_reason=reason))
    return out


@dataclass(frozen=True)
class CellBudget:
    """One species' ion budget in a real spherical cell charged to ``voltage_mV``.

    Attributes:
        species: its name.
        radius_um: cell radius, um.
        voltage_mV: the voltage reached; voltage_source: where it comes from (words).
        budget: the :class:`analysis.cell.IonBudget` (None when it cannot be computed).
        ions_in_cell: ions of the species the cell holds at its initial concentration.
        reason: why ``budget`` is None.
    """

    species: str
    radius_um: float
    voltage_mV: float | None
    voltage_source: str
    budget: IonBudget | None
    ions_in_cell: float
    reason: str = ""


def real_cell_budget(m: Measurements, radius_um: float = DEFAULT_CELL_RADIUS_UM,
                     C_m_uF_per_cm2: float = 1.0) -> list[CellBudget]:
    """For each permeant species: the budget of a cell of this radius charged to V_m (or to
    the initial Nernst potential when the run has no V_m), as if that species alone carried
    the charge, with the scenario's initial concentrations."""
    if not m.two_compartments:
        return []
    out = []
    for s in m.permeant:
        name, z = m.species_names[s], m.valences[s]
        c_in, c_out = m.initial_mM[INSIDE, s], m.initial_mM[OUTSIDE, s]
        held = c_in * 1e-3 * MOLAR_TO_PER_NM3 * sphere_volume_nm3(radius_um)
        if m.vm is not None:
            v, source = m.vm.mean, "the measured V_m"
        elif c_in > 0 and c_out > 0:
            v, source = nernst_mV(c_out, c_in, z, m.temperature), \
                f"the Nernst potential of {name} (no V_m in this run)"
        else:
            out.append(CellBudget(name, radius_um, None, "", None, held,
                                  "no Nernst potential (a side without this species)"))
            continue
        if not (c_in > 0 and c_out > 0):
            out.append(CellBudget(name, radius_um, v, source, None, held,
                                  f"no {name} on one side at the start"))
            continue
        try:
            b = cell_ion_budget(v, radius_um, c_in, c_out, z, m.temperature, C_m_uF_per_cm2)
            out.append(CellBudget(name, radius_um, v, source, b, held))
        except ValueError as err:
            out.append(CellBudget(name, radius_um, v, source, None, held, str(err)))
    return out


def lecture_claims(radius_um: float = DEFAULT_CELL_RADIUS_UM, temperature_K: float = 310.15,
                   c_in_mM: float = 150.0, c_out_mM: float = 5.0) -> tuple[Table, Table]:
    """The lecture's two numerical claims, each as a table of arithmetic steps.

    1. "About 1e20" K+ ions in a cell: a cell of radius R at 150 mM holds c N_A 4/3 pi R^3.
    2. 1 mM of K+ leaving a cell of diameter 2R: the Nernst shift is a fraction of a mV, but
       the charge alone would put volts on the membrane (C_m = 1 uF/cm^2).
    """
    vol_nm3 = sphere_volume_nm3(radius_um)
    vol_L = vol_nm3 * _L_PER_NM3
    n = lecture_ions_in_cell(radius_um, c_in_mM)
    volume_for_1e20_mL = 1e20 / (c_in_mM * 1e-3 * AVOGADRO) * 1e3
    t1 = Table(f'Lecture claim 1: "about 10^20 K+ ions" in a cell (radius {radius_um:g} um, '
               f'K+ {c_in_mM:g} mM)', ["step", "arithmetic", "result"])
    t1.add("cell volume", f"4/3 pi ({radius_um:g}e-6 m)^3", f"{vol_L * 1e-3:.3e} m^3 = "
                                                             f"{vol_L:.3e} L")
    t1.add("K+ ions", f"{c_in_mM * 1e-3:g} mol/L x {vol_L:.3e} L x {AVOGADRO:.4e} /mol",
           f"{n:.3e}")
    t1.add("the lecture's 10^20", f"10^20 / ({c_in_mM * 1e-3:g} mol/L x {AVOGADRO:.4e} /mol)",
           f"needs {volume_for_1e20_mL:.2g} mL of cytoplasm")
    t1.notes.append(f"a cell holds about {n:.1e} K+ ions: {math.log10(1e20 / n):.0f} orders "
                    f"of magnitude fewer than the lecture's 10^20 (it counted a litre, not a "
                    f"cell), but still enormous beside the ~1e6 that charge the membrane")

    leak: OneMillimolarLeak = lecture_one_millimolar_leak(
        diameter_um=2 * radius_um, delta_c_mM=1.0, c_in_mM=c_in_mM, c_out_mM=c_out_mM,
        temperature_K=temperature_K)
    area_cm2 = sphere_area_nm2(radius_um) * _CM2_PER_NM2
    t2 = Table(f"Lecture claim 2: 1 mM of K+ leaves a cell of {2 * radius_um:g} um diameter "
               f"(K+ {c_in_mM:g} -> {c_in_mM - 1:g} mM inside, outside {c_out_mM:g} mM, "
               f"{temperature_K:g} K)", ["step", "arithmetic", "result"])
    t2.add("ions that leave", f"1e-3 mol/L x {vol_L:.3e} L x {AVOGADRO:.4e} /mol",
           f"{leak.ions:.3e}")
    t2.add("their charge", f"{leak.ions:.3e} x {ELEMENTARY_CHARGE:.4e} C",
           f"{leak.charge_C:.3e} C")
    t2.add("membrane capacitance", f"1 uF/cm^2 x 4 pi ({radius_um:g}e-4 cm)^2 = 1e-6 F/cm^2 x "
                                   f"{area_cm2:.3e} cm^2", f"{leak.capacitance_F:.3e} F")
    t2.add("voltage from that charge", f"{leak.charge_C:.3e} C / {leak.capacitance_F:.3e} F",
           f"{leak.voltage_from_charge_mV / 1e3:.1f} V")
    t2.add("Nernst shift from the concentration", f"(kT/e) ln({c_in_mM:g} / {c_in_mM - 1:g})",
           f"{leak.nernst_shift_mV:.3f} mV")
    t2.notes.append("the concentration change alone barely moves the Nernst potential, but "
                    "the uncompensated charge would need volts: so only the ~1e-5 of the "
                    "ions that charge the capacitor ever cross")
    return t1, t2


# --- the depth series -------------------------------------------------------------------------

@dataclass(frozen=True)
class DepthPoint:
    """One run of a depth series.

    Attributes:
        run_dir: the run; depth_nm: the inside compartment's depth, nm.
        placed: ions of the species placed inside; net: net moved out (mean +- SE), counting
            ions in the pores by the fraction of the membrane traversed when the frames
            allow (``counted`` says which).
        fraction, fraction_sem: net / placed and its SE.
        expected_fraction: C A |E| / (|z| e) / placed (capacitor theory).
        vm: V_m mean +- SE (None without V_m).
    """

    run_dir: str
    depth_nm: float
    placed: int
    net: SeriesMean
    fraction: float
    fraction_sem: float
    expected_ions: float | None
    expected_fraction: float | None
    vm: SeriesMean | None
    counted: str = "whole crossings"


@dataclass(frozen=True)
class DepthSeries:
    """Crossed fraction against compartment depth (see :func:`depth_series`).

    Attributes:
        species: the species counted.
        points: one :class:`DepthPoint` per run, sorted by depth.
        fit_a_nm: a of the fit fraction = a / depth (nm), and its SE.
    """

    species: str
    points: list[DepthPoint]
    fit_a_nm: float
    fit_a_sem_nm: float

    def table(self) -> Table:
        t = Table(f"Crossed fraction of the inside's {self.species} against compartment depth",
                  ["depth (nm)", f"{self.species} placed inside", "net moved out", "fraction",
                   "expected (C A |E| / e)", "fit a / depth", "V_m (mV)", "run"])
        for p in self.points:
            t.add(fmt(p.depth_nm, 2), str(p.placed),
                  fmt_pm(p.net.mean, p.net.sem, 2) + ("" if p.counted == "whole crossings"
                                                      else " *"),
                  f"{fmt_sci(p.fraction, 2)} +/- {fmt_sci(p.fraction_sem, 1)}",
                  fmt_sci(p.expected_fraction, 2), fmt_sci(self.fit_a_nm / p.depth_nm, 2),
                  "n/a" if p.vm is None else fmt_pm(p.vm.mean, p.vm.sem, 1, sign=True),
                  p.run_dir)
        if any(p.counted != "whole crossings" for p in self.points):
            t.notes.append("* counting the ions in the pores by the fraction of the membrane "
                           "they traversed (the capacitor's charge, from the frames)")
        t.notes.append(f"fit: fraction = a / depth with a = {self.fit_a_nm:.3g} +/- "
                       f"{self.fit_a_sem_nm:.2g} nm (weighted least squares)")
        t.notes.append("expected: the ions that charge the membranes to the initial Nernst "
                       "potential, n = C A |E| / (|z| e) (C in series with the double layers), "
                       "over the ions placed inside; independent of depth, hence 1 / depth "
                       "(n/a without electrostatics: then nothing stops the leak)")
        return t


def fit_inverse(depth, frac, sem) -> tuple[float, float]:
    """Weighted least squares of frac = a / depth (weights 1 / sem^2; unweighted, with the SE
    from the residuals, when an SE is missing): (a, SE(a)) in the unit of depth."""
    x = 1.0 / np.asarray(depth, float)
    y = np.asarray(frac, float)
    s = np.asarray(sem, float)
    if np.all(np.isfinite(s) & (s > 0)):
        w = 1.0 / s ** 2
    else:
        w = np.ones_like(y)
    a = float(np.sum(w * x * y) / np.sum(w * x * x))
    if np.all(np.isfinite(s) & (s > 0)):
        se = float(1.0 / math.sqrt(np.sum(w * x * x)))
    else:
        resid = y - a * x
        dof = max(1, y.size - 1)
        se = float(math.sqrt(np.sum(resid ** 2) / dof / np.sum(x * x)))
    return a, se


def depth_species(m: Measurements, where) -> str:
    """The species a depth series counts: the first permeant species of its first run
    (UserError naming ``where`` when the run has no inside and outside or no channel)."""
    if not m.two_compartments or not m.permeant:
        raise UserError(f"{where}: a depth series needs runs with membranes and a channel "
                        f"that admits some species; this run has "
                        f"{len(m.scenario.membranes)} membranes and "
                        f"{len(m.permeant)} permeant species")
    return m.species_names[m.permeant[0]]


def depth_point(m: Measurements, species: str, where) -> DepthPoint:
    """One run's point of a depth series: the net ``species`` moved out over the ions of it
    placed inside, beside the capacitor's expectation (see :class:`DepthPoint`).

    Raises:
        UserError: naming ``where`` when no channel admits the species or none was inside.
    """
    if not m.two_compartments or species not in m.species_names or \
            m.species_names.index(species) not in m.permeant:
        raise UserError(f"{where}: no channel admits {species}, which the first run's "
                        f"channels do; a depth series needs the same channels")
    s = m.species_names.index(species)
    placed = int(m.initial_counts[INSIDE, s])
    if placed == 0:
        raise UserError(f"{where}: no {species} inside at the start; nothing can move out")
    by_position = m.charge_moved()
    if by_position is not None and math.isfinite(by_position[s].mean):
        net, counted = by_position[s], "incl. ions in pores"
    else:
        net, counted = m.moved_out_mean[s], "whole crossings"
    theory = capacitance_theory(m.scenario)
    c_in, c_out = m.initial_mM[INSIDE, s], m.initial_mM[OUTSIDE, s]
    exp_ions = exp_frac = None
    if c_in > 0 and c_out > 0 and theory is not None and \
            m.scenario.electrostatics.method != "off":
        e = nernst_mV(c_out, c_in, m.valences[s], m.temperature)
        exp_ions = ions_for_voltage(theory.series_mean, e, theory.total_area_nm2,
                                    m.valences[s])
        exp_frac = exp_ions / placed
    return DepthPoint(
        run_dir=str(where), depth_nm=m.scenario.compartments[INSIDE].depth, placed=placed,
        net=net, fraction=net.mean / placed, fraction_sem=net.sem / placed,
        expected_ions=exp_ions, expected_fraction=exp_frac, vm=m.vm, counted=counted)


def series_of_points(species: str, points) -> DepthSeries:
    """A depth series of these points, sorted by depth, with the fit fraction = a / depth
    (UserError when they do not differ in depth)."""
    points = sorted(points, key=lambda p: p.depth_nm)
    if len({p.depth_nm for p in points}) < 2:
        raise UserError(f"the runs all have the same inside depth ({points[0].depth_nm:g} "
                        f"nm); give runs that differ in depth")
    a, se = fit_inverse([p.depth_nm for p in points], [p.fraction for p in points],
                        [p.fraction_sem for p in points])
    return DepthSeries(species, points, a, se)


def depth_series(run_dirs) -> DepthSeries:
    """Measure each run and line up its crossed fraction against the inside depth.

    The species counted is the first permeant species of the first run; every run must have
    two compartments and admit it (UserError otherwise).
    """
    if len(run_dirs) < 2:
        raise UserError("budget --series: give at least two run directories that differ in "
                        "compartment depth")
    points, species = [], None
    for d in run_dirs:
        m = measure(open_run(d))
        if species is None:
            species = depth_species(m, d)
        points.append(depth_point(m, species, d))
    try:
        return series_of_points(species, points)
    except UserError as err:
        raise UserError(f"budget --series: {err}") from None


# --- text -------------------------------------------------------------------------------------

def budget_tables(m: Measurements, radius_um: float = DEFAULT_CELL_RADIUS_UM,
                  pump_density_per_um2: float = DEFAULT_PUMP_DENSITY_PER_UM2) -> list[Table]:
    """The budget as tables: the box, the real cell, what the cell pays its pumps (a run
    with pumps only), the lecture's claims."""
    tables = []
    names = m.compartment_names
    box = box_budget(m)
    t = Table(f"Ions that crossed in the simulation box ({names[INSIDE]} -> {names[OUTSIDE]} "
              f"counts as out)", ["species", "crossings out / in", "net out (end)",
                                  "net out (mean +/- SE)", "incl. ions in pores",
                                  f"{names[INSIDE]} change / placed",
                                  f"{names[OUTSIDE]} change / placed", "Nernst shift in box"])
    for b in box:
        t.add(b.species, f"{b.crossings_out} / {b.crossings_in}", str(b.net_final),
              fmt_pm(b.net_mean.mean, b.net_mean.sem, 2),
              "n/a" if b.charge_moved is None else
              fmt_pm(b.charge_moved.mean, b.charge_moved.sem, 2),
              f"{fmt_sci(b.fraction_mean[0], 2)} ({int(b.placed[INSIDE])} placed)",
              f"{fmt_sci(b.fraction_mean[1], 2)} ({int(b.placed[OUTSIDE])} placed)",
              fmt(b.box.nernst_shift_mV, 2, "mV", True) if b.box else "n/a")
    if not box:
        t.notes.append("no channel admits any species: nothing can cross")
    for b in box:
        if b.box is not None:
            t.notes.append(f"{b.species}: Nernst {b.box.nernst_before_mV:+.2f} mV with the "
                           f"placed ions ({b.box.c_in_before_mM:.1f} / "
                           f"{b.box.c_out_before_mM:.2f} mM), {b.box.nernst_after_mV:+.2f} mV "
                           f"after {b.net_mean.mean:.2f} net moved out "
                           f"({b.box.c_in_after_mM:.1f} / {b.box.c_out_after_mM:.2f} mM)")
        elif b.box_reason:
            t.notes.append(f"{b.species}: no Nernst shift: {b.box_reason}")
    t.notes.append(f"means over the samples after {m.t_equil_ps / 1e3:.3g} ns "
                   f"({m.equilibration_source}); fraction = net moved / ions placed")
    if any(b.charge_moved is not None for b in box):
        t.notes.append("incl. ions in pores: an ion inside a pore counts by the fraction of "
                       "the membrane it has traversed (the charge it puts on the membrane "
                       "capacitor, Shockley-Ramo), from the frames; this is what makes V_m")
    tables.append(t)

    cells = real_cell_budget(m, radius_um)
    t = Table(f"The same in a real cell: sphere of radius {radius_um:g} um, C_m = 1 uF/cm^2",
              ["species", "voltage", "ions that cross", "ions in the cell", "fraction",
               "Nernst shift"])
    for c in cells:
        b = c.budget
        t.add(c.species, fmt(c.voltage_mV, 2, "mV", True),
              fmt_sci(abs(b.ions_out), 2) if b else "n/a", fmt_sci(c.ions_in_cell, 2),
              fmt_sci(b.fraction_of_inside, 2) if b else "n/a",
              fmt_sci(b.nernst_shift_mV, 2, "mV") if b else "n/a")
    for c in cells:
        if c.budget is not None:
            t.notes.append(f"{c.species}: voltage from {c.voltage_source}; n = C_m 4 pi R^2 |V|"
                           f" / e = 1e-6 F/cm^2 x {sphere_area_nm2(radius_um) * _CM2_PER_NM2:.3e}"
                           f" cm^2 x {abs(c.voltage_mV) * 1e-3:.4f} V / {ELEMENTARY_CHARGE:.4e}"
                           f" C = {abs(c.budget.ions_out):.3e}, as if {c.species} alone carried "
                           f"the charge")
        else:
            t.notes.append(f"{c.species}: {c.reason}")
    tables.append(t)
    if any(mem.pumps for mem in m.scenario.membranes):
        cost = pump_cell_cost(m, analyze_agents(m.run), radius_um, pump_density_per_um2)
        if cost is not None:
            tables.append(pump_cost_table(cost))
    tables.extend(lecture_claims(radius_um, m.temperature))
    return tables


def budget_lines(m: Measurements, radius_um: float,
                 pump_density_per_um2: float = DEFAULT_PUMP_DENSITY_PER_UM2) -> list[str]:
    return printout(f"ionsim budget {m.run.dir}: scenario {m.scenario.name!r}",
                    budget_tables(m, radius_um, pump_density_per_um2), m.notes)


def parse_radius_um(text: str) -> float:
    """A cell radius with its unit ('5um', '5 um', '5000 nm') in um (UserError if bad)."""
    try:
        r_nm = parse_quantity(text, "length")
    except UnitError as err:
        raise UserError(f"--cell-radius: {err}") from None
    if not r_nm > 0:
        raise UserError(f"--cell-radius: must be > 0, got {text!r}")
    return r_nm / 1e3
