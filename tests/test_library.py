"""The scenario library ships with the package: every file in scenarios/ is package data and
listed by name; a name works from any directory (``ionsim check potassium``), a path still
wins; an unknown name is one line with exit code 2; a wheel carries the YAML files."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from sim import library
from sim.cli import main
from sim.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
tomllib = pytest.importorskip("tomllib")  # Python 3.11+
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _shipped_files() -> list[str]:
    """Every file in the source tree's scenarios/ (posix, relative), bytecode left out."""
    return sorted(p.relative_to(SCENARIOS).as_posix() for p in SCENARIOS.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def _names_of_files() -> set[str]:
    """Scenario names of the shipped files (scenarios/sweeps/ holds sweep files)."""
    return {f[:-len(".yaml")] for f in _shipped_files()
            if f.endswith(".yaml") and not f.startswith(library.SWEEPS + "/")}


def test_every_shipped_sweep_is_listed_by_name_and_plans():
    from sim.sweep import load_sweep
    files = {f[len(library.SWEEPS) + 1:-len(".yaml")] for f in _shipped_files()
             if f.startswith(library.SWEEPS + "/") and f.endswith(".yaml")}
    assert set(library.sweep_names()) == files and "nernst_slope" in files
    for name in files:
        sweep = load_sweep(name)
        assert sweep.members and library.resolve_sweep(f"sweeps/{name}.yaml") == \
            library.resolve_sweep(name)


def _subprocess(args, cwd):
    """``python -m sim ARGS`` in cwd. PYTHONPATH names the source tree because an editable
    install made before scenarios/ became a package does not map it (reinstall to fix);
    the wheel test below checks the packaging itself."""
    env = {**os.environ, "NUMBA_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


# ------------------------------------------------------------------------ packaging
def test_every_scenario_file_is_package_data():
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert "scenarios*" in setuptools["packages"]["find"]["include"]
    patterns = setuptools["package-data"]["scenarios"]
    covered = {f for pattern in patterns
               for f in glob.glob(pattern, root_dir=SCENARIOS, recursive=False)}
    # __init__.py is shipped as the package's module, not as data.
    missing = [f for f in _shipped_files() if f not in covered and f != "__init__.py"]
    assert not missing, f"not in [tool.setuptools.package-data] scenarios: {missing}"


def test_every_scenario_is_listed_by_name():
    assert set(library.names()) == _names_of_files()
    assert "potassium" in library.names()
    assert any(n.startswith("depth_series/") for n in library.names())
    for name in library.names():
        assert library.path(name).is_file()


# ------------------------------------------------------------------------ resolution
def test_a_name_resolves_with_or_without_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert library.resolve("potassium") == library.path("potassium")
    assert library.resolve("potassium.yaml") == library.path("potassium")
    depth = sorted(n for n in library.names() if n.startswith("depth_series/"))[0]
    assert library.resolve(depth + ".yaml").read_bytes() == (SCENARIOS / f"{depth}.yaml"
                                                             ).read_bytes()


def test_an_existing_file_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "potassium.yaml").write_text("mine")
    assert library.resolve("potassium.yaml") == "potassium.yaml"  # as given, for messages
    assert library.resolve(str(SCENARIOS / "calcium.yaml")) == str(SCENARIOS / "calcium.yaml")


def test_an_unknown_name_lists_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as err:
        library.resolve("potasium")
    message = str(err.value)
    assert message.startswith("potasium: no such file")
    assert "potassium" in message and "depth_series/" in message and "\n" not in message
    with pytest.raises(ScenarioError):
        library.resolve("../scenarios/potassium")  # a name is one of the list, not a path


# ------------------------------------------------------------------------ command line
def test_check_by_name_from_any_directory(tmp_path):
    depth = sorted(n for n in library.names() if n.startswith("depth_series/"))[0]
    for name in ("potassium", depth):
        proc = _subprocess(["check", name], cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("scenario "), proc.stdout
        assert ": valid" in proc.stdout.splitlines()[0]


def test_an_unknown_name_exits_2_with_one_line(tmp_path):
    proc = _subprocess(["check", "no_such_scenario"], cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("ionsim: error: no_such_scenario: no such file")
    assert "potassium" in proc.stderr


def test_run_by_name_writes_runs_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "potassium", "--steps", "2", "--quiet"]) == 0
    assert (tmp_path / "runs" / "potassium" / "trajectory.h5").is_file()


# ------------------------------------------------------------------------ the wheel
def _build_requirements_unmet() -> list[str]:
    """The build-system requirements this interpreter does not satisfy."""
    from packaging.requirements import Requirement
    unmet = []
    for text in PYPROJECT["build-system"]["requires"]:
        req = Requirement(text)
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is None or not req.specifier.contains(installed, prereleases=True):
            unmet.append(f"{text} (installed: {installed})")
    return unmet


def test_the_wheel_carries_the_scenarios(tmp_path):
    unmet = _build_requirements_unmet()
    if unmet:
        pytest.skip(f"cannot build without isolation: {', '.join(unmet)}")
    # Build from a copy: an in-place build leaves build/ in the tree, whose stale files a
    # later build would ship.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", "build", "dist", "runs", "*.egg-info", "__pycache__",
        ".pytest_cache"))
    out = tmp_path / "wheel"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("ionsim-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        contents = set(zf.namelist())
    expected = {f"scenarios/{f}" for f in _shipped_files()}
    assert expected <= contents, sorted(expected - contents)
