"""Tables as files: CSV (numbers), GitHub markdown, LaTeX/booktabs and HTML (``"mean ± sd [lo, hi]"`` strings).

A table is a :class:`pandas.DataFrame` (see :func:`table_frame`) whose numeric columns stay machine readable:
every aggregate ``<name>`` is a group of columns ``<name>_mean``, ``<name>_sd``, ``<name>_ci_low``,
``<name>_ci_high`` and ``<name>_n`` (:meth:`rnnrobust.stats.Summary.columns`), printed as one column ``<name>``
(:func:`format_summary`). The count n is printed once: in a note when every cell of the table has the same n, in
the header of a column whose cells share one n, else in each cell (:func:`table_notes`, :func:`display_frame`).
Display metadata travels in ``DataFrame.attrs``: ``"headers"`` maps a column (or an aggregate's name) to its
printed header; ``"hidden"`` lists columns kept in the CSV but left out of the .md and .tex; ``"text"`` maps a
column (or aggregate) to a text column whose non-empty cells are printed instead of the number (e.g. "unstable"
where the number is an overflow); ``"notes"`` are sentences printed below the table.

The LaTeX is sized for a page (:data:`LATEX_TEXT_WIDTH_PT`): ``\\small``, ``\\tabcolsep`` 4 pt, headers wrapped
onto several lines, text cells wider than :data:`LATEX_WRAP_PT` set in a ragged ``\\parbox``, the parts of
``mean ± sd [lo, hi]`` on lines of their own when one line would not fit, and a smaller font when that is not enough
(:data:`LATEX_SIZES`); :func:`latex_layout` gives the resulting column widths, so that a test can check that a
table fits the text width.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnrobust.io import PathLike, write_text

__all__ = [
    "LATEX_COLUMN_SEP_PT",
    "LATEX_SIZES",
    "LATEX_TEXT_WIDTH_PT",
    "LATEX_WRAP_PT",
    "display_frame",
    "format_eps",
    "format_mean_std",
    "format_summary",
    "format_value",
    "latex_escape",
    "latex_font",
    "latex_layout",
    "table_frame",
    "table_notes",
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


def _decimals(sd: float, mean: float) -> int | None:
    """The decimal place that gives the sd 2 significant digits (negative: tens, hundreds), or None when fixed point
    would mislead (a mean of a million or more, an sd below 10⁻⁶)."""
    decimals = 1 - math.floor(math.log10(abs(sd)))
    return decimals if decimals <= 6 and abs(mean) < 1e6 else None


def _fixed(x: float, decimals: int) -> str:
    """``x`` rounded to ``decimals`` places (negative: to tens, hundreds, …)."""
    return f"{round(x, decimals):.{max(decimals, 0)}f}"


def format_mean_std(mean: Any, std: Any) -> str:
    """``"mean ± sd"``: the sd to 2 significant digits and the mean to the same decimal place; just the mean
    (:func:`format_value`) where the sd is NaN (a single seed) or the mean is not finite.

    >>> format_mean_std(83.2912, 0.4471), format_mean_std(1.0, 0.25), format_mean_std(284.9, 187.0)
    ('83.29 ± 0.45', '1.00 ± 0.25', '280 ± 190')
    >>> format_mean_std(0.5, float("nan"))
    '0.5'
    """
    text = format_value(mean)
    if not text or not isinstance(std, float | np.floating) or math.isnan(std):
        return text
    mean, std = float(mean), float(std)
    if not (math.isfinite(mean) and math.isfinite(std)):
        return f"{text} ± {format_value(std)}" if math.isfinite(mean) else text
    if std == 0.0:
        return f"{text} ± 0"
    decimals = _decimals(std, mean)
    if decimals is not None:
        return f"{_fixed(mean, decimals)} ± {_fixed(std, decimals)}"
    return f"{text} ± {std:.2g}"


def format_summary(mean: Any, sd: Any, ci_low: Any = math.nan, ci_high: Any = math.nan) -> str:
    """``"mean ± sd [lo, hi]"``: :func:`format_mean_std` and the confidence interval at the mean's decimal place.

    The interval is left out where it is NaN (a single seed, a non-finite value) or the sd is 0 (it is then
    [mean, mean]).

    >>> format_summary(83.2912, 0.4471, 82.80, 83.71), format_summary(2.0, 0.0, 2.0, 2.0)
    ('83.29 ± 0.45 [82.80, 83.71]', '2 ± 0')
    >>> format_summary(1444779.6, 30000.0, 1.41e6, 1.48e6), format_summary(0.5, float("nan"))
    ('1.445e+06 ± 3e+04 [1.41e+06, 1.48e+06]', '0.5')
    """
    text = format_mean_std(mean, sd)
    try:
        mean, sd, low, high = float(mean), float(sd), float(ci_low), float(ci_high)
    except (TypeError, ValueError):
        return text
    if not all(math.isfinite(v) for v in (mean, sd, low, high)) or sd == 0.0:
        return text
    decimals = _decimals(sd, mean)
    if decimals is not None:
        return f"{text} [{_fixed(low, decimals)}, {_fixed(high, decimals)}]"
    return f"{text} [{low:.3g}, {high:.3g}]"


def format_eps(eps_log10: float) -> str:
    """An ε level given as log10 ε, as a plain number.

    >>> format_eps(-2), format_eps(-2.5)
    ('0.01', '0.00316')
    """
    return f"{10.0 ** float(eps_log10):.3g}"


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


#: Suffixes of an aggregate's columns besides ``_mean`` (see the module docstring).
SUMMARY_PARTS = ("_sd", "_ci_low", "_ci_high", "_n")


def _aggregates(df: pd.DataFrame) -> dict[str, list[str]]:
    """Aggregate name -> its columns (``_mean`` first), for every ``X_mean`` with at least one other part."""
    names = [str(c) for c in df.columns]
    present = set(names)
    out = {}
    for name in names:
        prefix = name.removesuffix("_mean")
        if name.endswith("_mean") and any(prefix + part in present for part in SUMMARY_PARTS):
            out[prefix] = [name, *(prefix + part for part in SUMMARY_PARTS if prefix + part in present)]
    return out


def _counts(df: pd.DataFrame, prefix: str) -> list[int | None]:
    """The n of each cell of an aggregate (None where it has no ``_n`` column or no value)."""
    if f"{prefix}_n" not in df.columns:
        return [None] * len(df)
    return [
        int(n) if isinstance(n, int | float | np.number) and not math.isnan(n) and n > 0 else None
        for n in df[f"{prefix}_n"]
    ]


def _shown_aggregates(df: pd.DataFrame) -> list[str]:
    hidden = set(df.attrs.get("hidden", ())) | set(df.attrs.get("text", {}).values())
    return [prefix for prefix, cols in _aggregates(df).items() if cols[0] not in hidden]


def _common_n(df: pd.DataFrame) -> int | None:
    """The one n of every printed cell of every printed aggregate, if they all share one."""
    counts = {n for prefix in _shown_aggregates(df) for n in _counts(df, prefix) if n is not None}
    return counts.pop() if len(counts) == 1 else None


def table_notes(df: pd.DataFrame) -> list[str]:
    """The notes printed below a table: ``df.attrs["notes"]`` and, when every printed cell of its aggregates has
    the same n, a last note saying so (otherwise n is in the headers or the cells, :func:`display_frame`)."""
    notes = list(df.attrs.get("notes", ()))
    n = _common_n(df)
    if n is not None:
        notes.append(f"Cells: mean ± sd [95 % CI of the mean]; n = {n} in every cell.")
    return notes


def display_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, list[bool]]:
    """The printed form of a table.

    The columns of every aggregate ``X`` (``X_mean``, ``X_sd``, ``X_ci_low``, ``X_ci_high``, ``X_n``) become one
    column ``X`` (:func:`format_summary`), other cells go through :func:`format_value`; a non-empty cell of the text
    column ``df.attrs["text"][X]`` replaces the number; hidden columns (``df.attrs["hidden"]``) are dropped and
    headers come from ``df.attrs["headers"]`` (else the column name with spaces for underscores). The count n of
    an aggregate is printed once: nowhere when all printed cells share one n (:func:`table_notes` says it), in the
    header (``"… (n=3)"``) when the column's cells share one, else in each cell (``"… (n=2)"``).

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
    aggregates = _aggregates(df)
    parts = {col for cols in aggregates.values() for col in cols[1:]}
    common = _common_n(df)
    out, numeric = {}, []
    for col in df.columns:
        name = str(col)
        if col in hidden or name in parts:
            continue
        suffix = ""
        if name.endswith("_mean") and name[:-5] in aggregates:
            prefix = name[:-5]
            column = {p: df[f"{prefix}{p}"] if f"{prefix}{p}" in df.columns else [math.nan] * len(df)
                      for p in ("_mean", "_sd", "_ci_low", "_ci_high")}  # fmt: skip
            values = [format_summary(*cell) for cell in zip(*column.values(), strict=True)]
            counts = _counts(df, prefix)
            present = {n for n in counts if n is not None}
            if common is None and len(present) == 1:
                suffix = f" (n={present.pop()})"
            elif common is None and present:
                values = [f"{v} (n={n})" if v and n is not None else v for v, n in zip(values, counts, strict=True)]
            key, is_num = prefix, True
        else:
            values = [format_value(v) for v in df[col]]
            key, is_num = name, _numeric(df[col])
        if key in text:
            override = [v if isinstance(v, str) else "" for v in df[text[key]]]
            values = [o or v for o, v in zip(override, values, strict=True)]
        header = headers.get(key, key.replace("_", " ")) + suffix
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
    # Brackets in braces: "[" opening a line after "\\\\" would read as the row's extra height.
    "[": "{[}",
    "]": "{]}",
    "–": "--",
    "—": "---",
}
_LATEX_MATH = {
    "±": r"\pm",
    "−": "-",
    "∞": r"\infty",
    "ε": r"\varepsilon",
    "Δ": r"\Delta",
    "ρ": r"\rho",
    "σ": r"\sigma",
    "κ": r"\kappa",
    "‖": r"\|",
    "₁": "_1",
    "₂": "_2",
    "₅": "_5",
    "≤": r"\leq",
    "≥": r"\geq",
    "×": r"\times",
    "ᵏ": "^{k}",
}


def latex_escape(text: Any) -> str:
    """Escape LaTeX specials (``\\ & % $ # _ { } ~ ^ < >``; brackets go in braces); the unicode symbols the tables
    use become inline maths (adjacent symbols share one ``$…$``), and ``_`` or ``^`` right after such a symbol makes
    the next character its sub- or superscript (``ρ_ε``, ``‖W‖_F``).

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
#: Text cells wider than this (in pt at ``\small``, about 18 characters; as many characters in a smaller font) wrap
#: in a ragged ``\parbox``.
LATEX_WRAP_PT = 72.0
#: Horizontal space between two columns: 2 × ``\tabcolsep`` (4 pt).
LATEX_COLUMN_SEP_PT = 8.0
# Headers wrap at no less than this width (about 9 characters), so that they take few lines.
_HEADER_PT = 42.0
# Approximate glyph widths at \small (9 pt Computer Modern), in pt; other characters 4.5 (a digit).
_GLYPH_PT = {**dict.fromkeys(" ", 3.0), **dict.fromkeys(".,:;'|il!", 2.5), **dict.fromkeys("ftrj()[]/", 3.5),
             **dict.fromkeys("mwMW%±≥≤", 7.5), **dict.fromkeys("ABCDEFGHIJKLNOPQRSTUVXYZ‖", 6.5)}  # fmt: skip


#: Font sizes :func:`to_latex` tries, largest first, each with its glyph widths relative to ``\\small`` (9, 8, 7 pt).
LATEX_SIZES = (("small", 1.0), ("footnotesize", 8 / 9), ("scriptsize", 7 / 9))


def _width_pt(text: str, scale: float = 1.0) -> float:
    """Approximate printed width of ``text`` at ``\\small`` (times ``scale`` for a smaller font), in pt."""
    return scale * sum(_GLYPH_PT.get(ch, 4.5) for ch in str(text))


def _wrap(text: str, width_pt: float, scale: float = 1.0) -> list[str]:
    """Greedy word wrap of ``text`` into lines at most ``width_pt`` wide (a longer word keeps its line)."""
    lines: list[str] = []
    for word in text.split():
        if lines and _width_pt(f"{lines[-1]} {word}", scale) <= width_pt:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _cell_lines(text: str, numeric: bool, stacked: bool) -> list[str]:
    """A cell's printed lines: one, or for a stacked numeric cell ``mean``, ``± sd``, ``[lo, hi]``, ``(n=k)``."""
    if numeric and stacked and " ± " in text:
        for part in (" ± ", " [", " (n="):
            text = text.replace(part, "\n" + part[1:], 1)
        return text.split("\n")
    return [text]


def _layout(df: pd.DataFrame, stacked: bool, scale: float = 1.0) -> list[tuple[str, list[str], float]]:
    shown, numeric = display_frame(df)
    layout = []
    for header, num in zip(shown.columns, numeric, strict=True):
        cells = [_width_pt(line, scale) for v in shown[header] for line in _cell_lines(str(v), num, stacked)]
        width = max(cells, default=0.0)
        if not num:
            width = min(width, LATEX_WRAP_PT * scale)  # the same characters per line in a smaller font
        words = [_width_pt(word, scale) for word in str(header).split()]
        width = max(width, min(_width_pt(str(header), scale), _HEADER_PT * scale), *words, 1.0)
        layout.append(("r" if num else "l", _wrap(str(header), width, scale), width))
    return layout


def _fit(df: pd.DataFrame) -> tuple[str, bool, float]:
    """(font size, stacked, glyph scale) of :func:`to_latex`: ``\\small`` on one line, else ``\\small`` stacked,
    else stacked in the smaller sizes of :data:`LATEX_SIZES`, the first that fits (else the smallest)."""
    tries = [(LATEX_SIZES[0][0], False, 1.0), *((size, True, scale) for size, scale in LATEX_SIZES)]
    for size, stacked, scale in tries:
        if sum(w + LATEX_COLUMN_SEP_PT for _, _, w in _layout(df, stacked, scale)) <= LATEX_TEXT_WIDTH_PT:
            return size, stacked, scale
    return tries[-1]


def latex_font(df: pd.DataFrame) -> str:
    """The font size command :func:`to_latex` sets the table in (one of :data:`LATEX_SIZES`), without backslash."""
    return _fit(df)[0]


def latex_layout(df: pd.DataFrame) -> list[tuple[str, list[str], float]]:
    """How :func:`to_latex` sets each printed column: (alignment ``"l"``/``"r"``, header lines, width in pt).

    A column is as wide as its longest cell, text cells capped at :data:`LATEX_WRAP_PT` (longer ones wrap), and
    at least as wide as the longest word of its header and about 9 characters (or the header, if shorter); the
    header wraps to that width. When the columns on one line would exceed :data:`LATEX_TEXT_WIDTH_PT`, every
    ``mean ± sd [lo, hi]`` cell is set on lines of its parts (mean, ``± sd``, ``[lo, hi]``, ``(n=k)``), and when
    that is still too wide, in a smaller font (:func:`latex_font`). Widths are estimates from typical glyph widths.
    """
    _, stacked, scale = _fit(df)
    return _layout(df, stacked, scale)


def _latex_lines(lines: list[str], align: str, pos: str) -> str:
    if len(lines) == 1:
        return latex_escape(lines[0])
    body = " \\\\ ".join(latex_escape(x) for x in lines)
    return f"\\begin{{tabular}}[{pos}]{{@{{}}{align}@{{}}}}{body}\\end{{tabular}}"


def _latex_cell(text: str, numeric: bool, stacked: bool, scale: float) -> str:
    if numeric:
        return _latex_lines(_cell_lines(text, numeric, stacked), "r", "t")
    wrap = LATEX_WRAP_PT * scale
    if _width_pt(text, scale) <= wrap:
        return latex_escape(text)
    return f"\\parbox[t]{{{wrap:.4g}pt}}{{\\raggedright {latex_escape(text)}}}"


def to_latex(df: pd.DataFrame, caption: str = "", label: str | None = None) -> str:
    """A booktabs table (``\\toprule``/``\\midrule``/``\\bottomrule``; needs ``\\usepackage{booktabs}``) at
    ``\\small`` or smaller (:func:`latex_font`), sized for :data:`LATEX_TEXT_WIDTH_PT` (:func:`latex_layout`), the
    notes below it. A table still too wide in the smallest size (e.g. Table 1 with many regimes) is centred across
    the margins (``\\makebox``), never scaled."""
    shown, numeric = display_frame(df)
    size, stacked, scale = _fit(df)
    layout = _layout(df, stacked, scale)
    spec = "".join(align for align, _, _ in layout)
    lines = [
        "% Generated by rnnrobust.reporting.render.write_table; needs \\usepackage{booktabs}.",
        "\\begin{table}[htbp]",
        "\\centering",
        f"\\{size}",
        "\\setlength{\\tabcolsep}{4pt}",
    ]
    if caption:
        lines.append(f"\\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(f"\\label{{{label}}}")
    # Wider than the text even at the smallest size (many regimes): centred over the margins, never scaled.
    wide = sum(w + LATEX_COLUMN_SEP_PT for _, _, w in layout) > LATEX_TEXT_WIDTH_PT
    if wide:
        lines.append("\\makebox[\\linewidth][c]{%")
    lines += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
    lines.append(" & ".join(_latex_lines(header, align, "b") for align, header, _ in layout) + " \\\\")
    lines.append("\\midrule")
    for row in shown.itertuples(index=False):
        cells = [_latex_cell(str(v), num, stacked, scale) for v, num in zip(row, numeric, strict=True)]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}" + ("}" if wide else "")]
    notes = table_notes(df)
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
