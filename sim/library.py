"""The scenario library that ships with ionsim: the YAML files of the top-level ``scenarios``
package, called by name.

A name is a file's path inside scenarios/ without ``.yaml``: ``potassium``,
``depth_series/inside_02nm``. :func:`resolve` turns a command-line scenario argument into a
file: an existing file wins (a path works as it always has), then a shipped name (with or
without ``.yaml``); anything else is a one-line :class:`~sim.errors.ScenarioError` that lists
the names.

The files are found with importlib.resources, not relative to the working directory or to
this file, so the same names work from any directory, from a wheel, an editable install or
the source tree alike.
"""

from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from pathlib import Path

from .errors import ScenarioError, UserError

__all__ = ["PACKAGE", "SUFFIX", "SWEEPS", "directory", "names", "path", "resolve",
           "sweep_names", "resolve_sweep"]

PACKAGE = "scenarios"
SUFFIX = ".yaml"
SWEEPS = "sweeps"  # scenarios/sweeps/ holds sweep files (sim.sweep), not scenarios

# Files extracted from a non-file-system install (a zip) must outlive the call that asked
# for them: load_scenario opens the path later. pip unpacks wheels, so this stays empty.
_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def _on_disk(resource) -> Path:
    """A real file-system path for a Traversable (itself where the package is unpacked)."""
    if isinstance(resource, Path):
        return resource
    return _extracted.enter_context(resources.as_file(resource))  # pragma: no cover


def _root():
    """The package's Traversable. An install older than the library (an editable install
    maps its top-level packages when it is made) lacks the package: say so in one line."""
    try:
        return resources.files(PACKAGE)
    except ModuleNotFoundError as err:
        if err.name != PACKAGE:
            raise
        raise UserError(f"the shipped scenario library (package {PACKAGE!r}) is not "
                        f"installed; reinstall ionsim (pip install .)") from None


def directory() -> Path:
    """The shipped scenarios/ folder (a Path: the validation cases glob and read it)."""
    return _on_disk(_root())


def _names(top, skip=()) -> list[str]:
    found = []

    def walk(folder, prefix):
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.name.startswith(("_", ".")) \
                    and not (prefix == "" and entry.name in skip):  # __pycache__, sweeps/
                walk(entry, f"{prefix}{entry.name}/")
            elif entry.is_file() and entry.name.endswith(SUFFIX):
                found.append(prefix + entry.name[:-len(SUFFIX)])

    walk(top, "")
    return sorted(found, key=lambda n: (n.count("/"), n))


def names() -> list[str]:
    """The shipped scenarios by name: top-level files first, then each subfolder's (not
    the sweep files of scenarios/sweeps/)."""
    return _names(_root(), skip=(SWEEPS,))


def sweep_names() -> list[str]:
    """The shipped sweep files (scenarios/sweeps/) by name: ``nernst_slope``."""
    return _names(_root().joinpath(SWEEPS))


def resolve_sweep(argument: str | Path) -> str | Path:
    """The sweep file an argument means: an existing file, else a shipped sweep's name
    (``nernst_slope`` or ``sweeps/nernst_slope``, ``.yaml`` optional)."""
    given = Path(argument)
    try:
        if given.exists():
            return argument
    except (OSError, ValueError):
        return argument
    name = str(argument).replace("\\", "/")
    name = name[:-len(SUFFIX)] if name.endswith(SUFFIX) else name
    name = name[len(SWEEPS) + 1:] if name.startswith(SWEEPS + "/") else name
    if name in sweep_names():
        return _on_disk(_root().joinpath(SWEEPS, *name.split("/")[:-1],
                                         name.split("/")[-1] + SUFFIX))
    raise ScenarioError(str(argument), "", f"no such file, and no shipped sweep of that name "
                                           f"(shipped: {', '.join(sweep_names()) or 'none'})")


def path(name: str) -> Path:
    """The file of the shipped scenario `name` (e.g. ``depth_series/inside_02nm``)."""
    if name not in names():  # also keeps '..' and absolute paths out of the package
        raise ScenarioError(name, "", f"no shipped scenario of that name ({_listing()})")
    *folders, stem = name.split("/")
    return _on_disk(_root().joinpath(*folders, stem + SUFFIX))


def resolve(argument: str | Path) -> str | Path:
    """The scenario file a command-line argument means: an existing file, else the shipped
    scenario of that name (``.yaml`` optional). A path is returned as given, so that error
    messages name it as the user wrote it; an existing non-file (a directory, a FIFO) and a
    path that cannot even be examined are passed on too, for load_scenario to report what
    is wrong with them as it always has."""
    given = Path(argument)
    try:
        if given.is_file():
            return argument
        exists = given.exists()
    except (OSError, ValueError):  # e.g. a name too long for the file system
        return argument
    name = str(argument).replace("\\", "/")
    name = name[:-len(SUFFIX)] if name.endswith(SUFFIX) else name
    if name in names():
        return path(name)
    if exists:
        return argument
    raise ScenarioError(str(argument), "", f"no such file, and no shipped scenario of that "
                                           f"name ({_listing()})")


def _listing() -> str:
    """The names, short: the top-level ones, then each subfolder once with its files."""
    top, folders = [], {}
    for n in names():
        folder, _, stem = n.rpartition("/")
        if folder:
            folders.setdefault(folder, []).append(stem)
        else:
            top.append(n)
    parts = [", ".join(top)] + [f"in {folder}/: {', '.join(stems)}"
                                for folder, stems in folders.items()]
    return "shipped: " + "; ".join(parts)
