"""The typed config: one default per key, readable messages for every invalid value, run settings."""

import math
from pathlib import Path

import pytest
import yaml

from rnnrobust.config import ConfigError, Stabilization, TrainConfig
from rnnrobust.config.checks import check_config, load_schema
from rnnrobust.config.cli import main
from rnnrobust.config.files import deep_merge, load_config
from rnnrobust.layout import REGIMES

REPO = Path(__file__).resolve().parents[2]
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")


def paper():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_schema_writes_no_defaults():
    """Defaults live in rnnrobust.config only (config.yaml states every protocol value)."""

    def walk(node):
        if isinstance(node, dict):
            assert "default" not in node, node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(SCHEMA)


def test_paper_config_and_overlays_are_valid():
    config = load_config(REPO / "config.yaml", REPO / "workflow/configs/quick.yaml")
    assert config["seeds"] == [0] and config["train"]["imdb"]["lr"] == 0.001
    load_config(REPO / "config.yaml", REPO / "tests/config/config.yaml")
    configs = REPO / "workflow/configs"
    ten = load_config(REPO / "config.yaml", configs / "quick.yaml", configs / "seeds10.yaml")
    assert ten["seeds"] == list(range(10)) and ten["results_dir"] == "results/quick"  # adds seeds to quick's runs


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "blue"}, "'colour' was unexpected"),
        ({"device": "tpu"}, "config key device = 'tpu' is not one of ['auto', 'cpu', 'cuda']"),
        ({"train": {"imdb": {"lr": math.nan}}}, "train.imdb.lr = nan: a finite number is needed"),
        ({"train": {"imdb": {"lr": math.inf}}}, "train.imdb.lr = inf: a finite number is needed"),
        ({"analysis": {"eps_log10": [-3, math.nan]}}, "analysis.eps_log10[1] = nan: a finite number is needed"),
        ({"train": {"adding": {"hidden_size": {"rnn": 4}}}}, "hidden_size has no value for model(s) lstm, gru"),
        ({"train": {"mnist": {"lr": -1}}}, "config key train.mnist.lr = -1"),
        ({"stabilization": {"target": "norm"}}, "stabilization.target was renamed to stabilization.quantity"),
        ({"figures": {"table_eps": 0.01}}, "figures.table_eps was renamed to tables.eps_log10"),
        ({"tables": {"eps_log10": -4}}, "tables.eps_log10 = -4 is not one of analysis.eps_log10"),
        ({"figures": {"seed": 7}}, "figures.seed = 7 is not one of seeds"),
        ({"stabilization": {"scope": "stacked"}}, "needs quantity 'norm'"),
        (
            {"stabilization": {"quantity": "norm", "estimator": "rayleigh_abs"}},
            "'rayleigh_abs' estimates a spectral radius",
        ),
        ({"regimes": {"Big Name": {}}}, "regimes = 'Big Name': 'Big Name' does not match"),
        (
            {"regimes": {"x": {"stabilisation": {}}}},
            "regimes.x: Additional properties are not allowed ('stabilisation' was unexpected)",
        ),
        (
            {"regimes": {"x": {"stabilization": {"gamma": -1}}}},
            "regimes.x: its stabilization makes stabilization.gamma",
        ),
        ({"regimes": {"x": {"stabilization": {"scope": "stacked"}}}}, "needs quantity 'norm'"),
        ({"regimes": {"x": {"train": {"lr": "fast"}}}}, "regimes.x: its train makes train.adding.lr = 'fast'"),
        (
            {"regimes": {"x": {"train": {"mnist": {"colour": 1}}}}},
            "regimes.x: train.mnist has no such key ('colour' was unexpected)",
        ),
    ],
)
def test_invalid_values_give_one_short_message_naming_the_key(change, message):
    with pytest.raises(ConfigError) as err:
        check_config(deep_merge(paper(), change), SCHEMA)
    assert message in str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 400


def test_missing_key_is_named():
    config = paper()
    del config["figures"]
    with pytest.raises(ConfigError, match="'figures' is a required property"):
        check_config(config, SCHEMA)


def test_command_line_strings_take_the_schema_types():
    """Snakemake parses `--config seeds=[0,1]` into strings."""
    config = paper()
    config["seeds"], config["figures"]["seed"], config["train"]["adding"]["lr"] = ["0", "1"], "0", "0.01"
    checked = check_config(config, SCHEMA)
    assert checked["seeds"] == [0, 1] and checked["figures"]["seed"] == 0 and checked["train"]["adding"]["lr"] == 0.01


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seeds: [0, 1\ntasks: [adding]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml, line \d+, column \d+: invalid YAML"):
        load_config(REPO / "config.yaml", bad, schema=REPO / "workflow/schemas/config.schema.yaml")


def test_train_config_for_run_resolves_one_runs_slice():
    config = check_config(paper(), SCHEMA)
    imdb = TrainConfig.for_run(config, "imdb", "lstm", 2, "stabilized")
    assert imdb.hidden_size == 32 and imdb.vocab_size == 20000 and imdb.lr == 0.001 and imdb.seed == 2
    assert imdb.stabilization == Stabilization(**config["stabilization"])
    assert TrainConfig.from_params(imdb.to_params()) == imdb
    mnist = TrainConfig.for_run(config, "mnist", "rnn", 0, "baseline")
    assert mnist.stabilization is None and mnist.optimizer == "rmsprop" and mnist.rnn_activation == "relu"
    assert "vocab_size" not in mnist.model_options()


def test_command_line_check_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "overlay.yaml"
    bad.write_text("train:\n  imdb: {lr: 0.01\n")
    assert main(["--base", str(REPO / "config.yaml"), str(bad)]) == 1
    assert "overlay.yaml, line 3" in (out := capsys.readouterr().out) and "mapping at line 2" in out
    assert main(["--base", str(REPO / "config.yaml"), str(REPO / "workflow/configs/quick.yaml")]) == 0
    assert "config OK: 18 runs" in capsys.readouterr().out


def test_regimes_are_named_settings():
    """The paper's list form still works; a mapping adds regimes that override stabilization and train options."""
    config = check_config(deep_merge(paper(), {"regimes": ["stabilized"]}), SCHEMA)
    assert config["regimes"] == {"stabilized": {"stabilization": {}}}
    with pytest.raises(ConfigError, match="'rescaled', which no config defines; give its settings as a mapping"):
        check_config(deep_merge(paper(), {"regimes": ["rescaled"]}), SCHEMA)
    ablations = load_config(REPO / "config.yaml", REPO / "workflow/configs/ablations.yaml")
    assert list(ablations["regimes"]) == [*REGIMES, "stabilized_norm", "stabilized_exact", "identity_init"]
    norm = TrainConfig.for_run(ablations, "mnist", "gru", 0, "stabilized_norm")
    assert norm.stabilization == Stabilization(quantity="norm") and norm.lr == 1e-6
    assert TrainConfig.for_run(ablations, "mnist", "rnn", 0, "stabilized").stabilization == Stabilization()
    identity = TrainConfig.for_run(ablations, "mnist", "rnn", 0, "identity_init")
    assert identity.recurrent_init == "identity" and identity.stabilization is None
    assert TrainConfig.for_run(ablations, "mnist", "rnn", 0, "baseline").recurrent_init == "orthogonal"
    per_task = deep_merge(paper(), {"regimes": {"fast": {"train": {"lr": 0.01, "mnist": {"lr": 0.1}}}}})
    per_task = check_config(per_task, SCHEMA)
    assert TrainConfig.for_run(per_task, "mnist", "rnn", 0, "fast").lr == 0.1
    assert TrainConfig.for_run(per_task, "adding", "rnn", 0, "fast").lr == 0.01


def test_a_list_of_regimes_selects_from_the_files_below(tmp_path):
    """As the workflow layers --configfile files: a later list of names picks regimes an earlier file defines."""
    selection = tmp_path / "two.yaml"
    selection.write_text("regimes: [baseline, stabilized_norm]\n")
    config = load_config(REPO / "config.yaml", REPO / "workflow/configs/ablations.yaml", selection)
    assert config["regimes"] == {"baseline": {}, "stabilized_norm": {"stabilization": {"quantity": "norm"}}}
