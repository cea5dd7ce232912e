"""Checks of a whole workflow config before any job runs: one short message that names the key and the fix.

:func:`check_config` checks a config against ``workflow/schemas/config.schema.yaml`` (renamed keys,
types, unknown or missing keys, NaN or infinite numbers) and across keys (what the schema cannot
express), and returns it with command-line strings coerced to the schema's types and ``regimes`` as
named settings. A list of regime names (the form before named regimes) takes each name's settings
from the config below it or, for the paper's two, from :func:`paper_regimes`.

>>> regime_settings(["stabilized"])
{'stabilized': {'stabilization': {}}}
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rnnrobust.config import ConfigError, RobustTraining, Stabilization, regime_train_options
from rnnrobust.layout import CELLS, REGIMES

#: Keys renamed since 0.1: a user config that still has one stops with the new name.
RENAMED = {
    ("stabilization", "target"): "stabilization.quantity",
    ("stabilization", "target_value"): "stabilization.gamma",
    ("analysis", "eps_levels"): "analysis.eps_log10 (log10 ε, e.g. [-3, -2.5, -2, -1.5, -1])",
    ("figures", "eps_log10"): "analysis.eps_log10 (one ε list for the analysis and the figures)",
    ("figures", "table_eps"): "tables.eps_log10 (log10 ε, e.g. -2)",
}


#: A regime's name is a path segment and a column label: lower case, digits and underscores.
REGIME_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def paper_regimes() -> dict[str, dict[str, Any]]:
    """The paper's two regimes: plain training, and Algorithm 1 after every epoch with the configured options."""
    baseline, stabilized = REGIMES
    return {baseline: {}, stabilized: {"stabilization": {}}}


def regime_settings(regimes: Any, defined: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The config's regimes as name → settings; a list of names takes each one's settings from ``defined``
    (the regimes of the config below), else from :func:`paper_regimes`."""
    if isinstance(regimes, Mapping):
        return {str(name): _regime(settings) for name, settings in regimes.items()}
    if not isinstance(regimes, list):
        return regimes  # the schema names the problem
    known = {**paper_regimes(), **(defined or {})}
    unknown = [name for name in regimes if name not in known]
    if unknown:
        raise ConfigError(
            f"config key regimes names {', '.join(map(repr, unknown))}, which no config defines; give its settings "
            f"as a mapping, e.g. regimes: {{{unknown[0]}: {{stabilization: {{quantity: norm}}}}}}"
        )
    return {name: _regime(known[name]) for name in regimes}


def _regime(settings: Any) -> Any:
    """A regime's settings with ``stabilization`` on as a mapping (``{}``, ``true`` or empty) or off (absent)."""
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        return settings  # the schema names the problem
    settings = dict(settings)
    if "stabilization" in settings:
        if settings["stabilization"] is False:
            del settings["stabilization"]
        elif settings["stabilization"] in (None, True):
            settings["stabilization"] = {}
    return settings


def _walk(value: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    yield path, value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def _coerce(value: Any, schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Any:
    """Strings from ``--config key=[0,1]`` (Snakemake parses list items as text) as the schema's type."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    for part in schema.get("allOf", []):
        value = _coerce(value, part, defs)
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if isinstance(value, str):
        for kind, parse in (("integer", int), ("number", float)):
            if kind in types:
                try:
                    return parse(value)
                except ValueError:
                    pass
        if "boolean" in types and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if "null" in types and value.lower() in ("null", "none", "~"):
            return None
    if isinstance(value, list) and "items" in schema:
        return [_coerce(item, schema["items"], defs) for item in value]
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: _coerce(v, props[k], defs) if k in props else v for k, v in value.items()}
    return value


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _schema_message(error: Any) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    validator = error.validator
    if validator == "additionalProperties":
        return f"{key}: {error.message}; check the spelling against config.yaml"
    if validator == "required":
        return f"{key}: {error.message}; config.yaml has every key with its default"
    if validator == "enum":
        return f"config key {key} = {error.instance!r} is not one of {error.validator_value}"
    return f"config key {key} = {_short(repr(error.instance))}: {_short(error.message)}"


def load_schema(path: str | Path) -> dict[str, Any]:
    """The config schema (YAML)."""
    import yaml

    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def check_config(config: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Check a workflow config; return it with command-line strings coerced to the schema's types.

    Raises :class:`ConfigError` with one short message naming the key: renamed keys, values of the
    wrong type, unknown or missing keys, NaN or infinite numbers, per-model mappings that miss a
    configured model, and the checks across keys that the schema cannot express.
    """
    import jsonschema

    for (section, key), new in RENAMED.items():
        if isinstance(config.get(section), Mapping) and key in config[section]:
            raise ConfigError(f"config key {section}.{key} was renamed to {new}; rename it in your config file")
    config = _coerce(config, schema, schema.get("$defs", {}))
    if "regimes" in config:
        config["regimes"] = regime_settings(config["regimes"])
    for path, value in _walk(config):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config key {path} = {value}: a finite number is needed")
    models = config.get("models", CELLS)
    for task, options in (config.get("train") or {}).items():
        hidden = options.get("hidden_size") if isinstance(options, Mapping) else None
        if isinstance(hidden, Mapping):
            missing = [m for m in models if m not in hidden]
            if missing:
                raise ConfigError(
                    f"config key train.{task}.hidden_size has no value for model(s) {', '.join(missing)}; "
                    f"give one per model ({', '.join(models)}) or a single integer"
                )
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if errors:
        # the deepest error names the key; "unevaluated properties" only echoes an error inside allOf
        specific = [e for e in errors if e.validator != "unevaluatedProperties"] or errors
        error = max(specific, key=lambda e: len(e.absolute_path))
        if error.context:  # oneOf/anyOf: the alternative that came closest (a wrong value, not a wrong type)
            error = max(error.context, key=lambda e: (e.validator != "type", len(e.absolute_path)))
        raise ConfigError(_schema_message(error))
    _check_across_keys(config)
    _check_regimes(config, schema)
    return config


def _check_regimes(config: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    """Each regime's overrides give valid ``train.<task>`` and ``stabilization`` sections."""
    import jsonschema

    def check(name: str, section: str, value: Any) -> None:
        sub = {**schema["properties"][section], "$defs": schema.get("$defs", {})}
        errors = list(jsonschema.Draft202012Validator(sub).iter_errors(value))
        if errors:
            error = max(errors, key=lambda e: len(e.absolute_path))
            if error.validator in ("additionalProperties", "unevaluatedProperties"):
                where = ".".join([section, *map(str, error.absolute_path)])
                unexpected = re.search(r"\(([^()]*)\)$", error.message)
                raise ConfigError(
                    f"config key regimes.{name}: {where} has no such key ({unexpected and unexpected[1]})"
                )
            message = _schema_message(error).removeprefix("config key ")
            raise ConfigError(f"config key regimes.{name}: its {section} makes {section}.{message}")

    for name, settings in config["regimes"].items():
        if not isinstance(settings, Mapping):
            raise ConfigError(
                f"config key regimes.{name} = {settings!r}; expected a mapping, e.g. {{}} or {{stabilization: {{}}}}"
            )
        if not REGIME_NAME.match(name):
            raise ConfigError(f"config key regimes: name {name!r} is not a folder name; use a-z, 0-9 and _")
        unknown = sorted(set(settings) - {"stabilization", "train", "robust_training"})
        if unknown:
            raise ConfigError(
                f"config key regimes.{name} has {', '.join(unknown)}; "
                "a regime sets stabilization, train, robust_training"
            )
        if settings.get("train"):
            tasks = config["train"]
            check(name, "train", {task: {**tasks[task], **regime_train_options(settings, task)} for task in tasks})
        if settings.get("stabilization") is not None:
            stabilization = {**config["stabilization"], **settings["stabilization"]}
            check(name, "stabilization", stabilization)
            Stabilization(**stabilization)
        if settings.get("robust_training") is not None:
            robust = {**(config.get("robust_training") or {}), **settings["robust_training"]}
            check(name, "robust_training", robust)
            _check_robust_training(config, name, settings, robust)


def _check_robust_training(
    config: Mapping[str, Any], name: str, settings: Mapping[str, Any], robust: dict[str, Any]
) -> None:
    """A regime's robust_training: valid options that turn a method on, an ``init_from`` that can start it."""
    try:
        options = RobustTraining(**robust)
    except ConfigError as err:
        raise ConfigError(f"config key regimes.{name}: {err}") from None
    if not options.methods():
        raise ConfigError(
            f"config key regimes.{name}: robust_training turns no method on; set parametrization, barrier or projection"
        )
    if config["graphed"]:
        raise ConfigError(f"config key regimes.{name}: robust_training needs graphed: false (the eager training step)")
    if settings.get("stabilization") is not None and options.parametrization == "schur":
        raise ConfigError(
            f"config key regimes.{name}: stabilization would rescale W away from its Schur parametrisation; drop one"
        )
    source = options.init_from
    if source is None:
        return
    source_settings = config["regimes"].get(source)
    if not isinstance(source_settings, Mapping) or source == name:
        raise ConfigError(
            f"config key regimes.{name}: robust_training.init_from = {source!r} is not another regime of this config; "
            "select it too (its runs are the ones this regime starts from)"
        )
    source_robust = {**(config.get("robust_training") or {}), **(source_settings.get("robust_training") or {})}
    try:
        source_options = RobustTraining(**source_robust)
    except (ConfigError, TypeError):
        return  # the source regime's own check names its problem
    if source_options.parametrization != "schur" or source_options.gamma != options.gamma:
        raise ConfigError(
            f"config key regimes.{name}: robust_training.init_from = {source!r} needs a regime with "
            f"parametrization: schur and gamma {options.gamma}"
        )


def _check_across_keys(config: Mapping[str, Any]) -> None:
    figures = config["figures"]
    if figures["seed"] not in config["seeds"]:
        raise ConfigError(f"figures.seed = {figures['seed']} is not one of seeds {config['seeds']}; choose one of them")
    levels = config["analysis"]["eps_log10"]
    if not any(math.isclose(config["tables"]["eps_log10"], e, abs_tol=1e-12) for e in levels):
        raise ConfigError(
            f"tables.eps_log10 = {config['tables']['eps_log10']} is not one of analysis.eps_log10 {levels}; "
            "add it there or choose one of them"
        )
    Stabilization(**config["stabilization"])
    RobustTraining(**(config.get("robust_training") or {}))
