"""Training curves of one task: every model and regime, the mean over seeds with a min–max band; diverged runs
labelled."""

from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.reporting.figure_style import report_caption
from rnnrobust.reporting.figure_training import plot_training_curves, training_caption, training_description
from rnnrobust.runs import files_by_run

sm = start(snakemake)


def by_curve(kind, inputs):
    """(model, regime) -> the ``kind`` file of each of its seeds, in seed order: a curve is a (model, regime)."""
    curves = {}
    for key, path in sorted(files_by_run(sm.params.runs, kind, inputs).items(), key=lambda item: item[0][3]):
        curves.setdefault(key[1:3], []).append(path)
    return curves


histories = by_curve("history", sm.input.histories)
metrics = by_curve("metrics", sm.input.metrics)
regimes = sm.params.regimes  # the config's order
stem = sm.output[0].removesuffix(".png")
written = plot_training_curves(histories, stem, task=sm.wildcards.task, metrics=metrics, regimes=regimes)
write_text(sm.output.caption, report_caption(training_description(metrics), training_caption(metrics)))
print("wrote", *written, sm.output.caption)
