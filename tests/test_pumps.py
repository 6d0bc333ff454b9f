"""Pumps (sim.pumps): detailed balance of the rates, the stationary distribution they make,
what a pump moves and how.

- the rates of every transition and its reverse obey k(X -> X') / k(X' -> X) =
  exp(-dG(X -> X') / kT) exactly, dG the ideal free energy of the counts plus the
  electrical work plus dG_ATP, at any counts and voltage;
- without electrostatics, the states a pump visits (counted at its transitions) follow the
  exact stationary distribution of an ideal gas whose cycles are weighted by
  exp(-m dG_ATP / kT), times each state's exit rate (the embedded chain): the pump stalls
  where the work of its cycles equals what ATP gives, nowhere else;
- counts per compartment change only by crossings and pump transfers (a tampered count
  stops the run); released ions overlap none; a transition waits while its ions are
  missing.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.agents_input import Pump
from sim.agent_rates import (E1, IN_BACKWARD, IN_FORWARD, OUT_BACKWARD, OUT_FORWARD,
                             REVERSE, _moved, rates, transition_free_energy,
                             transition_jumps)
from sim.pumps import Pumps
from sim.simulation import Simulation, SimulationError
from sim.units import MOLAR_TO_PER_NM3, MV_PER_KJ_MOL_E
from analysis.statistics import statistical_inefficiency
from tests.scenario_factory import scenario

NA_K = Pump(x=0.0, y=0.0, inside="inside", carries_out=(("Na+", 3),),
            carries_in=(("K+", 2),), acceleration=1e8, turnover=1e-10,
            half_saturation=(("Na+", 11e-3 * MOLAR_TO_PER_NM3), ("K+", 1e-3 * MOLAR_TO_PER_NM3)),
            hill=(("Na+", 1.5), ("K+", 1.0)), atp_free_energy=-55.0, charge_fraction=0.5,
            radius=1.0, capture_radius=2.0, capture_depth=1.0)
VALENCE = {"Na+": 1, "K+": 1}
KT = 2.5788


@pytest.mark.parametrize("v_mV", [-90.0, 0.0, 40.0])
@pytest.mark.parametrize("counts", [(12, 3, 5, 40), (3, 7, 30, 2), (9, 9, 9, 9)])
def test_every_transition_and_its_reverse_obey_detailed_balance(counts, v_mV):
    na_i, k_i, na_o, k_o = counts
    n_in, n_out = {"Na+": na_i, "K+": k_i}, {"Na+": na_o, "K+": k_o}
    vol_in, vol_out = {"Na+": 310.0, "K+": 300.0}, {"Na+": 505.0, "K+": 500.0}
    v = v_mV / MV_PER_KJ_MOL_E
    jumps = transition_jumps(NA_K, VALENCE, -20.0 / MV_PER_KJ_MOL_E)  # 20 mV per charge
    k = rates(NA_K, n_in, n_out, vol_in, vol_out, v, KT, VALENCE, jumps)
    for t in (OUT_FORWARD, IN_FORWARD, OUT_BACKWARD, IN_BACKWARD):
        # the move's free energy at the voltage halfway through it
        dG = transition_free_energy(NA_K, t, n_in, n_out, vol_in, vol_out, v + jumps[t] / 2,
                                    KT, VALENCE)
        a, b = _moved(t, NA_K, n_in, n_out)
        back = rates(NA_K, a, b, vol_in, vol_out, v + jumps[t], KT, VALENCE,
                     jumps)[REVERSE[t]]
        assert k[t] > 0 and back > 0
        assert k[t] / back == pytest.approx(math.exp(-dG / KT), rel=1e-10), t
        # the reverse's free energy is exactly the opposite
        assert transition_free_energy(NA_K, REVERSE[t], a, b, vol_in, vol_out,
                                      v + jumps[t] / 2, KT, VALENCE) == \
            pytest.approx(-dG, rel=1e-12, abs=1e-12)
    assert jumps[OUT_FORWARD] * MV_PER_KJ_MOL_E == pytest.approx(-60.0)  # 3 Na+ out: V falls


def test_a_missing_ion_makes_its_transition_impossible():
    n_in, n_out = {"Na+": 2, "K+": 5}, {"Na+": 5, "K+": 1}
    vol = {"Na+": 100.0, "K+": 100.0}
    k = rates(NA_K, n_in, n_out, vol, vol, 0.0, KT, VALENCE)
    assert k[OUT_FORWARD] == 0.0  # 3 Na+ needed inside, 2 there
    assert k[IN_FORWARD] == 0.0  # 2 K+ needed outside, 1 there
    assert k[OUT_BACKWARD] > 0 and k[IN_BACKWARD] > 0


ATP = -5.0  # kJ/mol: a weak ATP, so that the pump stalls at gradients a small box can hold


def _pump_box(**pump):
    comps = [{"name": "inside", "depth": "2 nm",
              "concentrations": {"Na+": "100 mM", "K+": "100 mM", "Cl-": "200 mM"}},
             {"name": "outside", "depth": "2 nm",
              "concentrations": {"Na+": "100 mM", "K+": "100 mM", "Cl-": "200 mM"}}]
    membranes = [{"thickness": "1 nm", "pumps": [{
        "position": ["3 nm", "3 nm"], "acceleration": 1e9, "atp_free_energy": f"{ATP} kJ/mol",
        "capture_radius": "3 nm", "capture_depth": "1.3 nm", **pump}]},
        {"thickness": "1 nm"}]
    return scenario(compartments=comps, box={"lateral": "6 nm"}, membranes=membranes,
                    interactions={"wca_epsilon": "0 kT"},
                    run={"dt": "0.1 ps", "steps": 150_000, "seed": 21, "agent_interval": 5,
                         "sample_interval": 1000, "frame_interval": 10_000})


def test_a_pump_visits_its_states_with_the_exact_stationary_weights():
    """The embedded chain of the pump's transitions, from the counts' thermodynamics."""
    sc = _pump_box()
    sim, pumps, initial = _run_pumps(sc)
    events = sim.events["pump"]
    assert len(events) > 2000
    names = [s.name for s in sc.species]
    valence = {s.name: s.valence for s in sc.species}
    na, k = names.index("Na+"), names.index("K+")

    def counts_of(h):  # the counts after h net half-cycles from the start (h even: E1)
        m_out, m_in = (h + 1) // 2, h // 2
        c = initial.copy()
        c[0, na] -= 3 * m_out
        c[1, na] += 3 * m_out
        c[0, k] += 2 * m_in
        c[1, k] -= 2 * m_in
        return c, m_out

    visited = np.cumsum([1 if e[3] in (OUT_FORWARD, IN_FORWARD) else -1 for e in events])
    assert np.array_equal(counts_of(int(visited[-1]))[0], sim.compartment_counts())
    volume, rec = pumps.volume, sc.membranes[0].pumps[0]
    embedded = {}
    for h in range(-12, 13):
        c, m_out = counts_of(h)
        if (c < 0).any():
            continue
        weight = math.exp(-_ideal_free_energy(c, volume) - m_out * ATP / sc.kT)
        r = rates(rec, *({n: c[side, s] for s, n in enumerate(names)} for side in (0, 1)),
                  *({n: volume[side, s] for s, n in enumerate(names)} for side in (0, 1)),
                  0.0, sc.kT, valence)
        exits = r[OUT_FORWARD] + r[IN_BACKWARD] if h % 2 == 0 else \
            r[IN_FORWARD] + r[OUT_BACKWARD]
        embedded[h] = weight * exits
    total = sum(embedded.values())
    expected = sum(h * w for h, w in embedded.items()) / total
    tail = visited[len(visited) // 10:].astype(float)  # from h = 0 to typical states
    g = statistical_inefficiency(tail)
    se = tail.std(ddof=1) * math.sqrt(g / len(tail))
    assert abs(tail.mean() - expected) < 3 * se, (tail.mean(), expected, se)
    # resolved: ATP moves the stall off the start (h = 0) by many standard errors, so a
    # pump that ignored ATP, or got its sign wrong, would fail
    assert abs(expected) > 6 * se, (expected, se)


def _run_pumps(sc):
    """(simulation, its Pumps, the counts it started with) after sc's steps."""
    sim = Simulation(sc)
    initial = sim.compartment_counts()
    pumps = Pumps(sim)
    sim.advance(sc.run.steps, [pumps])
    return sim, pumps, initial


def _ideal_free_energy(counts, volume):
    """F / kT of labelled ideal particles in compartments: sum ln N! - N ln V."""
    return sum(math.lgamma(n + 1) - n * math.log(v)
               for n, v in zip(counts.ravel(), volume.ravel()))


def _after_transfers(initial, transfers):
    """The counts (K, S) after the pump transfers (rows ..., species, pump, from, to)."""
    counts = initial.copy()
    for _, _, _, s, _, frm, to in transfers:
        counts[frm, s] -= 1
        counts[to, s] += 1
    return counts


class _CheckedPumps(Pumps):
    """Pumps that measure, right after each transition, how close the ions they placed
    came to any other ion (in units of the pair's mean diameter)."""
    closest = np.inf

    def _execute(self, p, transition, step):
        before = len(self.sim.events["pump_transfer"])
        done = super()._execute(p, transition, step)
        ions, box = self.sim.ions, np.array(self.sim.scenario.box)
        for row in self.sim.events["pump_transfer"][before:]:
            i = row[2]
            d = np.abs(ions.pos - ions.pos[i])
            d = np.minimum(d, box - d)
            reach = 0.5 * (self.diameter[ions.species] + self.diameter[ions.species[i]])
            ratio = np.sqrt((d * d).sum(axis=1)) / reach
            ratio[i] = np.inf
            self.closest = min(self.closest, float(ratio.min()))
        return done


def test_released_ions_overlap_none_and_counts_follow_the_transfers():
    sc = _pump_box(capture_radius="2 nm", capture_depth="1 nm").with_run(steps=40_000)
    sim = Simulation(sc)
    initial = sim.compartment_counts()
    pumps = _CheckedPumps(sim)
    sim.advance(sc.run.steps, [pumps], guard_every=10)  # counts checked every 10 steps
    transfers = sim.events["pump_transfer"]
    assert len(transfers) > 30
    assert pumps.closest >= 1.0
    assert np.array_equal(sim.compartment_counts(), _after_transfers(initial, transfers))
    # each event carried the ions its transition names
    n_ions = {OUT_FORWARD: 3, OUT_BACKWARD: 3, IN_FORWARD: 2, IN_BACKWARD: 2}
    assert len(transfers) == sum(n_ions[e[3]] for e in sim.events["pump"])


def test_a_count_changed_by_anything_but_a_crossing_or_a_pump_stops_the_run():
    sim = Simulation(_pump_box())
    sim.compute_forces()
    sim.check_invariants()
    i = int(np.nonzero(sim.ions.comp == 0)[0][0])
    sim.ions.comp[i] = 1  # an ion booked into the other compartment by nobody
    with pytest.raises(SimulationError, match="account for"):
        sim.check_invariants()


def test_a_fired_transition_waits_while_its_ions_are_missing():
    sc = _pump_box(capture_radius="1 nm", capture_depth="0.3 nm")
    sim = Simulation(sc)
    pumps = Pumps(sim)
    na = sc.species_index("Na+")
    # every Na+ of the inside away from the pump: the out half-cycle cannot take 3
    far = (sim.ions.species == na) & (sim.ions.comp == 0)
    sim.ions.pos[far, 0] = (3.0 + 3.0 * 0.999) % 6.0
    sim.ions.pos[far, 1] = (3.0 + 3.0 * 0.999) % 6.0
    pumps.pending[0] = OUT_FORWARD
    assert not pumps._execute(0, OUT_FORWARD, 0)
    assert pumps.pending[0] == OUT_FORWARD and pumps.current[0] == E1
    assert sim.events["pump"] == [] and sim.events["pump_transfer"] == []


def test_what_the_pumps_carried_is_not_counted_as_crossed(tmp_path):
    """analysis.runs.measure's net ions moved are the channels' (here none): the counts
    change, by the pumps' transfers only."""
    from analysis.runs import measure
    from sim.io import RunData
    from sim.run import run_scenario
    run_scenario(_pump_box().with_run(steps=10_000), tmp_path / "run")
    run = RunData(tmp_path / "run")
    assert len(run.events["pump_transfers"]["step"]) > 10
    counts = run.observable("counts").value
    assert (counts != counts[0]).any()  # the pumps moved ions at some sample
    m = measure(run)
    assert all(np.all(v == 0) for v in m.moved_out.values())


def test_the_ledger_balances_against_the_free_energy_of_the_counts():
    """Without electrostatics and channels, the work the ledger says the pump stored in the
    ions (the sum over its half-cycles of dG - atp dG_ATP) is the ideal free energy the
    counts gained, F = kT sum (ln N! - N ln V), exactly; and ATP energy = work + heat."""
    sc = _pump_box().with_run(steps=20_000)
    sim, pumps, before = _run_pumps(sc)
    events = sim.events["pump"]
    assert len(events) > 50
    work = sum(e[5] - e[4] * ATP for e in events)  # kJ/mol
    gained = sc.kT * (_ideal_free_energy(sim.compartment_counts(), pumps.volume)
                      - _ideal_free_energy(before, pumps.volume))
    assert work == pytest.approx(gained, rel=1e-9, abs=1e-9)
    heat = -sum(e[5] for e in events)
    atp_energy = -ATP * sum(e[4] for e in events)
    assert atp_energy == pytest.approx(work + heat, abs=1e-9)
