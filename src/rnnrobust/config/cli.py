"""The command line of a config: the arguments that name one as the workflow reads it, and its check."""

from __future__ import annotations

from typing import Any

from rnnrobust.config import ConfigError
from rnnrobust.config.files import load_config


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
