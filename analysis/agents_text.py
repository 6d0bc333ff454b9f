"""The agents' analysis (:mod:`analysis.agents`) as tables, closing-table lines and JSON.

``ionsim analyze`` prints :func:`agent_tables`, the closing table of ``ionsim run`` adds
:func:`agent_summary_lines` and summary.json's ``physics.agents`` is :func:`agent_physics`;
``ionsim report`` writes the tables too. Every line about a pump shows its acceleration A
(every rate is multiplied by it: a simulated ns stands for A ns of the real pump's time).
Units as printed: times ns or ps, free energies kJ/mol and kT, currents pA, rates per
simulated ns and per real second.
"""

from __future__ import annotations

import math

from sim.agent_rates import TRANSITIONS
from sim.units import PS_PER_NS

from analysis.agents import AgentAnalysis, GateKind, PumpLedger
from analysis.tables import Table, json_number, fmt, fmt_pm, fmt_sci, printout

__all__ = ["agent_tables", "agent_summary_lines", "agent_physics", "agent_lines",
           "accel_text", "MAX_PUMP_ROWS", "MAX_JSON_ITEMS"]

MAX_PUMP_ROWS = 8  # pumps listed one by one in a table; the rest only in 'all pumps'
MAX_JSON_ITEMS = 100  # per-pump ledgers and per-channel fractions in summary.json


def accel_text(a: float | None) -> str:
    """'A = 1e+09' (or 'A mixed' for pumps of different accelerations)."""
    return "A mixed" if a is None else f"A = {a:.3g}"


def _window_text(a: AgentAnalysis) -> str:
    t0, t1 = a.window_ps
    return f"{t0 / PS_PER_NS:.3g}-{t1 / PS_PER_NS:.3g} ns ({a.window_source})"


def _states_text(g: GateKind) -> str:
    """'closed/open*': the states, * on those that conduct."""
    return "/".join(s + ("*" if s in g.conducting else "") for s in g.states)


def _open_text(g: GateKind, digits: int = 3) -> str:
    method = {"channels": "channels", "batch means": "batch means"}.get(g.sem_method, "")
    return fmt_pm(g.open_mean, g.open_sem, digits) + (f" ({method})" if method else "")


def _theory_text(g: GateKind) -> str:
    if g.theory_open is None:
        return f"n/a ({g.theory_reason})"
    where = f" at {g.v_mV:+.1f} mV" if g.voltage_dependent else ""
    return f"{g.theory_open:.3f}{where}"


def _kJ_kT(led: PumpLedger, kJ: float) -> str:
    return f"{kJ:.1f} kJ/mol ({led.in_kT(kJ):.1f} kT)"


def _rows_of(a: AgentAnalysis) -> list[PumpLedger]:
    """The ledgers a table lists: each pump (up to MAX_PUMP_ROWS), then all of them when
    there are several."""
    rows = list(a.pumps[:MAX_PUMP_ROWS])
    if len(a.pumps) > 1:
        rows.append(a.pumps_total)
    return rows


# --- ionsim analyze ---------------------------------------------------------------------------

def gate_table(a: AgentAnalysis) -> Table:
    t = Table(f"Gated channels over {_window_text(a)}",
              ["gating (* conducts)", "channels", "open fraction (mean +/- SE)",
               "stationary theory", "(f - theory) / SE", "events chain / protocol",
               "relaxation time"])
    for g in a.gates:
        t.add(f"{g.label} ({_states_text(g)})", str(len(g.channels)), _open_text(g),
              _theory_text(g), fmt(g.deviation_se, 1, sign=True),
              f"{g.chain_events} / {g.protocol_events}",
              "n/a" if g.relaxation_ps is None else f"{g.relaxation_ps:.3g} ps")
    t.notes.append("open fraction: the time-weighted fraction of the window each channel "
                   "conducts; SE from the channels' spread, or from 10 batch means of one "
                   "channel")
    t.notes.append("theory: the stationary distribution of the rate matrix (pi Q = 0); "
                   "voltage-dependent gates at the mean V_m over the window (V = 0 without "
                   "a potential, as the engine gates)")
    return t


def dwell_table(a: AgentAnalysis) -> Table:
    t = Table("Dwell times (completed sojourns: censored and protocol-cut ones dropped)",
              ["gating / state", "sojourns", "mean dwell", "1 / k_exit", "k_exit dt",
               "KS D", "KS p"])
    for g in a.gates:
        for d in g.dwell:
            t.add(f"{g.label}: {d.state}", str(d.n),
                  "n/a" if d.n == 0 else (f"{d.mean_ps:.4g} +/- {d.sem_ps:.2g} ps"
                                          if math.isfinite(d.sem_ps) else
                                          f"{d.mean_ps:.4g} ps"),
                  "n/a" if d.expected_ps is None else f"{d.expected_ps:.4g} ps",
                  fmt_sci(d.k_exit_dt, 1), fmt(d.ks_statistic, 3), fmt(d.ks_p, 3))
    t.notes.append("KS: scipy.stats.kstest against the exponential of mean 1 / k_exit, for "
                   "rates constant in time (not voltage-dependent, or V = 0) and at least "
                   "5 sojourns; k_exit dt << 1 for the engine's time grid not to matter")
    return t


def ledger_table(a: AgentAnalysis) -> Table:
    t = Table(f"Pump ledger over {_window_text(a)}",
              ["pump", "acceleration", "out fwd / back", "in fwd / back", "net cycles",
               "ATP used / made", "energy from ATP", "work stored in ions", "heat",
               "efficiency"])
    for led in _rows_of(a):
        h = led.half_cycles
        t.add(led.label, accel_text(led.acceleration), f"{h[0]} / {h[2]}", f"{h[1]} / {h[3]}",
              str(led.net_cycles), f"{led.atp_hydrolysed} / {led.atp_synthesised}",
              _kJ_kT(led, led.atp_energy_kJ_mol), _kJ_kT(led, led.work_stored_kJ_mol),
              _kJ_kT(led, led.heat_kJ_mol), fmt(led.efficiency, 3))
    if len(a.pumps) > MAX_PUMP_ROWS:
        t.notes.append(f"{len(a.pumps) - MAX_PUMP_ROWS} more pumps only in 'all pumps' "
                       f"(each in summary.json)")
    t.notes.append("energy from ATP = (ATP used - made) |dG_ATP|; work stored = sum over "
                   "half-cycles of (dG - atp dG_ATP), the free energy the ions gained; heat = "
                   "-sum dG = energy from ATP - work stored; efficiency = work / energy")
    return t


def flux_table(a: AgentAnalysis) -> Table:
    names = [n for n in a.pumps_total.ions_out]
    carried = [n for n in names if any(led.ions_out.get(n) for led in a.pumps)] or names
    t = Table("Pump flux (acceleration A: a simulated ns is A ns of the real pump's time)",
              ["pump", "acceleration", "net cycles / ns (simulated)",
               "cycles / s per pump (real)", "ions out (" + ", ".join(carried) + ")",
               "charge out", "current (simulated)", "current (real)"])
    for led in _rows_of(a):
        t.add(led.label, accel_text(led.acceleration), fmt(led.cycles_per_ns, 3),
              fmt_sci(led.cycles_per_s_real, 3),
              ", ".join(f"{led.ions_out.get(n, 0):+d}" for n in carried),
              f"{led.charge_out_e:+g} e ({fmt(led.charge_out_per_ns, 3)} e/ns)",
              fmt(led.current_pA, 2, "pA"), fmt_sci(led.current_real_pA, 3, "pA"))
    t.notes.append("cycles per pump; real = simulated / A (the real pump turns over A times "
                   "slower); current outward positive, 1 e/ns = 160.2 pA")
    return t


def agent_tables(a: AgentAnalysis | None) -> list[Table]:
    """The agents' tables (empty for None): gates and dwell times, the pump ledger and
    flux."""
    if a is None:
        return []
    tables = []
    if a.gates:
        tables += [gate_table(a), dwell_table(a)]
    if a.pumps_total is not None:
        tables += [ledger_table(a), flux_table(a)]
    for n in a.notes:
        (tables[-1].notes if tables else []).append(f"note: {n}")
    return tables


def agent_lines(a: AgentAnalysis, header: str) -> list[str]:
    """What ``ionsim analyze`` prints for a run with agents but no membrane potential."""
    return printout(header, agent_tables(a), [])


# --- the closing table --------------------------------------------------------------------------

def agent_summary_lines(a: AgentAnalysis | None) -> list[str]:
    """Closing-table lines (indented; empty for None): one per gating, one per pump (up to
    MAX_PUMP_ROWS) and all pumps, each pump line with its acceleration."""
    if a is None:
        return []
    lines = [f"  agents over {_window_text(a)}"]
    if a.gates:
        t = Table("", ["gating (* conducts)", "open fraction", "stationary theory", "events"])
        for g in a.gates:
            t.add(f"{g.label} ({_states_text(g)})", _open_text(g), _theory_text(g),
                  str(g.chain_events + g.protocol_events))
        lines += t.text()
    if a.pumps_total is not None:
        t = Table("", ["pump", "acceleration", "net cycles", "ATP net", "work stored", "heat",
                       "efficiency", "cycles/s real", "current real"])
        for led in _rows_of(a):
            t.add(led.label, accel_text(led.acceleration), str(led.net_cycles),
                  str(led.atp_net), f"{led.in_kT(led.work_stored_kJ_mol):.1f} kT",
                  f"{led.in_kT(led.heat_kJ_mol):.1f} kT", fmt(led.efficiency, 3),
                  fmt_sci(led.cycles_per_s_real, 2),
                  fmt_sci(led.current_real_pA, 2, "pA"))
        lines += t.text()
    lines += [f"  note: {n}" for n in a.notes]
    return lines


# --- summary.json -------------------------------------------------------------------------------

_num = json_number


def _gate_json(g: GateKind) -> dict:
    return {
        "label": g.label, "states": list(g.states), "conducting": list(g.conducting),
        "channels": list(g.channels)[:MAX_JSON_ITEMS],
        "open_fraction": {"mean": _num(g.open_mean), "sem": _num(g.open_sem),
                          "sem_method": g.sem_method or None,
                          "per_channel": [_num(f) for f in g.open_fractions[:MAX_JSON_ITEMS]]},
        "theory_open_fraction": _num(g.theory_open),
        "theory_reason": g.theory_reason or None,
        "theory_voltage_mV": _num(g.v_mV) if g.voltage_dependent else None,
        "deviation_se": _num(g.deviation_se),
        "voltage_dependent": g.voltage_dependent,
        "chain_events": g.chain_events, "protocol_events": g.protocol_events,
        "relaxation_ps": _num(g.relaxation_ps),
        "dwell": {d.state: {"n": d.n, "mean_ps": _num(d.mean_ps), "sem_ps": _num(d.sem_ps),
                            "expected_ps": _num(d.expected_ps), "ks_statistic":
                            _num(d.ks_statistic), "ks_p": _num(d.ks_p)} for d in g.dwell}}


def _ledger_json(led: PumpLedger) -> dict:
    return {
        "label": led.label, "acceleration": _num(led.acceleration),
        "accelerations": sorted({_num(x) for x in led.accelerations}),
        "atp_free_energy_kJ_mol": sorted({_num(x) for x in led.atp_free_energy_kJ_mol}),
        "half_cycles": dict(zip([t.replace(" ", "_") for t in TRANSITIONS],
                                led.half_cycles)),
        "net_cycles": led.net_cycles, "net_in_half_cycles": led.net_in_half_cycles,
        "atp_hydrolysed": led.atp_hydrolysed, "atp_synthesised": led.atp_synthesised,
        "atp_net": led.atp_net,
        "atp_energy_kJ_mol": _num(led.atp_energy_kJ_mol),
        "atp_energy_kT": _num(led.in_kT(led.atp_energy_kJ_mol)),
        "work_stored_kJ_mol": _num(led.work_stored_kJ_mol),
        "work_stored_kT": _num(led.in_kT(led.work_stored_kJ_mol)),
        "heat_kJ_mol": _num(led.heat_kJ_mol), "heat_kT": _num(led.in_kT(led.heat_kJ_mol)),
        "efficiency": _num(led.efficiency),
        "cycles_per_ns_simulated": _num(led.cycles_per_ns),
        "cycles_per_s_real": _num(led.cycles_per_s_real),
        "charge_out_e": _num(led.charge_out_e),
        "charge_out_per_ns": _num(led.charge_out_per_ns),
        "current_pA_simulated": _num(led.current_pA),
        "current_pA_real": _num(led.current_real_pA),
        "real_window_s": _num(led.real_window_s),
        "ions_out": dict(led.ions_out)}


def agent_physics(a: AgentAnalysis) -> dict:
    """summary.json's ``physics.agents``: the window, each gating, the pumps' ledgers."""
    out = {"window_ps": [_num(a.window_ps[0]), _num(a.window_ps[1])],
           "window": a.window_source, "vm_mV": _num(a.vm_mV),
           "gates": [_gate_json(g) for g in a.gates], "notes": list(a.notes)}
    if a.pumps_total is not None:
        out["pumps"] = {"all": _ledger_json(a.pumps_total),
                        "per_pump": [_ledger_json(p) for p in a.pumps[:MAX_JSON_ITEMS]],
                        "per_pump_truncated": len(a.pumps) > MAX_JSON_ITEMS,
                        "net_charge_per_cycle_e": sorted(set(a.net_charge_per_cycle))}
    return out
