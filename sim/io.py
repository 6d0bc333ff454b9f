"""Run directories: the H5MD trajectory/observables file, checkpoints, and reading back.

A run directory holds

- ``scenario.yaml``   the resolved scenario (every default filled in, units written out);
- ``trajectory.h5``   H5MD 1.1 (de Buyl et al., Comput. Phys. Commun. 185 (2014) 1546):
  ``/particles/ions/{box, position, species, charge}``, time series under
  ``/observables/<name>/{step, time, value}``, and crossing events under
  ``/ionsim/crossings``. Every dataset carries a ``unit`` attribute;
  ``box/edges`` is a time series beside the positions (MDAnalysis's H5MD reader wants one);
- ``topology.pdb``    the ions' names and first positions, for MDAnalysis, VMD and OVITO;
- ``checkpoint.npz``  the state at the last checkpoint (written atomically: temp + rename);
- ``summary.json``    headline numbers with their errors (derived: rebuilt from the
  trajectory when lost).

Each file carries the run's id (sim.rundir). At every checkpoint the HDF5 file is flushed
and fsync'd before the checkpoint is written, so a crash, a kill or a power loss leaves it
readable up to the last checkpoint, and ``ionsim resume`` continues from there exactly. A
write that fails (a full disk) raises :class:`WriteError` naming the file.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import yaml

from .errors import UserError
from .files import atomic_write_bytes
from .rundir import CHECKPOINT, RUN_ID_PREFIX, SCENARIO, SUMMARY, TRAJECTORY, scenario_run_id
from .scenario import Scenario, parse_scenario

__all__ = ["CHECKPOINT", "SCENARIO", "SUMMARY", "TRAJECTORY", "CROSSING_FIELDS", "EVENT_TABLES",
           "EVENT_KIND_TABLE", "H5MDWriter",
           "RunData", "Series", "WriteError", "atomic_write_bytes", "load_checkpoint",
           "read_scenario", "salvage_hint", "save_checkpoint", "summary_readable",
           "write_scenario", "write_summary"]

CROSSING_FIELDS = ("step", "time", "particle", "species", "channel", "from", "to")
#: The event tables under /ionsim: name -> (fields, {field: (dtype, unit)} where not int64
#: without a unit). The agents' tables (sim.gating, sim.pumps) exist in runs that have them.
EVENT_TABLES = {
    "crossings": CROSSING_FIELDS,
    "gate_events": ("step", "time", "channel", "from", "to", "cause"),
    "pump_events": ("step", "time", "pump", "transition", "atp", "dG", "V"),
    "pump_transfers": ("step", "time", "particle", "species", "pump", "from", "to"),
}
_FLOAT_FIELDS = {"time": "ps", "dG": "kJ/mol", "V": "mV"}
#: the simulation's event kinds (sim.simulation.AGENT_EVENTS and crossings) -> table
EVENT_KIND_TABLE = {"crossing": "crossings", "gate": "gate_events", "pump": "pump_events",
                    "pump_transfer": "pump_transfers"}


class WriteError(OSError):
    """A run file could not be written (a full disk, an unwritable directory)."""

    def __init__(self, path, err: BaseException):
        reason = getattr(err, "strerror", None) or _errno_text(err)
        super().__init__(f"cannot write {path}: {reason}")


def _errno_text(err: BaseException) -> str:
    """HDF5 reports a failed write as RuntimeError with 'error message = ...' inside."""
    text = str(err)
    marker = "error message = '"
    if marker in text:
        return text.split(marker, 1)[1].split("'", 1)[0]
    return text.strip().splitlines()[0][:200] if text.strip() else type(err).__name__


def write_scenario(run_dir: Path, scenario: Scenario, run_id: str | None = None) -> None:
    """RUN_DIR/scenario.yaml: the resolved scenario under a header naming its source and
    the run id (None keeps the id the file already names)."""
    path = Path(run_dir) / SCENARIO
    run_id = run_id or scenario_run_id(path)
    text = (f"# Resolved scenario from {scenario.source}: every default filled in.\n"
            + (f"{RUN_ID_PREFIX}{run_id}\n" if run_id else "")
            + yaml.safe_dump(scenario.to_dict(), sort_keys=False, allow_unicode=True))
    atomic_write_bytes(path, text.encode())


def read_scenario(run_dir: Path) -> Scenario:
    """The resolved scenario of a run directory, read with the same limits as any scenario
    file (sim.yaml_input.load_yaml); ScenarioError if it is missing or damaged."""
    from .yaml_input import RESOLVED_MAX_BYTES, RESOLVED_MAX_NODES, load_yaml
    path = Path(run_dir) / SCENARIO
    raw = load_yaml(path, str(path), max_bytes=RESOLVED_MAX_BYTES, max_nodes=RESOLVED_MAX_NODES)
    return parse_scenario(raw, str(path))


def write_summary(run_dir: Path, summary: dict) -> None:
    atomic_write_bytes(Path(run_dir) / SUMMARY,
                       (json.dumps(summary, indent=2, default=_json_default) + "\n").encode())


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class H5MDWriter:
    """Appends frames, observables and crossing events to an H5MD file.

    Observables are declared once with their per-sample shape, dtype and unit; each
    `append_observable` adds one sample. Datasets are chunked and resizable.
    """

    def __init__(self, path: Path, scenario: Scenario, species: np.ndarray,
                 charges: np.ndarray, resume_step: int | None = None,
                 run_id: str | None = None, keep_step: bool = True):
        self.path = Path(path)
        self._pending: dict[str, list] = {}
        # Set by abandon(): HDF5 may hold the file open after a failed close, and a flush
        # into it then can crash the process (a segfault, not an exception).
        self._abandoned = False
        # Datasets stay open for the writer's life: HDF5 writes a dataset's cached chunks
        # when it is closed, and a write that fails then (a full disk) is only printed by
        # h5py's deallocator, never raised; open, they are written by flush(), which raises.
        self._open: dict[str, tuple] = {}
        if resume_step is None:
            try:
                self.file = h5py.File(self.path, "w")
                self._create(scenario, species, charges)
                if run_id:
                    self.file["parameters/ionsim"].attrs["run_id"] = run_id
            except (OSError, RuntimeError) as err:
                raise WriteError(self.path, err) from None
        else:
            try:
                self.file = h5py.File(self.path, "r+")
            except OSError as err:
                raise UserError(f"{self.path}: cannot be opened to continue the run "
                                f"({_errno_text(err)}); {salvage_hint(self.path.parent)}") \
                    from None
            self._truncate_after(resume_step, keep_step)
            # An extended run (ionsim resume --duration) continues with more steps: the
            # stored scenario is the one running now, as in a run that long from the start.
            self.file["parameters/ionsim"].attrs["scenario_yaml"] = yaml.safe_dump(
                scenario.to_dict(), sort_keys=False)

    # -- layout ---------------------------------------------------------------------------
    def _create(self, scenario, species, charges):
        f = self.file
        from . import __version__
        h5 = f.create_group("h5md")
        h5.attrs["version"] = np.array([1, 1], dtype=np.int32)
        h5.create_group("author").attrs["name"] = os.environ.get("USER", "ionsim user")
        creator = h5.create_group("creator")
        creator.attrs["name"] = "ionsim"
        creator.attrs["version"] = __version__
        ions = f.create_group("particles/ions")
        box = ions.create_group("box")
        box.attrs["dimension"] = np.int32(3)
        box.attrs["boundary"] = np.array([b"periodic"] * 3)
        # The edges are a time series (H5MD's time-dependent element) although the box is
        # fixed: MDAnalysis's H5MD reader reads box/edges/value[frame] and fails on a plain
        # dataset. One value per frame, at the position's steps and times (append_frame).
        self._box_edges = np.array(scenario.box, dtype=np.float64)
        self._series(box, "edges", (3,), np.float64, "nm")
        ions.create_dataset("species", data=species.astype(np.int32))
        ions.create_dataset("charge", data=charges.astype(np.float64)).attrs["unit"] = "e"
        self._series(ions, "position", (len(species), 3), np.float32, "nm")
        params = f.create_group("parameters/ionsim")
        params.attrs["scenario_yaml"] = yaml.safe_dump(scenario.to_dict(), sort_keys=False)
        params.attrs["species_names"] = np.array([s.name.encode() for s in scenario.species])
        params.attrs["compartment_names"] = np.array(
            [c.name.encode() for c in scenario.compartments])
        self._create_events("crossings")
        f.create_group("observables")

    def _create_events(self, table):
        group = self.file.create_group(f"ionsim/{table}")
        for name in EVENT_TABLES[table]:
            dtype = np.float64 if name in _FLOAT_FIELDS else np.int64
            ds = group.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                      chunks=(1024,))
            ds.attrs["unit"] = _FLOAT_FIELDS.get(name, "")

    @staticmethod
    def _series(group, name, shape, dtype, unit):
        g = group.create_group(name)
        g.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(256,))
        t = g.create_dataset("time", shape=(0,), maxshape=(None,), dtype=np.float64,
                             chunks=(256,))
        t.attrs["unit"] = "ps"
        chunk_len = max(1, min(256, (1 << 20) // max(1, int(np.prod(shape)) * 8)))
        v = g.create_dataset("value", shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
                             chunks=(chunk_len, *shape) if shape else (256,))
        v.attrs["unit"] = unit
        return g

    def declare_observable(self, name, shape, dtype, unit):
        """Create /observables/name unless it exists (it does when resuming)."""
        obs = self.file["observables"]
        if name not in obs:
            self._series(obs, name, tuple(shape), dtype, unit)

    # -- appending ------------------------------------------------------------------------
    # Samples wait in memory and go to the file in one resize per series at flush() (every
    # checkpoint, and at the end or on an error): resizing three datasets per sample cost
    # 1.4 ms per observable sample, 15% of the flagship's run time. A killed run loses only
    # what a resume recomputes anyway (everything after the last checkpoint).
    PENDING_ROWS = 512  # a series with this many waiting samples is written at once

    def _append(self, path, step, time, value):
        rows = self._pending.setdefault(path, [])
        rows.append((step, time, np.array(value, copy=True)))
        if len(rows) >= self.PENDING_ROWS:
            self._write_pending(path)

    def _write_pending(self, path):
        rows = self._pending.pop(path, [])
        if not rows:
            return
        try:
            if path not in self._open:
                group = self.file[path]
                self._open[path] = (group["step"], group["time"], group["value"])
            self._write_rows(*self._open[path], rows)
        except (OSError, RuntimeError) as err:
            raise WriteError(self.path, err) from None

    @staticmethod
    def _write_rows(step, time, value, rows):
        n, m = step.shape[0], len(rows)
        for ds in (step, time, value):
            ds.resize(n + m, axis=0)
        step[n:] = [r[0] for r in rows]
        time[n:] = [r[1] for r in rows]
        value[n:] = np.stack([r[2] for r in rows])

    def append_frame(self, step, time, pos):
        """One frame: positions (N, 3) nm and, at the same step and time (ps), the box
        edges (3,) nm. The edges get their own step/time datasets rather than hard links
        to the position's (H5MD allows either): `_write_pending` resizes each series'
        step/time, which a shared dataset would see resized twice."""
        self._append("particles/ions/position", step, time, pos)
        self._append("particles/ions/box/edges", step, time, self._box_edges)

    def append_observable(self, name, step, time, value):
        self._append(f"observables/{name}", step, time, value)

    def append_crossings(self, rows: dict[str, np.ndarray]):
        self.append_events("crossings", rows)

    def append_events(self, table: str, rows: dict[str, np.ndarray]):
        """Rows (field -> (n,) array) at the end of /ionsim/<table> (EVENT_TABLES)."""
        path = f"ionsim/{table}"
        try:
            if path not in self._open:
                if path not in self.file:
                    self._create_events(table)
                group = self.file[path]
                self._open[path] = tuple(group[name] for name in EVENT_TABLES[table])
            datasets = self._open[path]
            n, m = datasets[0].shape[0], len(rows["step"])
            for name, ds in zip(EVENT_TABLES[table], datasets):
                ds.resize(n + m, axis=0)
                ds[n:] = rows[name]
        except (OSError, RuntimeError) as err:
            raise WriteError(self.path, err) from None

    def flush(self):
        """Write every waiting sample, then flush HDF5's buffers to the operating system."""
        for path in list(self._pending):
            self._write_pending(path)
        try:
            self.file.flush()
        except (OSError, RuntimeError) as err:
            raise WriteError(self.path, err) from None

    def sync(self):
        """flush(), then fsync: the file is on the disk before a checkpoint points into it."""
        self.flush()
        try:
            os.fsync(self.file.id.get_vfd_handle())
        except OSError as err:
            raise WriteError(self.path, err) from None

    def close(self):
        """Flush and close; nothing after abandon() or a close (safe to call twice)."""
        if not self._abandoned and self.file.id.valid:
            self.flush()
            self._open.clear()
            self.file.close()

    def abandon(self):
        """Close after a failed write without writing more: what reached the file up to the
        last checkpoint stays readable, and a resume drops anything after it."""
        self._abandoned = True
        self._pending.clear()
        self._open.clear()
        try:
            if self.file.id.valid:
                self.file.close()
        except (OSError, RuntimeError):
            pass  # HDF5 retries its failed flush on close; the file is given up either way

    def _truncate_after(self, step, keep_step=True):
        """On resume, drop whatever was written after the checkpoint's step (the samples
        of that step too, for a checkpoint taken before its step was observed)."""
        last = step if keep_step else step - 1
        def trim(group, keep_step_le):
            steps = group["step"][:]
            n = int(np.searchsorted(steps, keep_step_le, side="right"))
            for key in group:
                if isinstance(group[key], h5py.Dataset) and group[key].shape[0] > n:
                    group[key].resize(n, axis=0)
        trim(self.file["particles/ions/position"], last)
        box = self.file["particles/ions/box"]
        if isinstance(box["edges"], h5py.Dataset):
            # A file from before the edges were a time series: convert it, one value per
            # frame kept, so that the resumed file is one MDAnalysis reads.
            self._box_edges = np.array(box["edges"][:], dtype=np.float64)
            del box["edges"]
            g = self._series(box, "edges", (3,), np.float64, "nm")
            pos = self.file["particles/ions/position"]
            n = pos["step"].shape[0]
            for key in ("step", "time", "value"):
                g[key].resize(n, axis=0)
            if n:
                g["step"][:], g["time"][:] = pos["step"][:], pos["time"][:]
                g["value"][:] = np.broadcast_to(self._box_edges, (n, 3))
        else:
            # The box of the frames to come (append_frame): the one written before (read
            # before trimming, which may drop every frame), or where the run was killed
            # before its first frame reached the file, the scenario stored with it.
            values = box["edges/value"]
            if values.shape[0]:
                self._box_edges = np.array(values[0], dtype=np.float64)
            else:
                stored = yaml.safe_load(self.file["parameters/ionsim"].attrs["scenario_yaml"])
                self._box_edges = np.array(parse_scenario(stored, str(self.path)).box,
                                           dtype=np.float64)
            trim(box["edges"], last)
        for name in self.file["observables"]:
            trim(self.file["observables"][name], last)
        for table in EVENT_TABLES:
            if f"ionsim/{table}" in self.file:
                trim(self.file[f"ionsim/{table}"], step)


def save_checkpoint(run_dir: Path, state: dict) -> None:
    """Atomically write the state needed to continue a run exactly (WriteError if the disk
    refuses; the previous checkpoint is then left as it was)."""
    import io
    buf = io.BytesIO()
    np.savez(buf, **state)
    path = Path(run_dir) / CHECKPOINT
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as err:
        raise WriteError(path, err) from None


def load_checkpoint(run_dir: Path) -> dict:
    with np.load(Path(run_dir) / CHECKPOINT) as data:
        return {k: data[k] for k in data.files}


def _open_for_reading(path):
    """Open read-only without HDF5's file lock, so that a run still being written can be
    inspected; what it shows is the state at the run's last flush (every checkpoint)."""
    return h5py.File(path, "r", locking=False)


def _read_summary(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def summary_readable(run_dir) -> bool:
    """Whether RUN_DIR/summary.json exists and holds a JSON object."""
    return _read_summary(Path(run_dir) / SUMMARY) is not None


def salvage_hint(run_dir) -> str:
    """What can still be saved of a run directory whose trajectory is damaged."""
    run_dir = Path(run_dir)
    try:
        step = int(load_checkpoint(run_dir)["step"])
    except Exception:  # noqa: BLE001 - no usable checkpoint either
        return ("no readable checkpoint either: the run must be made again (its "
                "scenario.yaml reproduces it bit for bit)")
    try:
        finished = step >= read_scenario(run_dir).run.steps
    except UserError:
        finished = False
    if finished:
        return (f"the run had finished (its final state at step {step} is in {CHECKPOINT}), "
                f"but the time series are lost: `ionsim run {run_dir / SCENARIO} --out NEW` "
                f"makes them again bit for bit")
    return (f"its checkpoint at step {step} is intact: `ionsim resume {run_dir} "
            f"--new-trajectory` continues the run from there into a new trajectory.h5 (the "
            f"damaged file is kept beside it)")


@dataclass
class Series:
    """One observable time series: step (T,), time (T,) ps, value (T, ...) in `unit`."""
    step: np.ndarray
    time: np.ndarray
    value: np.ndarray
    unit: str


def _read_table(f, table: str) -> dict[str, np.ndarray]:
    path = f"ionsim/{table}"
    if path in f:
        return {k: f[path][k][:] for k in EVENT_TABLES[table]}
    return {k: np.zeros(0, dtype=np.float64 if k in _FLOAT_FIELDS else np.int64)
            for k in EVENT_TABLES[table]}


class RunData:
    """Read access to a finished (or interrupted) run directory.

    >>> run = RunData("runs/potassium")
    >>> vm = run.observable("membrane_potential")      # Series, mV
    >>> frames = run.positions()                        # (F, N, 3) nm
    """

    def __init__(self, run_dir):
        self.dir = Path(run_dir)
        path = self.dir / TRAJECTORY
        if not path.exists():
            raise FileNotFoundError(f"{run_dir}: no {TRAJECTORY} (not an ionsim run directory)")
        self.scenario = read_scenario(self.dir)
        with _open_for_reading(path) as f:
            ions = f["particles/ions"]
            # box (3,) nm: the first value of the edges series; a plain dataset in files
            # written before the edges were a time series, or the scenario's before a frame
            edges = ions["box/edges"]
            self.box = (edges[:] if isinstance(edges, h5py.Dataset)
                        else edges["value"][0] if edges["value"].shape[0]
                        else np.array(self.scenario.box, dtype=np.float64))
            self.species = ions["species"][:].astype(np.int64)
            self.charges = ions["charge"][:]
            self.frame_steps = ions["position/step"][:]
            self.frame_times = ions["position/time"][:]
            self.observable_names = sorted(f["observables"].keys())
            self.crossings = {k: f["ionsim/crossings"][k][:] for k in CROSSING_FIELDS}
            # the agents' tables (empty where the run has none)
            self.events = {table: _read_table(f, table) for table in EVENT_TABLES}
        self.species_names = [s.name for s in self.scenario.species]
        self.compartment_names = [c.name for c in self.scenario.compartments]
        # summary.json is derived data: a damaged one leaves the run readable
        self.summary = _read_summary(self.dir / SUMMARY)

    def observable(self, name: str) -> Series:
        if name not in self.observable_names:
            raise KeyError(f"{self.dir}: no observable {name!r}; have "
                           f"{', '.join(self.observable_names)}")
        with self._reading() as f:
            g = f["observables"][name]
            return Series(g["step"][:], g["time"][:], g["value"][:],
                          str(g["value"].attrs.get("unit", "")))

    def observable_attrs(self, name: str) -> dict:
        """The attributes an observable's group carries (e.g. ``face_density``'s bin edges
        and faces, :class:`sim.writers.ObservableWriter`), as numpy values."""
        if name not in self.observable_names:
            raise KeyError(f"{self.dir}: no observable {name!r}; have "
                           f"{', '.join(self.observable_names)}")
        with self._reading() as f:
            return {k: np.asarray(v) for k, v in f["observables"][name].attrs.items()}

    def positions(self, frames=slice(None)) -> np.ndarray:
        """Positions (F, N, 3) nm of the selected frames."""
        with self._reading() as f:
            return f["particles/ions/position/value"][frames].astype(np.float64)

    @contextmanager
    def _reading(self):
        """The trajectory open for reading; damage found only now (a truncated dataset) is
        a UserError naming the file, not a traceback."""
        path = self.dir / TRAJECTORY
        try:
            with _open_for_reading(path) as f:
                yield f
        except (OSError, RuntimeError) as err:
            raise UserError(f"{path}: cannot be read ({_errno_text(err)}); "
                            f"{salvage_hint(self.dir)}") from None

    @property
    def n_frames(self) -> int:
        return len(self.frame_steps)
