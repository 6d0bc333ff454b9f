"""Replicas of a validation scenario: run them until the case can decide, and pool them.

``ionsim validate --full`` runs a scenario case as a replica directory ``DIR/runs/<case>/``
(:mod:`sim.sweep`: ``sweep.json`` and one ordinary run directory per replica, ``p000-r000``,
``p000-r001``, ...; replica r's seed is derived from the scenario's run.seed, so adding a
replica keeps the runs made). :func:`run_replicas` runs replica 0, then one more at a time
while a pooled row is INCONCLUSIVE for want of statistics (:func:`wants_more`: fewer
crossings than ``min_count``, fewer independent samples than ``min_n_eff``, or a combined SE
wider than ``resolution``), up to ``max_replicas`` (:data:`MAX_REPLICAS`). A row that is
undecided for another reason (no reference) gains nothing from more runs and asks for none.

Pooling (:func:`pool`): the case's check runs on each replica; the rows of the same quantity
(the same ``case`` name) are combined over the R replicas whose row has a finite value, SE
and reference (a replica without one, e.g. no K+ crossed so no P_Na / P_K, is left out and
the notes say so). In the row's unit, with x_i the replica values and se_i their SEs:

- value = (1/R) sum_i x_i;
- se = max( sqrt(sum_i se_i^2) / R,  s_x / sqrt(R) ) (analysis.statistics.pool_independent,
  the rule of every pooled quantity), where s_x = sqrt(sum_i (x_i - value)^2 / (R - 1)) is
  the SD of the replica values. The first is the SE of a mean of independent replicas; the
  second reads the same SE from their spread and catches replica SEs that are too small (a
  step-like series of a few crossings);
- reference, reference_se: the same formulas (a reference computed from the measured bulk
  concentrations differs per replica). A stated model uncertainty
  (``reference_systematic``: the same error in every replica) does not average out:
  reference_se = sqrt( mean_i(rse_i)^2 + (s_ref / sqrt(R))^2 );
- count = sum_i count_i (crossings after equilibration are independent events in
  independent runs); n_eff = sum_i n_eff_i (independent samples); both 0 when no replica
  has a value, so that the loop goes on;
- resolution, min_count, min_n_eff, mode: replica 0's (the same in every replica); abs_tol:
  the smallest stated (no_channels: a crossing in any replica fails);
- notes: "pooled over R replicas" with the replica values first, then the notes every
  replica has, once, then the others, each after its replica's directory name; series: the
  first replica's (the trace plot shows one run); ``replicas``: the runs made.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Callable

import numpy as np

from sim.errors import UserError
from sim.rundir import LOCK, is_run_directory, remove_run_files
from sim.sweep import PLAN, check_same_sweep, is_sweep_directory, read_plan, replicas_of

from analysis.statistics import pool_independent, spread_se
from analysis.validation.verdict import INCONCLUSIVE, CaseResult, finite

__all__ = ["MAX_REPLICAS", "pool", "wants_more", "run_replicas", "clear"]

#: Replicas a --full scenario case may add before it stops undecided (--max-replicas).
MAX_REPLICAS = 8
MEMBER_DIR = re.compile(r"p\d{3,}-r\d{3,}")


def _pool_row(rows: list[CaseResult], runs: int) -> CaseResult:
    """One quantity's rows (one per replica that has it) pooled; ``runs``: replicas made."""
    first = rows[0]
    good = [r for r in rows if finite(r.value) and finite(r.se) and finite(r.reference)]
    out = dataclasses.replace(first, notes=[], verdict="", deviation=None, reason="",
                              replicas=runs,
                              abs_tol=min((r.abs_tol for r in rows if r.abs_tol is not None),
                                          default=None))
    out.count = sum(r.count or 0 for r in good) if first.count is not None else None
    out.n_eff = sum(r.n_eff or 0.0 for r in good) if first.n_eff is not None else None
    if good:
        out.value, out.se = pool_independent([r.value for r in good], [r.se for r in good])
        refs = [r.reference for r in good]
        rses = [r.reference_se if finite(r.reference_se) else 0.0 for r in good]
        if first.reference_systematic:
            out.reference = float(np.mean(refs))
            out.reference_se = math.hypot(float(np.mean(rses)), spread_se(refs))
        else:
            out.reference, out.reference_se = pool_independent(refs, rses)
    else:
        out.value = out.se = None
    values = ", ".join(f"{r.value:.4g}" for r in good) or "none"
    head = f"pooled over {runs} replica{'s' if runs != 1 else ''} (values: {values} {first.unit})"
    if len(good) < runs:
        head += f"; {runs - len(good)} gave no value and are left out"
    common = set.intersection(*(set(r.notes) for r in rows))
    out.notes = [head] + [n for n in dict.fromkeys(first.notes) if n in common] \
        + [f"{Path(r.run_dir).name or f'replica {i}'}: {n}"
           for i, r in enumerate(rows) for n in dict.fromkeys(r.notes) if n not in common]
    return out


def pool(per_replica: list[list[CaseResult]]) -> list[CaseResult]:
    """The rows of every replica (``per_replica[i]``: replica i's check results) pooled
    per quantity, in the order the quantities first appear (the module's formulas)."""
    names = list(dict.fromkeys(r.case for rows in per_replica for r in rows))
    return [_pool_row([r for rows in per_replica for r in rows if r.case == name],
                      len(per_replica)) for name in names]


def wants_more(r: CaseResult) -> bool:
    """Whether a decided row is INCONCLUSIVE for want of statistics that more replicas
    bring: crossings (count < min_count), independent samples (n_eff < min_n_eff) or a
    combined SE wider than the resolution."""
    if r.verdict != INCONCLUSIVE:
        return False
    if r.count is not None and r.min_count is not None and r.count < r.min_count:
        return True
    if r.n_eff is not None and r.min_n_eff is not None and not r.n_eff >= r.min_n_eff:
        return True
    if r.resolution is not None and finite(r.se) and finite(r.value):
        ref_se = r.reference_se if finite(r.reference_se) else 0.0
        return math.hypot(r.se, ref_se) > r.resolution
    return False


def clear(case_dir) -> None:
    """Remove what validate wrote into ``case_dir`` before: a replica directory's plan and
    its runs' files, or one run's files (sim.rundir.remove_run_files); nothing else."""
    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        return
    for sub in sorted(case_dir.iterdir()):
        if sub.is_dir() and MEMBER_DIR.fullmatch(sub.name) and is_run_directory(sub):
            if not remove_run_files(sub):
                (sub / LOCK).unlink(missing_ok=True)
                sub.rmdir()
    (case_dir / PLAN).unlink(missing_ok=True)
    if is_run_directory(case_dir):
        remove_run_files(case_dir)


def _replicas_there(case_dir: Path, scenario) -> int:
    """The replicas planned in case_dir for this very scenario (0: none, or another's)."""
    if not is_sweep_directory(case_dir):
        return 0
    try:
        planned = int(read_plan(case_dir)["replicas"])
        check_same_sweep(case_dir, replicas_of(scenario, planned))
    except (UserError, KeyError, TypeError, ValueError):
        return 0
    return planned


def run_replicas(scenario, case_dir, analyse: Callable[[Path], list[CaseResult]],
                 max_replicas: int = MAX_REPLICAS, reuse: bool = False) -> list[CaseResult]:
    """Run replicas of ``scenario`` into the replica directory ``case_dir`` until no pooled
    row :func:`wants_more` or ``max_replicas`` ran; returns the pooled rows, decided.

    Args:
        scenario: the case's scenario (its run length already set).
        case_dir: the replica directory (what an earlier validate wrote there is replaced,
            or with ``reuse`` its finished replicas of the same scenario are kept).
        analyse: a replica's run directory -> its check results (undecided rows).
        max_replicas: the cap (>= 1).
        reuse: keep the finished (and resume the interrupted) replicas already there.
    """
    from sim.ensemble import run_member
    from sim.sweep import write_plan

    case_dir = Path(case_dir)
    there = _replicas_there(case_dir, scenario) if reuse else 0
    if not there:
        clear(case_dir)
    per_replica, reused = [], 0
    for r in range(max_replicas):
        sweep = replicas_of(scenario, max(r + 1, there))
        write_plan(case_dir, sweep)
        member = sweep.members[r]
        sc = sweep.scenario(member)
        reused += run_member(str(case_dir / member.dir), sc.to_dict(), sc.source)["skipped"]
        per_replica.append(analyse(case_dir / member.dir))
        pooled = [row.decide() for row in pool(per_replica)]
        if not any(wants_more(row) for row in pooled):
            break
    capped = any(wants_more(row) for row in pooled)
    for row in pooled:
        row.run_dir = str(case_dir)
        if capped:
            row.notes.append(f"stopped at the cap of {max_replicas} replicas "
                             f"(--max-replicas)")
        if reused:
            row.notes.append(f"{reused} of {len(per_replica)} replicas were earlier runs, "
                             f"re-analysed (--reuse)")
    return pooled
