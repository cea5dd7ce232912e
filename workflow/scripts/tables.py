"""Tables 1–3: accuracies, Henrici numbers and robustness scalars beside the paper's values."""

from pathlib import Path

from rnnrobust import render, tables
from rnnrobust.job import start
from rnnrobust.runs import files_by_run

sm = start(snakemake)


metrics = files_by_run(sm.params.runs, "metrics", sm.input.metrics)
analysis = files_by_run(sm.params.runs, "analysis", sm.input.analysis)
eps_log10 = float(sm.params.eps_log10)
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
        tables.table3_robustness(analysis, eps_log10, metrics=metrics),
        f"Robustness scalars (ε = {render.format_eps(eps_log10)}; worst block per run), mean ± std over seeds.",
    ),
}
for name, (frame, caption) in built.items():
    for path in render.write_table(frame, out / name, caption):
        print("wrote", path)
