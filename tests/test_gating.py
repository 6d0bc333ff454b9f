"""Gated channels (sim.gating): the gate's Markov chain against its theory, what a closed
gate does to ions, and gates in checkpoints.

- two-state gating: the open fraction is k_open / (k_open + k_close) within 3 SE (40
  independent channels: the SE is their spread / sqrt(40)), and the dwell times in each
  state are exponential with mean 1 / k_exit (a KS test at the 0.1% level);
- voltage dependence: the rates obey detailed balance with the gating energy exactly, and
  a symmetric two-state gate is open with the Boltzmann probability;
- a closed channel passes no ion (a protocol opens it: then ions cross);
- a run with gates resumed from a checkpoint continues bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.agent_rates import rate_matrix
from sim.gating import Gates
from sim.agents_input import Gating
from sim.simulation import Simulation
from sim.units import MV_PER_KJ_MOL_E
from tests.scenario_factory import scenario

K_OPEN, K_CLOSE = 2e-3, 3e-3  # 1/ps: 2 /ns and 3 /ns


def _gated_membranes(gating, count=40, radius="0.5 nm", permeant=("K+",), thickness="3 nm"):
    ch = {"count": count, "radius": radius, "permeant": list(permeant), "gating": gating}
    return [{"thickness": thickness, "channels": [ch]}, {"thickness": thickness, "channels": []}]


def _two_state(**extra):
    return {"states": ["closed", "open"], "conducting": ["open"], "initial": "closed",
            "rates": {"closed->open": "2 /ns", "open->closed": "3 /ns"}, **extra}


def _few_ions(**changes):
    """A cheap scenario: an ideal gas of a few ions (the gates do not depend on them)."""
    comps = [{"name": "inside", "depth": "2 nm",
              "concentrations": {"K+": "20 mM", "Cl-": "20 mM"}},
             {"name": "outside", "depth": "2 nm",
              "concentrations": {"K+": "20 mM", "Cl-": "20 mM"}}]
    return scenario(compartments=comps, box={"lateral": "20 nm"},
                    interactions={"wca_epsilon": "0 kT"}, **changes)


def _run_gates(sc, steps):
    sim = Simulation(sc)
    gates = Gates(sim)
    sim.advance(steps, [gates])
    return sim, gates


def _timelines(sim, gates, t_end):
    """Per gated channel: [(t_start, t_end, state)] sojourns, the first from t = 0."""
    out = {int(c): [] for c in gates.gated.channel}
    start = {int(c): (0.0, gates.gated.specs[0].states.index(gates.gated.specs[0].initial))
             for c in gates.gated.channel}
    for _, t, c, a, b, _cause in sim.events["gate"]:
        t0, s = start[c]
        assert s == a
        out[c].append((t0, t, s))
        start[c] = (t, b)
    for c, (t0, s) in start.items():
        out[c].append((t0, t_end, s))
    return out


def test_two_state_gate_open_fraction_and_exponential_dwell_times():
    sc = _few_ions(membranes=_gated_membranes(_two_state()),
                   run={"dt": "1 ps", "duration": "40 ns", "seed": 3, "agent_interval": 5,
                        "sample_interval": 1000, "frame_interval": 1000})
    sim, gates = _run_gates(sc, sc.run.steps)
    t_end = sim.time
    lines = _timelines(sim, gates, t_end)
    fractions = np.array([sum(t1 - t0 for t0, t1, s in seq if s == 1) / t_end
                          for seq in lines.values()])
    expected = K_OPEN / (K_OPEN + K_CLOSE)
    se = fractions.std(ddof=1) / math.sqrt(len(fractions))
    assert abs(fractions.mean() - expected) < 3 * se, (fractions.mean(), se)
    assert se < 0.02  # the test resolves the fraction, not just a loose band
    for state, k_exit in ((0, K_OPEN), (1, K_CLOSE)):
        # completed sojourns only: the first starts at t = 0 by fiat, the last is cut
        dwell = np.array([t1 - t0 for seq in lines.values() for t0, t1, s in seq[1:-1]
                          if s == state])
        assert len(dwell) > 500
        p = stats.kstest(dwell, "expon", args=(0, 1 / k_exit)).pvalue
        assert p > 1e-3, (state, p, dwell.mean(), 1 / k_exit)
    # the same dwell times are not those of a rate 20% off: the test can tell
    dwell_open = np.array([t1 - t0 for seq in lines.values() for t0, t1, s in seq[1:-1]
                           if s == 1])
    assert stats.kstest(dwell_open, "expon", args=(0, 1 / (1.2 * K_CLOSE))).pvalue < 1e-3


def test_voltage_dependent_rates_obey_detailed_balance_with_the_gating_energy():
    kT = 2.5788  # kJ/mol at 310.15 K
    g = Gating(states=("c", "o"), conducting=("o",), initial="c",
               rates=(("c->o", 1e-3), ("o->c", 1e-3)), gating_charge=(("o", 4.0),),
               v_half=-40.0 / MV_PER_KJ_MOL_E)
    for v_mV in (-100.0, -40.0, 0.0, 30.0):
        v = v_mV / MV_PER_KJ_MOL_E
        Q = rate_matrix(g, v, kT)
        assert Q[0, 1] / Q[1, 0] == pytest.approx(math.exp(4.0 * (v - g.v_half) / kT),
                                                  rel=1e-12)
        p_open = Q[0, 1] / (Q[0, 1] + Q[1, 0])
        boltzmann = 1.0 / (1.0 + math.exp(-4.0 * (v - g.v_half) / kT))
        assert p_open == pytest.approx(boltzmann, rel=1e-12)
        assert np.allclose(Q.sum(axis=1), 0.0)
    assert rate_matrix(g, g.v_half, kT)[0, 1] == pytest.approx(1e-3, rel=1e-15)


T_SWITCH = 2000.0  # ps: the protocol's time; K+ crosses a 1.5 nm pore in about 0.5 ns


def _crossing_scenario(protocol, initial="closed"):
    gating = {"states": ["closed", "open"], "initial": initial, "protocol": protocol}
    comps = [{"name": "inside", "depth": "3 nm",
              "concentrations": {"K+": "1 M", "Cl-": "1 M"}},
             {"name": "outside", "depth": "3 nm",
              "concentrations": {"K+": "1 M", "Cl-": "1 M"}}]
    return scenario(compartments=comps, box={"lateral": "8 nm"},
                    membranes=_gated_membranes(gating, count=9, radius="0.8 nm",
                                               thickness="1.5 nm"),
                    interactions={"wca_epsilon": "0 kT"},  # an ideal gas: dt 0.1 ps is safe
                    run={"dt": "0.1 ps", "duration": f"{2 * T_SWITCH} ps", "seed": 5,
                         "sample_interval": 100, "frame_interval": 1000})


def test_a_closed_gate_passes_no_ion_and_an_opened_one_does():
    sc = _crossing_scenario([{"at": f"{T_SWITCH} ps", "state": "open"}])
    sim, gates = _run_gates(sc, sc.run.steps)
    times = np.array([c[1] for c in sim.crossings])
    assert len(times) >= 10  # open for half the run: ions cross
    assert times.min() > T_SWITCH  # closed for the other half: none did
    assert [e[3:] for e in sim.events["gate"]] == [(0, 1, 1)] * 9  # closed -> open, protocol
    assert gates.open.all()


def test_ions_leave_a_gate_that_closed_and_none_enter_after():
    sc = _crossing_scenario([{"at": f"{T_SWITCH} ps", "state": "closed"}], initial="open")
    sim = Simulation(sc)
    gates = Gates(sim)
    switch = sc.steps_for(T_SWITCH)
    sim.advance(switch, [gates])
    in_pores = set(np.nonzero(sim.geometry.compartments_of(sim.ions.pos) < 0)[0].tolist())
    before = len(sim.crossings)
    sim.advance(sc.run.steps - switch, [gates])
    assert before >= 10
    late = {c[2] for c in sim.crossings[before:] if c[1] > T_SWITCH}
    assert late <= in_pores  # only ions inside at the switch crossed after it
    still = set(np.nonzero(sim.geometry.compartments_of(sim.ions.pos) < 0)[0].tolist())
    assert still <= in_pores  # and none entered


def test_a_run_with_gates_and_pumps_extended_equals_one_that_long_from_the_start(tmp_path):
    """`ionsim resume --steps` continues the gates' and pumps' states from the checkpoint:
    every dataset of the trajectory (the event tables included) equals a run that long."""
    import yaml

    from sim.cli import main
    from tests.run_files import h5_contents
    from tests.scenario_factory import tree
    t = tree(box={"lateral": "8 nm"}, compartments=[
        {"name": "inside", "depth": "3 nm",
         "concentrations": {"K+": "100 mM", "Na+": "100 mM", "Cl-": "200 mM"}},
        {"name": "outside", "depth": "3 nm",
         "concentrations": {"K+": "100 mM", "Na+": "100 mM", "Cl-": "200 mM"}}])
    t["membranes"] = _gated_membranes(_two_state(rates={"closed->open": "200 /ns",
                                                        "open->closed": "200 /ns"}), count=2)
    t["membranes"][0]["pumps"] = [{"position": ["4 nm", "4 nm"], "acceleration": 1e9,
                                   "capture_radius": "3 nm", "capture_depth": "2 nm",
                                   "atp_free_energy": "-10 kJ/mol"}]
    t["run"] = {"dt": "0.05 ps", "steps": 2000, "seed": 4, "sample_interval": 10,
                "frame_interval": 230, "checkpoint_interval": 170}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(t))
    assert main(["run", str(path), "--out", str(tmp_path / "whole"), "--quiet"]) == 0
    assert main(["run", str(path), "--out", str(tmp_path / "part"), "--quiet",
                 "--steps", "1100"]) == 0
    assert main(["resume", str(tmp_path / "part"), "--steps", "2000", "--quiet"]) == 0
    ref, _ = h5_contents(tmp_path / "whole" / "trajectory.h5")
    got, _ = h5_contents(tmp_path / "part" / "trajectory.h5")
    assert sorted(got) == sorted(ref)
    assert len(ref["ionsim/gate_events/step"]) > 10 and len(ref["ionsim/pump_events/step"]) > 2
    for name, value in ref.items():
        assert np.array_equal(got[name], value, equal_nan=value.dtype.kind == "f"), name
