"""Gated channels: each channel's gate is a continuous-time Markov chain, acting between steps.

A gate has named states, some conducting (sim.agents_input.Gating). Every `agent_interval`
steps (Delta t) each gated channel moves from state a to state b with the probability of the
chain over Delta t, P = expm(Q Delta t), Q the rate matrix at the instantaneous voltage
V = phi(inside) - phi(outside) (the run's V_m: compartment 0 is the inside). The transition
is exact for rates constant over the interval, whatever Delta t. Voltage dependence puts a
state's gating charge q_s (e, moved outward) into the rates with a symmetric Eyring split,

    k_ab(V) = k_ab exp((q_b - q_a) e (V - V_half) / 2kT),

so k_ab(V) / k_ba(V) = (k_ab / k_ba) exp((q_b - q_a) e (V - V_half) / kT): detailed balance
with the gating energy -(q_b - q_a) e (V - V_half). A two-state gate with k_co = k_oc at
V_half is open with probability 1 / (1 + exp(-q e (V - V_half) / kT)).

What a closed gate does to ions: the pore refuses every ion at its mouths (its Boltzmann
factor in the geometry record is set to 0, the integrator's infinite barrier, sim.integrate),
and an ion already inside leaves freely either way; an open gate restores the channel's own
factors. Each channel draws from its own counter-based stream (key: the scenario's seed
and sim.rng.STREAM_GATING; counter: the channel's index among the gated ones, step), so its
states depend on nothing else: not on the other channels' states, not on the ions' noise,
not on where a run was resumed. A `protocol` puts every channel of its
entry into a state at a time (at the first agent step at or after it).

Every change of state is an event (step, time ps, channel, from, to, cause: 0 the chain, 1
the protocol) in the H5MD file's /ionsim/gate_events (sim.io).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import expm

from .agent_rates import (CAUSE_CHAIN, CAUSE_PROTOCOL, GatedChannels,  # noqa: F401
                          rate_matrix, voltage_dependent)
from .loop import Trigger, Updater
from .rng import STREAM_GATING, fill_agent_uniforms, stream_key

class Gates(Updater):
    """The loop's updater of gated channels (sim.loop): `current` (G,), the state index of
    every gated channel.

    `sim` needs: scenario, geometry (its ch_boltzmann is changed in place), step, time,
    membrane_voltage() (kJ/(mol e)) and record_event(kind, row)."""

    def __init__(self, sim):
        sc = sim.scenario
        self.gated = GatedChannels(sc)
        self.kT = sc.kT
        self.dt_agent = sc.run.agent_interval * sc.run.dt
        self.boltzmann = sim.geometry.ch_boltzmann  # the live array the integrator reads
        self.open_factors = self.boltzmann.copy()
        specs = self.gated.specs
        self.current = np.array([s.states.index(s.initial) for s in specs], dtype=np.int64)[
            self.gated.spec_of] if len(self.gated) else np.zeros(0, dtype=np.int64)
        self.conducting = [np.array([st in s.conducting for st in s.states]) for s in specs]
        self.voltage = [voltage_dependent(s) for s in specs]
        self._fixed = [None if self.voltage[k] else expm(rate_matrix(s, 0.0, self.kT)
                                                           * self.dt_agent)
                       for k, s in enumerate(specs)]
        # the protocol, in time order: (step, spec, state)
        dt = sc.run.dt
        steps = sorted((math.ceil(p.at / dt - 1e-9), k, s.states.index(p.state))
                       for k, s in enumerate(specs) for p in s.protocol)
        self.protocol = steps
        self.next_protocol = 0
        self.trigger = Trigger(every=sc.run.agent_interval,
                               at_ps=tuple(st * dt for st, _, _ in steps))
        self.key = stream_key(sc.run.seed, STREAM_GATING)
        self.uniforms = np.zeros((len(self.gated), 2))
        self.sim = sim
        self._apply_all()

    @property
    def open(self) -> np.ndarray:
        """(G,) bool: whether each gated channel conducts now."""
        return np.array([self.conducting[k][s] for k, s in
                         zip(self.gated.spec_of, self.current)], dtype=bool)

    def _apply(self, g: int):
        c = self.gated.channel[g]
        k = self.gated.spec_of[g]
        self.boltzmann[c] = self.open_factors[c] if self.conducting[k][self.current[g]] else 0.0

    def _apply_all(self):
        for g in range(len(self.gated)):
            self._apply(g)

    def _set(self, g: int, new: int, cause: int, step: int) -> None:
        old = int(self.current[g])
        if new == old:
            return
        self.current[g] = new
        self._apply(g)
        self.sim.record_event("gate", (step, self.sim.time, int(self.gated.channel[g]), old,
                                       new, cause))

    def update(self, sim, step: int) -> bool:
        while self.next_protocol < len(self.protocol) and \
                self.protocol[self.next_protocol][0] <= step:
            _, k, new = self.protocol[self.next_protocol]
            for g in np.nonzero(self.gated.spec_of == k)[0]:
                self._set(int(g), new, CAUSE_PROTOCOL, step)
            self.next_protocol += 1
        if step % sim.scenario.run.agent_interval == 0 and len(self.gated):
            self._chain_step(step)
        return False  # the forces do not depend on the gates, only where ions may go

    def _chain_step(self, step: int):
        """One step of every channel's chain over Delta t (vectorised per gating entry)."""
        specs = self.gated.specs
        v = self.sim.membrane_voltage() if any(self.voltage) else 0.0
        fill_agent_uniforms(self.key[0], self.key[1], step, self.uniforms)
        for k, spec in enumerate(specs):
            if not spec.rates:
                continue
            P = self._fixed[k] if self._fixed[k] is not None else \
                expm(rate_matrix(spec, v, self.kT) * self.dt_agent)
            members = np.nonzero(self.gated.spec_of == k)[0]
            cumulative = np.cumsum(P, axis=1)[self.current[members]]
            draw = self.uniforms[members, 0] * cumulative[:, -1]
            new = np.minimum((draw[:, None] >= cumulative).sum(axis=1), P.shape[0] - 1)
            for g in members[new != self.current[members]]:
                self._set(int(g), int(new[np.searchsorted(members, g)]), CAUSE_CHAIN, step)

    def state(self) -> dict:
        return {"gate_state": self.current.copy(),
                "gate_next_protocol": np.int64(self.next_protocol)}

    def restore(self, state: dict) -> None:
        if "gate_state" in state:
            self.current[:] = state["gate_state"]
            self.next_protocol = int(state["gate_next_protocol"])
            self._apply_all()
