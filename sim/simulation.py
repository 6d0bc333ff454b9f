"""A simulation: the state of the ions, the forces on them and the Brownian step, composed.

- :class:`SimulationState`: what a checkpoint holds and what the step changes (the ions,
  the noise R_step of Leimkuhler-Matthews, the counters of refused moves);
- :class:`ForceField`: the force terms (WCA and real-space Ewald over a Verlet list,
  reciprocal Ewald, the membrane's dielectric correction, any extra terms); forces in
  kJ/(mol nm), energies in kJ/mol;
- the Brownian step (sim.integrate.bd_step) over the geometry record;
- :class:`Simulation`, which owns the three and advances them with the step loop
  (sim.loop.run_steps), in the order written there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .compile_ahead import StepCompiler
from .forces.short_range import ShortRangeForces
from .forces.term import ForceTerm  # noqa: F401 (the protocol of extra_forces)
from .geometry import Geometry
from .integrate import STATUS_BLOWUP, STATUS_NAN, IonArrays, Mobility, Noise, bd_step
from .loop import Snapshot, run_steps
from .observe import bulk_windows, count_by_compartment
from .rng import STREAM_NOISE, fill_gaussians, stream_key
from .scenario import Scenario
from .system import Ions, check_counts, ion_counts, mobility_arrays, place_ions

#: The kinds of event the agents between steps record (sim.io writes each as a table):
#: "gate" (step, time ps, channel, from state, to state, cause), "pump" (step, time ps,
#: pump, transition, atp, dG kJ/mol, V mV), "pump_transfer" (step, time ps, ion, species,
#: pump, from, to).
AGENT_EVENTS = ("gate", "pump", "pump_transfer")
# A deterministic displacement above this in one step means a force blew up (nm).
MAX_DRIFT_PER_STEP = 0.5
# Rounds of undoing moves into overlaps in one step (each round can uncover another).
MAX_OVERLAP_ROUNDS = 4


class SimulationError(RuntimeError):
    """The run became unphysical (NaN, blown-up force, ion through a wall)."""

    def __init__(self, step: int, particle: int, cause: str):
        self.step, self.particle, self.cause = step, particle, cause
        super().__init__(f"step {step}, ion {particle}: {cause}")


class ForceField:
    """The force terms of a scenario, and the pair term whose overlap flags the step uses.

    forces (N, 3) kJ/(mol nm) and energies (kJ/mol by name) hold the last evaluation."""

    def __init__(self, scenario: Scenario, species, charges, tuning_positions,
                 extra_terms=()):
        from .electrostatics import PairTerm, build_electrostatic_terms, potential_observable
        self.ewald_parameters = None
        self.potential = None  # pos, windows -> phi_bar per window, kJ/(mol e)
        diam = [s.diameter for s in scenario.species]
        if scenario.electrostatics.method == "off":
            terms = [] if scenario.wca_epsilon == 0.0 else [  # an ideal gas: no pair forces
                PairTerm(ShortRangeForces(scenario.box, species, charges, diam,
                                          scenario.wca_epsilon))]
        else:
            terms, self.ewald_parameters = build_electrostatic_terms(
                scenario, species, charges, diam, positions=tuning_positions())
            if len(scenario.membranes) >= 2:
                self.potential = potential_observable(scenario, charges)
        self.terms = terms + list(extra_terms)
        self.pair = next((t.pair_forces for t in self.terms if t.pair_forces is not None), None)
        self.forces = np.zeros((len(species), 3))
        self.energies: dict[str, float] = {}
        self._compiled_elsewhere = None  # (ids of terms, the wait for them) or None

    def apart(self) -> list:
        """The terms sim.compile_ahead may compile in its second process."""
        return [t for t in self.terms if t.compiles_apart]

    def wait_before(self, terms, wait) -> None:
        """Call wait() before the next evaluation of any of these terms (their kernels are
        being compiled by another process)."""
        self._compiled_elsewhere = ({id(t) for t in terms}, wait) if terms else None

    @property
    def energy_names(self) -> list[str]:
        """The names of the energies `evaluate` returns, in its order."""
        return [name for term in self.terms for name in term.energy_names]

    def evaluate(self, pos) -> dict:
        self.forces[:] = 0.0
        energies = {}
        for term in self.terms:
            if self._compiled_elsewhere is not None and id(term) in self._compiled_elsewhere[0]:
                self._compiled_elsewhere[1]()
                self._compiled_elsewhere = None
            energies.update(term.compute(pos, self.forces))
        self.energies = energies
        return energies

    @property
    def overlapping(self) -> np.ndarray | None:
        """Ions closer than 0.8 sigma to another in the last evaluation (None: no pairs)."""
        if self.pair is None or not self.pair.n_overlapping:
            return None
        return np.nonzero(self.pair.overlapping)[0]


@dataclass
class SimulationState:
    """What the step changes and a checkpoint holds: the step, the ions, R_step of the
    noise, and the moves refused at walls and undone at overlaps."""
    step: int
    ions: Ions
    noise_prev: np.ndarray
    rejected_moves: int = 0
    rejected_overlaps: int = 0

    def arrays(self) -> dict:
        return {"step": np.int64(self.step), "pos": self.ions.pos,
                "species": self.ions.species, "comp": self.ions.comp,
                "last_channel": self.ions.last_channel,
                "rejected_moves": np.int64(self.rejected_moves),
                "rejected_overlaps": np.int64(self.rejected_overlaps),
                # R_step is a pure function of (seed, step, ion), but regenerating it in
                # another compiled kernel may round differently; store it to resume exactly.
                "noise_prev": self.noise_prev}

    def restore(self, state: dict) -> None:
        if not np.array_equal(state["species"], self.ions.species):
            raise ValueError("checkpoint does not belong to this scenario (species differ)")
        self.step = int(state["step"])
        self.ions.pos[:] = state["pos"]
        self.ions.comp[:] = state["comp"]
        self.ions.last_channel[:] = state["last_channel"]
        self.rejected_moves = int(state["rejected_moves"])
        self.rejected_overlaps = int(state.get("rejected_overlaps", 0))
        self.noise_prev[:] = state["noise_prev"]


class Simulation:
    """A scenario's ions, forces and Brownian step. `advance(n, operations)` runs the loop
    (sim.loop); the attributes below are the simulation's public face for scripts and tests.

    scenario, geometry; ions (positions nm, species, compartments); step, time (ps);
    forces (N, 3) kJ/(mol nm) and energies (kJ/mol) at the current positions once computed;
    crossings: every crossing since construction, tuples (step, time ps, ion, species,
    channel, from, to); rejected_moves, rejected_overlaps.
    """

    def __init__(self, scenario: Scenario, extra_forces=(), ions: Ions | None = None):
        self.scenario = scenario
        self.geometry = Geometry.from_scenario(scenario)
        self._geometry_arrays = self.geometry.arrays
        placed = ions is None
        if ions is None:
            counts = ion_counts(scenario, self.geometry)
            check_counts(scenario, self.geometry, counts)
            ions = place_ions(scenario, self.geometry, counts)
        self.valences = np.array([s.valence for s in scenario.species], dtype=np.int64)
        self.charges = ions.charges(self.valences)
        self.initial_totals = np.bincount(ions.species, minlength=len(scenario.species))
        self.state = SimulationState(0, ions, np.zeros((ions.n, 3)))
        self.key = stream_key(scenario.run.seed, STREAM_NOISE)
        self._mobility = Mobility(*mobility_arrays(scenario, ions.species))
        self._noise = Noise(self.state.noise_prev, self.key[0], self.key[1],
                            scenario.run.integrator == "leimkuhler-matthews")
        self._ion_arrays = IonArrays(ions.pos, ions.species, ions.comp, ions.last_channel)
        self.force_field = ForceField(
            scenario, ions.species, self.charges,
            (lambda: ions.pos) if placed else self._initial_placement, extra_forces)
        self.windows = bulk_windows(scenario)
        self.crossings: list[tuple] = []
        self._step_events: list[tuple] = []  # crossings of the last step
        # the agents' events (sim.gating, sim.pumps) by kind: all of them, and this step's
        self.events: dict[str, list[tuple]] = {kind: [] for kind in AGENT_EVENTS}
        self._agent_events: dict[str, list[tuple]] = {kind: [] for kind in AGENT_EVENTS}
        self._expected_counts = self.compartment_counts()
        self.event_from = -np.ones(ions.n, dtype=np.int64)
        self.status = np.zeros(ions.n, dtype=np.int64)
        n = ions.n
        self._prev_pos = np.zeros((n, 3))
        self._prev_comp = np.zeros(n, dtype=np.int64)
        self._prev_last_channel = np.zeros(n, dtype=np.int64)
        self._has_prev = False  # whether _prev_* hold the state before the last step
        self._reset_noise()
        # on an empty Numba cache, the step compiles in a second process while this one
        # compiles the forces (sim.compile_ahead); None when it would not help
        apart = self.force_field.apart()
        self._step_compiler = StepCompiler.start(self._step_args(), scenario, apart)
        if self._step_compiler is not None:
            self.force_field.wait_before(apart, self._join_step_compiler)

    def _initial_placement(self):
        """The scenario's own placement (the Ewald tuner costs the real space on it, so
        that ions passed in, or a resumed run, tune the same)."""
        counts = ion_counts(self.scenario, self.geometry)
        return place_ions(self.scenario, self.geometry, counts).pos

    def _reset_noise(self):
        """R_step for every ion (needed by Leimkuhler-Matthews); regenerated, not stored."""
        fill_gaussians(self.key[0], self.key[1], self.step, self.state.noise_prev)

    # -- the public face ---------------------------------------------------------------
    ions = property(lambda self: self.state.ions)
    forces = property(lambda self: self.force_field.forces)
    energies = property(lambda self: self.force_field.energies)
    terms = property(lambda self: self.force_field.terms)
    ewald_parameters = property(lambda self: self.force_field.ewald_parameters)
    potential_observable = property(lambda self: self.force_field.potential)
    _pair = property(lambda self: self.force_field.pair)

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def time(self) -> float:
        """Simulated time in ps."""
        return self.state.step * self.scenario.run.dt

    @property
    def rejected_moves(self) -> int:
        return self.state.rejected_moves

    @property
    def rejected_overlaps(self) -> int:
        return self.state.rejected_overlaps

    def snapshot(self) -> Snapshot:
        ions = self.ions
        # No copies: each force evaluation makes a new energies dict and each step a new
        # events list, so the snapshot's stay as they were for the writers of this step.
        return Snapshot(self.step, self.time, ions.pos, ions.species, ions.comp,
                        self.energies, {"crossing": self._step_events, **self._agent_events},
                        self.force_field.potential, self.windows)

    # -- checkpoints -------------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        return self.state.arrays()

    def restore(self, state: dict):
        self.state.restore(state)
        self._has_prev = False
        self._step_events = []
        self._agent_events = {kind: [] for kind in AGENT_EVENTS}
        self._expected_counts = self.compartment_counts()

    # -- the agents' side (sim.gating, sim.pumps) ---------------------------------------
    def record_event(self, kind: str, row: tuple) -> None:
        """An agent's event of this step (one of AGENT_EVENTS)."""
        self.events[kind].append(row)
        self._agent_events[kind].append(row)

    def record_transfer(self, i: int, pump: int, to: int) -> None:
        """Pump `pump` carried ion i (already moved) into compartment `to`."""
        ions = self.ions
        frm = int(ions.comp[i])
        ions.comp[i] = to
        self._expected_counts[frm, ions.species[i]] -= 1
        self._expected_counts[to, ions.species[i]] += 1
        self.record_event("pump_transfer", (self.step, self.time, int(i),
                                            int(ions.species[i]), pump, frm, int(to)))

    def membrane_voltage(self) -> float:
        """phi(compartment 0) - phi(compartment 1) now, kJ/(mol e), from the same bulk
        windows as the V_m observable; 0 without a potential (no electrostatics)."""
        if self.force_field.potential is None:
            return 0.0
        phi = self.force_field.potential(self.ions.pos, self.windows)
        return float(phi[0] - phi[1])

    def compartment_counts(self) -> np.ndarray:
        """(K, S) ions of each species in each compartment (sim.observe's count)."""
        k, s = len(self.scenario.compartments), len(self.scenario.species)
        out = np.zeros((k, s), dtype=np.int64)
        count_by_compartment(self.ions.comp, self.ions.species, k, s, out)
        return out

    # -- dynamics ----------------------------------------------------------------------
    def compute_forces(self, undo_overlaps: bool = True) -> dict:
        """Forces and energies at the current positions. A move of the last step that put
        an ion into an overlap (closer than 0.8 sigma to another, see
        sim.forces.short_range) is undone for the ions involved and the forces are
        computed again: the Boltzmann weight there is below 1e-19, so only a rare noise
        step of four standard deviations reaches it, and the force would throw the ion
        half a nanometre. Undoing it is a Metropolis rejection of a move of essentially
        zero acceptance; `rejected_overlaps` counts them (the run's summary reports it)."""
        ff = self.force_field
        energies = ff.evaluate(self.ions.pos)
        self._join_step_compiler()
        for _ in range(MAX_OVERLAP_ROUNDS if undo_overlaps else 0):
            moved = ff.overlapping
            if moved is None or not self._has_prev:
                break
            self._undo_moves(moved)
            energies = ff.evaluate(self.ions.pos)
        return energies

    def _undo_moves(self, moved):
        ions = self.ions
        ions.pos[moved] = self._prev_pos[moved]
        ions.comp[moved] = self._prev_comp[moved]
        ions.last_channel[moved] = self._prev_last_channel[moved]
        undone = set(moved.tolist())
        # a crossing recorded in an undone move did not happen
        kept = [c for c in self._step_events if c[2] not in undone]
        if len(kept) != len(self._step_events):
            del self.crossings[len(self.crossings) - len(self._step_events):]
            self.crossings.extend(kept)
            self._step_events = kept
        self.state.rejected_overlaps += len(moved)

    def brownian_step(self):
        """x_n -> x_{n+1} (sim.integrate.bd_step); the crossings become the next step's
        events. Raises SimulationError for a NaN, a blown-up force or a teleport."""
        ions = self.ions
        np.copyto(self._prev_pos, ions.pos)
        np.copyto(self._prev_comp, ions.comp)
        np.copyto(self._prev_last_channel, ions.last_channel)
        self._has_prev = True
        for c in self._step_events:  # the last step's crossings are final now
            self._expected_counts[c[5], c[3]] -= 1
            self._expected_counts[c[6], c[3]] += 1
        self._agent_events = {kind: [] for kind in AGENT_EVENTS}  # new lists (snapshots)
        self._join_step_compiler()
        n_events, n_errors, n_rejected = bd_step(*self._step_args())
        self.state.step += 1
        self.state.rejected_moves += n_rejected
        if n_errors:
            self._raise_status()
        self._step_events = []
        if n_events:
            t = self.time
            for i in np.nonzero(self.event_from >= 0)[0]:
                self._step_events.append((self.step, t, int(i), int(ions.species[i]),
                                          int(ions.last_channel[i]), int(self.event_from[i]),
                                          int(ions.comp[i])))
            self.crossings.extend(self._step_events)

    def _step_args(self) -> tuple:
        return (self._ion_arrays, self.forces, self._mobility, self._noise,
                self._geometry_arrays, self.step, MAX_DRIFT_PER_STEP, self.event_from,
                self.status)

    def _join_step_compiler(self):
        """Wait for the step's compilation in the second process, if one is running: from
        here on this process may compile functions of its set (sim.compile_ahead)."""
        if self._step_compiler is not None:
            self._step_compiler.wait()
            self._step_compiler = None

    def _raise_status(self):
        i = int(np.nonzero(self.status)[0][0])
        bits = int(self.status[i])
        name = self.scenario.species[self.ions.species[i]].name
        if bits & STATUS_NAN:
            cause = f"force on {name} ion is NaN"
        elif bits & STATUS_BLOWUP:
            f = np.linalg.norm(self.forces[i])
            cause = (f"force on {name} ion blew up ({f:.3g} kJ/(mol nm) would move it more "
                     f"than {MAX_DRIFT_PER_STEP} nm in one step): an overlap or too large a "
                     f"time step (dt = {self.scenario.run.dt:g} ps)")
        else:
            cause = f"{name} ion changed compartment without passing through a channel"
        raise SimulationError(self.step - 1, i, cause)

    def check_invariants(self):
        """Ion numbers per species are conserved, the ions in each compartment changed only
        by crossings and pump transfers, and every ion is in an allowed place."""
        self._join_step_compiler()
        pos = self.ions.pos
        if not np.all(np.isfinite(pos)):
            i = int(np.nonzero(~np.isfinite(pos).all(axis=1))[0][0])
            raise SimulationError(self.step, i, "position is not finite")
        totals = np.bincount(self.ions.species, minlength=len(self.initial_totals))
        if not np.array_equal(totals, self.initial_totals):
            raise SimulationError(self.step, -1, f"ion numbers changed: {totals} != "
                                                 f"{self.initial_totals}")
        expected = self._expected_counts.copy()
        for c in self._step_events:  # this step's crossings (final once the forces are)
            expected[c[5], c[3]] -= 1
            expected[c[6], c[3]] += 1
        now = self.compartment_counts()
        if not np.array_equal(now, expected):
            k, s = np.argwhere(now != expected)[0]
            raise SimulationError(self.step, -1, (
                f"{self.scenario.species[s].name} ions in compartment "
                f"{self.scenario.compartments[k].name!r}: {now[k, s]}, but the crossings and "
                f"pump cycles since the start account for {expected[k, s]}"))
        ok = self.geometry.allowed(pos, self.ions.species)
        if not ok.all():
            i = int(np.nonzero(~ok)[0][0])
            raise SimulationError(self.step, i, f"ion is inside a membrane wall at "
                                                f"z = {pos[i, 2]:.4f} nm")

    def advance(self, n_steps: int, operations=(), guard_every: int | None = None,
                resumed: bool = False):
        """Run n_steps steps of the loop (sim.loop.run_steps) with these operations."""
        run_steps(self, n_steps, operations, guard_every=guard_every, resumed=resumed)
