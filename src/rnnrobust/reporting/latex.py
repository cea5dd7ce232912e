"""Tables as LaTeX/booktabs, sized for a page.

The LaTeX is sized for :data:`LATEX_TEXT_WIDTH_PT`: ``\\small``, ``\\tabcolsep`` 4 pt, headers wrapped onto several
lines, text cells wider than :data:`LATEX_WRAP_PT` set in a ragged ``\\parbox``, the parts of ``mean ± sd [lo, hi]``
on lines of their own when one line would not fit, and a smaller font when that is not enough (:data:`LATEX_SIZES`);
:func:`latex_layout` gives the resulting column widths, so that a test can check that a table fits the text width.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from rnnrobust.reporting.table_frame import display_frame, table_notes

__all__ = [
    "LATEX_COLUMN_SEP_PT",
    "LATEX_SIZES",
    "LATEX_TEXT_WIDTH_PT",
    "LATEX_WRAP_PT",
    "latex_escape",
    "latex_font",
    "latex_layout",
    "to_latex",
]


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
