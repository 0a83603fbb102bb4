"""Tables (rich on the console, Markdown in report.md), sections, and number formatting."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.table import Table as RichTable


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def rich(self) -> RichTable:
        t = RichTable(title=self.title, title_justify="left", caption=self.note or None, caption_justify="left")
        for i, col in enumerate(self.columns):
            t.add_column(col, justify="left" if i == 0 else "right")
        for row in self.rows:
            t.add_row(*row)
        return t

    def markdown(self) -> str:
        out = [f"**{self.title}**", ""]
        out.append("| " + " | ".join(self.columns) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(self.columns) - 1)) + "|")
        for row in self.rows:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        if self.note:
            out += ["", self.note]
        return "\n".join(out)


@dataclass
class Section:
    name: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)  # PNG file names in the results directory
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        out = [f"## {self.title}", ""]
        if self.intro:
            out += [self.intro, ""]
        for t in self.tables:
            out += [t.markdown(), ""]
        for p in self.plots:
            out += [f"![{p}]({p})", ""]
        for n in self.notes:
            out += [f"- {n}"]
        if self.notes:
            out.append("")
        return "\n".join(out)


def ms(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def nbytes(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(x) >= size:
            return f"{x / size:.1f} {unit}"
    return f"{x:.0f} B"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return "-"
    return f"{a / b:.2f}x"


def med_p90(s: dict[str, float] | None, fmt: Any = ms) -> str:
    """'median (p90)' of a stats dict."""
    if not s or not s.get("n"):
        return "-"
    return f"{fmt(s['median'])} ({fmt(s['p90'])})"


def verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "not measured"}[met]


def pyplot() -> ModuleType:
    """matplotlib.pyplot on the file-only Agg backend; imported when a plot is drawn, not before."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, outdir: Path, name: str) -> str:
    """Write the figure as outdir/name, free it, and return the name for the report."""
    fig.tight_layout()
    fig.savefig(outdir / name, dpi=110)
    pyplot().close(fig)
    return name
