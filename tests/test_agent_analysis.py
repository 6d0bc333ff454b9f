"""The agents' analysis (analysis.agents, analysis.agents_text, analysis.pump_cost): open
fractions, dwell times and the pumps' ledger on hand-made event tables whose answers are
worked out here by hand, the stationary theory against closed forms, and one short run
through `ionsim run` and `ionsim analyze` showing the new lines (a run without agents
showing none)."""

import json
import math

import numpy as np
import pytest
import yaml

from analysis.agents import (MIN_KS_SOJOURNS, N_BATCHES, PA_PER_E_PER_NS, analyze_gates,
                             batch_open_fractions, completed_sojourns, cumulative_net_cycles,
                             dwell_stats, gate_timelines, open_fraction, open_fraction_series,
                             pump_ledgers, stationary_open_fraction)
from analysis.agents_text import agent_summary_lines
from analysis.pump_cost import gradient_free_energy_J, parse_pump_density
from analysis.run_summary import physics_summary
from sim.cli import main
from sim.errors import UserError
from sim.io import RunData
from sim.run import run_scenario
from sim.scenario import parse_scenario
from sim.units import AVOGADRO, BOLTZMANN, MOLAR_TO_PER_NM3, MV_PER_KJ_MOL_E
from tests.scenario_factory import scenario, tree

T = 310.15
KT = BOLTZMANN * T
IONS = {"K+": "20 mM", "Na+": "150 mM", "Cl-": "170 mM"}
TWO_STATE = {"states": ["closed", "open"], "conducting": ["open"], "initial": "closed",
             "rates": {"closed->open": "2 /ns", "open->closed": "3 /ns"}}


def _comps(inside=IONS, outside=IONS, depth="4 nm"):
    return [{"name": "inside", "depth": depth, "concentrations": dict(inside)},
            {"name": "outside", "depth": depth, "concentrations": dict(outside)}]


def _gated(count=2, gating=TWO_STATE):
    ch = {"count": count, "radius": "0.5 nm", "permeant": ["K+"], "gating": gating}
    return scenario(compartments=_comps(), membranes=[
        {"thickness": "3 nm", "channels": [ch]}, {"thickness": "3 nm", "channels": []}])


def _events(rows):
    """A gate_events table from rows (time ps, channel, from, to, cause); step = 20 x time."""
    a = np.array(rows, dtype=float).reshape(-1, 5)
    return {"step": (a[:, 0] * 20).astype(np.int64), "time": a[:, 0],
            "channel": a[:, 1].astype(np.int64), "from": a[:, 2].astype(np.int64),
            "to": a[:, 3].astype(np.int64), "cause": a[:, 4].astype(np.int64)}


# channel 0: closed [0, 10), open [10, 30), closed [30, 35) cut by the protocol, open
# [35, 60) begun by it, closed [60, 100); channel 1: open from 50 on
HAND = _events([(10, 0, 0, 1, 0), (30, 0, 1, 0, 0), (35, 0, 0, 1, 1), (50, 1, 0, 1, 0),
                (60, 0, 1, 0, 0)])
OPEN = np.array([False, True])


# --- gated channels --------------------------------------------------------------------------

def test_open_fraction_of_a_hand_made_timeline():
    tl0, tl1 = gate_timelines(_gated(), HAND, 100.0)
    assert list(tl0.times) == [0, 10, 30, 35, 60] and list(tl0.states) == [0, 1, 0, 1, 0]
    assert tl0.consistent and tl1.consistent
    assert open_fraction(tl0, OPEN, 0.0, 100.0) == pytest.approx((20 + 25) / 100)
    assert open_fraction(tl0, OPEN, 20.0, 100.0) == pytest.approx((10 + 25) / 80)
    assert open_fraction(tl1, OPEN, 0.0, 100.0) == pytest.approx(0.5)
    # ten batches of 10 ps: open 0, 1, 1, 0.5, 1, 1, 0, ... for channel 0
    b = batch_open_fractions(tl0, OPEN, 0.0, 100.0)
    assert b.size == N_BATCHES
    assert list(b) == pytest.approx([0, 1, 1, 0.5, 1, 1, 0, 0, 0, 0])
    t, f = open_fraction_series(analyze_gates(_gated(), HAND, 0.0, 100.0)[0])
    assert list(t) == [0, 10, 30, 35, 50, 60] and list(f) == [0, .5, 0, .5, 1, .5]


def test_the_se_is_the_channels_spread_or_one_channels_batch_means():
    (two,) = analyze_gates(_gated(), HAND, 0.0, 100.0)
    assert two.sem_method == "channels"
    assert two.open_mean == pytest.approx((0.45 + 0.5) / 2)
    assert two.open_sem == pytest.approx(np.std([0.45, 0.5], ddof=1) / math.sqrt(2))
    only0 = {k: v[HAND["channel"] == 0] for k, v in HAND.items()}
    (one,) = analyze_gates(_gated(count=1), only0, 0.0, 100.0)
    b = [0, 1, 1, 0.5, 1, 1, 0, 0, 0, 0]
    assert one.sem_method == "batch means"
    assert one.open_sem == pytest.approx(np.std(b, ddof=1) / math.sqrt(10))
    assert two.chain_events == 4 and two.protocol_events == 1


def test_completed_sojourns_drop_the_censored_and_the_protocol_cut():
    tl0, tl1 = gate_timelines(_gated(), HAND, 100.0)
    states, durations = completed_sojourns(tl0, 0.0, 100.0)
    # [10, 30) open: kept; [30, 35) cut by the protocol; [35, 60) begun by it: kept
    # (memoryless); the first and the last: censored
    assert list(states) == [1, 1] and list(durations) == [20, 25]
    states, durations = completed_sojourns(tl0, 20.0, 100.0)  # [10, 30) began before t0
    assert list(durations) == [25]
    assert completed_sojourns(tl1, 0.0, 100.0)[1].size == 0  # its one change: no sojourn
    assert completed_sojourns(tl0, 0.0, 55.0)[1].tolist() == [20]  # [35, 60) ends after


def test_stationary_open_fraction_against_closed_forms():
    g = _gated().membranes[0].channels[0].gating
    assert stationary_open_fraction(g, 0.0, KT) == pytest.approx(2 / 5, rel=1e-12)
    # three states in a row: pi_o = k12 k23 / (k12 k23 + k21 k23 + k21 k32)
    three = dict(TWO_STATE, states=["c1", "c2", "open"], initial="c1",
                 rates={"c1->c2": "1 /ns", "c2->c1": "2 /ns", "c2->open": "3 /ns",
                        "open->c2": "4 /ns"})
    g3 = _gated(gating=three).membranes[0].channels[0].gating
    w = np.array([2 * 4, 1 * 4, 1 * 3], float)  # c1, c2, open unnormalised
    assert stationary_open_fraction(g3, 0.0, KT) == pytest.approx(w[2] / w.sum(), rel=1e-12)
    # voltage dependence: equal rates at v_half, the open state's charge q: Boltzmann
    vdep = dict(TWO_STATE, rates={"closed->open": "2 /ns", "open->closed": "2 /ns"},
                gating_charge={"open": 3}, v_half="-40 mV")
    gv = _gated(gating=vdep).membranes[0].channels[0].gating
    v = -10.0 / MV_PER_KJ_MOL_E
    expected = 1 / (1 + math.exp(-3 * (v + 40 / MV_PER_KJ_MOL_E) / KT))
    assert stationary_open_fraction(gv, v, KT) == pytest.approx(expected, rel=1e-10)


def test_the_ks_test_accepts_the_right_exponential_and_rejects_a_wrong_one():
    g = _gated().membranes[0].channels[0].gating
    rng = np.random.default_rng(7)
    closed = rng.exponential(500.0, 400)  # 1 / (2 /ns) = 500 ps
    states = np.zeros(closed.size, dtype=np.int64)
    (right, _) = dwell_stats(g, states, closed, 0.0, KT, 0.5, constant_rates=True)
    assert right.expected_ps == pytest.approx(500.0) and right.n == 400
    assert right.mean_ps == pytest.approx(closed.mean())
    assert right.ks_p > 1e-3
    (wrong, _) = dwell_stats(g, states, 3 * closed, 0.0, KT, 0.5, constant_rates=True)
    assert wrong.ks_p < 1e-6
    few = dwell_stats(g, states[:MIN_KS_SOJOURNS - 1], closed[:MIN_KS_SOJOURNS - 1], 0.0, KT,
                      0.5, constant_rates=True)
    assert few[0].ks_p is None  # too few to test
    assert dwell_stats(g, states, closed, 0.0, KT, 0.5, constant_rates=False)[0].ks_p is None


# --- the pumps' ledger ---------------------------------------------------------------------------

def _pumped():
    pumps = [{"position": ["2 nm", "2 nm"], "acceleration": 1e9},
             {"position": ["6 nm", "6 nm"], "acceleration": 1e6}]
    return scenario(compartments=_comps(), membranes=[
        {"thickness": "3 nm", "channels": [], "pumps": pumps},
        {"thickness": "3 nm", "channels": []}])


def _pump_tables():
    # pump 0: out fwd, in fwd, out fwd, out back; pump 1: out fwd, in back. (t ps, pump,
    # transition, atp, dG kJ/mol)
    rows = [(10, 0, 0, 1, -40.0), (20, 0, 1, 0, -3.0), (30, 0, 0, 1, -35.0),
            (40, 0, 2, -1, 30.0), (50, 1, 0, 1, -50.0), (60, 1, 3, 0, 2.0),
            (500, 0, 1, 0, -1.0)]  # after the window
    a = np.array(rows)
    events = {"step": (a[:, 0] * 20).astype(np.int64), "time": a[:, 0],
              "pump": a[:, 1].astype(np.int64), "transition": a[:, 2].astype(np.int64),
              "atp": a[:, 3].astype(np.int64), "dG": a[:, 4], "V": np.zeros(len(rows))}
    # the ions: Na+ (1) 0 -> 1 three per out forward, back for out back; K+ (0) 1 -> 0 two
    # for in forward, 0 -> 1 for in back
    tr = []
    for t, p, trans, _, _ in rows:
        n, s, frm = {0: (3, 1, 0), 1: (2, 0, 1), 2: (3, 1, 1), 3: (2, 0, 0)}[int(trans)]
        tr += [(t, 100 + len(tr), s, p, frm, 1 - frm)] * n
    b = np.array(tr)
    transfers = {"step": (b[:, 0] * 20).astype(np.int64), "time": b[:, 0],
                 "particle": b[:, 1].astype(np.int64), "species": b[:, 2].astype(np.int64),
                 "pump": b[:, 3].astype(np.int64), "from": b[:, 4].astype(np.int64),
                 "to": b[:, 5].astype(np.int64)}
    return events, transfers


def test_ledger_sums_by_hand():
    sc = _pumped()
    assert [s.name for s in sc.species] == ["K+", "Na+", "Cl-"]
    events, transfers = _pump_tables()
    (p0, p1), total = pump_ledgers(sc, events, transfers, 0.0, 100.0)
    g = -55.0
    # pump 0
    assert p0.half_cycles == (2, 1, 1, 0) and p0.net_cycles == 1
    assert (p0.atp_hydrolysed, p0.atp_synthesised, p0.atp_net) == (2, 1, 1)
    assert p0.atp_energy_kJ_mol == pytest.approx(55.0)
    w0 = (-40 - g) + (-3) + (-35 - g) + (30 + g)
    assert p0.work_stored_kJ_mol == pytest.approx(w0)
    assert p0.heat_kJ_mol == pytest.approx(40 + 3 + 35 - 30)
    assert p0.heat_kJ_mol == pytest.approx(p0.atp_energy_kJ_mol - p0.work_stored_kJ_mol)
    assert p0.efficiency == pytest.approx(w0 / 55.0)
    assert p0.in_kT(p0.work_stored_kJ_mol) == pytest.approx(w0 / sc.kT)
    # rates: 1 net cycle in 0.1 ns; real time: / A per simulated ns, x 1e9 ns per s
    assert p0.cycles_per_ns == pytest.approx(10.0)
    assert p0.cycles_per_s_real == pytest.approx(10.0 * 1e9 / 1e9)
    assert p0.ions_out == {"K+": -2, "Na+": 3, "Cl-": 0}
    assert p0.charge_out_e == 1.0 and p0.charge_out_per_ns == pytest.approx(10.0)
    assert p0.current_pA == pytest.approx(10.0 * 160.2176634)
    assert p0.current_real_pA == pytest.approx(p0.current_pA / 1e9)
    assert p0.acceleration == 1e9 and p0.real_window_s == pytest.approx(100e-12 * 1e9)
    # pump 1 and all of them
    assert p1.half_cycles == (1, 0, 0, 1) and p1.ions_out == {"K+": 2, "Na+": 3, "Cl-": 0}
    assert p1.efficiency == pytest.approx((-50 - g + 2) / 55.0)
    assert total.half_cycles == (3, 1, 1, 1) and total.net_cycles == 2
    assert total.acceleration is None and total.real_window_s is None  # mixed
    assert total.cycles_per_ns == pytest.approx(2 / 0.1 / 2)  # per pump
    assert total.cycles_per_s_real == pytest.approx((10.0 + 10.0 * 1e9 / 1e6) / 2)
    assert total.current_real_pA == pytest.approx(
        10.0 * PA_PER_E_PER_NS / 1e9 + 50.0 * PA_PER_E_PER_NS / 1e6)
    assert total.work_stored_kJ_mol == pytest.approx(p0.work_stored_kJ_mol
                                                     + p1.work_stored_kJ_mol)
    t, n = cumulative_net_cycles(events)
    assert list(t) == [0, 10, 30, 40, 50] and list(n) == [0, 1, 2, 1, 2]


def test_every_pump_line_of_the_closing_table_shows_its_acceleration():
    from analysis.agents import AgentAnalysis
    events, transfers = _pump_tables()
    per, total = pump_ledgers(_pumped(), events, transfers, 0.0, 100.0)
    a = AgentAnalysis((0.0, 100.0), "the whole run", None, [], per, total)
    lines = agent_summary_lines(a)
    pump_lines = [ln for ln in lines
                  if ln.strip().startswith(("pump 0", "pump 1", "all pumps"))]
    assert len(pump_lines) == 3
    assert "A = 1e+09" in pump_lines[0] and "A = 1e+06" in pump_lines[1]
    assert "A mixed" in pump_lines[2]


# --- what a real cell pays --------------------------------------------------------------------

def test_gradient_free_energy_and_pump_density_option():
    v_nm3 = 1e9  # 1 um^3
    n = 10e-3 * MOLAR_TO_PER_NM3 * v_nm3
    n0 = 100e-3 * MOLAR_TO_PER_NM3 * v_nm3
    kT_J = BOLTZMANN * 1e3 * T / AVOGADRO
    assert gradient_free_energy_J(10.0, 100.0, v_nm3, T) == pytest.approx(
        kT_J * (n * math.log(0.1) - (n - n0)))
    assert gradient_free_energy_J(50.0, 50.0, v_nm3, T) == 0.0
    assert gradient_free_energy_J(5.0, 0.0, v_nm3, T) == math.inf
    assert parse_pump_density("1000") == 1000.0 and parse_pump_density("50/um^2") == 50.0
    for bad in ("lots", "0", "-5", "nan", "1e9"):
        with pytest.raises(UserError, match="--pump-density"):
            parse_pump_density(bad)


# --- one real run ------------------------------------------------------------------------------

E2E = {
    "name": "agents_e2e", "temperature": "310.15 K", "box": {"lateral": "6 nm"},
    "compartments": _comps({"K+": "20 mM", "Na+": "150 mM", "Cl-": "170 mM"},
                           {"K+": "150 mM", "Na+": "20 mM", "Cl-": "170 mM"}),
    "membranes": [{"thickness": "3 nm",
                   "channels": [{"count": 4, "radius": "0.4 nm", "permeant": ["K+"],
                                 "gating": dict(TWO_STATE, rates={"closed->open": "20 /ns",
                                                                  "open->closed": "30 /ns"})}],
                   "pumps": [{"count": 1, "acceleration": 1e9, "capture_radius": "2.5 nm",
                              "capture_depth": "1.5 nm"}]},
                  {"thickness": "3 nm"}],
    "electrostatics": "off",
    "run": {"dt": "0.05 ps", "duration": "300 ps", "seed": 3},
}


def test_a_run_with_agents_shows_them_in_the_closing_table_and_analyze(tmp_path, capsys):
    path = tmp_path / "agents.yaml"
    path.write_text(yaml.safe_dump(E2E))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out)]) == 0
    closing = capsys.readouterr().out
    run = RunData(out)
    ev = run.events["pump_events"]
    net = int(np.sum(ev["transition"] == 0) - np.sum(ev["transition"] == 2))
    assert "agents over 0-0.3 ns (the whole run)" in closing
    (pump_line,) = [ln for ln in closing.splitlines() if ln.strip().startswith("pump 0")]
    assert "A = 1e+09" in pump_line and f" {net} " in pump_line
    summary = json.loads((out / "summary.json").read_text())
    agents = summary["physics"]["agents"]
    assert agents["pumps"]["all"]["acceleration"] == 1e9
    assert agents["pumps"]["all"]["net_cycles"] == net
    gate = agents["gates"][0]
    assert gate["theory_open_fraction"] == pytest.approx(0.4)
    assert gate["chain_events"] == run.events["gate_events"]["step"].size > 0

    assert main(["analyze", str(out)]) == 0  # no potential: the agents still speak
    text = capsys.readouterr().out
    for needle in ("Gated channels over", "Dwell times", "Pump ledger over", "Pump flux",
                   "A = 1e+09"):
        assert needle in text, needle


def test_a_run_without_agents_gets_no_agent_lines(tmp_path):
    d = tmp_path / "plain"
    run_scenario(parse_scenario(tree(), "plain.yaml"), d)
    s = physics_summary(RunData(d))
    assert "agents" not in s["physics"] and "agents_error" not in s["physics"]
    assert not any("agents" in ln or "pump" in ln for ln in s["physics_table"])
