"""A pooled sweep as text: what ``ionsim analyze SWEEP_DIR`` prints, pooled.csv and pooled.json.

:func:`point_table` has one row per point of :mod:`analysis.pooled`: its axis values, the
replicas pooled, V_m +- SE (mV; the SE from 'replicas' = max(sqrt(sum SE_i^2) / R,
s / sqrt(R)), 'counting' = (kT/e) sqrt(2/n) for the n unit charges crossing each way after
equilibration in all replicas, or 'run' = the one replica's own SE, the larger reported),
the crossings, c_out/c_in
and the Nernst potentials of the Nernst species (initial, bulk, activity-corrected; mV) with
the deviations (V_m - E) / sqrt(SE(V_m)^2 + SE(E)^2) in SE; :func:`slope_table` and
:func:`flatness_table` show the fits of :mod:`analysis.pooled_fits` (slope mV/decade beside
the theory (kT/ze) ln 10, chi2 / dof; weighted mean V_m, mV per channel);
:func:`pooled_lines` is what the command prints. :func:`write_tables` writes ``pooled.csv``
(one row per point, :func:`point_record`) and ``pooled.json`` (the same with each replica's
V_m and equilibration time, the fits and the notes), each unit in the name (mV, mM, nm, K,
ps); non-finite numbers are written empty (CSV) or null (JSON).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from sim.errors import UserError
from sim.units import thermal_voltage_mV

from analysis.budget import DepthSeries
from analysis.pooled import CHANNEL_COUNT, NERNST_SLOPE, PooledPoint, PooledSweep
from analysis.pooled_fits import FlatnessFit, SlopeFit, flatness_fit, slope_fit
from analysis.tables import Table, fmt, fmt_pm, printout

__all__ = ["point_label", "point_table", "slope_table", "flatness_table", "pooled_tables",
           "pooled_lines", "point_record", "write_tables", "TABLE_FILES"]

TABLE_FILES = ("pooled.csv", "pooled.json")


def _value_text(v) -> str:
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def point_label(point: PooledPoint) -> str:
    """The point's values in words: 'K+ = 5 mM, A- = 5 mM' (each key path's last part, the
    whole path where two last parts are the same); '' for a point without axes."""
    last = [path.rpartition(".")[2] for path in point.values]
    names = last if len(set(last)) == len(last) else list(point.values)
    return ", ".join(f"{n} = {_value_text(v)}" for n, v in zip(names, point.values.values()))


def _short(path: str) -> str:
    """A column header for an axis: the key path's last part with its owner in brackets."""
    head, _, last = path.rpartition(".")
    return f"{last} ({head})" if head else last


def point_table(pooled: PooledSweep) -> Table:
    """One row per point: its axis values, replicas, V_m +- SE and where the SE comes from,
    crossings, and the Nernst potentials of the Nernst species with the deviations."""
    sp = pooled.nernst_species
    t = Table(f"V_m per point, pooled over replicas ({pooled.runs_pooled} of "
              f"{pooled.runs_planned} runs)",
              ["point"] + [_short(a) for a in pooled.axes]
              + ["replicas", "V_m (mV)", "SE from", "crossings"]
              + ([f"c_out/c_in {sp}", "Nernst initial (mV)", "Nernst bulk (mV)",
                  "Nernst activity (mV)", "dev bulk (SE)", "dev activity (SE)"] if sp else []))
    for p in pooled.points:
        n = p.nernst_of(sp)
        cells = [str(p.index)] + [_value_text(p.values.get(a, "")) for a in pooled.axes]
        cells += [f"{p.replicas_finished}/{p.replicas_planned}",
                  fmt_pm(p.vm_mean, p.vm_se, 2, sign=True), p.se_source or "n/a",
                  str(p.crossings)]
        if sp:
            cells += [fmt(n.ratio, 4) if n else "n/a",
                      fmt(n.initial_mV, 2, sign=True) if n else "n/a",
                      fmt_pm(n.bulk_mV, n.bulk_se_mV, 2, sign=True) if n else "n/a",
                      fmt(n.activity_mV, 2, sign=True) if n else "n/a",
                      fmt(n.dev_bulk, 1, sign=True) if n else "n/a",
                      fmt(n.dev_activity, 1, sign=True) if n else "n/a"]
        t.add(*cells)
    t.notes.append("V_m: mean of the replica means; SE from 'replicas' = the larger of "
                   "sqrt(sum SE_i^2) / R and s / sqrt(R), 'counting' = (kT/e) sqrt(2/n) for "
                   "the n unit charges crossing each way after equilibration in all "
                   "replicas, 'run' = the one replica's own SE; the larger is reported")
    if sp:
        t.notes.append(f"Nernst of {sp}: initial = from the scenario's concentrations; "
                       f"bulk = replica mean from the measured bulk concentrations; activity "
                       f"= replica mean, activity-corrected; dev = (V_m - E) / sqrt(SE(V_m)^2 "
                       f"+ SE(E)^2)")
    return t


def slope_table(fit: SlopeFit) -> Table:
    f = fit.fit
    t = Table(f"Nernst slope: V_m against log10(c_out/c_in) of {fit.species}",
              ["quantity", "value"])
    t.add("fitted slope", fmt_pm(f.slope, f.slope_se, 2, "mV/decade", sign=True))
    t.add(f"theory (kT/ze) ln 10 at {fit.temperature_K:g} K",
          fmt(fit.theory_mV_per_decade, 2, "mV/decade", sign=True))
    t.add("fitted - theory", f"{fit.deviation:+.1f} SE")
    t.add("intercept (c_out = c_in)", fmt_pm(f.intercept, f.intercept_se, 2, "mV", sign=True))
    t.add("chi2 / dof", "n/a (2 points)" if f.chi2_per_dof is None else
          f"{f.chi2:.2f} / {f.dof} = {f.chi2_per_dof:.2f}")
    t.notes.append(f"weighted least squares over {len(fit.points)} points, weights 1 / SE^2; "
                   f"c_out/c_in from the scenario's concentrations; the slope's SE from the "
                   f"error bars (not rescaled by chi2)")
    return t


def flatness_table(fit: FlatnessFit) -> Table:
    t = Table("V_m against the channel count", ["quantity", "value"])
    t.add("weighted mean V_m", fmt_pm(fit.mean_mV, fit.mean_se_mV, 2, "mV", sign=True))
    t.add("chi2 / dof of a constant", f"{fit.chi2:.2f} / {fit.dof} = "
                                      f"{fit.chi2 / fit.dof:.2f}" if fit.dof else "n/a")
    if fit.slope is not None:
        t.add(f"fitted slope against {fit.x_label}",
              fmt_pm(fit.slope.slope, fit.slope.slope_se, 3, "mV per channel", sign=True))
    t.add("Nernst, initial concentrations", fmt(fit.nernst_mV, 2, "mV", sign=True))
    t.notes.append("the Nernst potential holds for any permeability: a slope within its SE "
                   "of zero and chi2/dof near 1; fewer channels only make V_m slower to "
                   "settle and its SE larger")
    return t


def pooled_tables(pooled: PooledSweep, slope: SlopeFit | None = None,
                  flat: FlatnessFit | None = None,
                  depth: DepthSeries | None = None) -> list[Table]:
    """The point table, then the fits that apply (given)."""
    tables = [point_table(pooled)]
    if slope is not None:
        tables.append(slope_table(slope))
    if flat is not None:
        tables.append(flatness_table(flat))
    if depth is not None:
        tables.append(depth.table())
    return tables


def pooled_lines(pooled: PooledSweep, slope=None, flat=None, depth=None) -> list[str]:
    """What ``ionsim analyze SWEEP_DIR`` prints."""
    t = pooled.temperature_K
    head = (f"ionsim analyze {pooled.dir}: sweep {pooled.source or '(no source)'} "
            f"({len(pooled.points)} point{'s' if len(pooled.points) != 1 else ''} pooled, "
            f"axes: {', '.join(pooled.axes) or 'none (replicas)'}), T = {t:g} K "
            f"(kT/e = {thermal_voltage_mV(t):.2f} mV)")
    return printout(head, pooled_tables(pooled, slope, flat, depth), pooled.notes)


# --- files ----------------------------------------------------------------------------------

def point_record(p: PooledPoint) -> dict:
    """A point's row of pooled.csv: column name (unit in it) -> value (None for none)."""
    row = {"point": p.index}
    row.update({path: _value_text(v) for path, v in p.values.items()})
    row.update({"replicas_finished": p.replicas_finished,
                "replicas_planned": p.replicas_planned, "V_m_mV": p.vm_mean,
                "V_m_se_mV": p.vm_se, "V_m_se_source": p.se_source or None,
                "V_m_se_replicas_mV": p.vm_se_replicas,
                "V_m_counting_limit_mV": p.counting_limit_mV, "crossings": p.crossings,
                "temperature_K": p.temperature_K, "channels": p.channels})
    row.update({f"depth_{name}_nm": d for name, d in p.depths_nm.items()})
    for n in p.nernst:
        s = n.species
        row.update({f"c_in_{s}_mM": n.c_in_mM, f"c_out_{s}_mM": n.c_out_mM,
                    f"c_out_over_c_in_{s}": n.ratio, f"E_{s}_initial_mV": n.initial_mV,
                    f"E_{s}_bulk_mV": n.bulk_mV, f"E_{s}_bulk_se_mV": n.bulk_se_mV,
                    f"E_{s}_activity_mV": n.activity_mV, f"dev_{s}_initial_SE": n.dev_initial,
                    f"dev_{s}_bulk_SE": n.dev_bulk, f"dev_{s}_activity_SE": n.dev_activity})
    return row


def _finite(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _fit_record(fit) -> dict | None:
    if fit is None:
        return None
    if isinstance(fit, SlopeFit):
        f = fit.fit
        return {"species": fit.species, "valence": fit.valence,
                "temperature_K": fit.temperature_K, "slope_mV_per_decade": f.slope,
                "slope_se_mV_per_decade": f.slope_se, "intercept_mV": f.intercept,
                "intercept_se_mV": f.intercept_se, "chi2": f.chi2, "dof": f.dof,
                "chi2_per_dof": f.chi2_per_dof,
                "theory_mV_per_decade": fit.theory_mV_per_decade,
                "deviation_SE": fit.deviation, "points": list(fit.points)}
    return {"mean_mV": fit.mean_mV, "mean_se_mV": fit.mean_se_mV, "chi2": fit.chi2,
            "dof": fit.dof, "nernst_initial_mV": fit.nernst_mV, "x": fit.x_label,
            "slope_mV_per_channel": None if fit.slope is None else fit.slope.slope,
            "slope_se_mV_per_channel": None if fit.slope is None else fit.slope.slope_se}


def write_tables(pooled: PooledSweep, out_dir=None) -> list[Path]:
    """Write pooled.csv (one row per point, :func:`point_record`) and pooled.json (the same
    rows with each replica's V_m and the channels per membrane, the Nernst slope and the
    channel-count fit where the axes call for them, and the notes) into ``out_dir``
    (default: the sweep directory). Non-finite numbers are written empty (CSV) or null
    (JSON). Returns the two paths.

    Raises:
        UserError: the directory is not writable.
    """
    out = Path(out_dir if out_dir is not None else pooled.dir)
    slope = slope_fit(pooled) if NERNST_SLOPE in pooled.analyses else None
    flat = flatness_fit(pooled) if CHANNEL_COUNT in pooled.analyses else None
    records = [point_record(p) for p in pooled.points]
    columns = list(dict.fromkeys(k for r in records for k in r))
    csv_path, json_path = out / TABLE_FILES[0], out / TABLE_FILES[1]
    doc = {"sweep": str(pooled.dir), "source": pooled.source, "base": pooled.base,
           "axes": pooled.axes, "combine": pooled.combine, "seed": pooled.seed,
           "analyses": pooled.analyses, "nernst_species": pooled.nernst_species,
           "runs_planned": pooled.runs_planned, "runs_pooled": pooled.runs_pooled,
           "points": [dict(r, replicas=[
               {"dir": rep.dir, "V_m_mV": None if rep.vm is None else rep.vm.mean,
                "V_m_se_mV": None if rep.vm is None else rep.vm.sem,
                "t_equil_ps": rep.t_equil_ps, "crossings": rep.crossings}
               for rep in p.replicas], channels_per_membrane=list(p.channels_per_membrane))
               for r, p in zip(records, pooled.points)],
           "nernst_slope": _fit_record(slope), "channel_count": _fit_record(flat),
           "notes": pooled.notes}
    try:
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for r in records:
                writer.writerow({k: "" if _finite(v) is None else v for k, v in r.items()})
        json_path.write_text(json.dumps(_clean(doc), indent=1) + "\n")
    except OSError as err:
        raise UserError(f"{out}: cannot write the pooled tables ({err.strerror or err}); the "
                        f"sweep directory must be writable") from None
    return [csv_path, json_path]


def _clean(v):
    """JSON data without NaN or infinity (null instead)."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    return _finite(v)
