"""The emergent membrane potential against Nernst, GHK and the capacitor: what
``ionsim analyze`` prints (the command is :mod:`analysis.nernst`).

For every species that some channel admits, the Nernst potential V = (k_B T / z e)
ln(c_out / c_in) (:func:`analysis.theory.nernst_mV`) is computed three ways and held against
the measured V_m +- SE:

- from the scenario's initial concentrations (what a textbook would compute);
- from the measured bulk concentrations (the ``bulk_concentration`` observable averaged over
  the equilibrated samples): this accounts for the ions that crossed. Its standard error
  follows from the concentrations', (k_B T / z e) sqrt((dc_out / c_out)^2 + (dc_in / c_in)^2);
- activity-corrected, ln(a_out / a_in) with extended Debye-Hueckel activity coefficients
  (:func:`analysis.activity.nernst_with_activities_mV`) at each side's measured ionic
  strength, with the ion size a = r_ion + <r_counter-ion> (the distance of closest approach of
  an ion and its counter-ions; concentration-weighted over the scenario's counter-ions).

The deviation is (V_m - E) / sqrt(SE(V_m)^2 + SE(E)^2): how many combined standard errors
apart the simulation and the prediction are.

Several permeant species: the Goldman-Hodgkin-Katz voltage (:func:`analysis.theory.
ghk_voltage_mV`) with permeabilities estimated from the unidirectional crossings after
equilibration. For a species of valence z at potential u = z e V_m / k_B T, the GHK flux
equation gives the efflux J_out = P c_in f(u) and the influx J_in = P c_out f(-u), with
f(u) = u / (1 - e^-u) (f(0) = 1), so

    P = (n_out + n_in) / (A_total t (c_in f(u) + c_out f(-u))),

n the crossings in each direction during the equilibrated time t (Hodgkin and Keynes,
J. Physiol. 128 (1955) 61 for the Ussing flux ratio this obeys). Only the ratios matter.

Capacitance: from Var(V_m) = k_B T / C beside eps0 eps_m / d and the series value with the
double layers (:mod:`analysis.capacitance`).

Gated channels and pumps: a run with them also prints their tables (:mod:`analysis.agents`,
:mod:`analysis.agents_text`): the open fractions against the chain's stationary one, the
dwell times, the pumps' ledger and flux, each pump with its acceleration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim.units import MOLAR_TO_PER_NM3, PS_PER_NS, thermal_voltage_mV

from analysis.activity import activity_coefficient, molality_from_mM, nernst_with_activities_mV
from analysis.agents import analyze_agents
from analysis.agents_text import agent_tables
from analysis.capacitance import (CapacitanceTheory, MeasuredCapacitance, capacitance_theory,
                                  measured_capacitance)
from analysis.runs import INSIDE, OUTSIDE, Measurements, SeriesMean, measure, open_run
from analysis.tables import Table, fmt, fmt_pm, printout
from analysis.theory import ghk_voltage_mV, ionic_strength_mM, nernst_mV

__all__ = ["NernstRow", "GHKEstimate", "NernstComparison", "compare", "ion_size_nm",
           "nernst_rows", "permeability_from_crossings", "ghk_from_crossings",
           "comparison_tables", "comparison_lines", "equilibration_line", "vm_cell",
           "analyze_run", "deviation_in_se"]


@dataclass(frozen=True)
class NernstRow:
    """Nernst predictions for one permeant species (mV, V_in - V_out).

    Attributes:
        species: its name; valence: its charge number.
        c_in_initial_mM, c_out_initial_mM: scenario concentrations, mM.
        c_in_mM, c_out_mM: measured bulk concentrations (SeriesMean, mM).
        initial_mV: Nernst from the initial concentrations (None if one is zero).
        measured: Nernst from the measured bulk concentrations, with its SE (None if a
            measured concentration is zero: no ion was ever seen in that bulk window).
        activity_mV: activity-corrected Nernst (same SE as ``measured``).
        gamma_in, gamma_out: the activity coefficients used; ion_size_nm: their a.
        dev_initial, dev_measured, dev_activity: (V_m - E) / combined SE (None without V_m).
    """

    species: str
    valence: int
    c_in_initial_mM: float
    c_out_initial_mM: float
    c_in_mM: SeriesMean
    c_out_mM: SeriesMean
    initial_mV: float | None
    measured: SeriesMean | None
    activity_mV: float | None
    gamma_in: float | None
    gamma_out: float | None
    ion_size_nm: float
    dev_initial: float | None = None
    dev_measured: float | None = None
    dev_activity: float | None = None


@dataclass(frozen=True)
class GHKEstimate:
    """GHK voltage from crossing-derived permeabilities, or why it was not computed.

    Attributes:
        value_mV: the GHK potential (None when not computed).
        permeability_nm_per_ns: species -> P (nm/ns = 1 m/s).
        relative: species -> P / P_max.
        crossings: species -> (n_out, n_in) after equilibration.
        reason: why no value (empty when there is one).
    """

    value_mV: float | None
    permeability_nm_per_ns: dict = field(default_factory=dict)
    relative: dict = field(default_factory=dict)
    crossings: dict = field(default_factory=dict)
    reason: str = ""


@dataclass
class NernstComparison:
    """Everything ``ionsim analyze`` prints (see :func:`compare`)."""

    measurements: Measurements
    rows: list[NernstRow]
    ghk: GHKEstimate | None
    capacitance: MeasuredCapacitance | None
    theory: CapacitanceTheory | None

    @property
    def vm(self) -> SeriesMean | None:
        return self.measurements.vm


def deviation_in_se(vm: SeriesMean | None, value, sem=0.0) -> float | None:
    """(V_m - E) / sqrt(SE(V_m)^2 + SE(E)^2): how many combined standard errors the measured
    vm (mean +- sem, mV) lies from a prediction ``value`` +- ``sem`` (mV); None without one
    of them or without any error bar."""
    if vm is None or value is None or not math.isfinite(vm.mean):
        return None
    se = math.hypot(vm.sem if math.isfinite(vm.sem) else 0.0,
                    sem if sem is not None and math.isfinite(sem) else 0.0)
    return (vm.mean - value) / se if se > 0 else None


def ion_size_nm(scenario, s: int) -> float:
    """Extended Debye-Hueckel ion size of species s: its radius plus the mean radius of its
    counter-ions (weighted by their concentration over all compartments), nm."""
    sp = scenario.species[s]
    weights = [(sum(c.concentration(o.name) for c in scenario.compartments), o.radius)
               for o in scenario.species if o.valence * sp.valence < 0]
    total = sum(w for w, _ in weights)
    counter = sum(w * r for w, r in weights) / total if total > 0 else sp.radius
    return sp.radius + counter


def _ionic_strength(m: Measurements, k: int) -> float:
    conc = {name: m.bulk_mM[k, s].mean for s, name in enumerate(m.species_names)}
    if not all(math.isfinite(v) for v in conc.values()):
        return math.nan
    return ionic_strength_mM(conc, dict(zip(m.species_names, m.valences)))


def nernst_rows(m: Measurements) -> list[NernstRow]:
    """Nernst predictions for every permeant species (empty without two compartments)."""
    if not m.two_compartments:
        return []
    sc = m.scenario
    T, eps_w = m.temperature, sc.solvent_permittivity
    kT_mV = thermal_voltage_mV(T)
    i_in, i_out = _ionic_strength(m, INSIDE), _ionic_strength(m, OUTSIDE)
    rows = []
    for s in m.permeant:
        z = m.valences[s]
        c0_in, c0_out = m.initial_mM[INSIDE, s], m.initial_mM[OUTSIDE, s]
        cin, cout = m.bulk_mM[INSIDE, s], m.bulk_mM[OUTSIDE, s]
        initial = nernst_mV(c0_out, c0_in, z, T) if c0_in > 0 and c0_out > 0 else None
        a = ion_size_nm(sc, s)
        measured = activity = g_in = g_out = None
        if cin.mean > 0 and cout.mean > 0:
            rel = [c.sem / c.mean for c in (cin, cout) if math.isfinite(c.sem)]
            sem = kT_mV / abs(z) * math.sqrt(sum(r * r for r in rel)) if len(rel) == 2 \
                else math.nan
            measured = SeriesMean(nernst_mV(cout.mean, cin.mean, z, T), sem)
            if math.isfinite(i_in) and math.isfinite(i_out):
                activity = nernst_with_activities_mV(cout.mean, cin.mean, z, T, i_out, i_in,
                                                     model="extended", ion_size_nm=a,
                                                     eps_r=eps_w)
                g_in = activity_coefficient(z, molality_from_mM(i_in, T), T, "extended", a,
                                            eps_w)
                g_out = activity_coefficient(z, molality_from_mM(i_out, T), T, "extended", a,
                                             eps_w)
        sem_e = measured.sem if measured is not None else None
        rows.append(NernstRow(
            species=m.species_names[s], valence=z, c_in_initial_mM=c0_in,
            c_out_initial_mM=c0_out, c_in_mM=cin, c_out_mM=cout, initial_mV=initial,
            measured=measured, activity_mV=activity, gamma_in=g_in, gamma_out=g_out,
            ion_size_nm=a, dev_initial=deviation_in_se(m.vm, initial),
            dev_measured=deviation_in_se(m.vm, None if measured is None else measured.mean,
                                         sem_e),
            dev_activity=deviation_in_se(m.vm, activity, sem_e)))
    return rows


def _f(u: float) -> float:
    """u / (1 - exp(-u)), continuous at u = 0."""
    return 1.0 + u / 2.0 if abs(u) < 1e-8 else u / -math.expm1(-u)


def permeability_from_crossings(n_out: int, n_in: int, c_in_mM: float, c_out_mM: float,
                                valence: int, V_mV: float, temperature_K: float,
                                area_nm2: float, time_ns: float) -> float | None:
    """Permeability (nm/ns) from unidirectional crossings by the GHK flux equation.

    J_out = P c_in f(u), J_in = P c_out f(-u), u = z e V / k_B T, f(u) = u / (1 - e^-u), so
    P = (n_out + n_in) / (A t (c_in f(u) + c_out f(-u))) (module docstring). None when both
    concentrations are zero or not finite.

    Args:
        n_out, n_in: crossings inside -> outside and back in ``time_ns``.
        c_in_mM, c_out_mM: concentrations, mM.
        valence: charge number; V_mV: V_in - V_out, mV; temperature_K: K.
        area_nm2: membrane area the crossings went through, nm^2; time_ns: ns.
    """
    u = valence * V_mV / thermal_voltage_mV(temperature_K)
    drive = (c_in_mM * _f(u) + c_out_mM * _f(-u)) * 1e-3 * MOLAR_TO_PER_NM3  # nm^-3
    if not (drive > 0 and math.isfinite(drive)):
        return None
    return (n_out + n_in) / (area_nm2 * time_ns * drive)


def crossing_count_se(value_of, rel: dict, counts: dict) -> float:
    """SE of value_of(permeabilities) (its unit, mV for a voltage) when each species'
    permeability scales with its crossing count n (Poisson): var = sum_s (dV / d ln P_s)^2 /
    n_s, the derivatives by a 1% step; NaN when a species has no crossing."""
    base = value_of(rel)
    var = 0.0
    for name, n in counts.items():
        if n <= 0:
            return math.nan
        up = dict(rel)
        up[name] *= 1.01
        var += ((value_of(up) - base) / 0.01) ** 2 / n
    return math.sqrt(var)


def ghk_from_crossings(m: Measurements) -> GHKEstimate | None:
    """GHK voltage with permeabilities from unidirectional crossings (None for fewer than
    two permeant species; a :class:`GHKEstimate` with a reason when it cannot be computed)."""
    if not m.two_compartments or len(m.permeant) < 2:
        return None
    names = [m.species_names[s] for s in m.permeant]
    bad = [n for s, n in zip(m.permeant, names) if abs(m.valences[s]) != 1]
    if bad:
        return GHKEstimate(None, reason=f"the GHK voltage equation needs valence +-1; "
                                        f"{', '.join(bad)} is not")
    if m.vm is None:
        return GHKEstimate(None, reason="permeabilities from fluxes need V_m (run with "
                                        "electrostatics); not computed")
    cr = m.run.crossings
    after = cr["time"] >= m.t_equil_ps
    t_ns = (m.duration_ps - m.t_equil_ps) / PS_PER_NS
    if not t_ns > 0:
        return GHKEstimate(None, reason="no time after equilibration")
    perm, counts = {}, {}
    c_in, c_out, val = {}, {}, {}
    for s, name in zip(m.permeant, names):
        n_out = int(np.sum(after & (cr["species"] == s) & (cr["from"] == INSIDE)
                           & (cr["to"] == OUTSIDE)))
        n_in = int(np.sum(after & (cr["species"] == s) & (cr["from"] == OUTSIDE)
                          & (cr["to"] == INSIDE)))
        counts[name] = (n_out, n_in)
        cin, cout = m.bulk_mM[INSIDE, s].mean, m.bulk_mM[OUTSIDE, s].mean
        c_in[name], c_out[name], val[name] = cin, cout, m.valences[s]
        p = permeability_from_crossings(n_out, n_in, cin, cout, m.valences[s], m.vm.mean,
                                        m.temperature, m.membrane_area_nm2, t_ns)
        if p is None:
            return GHKEstimate(None, crossings=counts,
                               reason=f"{name}: no measured bulk concentration")
        perm[name] = p
    if not all(p > 0 for p in perm.values()):
        none = [n for n, p in perm.items() if p <= 0]
        return GHKEstimate(None, permeability_nm_per_ns=perm, crossings=counts,
                           reason=f"no crossings of {', '.join(none)} after equilibration: "
                                  f"its permeability cannot be estimated")
    pmax = max(perm.values())
    rel = {n: p / pmax for n, p in perm.items()}
    try:
        value = ghk_voltage_mV(rel, c_in, c_out, val, m.temperature)
    except ValueError as err:
        return GHKEstimate(None, perm, rel, counts, reason=str(err))
    return GHKEstimate(value, perm, rel, counts)


def compare(m: Measurements) -> NernstComparison:
    """The whole comparison for a measured run."""
    return NernstComparison(measurements=m, rows=nernst_rows(m), ghk=ghk_from_crossings(m),
                            capacitance=measured_capacitance(m),
                            theory=capacitance_theory(m.scenario))


# --- text -----------------------------------------------------------------------------------

def equilibration_line(m: Measurements) -> str:
    n_after = m.times_ps.size - m.t0
    head = (f"equilibration: samples before {m.t_equil_ps / PS_PER_NS:.3g} ns dropped "
            f"({m.equilibration_source})" if m.t0 > 0 else
            f"equilibration: none dropped ({m.equilibration_source})")
    return (f"{head}; {n_after} of {m.times_ps.size} samples used, run length "
            f"{m.duration_ps / PS_PER_NS:.3g} ns")


def vm_cell(vm: SeriesMean | None) -> str:
    return "n/a" if vm is None else fmt_pm(vm.mean, vm.sem, 2, "mV", sign=True)


def comparison_tables(c: NernstComparison) -> list[Table]:
    """The comparison as tables: potentials, GHK (if several permeant species), capacitance."""
    m = c.measurements
    tables = []
    names = m.compartment_names
    pot = Table(f"Membrane potential V_m = V({names[INSIDE]}) - V({names[OUTSIDE]})"
                if m.two_compartments else "Membrane potential",
                ["quantity"] + [r.species for r in c.rows] if c.rows else ["quantity", "value"])
    width = max(1, len(c.rows))

    def add(label, cells):
        pot.add(label, *(cells if c.rows else [cells[0] if cells else "n/a"]))

    add("V_m measured (mean +/- SE)", [vm_cell(c.vm)] * width)
    if c.rows:
        add("c_in / c_out initial", [f"{fmt(r.c_in_initial_mM, 1)} / "
                                     f"{fmt(r.c_out_initial_mM, 1)} mM" for r in c.rows])
        add("Nernst, initial concentrations", [fmt(r.initial_mV, 2, "mV", True)
                                               for r in c.rows])
        add("c_in / c_out measured bulk",
            [f"{fmt_pm(r.c_in_mM.mean, r.c_in_mM.sem, 1)} / "
             f"{fmt_pm(r.c_out_mM.mean, r.c_out_mM.sem, 1)} mM" for r in c.rows])
        add("Nernst, measured bulk", [fmt_pm(r.measured.mean, r.measured.sem, 2, "mV", True)
                                      if r.measured else "n/a" for r in c.rows])
        add("gamma_in / gamma_out (ext. D-H)",
            [f"{fmt(r.gamma_in, 3)} / {fmt(r.gamma_out, 3)} (a = {r.ion_size_nm:.2f} nm)"
             for r in c.rows])
        add("Nernst, activity-corrected",
            [fmt_pm(r.activity_mV, r.measured.sem if r.measured else None, 2, "mV", True)
             for r in c.rows])
        add("V_m - E_initial, in SE", [fmt(r.dev_initial, 1, sign=True) for r in c.rows])
        add("V_m - E_measured, in SE", [fmt(r.dev_measured, 1, sign=True) for r in c.rows])
        add("V_m - E_activity, in SE", [fmt(r.dev_activity, 1, sign=True) for r in c.rows])
    pot.notes.append(equilibration_line(m))
    if c.vm is not None and c.vm.stats is not None:
        st = c.vm.stats
        pot.notes.append(f"V_m: SE from the autocorrelation time (g = "
                         f"{st.statistical_inefficiency:.3g}, {st.n_effective:.0f} effective "
                         f"samples); block averaging gives {st.sem_blocking:.2f} mV")
    if c.rows:
        pot.notes.append("deviation = (V_m - E) / sqrt(SE(V_m)^2 + SE(E)^2); SE(E) from the "
                         "bulk concentrations' SE")
    if not m.permeant and m.two_compartments:
        pot.notes.append("no channel admits any species: there is no Nernst potential")
    tables.append(pot)

    if c.ghk is not None:
        g = c.ghk
        t = Table("Goldman-Hodgkin-Katz (several permeant species)",
                  ["species", "crossings out / in", "P (nm/ns)", "P relative"])
        for name in (m.species_names[s] for s in m.permeant):
            n = g.crossings.get(name)
            t.add(name, f"{n[0]} / {n[1]}" if n else "n/a",
                  fmt(g.permeability_nm_per_ns.get(name), 4),
                  fmt(g.relative.get(name), 3))
        t.add("GHK voltage", "", "", fmt(g.value_mV, 2, "mV", True))
        if g.value_mV is not None:
            t.notes.append(f"V_m - V_GHK = {fmt(c.vm.mean - g.value_mV, 2, 'mV', True)} "
                           f"({fmt(deviation_in_se(c.vm, g.value_mV), 1, sign=True)} SE of V_m)")
            t.notes.append("P from the unidirectional crossings after equilibration with the "
                           "GHK flux equation at the measured V_m and bulk concentrations")
        else:
            t.notes.append(f"not computed: {g.reason}")
        tables.append(t)

    if c.theory is not None:
        th = c.theory
        t = Table("Membrane capacitance (membranes in parallel, per total membrane area)",
                  ["source", "C (uF/cm^2)", "detail"])
        if c.capacitance is not None:
            mc = c.capacitance
            t.add("Var(V_m) = kT/C (measured)", fmt_pm(mc.c_uF_per_cm2, mc.c_sem_uF_per_cm2, 3),
                  f"sd(V_m) {mc.std_mV:.2f} mV, area {th.total_area_nm2:g} nm^2, "
                  f"{mc.n_crossings} crossings" + ("" if mc.reliable else " (too few)"))
        else:
            t.add("Var(V_m) = kT/C (measured)", "n/a", "no V_m in this run")
        t.add("eps0 eps_m / d (bare membrane)", fmt(th.bare_mean, 3),
              ", ".join(f"eps {mem.permittivity:g}, d {mem.thickness:g} nm"
                        for mem in m.scenario.membranes[:1]))
        t.add("in series with the double layers", fmt(th.series_mean, 3),
              "Debye length " + " / ".join(f"{d:.2f} nm" for d in th.debye_nm))
        if c.capacitance is not None and c.capacitance.c_sem_uF_per_cm2 > 0 and \
                c.capacitance.reliable:
            dev = (c.capacitance.c_uF_per_cm2 - th.series_mean) / c.capacitance.c_sem_uF_per_cm2
            t.notes.append(f"measured - series theory = {dev:+.1f} SE")
        tables.append(t)
    sc = m.scenario
    if any(sigma != 0.0 for j in range(len(sc.membranes))
           for sigma in sc.face_surface_charges(j)):
        # charged faces: their double layers (contact densities, the contact-value
        # theorem, Gouy-Chapman), from analysis.double_layer
        from analysis.double_layer import double_layer_tables
        tables.extend(double_layer_tables(m))
    return tables


def comparison_lines(c: NernstComparison) -> list[str]:
    """What ``ionsim analyze`` prints: the comparison's tables, then the agents' (for a run
    with gated channels or pumps)."""
    m = c.measurements
    return printout(f"ionsim analyze {m.run.dir}: scenario {m.scenario.name!r}, "
                    f"T = {m.temperature:g} K (kT/e = "
                    f"{thermal_voltage_mV(m.temperature):.2f} mV)",
                    comparison_tables(c) + agent_tables(analyze_agents(m.run)), m.notes)


def analyze_run(run_dir) -> NernstComparison:
    """Open, measure and compare a run that has a membrane potential (UserError if not)."""
    return compare(measure(open_run(run_dir, need_potential=True)))
