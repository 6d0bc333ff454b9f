"""Ion pumps: agents that carry ions across a membrane against their gradients, between steps.

A pump (sim.agents_input.Pump; the defaults are the Na+/K+-ATPase's) is a two-state
machine, E1 (binding sites facing the inside) and E2 (facing the outside), with two
half-cycles, each reversible:

- out (E1 -> E2): binds `carries_out` (3 Na+) in its inside capture region, hydrolyses one
  ATP, releases them in its outside region; backward (E2 -> E1) carries them back and makes
  one ATP;
- in (E2 -> E1): binds `carries_in` (2 K+) outside and releases them inside; backward
  (E1 -> E2) the reverse.

Free energies (kJ/mol) of the forward half-cycles, for concentrations c = N / V (ions per
accessible volume, sim.geometry) and V = phi(in) - phi(out) halfway through the move (the
voltage now plus half the change the move causes, from the 1-D potential of the V_m
observable: the work of charging a capacitor):

    dG_out = dG_ATP + sum_out n_s [kT ln(c_s,o / c_s,i) - z_s e V]
    dG_in  =          sum_in  n_s [kT ln(c_s,i / c_s,o) + z_s e V]

computed exactly for the few ions of a simulation box: the logarithms are those of moving
the ions one by one, kT ln[((N_b + 1 + j) / V_b) / ((N_a - j) / V_a)]
(:func:`transition_free_energy`), so that the reverse of a transition has exactly -dG.

Rates (1/ps), A the acceleration, k_half = 2 x turnover (so that at saturation the cycle
turns over `turnover` times per unit time, times A), theta the binding saturation of
Lindblad et al. (1996), theta_out = prod_out c_i^h / (c_i^h + K^h) and theta_in the same of
the outside concentrations, q = sum_out n z - sum_in n z the net charge moved out per cycle
(+1 e), delta the charge fraction:

    out forward  a_out = A k_half theta_out exp(delta q e V / kT)
    in forward   a_in  = A k_half theta_in
    backward     k(X' -> X) = a(X) exp(dG(X -> X') / kT), a(X) the forward rate of the
                 state X the backward transition leads to

so that the product of forward over backward rates around a cycle is exp(-(dG_out +
dG_in) / kT): every cycle obeys detailed balance with ATP hydrolysis, and the pump stalls
exactly where the work of a cycle, W = dG_out + dG_in - dG_ATP, equals -dG_ATP. (A
prefactor common to a half-cycle's two directions, such as theta, leaves their ratio
alone.) Without electrostatics (V = 0) the counts' stationary distribution is then exactly
the ideal gas's, weighted by exp(-m dG_ATP / kT) for m net cycles (tests/test_pumps.py).

Every `agent_interval` steps (Delta t) a pump that is not waiting draws, from its own
counter-based stream (sim.rng.STREAM_PUMPS; counter: pump, step), whether one of the two
transitions out of its state fires (probability 1 - exp(-(k1 + k2) Delta t)) and which
(k1 : k2). A fired transition waits until its ions are there: the n ions of each species
nearest the binding site in the source capture region (a cylinder of `capture_radius` around
the pump's axis, `capture_depth` deep from the face's contact plane) are taken, and each is
placed uniformly in the destination region where it overlaps no ion (centres at least the
mean of two diameters apart; up to MAX_TRIES draws each, else the transition waits too).
The direction is chosen when the transition fires, so waiting changes how fast a pump runs,
never where it stalls (for a two-state cycle, net flux is zero exactly when
a_out a_in = b_out b_in).

Events (sim.io): each executed half-cycle in /ionsim/pump_events (step, time ps, pump,
transition, atp: +1 used, -1 made, 0; dG kJ/mol of the transition as executed, V mV), each
carried ion in /ionsim/pump_transfers (step, time, particle, species, pump, from, to).
"""

from __future__ import annotations

import math

import numpy as np

from . import units
from .agent_rates import (E1, E2, FROM_STATE, IN_BACKWARD, IN_FORWARD,  # noqa: F401 (API)
                          MAX_TRIES, NONE, OUT_BACKWARD, OUT_FORWARD, TRANSITIONS, PumpSet,
                          net_charge, rates, saturation, transition_free_energy,
                          transition_jumps)
from .loop import Trigger, Updater
from .rng import STREAM_PUMPS, fill_agent_uniforms, stream_key


class Pumps(Updater):
    """The loop's updater of the pumps (sim.loop).

    `sim` needs: scenario, geometry, ions, step, time, membrane_voltage() kJ/(mol e),
    record_event(kind, row) and record_transfer(ion, pump, to)."""

    def __init__(self, sim):
        sc = sim.scenario
        self.sim = sim
        self.pumps = PumpSet(sc)
        self.kT = sc.kT
        self.dt_agent = sc.run.agent_interval * sc.run.dt
        self.trigger = Trigger(every=sc.run.agent_interval)
        self.key = stream_key(sc.run.seed, STREAM_PUMPS)
        n = len(self.pumps)
        self.current = np.full(n, E1, dtype=np.int64)
        self.pending = np.full(n, NONE, dtype=np.int64)
        self.names = [s.name for s in sc.species]
        self.valence = {s.name: s.valence for s in sc.species}
        self.radius = np.array([s.radius for s in sc.species])
        self.diameter = 2.0 * self.radius
        self.box = np.array(sc.box)
        g = sim.geometry
        self.volume = np.array([[g.accessible_volume(k, s.radius) for s in sc.species]
                                for k in range(len(sc.compartments))])
        # uniforms per pump and agent step: 2 for the chain, 3 per placement draw
        most = max((sum(n for _, n in p.carries_out + p.carries_in) for p in self.pumps.records),
                   default=0)
        self.uniforms = np.zeros((n, 2 + 3 * MAX_TRIES * most))
        # the change of V each transition causes (the rates' midpoint voltage)
        self.jumps = np.array([transition_jumps(rec, self.valence, self._unit_jump(p))
                               for p, rec in enumerate(self.pumps.records)]).reshape(n, 4)

    def _unit_jump(self, p: int) -> float:
        """The change of V = phi(in) - phi(out), kJ/(mol e), when a unit charge moves from
        the middle of pump p's inside capture region to the middle of its outside one,
        from the same 1-D potential as the V_m observable (linear in the charges: one
        test move of a charged ion gives it); 0 without a potential."""
        sim = self.sim
        measure = sim.force_field.potential
        charged = np.nonzero(sim.charges != 0)[0]
        if measure is None or not len(charged):
            return 0.0
        rec = self.pumps.records[p]
        i = int(charged[0])
        a = self.radius[sim.ions.species[i]]
        in_side = int(self.pumps.in_side[p])
        z = []
        for side in (in_side, 1 - in_side):
            z_face, normal = self._face(p, side)
            z.append((z_face + normal * (a + rec.capture_depth / 2)) % self.box[2])
        pos = sim.ions.pos.copy()
        v = []
        for zi in z:
            pos[i, 2] = zi
            phi = measure(pos, sim.windows)
            v.append(phi[0] - phi[1] if self.pumps.inside[p] == 0 else phi[1] - phi[0])
        return float((v[1] - v[0]) / sim.charges[i])

    # -- what the pump sees ---------------------------------------------------------------
    def _face(self, p: int, side: int) -> tuple[float, float]:
        """(z nm, normal +-1 into its water) of pump p's face on `side` (0 lower, 1 upper)."""
        return self.pumps.face_z[p, side], (-1.0 if side == 0 else 1.0)

    def _region(self, p: int, side: int, species: int):
        """Ions of `species` whose centres are in pump p's capture region on `side` (0
        lower, 1 upper face of its membrane), nearest the binding site first."""
        ions, rec = self.sim.ions, self.pumps.records[p]
        a = self.radius[species]
        z_face, normal = self._face(p, side)
        sel = np.nonzero(ions.species == species)[0]
        pos = ions.pos[sel]
        dx = minimum_image_array(pos[:, 0] - self.pumps.x[p], self.box[0])
        dy = minimum_image_array(pos[:, 1] - self.pumps.y[p], self.box[1])
        dz = normal * minimum_image_array(pos[:, 2] - z_face, self.box[2]) - a
        lateral2 = dx * dx + dy * dy
        inside = (lateral2 < rec.capture_radius ** 2) & (dz >= 0) & (dz < rec.capture_depth)
        order = np.argsort(lateral2[inside] + dz[inside] ** 2, kind="stable")
        return sel[inside][order]

    def _place(self, p: int, side: int, species: int, uniforms, others, others_d):
        """A position in pump p's region on `side` for an ion of `species` that overlaps no
        ion of `others` (positions (M, 3), diameters (M,)); None after MAX_TRIES draws."""
        rec = self.pumps.records[p]
        a = self.radius[species]
        z_face, normal = self._face(p, side)
        for t in range(MAX_TRIES):
            u0, u1, u2 = uniforms[3 * t: 3 * t + 3]
            r = rec.capture_radius * math.sqrt(u0)
            phi = 2.0 * math.pi * u1
            x = (self.pumps.x[p] + r * math.cos(phi)) % self.box[0]
            y = (self.pumps.y[p] + r * math.sin(phi)) % self.box[1]
            z = (z_face + normal * (a + u2 * rec.capture_depth)) % self.box[2]
            d = np.abs(others - np.array([x, y, z]))
            d = np.minimum(d, self.box - d)
            reach = 0.5 * (others_d + self.diameter[species])
            if not len(others) or np.all(np.einsum("ij,ij->i", d, d) >= reach * reach):
                return np.array([x, y, z])
        return None

    # -- the action -----------------------------------------------------------------------
    def update(self, sim, step: int) -> bool:
        if not len(self.pumps):
            return False
        fill_agent_uniforms(self.key[0], self.key[1], step, self.uniforms)
        conc = None
        v_run = None
        moved = False
        for p, rec in enumerate(self.pumps.records):
            if self.pending[p] == NONE:
                if conc is None:
                    conc, v_run = sim.compartment_counts(), sim.membrane_voltage()
                k = self._rates(p, conc, v_run)
                options = FROM_STATE[int(self.current[p])]
                k1, k2 = k[options[0]], k[options[1]]
                total = k1 + k2
                u_fire, u_which = self.uniforms[p, 0], self.uniforms[p, 1]
                if total <= 0 or u_fire >= -math.expm1(-total * self.dt_agent):
                    continue
                self.pending[p] = options[0] if u_which * total < k1 else options[1]
            if self._execute(p, int(self.pending[p]), step):
                moved = True
                conc = None  # the concentrations changed
        return moved

    def _voltage(self, p: int, v_run: float) -> float:
        """V = phi(inside) - phi(outside) of pump p, kJ/(mol e) (v_run = phi_0 - phi_1)."""
        return v_run if self.pumps.inside[p] == 0 else -v_run

    def _sides(self, p: int, counts):
        """(n_in, n_out, vol_in, vol_out) of pump p as dicts by species name."""
        k_in, k_out = self.pumps.inside[p], self.pumps.outside[p]
        return (dict(zip(self.names, counts[k_in])), dict(zip(self.names, counts[k_out])),
                dict(zip(self.names, self.volume[k_in])),
                dict(zip(self.names, self.volume[k_out])))

    def _rates(self, p: int, counts, v_run) -> np.ndarray:
        return rates(self.pumps.records[p], *self._sides(p, counts), self._voltage(p, v_run),
                     self.kT, self.valence, self.jumps[p])

    def _execute(self, p: int, transition: int, step: int) -> bool:
        """Carry the ions of a fired transition if they are there and fit; True if done."""
        rec = self.pumps.records[p]
        carried = rec.carries_out if transition in (OUT_FORWARD, OUT_BACKWARD) else \
            rec.carries_in
        outward = transition in (OUT_FORWARD, IN_BACKWARD)
        in_side = int(self.pumps.in_side[p])
        src_side, dst_side = (in_side, 1 - in_side) if outward else (1 - in_side, in_side)
        src_comp = self.pumps.inside[p] if outward else self.pumps.outside[p]
        dst_comp = self.pumps.outside[p] if outward else self.pumps.inside[p]
        ions = self.sim.ions
        chosen = []
        for name, n in carried:
            s = self.names.index(name)
            found = self._region(p, src_side, s)
            found = found[ions.comp[found] == src_comp]
            if len(found) < n:
                return False  # the transition waits for its ions
            chosen.extend((int(i), s) for i in found[:n])
        take = np.array([i for i, _ in chosen])
        keep = np.ones(ions.n, dtype=bool)
        keep[take] = False
        others = ions.pos[keep]
        others_d = self.diameter[ions.species[keep]]
        u = self.uniforms[p, 2:]
        placed = []
        per = 3 * MAX_TRIES
        for j, (i, s) in enumerate(chosen):
            where = self._place(p, dst_side, s, u[j * per:(j + 1) * per], others, others_d)
            if where is None:
                return False  # no room: wait
            placed.append(where)
            others = np.vstack([others, where])
            others_d = np.append(others_d, self.diameter[s])
        # the free energy of the transition as executed (before the ions move)
        v = self._voltage(p, self.sim.membrane_voltage())
        sides = self._sides(p, self.sim.compartment_counts())
        dG = transition_free_energy(rec, transition, *sides,
                                    v + self.jumps[p, transition] / 2, self.kT, self.valence)
        atp = {OUT_FORWARD: 1, OUT_BACKWARD: -1}.get(transition, 0)
        for (i, s), where in zip(chosen, placed):
            ions.pos[i] = where
            self.sim.record_transfer(i, p, int(dst_comp))
        self.current[p] = E2 if self.current[p] == E1 else E1
        self.pending[p] = NONE
        self.sim.record_event("pump", (step, self.sim.time, p, transition, atp, dG,
                                       v * units.MV_PER_KJ_MOL_E))
        return True

    # -- checkpoints ----------------------------------------------------------------------
    def state(self) -> dict:
        return {"pump_state": self.current.copy(), "pump_pending": self.pending.copy()}

    def restore(self, state: dict) -> None:
        if "pump_state" in state:
            self.current[:] = state["pump_state"]
            self.pending[:] = state["pump_pending"]


def minimum_image_array(d, length):
    """d wrapped into [-L/2, L/2) (arrays; sim.periodic.minimum_image is the scalar one)."""
    return d - length * np.floor(d / length + 0.5)


__all__ = ["Pumps", "PumpSet", "rates", "transition_free_energy", "net_charge", "saturation",
           "TRANSITIONS", "OUT_FORWARD", "IN_FORWARD", "OUT_BACKWARD", "IN_BACKWARD"]
