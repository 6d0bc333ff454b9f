"""Tables that the analysis commands print and the report writes as Markdown and HTML.

A :class:`Table` holds already formatted cells; ``text()`` aligns them for a terminal,
``markdown()`` and ``html()`` write them for the report. Number formatting lives here too, so
the same value reads the same everywhere.
"""

from __future__ import annotations

import html as _html
import math
from dataclasses import dataclass, field

__all__ = ["Table", "fmt", "fmt_pm", "fmt_sci"]


def fmt(value, digits: int = 2, unit: str = "", sign: bool = False) -> str:
    """A fixed-point number with a unit, or 'n/a' for None / NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    value = float(value) + 0.0  # no "-0.00"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return f"{text} {unit}".rstrip()


def fmt_pm(mean, sem, digits: int = 2, unit: str = "", sign: bool = False) -> str:
    """'mean +/- sem unit' ('n/a' for a missing mean; the error omitted when unknown)."""
    if mean is None or not math.isfinite(mean):
        return "n/a"
    mean = float(mean) + 0.0
    head = f"{mean:+.{digits}f}" if sign else f"{mean:.{digits}f}"
    if sem is not None and math.isfinite(sem):
        head += f" +/- {sem:.{digits}f}"
    return f"{head} {unit}".rstrip()


def fmt_sci(value, digits: int = 2, unit: str = "") -> str:
    """Scientific notation (1.23e-05) with a unit, 'n/a' for None / NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{float(value) + 0.0:.{digits}e} {unit}".rstrip()


@dataclass
class Table:
    """A titled table of text cells with notes under it.

    Attributes:
        title: one line above the table.
        header: column names (the first column names the rows).
        rows: lists of cells, each as long as the header.
        notes: lines printed under the table.
    """

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells) -> None:
        if len(cells) != len(self.header):
            raise ValueError(f"row {cells} has {len(cells)} cells, header {len(self.header)}")
        self.rows.append([str(c) for c in cells])

    def text(self, indent: str = "  ") -> list[str]:
        """Aligned plain-text lines: title, header, rows, notes."""
        widths = [max(len(r[i]) for r in [self.header] + self.rows)
                  for i in range(len(self.header))]

        def line(cells):
            first = cells[0].ljust(widths[0])
            rest = "  ".join(c.rjust(w) for c, w in zip(cells[1:], widths[1:]))
            return (indent + first + "  " + rest).rstrip()

        out = [self.title] if self.title else []
        out.append(line(self.header))
        out.extend(line(r) for r in self.rows)
        out.extend(indent + n for n in self.notes)
        return out

    def markdown(self) -> str:
        def esc(c):
            return c.replace("|", "\\|")
        lines = [f"**{self.title}**", ""] if self.title else []
        lines.append("| " + " | ".join(esc(c) for c in self.header) + " |")
        lines.append("|" + "|".join([":---"] + ["---:"] * (len(self.header) - 1)) + "|")
        lines.extend("| " + " | ".join(esc(c) for c in r) + " |" for r in self.rows)
        if self.notes:
            lines.append("")
            lines.extend(f"- {n}" for n in self.notes)
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        e = _html.escape
        parts = [f"<h3>{e(self.title)}</h3>"] if self.title else []
        parts.append("<table><thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in self.header)
                     + "</tr></thead><tbody>")
        for r in self.rows:
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>")
        parts.append("</tbody></table>")
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in self.notes) + "</ul>")
        return "\n".join(parts)


def printout(header: str, tables, notes) -> list[str]:
    """What an analysis command prints: its header line, each table as text after a blank
    line, then the run's notes."""
    lines = [header]
    for t in tables:
        lines.append("")
        lines.extend(t.text())
    if notes:
        lines.append("")
        lines.extend(f"note: {n}" for n in notes)
    return lines


def json_number(x):
    """A JSON-safe float (None for None / NaN / inf)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
