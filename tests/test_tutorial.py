"""docs/tutorial.ipynb runs from top to bottom (with a short DURATION) and draws its plot."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"
DURATION = "0.05 ns"  # 1000 steps of the flagship: a few seconds once the engine is compiled
CELL_TIMEOUT_S = 240  # a cold Numba cache compiles the engine in the run cell (~20 s)


def _kernel_here(tmp_path, monkeypatch) -> str:
    """A kernel spec running this interpreter (ahead of any user's `python3` spec, which may
    be another Python without ionsim)."""
    spec = tmp_path / "jupyter" / "kernels" / "ionsim-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ionsim tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "ionsim-test"


def test_the_tutorial_notebook_runs_and_draws_the_two_curves(tmp_path, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    parameters = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and parameters[0].source.startswith("DURATION = ")
    parameters[0].source = f"DURATION = {DURATION!r}"

    work = tmp_path / "work"
    work.mkdir()
    NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name=_kernel_here(tmp_path, monkeypatch),
                   resources={"metadata": {"path": str(work)}}).execute()  # raises on an error

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    plot = [c for c in code if "plot_lecture_curves(" in c.source]
    assert len(plot) == 1
    assert any("image/png" in o.get("data", {}) for o in plot[0].outputs), plot[0].outputs
    summary = json.loads((work / "runs" / "tutorial" / "summary.json").read_text())
    assert summary["steps"] == 1000 and summary["scenario"] == "potassium"
    printed = "".join(o.get("text", "") for c in code for o in c.outputs)
    assert "Nernst, initial concentrations" in printed  # the table of `ionsim analyze`
    assert "Ions that crossed in the simulation box" in printed  # and of `ionsim budget`
