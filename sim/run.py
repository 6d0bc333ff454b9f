"""The simulation loop.

Order of one step n -> n+1 (what a reporter sees at step n is the state x_n):

1. forces at x_n: cell list -> WCA + real-space Ewald -> reciprocal Ewald -> membrane
   dielectric correction -> any extra (test-only) force terms;
2. reporters whose trigger fires at n: the guard, then the checkpoint (x_n, the
   accumulators of the observers and everything written before step n, fsync'd), then the
   observers of x_n (observables, frames, progress). A resumed run recomputes step n's
   forces and samples and continues bit for bit in every dataset;
3. the Brownian step x_n -> x_{n+1} with reflecting walls and crossing detection;
4. crossing events and per-ion error flags are collected; an error stops the run with the
   step, the ion and the cause, after flushing what was written.

After the last step the final state is observed once more.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import rundir, units
from .errors import RunStopped, UserError
from .forces.short_range import ShortRangeForces
from .geometry import Geometry
from .integrate import STATUS_BLOWUP, STATUS_NAN, bd_step
from .io import (CHECKPOINT, CROSSING_FIELDS, TRAJECTORY, H5MDWriter, WriteError,
                 load_checkpoint, read_scenario, save_checkpoint, write_scenario)
from .observe import (accumulate_profile, bulk_windows, count_by_compartment,
                      count_in_windows)
from .rng import STREAM_NOISE, fill_gaussians, stream_key
from .scenario import Scenario
from .system import Ions, check_counts, ion_counts, mobility_arrays, place_ions
from .threads import ThreadBalancer
from .topology import TOPOLOGY, write_topology

# A deterministic displacement above this in one step means a force blew up (nm).
MAX_DRIFT_PER_STEP = 0.5
# Rounds of undoing moves into overlaps in one step (each round can uncover another).
MAX_OVERLAP_ROUNDS = 4


class SimulationError(RuntimeError):
    """The run became unphysical (NaN, blown-up force, ion through a wall)."""

    def __init__(self, step: int, particle: int, cause: str):
        self.step, self.particle, self.cause = step, particle, cause
        super().__init__(f"step {step}, ion {particle}: {cause}")


class ForceTerm:
    """Protocol: `compute(pos, forces)` adds kJ/(mol nm) into forces and returns a dict of
    energies (kJ/mol) by name."""
    name = "force"

    def compute(self, pos, forces) -> dict:  # pragma: no cover - interface
        raise NotImplementedError


class _ShortRangeTerm(ForceTerm):
    name = "short_range"

    def __init__(self, impl: ShortRangeForces):
        self.impl = impl

    def compute(self, pos, forces):
        wca, real = self.impl.compute(pos, forces)
        return {"wca": wca, "coulomb_real": real}


class Simulation:
    """Owns the state, the force terms and the step. Build from a Scenario; `advance`
    runs steps and calls reporters."""

    def __init__(self, scenario: Scenario, extra_forces=(), ions: Ions | None = None):
        self.scenario = scenario
        self.geometry = Geometry.from_scenario(scenario)
        self._placed = ions is None
        if ions is None:
            counts = ion_counts(scenario, self.geometry)
            check_counts(scenario, self.geometry, counts)
            ions = place_ions(scenario, self.geometry, counts)
        self.ions = ions
        self.valences = np.array([s.valence for s in scenario.species], dtype=np.int64)
        self.charges = ions.charges(self.valences)
        self.initial_totals = np.bincount(ions.species, minlength=len(scenario.species))
        self.drift_coef, self.noise_amp = mobility_arrays(scenario, ions.species)
        self.key = stream_key(scenario.run.seed, STREAM_NOISE)
        self.step = 0
        self.forces = np.zeros((ions.n, 3))
        self.energies: dict[str, float] = {}
        self.noise_prev = np.zeros((ions.n, 3))
        self.event_from = -np.ones(ions.n, dtype=np.int64)
        self.status = np.zeros(ions.n, dtype=np.int64)
        self.crossings: list[tuple] = []  # (step, time, particle, species, channel, from, to)
        self.rejected_moves = 0
        self.rejected_overlaps = 0  # moves into an overlap, undone (compute_forces)
        n = ions.n
        self._prev_pos = np.zeros((n, 3))
        self._prev_comp = np.zeros(n, dtype=np.int64)
        self._prev_last_channel = np.zeros(n, dtype=np.int64)
        self._has_prev = False  # whether _prev_* hold the state before the last step
        self.ewald_parameters = None
        self.potential_observable = None  # pos, windows -> phi_bar per window, kJ/(mol e)
        self.last_potential_mV = None
        self.terms: list[ForceTerm] = self._build_force_terms() + list(extra_forces)
        self._pair = next((t.impl for t in self.terms
                           if isinstance(getattr(t, "impl", None), ShortRangeForces)), None)
        self._reset_noise()

    # -- setup --------------------------------------------------------------------------
    def _build_force_terms(self) -> list[ForceTerm]:
        sc = self.scenario
        diam = [s.diameter for s in sc.species]
        if sc.electrostatics.method == "off":
            if sc.wca_epsilon == 0.0:
                return []  # an ideal gas: no pair forces at all
            return [_ShortRangeTerm(ShortRangeForces(sc.box, self.ions.species, self.charges,
                                                     diam, sc.wca_epsilon))]
        from .electrostatics import build_electrostatic_terms, potential_observable
        terms, self.ewald_parameters = build_electrostatic_terms(
            sc, self.ions.species, self.charges, diam, positions=self._tuning_positions())
        if len(sc.membranes) >= 2:
            self.potential_observable = potential_observable(sc, self.charges)
        return terms

    def _tuning_positions(self):
        """The initial placement (the Ewald tuner costs the real space on it): the ions'
        own positions for a new run, the scenario's placement again for ions passed in."""
        if self._placed:
            return self.ions.pos
        counts = ion_counts(self.scenario, self.geometry)
        return place_ions(self.scenario, self.geometry, counts).pos

    def _reset_noise(self):
        """R_step for every ion (needed by Leimkuhler-Matthews); regenerated, not stored."""
        fill_gaussians(self.key[0], self.key[1], self.step, self.noise_prev)

    @property
    def time(self) -> float:
        """Simulated time in ps."""
        return self.step * self.scenario.run.dt

    # -- state for checkpoints ----------------------------------------------------------
    def state(self) -> dict:
        return {"step": np.int64(self.step), "pos": self.ions.pos, "species": self.ions.species,
                "comp": self.ions.comp, "last_channel": self.ions.last_channel,
                "rejected_moves": np.int64(self.rejected_moves),
                "rejected_overlaps": np.int64(self.rejected_overlaps),
                # R_step is a pure function of (seed, step, ion), but regenerating it in
                # another compiled kernel may round differently; store it to resume exactly.
                "noise_prev": self.noise_prev}

    def restore(self, state: dict):
        if not np.array_equal(state["species"], self.ions.species):
            raise ValueError("checkpoint does not belong to this scenario (species differ)")
        self.step = int(state["step"])
        self.ions.pos[:] = state["pos"]
        self.ions.comp[:] = state["comp"]
        self.ions.last_channel[:] = state["last_channel"]
        self.rejected_moves = int(state["rejected_moves"])
        self.rejected_overlaps = int(state.get("rejected_overlaps", 0))
        self._has_prev = False
        self.noise_prev[:] = state["noise_prev"]

    # -- dynamics -------------------------------------------------------------------------
    def compute_forces(self) -> dict:
        """Forces and energies at the current positions. A move of the last step that put
        an ion into an overlap (closer than 0.8 sigma to another, see
        sim.forces.short_range) is undone for the ions involved and the forces are
        computed again: the Boltzmann weight there is below 1e-19, so only a rare noise
        step of four standard deviations reaches it, and the force would throw the ion
        half a nanometre. Undoing it is a Metropolis rejection of a move of essentially
        zero acceptance; `rejected_overlaps` counts them (the run's summary reports it)."""
        energies = self._evaluate_forces()
        for _ in range(MAX_OVERLAP_ROUNDS):
            if self._pair is None or not self._pair.n_overlapping or not self._has_prev:
                break
            self._undo_overlapping_moves()
            energies = self._evaluate_forces()
        return energies

    def _evaluate_forces(self) -> dict:
        self.forces[:] = 0.0
        energies = {}
        for term in self.terms:
            energies.update(term.compute(self.ions.pos, self.forces))
        self.energies = energies
        return energies

    def _undo_overlapping_moves(self):
        moved = np.nonzero(self._pair.overlapping)[0]
        ions = self.ions
        ions.pos[moved] = self._prev_pos[moved]
        ions.comp[moved] = self._prev_comp[moved]
        ions.last_channel[moved] = self._prev_last_channel[moved]
        undone = set(moved.tolist())
        # a crossing recorded in an undone move did not happen
        self.crossings = [c for c in self.crossings
                          if not (c[0] == self.step and c[2] in undone)]
        self.rejected_overlaps += len(moved)

    def _bd_step(self):
        g = self.geometry
        ions = self.ions
        np.copyto(self._prev_pos, ions.pos)
        np.copyto(self._prev_comp, ions.comp)
        np.copyto(self._prev_last_channel, ions.last_channel)
        self._has_prev = True
        n_events, n_errors, n_rejected = bd_step(
            ions.pos, self.forces, ions.species, self.drift_coef, self.noise_amp,
            self.noise_prev, self.scenario.run.integrator == "leimkuhler-matthews",
            self.key[0], self.key[1], self.step, MAX_DRIFT_PER_STEP,
            g.species_radius, g.box, g.mem_center, g.mem_half, g.comp_lo, g.comp_hi,
            g.ch_x, g.ch_y, g.ch_radius, g.ch_membrane, g.ch_admit, g.ch_boltzmann,
            ions.comp, ions.last_channel, self.event_from, self.status)
        self.step += 1
        self.rejected_moves += n_rejected
        if n_errors:
            self._raise_status()
        if n_events:
            t = self.time
            for i in np.nonzero(self.event_from >= 0)[0]:
                self.crossings.append((self.step, t, int(i), int(ions.species[i]),
                                       int(ions.last_channel[i]), int(self.event_from[i]),
                                       int(ions.comp[i])))

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
        """Ion numbers per species are conserved and every ion is in an allowed place."""
        pos = self.ions.pos
        if not np.all(np.isfinite(pos)):
            i = int(np.nonzero(~np.isfinite(pos).all(axis=1))[0][0])
            raise SimulationError(self.step, i, "position is not finite")
        totals = np.bincount(self.ions.species, minlength=len(self.initial_totals))
        if not np.array_equal(totals, self.initial_totals):
            raise SimulationError(self.step, -1, f"ion numbers changed: {totals} != "
                                                 f"{self.initial_totals}")
        ok = self.geometry.allowed(pos, self.ions.species)
        if not ok.all():
            i = int(np.nonzero(~ok)[0][0])
            raise SimulationError(self.step, i, f"ion is inside a membrane wall at "
                                                f"z = {pos[i, 2]:.4f} nm")

    def advance(self, n_steps: int, reporters=()):
        """Run n_steps steps, calling each reporter whose interval divides the step."""
        end = self.step + n_steps
        while True:
            self.compute_forces()
            for r in reporters:
                if self.step % r.interval == 0 or (self.step == end and r.at_end):
                    r.report(self)
            if self.step >= end:
                break
            self._bd_step()


# --- reporters ---------------------------------------------------------------------------

class Reporter:
    """Protocol: `interval` in steps; `report(sim)`; `at_end` also reports the last step.

    A reporter that accumulates between its outputs returns what it holds from `state()`
    (arrays by name) and takes it back in `restore(state)`, so that a checkpoint holds it and
    a resumed run writes exactly what the uninterrupted one would.
    """
    interval = 1
    at_end = False

    def report(self, sim: Simulation):  # pragma: no cover - interface
        raise NotImplementedError

    def state(self) -> dict:
        return {}

    def restore(self, state: dict) -> None:
        pass

    def close(self):
        pass


class ObservableReporter(Reporter):
    """Counts, bulk concentrations, energies, the membrane potential and density profiles."""

    def __init__(self, sim: Simulation, writer: H5MDWriter, potential=None):
        sc = sim.scenario
        self.writer = writer
        self.interval = sc.run.sample_interval
        self.frame_interval = sc.run.frame_interval
        k, s = len(sc.compartments), len(sc.species)
        self.counts = np.zeros((k, s), dtype=np.int64)
        self.windows = bulk_windows(sc)
        self.window_volume = (self.windows[:, 1] - self.windows[:, 0]) * sc.area
        self.bulk_counts = np.zeros((k, s), dtype=np.int64)
        nbins = max(1, int(round(sc.box[2] / sc.profile_bin_width)))
        self.bin_width = sc.box[2] / nbins
        self.hist = np.zeros((s, nbins))
        self.n_hist = 0
        self.potential = potential
        writer.declare_observable("counts", (k, s), np.int32, "ions")
        writer.declare_observable("bulk_concentration", (k, s), np.float64, "mM")
        writer.declare_observable("density", (s, nbins), np.float64, "nm^-3")
        for name in sim.energies or sim.compute_forces():
            writer.declare_observable(f"energy_{name}", (), np.float64, "kJ/mol")
        if potential is not None:
            writer.declare_observable("membrane_potential", (), np.float64, "mV")
            writer.declare_observable("compartment_potential", (k,), np.float64, "mV")
        f = writer.file
        f["observables/density"].attrs["bin_width_nm"] = self.bin_width
        f["observables/bulk_concentration"].attrs["windows_nm"] = self.windows

    # The density profile is a mean over the samples since the last frame: a checkpoint
    # between two frames holds the partial sum.
    def state(self) -> dict:
        return {"density_sum": self.hist, "density_samples": np.int64(self.n_hist)}

    def restore(self, state: dict) -> None:
        if "density_sum" in state:
            self.hist[:] = state["density_sum"]
            self.n_hist = int(state["density_samples"])

    def report(self, sim):
        step, t, w = sim.step, sim.time, self.writer
        ions = sim.ions
        count_by_compartment(ions.comp, ions.species, *self.counts.shape, self.counts)
        w.append_observable("counts", step, t, self.counts)
        count_in_windows(ions.pos, ions.species, self.windows, self.bulk_counts)
        w.append_observable("bulk_concentration", step, t,
                            self.bulk_counts / self.window_volume[:, None]
                            * units.PER_NM3_TO_MM)
        for name, value in sim.energies.items():
            w.append_observable(f"energy_{name}", step, t, value)
        if self.potential is not None:
            phi = self.potential(ions.pos, self.windows) * units.MV_PER_KJ_MOL_E
            sim.last_potential_mV = float(phi[0] - phi[1])
            w.append_observable("membrane_potential", step, t, sim.last_potential_mV)
            w.append_observable("compartment_potential", step, t, phi)
        accumulate_profile(ions.pos, ions.species, self.bin_width, self.hist)
        self.n_hist += 1
        if step % self.frame_interval == 0:
            area = sim.scenario.area
            w.append_observable("density", step, t,
                                self.hist / (self.n_hist * area * self.bin_width))
            self.hist[:] = 0
            self.n_hist = 0


class FrameReporter(Reporter):
    def __init__(self, sim, writer):
        self.writer, self.interval = writer, sim.scenario.run.frame_interval

    def report(self, sim):
        self.writer.append_frame(sim.step, sim.time, sim.ions.pos)


class GuardReporter(Reporter):
    """Checks invariants every sample interval and at the end."""
    at_end = True

    def __init__(self, sim):
        self.interval = sim.scenario.run.sample_interval

    def report(self, sim):
        sim.check_invariants()


class CheckpointReporter(Reporter):
    """Flushes crossings and the HDF5 file to disk (fsync), then writes the checkpoint
    atomically: the state x_n, the reporters' accumulators and the run id.

    It reports before the observers of step n (see `run_scenario`'s order), so the
    checkpoint and the file hold everything before step n and a resumed run recomputes
    step n's forces and samples. The trajectory reaches the disk before the checkpoint
    that points into it, so the two agree after a crash or a power loss.
    """

    def __init__(self, sim, writer, run_dir, run_id: str, reporters=()):
        self.writer, self.run_dir, self.run_id = writer, Path(run_dir), run_id
        self.interval = sim.scenario.run.checkpoint_interval
        self.at_end = True
        self.reporters = list(reporters)
        self.last_step: int | None = None  # the step of the last checkpoint written

    def flush_crossings(self, sim):
        if sim.crossings:
            rows = np.array(sim.crossings, dtype=np.float64)
            self.writer.append_crossings({
                name: rows[:, j].astype(np.float64 if name == "time" else np.int64)
                for j, name in enumerate(CROSSING_FIELDS)})
            sim.crossings.clear()

    def report(self, sim):
        self.flush_crossings(sim)
        self.writer.sync()
        state = dict(sim.state())
        for r in self.reporters:
            state.update(r.state())
        state["run_id"] = np.array(self.run_id)
        save_checkpoint(self.run_dir, state)
        self.last_step = sim.step


class ProgressReporter(Reporter):
    """A progress bar on a terminal: step, simulated ns, steps/s, ETA, current V_m."""

    def __init__(self, sim, total_steps):
        from tqdm import tqdm
        self.interval = sim.scenario.run.sample_interval
        self.bar = tqdm(total=total_steps, initial=sim.step, unit="step", dynamic_ncols=True,
                        smoothing=0.1, file=sys.stderr, mininterval=0.5)
        self.last = sim.step

    def report(self, sim):
        self.bar.update(sim.step - self.last)
        self.last = sim.step
        post = f"{sim.time / units.PS_PER_NS:.3f} ns"
        vm = sim.last_potential_mV
        if vm is not None:
            post += f", V_m {vm:+.1f} mV"
        self.bar.set_postfix_str(post, refresh=False)

    def close(self):
        self.bar.close()


def show_progress(quiet: bool) -> bool:
    """Progress bars on an interactive terminal only, never in CI or with --quiet."""
    return not quiet and sys.stderr.isatty() and not os.environ.get("CI")


@dataclass
class RunResult:
    run_dir: Path
    simulation: Simulation
    wall_time: float
    summary: dict = field(default_factory=dict)


def run_scenario(scenario: Scenario, run_dir, quiet=True, resume=False,
                 extra_forces=(), log=print, force=False, claim=None,
                 new_trajectory=False) -> RunResult:
    """Simulate a scenario into run_dir, or resume the run there.

    The directory is taken with :func:`sim.rundir.claim` (a new or empty directory, an
    earlier run only with ``force``; never a directory ionsim did not write) and locked
    for the run; pass ``claim`` to hold it longer (the command line keeps it until
    summary.json is written). ``new_trajectory`` (with ``resume``) starts a new
    trajectory.h5 at the checkpoint's step, to save a run whose trajectory is damaged.

    Raises:
        UserError: the directory cannot be taken (see sim.rundir.claim).
        SimulationError: the run became unphysical (what was written is kept).
        RunStopped: a file could not be written (a full disk); the last checkpoint is
            intact and `resume_run` continues from it.
    """
    own = claim is None
    if own:
        claim = rundir.claim(run_dir, force=force, resume=resume)
    try:
        return _run_claimed(scenario, claim.run_dir, quiet, resume, extra_forces, log,
                            new_trajectory)
    finally:
        if own:
            claim.release()


def _run_claimed(scenario, run_dir, quiet, resume, extra_forces, log,
                 new_trajectory=False) -> RunResult:
    t_setup = time.perf_counter()
    sim = Simulation(scenario, extra_forces=extra_forces)
    state = {}
    try:
        reserve = rundir.DiskReserve(run_dir)
        if resume:
            run_id = rundir.check_consistent(run_dir) or rundir.new_run_id()
            state = load_checkpoint(run_dir)
            sim.restore(state)
            writer = H5MDWriter(run_dir / TRAJECTORY, scenario, sim.ions.species,
                                sim.charges, resume_step=None if new_trajectory else sim.step,
                                run_id=run_id)
        else:
            run_id = rundir.new_run_id()
            write_scenario(run_dir, scenario, run_id)
            write_topology(run_dir / TOPOLOGY, scenario, sim.ions.species, sim.ions.pos)
            writer = H5MDWriter(run_dir / TRAJECTORY, scenario, sim.ions.species,
                                sim.charges, run_id=run_id)
    except OSError as err:
        (run_dir / rundir.RESERVE).unlink(missing_ok=True)
        raise RunStopped(f"cannot write the run directory {run_dir}: "
                         f"{err.strerror or err}") from None
    if sim.ewald_parameters is not None:
        from .electrostatics import describe
        log(f"ewald: {describe(sim.ewald_parameters)}")
    observables = ObservableReporter(sim, writer, sim.potential_observable)
    observables.restore(state)
    checkpoint = CheckpointReporter(sim, writer, run_dir, run_id, reporters=[observables])
    balancer = ThreadBalancer(interval=10)
    # The checkpoint of step n is taken before step n is observed (see CheckpointReporter).
    reporters = [GuardReporter(sim), checkpoint, observables, FrameReporter(sim, writer),
                 balancer]
    steps_left = scenario.run.steps - sim.step
    if show_progress(quiet):
        reporters.append(ProgressReporter(sim, scenario.run.steps))
    start_step = sim.step
    t0 = time.perf_counter()
    try:
        sim.advance(steps_left, reporters)
        checkpoint.flush_crossings(sim)
        writer.sync()
    except WriteError as err:
        reserve.release()
        writer.abandon()
        raise RunStopped(_stopped_message(err, run_dir, checkpoint.last_step, scenario)) \
            from None
    finally:
        for r in reporters:
            r.close()
        if writer.file.id.valid:  # a SimulationError: keep what was written
            checkpoint.flush_crossings(sim)
            writer.close()
        reserve.release()
    wall = time.perf_counter() - t0
    summary = {
        "scenario": scenario.name,
        "run_id": run_id,
        "steps": sim.step,
        "simulated_time_ns": sim.time / units.PS_PER_NS,
        "n_ions": sim.ions.n,
        "wall_time_s": wall,
        "setup_time_s": t0 - t_setup,
        "particle_steps_per_second": sim.ions.n * (sim.step - start_step) / max(wall, 1e-9),
        "rejected_wall_moves": sim.rejected_moves,
        "rejected_overlap_moves": sim.rejected_overlaps,
        "threads": balancer.summary(),
    }
    return RunResult(run_dir, sim, wall, summary)


def _stopped_message(err, run_dir, last_step, scenario) -> str:
    if last_step is None:
        return f"{err}; no checkpoint was written yet: free space and run it again"
    ns = last_step * scenario.run.dt / units.PS_PER_NS
    return (f"{err}; the checkpoint at step {last_step} ({ns:.4g} ns) is intact: free "
            f"space, then `ionsim resume {run_dir}`")


def checkpoint_step(run_dir) -> int:
    """The step of a run directory's checkpoint.

    Raises:
        UserError: no checkpoint, or one that cannot be read (naming what can be saved).
    """
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise UserError(f"{path}: no checkpoint here; `ionsim resume` needs one (an "
                        f"interrupted ionsim run directory)")
    try:
        return int(load_checkpoint(run_dir)["step"])
    except Exception as err:  # noqa: BLE001 - any damage means the same to the user
        raise UserError(f"{path}: cannot be read ({type(err).__name__}: "
                        f"{_first_line(err)}); the run cannot be resumed, but what "
                        f"trajectory.h5 holds can still be analysed (`ionsim analyze "
                        f"{run_dir}`)") from None


def _first_line(err) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else "damaged"


def resume_run(run_dir, quiet=True, log=print, claim=None,
               new_trajectory=False) -> RunResult:
    """Continue a run from its checkpoint, exactly as if it had never stopped.

    ``new_trajectory`` saves a run whose trajectory.h5 is damaged: the file is kept as
    trajectory.damaged.h5 and a new one starts at the checkpoint's step (what came before
    it is in the damaged file only).

    Raises:
        UserError: no readable checkpoint or scenario; files from different runs.
    """
    run_dir = Path(run_dir)
    checkpoint_step(run_dir)
    scenario = read_scenario(run_dir)
    if new_trajectory and (run_dir / TRAJECTORY).exists():
        kept = run_dir / "trajectory.damaged.h5"
        n = 1
        while kept.exists():
            n += 1
            kept = run_dir / f"trajectory.damaged-{n}.h5"
        (run_dir / TRAJECTORY).rename(kept)
        log(f"{run_dir / TRAJECTORY}: kept as {kept.name}; a new trajectory starts at the "
            f"checkpoint")
    return run_scenario(scenario, run_dir, quiet=quiet, resume=True, log=log, claim=claim,
                        new_trajectory=new_trajectory)
