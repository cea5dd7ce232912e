"""Table 1 by epoch against hand-written histories: the best epoch, the lowest-loss epoch and the final accuracy."""

from __future__ import annotations

import csv

import pytest

from rnnrobust.io import write_json
from rnnrobust.reporting.render import write_table
from rnnrobust.reporting.table1_epochs import epoch_choices, table1_epochs, table1_epochs_caption
from rnnrobust.stats import summarize

# seed -> (epoch, test_loss, test_accuracy) rows after epoch 0
HISTORIES = {
    0: [(1, 0.50, 0.78), (2, 0.40, 0.83), (3, 0.45, 0.84), (4, 0.60, 0.81)],
    1: [(1, 0.52, 0.80), (2, 0.38, 0.82), (3, 0.39, 0.82), (4, float("nan"), float("nan"))],
}
FINAL = {0: 0.81, 1: 0.79}


def _write_run(folder, seed):
    folder.mkdir(parents=True)
    with open(folder / "history.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "train_loss", "test_loss", "test_accuracy"])
        writer.writerow([0, "nan", 0.69, 0.5])
        writer.writerows((e, 0.3, loss, acc) for e, loss, acc in HISTORIES[seed])
    metrics = {"task": "imdb", "model": "gru", "seed": seed, "test": {"accuracy": FINAL[seed], "loss": 0.5},
               "hyperparameters": {"regime": "baseline", "dtype": "float32"}, "status": "converged",
               "chance_accuracy": 0.5}  # fmt: skip
    write_json(folder / "metrics.json", metrics)


@pytest.fixture
def files(tmp_path):
    metrics, histories = {}, {}
    for seed in HISTORIES:
        folder = tmp_path / f"seed{seed}"
        _write_run(folder, seed)
        metrics[("imdb", "gru", "baseline", seed)] = folder / "metrics.json"
        histories[("imdb", "gru", "baseline", seed)] = folder / "history.csv"
    return metrics, histories


def test_epoch_choices_skip_the_initial_row_and_non_finite_epochs(files):
    _, histories = files
    assert epoch_choices(histories[("imdb", "gru", "baseline", 0)]) == {
        "best_epoch": 3, "best_accuracy": 0.84, "lowest_loss_epoch": 2, "lowest_loss_accuracy": 0.83,
    }  # fmt: skip
    # a tie in accuracy goes to the earlier epoch; the NaN epoch 4 is skipped
    assert epoch_choices(histories[("imdb", "gru", "baseline", 1)]) == {
        "best_epoch": 2, "best_accuracy": 0.82, "lowest_loss_epoch": 2, "lowest_loss_accuracy": 0.82,
    }  # fmt: skip


def test_table1_epochs_summarises_each_choice_over_seeds(files, tmp_path):
    metrics, histories = files
    df = table1_epochs(metrics, histories, regimes=["baseline"])
    row = df.iloc[0]
    for name, values in {"final_accuracy": [81.0, 79.0], "best_accuracy": [84.0, 82.0],
                         "lowest_loss_accuracy": [83.0, 82.0]}.items():  # fmt: skip
        expected = summarize(values, interval="auto")
        assert row[f"{name}_mean"] == pytest.approx(expected.mean)
        assert row[f"{name}_ci_low"] == pytest.approx(expected.ci_low) and row[f"{name}_n"] == 2
    assert (row["best_epochs"], row["lowest_loss_epochs"], row["paper_accuracy"]) == ("3, 2", "2, 2", "85.96%")
    written = write_table(df, tmp_path / "table1_epochs", table1_epochs_caption(metrics))
    markdown = next(p for p in written if str(p).endswith(".md")).read_text()
    assert "best epoch (%)" in markdown and "85.96%" in markdown


def test_table1_epochs_refuses_histories_of_other_runs(files):
    metrics, histories = files
    del histories[("imdb", "gru", "baseline", 1)]
    with pytest.raises(ValueError, match="the same runs"):
        table1_epochs(metrics, histories)
