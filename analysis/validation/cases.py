"""The validation cases and how one is run.

A case is either an engine check (:mod:`analysis.validation.engine_checks`) or a scenario
of the shipped library (``scenarios/``, found by :mod:`sim.library`) checked by
:mod:`analysis.validation.scenario_checks`. ``--quick`` replaces each scenario's duration
with ``quick_ns`` (ns) and runs it once into ``DIR/runs/<case>``; ``--full`` keeps the
scenario's own duration and runs replicas into the replica directory ``DIR/runs/<case>/``
until the case can decide, at most ``max_replicas`` (:mod:`analysis.validation.replicas`).
"""

from __future__ import annotations

import functools
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from sim import library
from sim.units import PS_PER_NS

from analysis.validation import replicas
from analysis.validation.verdict import CaseResult

__all__ = ["Case", "CASES", "SCENARIO_DIR", "run_case", "QUICK_NS_DEFAULT"]

QUICK_NS_DEFAULT = 3.0  # ns, for a full-only case named explicitly with --quick


def __getattr__(name):
    """SCENARIO_DIR: the shipped scenario library (package data), wherever ionsim is
    installed and whatever the working directory. Found on first use rather than on import,
    so that an install without the library still builds the ``ionsim`` parser and reports
    the missing library in one line when validate needs it."""
    if name == "SCENARIO_DIR":
        return library.directory()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Case:
    """name: the case; question: what it asks; scenario: file name in scenarios/ (None for an
    engine check); quick_ns: run length for --quick, ns (None: left out of --quick, for
    the reason in full_only, unless named with --cases, when it runs QUICK_NS_DEFAULT);
    cost: relative cost (to schedule the longest first)."""

    name: str
    question: str
    scenario: str | None = None
    quick_ns: float | None = 3.0
    cost: float = 1.0
    full_only: str = ""


CASES: list[Case] = [
    Case("free_diffusion", "Does an ion diffuse with the D it was given?", cost=0.01),
    Case("harmonic_well", "Is the harmonic-well variance kT/k under Leimkuhler-Matthews?",
         cost=0.01),
    Case("ewald_forces", "Are Ewald forces within the requested 1e-3 of a direct sum?",
         cost=0.02),
    Case("capacitor", "Does the 1-D field give the capacitor's Q/(CA)?", cost=0.001),
    Case("potassium_balanced", "Is V_m the K+ Nernst potential?", "potassium_balanced.yaml"),
    Case("no_channels", "No channels: V_m = 0?", "no_channels.yaml", quick_ns=2.0, cost=0.7),
    Case("symmetric", "Equal concentrations: V_m = 0?", "symmetric.yaml"),
    Case("chloride", "Anion: does the sign flip?", "chloride.yaml"),
    Case("calcium", "Divalent: is the potential halved?", "calcium.yaml", cost=2.0),
    Case("donnan", "Is V_m the Donnan potential?", "donnan.yaml", quick_ns=None,
         full_only="its salt exchange needs the full run: with 3 nm compartments a 3 ns run "
                   "read V_m = -41 +- 6 mV (a FAIL at -3.7 SE) where two 20 ns runs read "
                   "-27 +- 3.4 and -21 +- 2.7 mV, so 3 ns underestimates its error bar"),
    Case("resting_potential", "Is V_m the GHK voltage?", "resting_potential.yaml",
         cost=2.0),
    Case("selectivity", "Does a barrier set P_Na/P_K?", "selectivity.yaml", quick_ns=2.0,
         cost=1.5),
    Case("surface_charge", "Charged faces: Gouy-Chapman double layers, V_m still Nernst?",
         "surface_charge.yaml", cost=0.5),
    Case("pump_leak", "Pumps against leaks: is V_m the Mullins-Noda potential?",
         "pump_leak.yaml", quick_ns=None, cost=1.5,
         full_only="the pumps build the gradients over the first nanoseconds; the steady "
                   "state and its Na+ crossings need the full run"),
    Case("sodium_channels_open", "Na+ channels open and close: V_m to GHK and back to E_K?",
         "sodium_channels_open.yaml", quick_ns=None, cost=1.0,
         full_only="its protocol opens the channels at 4 ns and closes them at 10 ns"),
    Case("pump_stall", "Does the pump stall where its work equals what ATP gives?",
         "pump_stall.yaml", cost=1.0),
]


def _set_threads(jobs: int) -> None:
    """With several jobs and no NUMBA_NUM_THREADS given, share the cores between them."""
    if jobs > 1 and "NUMBA_NUM_THREADS" not in os.environ:
        import numba
        numba.set_num_threads(max(1, min(numba.config.NUMBA_NUM_THREADS,
                                          (os.cpu_count() or 1) // jobs)))


def run_case(case: Case, out_dir: str, quick: bool, duration_ns: float | None = None,
             jobs: int = 1, reuse: bool = False,
             max_replicas: int = replicas.MAX_REPLICAS) -> list[CaseResult]:
    """Run one case; every result carries the case's wall time. Errors become FAILs.
    ``max_replicas``: the most replicas a scenario case runs with --full (quick: one run)."""
    _set_threads(jobs)
    t0 = time.perf_counter()
    try:
        if case.scenario is None:
            from analysis.validation import engine_checks
            results = [getattr(engine_checks, case.name)(quick=quick)]
        else:
            results = _run_scenario_case(case, Path(out_dir), quick, duration_ns, reuse,
                                         max_replicas)
    except Exception as err:  # noqa: BLE001 - a broken case is a FAIL, not a crash
        # The other cases still run; the traceback travels with the FAIL (into the table's
        # notes, validation.json and stderr), since an error in ionsim keeps its traceback.
        results = [CaseResult.error(case.name, case.question, err, case.scenario or "")]
        results[0].notes.append(traceback.format_exc())
        print(f"ionsim validate: case {case.name} raised:\n{traceback.format_exc()}",
              file=sys.stderr)
    seconds = time.perf_counter() - t0
    for r in results:
        r.seconds = seconds
        r.scenario = r.scenario or (case.scenario or "")
        if not r.verdict:
            r.decide()
    return results


def _finished_run(run_dir: Path, steps: int) -> bool:
    """Whether run_dir holds a finished run of `steps` steps."""
    from sim.io import RunData
    try:
        run = RunData(run_dir)
        return int(run.observable("counts").step[-1]) == steps
    except Exception:  # noqa: BLE001 - anything unreadable is simply run again
        return False


def _analyse(case_name: str, run_dir: Path) -> list[CaseResult]:
    """One finished run of a scenario case measured (analysis.runs) and checked."""
    from sim.io import RunData

    from analysis.runs import measure
    from analysis.validation import scenario_checks

    m = measure(RunData(run_dir))
    results = scenario_checks.CHECKS[case_name](m)
    for r in results:
        r.run_dir = str(run_dir)
        r.notes.extend(m.notes[:2])
        r.notes.append(f"simulated {m.duration_ps / 1000:.3g} ns")
    return results


def _run_scenario_case(case: Case, out_dir: Path, quick: bool, duration_ns, reuse=False,
                       max_replicas: int = replicas.MAX_REPLICAS):
    from sim.ensemble import CompileLock
    from sim.run import run_scenario
    from sim.scenario import load_scenario

    sc = load_scenario(library.directory() / case.scenario)
    quick_ns = case.quick_ns if case.quick_ns is not None else QUICK_NS_DEFAULT
    ns = duration_ns if duration_ns is not None else (quick_ns if quick else None)
    if ns is not None:
        sc = sc.with_run(steps=max(1, sc.steps_for(ns * PS_PER_NS)))
    run_dir = out_dir / "runs" / case.name
    analyse = functools.partial(_analyse, case.name)
    if not quick:
        return replicas.run_replicas(sc, run_dir, analyse, max_replicas, reuse)
    reused = reuse and _finished_run(run_dir, sc.run.steps)
    if not reused:
        replicas.clear(run_dir)  # an earlier --full's replica directory, or an earlier run
        # cases run in parallel processes: Numba compiles under sim.ensemble's lock
        lock = CompileLock().acquire().release_after(0, sc.run.dt)
        try:
            run_scenario(sc, run_dir, quiet=True, log=lambda *a: None, force=True,
                         extra_operations=[lock])
        finally:
            lock.close()
    results = analyse(run_dir)
    if reused:
        for r in results:
            r.notes.append("an earlier run, re-analysed (--reuse)")
    return results
