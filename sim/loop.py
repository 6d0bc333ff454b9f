"""The step loop: the order of one step, written once, and the operations that plug into it.

Order of step n (what the operations see at step n is the state x_n):

1. forces at x_n; a move of the previous step that put an ion into an overlap is undone and
   the forces computed again (this completes step n-1, and with it the step's events);
2. the guard checks the invariants of x_n (every ``guard_every`` steps and at the end);
3. **updaters** due at n change the state (agents acting between steps: pumps, gated
   channels); if any did, the forces are computed again;
4. the snapshot of step n (positions, energies, V_m on demand, the step's events) goes to
   every **writer** due at n (observables, frames, events, progress);
5. **tuners** due at n adjust how the run is computed, never what (the thread balancer);
6. the checkpoint, if due at n, stores x_n with every operation's own state: step n is then
   complete, and a run resumed from it goes straight to 7;
7. unless n is the last step, the Brownian step x_n -> x_{n+1}; its crossings are the
   events of step n+1.

Each operation has a :class:`Trigger` (every n steps, from a time on, at given times, at the
end). The Ewald parameters are tuned once, when the forces are set up: a change of them
would change the arithmetic, which no tuner may.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Trigger:
    """When an operation runs: every `every` steps (None: not periodically), not before
    `after_ps`, at the first step at or after each time in `at_ps` (ps), and at the last
    step when `at_end`."""
    every: int | None = None
    after_ps: float = 0.0
    at_ps: tuple[float, ...] = ()
    at_end: bool = False

    def bind(self, dt: float) -> "BoundTrigger":
        """The trigger in steps of dt ps."""
        after = math.ceil(self.after_ps / dt - 1e-9) if self.after_ps > 0 else 0
        at = frozenset(math.ceil(t / dt - 1e-9) for t in self.at_ps)
        return BoundTrigger(self.every, after, at, self.at_end)


@dataclass(frozen=True)
class BoundTrigger:
    every: int | None
    after_step: int
    at_steps: frozenset
    at_end: bool

    def fires(self, step: int, end: int) -> bool:
        if step < self.after_step:
            return False
        return ((self.every is not None and step % self.every == 0) or step in self.at_steps
                or (self.at_end and step == end))


def every(n: int, at_end: bool = False) -> Trigger:
    return Trigger(every=max(1, int(n)), at_end=at_end)


class Operation:
    """Something the loop runs when its trigger fires. `state()` returns what it holds
    between firings (arrays by name, kept in checkpoints) and `restore(state)` takes it
    back, so that a resumed run continues exactly; `close()` runs when the loop ends."""
    trigger: Trigger = Trigger(every=1)

    def state(self) -> dict:
        return {}

    def restore(self, state: dict) -> None:
        pass

    def close(self) -> None:
        pass


class Updater(Operation):
    """Changes the state between steps. `update(sim, step)` returns True when it changed
    anything the forces depend on (they are then computed again)."""

    def update(self, sim, step: int) -> bool:  # pragma: no cover - interface
        raise NotImplementedError


class Writer(Operation):
    """Records the snapshot of a step: `write(snapshot)`."""

    def write(self, snapshot: "Snapshot") -> None:  # pragma: no cover - interface
        raise NotImplementedError


class Tuner(Operation):
    """Changes how the run is computed, never its results: `tune(sim, step)`."""

    def tune(self, sim, step: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class Checkpointer(Operation):
    """Stores the complete step: `save(sim, operations)` (the last thing a step does)."""

    def save(self, sim, operations) -> None:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class Snapshot:
    """What every writer of step n sees: step, time (ps), positions (N, 3) nm (the live
    array: read, never write), species and compartments (N,), energies (kJ/mol by term),
    the step's events by kind (``"crossing"``: tuples (step, time ps, ion, species, channel,
    from, to)), and the potentials on demand (computed once per step, for any writer)."""
    step: int
    time: float
    positions: np.ndarray
    species: np.ndarray
    compartments: np.ndarray
    energies: dict
    events: dict = field(default_factory=dict)
    _potential: object = None  # pos -> mean potential per bulk window, kJ/(mol e)
    _windows: np.ndarray | None = None
    _phi_mV: np.ndarray | None = None

    @property
    def has_potential(self) -> bool:
        return self._potential is not None

    def compartment_potentials_mV(self) -> np.ndarray:
        """Mean potential (mV) in each compartment's bulk window."""
        if self._phi_mV is None:
            from .units import MV_PER_KJ_MOL_E
            self._phi_mV = self._potential(self.positions, self._windows) * MV_PER_KJ_MOL_E
        return self._phi_mV

    @property
    def membrane_potential_mV(self) -> float | None:
        """V_m = phi(compartment 0) - phi(compartment 1), mV; None without membranes."""
        if self._potential is None:
            return None
        phi = self.compartment_potentials_mV()
        return float(phi[0] - phi[1])


def run_steps(sim, n_steps: int, operations=(), guard_every: int | None = None,
              resumed: bool = False) -> None:
    """Advance `sim` by n_steps in the order of this module's docstring.

    operations: Updaters, Writers, Tuners and at most one Checkpointer, each with a
    trigger; guard_every: steps between invariant checks (None: only at the end);
    resumed: the first step was completed before a checkpoint (skip 2-6 there)."""
    dt = sim.scenario.run.dt
    end = sim.step + n_steps
    kinds = {kind: [(op, op.trigger.bind(dt)) for op in operations if isinstance(op, kind)]
             for kind in (Updater, Writer, Tuner, Checkpointer)}
    first = True
    while True:
        step = sim.step
        sim.compute_forces()
        if not (first and resumed):
            if (guard_every and step % guard_every == 0) or step == end:
                sim.check_invariants()
            changed = False
            for op, trig in kinds[Updater]:
                if trig.fires(step, end):
                    changed |= bool(op.update(sim, step))
            if changed:
                sim.compute_forces(undo_overlaps=False)
            due = [op for op, trig in kinds[Writer] if trig.fires(step, end)]
            if due:
                snap = sim.snapshot()
                for op in due:
                    op.write(snap)
            for op, trig in kinds[Tuner]:
                if trig.fires(step, end):
                    op.tune(sim, step)
            for op, trig in kinds[Checkpointer]:
                if trig.fires(step, end):
                    op.save(sim, operations)
        first = False
        if step >= end:
            break
        sim.brownian_step()
