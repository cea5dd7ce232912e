"""The Snakemake workflow on the tiny config: lint, dry run, end to end, rerun triggers, data sources.

The workflow is copied into a temporary directory so that the tests can edit its library files
and config without touching the checkout.
"""

from __future__ import annotations

import ast
import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from workflow_runs import copy_workflow, job_environment, pending, planned, snakemake, snakemake_command, write_overlay

from rnnrobust.layout import CELLS as MODELS
from rnnrobust.layout import FAMILIES, GATES, LAYERS, REGIMES, TASKS, block_keys

AGGREGATES = {"tables", "figure_pseudospectra", "figure_training", "figure_eigenvalues", "all"}
AGGREGATES |= {"table4_perturbation", "figure7_perturbation", "figure8_prediction", "table7_pareto", "figure9_pareto"}
AGGREGATES |= {"table6_predictors", "figure10_predictors"}
PER_RUN = {"train", "extract_weights", "analyze", "pseudospectra", "perturb", "predict", "analyze_before_rescale"}
HIDDEN = {("adding", m): 8 for m in MODELS} | {("mnist", m): 8 for m in MODELS}
HIDDEN |= {("imdb", "rnn"): 4, ("imdb", "lstm"): 6, ("imdb", "gru"): 6}


def document_again(module: Path) -> None:
    """Comments, an edited module docstring and a new docstring on the first undocumented function."""
    text = module.read_text()
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    bare = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef) and ast.get_docstring(n) is None and n.body[0].lineno > n.lineno
    ]
    if bare:
        first = min(bare, key=lambda n: n.body[0].lineno).body[0]
        lines.insert(first.lineno - 1, " " * first.col_offset + '"""Documented now."""\n')
    text = "".join(lines)
    if ast.get_docstring(tree) is not None:
        text = text.replace('"""', '"""Documented again. ', 1)
    module.write_text(f"# A comment that changes nothing.\n{text}\n# Another comment.\n")
    assert ast.parse(module.read_text())


def test_code_changes_rerun_by_meaning(finished_run, tmp_path):
    """A moved checkout, touched files, comments and docstrings rerun nothing; behaviour reruns its users."""
    workdir, mirror = finished_run
    moved = tmp_path / "moved"
    shutil.copytree(workdir, moved, symlinks=True)  # copy2 keeps mtimes, as cp -a does
    args = ("--config", f"data_mirror={mirror}")
    assert planned(moved, *args) == {}

    later = time.time() + 5
    for folder in ("workflow", "src"):
        for path in (moved / folder).rglob("*"):
            if path.is_file():
                os.utime(path, (later, later))
    assert planned(moved, *args) == {}

    for module in (moved / "src/rnnrobust").rglob("*.py"):
        document_again(module)
    assert planned(moved, *args) == {}

    recurrence = moved / "src/rnnrobust/training/recurrence.py"
    original = recurrence.read_text()
    recurrence.write_text(original + "\nSTEP_LIMIT = 10_000\n")
    todo = planned(moved, *args)
    assert todo["train"] == 18 and not any(rule.startswith("prepare_") for rule in todo), todo
    recurrence.write_text(original)
    assert planned(moved, *args) == {}

    table1 = moved / "src/rnnrobust/reporting/table1_accuracy.py"
    table1.write_text(table1.read_text() + "\nTABLE_LIMIT = 3\n")
    assert set(planned(moved, *args)) - {"all"} == {"tables"}  # Table 1's builder: not Table 4's job, no figure


def test_editing_a_library_module_reruns_only_its_users(finished_run):
    workdir, mirror = finished_run
    summary_py = workdir / "src/rnnrobust/spectra/_summary.py"  # the per-matrix scalars
    original = summary_py.read_text()
    try:
        summary_py.write_text(original + "\nBLOCK_LIMIT = 1\n")
        todo = pending(workdir, "--config", f"data_mirror={mirror}")
        users = {"analyze", "pseudospectra", "perturb", "predict"}
        assert set(todo) - AGGREGATES == users | {"analyze_before_rescale"}  # not train, not extract_weights
        assert all(len(todo[rule]) == 18 for rule in users)
        assert len(todo["analyze_before_rescale"]) == 9  # the stabilized runs' kernels before the final rescale
    finally:
        summary_py.write_text(original)


def test_jobs_import_their_own_checkout(tmp_path):
    """Two checkouts sharing one environment (this one installed editable): each job uses its own library."""
    for name in ("one", "two"):
        workdir = copy_workflow(tmp_path / name)
        snakemake(workdir, "prepare_adding")
        log = (workdir / "results/tiny/logs/prepare_adding.log").read_text()
        assert f"imported from {(workdir / 'src/rnnrobust').resolve()}" in log, log


def test_missing_mirror_stops_before_any_job(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    tic = time.perf_counter()
    proc = snakemake(workdir, "--config", f"data_mirror={tmp_path / 'no-such-mirror'}", check=False)
    assert proc.returncode != 0 and time.perf_counter() - tic < 60
    message = proc.stdout + proc.stderr
    assert "data_mirror" in message and "does not exist" in message
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()


def test_kill_mid_training_then_rerun_after_a_code_change(tmp_path, fixture_mirror):
    """kill -9 of Snakemake while a run trains, a behaviour change in the training code, the README's rerun
    command."""
    one_run = {"tasks": ["adding"], "models": ["rnn"], "regimes": ["baseline"], "train": {"adding": {"epochs": 400}}}
    overlay = write_overlay(tmp_path / "one_run.yaml", one_run)
    args = ("--config", f"data_mirror={fixture_mirror.url}")
    target = "results/tiny/models/adding/rnn/baseline/seed0/model.pt"
    workdir = copy_workflow(tmp_path / "wf")
    command = snakemake_command(target, *args, overlays=(overlay,))
    proc = subprocess.Popen(command, cwd=workdir, env=job_environment(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    checkpoint = workdir / "results/tiny/models/adding/rnn/baseline/seed0/checkpoint.pt"
    deadline = time.time() + 300
    log = workdir / "results/tiny/logs/train/adding/rnn/baseline.log"
    while time.time() < deadline and not (log.exists() and "epoch 3/" in log.read_text()):
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists() and not (workdir / target).exists()
    data = workdir / "results/tiny/data/adding/data.npz"
    data_mtime = data.stat().st_mtime_ns

    epochs_py = "src/rnnrobust/training/epochs.py"  # another order of the examples in each epoch
    changed = (workdir / epochs_py).read_text().replace("seed * 1_000_003 + epoch", "seed * 1_000_003 + 2 * epoch")
    assert changed != (workdir / epochs_py).read_text()
    (workdir / epochs_py).write_text(changed)
    fresh = copy_workflow(tmp_path / "fresh")
    (fresh / epochs_py).write_text(changed)

    snakemake(workdir, "--unlock", overlays=(overlay,))  # the README's recovery: unlock, then the same command
    snakemake(workdir, target, *args, overlays=(overlay,))
    text = log.read_text()
    assert "setting checkpoint.pt aside" in text and "it was written with other training code" in text
    assert "resuming" not in text
    assert data.stat().st_mtime_ns == data_mtime
    snakemake(fresh, target, *args, overlays=(overlay,))
    assert (workdir / target).read_bytes() == (fresh / target).read_bytes()


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        ({"colour": "blue"}, "'colour' was unexpected"),
        ({"train": {"imdb": {"lr": float("nan")}}}, "config key train.imdb.lr = nan: a finite number is needed"),
        ({"train": {"adding": {"hidden_size": {"rnn": 4}}}}, "hidden_size has no value for model(s) lstm, gru"),
        ({"stabilization": {"target": "norm"}}, "stabilization.target was renamed to stabilization.quantity"),
    ],
)
def test_config_errors_are_one_readable_line(tmp_path, overlay, expected):
    workdir = copy_workflow(tmp_path / "wf")
    proc = snakemake(workdir, "-n", overlays=(write_overlay(workdir / "bad.yaml", overlay),), check=False)
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0 and expected in message, message
    assert len(message.splitlines()) < 15


def test_config_yaml_syntax_error_names_file_and_line(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    config_yaml = workdir / "config.yaml"
    config_yaml.write_text(config_yaml.read_text().replace("seeds: [0, 1, 2]", "seeds: [0, 1, 2"))
    proc = snakemake(workdir, "-n", check=False)
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "config.yaml, line " in message and "invalid YAML" in message, message


def test_list_values_on_the_command_line(tmp_path, fixture_mirror):
    workdir = copy_workflow(tmp_path / "wf")
    todo = planned(workdir, "--config", "seeds=[0,1]", f"data_mirror={fixture_mirror.url}")
    assert todo["train"] == 18 and todo["extract_weights"] == 36  # a training job per group of seeds


def test_lint_and_dry_run(tmp_path, fixture_mirror):
    workdir = copy_workflow(tmp_path / "wf")
    lint = snakemake(workdir, "--lint", check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    dry = snakemake(workdir, "-n", "--config", f"data_mirror={fixture_mirror.url}")
    expected = [("train", 18), ("extract_weights", 18), ("analyze", 18), ("pseudospectra", 18), ("download_mnist", 1)]
    for rule, count in expected:
        assert any(line.split()[:2] == [rule, str(count)] for line in dry.stdout.splitlines()), (rule, dry.stdout)
    gpu = planned(workdir, "--workflow-profile", "workflow/profiles/gpu")  # the README's one command for a GPU box
    assert gpu.get("train_all") == 1 and "train" not in gpu, gpu


def test_a_config_that_draws_no_paper_figure_builds_its_dag_without_errors(tmp_path, fixture_mirror):
    # With no paper figure configured, figure_pseudospectra's wildcard constraint was empty and the rule claimed
    # every other figure's files, printing an InputFunctionException for each while the DAG was built.
    workdir = copy_workflow(tmp_path / "wf")
    defined = write_overlay(
        tmp_path / "define.yaml", {"regimes": {"no_dropout": {"train": {"imdb": {"dropout": 0.0}}}}}
    )
    chosen = write_overlay(tmp_path / "choose.yaml", {"tasks": ["imdb"], "regimes": ["no_dropout"]})
    dry = snakemake(workdir, "-n", "--config", f"data_mirror={fixture_mirror.url}", overlays=(defined, chosen))
    output = dry.stdout + dry.stderr
    assert "InputFunctionException" not in output, output[-3000:]
    assert "figure7_perturbation" in output and "figure_pseudospectra" not in output


def test_invalid_config_names_key_and_allowed_values(tmp_path):
    workdir = copy_workflow(tmp_path)
    proc = snakemake(workdir, "-n", "--config", "device=tpu", check=False)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert "config key device = 'tpu' is not one of ['auto', 'cpu', 'cuda']" in message
    assert len(message.splitlines()) < 15  # one message, not the schema


def test_tiny_config_end_to_end(finished_run):
    workdir, _ = finished_run
    for task in TASKS:
        assert (workdir / f"results/tiny/data/{task}/data.npz").stat().st_size > 0
        for model, regime in itertools.product(MODELS, REGIMES):
            run = workdir / f"results/tiny/models/{task}/{model}/{regime}/seed0"
            metrics = json.loads((run / "metrics.json").read_text())
            assert metrics["status"] in {"converged", "not_converged", "diverged"}
            assert metrics["hyperparameters"]["task"] == task and metrics["epochs_completed"] == 2
            assert not (run / "checkpoint.pt").exists()
            assert ("test_before_final_rescale" in metrics) == (regime == "stabilized")
            state = torch.load(run / "model.pt", weights_only=True)
            with np.load(workdir / f"results/tiny/weights/{task}/{model}/{regime}/seed0.npz") as weights:
                layers = LAYERS[task]
                weights_keys = sorted(block_keys(task, model))
                assert sorted(weights.files) == weights_keys
                hid = HIDDEN[task, model]
                for layer in layers:
                    for g, gate in enumerate(GATES[model]):
                        block = weights[f"{layer}/{gate}"]
                        assert block.dtype == np.float64 and block.shape == (hid, hid)
                        expected = state[f"{layer}.weight_hh"][g * hid : (g + 1) * hid].double().numpy()
                        np.testing.assert_array_equal(block, expected)
            assert (workdir / f"results/tiny/benchmarks/train/{task}/{model}/{regime}.tsv").exists()
            log = (workdir / f"results/tiny/logs/train/{task}/{model}/{regime}.log").read_text()
            assert "seed 0: epoch 2/2" in log and "ETA" in log
            assert metrics["group"]["seeds"] == [0]
            analysis = json.loads((workdir / f"results/tiny/analysis/{task}/{model}/{regime}/seed0.json").read_text())
            assert sorted(analysis) == sorted(weights_keys)
            perturbed = json.loads(
                (workdir / f"results/tiny/perturbation/{task}/{model}/{regime}/seed0.json").read_text()
            )
            assert sorted(perturbed["blocks"]) == sorted(weights_keys)
            families = {record["family"] for record in perturbed["sweep"]}
            assert {"gaussian", "adversarial"} <= families <= set(FAMILIES)
            assert set(perturbed["thresholds"]["flip5"]) == families
            for values in analysis.values():
                assert len(values["eigenvalues"]) == hid and values["henrici"] >= 0
                assert values["spectral_radius"] <= values["spectral_norm"] + 1e-12
                assert len(values["pseudospectral_radius"]) == 5
            with np.load(workdir / f"results/tiny/pseudospectra/{task}/{model}/{regime}/seed0.npz") as grids:
                assert sorted(grids.files) == sorted(f"{k}/{part}" for k in weights_keys
                                                     for part in ("x", "y", "sigma_min", "eigenvalues"))  # fmt: skip
                for key in weights_keys:
                    assert grids[f"{key}/sigma_min"].shape == (24, 24)
                    assert grids[f"{key}/x"][-1] >= 1.0  # the square holds the unit disk
    for table in ("table1_accuracy", "table1_epochs", "table2_henrici", "table3_robustness", "table5_paired"):
        for ext in ("csv", "md", "tex"):
            assert (workdir / f"results/tiny/tables/{table}.{ext}").stat().st_size > 0
    table1 = (workdir / "results/tiny/tables/table1_accuracy.md").read_text()
    assert "99.73%" in table1 and "non-convergence" in table1  # the paper's column
    figure_names = [f"figure{i}_{t}" for i, t in enumerate(TASKS * 2, start=1)]
    figure_names += [f"training_{t}" for t in TASKS] + [f"eigenvalues_{t}_{r}" for t in TASKS for r in REGIMES]
    for name in figure_names:
        assert (workdir / f"results/tiny/figures/{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (workdir / f"results/tiny/figures/{name}.pdf").read_bytes()[:4] == b"%PDF"
    vocab = json.loads((workdir / "results/tiny/data/imdb/vocab.json").read_text())
    assert min(vocab.values()) == 1
    assert "Nothing to be done" in snakemake(workdir, "-n").stdout


def test_adding_a_seed_trains_only_that_seed(tmp_path, fixture_mirror):
    """A finished group of seeds [0] gets seed 1: seed 0 is restored from the run cache, not retrained; seeds
    [0, 1] from scratch train both together, and seed 1 is the same there as when it was added."""
    one = write_overlay(tmp_path / "one.yaml", {"tasks": ["adding"], "models": ["gru"], "regimes": ["stabilized"]})
    two = write_overlay(tmp_path / "two.yaml", {"seeds": [0, 1]})
    run = "results/tiny/models/adding/gru/stabilized/seed{}/model.pt"
    targets = (run.format(0), run.format(1))
    args = ("--config", f"data_mirror={fixture_mirror.url}")
    workdir = copy_workflow(tmp_path / "wf")
    snakemake(workdir, targets[0], *args, overlays=(one,))
    seed0 = (workdir / run.format(0)).read_bytes()

    snakemake(workdir, *targets, *args, overlays=(one, two))
    log = (workdir / "results/tiny/logs/train/adding/gru/stabilized.log").read_text()
    assert "seed 0: finished earlier with these settings; restored from" in log and "seed 0: epoch" not in log
    assert "seed 1: epoch 2/2" in log
    assert (workdir / run.format(0)).read_bytes() == seed0
    metrics = [json.loads((workdir / run.format(s)).with_name("metrics.json").read_text()) for s in (0, 1)]
    assert [m["group"]["seeds"] for m in metrics] == [[0], [1]]
    assert planned(workdir, *targets, *args, overlays=(one, two)) == {}

    fresh = copy_workflow(tmp_path / "fresh")
    snakemake(fresh, *targets, *args, overlays=(one, two))
    assert json.loads((fresh / run.format(1)).with_name("metrics.json").read_text())["group"]["seeds"] == [0, 1]
    for s in (0, 1):  # on CPU a run trained in a group equals the run trained alone, bit for bit
        assert (fresh / run.format(s)).read_bytes() == (workdir / run.format(s)).read_bytes()


def test_one_job_trains_every_group_as_the_group_jobs_do(tmp_path, fixture_mirror):
    """train_grouping: all trains the groups concurrently in one job: the same files, logs and cache as per group."""
    few_runs = {"tasks": ["adding", "mnist"], "models": ["rnn", "gru"], "regimes": ["stabilized"]}
    few = write_overlay(tmp_path / "few.yaml", few_runs)
    every = write_overlay(tmp_path / "all.yaml", {"train_grouping": "all"})
    runs = [
        f"results/tiny/models/{t}/{m}/stabilized/seed0/model.pt" for t in ("adding", "mnist") for m in ("rnn", "gru")
    ]
    args = ("--config", f"data_mirror={fixture_mirror.url}")
    per_group, together = copy_workflow(tmp_path / "per_group"), copy_workflow(tmp_path / "all")
    snakemake(per_group, *runs, *args, overlays=(few,))
    assert planned(together, *runs, *args, overlays=(few, every)).get("train_all") == 1
    snakemake(together, *runs, *args, overlays=(few, every))
    for run in runs:
        assert (together / run).read_bytes() == (per_group / run).read_bytes(), run
    log = (together / "results/tiny/logs/train/mnist/gru/stabilized.log").read_text()
    assert "seed 0: epoch 2/2" in log
    assert len(list((together / "results/tiny/cache/train").glob("*/*/stabilized/seed0/*/complete"))) == 4


def test_changing_one_task_reruns_only_that_task(finished_run):
    workdir, mirror = finished_run
    override = write_overlay(workdir / "lr.yaml", {"train": {"imdb": {"lr": 0.002}}})
    todo = pending(workdir, "--config", f"data_mirror={mirror}", overlays=(override,))
    assert PER_RUN <= set(todo)
    assert set(todo) - PER_RUN <= AGGREGATES
    assert todo["train"] == {f"results/tiny/models/imdb/{m}/{r}/seed0/{f}" for m in MODELS for r in REGIMES
                             for f in ("model.pt", "metrics.json", "history.csv", "before_rescale.pt")}  # fmt: skip
    assert todo["extract_weights"] == {f"results/tiny/weights/imdb/{m}/{r}/seed0.npz" for m in MODELS for r in REGIMES}
    assert todo["analyze"] == {f"results/tiny/analysis/imdb/{m}/{r}/seed0.json" for m in MODELS for r in REGIMES}


def test_changing_grid_settings_reruns_only_pseudospectra(finished_run):
    workdir, mirror = finished_run
    override = write_overlay(workdir / "grid.yaml", {"pseudospectra": {"resolution": 30}})
    todo = pending(workdir, "--config", f"data_mirror={mirror}", overlays=(override,))
    assert set(todo) - {"all"} == {"pseudospectra", "figure_pseudospectra"} and len(todo["pseudospectra"]) == 18


def test_changing_a_stabilization_option_never_retrains_baseline(finished_run):
    workdir, mirror = finished_run
    override = write_overlay(workdir / "stab.yaml", {"stabilization": {"n_iter": 3}})
    todo = pending(workdir, "--config", f"data_mirror={mirror}", overlays=(override,))
    assert set(todo) - AGGREGATES == PER_RUN
    for outputs in (todo["train"], todo["extract_weights"], todo["analyze"], todo["pseudospectra"]):
        assert all("/stabilized/" in path for path in outputs) and len(outputs) >= 9


def test_adding_a_regime_reruns_no_existing_run(finished_run):
    workdir, mirror = finished_run
    override = write_overlay(
        workdir / "ablation.yaml", {"regimes": {"stabilized_norm": {"stabilization": {"quantity": "norm"}}}}
    )
    todo = pending(workdir, "--config", f"data_mirror={mirror}", overlays=(override,))
    assert set(todo) - AGGREGATES == PER_RUN
    for outputs in (todo["train"], todo["extract_weights"], todo["analyze"], todo["pseudospectra"]):
        assert all("/stabilized_norm/" in path for path in outputs) and len(outputs) >= 9


def test_directory_mirror_and_bad_digest(tmp_path, fixture_mirror):
    workdir = copy_workflow(tmp_path / "wf")
    mirror = fixture_mirror.url
    snakemake(workdir, "download_mnist", "download_imdb", "--config", f"data_mirror={mirror}")
    assert len(list((workdir / "resources/imdb").glob("*/aclImdb.tar.gz"))) == 1
    assert len(list((workdir / "resources/mnist").glob("*/*.gz"))) == 4

    bad = write_overlay(tmp_path / "bad.yaml", {"sources": {"imdb": {"digest": "0" * 64}}})
    shutil.rmtree(workdir / "resources")
    args = ("download_imdb", "--config", f"data_mirror={mirror}")
    proc = snakemake(workdir, *args, overlays=(bad,), check=False)
    assert proc.returncode != 0
    log = (workdir / "results/tiny/logs/download_imdb.log").read_text()
    assert "0" * 64 in log and "data_mirror" in log
    assert not list((workdir / "resources/imdb").glob("*/aclImdb.tar.gz"))


def test_report_shows_tables_figures_and_captions_from_the_data(finished_run):
    """The report embeds every table as an HTML table (ours beside the paper's) and every figure, each with a
    caption that includes the numbers of its runs."""
    workdir, mirror = finished_run
    snakemake(workdir, "--report", "results/tiny/report.html", "--config", f"data_mirror={mirror}")
    page = (workdir / "results/tiny/report.html").read_text(encoding="utf-8")
    embedded = re.findall(r"data:([a-z/+.-]+);charset=[a-z0-9-]+;(?:filename=[^;]*;)?base64,([A-Za-z0-9+/=]+)", page)
    html_tables = [base64.b64decode(data).decode() for mime, data in embedded if mime == "text/html"]
    table1 = [t for t in html_tables if "Test accuracy (%)" in t]
    assert len(html_tables) == 10 and len(table1) == 1  # Tables 1 (two), 1 by epoch, 2–6 and 7 (two parts)
    assert "<table>" in table1[0] and "<td>99.73%</td>" in table1[0] and "non-convergence" in table1[0]
    figures = [f"figure{i}_{t}" for i, t in enumerate(TASKS * 2, start=1)]
    figures += [f"training_{t}" for t in TASKS] + [f"eigenvalues_{t}_{r}" for t in TASKS for r in REGIMES]
    figures += [f"figure7_perturbation_{t}" for t in TASKS] + ["figure8_prediction", "figure10_predictors"]
    figures += ["figure9_pareto"]
    for name in figures:
        assert f"{name}.png" in page and f"{name}.pdf" in page, name
    # each PNG, PDF and HTML table has its caption, and the CSV, Markdown and LaTeX files of Tables 4, 6 and 7 too
    assert page.count("This run:") == 2 * len(figures) + 10 + 3 * 4
    assert "6. Perturbation" in page and "7. Robust training" in page
    caption = (workdir / "results/tiny/figures/figure1_adding.caption.rst").read_text()
    assert caption.count("matrix encoder/") == 3 and "eigenvalues outside the unit circle" in caption
    numbers = next(line for line in caption.splitlines() if line.startswith("- "))  # after what the figure is
    assert json.dumps(numbers[2:], ensure_ascii=True)[1:-1] in page  # the numbers, in the report


def test_configs_keep_their_results_apart(finished_run):
    """After a tiny run, the paper config's dry run plans nothing that touches the tiny config's results."""
    workdir, _ = finished_run
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "-n"]  # the default config, not the tiny one
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=job_environment(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "results/paper/models/" in proc.stdout and "results/tiny" not in proc.stdout


def test_the_causal_arm_starts_from_its_source_runs_and_follows_them(tmp_path, fixture_mirror):
    """A regime with robust_training.init_from trains after its source regime, from its runs (the eigenvalues kept
    with freeze_eigenvalues), and retrains when the source does."""
    schur = {"parametrization": "schur"}
    frozen = {**schur, "init_from": "schur", "freeze_eigenvalues": True, "nonnormality": 1.0}
    settings = {"tasks": ["imdb"], "models": ["gru"],
                "regimes": {"schur": {"robust_training": schur}, "frozen": {"robust_training": frozen}}}  # fmt: skip
    study = write_overlay(tmp_path / "study.yaml", settings)
    pick = write_overlay(tmp_path / "pick.yaml", {"regimes": ["schur", "frozen"]})
    weights = "results/tiny/weights/imdb/gru/{}/seed0.npz"
    args = ("--config", f"data_mirror={fixture_mirror.url}")
    workdir = copy_workflow(tmp_path / "wf")
    assert planned(workdir, weights.format("frozen"), *args, overlays=(study, pick)).get("train") == 2
    snakemake(workdir, weights.format("frozen"), weights.format("schur"), *args, overlays=(study, pick))
    blocks = [np.load(workdir / weights.format(regime))["rnn/h"] for regime in ("schur", "frozen")]
    eigenvalues = [np.sort_complex(np.linalg.eigvals(block)) for block in blocks]
    assert np.allclose(*eigenvalues, atol=1e-5) and not np.allclose(*blocks)  # float32 weights
    assert (workdir / "results/tiny/models/imdb/gru/frozen/seed0/parametrization.pt").exists()
    other_source = {"regimes": {"schur": {"robust_training": schur, "train": {"lr": 0.002}}}}
    changed = write_overlay(tmp_path / "changed.yaml", other_source)
    plan = planned(workdir, weights.format("frozen"), *args, overlays=(study, changed, pick))
    assert plan.get("train") == 2  # the source retrains, and so does what starts from it
