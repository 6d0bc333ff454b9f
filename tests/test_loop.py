"""The step loop (sim.loop): triggers, the order of a step, updaters that change the state
between steps, writers sharing one snapshot, and a resumed run skipping the completed step."""

import numpy as np

from sim.loop import Trigger, Tuner, Updater, Writer, every
from sim.simulation import Simulation
from tests.reference_trajectories import CASES
from tests.scenario_factory import bulk, scenario


def test_triggers_fire_every_n_after_a_time_at_times_and_at_the_end():
    dt = 0.05
    fires = lambda trig, end=100: [s for s in range(end + 1)  # noqa: E731
                                   if trig.bind(dt).fires(s, end)]
    assert fires(every(25)) == [0, 25, 50, 75, 100]
    assert fires(Trigger(every=30, at_end=True)) == [0, 30, 60, 90, 100]
    assert fires(Trigger(every=10, after_ps=2.0)) == [40, 50, 60, 70, 80, 90, 100]
    # at a time: the first step at or after it (1.01 ps is step 20.2 -> 21)
    assert fires(Trigger(at_ps=(1.0, 1.01, 4.99))) == [20, 21, 100]
    assert fires(Trigger()) == []


class _Log(Writer):
    def __init__(self, trigger, log, name):
        self.trigger, self.log, self.name = trigger, log, name

    def write(self, snap):
        self.log.append((self.name, snap.step, snap.energies.get("wca")))


class _Mover(Updater):
    """At a set time, puts ion 1 right on top of ion 0 (an overlap: WCA energy jumps)."""

    def __init__(self, at_ps, log):
        self.trigger, self.log = Trigger(at_ps=(at_ps,)), log

    def update(self, sim, step):
        sim.ions.pos[1] = sim.ions.pos[0] + np.array([0.25, 0.0, 0.0])
        self.log.append(("update", step, None))
        return True


class _Count(Tuner):
    trigger = every(7)

    def __init__(self, log):
        self.log = log

    def tune(self, sim, step):
        self.log.append(("tune", step, None))


def test_a_step_runs_updaters_then_writers_then_tuners_with_forces_after_the_update():
    sim = Simulation(bulk(conc="300 mM", side="4 nm", electrostatics="off"))
    log = []
    ops = [_Log(every(5), log, "write"), _Mover(0.5, log), _Count(log)]  # 0.5 ps = step 10
    sim.advance(14, ops)
    at10 = [entry for entry in log if entry[1] == 10]
    assert [e[0] for e in at10] == ["update", "write"]
    wca_before = [e[2] for e in log if e[0] == "write" and e[1] == 5][0]
    # the writer saw the energy after the move: a contact at 0.25 nm is several kT of WCA
    assert at10[1][2] > wca_before + 5.0
    assert [e[1] for e in log if e[0] == "tune"] == [0, 7, 14]
    assert [e[1] for e in log if e[0] == "write"] == [0, 5, 10]


def test_writers_of_a_step_share_one_snapshot_with_the_steps_crossings():
    sim = Simulation(scenario(**CASES["lm_crossings"]))  # thin membranes, wide pores
    seen = []

    class Both(Writer):
        trigger = every(1)

        def write(self, snap):
            seen.append((snap.step, id(snap), list(snap.events["crossing"])))

    a, b = Both(), Both()
    sim.advance(8000, [a, b])
    by_step = {}
    for step, ident, events in seen:
        by_step.setdefault(step, set()).add(ident)
    assert all(len(idents) == 1 for idents in by_step.values())  # one snapshot per step
    events = [e for step, _, evs in seen[::2] for e in evs]
    assert events and events == sim.crossings
    assert all(e[0] == step for step, _, evs in seen for e in evs)


def test_a_resumed_loop_skips_the_operations_of_its_completed_first_step():
    sim = Simulation(bulk(conc="150 mM", side="4 nm", electrostatics="off"))
    log = []
    sim.advance(10, [_Log(every(5), log, "write")], resumed=True)
    assert [e[1] for e in log] == [5, 10]
