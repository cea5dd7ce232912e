"""A table as a :class:`pandas.DataFrame` and its printed form.

A table's numeric columns stay machine readable: every aggregate ``<name>`` is a group of columns ``<name>_mean``,
``<name>_sd``, ``<name>_ci_low``, ``<name>_ci_high`` and ``<name>_n`` (:meth:`rnnrobust.stats.Summary.columns`),
printed as one column ``<name>`` (:func:`rnnrobust.reporting.formatting.format_summary`). The count n is printed once:
in a note when every cell of the table has the same n, in the header of a column whose cells share one n, else in
each cell (:func:`table_notes`, :func:`display_frame`). Display metadata travels in ``DataFrame.attrs``:
``"headers"`` maps a column (or an aggregate's name) to its printed header; ``"hidden"`` lists columns kept in the
CSV but left out of the .md and .tex; ``"text"`` maps a column (or aggregate) to a text column whose non-empty cells
are printed instead of the number (e.g. "unstable" where the number is an overflow); ``"notes"`` are sentences
printed below the table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rnnrobust.reporting.formatting import format_summary, format_value

__all__ = ["SUMMARY_PARTS", "display_frame", "table_frame", "table_notes"]


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
