"""A run report: report.md and report.html in the run directory, what ``ionsim report``
writes (the command is :mod:`analysis.report`).

The report holds the tables of ``ionsim analyze`` and ``ionsim budget`` and four plots, each
also written as a PNG beside the report (``report_*.png``): the lecture's two curves on one
time axis (net K+ moved out; V_m with the Nernst lines and a running mean +- SE band), the
density profiles with the mean potential profile phi_bar(z), the V_m histogram with the
Gaussian of variance k_B T / C, and the crossings of each channel over time. report.md links
the PNGs; report.html embeds them (base64), so it is one self-contained file.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sim import __version__
from sim.errors import UserError
from sim.units import PS_PER_NS, thermal_voltage_mV

from analysis import plots
from analysis.agents import analyze_agents
from analysis.agents_text import agent_tables
from analysis.budget import DEFAULT_CELL_RADIUS_UM, budget_tables
from analysis.comparison import compare, comparison_tables
from analysis.profiles import Profiles
from analysis.runs import measure, open_run

__all__ = ["Report", "write_report", "PLOT_FILES", "AGENT_PLOT_FILES", "save_figures",
           "write_documents"]

#: plot key -> (file name, caption)
PLOT_FILES = {
    "lecture_curves": ("report_lecture_curves.png",
                       "The lecture's two curves on one time axis: net ions moved out (top) "
                       "and the membrane potential with its running mean +- SE and the Nernst "
                       "lines (bottom). Grey: the equilibration period left out of every mean."),
    "profiles": ("report_profiles.png",
                 "Mean concentration of each species along z (top, log scale) and the mean "
                 "potential phi_bar(z) from the mean charge density by the 1-D Poisson "
                 "equation with the membranes' permittivity (bottom); membranes shaded."),
    "vm_histogram": ("report_vm_histogram.png",
                     "Distribution of V_m after equilibration against the Gaussian of variance "
                     "kT/C of the membrane capacitor (C from theory: eps0 eps_m / d in series "
                     "with the double layers)."),
    "channel_crossings": ("report_channel_crossings.png",
                          "Net crossings of each channel, inside -> outside, over time."),
}


#: the plot of a run with gated channels or pumps, apart from PLOT_FILES (which every run
#: with membranes and a potential draws)
AGENT_PLOT_FILES = {
    "agents": ("report_agents.png",
               "Agents: the fraction of each gating's channels open over time with its "
               "stationary theory (dashed), and the pumps' cumulative net cycles (out forward "
               "- out backward) over time; the acceleration A in the title multiplies every "
               "pump rate."),
}


@dataclass
class Report:
    """What :func:`write_report` wrote: the two report files and the PNGs (key -> path)."""

    markdown: Path
    html: Path
    pngs: dict


def _figures(m, comparison, prof):
    figs = {}
    if m.two_compartments:
        figs["lecture_curves"] = plots.figure_lecture_curves(m, comparison.rows)
    if prof is not None:
        figs["profiles"] = plots.figure_profiles(prof)
    if m.vm_series is not None:
        figs["vm_histogram"] = plots.figure_vm_histogram(m, comparison.capacitance,
                                                         comparison.theory)
    if m.scenario.membranes:
        figs["channel_crossings"] = plots.figure_channel_crossings(m)
    return figs


def _write(path: Path, data: bytes | str, what: str) -> None:
    try:
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)
    except OSError as err:
        raise UserError(f"{path}: cannot write the report ({err.strerror or err}); the "
                        f"{what} must be writable") from None


_CSS = """body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;
padding:.25em .6em;text-align:right}td:first-child,th:first-child{text-align:left}
th{background:#f2f2f2}figure{margin:1em 0}img{max-width:100%}figcaption{font-size:.9em;
color:#555}code{background:#f4f4f4;padding:0 .2em}"""


def write_report(run_dir, radius_um: float = DEFAULT_CELL_RADIUS_UM) -> Report:
    """Measure a run, draw its plots and write report.md, report.html and the PNGs into it.

    Raises:
        sim.cli.UserError: not a run directory, or the directory is not writable.
    """
    run = open_run(run_dir)
    out = Path(run.dir)
    m = measure(run)
    comparison = compare(m)
    prof = None
    if "density" in run.observable_names:
        try:
            prof = Profiles().compute(m)
        except ValueError as err:
            m.notes.append(f"no profiles: {err}")
    tables = comparison_tables(comparison)
    if m.two_compartments:
        tables += budget_tables(m, radius_um)
    sections = [("Membrane potential and theory", tables)]
    agents = analyze_agents(run)
    if agents is not None:
        sections.append(("Gated channels and pumps", agent_tables(agents)))

    every_plot = {**PLOT_FILES, **AGENT_PLOT_FILES}
    captions = {key: caption for key, (_, caption) in every_plot.items()}
    if prof is not None and not prof.has_potential:
        captions["profiles"] = ("Mean concentration of each species along z (log scale), "
                                "membranes shaded; no potential profile without "
                                "electrostatics and membranes.")
    files = {key: name for key, (name, _) in every_plot.items()}
    figures = _figures(m, comparison, prof)
    if agents is not None:
        from analysis.agent_plots import figure_agents
        figures["agents"] = figure_agents(agents, run.events["pump_events"])
    pngs = save_figures(figures, out, files, "run directory")

    sc = m.scenario
    title = f"ionsim report: {sc.name}"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    facts = [
        f"run directory `{out}`, written {stamp} by ionsim {__version__}",
        f"{sc.description}" if sc.description else "",
        f"{len(m.run.species)} ions, box {' x '.join(f'{v:g}' for v in sc.box)} nm, "
        f"T = {sc.temperature:g} K (kT/e = {thermal_voltage_mV(sc.temperature):.2f} mV), "
        f"{m.duration_ps / PS_PER_NS:.3g} ns simulated, electrostatics "
        f"{sc.electrostatics.method}",
    ]
    facts = [f for f in facts if f]

    md_path, html_path = write_documents(
        out, title, facts, sections, m.notes,
        [(key, path, captions[key]) for key, path in pngs.items()], "run directory")
    return Report(md_path, html_path, pngs)


def save_figures(figures: dict, out: Path, files: dict, what: str) -> dict:
    """Write each figure (key -> matplotlib figure) as ``out / files[key]`` and remove the
    PNGs of ``files`` that an earlier report drew and this one does not: key -> path.

    Raises:
        UserError: a PNG cannot be written (``what`` names the directory's kind).
    """
    pngs = {}
    for key, fig in figures.items():
        path = out / files[key]
        try:
            plots.save_png(fig, path)
        except OSError as err:
            raise UserError(f"{path}: cannot write the plot ({err.strerror or err}); the "
                            f"{what} must be writable") from None
        pngs[key] = path
    for key, name in files.items():  # a plot of an earlier report, now not drawn
        if key not in pngs and (out / name).is_file():
            (out / name).unlink()
    return pngs


def write_documents(out: Path, title: str, facts: list[str], sections, notes: list[str],
                    figures, what: str) -> tuple[Path, Path]:
    """Write ``out/report.md`` (linking the PNGs) and ``out/report.html`` (embedding them,
    base64: one self-contained file): the title, the facts as a list, each section
    (heading, tables), the notes, and the figures (key, PNG path, caption).

    Returns:
        (report.md, report.html).

    Raises:
        UserError: a file cannot be written (``what`` names the directory's kind).
    """
    md = [f"# {title}", ""] + [f"- {f}" for f in facts] + [""]
    for heading, tables in sections:
        md += [f"## {heading}", ""] + [t.markdown() for t in tables]
    if notes:
        md += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    md += ["## Plots", ""]
    for key, path, caption in figures:
        md += [f"![{key}]({path.name})", "", f"*{caption}*", ""]
    md_path = out / "report.md"
    _write(md_path, "\n".join(md), what)

    e = html.escape
    body = [f"<h1>{e(title)}</h1>", "<ul>" + "".join(f"<li>{e(f)}</li>" for f in facts)
            + "</ul>"]
    for heading, tables in sections:
        body += [f"<h2>{e(heading)}</h2>"] + [t.html() for t in tables]
    if notes:
        body += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{e(n)}</li>" for n in notes)
                 + "</ul>"]
    body.append("<h2>Plots</h2>")
    for key, path, caption in figures:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        body.append(f'<figure><img alt="{e(key)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{e(caption)}</figcaption></figure>")
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{e(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
    html_path = out / "report.html"
    _write(html_path, page, what)
    return md_path, html_path
