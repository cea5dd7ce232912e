"""Progress a person can watch: every training run of a config, with epoch, accuracy, ETA and status.

``python -m rnnrobust.status [OVERLAY.yaml ...] [--watch SECONDS]`` reads the config as the
workflow does (``config.yaml`` with the same ``--configfile`` overlays), then for each run its
``metrics.json`` (finished) or its last progress line (``seed N: epoch ...``) in the log of its
training group (running or stopped).
Torch-free and read-only: safe to run beside a workflow.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnrobust.config import ConfigError, TrainConfig
from rnnrobust.config.cli import add_config_arguments, config_from_arguments
from rnnrobust.layout import RunKey, run_stem
from rnnrobust.progress import parse_progress
from rnnrobust.runs import run_keys

#: A run whose log has not changed for this long, without a result, is shown as stopped.
STALE_AFTER_S = 900.0


@dataclass(frozen=True)
class RunState:
    """What is known of one run: ``state`` is done, running, stopped or pending."""

    run: RunKey
    state: str
    epoch: int = 0
    epochs: int = 0
    accuracy: float | None = None
    eta_s: float | None = None
    wall_s: float | None = None
    status: str = ""


def run_state(root: Path, results_dir: str, run: RunKey, epochs: int, now: float) -> RunState:
    """The state of one run from its files below ``root`` (the workflow's folder)."""
    stem = run_stem(*run)
    metrics_path = root / results_dir / "models" / stem / "metrics.json"
    if metrics_path.exists():
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        return RunState(
            run,
            "done",
            epoch=int(metrics["epochs_completed"]),
            epochs=epochs,
            accuracy=float(metrics["test"]["accuracy"]),
            wall_s=float(metrics["wall_time_s"]),
            status=str(metrics["status"]),
        )
    task, model, regime, seed = run
    log = root / results_dir / "logs" / "train" / task / model / f"{regime}.log"  # one log per training group
    if not log.exists():
        return RunState(run, "pending", epochs=epochs)
    last = None
    prefix = f"seed {seed}: "
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(prefix):
            last = parse_progress(line[len(prefix) :]) or last
    state = "running" if now - log.stat().st_mtime < STALE_AFTER_S else "stopped"
    if last is None:
        return RunState(run, state, epochs=epochs)
    return RunState(
        run,
        state,
        epoch=int(last["epoch"]),
        epochs=int(last["epochs"]),
        accuracy=last.get("test_accuracy"),
        eta_s=last["eta_s"],
    )


def config_runs(config: dict[str, Any]) -> list[tuple[RunKey, int]]:
    """(run key, configured epochs) of every run of a checked config, in the workflow's order (a regime may
    change a task's epochs)."""
    return [(run, TrainConfig.for_run(config, run[0], run[1], run[3], run[2]).epochs) for run in run_keys(config)]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _bar(done: int, total: int, width: int = 10) -> str:
    filled = round(width * done / total) if total else 0
    return "#" * filled + "." * (width - filled)


def format_table(states: list[RunState]) -> str:
    """A compact table, one line per run, and a summary line."""
    header = f"{'run':<32} {'state':<8} {'epochs':<20} {'test acc':>8} {'ETA':>8} {'wall':>8}  status"
    lines = [header, "-" * len(header)]
    for s in states:
        accuracy = f"{100 * s.accuracy:.2f}%" if s.accuracy is not None else ""
        epochs = f"{_bar(s.epoch, s.epochs)} {s.epoch}/{s.epochs}"
        eta = _duration(s.eta_s) if s.state == "running" else ""
        wall = _duration(s.wall_s)
        lines.append(f"{run_stem(*s.run):<32} {s.state:<8} {epochs:<20} {accuracy:>8} {eta:>8} {wall:>8}  {s.status}")
    counts = {state: sum(s.state == state for s in states) for state in ("done", "running", "stopped", "pending")}
    epochs_done = sum(s.epoch for s in states)
    epochs_total = sum(s.epochs for s in states)
    summary = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    lines.append(
        f"{len(states)} runs: {summary}; {epochs_done}/{epochs_total} epochs [{_bar(epochs_done, epochs_total, 30)}]"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table once, or every ``--watch`` seconds until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m rnnrobust.status", description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument("--watch", type=float, metavar="SECONDS", help="refresh every SECONDS until Ctrl-C")
    args = parser.parse_args(argv)
    try:
        config = config_from_arguments(args)
    except ConfigError as err:
        print(f"invalid config: {err}")
        return 1
    root = Path(args.base).resolve().parent
    while True:
        now = time.time()
        states = [run_state(root, config["results_dir"], run, epochs, now) for run, epochs in config_runs(config)]
        print(format_table(states), flush=True)
        if not args.watch:
            return 0
        try:
            time.sleep(args.watch)
        except KeyboardInterrupt:
            return 0
        print()


if __name__ == "__main__":
    raise SystemExit(main())
