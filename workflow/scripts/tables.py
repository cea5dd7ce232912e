"""One of the tables (accuracies in the paper's layout and in detail, Henrici numbers, robustness scalars, each regime
against the baseline seed by seed) beside the paper's values, as CSV, Markdown, LaTeX and HTML, with its caption from
the data."""

from pathlib import Path

from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.reporting.render import write_table
from rnnrobust.reporting.table1_accuracy import (
    table1_accuracy,
    table1_accuracy_caption,
    table1_accuracy_report_caption,
)
from rnnrobust.reporting.table1_detail import table1_detail, table1_detail_caption, table1_detail_report_caption
from rnnrobust.reporting.table1_epochs import table1_epochs, table1_epochs_caption, table1_epochs_report_caption
from rnnrobust.reporting.table2_henrici import table2_henrici, table2_henrici_caption, table2_henrici_report_caption
from rnnrobust.reporting.table3_robustness import (
    table3_robustness,
    table3_robustness_caption,
    table3_robustness_report_caption,
)
from rnnrobust.reporting.table5_paired import table5_paired, table5_paired_caption, table5_paired_report_caption
from rnnrobust.runs import files_by_run

sm = start(snakemake)


metrics = files_by_run(sm.params.runs, "metrics", sm.input.metrics)
analysis = files_by_run(sm.params.runs, "analysis", sm.input.analysis)
# Table 3's rows "<regime>, before final rescale": the analysis of rescaled runs' kernels before their final rescale
# (the rule asks for them for table3_robustness only; none for a config without a rescaled regime).
before_rescale = files_by_run(sm.params.before_rescale, "analysis_before_rescale", sm.input.before_rescale)
histories = files_by_run(sm.params.histories, "history", sm.input.histories)  # table1_epochs only
eps_log10 = float(sm.params.eps_log10)
regimes = sm.params.regimes  # the config's order
# Per table: (the table, the caption of its files, its caption in the report).
tables = {
    "table1_accuracy": lambda: (
        table1_accuracy(metrics, regimes=regimes),
        table1_accuracy_caption(metrics),
        table1_accuracy_report_caption(metrics),
    ),
    "table1_epochs": lambda: (
        table1_epochs(metrics, histories, regimes=regimes),
        table1_epochs_caption(metrics),
        table1_epochs_report_caption(metrics),
    ),
    "table1_detail": lambda: (
        table1_detail(metrics, analysis=analysis, regimes=regimes),
        table1_detail_caption(metrics),
        table1_detail_report_caption(metrics),
    ),
    "table2_henrici": lambda: (
        table2_henrici(analysis, metrics=metrics, regimes=regimes),
        table2_henrici_caption(metrics),
        table2_henrici_report_caption(metrics, analysis),
    ),
    "table3_robustness": lambda: (
        table3_robustness(analysis, eps_log10, metrics=metrics, regimes=regimes, before_rescale=before_rescale),
        table3_robustness_caption(metrics, eps_log10),
        table3_robustness_report_caption(metrics, analysis, eps_log10, before_rescale),
    ),
    "table5_paired": lambda: (
        table5_paired(metrics, analysis, regimes=regimes),
        table5_paired_caption(),
        table5_paired_report_caption(metrics, analysis=analysis),
    ),
}
frame, caption, report_caption = tables[sm.wildcards.table]()
for path in write_table(frame, Path(sm.output[0]).with_suffix(""), caption):
    print("wrote", path)
write_text(sm.output.caption, report_caption)
