"""The validation report: one table (text and Markdown), validation.md, validation.json and
PNG plots (deviation in SE of every case; V_m traces of the scenario cases).

Columns: case, simulated value +- SE, reference (+- its stated uncertainty), unit,
deviation in combined SE, replicas (the runs pooled into the value: 1 for an engine check
and for --quick), verdict. Sources and notes follow the table in validation.md and
are in full in validation.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from analysis.tables import Table
from analysis.validation.verdict import FAIL, INCONCLUSIVE, PASS, CaseResult, Z_PASS

__all__ = ["table", "summary_line", "write_markdown", "write_json", "write_plots", "num"]


def num(x, se=None) -> str:
    """A number with 3-4 significant digits (and '+/- se'), 'n/a' when missing."""
    if x is None or not math.isfinite(x):
        return "n/a"
    text = f"{x:.4g}"
    if se is not None and math.isfinite(se) and se > 0:
        text += f" +/- {se:.2g}"
    return text


def table(results: list[CaseResult], title: str = "ionsim validate") -> Table:
    t = Table(title, ["case", "simulated", "reference", "unit", "dev (SE)", "replicas",
                      "verdict"])
    for r in results:
        dev = "n/a" if r.deviation is None else f"{r.deviation:+.2f}"
        ref = num(r.reference, r.reference_se)
        if r.mode == "upper":
            ref = "< " + ref
        t.add(r.case, num(r.value, r.se), ref, r.unit, dev, r.replicas, r.verdict)
    t.notes.append(summary_line(results))
    for r in results:
        if r.verdict != PASS:
            t.notes.append(f"{r.case}: {r.verdict}: {r.reason}")
    return t


def summary_line(results: list[CaseResult]) -> str:
    n = {v: sum(r.verdict == v for r in results) for v in (PASS, FAIL, INCONCLUSIVE)}
    return (f"{n[PASS]} PASS, {n[FAIL]} FAIL, {n[INCONCLUSIVE]} INCONCLUSIVE "
            f"(PASS: |dev| <= {Z_PASS:g} SE; INCONCLUSIVE: the error bar cannot decide)")


def write_markdown(results: list[CaseResult], path: Path, header: str = "") -> Path:
    lines = ["# ionsim validate", ""]
    if header:
        lines += [header, ""]
    lines.append(table(results, "").markdown())
    lines += ["", "## Cases", ""]
    for r in results:
        lines.append(f"### {r.case}: {r.verdict}")
        lines.append("")
        lines.append(f"- question: {r.question}")
        lines.append(f"- measured: {r.quantity} = {num(r.value, r.se)} {r.unit}")
        lines.append(f"- reference: {num(r.reference, r.reference_se)} {r.unit}; "
                     f"source: {r.source}")
        lines.append(f"- verdict: {r.verdict} ({r.reason})")
        if r.scenario:
            lines.append(f"- scenario: scenarios/{r.scenario}; run: {r.run_dir or 'n/a'}"
                         f" ({r.replicas} replica{'s' if r.replicas != 1 else ''})")
        lines.append(f"- wall time: {r.seconds:.1f} s")
        lines.extend(f"- note: {n}" for n in r.notes)
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def write_json(results: list[CaseResult], path: Path, meta: dict | None = None) -> Path:
    doc = {"meta": meta or {}, "summary": {v: sum(r.verdict == v for r in results)
                                           for v in (PASS, FAIL, INCONCLUSIVE)},
           "cases": [r.to_json() for r in results]}
    path.write_text(json.dumps(doc, indent=2, allow_nan=False))
    return path


COLOURS = {PASS: "tab:green", FAIL: "tab:red", INCONCLUSIVE: "tab:orange"}


def write_plots(results: list[CaseResult], out: Path) -> list[Path]:
    """deviations.png (every case) and vm_traces.png (scenario cases with a V_m series)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(results) + 1.5))
    names = [r.case for r in results][::-1]
    for i, r in enumerate(results[::-1]):
        dev = r.deviation if r.deviation is not None and math.isfinite(r.deviation) else 0.0
        shown = max(-6.0, min(6.0, dev))
        ax.barh(i, shown, color=COLOURS.get(r.verdict, "grey"),
                hatch="//" if r.verdict == INCONCLUSIVE else None)
        label = r.verdict
        if r.deviation is None:
            label += " (exact check)" if r.se == 0 else " (no SE)"
        ax.text(6.2, i, label, va="center", fontsize=8)
    ax.axvspan(-Z_PASS, Z_PASS, color="0.9", zorder=0, label=f"|dev| <= {Z_PASS:g} SE")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlim(-6, 9)
    ax.set_xlabel("(simulated - reference) / combined SE (clipped at +-6)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    p = out / "deviations.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)

    traced = [r for r in results if r.series is not None and r.unit == "mV"]
    if traced:
        ncol = 2
        nrow = math.ceil(len(traced) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(10, 2.4 * nrow), squeeze=False)
        for ax, r in zip(axes.ravel(), traced):
            t, v, t_eq = r.series
            ax.plot(t, v, lw=0.5, color="0.4")
            if r.reference is not None and math.isfinite(r.reference):
                ax.axhline(r.reference, color="tab:blue", label="reference")
            if r.value is not None and math.isfinite(r.value):
                ax.axhline(r.value, color=COLOURS.get(r.verdict, "k"), ls="--",
                           label="mean")
            ax.axvspan(0, t_eq, color="0.92")
            ax.set_title(f"{r.case}: {r.verdict}", fontsize=9)
            ax.set_xlabel("t (ns)")
            ax.set_ylabel("V_m (mV)")
        for ax in axes.ravel()[len(traced):]:
            ax.axis("off")
        axes.ravel()[0].legend(fontsize=7)
        fig.tight_layout()
        p = out / "vm_traces.png"
        fig.savefig(p, dpi=100)
        plt.close(fig)
        paths.append(p)
    return paths
