"""Run directories kept safe: what is one, who may write it, and that its files belong together.

A run never deletes what it did not write:

- :func:`claim` is the only way a run gets its directory. A directory that does not exist or
  is empty is taken; an existing *run directory* (one that ionsim wrote, see
  :func:`is_run_directory`) is replaced only with ``force`` and then only the files ionsim
  writes (:data:`RUN_FILES`, :data:`RUN_FILE_PATTERNS`) are removed; anything else (a user's
  own folder, a scenario file beside notes, ``.``) is refused.
- The claim holds an exclusive lock (``flock`` on :data:`LOCK`, which names the owner's pid)
  until the run ends; a second writer is refused, and a killed owner releases it at once
  (the kernel drops a dead process's locks, so a lock is never stale).
- Every file of a run carries the run's id (:func:`new_run_id`): a header line of
  ``scenario.yaml``, an attribute of ``trajectory.h5``, a field of ``checkpoint.npz`` and
  ``summary.json``. :func:`check_consistent` refuses a directory whose files name
  different runs (two runs written into one place).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

SCENARIO = "scenario.yaml"
TRAJECTORY = "trajectory.h5"
CHECKPOINT = "checkpoint.npz"
SUMMARY = "summary.json"
TOPOLOGY = "topology.pdb"
LOCK = ".ionsim.lock"
RESERVE = ".ionsim.reserve"

#: Every file ionsim writes into a run directory (the only ones ``--force`` removes).
RUN_FILES = (SCENARIO, TRAJECTORY, CHECKPOINT, SUMMARY, TOPOLOGY, "report.md", "report.html",
             "animation.mp4", "animation.gif", "animation.png")
#: Patterns of files ionsim writes: report plots and atomic-write temp files (``.NAME.xxxx``).
RUN_FILE_PATTERNS = (re.compile(r"report_[a-z_]+\.png"),
                     re.compile(r"\.(%s)\..+" % "|".join(re.escape(n) for n in RUN_FILES)))
#: The header line of a run's scenario.yaml that carries the run id.
RUN_ID_PREFIX = "# ionsim run id: "


def new_run_id() -> str:
    """A fresh random run id (32 hex digits)."""
    return uuid.uuid4().hex


def _written_by_ionsim(name: str) -> bool:
    return name in RUN_FILES or name in (LOCK, RESERVE) or any(p.fullmatch(name) for p in RUN_FILE_PATTERNS)


def scenario_run_id(path: Path) -> str | None:
    """The run id in a run's scenario.yaml header, or None (no header: not written by a run)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
    except OSError:
        return None
    for line in head.splitlines()[:3]:
        if line.startswith(RUN_ID_PREFIX):
            return line[len(RUN_ID_PREFIX):].strip() or None
    return None


def _trajectory_by_ionsim(path: Path) -> bool:
    """Whether an HDF5 file says ionsim created it (H5MD's /h5md/creator name)."""
    try:
        import h5py
        with h5py.File(path, "r", locking=False) as f:
            return f["h5md/creator"].attrs.get("name") in ("ionsim", b"ionsim")
    except Exception:  # noqa: BLE001 - unreadable or foreign: not evidence of a run
        return False


def is_run_directory(path: Path) -> bool:
    """A directory that ionsim wrote: its scenario.yaml carries a run id, its trajectory
    names ionsim as creator (runs from before run ids), or it holds ionsim's lock file and
    nothing but ionsim's files (a run killed before it wrote anything else)."""
    path = Path(path)
    if not path.is_dir():
        return False
    if scenario_run_id(path / SCENARIO) is not None:
        return True
    if (path / TRAJECTORY).is_file() and _trajectory_by_ionsim(path / TRAJECTORY):
        return True
    names = [p.name for p in path.iterdir()]
    return LOCK in names and all(_written_by_ionsim(n) for n in names)


class RunLock:
    """An exclusive ``flock`` on RUN_DIR/.ionsim.lock, holding the owner's pid.

    ``acquire`` raises UserError when another process holds it. The lock lives as long as
    the open file: ``release`` (or the owner's death) frees it.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        import fcntl
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UserError(f"{self.path.parent}: in use by another ionsim process (pid "
                            f"{owner}); wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class DiskReserve:
    """Disk space set aside while a run writes (RUN_DIR/.ionsim.reserve, RESERVE_BYTES).

    When the disk fills up, HDF5 still holds unwritten metadata and chunks; closing the
    file then fails again and the library crashes at exit. Giving this space back first
    lets the trajectory close cleanly, readable up to the last checkpoint. Databases keep
    such a reserve for the same reason.
    """

    RESERVE_BYTES = 16 << 20  # > HDF5's metadata plus the chunks a run has in its caches

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / RESERVE
        with open(self.path, "wb") as fh:
            try:
                os.posix_fallocate(fh.fileno(), 0, self.RESERVE_BYTES)
            except (AttributeError, OSError) as err:
                if isinstance(err, OSError) and err.errno == 28:  # ENOSPC: no room at all
                    raise
                fh.write(bytes(self.RESERVE_BYTES))  # no fallocate on this filesystem

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class Claim:
    """A run directory this process may write: its path, the held lock."""
    run_dir: Path
    lock: RunLock

    def release(self) -> None:
        self.lock.release()


def _refuse_not_a_run(path: Path, flag: str) -> None:
    from .sweep import is_sweep_directory
    if is_sweep_directory(path):
        raise UserError(f"{flag}: {path} holds a sweep or replica directory (ionsim sweep, "
                        f"ionsim run --replicas), not one run; nothing was changed: run with "
                        f"--replicas to continue it, or choose another --out")
    raise UserError(f"{flag}: {path} is a non-empty directory that ionsim did not write "
                    f"(its files are not an ionsim run); nothing was changed: choose a new "
                    f"or empty directory")


def claim(run_dir, force: bool = False, resume: bool = False, flag: str = "--out") -> Claim:
    """Take run_dir for a new run (or, with ``resume``, for continuing the run in it).

    Args:
        run_dir: the run directory; created when missing.
        force: replace an existing run directory (removing only ionsim's files in it).
        resume: the directory must be a run directory; nothing is removed.
        flag: the option named in error messages.

    Raises:
        UserError: a file, a directory ionsim did not write, an existing run without
            ``force``, or a directory another process is writing. Nothing is changed then.
    """
    path = Path(run_dir)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag}: {path} exists and is not a directory")
    existed = path.is_dir()
    if existed and not resume and any(path.iterdir()):
        if not is_run_directory(path):
            _refuse_not_a_run(path, flag)
        if not force:
            raise UserError(f"{flag}: {path} holds an earlier run; nothing was changed: "
                            f"pass --force to replace it, `ionsim resume {path}` to continue "
                            f"it, or choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
        had_lock = (path / LOCK).exists()
        lock = RunLock(path).acquire()
    except OSError as err:
        raise UserError(f"{flag}: cannot create the run directory {path}: "
                        f"{err.strerror or err}") from None
    # Looked at again under the lock: another process may have written here meanwhile.
    names = [p.name for p in path.iterdir() if p.name != LOCK]
    if names and not resume and not is_run_directory(path):
        lock.release()
        if not had_lock:
            (path / LOCK).unlink(missing_ok=True)
        _refuse_not_a_run(path, flag)
    if force and not resume:
        remove_run_files(path)
    else:
        remove_stale_temp_files(path)
    return Claim(path, lock)


def remove_run_files(path: Path) -> list[str]:
    """Delete the files ionsim writes in a run directory (never anything else); returns the
    names of the files left in place."""
    kept = []
    for p in Path(path).iterdir():
        if p.name == LOCK:
            continue
        if p.is_file() and _written_by_ionsim(p.name):
            p.unlink()
        else:
            kept.append(p.name)
    return sorted(kept)


def remove_stale_temp_files(path: Path) -> None:
    """Remove half-written temp files (``.checkpoint.npz.xxxx``) of a killed atomic write,
    and the disk reserve a killed run left behind."""
    temp = RUN_FILE_PATTERNS[1]
    for p in Path(path).iterdir():
        if p.is_file() and (temp.fullmatch(p.name) or p.name == RESERVE):
            p.unlink()


def run_ids(run_dir: Path) -> dict[str, str]:
    """The run id each file of a run directory names (files without one are left out)."""
    run_dir = Path(run_dir)
    ids = {}
    sid = scenario_run_id(run_dir / SCENARIO)
    if sid:
        ids[SCENARIO] = sid
    traj = run_dir / TRAJECTORY
    if traj.is_file():
        try:
            import h5py
            with h5py.File(traj, "r", locking=False) as f:
                value = f["parameters/ionsim"].attrs.get("run_id")
            if value is not None:
                ids[TRAJECTORY] = value.decode() if isinstance(value, bytes) else str(value)
        except Exception:  # noqa: BLE001 - an unreadable file is reported by its reader
            pass
    ckpt = run_dir / CHECKPOINT
    if ckpt.is_file():
        try:
            import numpy as np
            with np.load(ckpt) as data:
                if "run_id" in data.files:
                    ids[CHECKPOINT] = str(data["run_id"])
        except Exception:  # noqa: BLE001
            pass
    summary = run_dir / SUMMARY
    if summary.is_file():
        try:
            value = json.loads(summary.read_text()).get("run_id")
            if value:
                ids[SUMMARY] = str(value)
        except Exception:  # noqa: BLE001
            pass
    return ids


def check_consistent(run_dir: Path) -> str | None:
    """The run id shared by the files of run_dir (None for a run from before run ids).

    Raises:
        UserError: the files name different runs (two runs wrote into one directory).
    """
    ids = run_ids(run_dir)
    distinct = sorted(set(ids.values()))
    if len(distinct) > 1:
        listing = ", ".join(f"{name} from run {rid[:8]}" for name, rid in sorted(ids.items()))
        raise UserError(f"{run_dir}: its files come from different runs ({listing}); two "
                        f"runs wrote into this directory, so it cannot be analysed or "
                        f"resumed: run the scenario again into a new directory")
    return distinct[0] if distinct else None


def default_out(scenario) -> Path:
    """runs/<name>; the scenario reader allows only plain names, checked here again because
    a path outside runs/ could hold anything."""
    runs = Path("runs")
    out = runs / scenario.name
    if out.resolve().parent != runs.resolve():
        raise UserError(f"{scenario.source}: name: {scenario.name!r} would place the run "
                        f"outside runs/; use a plain name or --out")
    return out
