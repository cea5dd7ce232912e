"""Tables 1–3: accuracies, Henrici numbers and robustness scalars beside the paper's values."""

import sys
from pathlib import Path

from rnnrobust import tables

sys.stdout = sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821
sm = snakemake  # noqa: F821

runs = [(task, model, regime, int(seed)) for task, model, regime, seed in sm.params.runs]
metrics = dict(zip(runs, sm.input.metrics, strict=True))
analysis = dict(zip(runs, sm.input.analysis, strict=True))
out = Path(sm.output[0]).parent
built = {
    "table1_accuracy": (
        tables.table1_accuracy(metrics),
        "Test accuracy (%), mean ± std over seeds, with the paper's Table 1.",
    ),
    "table2_henrici": (
        tables.table2_henrici(analysis, metrics=metrics),
        "Henrici departure from normality per recurrent matrix, with the paper's Table 2.",
    ),
    "table3_robustness": (
        tables.table3_robustness(analysis, sm.params.eps, metrics=metrics),
        f"Robustness scalars (ε = {sm.params.eps:g}; worst block per run), mean ± std over seeds.",
    ),
}
for name, (frame, caption) in built.items():
    for path in tables.write_table(frame, out / name, caption):
        print("wrote", path)
