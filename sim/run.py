"""Running a scenario into a run directory, and resuming one: the orchestration.

:func:`run_scenario` takes the directory (sim.rundir), builds the Simulation
(sim.simulation), the trajectory file (sim.io) and the operations of the loop (sim.writers,
the thread balancer of sim.threads), and runs the loop (sim.loop, where the order of a step
is written). :func:`resume_run` continues from the checkpoint, exactly as if the run had
never stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import rundir, units
from .console import show_progress
from .errors import RunStopped, UserError
from .io import CHECKPOINT, TRAJECTORY, H5MDWriter, WriteError, load_checkpoint, read_scenario, \
    write_scenario
from .scenario import Scenario
from .simulation import (MAX_DRIFT_PER_STEP, ForceTerm, Simulation,  # noqa: F401 (API)
                         SimulationError)
from .threads import ThreadBalancer
from .topology import TOPOLOGY, write_topology
from .writers import (OBSERVED, CheckpointWriter, EventWriter, FrameWriter, ObservableWriter,
                      ProgressWriter)


@dataclass
class RunResult:
    run_dir: Path
    simulation: Simulation
    wall_time: float
    summary: dict = field(default_factory=dict)


def run_scenario(scenario: Scenario, run_dir, quiet=True, resume=False,
                 extra_forces=(), log=print, force=False, claim=None,
                 new_trajectory=False, extra_operations=()) -> RunResult:
    """Simulate a scenario into run_dir, or resume the run there.

    The directory is taken with :func:`sim.rundir.claim` (a new or empty directory, an
    earlier run only with ``force``; never a directory ionsim did not write) and locked
    for the run; pass ``claim`` to hold it longer (the command line keeps it until
    summary.json is written). ``new_trajectory`` (with ``resume``) starts a new
    trajectory.h5 at the checkpoint's step, to save a run whose trajectory is damaged.
    ``extra_operations`` join the loop's (sim.loop), before the checkpoint.

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
                            new_trajectory, extra_operations)
    finally:
        if own:
            claim.release()


def _run_claimed(scenario, run_dir, quiet, resume, extra_forces, log,
                 new_trajectory=False, extra_operations=()) -> RunResult:
    t_setup = time.perf_counter()
    sim = Simulation(scenario, extra_forces=extra_forces)
    state = {}
    try:
        reserve = rundir.DiskReserve(run_dir)
        if resume:
            run_id = rundir.check_consistent(run_dir) or rundir.new_run_id()
            state = load_checkpoint(run_dir)
            sim.restore(state)
            # A checkpoint holds everything up to and including its step (sim.loop); one
            # written before the loop existed, everything before it.
            observed = bool(state.get(OBSERVED, False))
            writer = H5MDWriter(run_dir / TRAJECTORY, scenario, sim.ions.species,
                                sim.charges, resume_step=None if new_trajectory else sim.step,
                                run_id=run_id, keep_step=observed)
        else:
            observed = False
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
    observables = ObservableWriter(sim, writer)
    observables.restore(state)
    checkpoint = CheckpointWriter(sim, writer, run_dir, run_id)
    balancer = ThreadBalancer(interval=10)
    agents = agent_operations(sim)
    for op in agents:
        op.restore(state)
    operations = [*agents, EventWriter(writer), observables, FrameWriter(sim, writer), balancer,
                  *extra_operations, checkpoint]
    if show_progress(quiet):
        operations.append(ProgressWriter(sim, scenario.run.steps))
    start_step = sim.step
    t0 = time.perf_counter()
    try:
        sim.advance(scenario.run.steps - sim.step, operations,
                    guard_every=scenario.run.sample_interval, resumed=observed)
        writer.sync()
    except WriteError as err:
        reserve.release()
        writer.abandon()
        raise RunStopped(_stopped_message(err, run_dir, checkpoint.last_step, scenario)) \
            from None
    finally:
        for op in operations:
            op.close()
        writer.close()  # a SimulationError: keep what was written (a no-op once abandoned)
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


def agent_operations(sim) -> list:
    """The updaters of the scenario's agents (sim.loop): the gates of gated channels
    (sim.gating) and the pumps (sim.pumps), where it has them."""
    sc = sim.scenario
    out = []
    if any(ch.gating is not None for m in sc.membranes for ch in m.channels):
        from .gating import Gates
        out.append(Gates(sim))
    if any(m.pumps for m in sc.membranes):
        from .pumps import Pumps
        out.append(Pumps(sim))
    return out


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
               new_trajectory=False, extra_operations=()) -> RunResult:
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
                        new_trajectory=new_trajectory, extra_operations=extra_operations)
