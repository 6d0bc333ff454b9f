"""Text a user reads: what a scenario would simulate, and the table that ends a run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from . import units
from .geometry import Geometry
from .io import RunData, write_summary
from .observe import bulk_windows, debye_length
from .rundir import check_consistent
from .scenario import FACES, Scenario
from .system import bulk_basis_exact, check_counts, compartment_volume, ion_counts

BYTES_PER_ION_STATE = 8 * (3 * 4 + 8)  # pos, forces, noise, mobility ... (float64/int64)


def describe_scenario(sc: Scenario) -> str:
    """What `ionsim check` prints: geometry, ions, channels, time, memory."""
    geo = Geometry.from_scenario(sc)
    counts = ion_counts(sc, geo)
    check_counts(sc, geo, counts)
    lx, ly, lz = sc.box
    lines = [f"scenario {sc.name!r} ({sc.source}): valid",
             f"  box            {lx:g} x {ly:g} x {lz:g} nm (periodic), membrane area "
             f"{sc.area:g} nm^2",
             f"  temperature    {sc.temperature:g} K (kT/e = "
             f"{units.thermal_voltage_mV(sc.temperature):.2f} mV), water eps "
             f"{sc.solvent_permittivity:.4g}"]
    windows = bulk_windows(sc)
    for k, comp in enumerate(sc.compartments):
        lo, hi = sc.compartment_bounds()[k]
        vol = compartment_volume(sc, geo, k)
        ions = ", ".join(f"{n} {s.name}" for n, s in zip(counts[k], sc.species) if n)
        lines.append(f"  compartment {k} {comp.name!r}: z {lo:g}..{hi:g} nm, accessible "
                     f"volume {vol:.4g} nm^3, Debye length "
                     f"{debye_length(sc, k):.2f} nm, bulk window {windows[k, 0]:.2f}.."
                     f"{windows[k, 1]:.2f} nm")
        lines.append(f"      ions: {ions or 'none'}")
        if sc.face_charge(k) or any(sc.face_surface_charges(j)[side]
                                    for j, side in sc.bounding_faces(k)):
            lines.append(_basis_line(sc, geo, k))
    for m, (mem, (lo, hi)) in enumerate(zip(sc.membranes, sc.membrane_bounds())):
        cap = units.capacitance_uF_per_cm2(units.EPS0 * mem.permittivity / mem.thickness)
        lines.append(f"  membrane {m}: z {lo:g}..{hi:g} nm, eps {mem.permittivity:g} "
                     f"({cap:.3f} uF/cm^2 bare), {len(mem.channels)} channel(s)")
        for side, sigma in enumerate(sc.face_surface_charges(m)):
            if sigma == 0.0:
                continue
            k = sc.face_compartment(m, side)
            comp = sc.compartments[k]
            if comp.concentration_basis == "bulk":
                balance = (f"balanced by the Gouy-Chapman surface excess of the ions in "
                           f"{comp.name!r} (concentration_basis: bulk)")
            else:
                valence = sc.species[sc.species_index(mem.counterion)].valence
                balance = (f"balanced by {abs(round(sigma * sc.area / valence))} "
                           f"{mem.counterion} added to {comp.name!r}")
            lines.append(f"      {FACES[side]} face (toward {comp.name!r}): surface charge "
                         f"{sigma:+.4g} e/nm^2 ({sigma * sc.area:+.4g} e), {balance}")
        kinds = {}
        for ch in mem.channels:
            kinds.setdefault((ch.radius, ch.permeant, ch.barriers, ch.gating), 0)
            kinds[(ch.radius, ch.permeant, ch.barriers, ch.gating)] += 1
        for (radius, permeant, barriers, gating), n in kinds.items():
            extra = f", barriers {dict(barriers)} kJ/mol" if barriers else ""
            lines.append(f"      {n} x radius {radius:g} nm admitting {', '.join(permeant)}"
                         f"{extra}" + (f", {_gating_text(gating)}" if gating else ""))
        lines.extend(_pump_lines(mem))
    run = sc.run
    n = int(counts.sum())
    lines += [
        f"  electrostatics {sc.electrostatics.method}"
        + (f" (RMS relative force error {sc.electrostatics.force_error:g})"
           if sc.electrostatics.method == "ewald" else ""),
        f"  run            dt {run.dt:g} ps x {run.steps} steps = "
        f"{run.dt * run.steps / units.PS_PER_NS:g} ns, {run.integrator}, seed {run.seed}",
        f"                 samples every {run.sample_interval} steps, frames every "
        f"{run.frame_interval}, checkpoints every {run.checkpoint_interval}",
        f"  ions           {n} in total",
        f"  memory         ~{_memory_mb(sc, n):.1f} MB in RAM; trajectory ~"
        f"{_disk_mb(sc, n):.1f} MB on disk",
    ]
    return "\n".join(lines)


def _gating_text(g) -> str:
    """A gate in a few words: its states, rates, voltage dependence and protocol."""
    rates = ", ".join(f"{name} {k * 1e3:g}/ns" for name, k in g.rates)
    text = f"gated ({' / '.join(g.states)}, open: {', '.join(g.conducting)}, starts " \
           f"{g.initial}" + (f"; {rates}" if rates else "")
    if g.gating_charge:
        text += (f"; gating charge {dict(g.gating_charge)} e, V_half "
                 f"{g.v_half * units.MV_PER_KJ_MOL_E:g} mV")
    if g.protocol:
        text += "; protocol " + ", ".join(f"{p.state} at {p.at / units.PS_PER_NS:g} ns"
                                          for p in g.protocol)
    return text + ")"


def _pump_lines(mem) -> list[str]:
    """What `ionsim check` says of a membrane's pumps (the acceleration always)."""
    kinds: dict = {}
    for p in mem.pumps:
        key = (p.carries_out, p.carries_in, p.acceleration, p.turnover, p.atp_free_energy,
               p.inside)
        kinds[key] = kinds.get(key, 0) + 1
    out = []
    for (c_out, c_in, acc, turnover, atp, inside), n in kinds.items():
        carried = " + ".join(f"{k} {s}" for s, k in c_out) + " out, " + \
            " + ".join(f"{k} {s}" for s, k in c_in) + " in"
        out.append(f"      {n} pump(s): {carried} per cycle (inside {inside!r}), turnover "
                   f"{turnover * 1e12:g}/s accelerated {acc:g} x (= {turnover * acc * 1e3:.3g}"
                   f"/ns simulated), dG_ATP {atp:g} kJ/mol")
    return out


def _basis_line(sc: Scenario, geo: Geometry, k: int) -> str:
    """How compartment k's ions relate to its concentrations, given charged faces."""
    comp = sc.compartments[k]
    given = ", ".join(f"{c * units.PER_NM3_TO_MM:.4g} mM {n}" for n, c in comp.concentrations)
    if comp.concentration_basis == "bulk":
        volume = compartment_volume(sc, geo, k)
        excess = bulk_basis_exact(sc, k, volume) - np.array(
            [comp.concentration(sp.name) * volume for sp in sc.species])
        held = ", ".join(f"{x:+.1f} {sp.name}" for x, sp in zip(excess, sc.species)
                         if comp.concentration(sp.name) > 0)
        return (f"      concentrations are the bulk ({given}): c V plus the Gouy-Chapman "
                f"surface excess of its faces ({sc.face_charge(k):+d} e): {held}; an "
                f"estimate, the run measures the bulk")
    added = ", ".join(f"{n} {name}" for name, n in sc.counterions(k).items())
    return (f"      concentrations are the mean before counter-ions ({given}); counter-ions "
            f"added: {added} for its faces ({sc.face_charge(k):+d} e)")


def _memory_mb(sc: Scenario, n: int) -> float:
    mesh = 0
    if sc.electrostatics.method == "ewald":
        # a 1 nm mesh bounds what the tuner picks for dilute ions; real + complex grids
        mesh = int(np.prod(np.ceil(sc.box))) * 8 * 3
    return (n * BYTES_PER_ION_STATE + mesh) / 1e6


def _disk_mb(sc: Scenario, n: int) -> float:
    run = sc.run
    frames = run.steps // run.frame_interval + 1
    samples = run.steps // run.sample_interval + 1
    per_sample = 8 * (4 * len(sc.compartments) * len(sc.species) + 8)
    return (frames * n * 12 + samples * per_sample) / 1e6


def engine_summary(run: RunData) -> dict:
    """Headline numbers every run has: ion counts, crossings, net charge moved."""
    counts = run.observable("counts")
    names = run.species_names
    cr = run.crossings
    by_species = {}
    for s, name in enumerate(names):
        sel = cr["species"] == s
        by_species[name] = {
            "crossings": int(sel.sum()),
            "initial_per_compartment": counts.value[0, :, s].tolist(),
            "final_per_compartment": counts.value[-1, :, s].tolist(),
        }
    return {
        "species": names,
        "compartments": run.compartment_names,
        "ions": by_species,
        "total_crossings": int(len(cr["step"])),
    }


def finish_run(result, say=print) -> dict:
    """Write summary.json for a finished run and print its closing table."""
    run = RunData(result.run_dir)
    summary = dict(result.summary)
    summary.update(engine_summary(run))
    try:
        from analysis.run_summary import physics_summary
    except ImportError:  # analysis not present: engine-only summary
        physics_summary = None
    if physics_summary is not None:
        summary.update(physics_summary(run))
    write_summary(result.run_dir, summary)
    say(format_table(summary))
    return summary


def rebuild_summary(run_dir, say=print) -> dict:
    """Write summary.json again from the trajectory (it is derived data). The wall times of
    the run are not in the trajectory: they are left out and the summary says it was
    rebuilt."""
    run = RunData(run_dir)
    steps = int(run.observable("counts").step[-1])
    sc = run.scenario
    base = {"scenario": sc.name, "run_id": check_consistent(run_dir), "steps": steps,
            "simulated_time_ns": steps * sc.run.dt / units.PS_PER_NS,
            "n_ions": int(run.species.size), "wall_time_s": None, "setup_time_s": None,
            "particle_steps_per_second": None, "rebuilt_from_trajectory": True}

    return finish_run(SimpleNamespace(run_dir=Path(run.dir), summary=base), say)


def format_table(summary: dict) -> str:
    wall = summary.get("wall_time_s")
    timing = ("wall time not recorded (summary rebuilt from the trajectory)" if wall is None
              else f"in {wall:.1f} s ({summary['particle_steps_per_second']:.3g} "
                   f"particle-steps/s")
    lines = [f"\n{summary['scenario']}: {summary['steps']} steps, "
             f"{summary['simulated_time_ns']:.3f} ns simulated {timing}"
             + (f", {summary['n_ions']} ions)" if wall is not None
                else f", {summary['n_ions']} ions")]
    comps = summary["compartments"]
    lines.append(f"  {'species':8s} " + " ".join(f"{c + ' start':>14s} {c + ' end':>12s}"
                                                 for c in comps) + f" {'crossings':>10s}")
    for name, info in summary["ions"].items():
        cells = " ".join(f"{a:14d} {b:12d}" for a, b in zip(info["initial_per_compartment"],
                                                            info["final_per_compartment"]))
        lines.append(f"  {name:8s} {cells} {info['crossings']:10d}")
    overlaps = summary.get("rejected_overlap_moves", 0)
    if overlaps:
        ion_steps = summary["n_ions"] * max(summary["steps"], 1)
        lines.append(f"  {overlaps} moves into an overlap (< 0.8 sigma) were undone, "
                     f"{overlaps / ion_steps:.2g} per ion-step (a smaller dt makes them rarer)")
    threads = summary.get("threads", {})
    one = threads.get("steps_on_one_thread", 0)
    if one > 0.05 * max(summary["steps"], 1):
        lines.append(f"  the machine was busy: {one / max(summary['steps'], 1):.0%} of the steps "
                     f"ran on 1 thread instead of {threads['numba_threads']}, which was faster "
                     f"then (results do not depend on it)")
    for line in summary.get("physics_table", []):
        lines.append(line)
    return "\n".join(lines)
