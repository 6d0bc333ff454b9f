"""The writers and the checkpointer of a run (sim.loop operations): what a run directory
records of each step's snapshot.

- :class:`ObservableWriter`: every sample interval, ion counts per compartment, bulk
  concentrations (mM), energies (kJ/mol), the membrane and compartment potentials (mV),
  and at every frame the density profiles (nm^-3) averaged over the samples since the last:
  ``density`` in z-bins from z = 0, and, with membranes, ``face_density`` against the
  distance from each face's contact plane (:class:`sim.observe.FaceBins`);
- :class:`FrameWriter`: positions every frame interval;
- :class:`EventWriter`: every step's events (crossings) into /ionsim/crossings;
- :class:`ProgressWriter`: a progress bar on a terminal (step, ns, steps/s, ETA, V_m);
- :class:`CheckpointWriter`: the last act of a step it fires on (sim.loop): the trajectory
  flushed and fsync'd, then the state, every operation's own state and the run id written
  atomically, so the two agree after a crash or a power loss.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from . import units
from .io import EVENT_KIND_TABLE, EVENT_TABLES, H5MDWriter, save_checkpoint
from .loop import Checkpointer, Trigger, Writer, every
from .observe import (FaceBins, accumulate_face_profiles, accumulate_profile,
                      count_by_compartment, count_in_windows, face_fields)

#: A checkpoint holds this flag: its step was observed completely before it was taken
#: (checkpoints written before sim.loop existed were taken before the observers ran).
OBSERVED = "observed"


class ObservableWriter(Writer):
    """Counts, bulk concentrations, energies, the membrane potential and density profiles."""

    def __init__(self, sim, writer: H5MDWriter):
        sc = sim.scenario
        self.writer = writer
        self.trigger = every(sc.run.sample_interval)
        self.frame_interval = sc.run.frame_interval
        k, s = len(sc.compartments), len(sc.species)
        self.counts = np.zeros((k, s), dtype=np.int64)
        self.windows = sim.windows
        self.window_volume = (self.windows[:, 1] - self.windows[:, 0]) * sc.area
        self.bulk_counts = np.zeros((k, s), dtype=np.int64)
        nbins = max(1, int(round(sc.box[2] / sc.profile_bin_width)))
        self.bin_width = sc.box[2] / nbins
        self.area = sc.area
        self.hist = np.zeros((s, nbins))
        self.n_hist = 0
        self.has_potential = sim.potential_observable is not None
        writer.declare_observable("counts", (k, s), np.int32, "ions")
        writer.declare_observable("bulk_concentration", (k, s), np.float64, "mM")
        writer.declare_observable("density", (s, nbins), np.float64, "nm^-3")
        for name in sim.force_field.energy_names:
            writer.declare_observable(f"energy_{name}", (), np.float64, "kJ/mol")
        if self.has_potential:
            writer.declare_observable("membrane_potential", (), np.float64, "mV")
            writer.declare_observable("compartment_potential", (k,), np.float64, "mV")
        f = writer.file
        f["observables/density"].attrs["bin_width_nm"] = self.bin_width
        f["observables/bulk_concentration"].attrs["windows_nm"] = self.windows
        self.field = None  # the face fields' kernel arguments (with electrostatics)
        self.faces = FaceBins(sc) if sc.membranes else None
        if self.faces is not None and not self.faces.usable:
            self.faces = None  # compartments thinner than two ion diameters: nothing to bin
        if self.faces is not None:
            fb = self.faces
            self.geometry = sim.geometry.arrays
            self.face_hist = np.zeros((fb.n_faces, s, len(fb.widths)))
            self.n_face = 0
            # counts -> nm^-3: per face, species and bin, the wall area times the bin width
            # (NaN where pores leave a species no wall at all: its density is undefined)
            wall = np.where(fb.wall_area > 0, fb.wall_area, np.nan)
            self.face_volume = wall[:, :, None] * fb.widths[None, None, :]
            writer.declare_observable("face_density", self.face_hist.shape, np.float64,
                                      "nm^-3")
            a = f["observables/face_density"].attrs
            a["bin_edges_nm"] = fb.edges  # distance from the species' contact plane
            a["face_z_nm"] = fb.face_z
            a["face_membrane"] = fb.face_membrane
            a["face_side"] = fb.face_side  # 0: lower-z face of the membrane, 1: upper-z
            a["face_compartment"] = fb.face_compartment
            a["contact_offset_nm"] = fb.radius  # contact plane = face -+ the species' radius
            a["wall_area_nm2"] = fb.wall_area
            if sc.electrostatics.method != "off":
                self._declare_face_field(sim, writer)

    def _declare_face_field(self, sim, writer):
        """``face_field`` (2M,) e/nm^2 and ``face_field_squared`` (2M,) e^2/nm^4: the means
        over the samples since the last frame of D.n = eps0 eps_w E.n in front of each face
        and of its square (sim.observe.face_fields), for the contact-value theorem
        (analysis.double_layer), which needs <E^2>, not <E>^2."""
        from .electrostatics import membrane_slabs, surface_sheets
        from .forces.membrane_field import DielectricProfile
        sc, fb = sim.scenario, self.faces
        prof = DielectricProfile(sc.box[2], membrane_slabs(sc), sc.solvent_permittivity)
        sheet_z, sheet_q = surface_sheets(sc)
        lz = sc.box[2]

        def wrap(z):  # into [0, Lz), faces and sheets alike (a face's sheet found by ==)
            z = np.mod(np.asarray(z, dtype=np.float64), lz)
            return np.where(z >= lz, 0.0, z)

        self.field = (np.asarray(sim.charges, dtype=np.float64),
                      wrap(sheet_z),
                      np.asarray(sheet_q, dtype=np.float64), float(lz), prof.bounds,
                      prof.inv, prof.s_at, wrap(fb.face_z),
                      fb.face_side.astype(np.int64), float(sc.area))
        self.field_now = np.zeros(fb.n_faces)
        self.field_sum = np.zeros(fb.n_faces)
        self.field_sq_sum = np.zeros(fb.n_faces)
        writer.declare_observable("face_field", (fb.n_faces,), np.float64, "e/nm^2")
        writer.declare_observable("face_field_squared", (fb.n_faces,), np.float64,
                                  "e^2/nm^4")
        for name in ("face_field", "face_field_squared"):
            writer.file[f"observables/{name}"].attrs["quantity"] = (
                "eps0 eps_w E.n in the water just in front of each face (faces as in "
                "face_density), n the normal from the face into its water"
                + ("" if name == "face_field" else ", squared"))

    # The density profiles are means over the samples since the last frame: a checkpoint
    # between two frames holds the partial sums.
    def state(self) -> dict:
        state = {"density_sum": self.hist, "density_samples": np.int64(self.n_hist)}
        if self.faces is not None:
            state["face_density_sum"] = self.face_hist
            state["face_density_samples"] = np.int64(self.n_face)
            if self.field is not None:
                state["face_field_sum"] = self.field_sum
                state["face_field_squared_sum"] = self.field_sq_sum
        return state

    def restore(self, state: dict) -> None:
        if "density_sum" in state:
            self.hist[:] = state["density_sum"]
            self.n_hist = int(state["density_samples"])
        # (a checkpoint written before face_density existed has none: its first frame is
        # then the mean over the samples since the resume, with its own count)
        if self.faces is not None and "face_density_sum" in state:
            self.face_hist[:] = state["face_density_sum"]
            self.n_face = int(state["face_density_samples"])
            if self.field is not None and "face_field_sum" in state:
                self.field_sum[:] = state["face_field_sum"]
                self.field_sq_sum[:] = state["face_field_squared_sum"]

    def write(self, snap):
        step, t, w = snap.step, snap.time, self.writer
        count_by_compartment(snap.compartments, snap.species, *self.counts.shape, self.counts)
        w.append_observable("counts", step, t, self.counts)
        count_in_windows(snap.positions, snap.species, self.windows, self.bulk_counts)
        w.append_observable("bulk_concentration", step, t,
                            self.bulk_counts / self.window_volume[:, None]
                            * units.PER_NM3_TO_MM)
        for name, value in snap.energies.items():
            w.append_observable(f"energy_{name}", step, t, value)
        if self.has_potential:
            w.append_observable("membrane_potential", step, t, snap.membrane_potential_mV)
            w.append_observable("compartment_potential", step, t,
                                snap.compartment_potentials_mV())
        accumulate_profile(snap.positions, snap.species, self.bin_width, self.hist)
        self.n_hist += 1
        if self.faces is not None:
            fb = self.faces
            accumulate_face_profiles(snap.positions, snap.species, self.geometry, fb.fine,
                                     fb.n_fine, fb.coarse, fb.extent, self.face_hist)
            self.n_face += 1
            if self.field is not None:
                face_fields(snap.positions, *self.field, self.field_now)
                self.field_sum += self.field_now
                self.field_sq_sum += self.field_now * self.field_now
        if step % self.frame_interval == 0:
            w.append_observable("density", step, t,
                                self.hist / (self.n_hist * self.area * self.bin_width))
            self.hist[:] = 0
            self.n_hist = 0
            if self.faces is not None:
                w.append_observable("face_density", step, t,
                                    self.face_hist / (self.n_face * self.face_volume))
                if self.field is not None:
                    w.append_observable("face_field", step, t, self.field_sum / self.n_face)
                    w.append_observable("face_field_squared", step, t,
                                        self.field_sq_sum / self.n_face)
                    self.field_sum[:] = 0
                    self.field_sq_sum[:] = 0
                self.face_hist[:] = 0
                self.n_face = 0


class FrameWriter(Writer):
    def __init__(self, sim, writer: H5MDWriter):
        self.writer, self.trigger = writer, every(sim.scenario.run.frame_interval)

    def write(self, snap):
        self.writer.append_frame(snap.step, snap.time, snap.positions)


class EventWriter(Writer):
    """The events of every step (crossings, and the agents': gate changes, pump cycles and
    the ions they carried) into the H5MD file's /ionsim tables (sim.io.EVENT_TABLES)."""
    trigger = Trigger(every=1)

    def __init__(self, writer: H5MDWriter):
        self.writer = writer

    def write(self, snap):
        for kind, rows in snap.events.items():
            if rows:
                name = EVENT_KIND_TABLE[kind]
                table = np.array(rows, dtype=np.float64)
                self.writer.append_events(name, {
                    field: table[:, j] if field in ("time", "dG", "V")
                    else table[:, j].astype(np.int64)
                    for j, field in enumerate(EVENT_TABLES[name])})


class ProgressWriter(Writer):
    """A progress bar on a terminal: step, simulated ns, steps/s, ETA, current V_m."""

    def __init__(self, sim, total_steps):
        from tqdm import tqdm
        self.trigger = every(sim.scenario.run.sample_interval)
        self.bar = tqdm(total=total_steps, initial=sim.step, unit="step", dynamic_ncols=True,
                        smoothing=0.1, file=sys.stderr, mininterval=0.5)
        self.last = sim.step

    def write(self, snap):
        self.bar.update(snap.step - self.last)
        self.last = snap.step
        post = f"{snap.time / units.PS_PER_NS:.3f} ns"
        vm = snap.membrane_potential_mV
        if vm is not None:
            post += f", V_m {vm:+.1f} mV"
        self.bar.set_postfix_str(post, refresh=False)

    def close(self):
        self.bar.close()


class CheckpointWriter(Checkpointer):
    """Flushes the trajectory to disk (fsync), then writes the checkpoint atomically: the
    state x_n after everything of step n, every operation's own state, the run id."""

    def __init__(self, sim, writer: H5MDWriter, run_dir, run_id: str):
        self.writer, self.run_dir, self.run_id = writer, Path(run_dir), run_id
        self.trigger = every(sim.scenario.run.checkpoint_interval, at_end=True)
        self.last_step: int | None = None  # the step of the last checkpoint written

    def save(self, sim, operations):
        self.writer.sync()
        state = dict(sim.checkpoint_state())
        for op in operations:
            own = op.state()
            clash = set(own) & set(state)
            if clash:
                raise RuntimeError(f"checkpoint keys written twice: {sorted(clash)}")
            state.update(own)
        state["run_id"] = np.array(self.run_id)
        state[OBSERVED] = np.bool_(True)
        save_checkpoint(self.run_dir, state)
        self.last_step = sim.step
