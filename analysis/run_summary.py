"""The physics that ends ``ionsim run``: V_m against Nernst, and the ions that crossed.

``sim.report.finish_run`` calls :func:`physics_summary` on every finished run, merges the
returned dict into summary.json and prints its ``physics_table`` lines. The numbers come from
the same functions as ``ionsim analyze`` and ``ionsim budget`` (:mod:`analysis.comparison`,
:mod:`analysis.budget`), which read only the observables (no positions), so this takes
well under a second. A run without a membrane potential (electrostatics off) or without
membranes still gets the ion counts and crossings. A run with gated channels or pumps also
gets their lines (:mod:`analysis.agents`: open fractions, the pumps' ledger with their
acceleration) and ``physics.agents``; a run without them gets neither.
"""

from __future__ import annotations

import traceback

from sim.io import RunData

from analysis.agents import analyze_agents
from analysis.agents_text import agent_physics, agent_summary_lines
from analysis.budget import box_budget
from analysis.comparison import compare, equilibration_line, vm_cell
from analysis.runs import INSIDE, OUTSIDE, measure
from analysis.tables import Table, json_number, fmt, fmt_pm, fmt_sci

__all__ = ["physics_summary"]

#: Read the frames (to count the ions in the pores) only when frames x ions is at most this,
#: so that the closing table stays fast; `ionsim budget` always reads them.
FRAME_VALUES_FOR_SUMMARY = 5_000_000


_num = json_number


def physics_summary(run: RunData) -> dict:
    """Headline physics of a finished run, for summary.json and the closing table.

    Returns:
        {"physics": {...numbers...}, "physics_table": [lines]}. Never raises: an unexpected
        failure is reported in the table and under "physics_error".
    """
    try:
        return _summary(run)
    except Exception as err:  # the run's own results must survive an analysis bug
        return {"physics_error": "".join(traceback.format_exception_only(type(err), err)).strip(),
                "physics_table": [f"  physics summary failed ({type(err).__name__}: {err}); "
                                  f"the run itself is complete: try `ionsim analyze "
                                  f"{run.dir}`"]}


def _summary(run: RunData) -> dict:
    m = measure(run)
    c = compare(m)
    names = m.compartment_names
    physics = {
        "inside": names[INSIDE] if m.two_compartments else None,
        "outside": names[OUTSIDE] if m.two_compartments else None,
        "equilibration_ns": m.t_equil_ps / 1e3,
        "equilibration_source": m.equilibration_source,
        "membrane_potential_mV": None if m.vm is None else {
            "mean": _num(m.vm.mean), "sem": _num(m.vm.sem),
            "sem_blocking": _num(m.vm.stats.sem_blocking) if m.vm.stats else None,
            "statistical_inefficiency": _num(m.vm.stats.statistical_inefficiency)
            if m.vm.stats else None,
            "n_samples": m.vm.stats.n_samples if m.vm.stats else None},
        "nernst_mV": {r.species: {
            "initial": _num(r.initial_mV),
            "measured": _num(r.measured.mean) if r.measured else None,
            "measured_sem": _num(r.measured.sem) if r.measured else None,
            "activity_corrected": _num(r.activity_mV),
            "deviation_measured_se": _num(r.dev_measured),
            "deviation_activity_se": _num(r.dev_activity)} for r in c.rows},
        "ghk_mV": _num(c.ghk.value_mV) if c.ghk else None,
        "capacitance_uF_per_cm2": None if c.theory is None else {
            "measured": _num(c.capacitance.c_uF_per_cm2) if c.capacitance else None,
            "measured_sem": _num(c.capacitance.c_sem_uF_per_cm2) if c.capacitance else None,
            "bare": _num(c.theory.bare_mean), "series": _num(c.theory.series_mean)},
        "crossed": {},
        "notes": list(m.notes),
    }
    lines = ["", "physics (analysis; details: `ionsim analyze` / `ionsim budget` / "
                 "`ionsim report`)"]
    lines.append("  " + equilibration_line(m))

    if m.two_compartments and (m.vm is not None or c.rows):
        t = Table("", ["V_m = V(%s) - V(%s)" % (names[INSIDE], names[OUTSIDE])]
                  + [r.species for r in c.rows] if c.rows else ["quantity", "value"])
        width = max(1, len(c.rows))
        if c.rows:
            t.add("V_m measured", *[vm_cell(m.vm)] * width)
            t.add("Nernst, initial conc.", *[fmt(r.initial_mV, 2, "mV", True) for r in c.rows])
            t.add("Nernst, measured bulk", *[fmt_pm(r.measured.mean, r.measured.sem, 2, "mV",
                                                    True) if r.measured else "n/a"
                                             for r in c.rows])
            t.add("Nernst, activity-corr.",
                  *[fmt_pm(r.activity_mV, r.measured.sem if r.measured else None, 2, "mV",
                           True) for r in c.rows])
            if m.vm is not None:
                t.add("V_m - E (ideal/activity)",
                      *[f"{fmt(r.dev_measured, 1, sign=True)} / "
                        f"{fmt(r.dev_activity, 1, sign=True)} SE" for r in c.rows])
        else:
            t.add("V_m measured", vm_cell(m.vm))
        lines.extend(t.text())
        if c.ghk is not None:
            lines.append("  GHK: " + (fmt(c.ghk.value_mV, 2, "mV", True)
                                      if c.ghk.value_mV is not None else c.ghk.reason))
    elif m.two_compartments:
        lines.append("  no membrane potential recorded (electrostatics off) and no permeant "
                     "species")
    else:
        lines.append("  no membranes: bulk electrolyte, no membrane potential")

    if m.two_compartments and m.vm is None and c.rows:
        lines.append("  (no V_m: electrostatics is off, so nothing opposes the leak)")

    cheap = m.run.n_frames * m.run.species.size <= FRAME_VALUES_FOR_SUMMARY
    budgets = box_budget(m, with_frames=cheap)
    if budgets:
        t = Table("", ["crossed (net %s -> %s)" % (names[INSIDE], names[OUTSIDE]),
                       "out / in", "net at end", "net mean +/- SE", "incl. in pores",
                       f"{names[INSIDE]} change/placed", f"{names[OUTSIDE]} change/placed"])
        for b in budgets:
            t.add(b.species, f"{b.crossings_out} / {b.crossings_in}", str(b.net_final),
                  fmt_pm(b.net_mean.mean, b.net_mean.sem, 2),
                  "n/a" if b.charge_moved is None else
                  fmt_pm(b.charge_moved.mean, b.charge_moved.sem, 2),
                  fmt_sci(b.fraction_mean[0], 2), fmt_sci(b.fraction_mean[1], 2))
            physics["crossed"][b.species] = {
                "out": b.crossings_out, "in": b.crossings_in, "net_out_final": b.net_final,
                "net_out_mean": _num(b.net_mean.mean), "net_out_sem": _num(b.net_mean.sem),
                "fraction_of": {names[INSIDE]: _num(b.fraction_mean[0]),
                                names[OUTSIDE]: _num(b.fraction_mean[1])},
                "fraction_final_of": {names[k]: _num(f)
                                      for k, f in enumerate(b.fraction_final)},
                "net_out_incl_pores_mean": _num(b.charge_moved.mean) if b.charge_moved
                else None,
                "nernst_shift_in_box_mV": _num(b.box.nernst_shift_mV) if b.box else None}
        lines.extend(t.text())
    # Without a single crossing the capacitor's charge never changed: Var(V_m) is then the
    # double layers' noise, not k_B T / C, and a capacitance from it would only mislead.
    if c.capacitance is not None and c.theory is not None and c.capacitance.n_crossings > 0:
        lines.append(f"  capacitance from Var(V_m): "
                     f"{fmt_pm(c.capacitance.c_uF_per_cm2, c.capacitance.c_sem_uF_per_cm2, 3)} "
                     f"uF/cm^2 (theory: {c.theory.bare_mean:.3f} bare, "
                     f"{c.theory.series_mean:.3f} with double layers)"
                     + ("" if c.capacitance.reliable else "; too few crossings to trust"))
    lines.extend(f"  note: {n}" for n in m.notes)
    _add_agents(run, physics, lines)
    return {"physics": physics, "physics_table": lines}


def _add_agents(run: RunData, physics: dict, lines: list) -> None:
    """The agents' lines and ``physics["agents"]``, for a run with gated channels or pumps
    (nothing otherwise). A failure here is reported beside the rest, which it leaves
    alone."""
    try:
        a = analyze_agents(run)
        if a is None:
            return
        physics["agents"] = agent_physics(a)
        lines.extend(agent_summary_lines(a))
    except Exception as err:  # the rest of the physics must survive an agents' bug
        text = "".join(traceback.format_exception_only(type(err), err)).strip()
        physics["agents_error"] = text
        lines.append(f"  agents summary failed ({type(err).__name__}: {err}); try "
                     f"`ionsim analyze {run.dir}`")
