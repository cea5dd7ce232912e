"""Tables as files: CSV (numbers), GitHub markdown and LaTeX/booktabs (``"mean ± std"`` strings).

A table is a :class:`pandas.DataFrame` (see :func:`table_frame`) whose numeric columns stay machine readable:
every aggregate is a ``<name>_mean`` / ``<name>_std`` pair, printed as one column ``<name>``. Display metadata
travels in ``DataFrame.attrs``: ``"headers"`` maps a column (or a ``_mean``/``_std`` prefix) to its printed
header and ``"hidden"`` lists columns kept in the CSV but left out of the .md and .tex.
"""

from __future__ import annotations

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
    "display_frame",
    "format_eps",
    "format_mean_std",
    "format_value",
    "latex_escape",
    "table_frame",
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
) -> pd.DataFrame:
    """A table: ``rows`` in the column order ``columns``, with its printed ``headers`` and ``hidden`` columns."""
    df = pd.DataFrame(list(rows), columns=list(columns))
    df.attrs["headers"] = dict(headers or {})
    df.attrs["hidden"] = list(hidden)
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
    """``"mean ± std"`` by :func:`format_value`; just the mean where the std is NaN (a single seed)."""
    text = format_value(mean)
    if text and isinstance(std, float | np.floating) and not math.isnan(std):
        text += f" ± {format_value(std)}"
    return text


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
    through :func:`format_value`; hidden columns (``df.attrs["hidden"]``) are dropped and headers come from
    ``df.attrs["headers"]`` (else the column name with spaces for underscores).

    Returns
    -------
    shown : DataFrame
        The strings, one column per printed header.
    numeric : list of bool
        Per column of ``shown``, whether it holds numbers (right-aligned).
    """
    headers = df.attrs.get("headers", {})
    hidden = set(df.attrs.get("hidden", ()))
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
        header = headers.get(key, key.replace("_", " "))
        if header in out:
            raise ValueError(f"two columns of the table print as {header!r}")
        out[header] = values
        numeric.append(is_num)
    return pd.DataFrame(out, dtype=object), numeric


def _csv_cell(x: Any) -> Any:
    if isinstance(x, Mapping):
        return ";".join(f"{k}:{float(v)!r}" for k, v in x.items())
    if isinstance(x, list | tuple):
        return ";".join(repr(v) for v in x)
    return x


def to_markdown(df: pd.DataFrame, caption: str = "") -> str:
    """GitHub markdown: the caption as a bold paragraph, then a pipe table of :func:`display_frame`."""
    shown, numeric = display_frame(df)

    def cell(text: Any) -> str:
        return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [f"**{cell(caption)}**", ""] if caption else []
    lines.append("| " + " | ".join(cell(h) for h in shown.columns) + " |")
    lines.append("|" + "|".join("---:" if num else "---" for num in numeric) + "|")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines) + "\n"


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
}


def latex_escape(text: Any) -> str:
    """Escape LaTeX specials (``\\ & % $ # _ { } ~ ^ < >``); the unicode symbols the tables use become inline
    maths (adjacent symbols share one ``$…$``)."""
    out: list[str] = []
    maths: list[str] = []
    for ch in str(text):
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


def to_latex(df: pd.DataFrame, caption: str = "", label: str | None = None) -> str:
    """A booktabs table (``\\toprule``/``\\midrule``/``\\bottomrule``; needs ``\\usepackage{booktabs}``)."""
    shown, numeric = display_frame(df)
    spec = "".join("r" if num else "l" for num in numeric)
    lines = [
        "% Generated by rnnrobust.render.write_table; needs \\usepackage{booktabs}.",
        "\\begin{table}[htbp]",
        "\\centering",
    ]
    if caption:
        lines.append(f"\\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(f"\\label{{{label}}}")
    lines += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
    lines.append(" & ".join(latex_escape(h) for h in shown.columns) + " \\\\")
    lines.append("\\midrule")
    lines += [" & ".join(latex_escape(v) for v in row) + " \\\\" for row in shown.itertuples(index=False)]
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(df: pd.DataFrame, stem: PathLike, caption: str, *, label: str | None = None) -> list[Path]:
    """Write ``stem.csv``, ``stem.md`` and ``stem.tex``, each atomically.

    The CSV holds every column at full precision (dict cells as ``seed:value;…``); the markdown is
    :func:`to_markdown` and the LaTeX :func:`to_latex` with label ``tab:<name of stem>`` unless ``label``
    is given. Returns the three paths.
    """
    stem = Path(stem)
    paths = [stem.parent / f"{stem.name}.{ext}" for ext in ("csv", "md", "tex")]
    csv = df.copy()
    for col in csv.columns:
        if csv[col].dtype == object:
            csv[col] = csv[col].map(_csv_cell)
    write_text(paths[0], csv.to_csv(index=False, lineterminator="\n"))
    write_text(paths[1], to_markdown(df, caption))
    write_text(paths[2], to_latex(df, caption, label if label is not None else f"tab:{stem.name}"))
    return paths
