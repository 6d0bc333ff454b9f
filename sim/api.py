"""A Python API for notebooks and scripts: the objects the ``ionsim`` commands use, in a few
calls.

    from sim import api as ionsim
    sc = ionsim.load("potassium")                       # a shipped name or a path
    sc = ionsim.with_values(sc, {"compartments[1].concentrations.K+": "15 mM",
                                 "compartments[1].concentrations.A-": "15 mM"})
    run = ionsim.run(sc, "runs/k15", duration="2 ns")   # a run directory, as `ionsim run`
    print(ionsim.analyze(run))                          # the table of `ionsim analyze`
    fig = ionsim.plot_lecture_curves(run)               # a matplotlib Figure
    print(ionsim.budget(run))                           # the tables of `ionsim budget`
    pooled = ionsim.sweep("nernst_slope")               # `ionsim sweep`, pooled
    pooled = ionsim.sweep("potassium", replicas=4)      # `ionsim run --replicas 4`

- :func:`load` reads a scenario as ``ionsim run`` does (a file, or a shipped name:
  :func:`sim.library.resolve`), to a validated :class:`~sim.scenario.Scenario`.
- :func:`with_values` changes values by key path and validates the result again, so a bad
  value is the usual :class:`~sim.errors.ScenarioError` naming its key.
- :func:`run` simulates into a run directory exactly as ``ionsim run`` does (the directory
  is claimed with the same rules, ``force`` as ``--force``; summary.json and the closing
  table are written by :func:`sim.report.finish_run`) and returns the run as a
  :class:`~sim.io.RunData`. The same scenario, steps and seed give the same files as the
  command, bit for bit.
- :func:`analyze` and :func:`budget` return a :class:`Printout`: the text the command prints
  (``str()``, shown by a notebook as it is) and the object it was made from (``.result``).
  :func:`plot_lecture_curves` returns the figure ``ionsim report`` draws first.

Errors are those of the commands: a :class:`~sim.errors.UserError` (a ScenarioError among
them) for what the user asked, ``sim.run.SimulationError`` for a run that became unphysical,
:class:`~sim.errors.RunStopped` for a full disk. This module sits at the top layer, beside
the command line (:mod:`sim.cli`): it imports the analysis package only when asked to
analyse, so loading and running need only the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import __version__, library, rundir
from .errors import UserError
from .io import RunData
from .scenario import Scenario, load_scenario
from .variations import set_value, with_values

__all__ = ["load", "with_values", "set_value", "run", "sweep", "open_run", "analyze",
           "budget", "plot_lecture_curves", "Printout"]


def load(scenario: str | Path) -> Scenario:
    """A scenario file, or the name of a shipped one (``"potassium"``,
    ``"depth_series/inside_02nm"``; a file of that name wins), read and validated.

    Raises:
        ScenarioError: no such file or name, or an invalid scenario (naming the key).
    """
    return load_scenario(library.resolve(scenario))


# --- running ---------------------------------------------------------------------------------

def run(scenario: Scenario | str | Path, run_dir: str | Path | None = None, *,
        duration: str | None = None, steps: int | None = None, seed: int | None = None,
        force: bool = False, yes: bool = False, quiet: bool = False) -> RunData:
    """Simulate a scenario into a run directory, as ``ionsim run`` does, and open it.

    Args:
        scenario: a Scenario, or a file or shipped name (:func:`load`).
        run_dir: the run directory (default ``runs/<name>``); a new or empty directory, or an
            earlier run with ``force`` (only ionsim's files in it are removed).
        duration: simulated time with a unit (``"2 ns"``), instead of the scenario's.
        steps: the number of steps instead (give one of ``duration`` and ``steps``).
        seed: the seed of the random numbers instead of ``run.seed``.
        force, yes: as ``--force`` and ``--yes``.
        quiet: no progress bar (shown on a terminal only) and no closing table.

    Returns:
        the finished run (:class:`~sim.io.RunData`: ``.dir``, ``.scenario``, ``.summary``,
        ``.observable(name)``); :func:`analyze`, :func:`budget` and
        :func:`plot_lecture_curves` take it, or its directory.

    Raises:
        UserError: a bad duration, steps or seed, a scenario too large (without ``yes``), a
            run directory that cannot be taken.
        sim.run.SimulationError: the run became unphysical (what it wrote is kept).
    """
    from .cli import default_out, finish, with_run_options
    from .run import run_scenario
    sc = scenario if isinstance(scenario, Scenario) else load(scenario)
    sc = with_run_options(sc, steps, seed, duration, yes, flag="")
    out = Path(run_dir) if run_dir is not None else default_out(sc)
    claim = rundir.claim(out, force=force, flag="run_dir")
    say = (lambda *a: None) if quiet else print
    try:
        say(f"ionsim {__version__}: {sc.name} -> {out}")
        finish(run_scenario(sc, out, quiet=quiet, log=say, claim=claim), say)
    finally:
        claim.release()
    return RunData(out)


def sweep(sweep_or_scenario, out: str | Path | None = None, *, replicas: int | None = None,
          client=None, workers: int | None = None, yes: bool = False, quiet: bool = True):
    """Run a sweep file (``ionsim sweep``), or replicas of a scenario (``ionsim run
    --replicas``), on dask.distributed, and pool it.

    Args:
        sweep_or_scenario: a sweep file or shipped sweep name (``"nernst_slope"``); or, with
            ``replicas``, a Scenario, scenario file or shipped scenario name.
        out: the sweep directory (default ``runs/<sweep file name>`` or ``runs/<name>``);
            run again, it skips finished runs and resumes interrupted ones.
        replicas: run this many replicas of a scenario instead of a sweep file.
        client: a ``distributed.Client`` to run on (never closed here); default: a
            LocalCluster of ``workers`` processes (one per core).
        yes: allow more than sim.sweep.MAX_RUNS runs, or larger runs.
        quiet: no progress bar.

    Returns:
        the pooled sweep (:class:`analysis.pooled.PooledSweep`: ``.points``, each with
        ``.vm_mean``, ``.vm_se``, ``.nernst``); ``analyze(out)`` prints its table.
    """
    from analysis.pooled import pool

    from .ensemble import run_sweep
    from .sweep import load_sweep, replicas_of
    if replicas is not None:
        sc = sweep_or_scenario if isinstance(sweep_or_scenario, Scenario) \
            else load(sweep_or_scenario)
        plan = replicas_of(sc, replicas, source="replicas")
        out = Path(out) if out is not None else rundir.default_out(sc)
    else:
        plan = load_sweep(sweep_or_scenario)
        out = Path(out) if out is not None else plan.default_directory()
    run_sweep(plan, out, client=client, workers=workers, quiet=quiet, yes=yes,
              log=(lambda *a: None) if quiet else print)
    return pool(out)


@dataclass(frozen=True)
class Printout:
    """What a command prints (``text``) and the object it printed it from (``result``);
    ``str()`` and a notebook show the text."""
    text: str
    result: object

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, printer, cycle):  # IPython's display of the object
        printer.text(self.text)


def _run_dir(run_or_dir) -> Path:
    return Path(run_or_dir.dir) if isinstance(run_or_dir, RunData) else Path(run_or_dir)


def open_run(run_or_dir, need_potential: bool = False) -> RunData:
    """A run directory opened as the analysis commands open it (:func:`analysis.runs.open_run`:
    a UserError when it is not one, or its files come from different runs)."""
    from analysis.runs import open_run as open_checked
    return open_checked(_run_dir(run_or_dir), need_potential=need_potential)


def analyze(run_or_dir) -> Printout:
    """``ionsim analyze``: V_m against Nernst and GHK, and the capacitance.

    ``result`` is the :class:`analysis.comparison.NernstComparison` (``.vm``, ``.rows``,
    ``.ghk``, ``.capacitance``, ``.measurements``); for a sweep or replica directory, the
    pooled :class:`analysis.pooled.PooledSweep` and its table; for a run without membranes,
    the :class:`analysis.bulk_thermo.BulkThermo` of its bulk electrolyte (energies per ion,
    osmotic coefficient, Widom gamma_+-) and its table."""
    from analysis.comparison import analyze_run, comparison_lines
    from .sweep import is_sweep_directory
    if is_sweep_directory(_run_dir(run_or_dir)):
        from analysis.pooled import pool
        from analysis.pooled_fits import fits_for
        from analysis.pooled_tables import pooled_lines
        pooled = pool(_run_dir(run_or_dir))
        return Printout("\n".join(pooled_lines(pooled, *fits_for(pooled))), pooled)
    run = open_run(run_or_dir)
    if not run.scenario.membranes:
        from analysis.bulk_thermo import bulk_thermodynamics, thermo_lines
        thermo = bulk_thermodynamics(run)
        return Printout("\n".join(thermo_lines(thermo)), thermo)
    comparison = analyze_run(_run_dir(run_or_dir))
    return Printout("\n".join(comparison_lines(comparison)), comparison)


def _two_compartments(run_or_dir, what: str):
    from analysis.runs import measure
    m = measure(open_run(run_or_dir))
    if not m.two_compartments:
        raise UserError(f"{_run_dir(run_or_dir)}: this run has no membranes, so no ion "
                        f"crosses anything; {what} needs a run with membranes and channels")
    return m


def budget(run_or_dir, cell_radius: str = "5 um") -> Printout:
    """``ionsim budget --cell-radius R``: the ions that crossed, against a real cell.

    ``result`` is the box's budget, one :class:`analysis.budget.SpeciesBudget` per
    permeant species (crossings, net moved out, fraction of each compartment, Nernst
    shift)."""
    from analysis.budget import box_budget, budget_lines, parse_radius_um
    radius_um = parse_radius_um(cell_radius)
    m = _two_compartments(run_or_dir, "budget")
    return Printout("\n".join(budget_lines(m, radius_um)), box_budget(m))


def plot_lecture_curves(run_or_dir):
    """The lecture's two curves, as in ``ionsim report``: the net ions moved out, and V_m
    against time with the Nernst lines (one panel without a membrane potential).

    Returns a matplotlib Figure, not registered with pyplot (a notebook shows it once;
    ``fig.savefig("curves.png")`` writes it)."""
    # pyplot before analysis.plots (which selects Agg): in a notebook, pyplot's default
    # backend there registers the display of figures first, so the Figure shows as an image
    import matplotlib.pyplot as plt

    from analysis.comparison import nernst_rows
    from analysis.plots import figure_lecture_curves
    m = _two_compartments(run_or_dir, "the lecture's curves")
    fig = figure_lecture_curves(m, nernst_rows(m))
    plt.close(fig)
    return fig
