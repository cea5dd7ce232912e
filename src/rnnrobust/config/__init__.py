"""The typed, torch-free face of ``config.yaml``: checks with readable messages, and one run's settings.

``config.yaml`` is the paper's protocol; ``workflow/schemas/config.schema.yaml`` holds the types,
allowed values and descriptions of its keys; the defaults of optional keys are written once, here,
as dataclass field defaults. A key keeps its name from ``config.yaml`` to the code that uses it:
``train.<task>.lr`` is ``TrainConfig.lr`` is the optimizer's ``lr``.

Regimes are named: ``regimes`` maps each name (a path segment of the results) to the settings that
its runs change. ``stabilization`` turns Algorithm 1 on, with the options under the top-level
``stabilization`` key overridden by the regime's own; ``train`` overrides ``train.<task>`` options,
for every task (``train: {lr: 0.01}``) or one (``train: {mnist: {recurrent_init: identity}}``).
A list of names (the form before named regimes) takes each name's settings from the config below
it or, for the paper's two, from :func:`paper_regimes`.

>>> Stabilization().quantity, Stabilization().gamma
('radius', 1.0)
>>> regime_settings(["stabilized"])
{'stabilized': {'stabilization': {}}}
>>> regime_train_options({"train": {"lr": 0.01, "mnist": {"recurrent_init": "identity"}}}, "mnist")
{'lr': 0.01, 'recurrent_init': 'identity'}
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnrobust.layout import CELLS, REGIMES, TASKS

#: Keys renamed since 0.1: a user config that still has one stops with the new name.
RENAMED = {
    ("stabilization", "target"): "stabilization.quantity",
    ("stabilization", "target_value"): "stabilization.gamma",
    ("analysis", "eps_levels"): "analysis.eps_log10 (log10 ε, e.g. [-3, -2.5, -2, -1.5, -1])",
    ("figures", "eps_log10"): "analysis.eps_log10 (one ε list for the analysis and the figures)",
    ("figures", "table_eps"): "tables.eps_log10 (log10 ε, e.g. -2)",
}


class ConfigError(ValueError):
    """An invalid workflow config; the message names the key and the fix."""


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


def regime_train_options(settings: Mapping[str, Any], task: str) -> dict[str, Any]:
    """The ``train.<task>`` options that a regime's settings override: those for every task, then the task's own."""
    train = settings.get("train") or {}
    options = {key: value for key, value in train.items() if key not in TASKS}
    options.update(train.get(task) or {})
    return options


def layer_configs(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base`` as the workflow layers config files: :func:`deep_merge`, except that a list of
    regime names in ``overlay`` selects regimes that ``base`` defines."""
    merged = deep_merge(base, overlay)
    if isinstance(overlay.get("regimes"), list) and isinstance(base.get("regimes"), Mapping):
        merged["regimes"] = regime_settings(overlay["regimes"], base["regimes"])
    return merged


#: Allowed values of the stabilization options (the schema lists them too, for the config's reader).
STABILIZATION_CHOICES = {
    "quantity": ("radius", "norm"),
    "estimator": ("norm_ratio", "rayleigh_abs", "exact"),
    "vector": ("persistent", "fresh"),
    "apply": ("always", "if_greater"),
    "scope": ("per_gate_block", "stacked"),
}


@dataclass(frozen=True)
class Stabilization:
    """Algorithm 1 and its variants (see ``rnnrobust.training.stabilize`` and docs/protocol.md).

    ``quantity`` is rescaled to ``gamma`` after every epoch: the spectral ``radius`` or ``norm``.
    """

    quantity: str = "radius"
    estimator: str = "norm_ratio"
    n_iter: int = 1
    vector: str = "persistent"
    apply: str = "always"
    gamma: float = 1.0
    scope: str = "per_gate_block"

    def __post_init__(self) -> None:
        for key, allowed in STABILIZATION_CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"stabilization.{key} = {getattr(self, key)!r}; expected one of {allowed}")
        if self.n_iter < 1:
            raise ConfigError(f"stabilization.n_iter = {self.n_iter}; expected an integer >= 1")
        if not (math.isfinite(self.gamma) and self.gamma > 0):
            raise ConfigError(f"stabilization.gamma = {self.gamma}; expected a positive number")
        if self.estimator == "rayleigh_abs" and self.quantity == "norm":
            raise ConfigError(
                "stabilization.estimator 'rayleigh_abs' estimates a spectral radius; use quantity 'radius', "
                "or estimator 'norm_ratio' or 'exact' for the norm"
            )
        if self.scope == "stacked" and self.quantity == "radius":
            raise ConfigError(
                "stabilization.scope 'stacked' needs quantity 'norm': a k·H × H matrix has no spectral radius"
            )


#: Fields of TrainConfig that are options of ``rnnrobust.training.models.build_model``.
MODEL_FIELDS = (
    "hidden_size",
    "cell_impl",
    "recurrent_init",
    "rnn_activation",
    "dropout",
    "recurrent_dropout",
    "vocab_size",
    "embed_dim",
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs: ``config.yaml``'s ``train.<task>`` resolved for one run.

    Build it with :meth:`for_run`; the workflow passes :meth:`to_params` to the job and the job
    rebuilds it with :meth:`from_params`.
    """

    task: str
    model: str
    seed: int
    regime: str
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    hidden_size: int
    beta_1: float = 0.9
    beta_2: float = 0.999
    rho: float = 0.9
    epsilon: float = 1e-7  # Keras 2.1.6's K.epsilon(); torch's defaults differ
    clipnorm: float | None = None
    recurrent_init: str = "orthogonal"
    rnn_activation: str = "tanh"
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    embed_dim: int | None = None
    vocab_size: int | None = None
    convergence_margin: float = 0.05
    max_train_samples: int | None = None
    max_test_samples: int | None = None
    eval_batch_size: int = 1024
    dtype: str = "float32"
    device: str = "auto"
    cell_impl: str = "faithful"
    graphed: bool = False
    stabilization: Stabilization | None = field(default=None)

    @classmethod
    def for_run(cls, config: Mapping[str, Any], task: str, model: str, seed: int, regime: str) -> TrainConfig:
        """The run's settings from a checked workflow config; only the run's own slice of it."""
        settings = config["regimes"][regime]
        options = {**config["train"][task], **regime_train_options(settings, task)}
        if isinstance(options["hidden_size"], Mapping):
            options["hidden_size"] = options["hidden_size"][model]
        if task == "imdb":
            options["vocab_size"] = config["data"]["imdb"]["num_words"]
        overrides = settings.get("stabilization")
        stabilization = None if overrides is None else Stabilization(**{**config["stabilization"], **overrides})
        return cls(
            task=task,
            model=model,
            seed=int(seed),
            regime=regime,
            device=config["device"],
            cell_impl=config["cell_impl"],
            graphed=config["graphed"],
            stabilization=stabilization,
            **options,
        )

    def to_params(self) -> dict[str, Any]:
        """Plain values (for Snakemake's ``params`` and ``metrics.json``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_params`."""
        values = dict(params)
        if values.get("stabilization") is not None:
            values["stabilization"] = Stabilization(**values["stabilization"])
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def model_options(self) -> dict[str, Any]:
        """Keyword options of ``build_model`` (those that apply to this task)."""
        options = {key: getattr(self, key) for key in MODEL_FIELDS}
        if self.task != "imdb":
            del options["vocab_size"], options["embed_dim"]
        return options


# --------------------------------------------------------------------------------------------------
# Checks of the whole config, before any job runs.


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
        unknown = sorted(set(settings) - {"stabilization", "train"})
        if unknown:
            raise ConfigError(f"config key regimes.{name} has {', '.join(unknown)}; a regime sets stabilization, train")
        if settings.get("train"):
            tasks = config["train"]
            check(name, "train", {task: {**tasks[task], **regime_train_options(settings, task)} for task in tasks})
        if settings.get("stabilization") is not None:
            stabilization = {**config["stabilization"], **settings["stabilization"]}
            check(name, "stabilization", stabilization)
            Stabilization(**stabilization)


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


def data_mirror(config: Mapping[str, Any]) -> str | None:
    """The configured mirror as an absolute path (or a URL as given), or None."""
    mirror = config.get("data_mirror")
    if not mirror:
        return None
    if "://" in str(mirror):
        return str(mirror)
    return str(Path(mirror).expanduser().resolve())


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` layered over ``base``: mappings merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
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


def add_config_arguments(parser: Any) -> None:
    """The command-line arguments that name a config as the workflow reads it (for ``argparse``)."""
    parser.add_argument("overlays", nargs="*", help="config files layered over config.yaml, as --configfile")
    parser.add_argument("--base", default="config.yaml", help="the workflow's config.yaml (default: ./config.yaml)")


def config_from_arguments(args: Any) -> dict[str, Any]:
    """The checked config that :func:`add_config_arguments` names; raises :class:`ConfigError`."""
    try:
        return load_config(args.base, *args.overlays)
    except OSError as err:
        raise ConfigError(str(err)) from None


def main(argv: list[str] | None = None) -> int:
    """``python -m rnnrobust.config [OVERLAY.yaml ...]``: check config.yaml with overlays layered over it.

    Snakemake reads ``--configfile`` files itself and says only "not valid JSON or YAML" on a syntax
    error; this names the file, line and column, and checks everything the workflow checks.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rnnrobust.config", description=main.__doc__)
    add_config_arguments(parser)
    try:
        config = config_from_arguments(parser.parse_args(argv))
    except ConfigError as err:
        print(f"invalid config: {err}")
        return 1
    runs = len(config["tasks"]) * len(config["models"]) * len(config["regimes"]) * len(config["seeds"])
    print(f"config OK: {runs} runs ({', '.join(config['tasks'])} × {', '.join(config['models'])})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
