"""Tables as files: CSV (numbers), GitHub markdown, LaTeX/booktabs and HTML (``"mean ± sd [lo, hi]"`` strings).

A table is a :class:`pandas.DataFrame` of :func:`rnnrobust.reporting.table_frame.table_frame`; its printed form
(:func:`~rnnrobust.reporting.table_frame.display_frame`) is the same in every format but the CSV, which holds every
column at full precision. :func:`write_table` writes the four files; the LaTeX comes from
:func:`rnnrobust.reporting.latex.to_latex`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rnnrobust.io import PathLike, write_text
from rnnrobust.reporting.latex import to_latex
from rnnrobust.reporting.table_frame import display_frame, table_notes

__all__ = ["to_html", "to_markdown", "write_table"]


def _csv_cell(x: Any) -> Any:
    if isinstance(x, Mapping):
        return ";".join(f"{k}:{v if isinstance(v, str) else repr(float(v))}" for k, v in x.items())
    if isinstance(x, list | tuple):
        return ";".join(repr(v) for v in x)
    return x


def to_markdown(df: pd.DataFrame, caption: str = "") -> str:
    """GitHub markdown: the caption as a bold paragraph, a pipe table of :func:`display_frame`, then the notes
    (:func:`table_notes`), one paragraph each."""
    shown, numeric = display_frame(df)

    def cell(text: Any) -> str:
        return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [f"**{cell(caption)}**", ""] if caption else []
    lines.append("| " + " | ".join(cell(h) for h in shown.columns) + " |")
    lines.append("|" + "|".join("---:" if num else "---" for num in numeric) + "|")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    for note in table_notes(df):
        lines += ["", note]
    return "\n".join(lines) + "\n"


_HTML_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1em; color: #222; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.5em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; vertical-align: top; }
thead th { border-bottom: 2px solid #555; text-align: left; max-width: 11em; }
th.num { text-align: right; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #f6f6f6; }
p.note { max-width: 60em; font-size: 0.85em; color: #444; }
"""


def to_html(df: pd.DataFrame, caption: str = "") -> str:
    """A self-contained HTML page: the caption, the table of :func:`display_frame` (numbers right-aligned)
    and the notes (:func:`table_notes`), for the workflow's HTML report."""
    shown, numeric = display_frame(df)

    def cls(num: bool) -> str:
        return ' class="num"' if num else ""

    head = "".join(f"<th{cls(num)}>{html.escape(str(h))}</th>" for h, num in zip(shown.columns, numeric, strict=True))
    rows = [
        "<tr>"
        + "".join(f"<td{cls(num)}>{html.escape(str(v))}</td>" for v, num in zip(row, numeric, strict=True))
        + "</tr>"
        for row in shown.itertuples(index=False)
    ]
    notes = "".join(f'<p class="note">{html.escape(note)}</p>\n' for note in table_notes(df))
    title = html.escape(caption)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f"<style>{_HTML_STYLE}</style>\n</head>\n<body>\n<table>\n<caption>{title}</caption>\n"
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + f"\n</tbody>\n</table>\n{notes}</body>\n</html>\n"
    )


def write_table(df: pd.DataFrame, stem: PathLike, caption: str, *, label: str | None = None) -> list[Path]:
    """Write ``stem.csv``, ``stem.md``, ``stem.tex`` and ``stem.html``, each atomically.

    The CSV holds every column at full precision (dict cells as ``seed:value;…``); the markdown is
    :func:`to_markdown`, the LaTeX :func:`to_latex` with label ``tab:<name of stem>`` unless ``label``
    is given, the HTML :func:`to_html`. Returns the four paths.
    """
    stem = Path(stem)
    paths = [stem.parent / f"{stem.name}.{ext}" for ext in ("csv", "md", "tex", "html")]
    csv = df.copy()
    for col in csv.columns:
        if csv[col].dtype == object:
            csv[col] = csv[col].map(_csv_cell)
    write_text(paths[0], csv.to_csv(index=False, lineterminator="\n"))
    write_text(paths[1], to_markdown(df, caption))
    write_text(paths[2], to_latex(df, caption, label if label is not None else f"tab:{stem.name}"))
    write_text(paths[3], to_html(df, caption))
    return paths
