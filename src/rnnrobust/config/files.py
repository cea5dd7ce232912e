"""Config files as the workflow reads them: YAML with readable syntax errors, layered as ``--configfile`` does."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rnnrobust.config import ConfigError
from rnnrobust.config.checks import check_config, load_schema, regime_settings


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` layered over ``base``: mappings merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def layer_configs(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base`` as the workflow layers config files: :func:`deep_merge`, except that a list of
    regime names in ``overlay`` selects regimes that ``base`` defines."""
    merged = deep_merge(base, overlay)
    if isinstance(overlay.get("regimes"), list) and isinstance(base.get("regimes"), Mapping):
        merged["regimes"] = regime_settings(overlay["regimes"], base["regimes"])
    return merged


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML config file; a syntax error names the file, line and column."""
    import yaml

    text = Path(path).read_text(encoding="utf-8")
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as err:
        problem_mark, context_mark = getattr(err, "problem_mark", None), getattr(err, "context_mark", None)
        where = f"{path}, line {problem_mark.line + 1}, column {problem_mark.column + 1}" if problem_mark else str(path)
        problem = getattr(err, "problem", None) or str(err)
        if context_mark is not None and getattr(err, "context", None):
            # e.g. an unclosed bracket shows only at the end of the file: say where it was opened
            problem += f", {err.context} at line {context_mark.line + 1}"
        raise ConfigError(f"{where}: invalid YAML ({problem}); fix the file") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(loaded).__name__}")
    return loaded


def load_config(path: str | Path, *overlays: str | Path, schema: str | Path | None = None) -> dict[str, Any]:
    """``config.yaml`` with overlay files layered over it, as Snakemake's ``--configfile`` does, checked.

    Benchmarks and tests build run settings this way: ``TrainConfig.for_run(load_config(...), ...)``.
    """
    config = load_yaml(path)
    for overlay in overlays:
        config = layer_configs(config, load_yaml(overlay))
    schema_path = schema or Path(path).parent / "workflow" / "schemas" / "config.schema.yaml"
    return check_config(config, load_schema(schema_path))
