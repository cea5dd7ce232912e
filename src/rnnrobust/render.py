"""Tables as files: CSV (numbers), GitHub markdown, LaTeX/booktabs and HTML (``"mean ± std"`` strings).

A table is a :class:`pandas.DataFrame` (see :func:`table_frame`) whose numeric columns stay machine readable:
every aggregate is a ``<name>_mean`` / ``<name>_std`` pair, printed as one column ``<name>``. Display metadata
travels in ``DataFrame.attrs``: ``"headers"`` maps a column (or a ``_mean``/``_std`` prefix) to its printed
header; ``"hidden"`` lists columns kept in the CSV but left out of the .md and .tex; ``"text"`` maps a column
(or prefix) to a text column whose non-empty cells are printed instead of the number (e.g. "unstable"
where the number is an overflow); ``"notes"`` are sentences printed below the table.

The LaTeX is sized for a page (:data:`LATEX_TEXT_WIDTH_PT`): ``\\small``, ``\\tabcolsep`` 4 pt, headers wrapped
onto several lines, text cells wider than :data:`LATEX_WRAP_PT` set in a ragged ``\\parbox``, and ``mean ± std``
on two lines when one line would not fit; :func:`latex_layout` gives the resulting column widths, so that a test
can check that a table fits the text width.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .io import write_text

PathLike = str | os.PathLike[str]

__all__ = [
    "LATEX_COLUMN_SEP_PT",
    "LATEX_TEXT_WIDTH_PT",
    "LATEX_WRAP_PT",
    "display_frame",
    "format_eps",
    "format_mean_std",
    "format_value",
    "latex_escape",
    "latex_layout",
    "table_frame",
    "to_html",
    "to_latex",
    "to_markdown",
    "write_table",
]


def table_frame(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    headers: Mapping[str, str] | None = None,
    hidden: Sequence[str] = (),
    text: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
) -> pd.DataFrame:
    """A table: ``rows`` in the column order ``columns``, with its printed ``headers``, ``hidden`` columns, ``text``
    overrides (column or prefix → text column, itself hidden) and ``notes`` (see the module docstring)."""
    df = pd.DataFrame(list(rows), columns=list(columns))
    text = dict(text or {})
    df.attrs["headers"] = dict(headers or {})
    df.attrs["hidden"] = list(dict.fromkeys([*hidden, *text.values()]))
    df.attrs["text"] = text
    df.attrs["notes"] = list(notes)
    return df


def format_value(x: Any) -> str:
    """A cell as text: 4 significant digits, ``∞``, ``""`` for None and NaN, dicts as ``"k: v; …"``.

    >>> format_value(3.14159), format_value(float("inf")), format_value({0: 0.5, 1: 2})
    ('3.142', '∞', '0: 0.5; 1: 2')
    """
    if x is None:
        return ""
    if isinstance(x, bool | np.bool_):
        return str(bool(x))
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating):
        x = float(x)
        if math.isnan(x):
            return ""
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        return f"{x:.4g}"
    if isinstance(x, Mapping):
        return "; ".join(f"{k}: {format_value(v)}" for k, v in x.items())
    if isinstance(x, list | tuple):
        return ", ".join(format_value(v) for v in x)
    return str(x)


def format_mean_std(mean: Any, std: Any) -> str:
    """``"mean ± std"``: the std to 2 significant digits and the mean to the same decimal place; just the mean
    (:func:`format_value`) where the std is NaN (a single seed) or the mean is not finite.

    >>> format_mean_std(83.2912, 0.4471), format_mean_std(1.0, 0.25), format_mean_std(0.5, float("nan"))
    ('83.29 ± 0.45', '1.00 ± 0.25', '0.5')
    """
    text = format_value(mean)
    if not text or not isinstance(std, float | np.floating) or math.isnan(std):
        return text
    mean, std = float(mean), float(std)
    if not (math.isfinite(mean) and math.isfinite(std)):
        return f"{text} ± {format_value(std)}" if math.isfinite(mean) else text
    if std == 0.0:
        return f"{text} ± 0"
    decimals = 1 - math.floor(math.log10(abs(std)))
    if 0 <= decimals <= 6 and abs(mean) < 1e6:
        return f"{mean:.{decimals}f} ± {std:.{decimals}f}"
    return f"{text} ± {std:.2g}"


def format_eps(eps_log10: float) -> str:
    """An ε level given as log10 ε, as a plain number.

    >>> format_eps(-2), format_eps(-2.5)
    ('0.01', '0.00316')
    """
    return f"{10.0 ** float(eps_log10):.3g}"


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def display_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, list[bool]]:
    """The printed form of a table.

    Every ``X_mean`` / ``X_std`` pair becomes one column ``X`` (:func:`format_mean_std`), other cells go
    through :func:`format_value`; a non-empty cell of the text column ``df.attrs["text"][X]`` replaces the
    number; hidden columns (``df.attrs["hidden"]``) are dropped and headers come from ``df.attrs["headers"]``
    (else the column name with spaces for underscores).

    Returns
    -------
    shown : DataFrame
        The strings, one column per printed header.
    numeric : list of bool
        Per column of ``shown``, whether it holds numbers (right-aligned).
    """
    headers = df.attrs.get("headers", {})
    text = df.attrs.get("text", {})
    hidden = set(df.attrs.get("hidden", ())) | set(text.values())
    out, numeric = {}, []
    for col in df.columns:
        if col in hidden:
            continue
        name = str(col)
        if name.endswith("_std") and f"{name[:-4]}_mean" in df.columns:
            continue
        if name.endswith("_mean") and f"{name[:-5]}_std" in df.columns:
            prefix = name[:-5]
            values = [format_mean_std(m, s) for m, s in zip(df[col], df[f"{prefix}_std"], strict=True)]
            key, is_num = prefix, True
        else:
            values = [format_value(v) for v in df[col]]
            key, is_num = name, _numeric(df[col])
        if key in text:
            override = [v if isinstance(v, str) else "" for v in df[text[key]]]
            values = [o or v for o, v in zip(override, values, strict=True)]
        header = headers.get(key, key.replace("_", " "))
        if header in out:
            raise ValueError(f"two columns of the table print as {header!r}")
        out[header] = values
        numeric.append(is_num)
    return pd.DataFrame(out, dtype=object), numeric


def _csv_cell(x: Any) -> Any:
    if isinstance(x, Mapping):
        return ";".join(f"{k}:{v if isinstance(v, str) else repr(float(v))}" for k, v in x.items())
    if isinstance(x, list | tuple):
        return ";".join(repr(v) for v in x)
    return x


def to_markdown(df: pd.DataFrame, caption: str = "") -> str:
    """GitHub markdown: the caption as a bold paragraph, a pipe table of :func:`display_frame`, then the notes
    (``df.attrs["notes"]``), one paragraph each."""
    shown, numeric = display_frame(df)

    def cell(text: Any) -> str:
        return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [f"**{cell(caption)}**", ""] if caption else []
    lines.append("| " + " | ".join(cell(h) for h in shown.columns) + " |")
    lines.append("|" + "|".join("---:" if num else "---" for num in numeric) + "|")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    for note in df.attrs.get("notes", ()):
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
    and the notes (``df.attrs["notes"]``), for the workflow's HTML report."""
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
    notes = "".join(f'<p class="note">{html.escape(note)}</p>\n' for note in df.attrs.get("notes", ()))
    title = html.escape(caption)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f"<style>{_HTML_STYLE}</style>\n</head>\n<body>\n<table>\n<caption>{title}</caption>\n"
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + f"\n</tbody>\n</table>\n{notes}</body>\n</html>\n"
    )


_LATEX_TEXT = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "–": "--",
    "—": "---",
}
_LATEX_MATH = {
    "±": r"\pm",
    "−": "-",
    "∞": r"\infty",
    "ε": r"\varepsilon",
    "ρ": r"\rho",
    "σ": r"\sigma",
    "κ": r"\kappa",
    "‖": r"\|",
    "₂": "_2",
    "≤": r"\leq",
    "≥": r"\geq",
    "×": r"\times",
    "ᵏ": "^{k}",
}


def latex_escape(text: Any) -> str:
    """Escape LaTeX specials (``\\ & % $ # _ { } ~ ^ < >``); the unicode symbols the tables use become inline
    maths (adjacent symbols share one ``$…$``), and ``_`` or ``^`` right after such a symbol makes the next
    character its sub- or superscript (``ρ_ε``, ``‖W‖_F``).

    >>> print(latex_escape("ρ_ε, ε = 0.01"), latex_escape("x_y"))
    $\\rho _{\\varepsilon}$, $\\varepsilon$ = 0.01 x\\_y
    """
    out: list[str] = []
    maths: list[str] = []
    chars = str(text)
    skip = False
    for i, ch in enumerate(chars):
        if skip:
            skip = False
            continue
        if ch in "_^" and maths and i + 1 < len(chars) and not chars[i + 1].isspace():
            nxt = chars[i + 1]
            maths.append(f"{ch}{{{_LATEX_MATH.get(nxt, nxt)}}}")
            skip = True
            continue
        if ch in _LATEX_MATH:
            maths.append(_LATEX_MATH[ch])
            continue
        if maths:
            out.append("$" + " ".join(maths) + "$")
            maths = []
        out.append(_LATEX_TEXT.get(ch, ch))
    if maths:
        out.append("$" + " ".join(maths) + "$")
    return "".join(out)


#: The text width the LaTeX tables are sized for, in pt: US letter or A4 with 1-inch margins (6.3 in).
LATEX_TEXT_WIDTH_PT = 455.0
#: Text cells wider than this (in pt at ``\small``, about 18 characters) wrap in a ragged ``\parbox``.
LATEX_WRAP_PT = 72.0
#: Horizontal space between two columns: 2 × ``\tabcolsep`` (4 pt).
LATEX_COLUMN_SEP_PT = 8.0
# Headers wrap at no less than this width (about 9 characters), so that they take few lines.
_HEADER_PT = 42.0
# Approximate glyph widths at \small (9 pt Computer Modern), in pt; other characters 4.5 (a digit).
_GLYPH_PT = {**dict.fromkeys(" ", 3.0), **dict.fromkeys(".,:;'|il!", 2.5), **dict.fromkeys("ftrj()[]/", 3.5),
             **dict.fromkeys("mwMW%±≥≤", 7.5), **dict.fromkeys("ABCDEFGHIJKLNOPQRSTUVXYZ‖", 6.5)}  # fmt: skip


def _width_pt(text: str) -> float:
    """Approximate printed width of ``text`` at ``\\small``, in pt."""
    return sum(_GLYPH_PT.get(ch, 4.5) for ch in str(text))


def _wrap(text: str, width_pt: float) -> list[str]:
    """Greedy word wrap of ``text`` into lines at most ``width_pt`` wide (a longer word keeps its line)."""
    lines: list[str] = []
    for word in text.split():
        if lines and _width_pt(f"{lines[-1]} {word}") <= width_pt:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _cell_lines(text: str, numeric: bool, stacked: bool) -> list[str]:
    if numeric and stacked and " ± " in text:
        mean, std = text.split(" ± ", 1)
        return [mean, f"± {std}"]
    return [text]


def _layout(df: pd.DataFrame, stacked: bool) -> list[tuple[str, list[str], float]]:
    shown, numeric = display_frame(df)
    layout = []
    for header, num in zip(shown.columns, numeric, strict=True):
        cells = [_width_pt(line) for v in shown[header] for line in _cell_lines(str(v), num, stacked)]
        width = max(cells, default=0.0)
        if not num:
            width = min(width, LATEX_WRAP_PT)
        words = [_width_pt(word) for word in str(header).split()]
        width = max(width, min(_width_pt(str(header)), _HEADER_PT), *words, 1.0)
        layout.append(("r" if num else "l", _wrap(str(header), width), width))
    return layout


def _stacked(df: pd.DataFrame) -> bool:
    """Whether :func:`to_latex` prints ``mean ± std`` on two lines: only when one line is wider than the page."""
    layout = _layout(df, stacked=False)
    return sum(w + LATEX_COLUMN_SEP_PT for _, _, w in layout) > LATEX_TEXT_WIDTH_PT


def latex_layout(df: pd.DataFrame) -> list[tuple[str, list[str], float]]:
    """How :func:`to_latex` sets each printed column: (alignment ``"l"``/``"r"``, header lines, width in pt).

    A column is as wide as its longest cell, text cells capped at :data:`LATEX_WRAP_PT` (longer ones wrap), and
    at least as wide as the longest word of its header and about 9 characters (or the header, if shorter); the
    header wraps to that width. When the columns on one line would exceed :data:`LATEX_TEXT_WIDTH_PT`, every
    ``mean ± std`` cell is set on two lines (mean, then ``± std``). Widths are estimates from typical glyph
    widths at ``\\small``.
    """
    return _layout(df, _stacked(df))


def _latex_lines(lines: list[str], align: str, pos: str) -> str:
    if len(lines) == 1:
        return latex_escape(lines[0])
    body = " \\\\ ".join(latex_escape(x) for x in lines)
    return f"\\begin{{tabular}}[{pos}]{{@{{}}{align}@{{}}}}{body}\\end{{tabular}}"


def _latex_cell(text: str, numeric: bool, stacked: bool) -> str:
    if numeric:
        return _latex_lines(_cell_lines(text, numeric, stacked), "r", "t")
    if _width_pt(text) <= LATEX_WRAP_PT:
        return latex_escape(text)
    return f"\\parbox[t]{{{LATEX_WRAP_PT:g}pt}}{{\\raggedright {latex_escape(text)}}}"


def to_latex(df: pd.DataFrame, caption: str = "", label: str | None = None) -> str:
    """A booktabs table (``\\toprule``/``\\midrule``/``\\bottomrule``; needs ``\\usepackage{booktabs}``) at
    ``\\small``, sized for :data:`LATEX_TEXT_WIDTH_PT` (:func:`latex_layout`), the notes below it."""
    shown, numeric = display_frame(df)
    stacked = _stacked(df)
    layout = _layout(df, stacked)
    spec = "".join(align for align, _, _ in layout)
    lines = [
        "% Generated by rnnrobust.render.write_table; needs \\usepackage{booktabs}.",
        "\\begin{table}[htbp]",
        "\\centering",
        "\\small",
        "\\setlength{\\tabcolsep}{4pt}",
    ]
    if caption:
        lines.append(f"\\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(f"\\label{{{label}}}")
    lines += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
    lines.append(" & ".join(_latex_lines(header, align, "b") for align, header, _ in layout) + " \\\\")
    lines.append("\\midrule")
    for row in shown.itertuples(index=False):
        cells = [_latex_cell(str(v), num, stacked) for v, num in zip(row, numeric, strict=True)]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    notes = df.attrs.get("notes", ())
    if notes:
        lines += ["", "\\smallskip", "\\begin{minipage}{\\linewidth}\\footnotesize"]
        lines += [latex_escape(note) + "\\par" for note in notes]
        lines.append("\\end{minipage}")
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


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
