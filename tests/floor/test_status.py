"""The status command: every run of a config with epoch, accuracy, ETA and status, from the run files."""

import json
import os
import shutil
import time
from pathlib import Path

from fixtures import imdb_arrays, imdb_params

from rnnrobust.progress import parse_progress
from rnnrobust.status import format_table, main, run_state
from rnnrobust.training.loop import train_run

REPO = Path(__file__).resolve().parents[2]


def test_training_log_lines_parse(tmp_path):
    lines = []
    train_run(imdb_params(epochs=2), imdb_arrays(), tmp_path, log=lines.append)
    parsed = [parse_progress(line) for line in lines if line.startswith("epoch ")]
    assert [p["epoch"] for p in parsed] == [0, 1, 2] and all(p["epochs"] == 2 for p in parsed)
    assert all(0 <= p["test_accuracy"] <= 1 for p in parsed) and parsed[-1]["eta_s"] == 0


def write_run(root, stem, *, metrics=None, log_lines=(), age_s=0.0):
    if metrics is not None:
        path = root / "results/x/models" / stem / "metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(metrics))
    if log_lines:
        group, _, seed = stem.rpartition("/seed")
        log = root / "results/x/logs/train" / f"{group}.log"  # the training group's log, lines by seed
        log.parent.mkdir(parents=True, exist_ok=True)
        lines = ["rnnrobust 0.2.0 imported from somewhere", *(f"seed {seed}: {line}" for line in log_lines)]
        log.write_text("\n".join(lines) + "\n")
        old = time.time() - age_s
        os.utime(log, (old, old))


def test_states_from_files(tmp_path):
    done = {"epochs_completed": 3, "test": {"accuracy": 0.9}, "wall_time_s": 75.0, "status": "converged"}
    write_run(tmp_path, "adding/rnn/baseline/seed0", metrics=done)
    progress = "epoch 2/3  train_loss 0.5000, test_accuracy 0.6250  1.0 s  ETA 40 s"
    write_run(tmp_path, "adding/gru/baseline/seed0", log_lines=[progress])
    with open(tmp_path / "results/x/logs/train/adding/gru/baseline.log", "a") as log:
        log.write("seed 1: epoch 3/3  train_loss 0.1000, test_accuracy 0.7500  1.0 s  ETA 0 s\n")
    write_run(tmp_path, "adding/lstm/baseline/seed0", log_lines=[progress], age_s=3600)
    now = time.time()
    states = [
        run_state(tmp_path, "results/x", ("adding", m, "baseline", 0), 3, now) for m in ("rnn", "gru", "lstm", "xyz")
    ]
    assert [s.state for s in states] == ["done", "running", "stopped", "pending"]
    assert states[0].accuracy == 0.9 and states[0].status == "converged" and states[0].wall_s == 75.0
    assert states[1].epoch == 2 and states[1].accuracy == 0.625 and states[1].eta_s == 40.0
    table = format_table(states)
    assert "adding/rnn/baseline/seed0" in table and "90.00%" in table and "62.50%" in table and "0m40s" in table
    assert table.splitlines()[-1].startswith("4 runs: 1 done, 1 running, 1 stopped, 1 pending; 7/12 epochs")


def test_command_reads_the_config(tmp_path, capsys):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    shutil.copytree(REPO / "workflow/schemas", tmp_path / "workflow/schemas")
    overlay = tmp_path / "o.yaml"
    overlay.write_text("tasks: [mnist]\nseeds: [0]\n")
    assert main(["--base", str(tmp_path / "config.yaml"), str(overlay)]) == 0
    out = capsys.readouterr().out
    assert "mnist/gru/stabilized/seed0" in out and "6 runs: 6 pending; 0/1200 epochs" in out
    longer = tmp_path / "longer.yaml"  # a regime that trains MNIST longer: its runs' epochs count
    longer.write_text("tasks: [mnist]\nseeds: [0]\nregimes: {baseline: {}, longer: {train: {mnist: {epochs: 300}}}}\n")
    assert main(["--base", str(tmp_path / "config.yaml"), str(longer)]) == 0
    assert "9 runs: 9 pending; 0/2100 epochs" in capsys.readouterr().out  # 6 × 200 + 3 × 300
