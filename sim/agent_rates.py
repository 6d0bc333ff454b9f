"""The rates of the agents between steps, apart from the updaters that use them: the gate's
rate matrix (sim.gating) and the pump's transitions, free energies and rates (sim.pumps),
whose module docstrings state the models. Analysis of finished runs imports these (never
the loop's updaters).
"""

from __future__ import annotations

import math

import numpy as np

CAUSE_CHAIN = 0
CAUSE_PROTOCOL = 1


class GatedChannels:
    """The gated channels of a scenario, in the geometry's channel order: index (G,) of
    each in the geometry's channels, its Gating, and the spec index it shares."""

    def __init__(self, scenario):
        self.channel, self.specs, self.spec_of = [], [], []
        c = 0
        for m in scenario.membranes:
            for ch in m.channels:
                if ch.gating is not None:
                    if ch.gating not in self.specs:
                        self.specs.append(ch.gating)
                    self.channel.append(c)
                    self.spec_of.append(self.specs.index(ch.gating))
                c += 1
        self.channel = np.array(self.channel, dtype=np.int64)
        self.spec_of = np.array(self.spec_of, dtype=np.int64)

    def __len__(self):
        return len(self.channel)


def rate_matrix(gating, v: float, kT: float) -> np.ndarray:
    """Q (S, S) in 1/ps at voltage v kJ/(mol e): Q[a, b] = k_ab(v), rows summing to 0."""
    q = gating.charges()
    n = len(gating.states)
    Q = np.zeros((n, n))
    for a, b, k in gating.transitions():
        Q[a, b] = k * math.exp((q[b] - q[a]) * (v - gating.v_half) / (2.0 * kT))
    Q[np.diag_indices(n)] = -Q.sum(axis=1)
    return Q


def voltage_dependent(gating) -> bool:
    return any(q != 0.0 for _, q in gating.gating_charge)


# transitions: (name, half-cycle, direction)
OUT_FORWARD, IN_FORWARD, OUT_BACKWARD, IN_BACKWARD = 0, 1, 2, 3
TRANSITIONS = ("out forward", "in forward", "out backward", "in backward")
E1, E2 = 0, 1
#: the transitions out of each state, and the state each leads to
FROM_STATE = {E1: (OUT_FORWARD, IN_BACKWARD), E2: (IN_FORWARD, OUT_BACKWARD)}
MAX_TRIES = 50  # placement draws per released ion
NONE = -1
_MAX_EXP = 700.0


class PumpSet:
    """The pumps of a scenario as arrays: x, y (P,) nm, membrane (P,), the face (side 0/1)
    toward the inside and toward the outside, and each pump's record."""

    def __init__(self, scenario):
        self.records, x, y, mem, in_side = [], [], [], [], []
        names = [c.name for c in scenario.compartments]
        for j, m in enumerate(scenario.membranes):
            for p in m.pumps:
                k_in = names.index(p.inside)
                side = next(s for s in (0, 1) if scenario.face_compartment(j, s) == k_in)
                self.records.append(p)
                x.append(p.x)
                y.append(p.y)
                mem.append(j)
                in_side.append(side)
        self.x, self.y = np.array(x), np.array(y)
        self.membrane = np.array(mem, dtype=np.int64)
        self.in_side = np.array(in_side, dtype=np.int64)
        bounds = scenario.membrane_bounds()
        self.face_z = np.array([[bounds[j][0], bounds[j][1]] for j in mem]).reshape(-1, 2)
        self.inside = np.array([scenario.face_compartment(j, s) for j, s in
                                zip(mem, in_side)], dtype=np.int64)
        self.outside = np.array([scenario.face_compartment(j, 1 - s) for j, s in
                                 zip(mem, in_side)], dtype=np.int64)

    def __len__(self):
        return len(self.records)


def saturation(conc: dict, half: dict, hill: dict, species) -> float:
    """prod_s c_s^h / (c_s^h + K_s^h) over `species` (concentrations and K in one unit)."""
    theta = 1.0
    for s in species:
        h = hill.get(s, 1.0)
        c = max(conc[s], 0.0)
        theta *= c ** h / (c ** h + half[s] ** h) if c > 0 else 0.0
    return theta


def net_charge(pump, valence: dict) -> int:
    """Charge (e) a forward cycle moves from inside to outside."""
    return (sum(n * valence[s] for s, n in pump.carries_out)
            - sum(n * valence[s] for s, n in pump.carries_in))


def _carried(pump, transition):
    return pump.carries_out if transition in (OUT_FORWARD, OUT_BACKWARD) else pump.carries_in


def _outward(transition) -> bool:
    return transition in (OUT_FORWARD, IN_BACKWARD)


def transition_free_energy(pump, transition, n_in: dict, n_out: dict, vol_in: dict,
                           vol_out: dict, v: float, kT: float, valence: dict) -> float:
    """dG kJ/mol of executing `transition` from counts n_in, n_out (ions; volumes nm^3 per
    species) at V = v kJ/(mol e): the exact ideal free energy of moving the ions one by one,
    sum_j kT ln[((N_b + 1 + j) / V_b) / ((N_a - j) / V_a)], plus their charge times
    phi_b - phi_a, plus dG_ATP for the out half-cycle forward (minus it backward). +inf where
    the source has fewer ions than the transition carries. Antisymmetric: the reverse of a
    transition, from the state it leads to, has exactly -dG."""
    outward = _outward(transition)
    src, dst = (n_in, n_out) if outward else (n_out, n_in)
    v_src, v_dst = (vol_in, vol_out) if outward else (vol_out, vol_in)
    dphi = -v if outward else v  # phi_b - phi_a, V = phi_in - phi_out
    g = {OUT_FORWARD: pump.atp_free_energy, OUT_BACKWARD: -pump.atp_free_energy}.get(
        transition, 0.0)
    for s, n in _carried(pump, transition):
        if src[s] < n:
            return math.inf
        for j in range(n):
            g += kT * math.log(((dst[s] + 1 + j) / v_dst[s]) / ((src[s] - j) / v_src[s]))
        g += n * valence[s] * dphi
    return g


def _moved(transition, pump, n_in: dict, n_out: dict) -> tuple[dict, dict]:
    """The counts after `transition` (as dicts, the inputs left alone)."""
    a, b = dict(n_in), dict(n_out)
    sign = 1 if _outward(transition) else -1
    for s, n in _carried(pump, transition):
        a[s] -= sign * n
        b[s] += sign * n
    return a, b


REVERSE = {OUT_FORWARD: OUT_BACKWARD, OUT_BACKWARD: OUT_FORWARD, IN_FORWARD: IN_BACKWARD,
           IN_BACKWARD: IN_FORWARD}


def transition_jumps(pump, valence: dict, unit_jump: float) -> np.ndarray:
    """(4,) the change of V = phi(in) - phi(out) (kJ/(mol e)) that each transition causes:
    its carried charge times unit_jump, the change of V per unit charge moved from the
    inside to the outside (negative; 0 without electrostatics), with the sign of the
    direction."""
    out = np.zeros(4)
    for t in (OUT_FORWARD, IN_FORWARD, OUT_BACKWARD, IN_BACKWARD):
        q = sum(n * valence[s] for s, n in _carried(pump, t))
        out[t] = (q if _outward(t) else -q) * unit_jump
    return out


def rates(pump, n_in: dict, n_out: dict, vol_in: dict, vol_out: dict, v: float, kT: float,
          valence: dict, jumps=(0.0, 0.0, 0.0, 0.0)) -> np.ndarray:
    """(4,) rates 1/ps of the transitions (indexed as TRANSITIONS) in the simulation's
    time, acceleration included, from the counts now (each species' ions and accessible
    volume in the inside and outside compartments), V = v kJ/(mol e) now and the change of
    V each transition causes (`jumps`, :func:`transition_jumps`).

    A forward rate is the module docstring's prefactor at the counts and voltage now; a
    backward one is the forward rate of the state it leads to (its counts, its voltage v +
    jump) times exp(dG/kT) of that forward transition. dG is
    :func:`transition_free_energy` at the voltage halfway through the move, v + jump/2:
    the work of moving a charge across a capacitor whose voltage it changes linearly (with
    the voltage before the move, a pair of K+ ions on a 225 nm^2 patch would be off by
    3 kT). So for every pair of states X, X' joined by a transition,
    k(X -> X') / k(X' -> X) = exp(-dG(X -> X') / kT) exactly."""
    half, hill = dict(pump.half_saturation), dict(pump.hill)
    k_half = 2.0 * pump.turnover * pump.acceleration
    q = net_charge(pump, valence)

    def forward(t, a, b, volt):  # a forward transition's rate at counts a, b and V = volt
        if t == OUT_FORWARD:
            conc = {s: a[s] / vol_in[s] for s, _ in pump.carries_out}
            boost = math.exp(max(min(pump.charge_fraction * q * volt / kT, _MAX_EXP),
                                 -_MAX_EXP))
            return k_half * saturation(conc, half, hill, [s for s, _ in pump.carries_out]) \
                * boost
        conc = {s: b[s] / vol_out[s] for s, _ in pump.carries_in}
        return k_half * saturation(conc, half, hill, [s for s, _ in pump.carries_in])

    out = np.zeros(4)
    for t in (OUT_FORWARD, IN_FORWARD):
        if transition_free_energy(pump, t, n_in, n_out, vol_in, vol_out, v + jumps[t] / 2,
                                  kT, valence) < math.inf:
            out[t] = forward(t, n_in, n_out, v)
    for t in (OUT_BACKWARD, IN_BACKWARD):
        g_back = transition_free_energy(pump, t, n_in, n_out, vol_in, vol_out,
                                        v + jumps[t] / 2, kT, valence)
        if g_back == math.inf:
            continue
        a, b = _moved(t, pump, n_in, n_out)  # the state the backward transition leads to
        out[t] = forward(REVERSE[t], a, b, v + jumps[t]) * math.exp(min(-g_back / kT,
                                                                         _MAX_EXP))
    return out
