"""What the scenarios with pumps and gated channels are checked against.

- pump_leak: V_m at steady state against the pump-leak potential of Mullins and Noda
  (analysis.theory.mullins_noda_mV) with the permeabilities measured from the crossings;
- sodium_channels_open: V_m while the Na+ channels are open against the GHK voltage of the
  permeabilities measured in that window, and V_m after they close against E_K;
- pump_stall: V_m against the stall voltage the ledger gives at each sample,
  V_stall = (dG_ATP + sum_out n kT ln(c_o/c_i) + sum_in n kT ln(c_i/c_o)) / (q e), and the
  forward and backward cycles balanced.

Potentials are V_in - V_out in mV (compartment 0 is the inside), concentrations mM, as in
:mod:`analysis.validation.scenario_checks`, whose conventions (resolution, minimum counts)
these follow.
"""

from __future__ import annotations

import math

import numpy as np

from sim.geometry import Geometry
from sim.units import MV_PER_KJ_MOL_E, PS_PER_NS, kT as thermal_energy

from analysis.comparison import (crossing_count_se, ghk_from_crossings,
                                 permeability_from_crossings)
from analysis.runs import INSIDE, OUTSIDE, Measurements
from analysis.statistics import analyze_series
from analysis.theory import ghk_voltage_mV, mullins_noda_mV, nernst_mV
from analysis.validation.verdict import CaseResult

__all__ = ["AGENT_CHECKS"]

RELAX_NS = 1.0  # ns after a protocol switch left out: V_m relaxes within about 0.5 ns
MIN_SPECIES_CROSSINGS = 10


def _bulk(m: Measurements, k: int, name: str) -> float:
    return m.bulk_mM[k, m.species_names.index(name)].mean


def check_pump_leak(m: Measurements) -> list[CaseResult]:
    q = "Pumps against leaks: is the steady V_m the Mullins-Noda pump-leak potential?"
    est = ghk_from_crossings(m)
    base = dict(case="pump_leak", question=q, quantity="V_m", unit="mV",
                value=m.vm.mean if m.vm else None, se=m.vm.sem if m.vm else None,
                resolution=10.0)
    if est is None or est.value_mV is None or not {"K+", "Na+"} <= set(est.relative):
        why = est.reason if est is not None else "needs K+ and Na+ channels"
        return [CaseResult(reference=math.nan, source=f"Mullins-Noda not computed: {why}",
                           **base)]
    c_in = {n: _bulk(m, INSIDE, n) for n in ("K+", "Na+")}
    c_out = {n: _bulk(m, OUTSIDE, n) for n in ("K+", "Na+")}

    def mn(rel):
        return mullins_noda_mV(rel["K+"], rel["Na+"], c_in, c_out, m.temperature)
    counts = {n: sum(est.crossings[n]) for n in ("K+", "Na+")}
    r = CaseResult(reference=mn(est.relative), reference_se=crossing_count_se(mn, est.relative,
                                                                          counts),
                   source=f"Mullins and Noda 1963, r = 3/2, P_Na/P_K = "
                          f"{est.relative['Na+'] / est.relative['K+']:.3g} from the "
                          f"crossings", **base)
    r.count, r.min_count = min(counts.values()), MIN_SPECIES_CROSSINGS
    if m.vm and m.vm.stats is not None:
        r.n_eff, r.min_n_eff = float(m.vm.stats.n_effective), 20
    ghk = ghk_voltage_mV({n: est.relative[n] for n in c_in}, c_in, c_out,
                         {"K+": 1, "Na+": 1}, m.temperature)
    r.notes.append(f"crossings (out, in): K+ {est.crossings['K+']}, Na+ "
                   f"{est.crossings['Na+']}; GHK without the pump's current (r = 1): "
                   f"{ghk:+.1f} mV")
    r.notes.append(f"bulk in/out (mM): K+ {c_in['K+']:.1f}/{c_out['K+']:.1f}, Na+ "
                   f"{c_in['Na+']:.1f}/{c_out['Na+']:.1f}; {_pump_line(m)}")
    return [r]


def _pump_line(m: Measurements) -> str:
    ev = m.run.events["pump_events"]
    after = np.asarray(ev["time"]) >= m.t_equil_ps
    atp = int(np.sum(np.asarray(ev["atp"])[after]))
    t_ns = max((m.duration_ps - m.t_equil_ps) / PS_PER_NS, 1e-12)
    acc = sorted({p.acceleration for mem in m.scenario.membranes for p in mem.pumps})
    return (f"{atp} net ATP used ({atp / t_ns:.2g} per ns) after equilibration, pumps "
            f"accelerated {', '.join(f'{a:g}' for a in acc)} x")


def _protocol_times(sc) -> tuple[float, float] | None:
    """(open, close) ps of the first gated entry whose protocol opens and closes it."""
    for mem in sc.membranes:
        for ch in mem.channels:
            g = ch.gating
            if g is None:
                continue
            opens = [p.at for p in g.protocol if p.state in g.conducting]
            closes = [p.at for p in g.protocol if p.state not in g.conducting]
            if opens and closes and closes[0] > opens[0]:
                return opens[0], closes[0]
    return None


def _window(m: Measurements, t0: float, t1: float):
    """V_m (mean, SE, samples) and the bulk concentrations (K, S mM) in [t0, t1) ps."""
    vm = m.vm_series
    sel = (np.asarray(vm.time) >= t0) & (np.asarray(vm.time) < t1)
    values = np.asarray(vm.value)[sel]
    stats = analyze_series(values, equilibration=None)
    bulk = m.run.observable("bulk_concentration")
    bsel = (bulk.time >= t0) & (bulk.time < t1)
    return stats, bulk.value[bsel].mean(axis=0), int(sel.sum())


def _window_crossings(m: Measurements, s: int, t0: float, t1: float) -> tuple[int, int]:
    cr = m.run.crossings
    sel = (cr["time"] >= t0) & (cr["time"] < t1) & (cr["species"] == s)
    return (int(np.sum(sel & (cr["from"] == INSIDE) & (cr["to"] == OUTSIDE))),
            int(np.sum(sel & (cr["from"] == OUTSIDE) & (cr["to"] == INSIDE))))


def check_sodium_channels_open(m: Measurements) -> list[CaseResult]:
    times = _protocol_times(m.scenario)
    if times is None or m.vm_series is None:
        return [CaseResult("sodium_channels_open", "Na+ channels open", "V_m", "mV", None,
                           None, math.nan, "needs a protocol that opens and closes Na+ "
                           "channels, and V_m")]
    t_open, t_close = times
    end = m.duration_ps
    results = []
    # open: GHK of the permeabilities measured in the window
    a, b = t_open + RELAX_NS * PS_PER_NS, t_close
    stats, bulk, n = _window(m, a, b)
    names = [m.species_names[s] for s in m.permeant]
    c_in = {x: bulk[INSIDE, m.species_names.index(x)] for x in names}
    c_out = {x: bulk[OUTSIDE, m.species_names.index(x)] for x in names}
    val = {x: m.valences[m.species_names.index(x)] for x in names}
    counts, perm = {}, {}
    t_ns = (b - a) / PS_PER_NS
    for s, x in zip(m.permeant, names):
        n_out, n_in = _window_crossings(m, s, a, b)
        counts[x] = n_out + n_in
        perm[x] = permeability_from_crossings(n_out, n_in, c_in[x], c_out[x], val[x],
                                              stats.mean, m.temperature,
                                              m.membrane_area_nm2, t_ns) or 0.0
    q = "Na+ channels opened: does V_m swing to the GHK voltage of the open channels?"
    r = CaseResult("sodium_channels_open", q, "V_m, Na+ channels open", "mV", stats.mean,
                   stats.sem, math.nan, "GHK (Goldman 1943; Hodgkin and Katz 1949), P from "
                   f"the crossings between {a / PS_PER_NS:g} and {b / PS_PER_NS:g} ns",
                   resolution=10.0)
    if all(p > 0 for p in perm.values()):
        def ghk(rel):
            return ghk_voltage_mV(rel, c_in, c_out, val, m.temperature)
        r.reference, r.reference_se = ghk(perm), crossing_count_se(ghk, perm, counts)
    r.count, r.min_count = min(counts.values()), MIN_SPECIES_CROSSINGS
    r.n_eff, r.min_n_eff = float(stats.n_effective), 20
    r.notes.append("crossings in the window: " + ", ".join(f"{x} {c}"
                                                           for x, c in counts.items()))
    results.append(r)
    # closed again: back at E_K
    a2 = t_close + RELAX_NS * PS_PER_NS
    if end - a2 > 0.5 * PS_PER_NS:
        stats2, bulk2, _ = _window(m, a2, end + 1.0)
        k = m.species_names.index("K+") if "K+" in m.species_names else None
        if k is not None:
            e_k = nernst_mV(bulk2[OUTSIDE, k], bulk2[INSIDE, k], 1, m.temperature)
            r2 = CaseResult("sodium_channels_closed", "Na+ channels closed again: does V_m "
                            "return to E_K?", "V_m, Na+ channels closed", "mV", stats2.mean,
                            stats2.sem, e_k, "Nernst of K+ at the window's bulk "
                            "concentrations (equal ionic strengths: no activity term)",
                            resolution=10.0)
            k_out, k_in = _window_crossings(m, k, a2, end + 1.0)
            r2.count, r2.min_count = k_out + k_in, MIN_SPECIES_CROSSINGS
            r2.n_eff, r2.min_n_eff = float(stats2.n_effective), 20
            results.append(r2)
    return results


def _stall_series(m: Measurements, shift=None):
    """V_stall (mV) at every sample: (dG_ATP + the chemical work of a cycle) / (q e), from
    the compartments' counts over their accessible volumes; the first pump's record.
    shift: species name -> ions moved inside -> outside before evaluating (a half-cycle)."""
    sc = m.scenario
    pump = next(p for mem in sc.membranes for p in mem.pumps)
    geo = Geometry.from_scenario(sc)
    kT = thermal_energy(sc.temperature)
    idx = {s.name: i for i, s in enumerate(sc.species)}
    vol = {s.name: (geo.accessible_volume(INSIDE, s.radius),
                    geo.accessible_volume(OUTSIDE, s.radius)) for s in sc.species}
    counts = m.counts.astype(float)  # (T, K, S)
    shift = shift or {}

    def c(name, k):
        moved = shift.get(name, 0.0) * (-1 if k == INSIDE else 1)
        return (counts[:, k, idx[name]] + moved) / vol[name][k]
    with np.errstate(divide="ignore", invalid="ignore"):
        chem = sum(n * kT * np.log(c(s, OUTSIDE) / c(s, INSIDE)) for s, n in pump.carries_out)
        chem = chem + sum(n * kT * np.log(c(s, INSIDE) / c(s, OUTSIDE))
                          for s, n in pump.carries_in)
    q = (sum(n * sc.species[idx[s]].valence for s, n in pump.carries_out)
         - sum(n * sc.species[idx[s]].valence for s, n in pump.carries_in))
    return (pump.atp_free_energy + chem) / q * MV_PER_KJ_MOL_E, pump


def check_pump_stall(m: Measurements) -> list[CaseResult]:
    q = "Does the pump stall where a cycle's work equals what ATP gives?"
    if m.vm_series is None:
        return [CaseResult("pump_stall", q, "V_m", "mV", None, None, math.nan,
                           "needs V_m (electrostatics)")]
    v_stall, pump = _stall_series(m)
    vm = np.asarray(m.vm_series.value)
    t = np.asarray(m.vm_series.time)
    keep = t >= m.t_equil_ps
    d = vm[keep] - v_stall[keep]
    if not np.all(np.isfinite(d)) or d.size < 4:
        return [CaseResult("pump_stall", q, "V_m", "mV", None, None, math.nan,
                           "a carried species ran out in a compartment")]
    stats = analyze_series(d, equilibration=None)
    mean_vm, mean_stall = float(vm[keep].mean()), float(v_stall[keep].mean())
    # The counts move in steps of a half-cycle: the stall lies between two states, and
    # V_stall of the state sampled differs from it by up to half a step (discreteness).
    stepped, _ = _stall_series(m, shift=dict(pump.carries_out))
    half_step = float(np.nanmean(np.abs(stepped[keep] - v_stall[keep]))) / 2
    r = CaseResult("pump_stall", q, "V_m (SE of V_m - V_stall)", "mV", mean_vm, stats.sem,
                   mean_vm - stats.mean, "V_stall = (dG_ATP + 3 kT ln([Na]o/[Na]i) + 2 kT "
                   "ln([K]i/[K]o)) / e at each sample (the ledger's balance; sim.pumps), "
                   f"dG_ATP = {pump.atp_free_energy:g} kJ/mol; +- half its change over an "
                   f"out half-cycle (the counts' discreteness)", resolution=10.0,
                   reference_se=half_step, reference_systematic=True)
    r.n_eff, r.min_n_eff = float(stats.n_effective), 20
    ev = m.run.events["pump_events"]
    after = np.asarray(ev["time"]) >= m.t_equil_ps
    tr = np.asarray(ev["transition"])[after]
    r.count, r.min_count = int(after.sum()), 30  # half-cycles that explored the stall
    r.notes.append(f"mean V_stall {mean_stall:+.1f} mV; {int(np.sum(tr == 0))} out forward, "
                   f"{int(np.sum(tr == 2))} out backward half-cycles after equilibration; "
                   f"pumps accelerated {pump.acceleration:g} x")
    # forward and backward cycles balance at the stall
    n_f, n_b = int(np.sum(tr == 0)), int(np.sum(tr == 2))
    t_ns = max((m.duration_ps - m.t_equil_ps) / PS_PER_NS, 1e-12)
    r2 = CaseResult("pump_stall_balance", "At the stall, do forward and backward cycles balance?",
                    "net ATP used per ns", "1/ns", (n_f - n_b) / t_ns,
                    math.sqrt(max(n_f + n_b, 1)) / t_ns, 0.0, "a stalled pump: zero net "
                    "flux (the SE is Poisson's, an upper bound: the half-cycles alternate)")
    r2.count, r2.min_count = n_f + n_b, 30
    return [r, r2]


AGENT_CHECKS = {"pump_leak": check_pump_leak,
                "sodium_channels_open": check_sodium_channels_open,
                "pump_stall": check_pump_stall}
