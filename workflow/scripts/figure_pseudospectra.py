"""Figures 1–6: ε-pseudospectra of one recurrent matrix per model, EigTool style."""

from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.reporting.figure_pseudospectra import (
    Panel,
    plot_pseudospectra,
    pseudospectra_caption,
    pseudospectra_description,
)
from rnnrobust.reporting.figure_style import report_caption
from rnnrobust.runs import files_by_run, run_key

sm = start(snakemake)

# each panel record carries its run key, block and files together (report_inputs.smk: figure_panels)
files_by_run(sm.params.panels, "grid", sm.input.grids)
files_by_run(sm.params.panels, "analysis", sm.input.analysis)
panels = [Panel(*run_key(p), p["block"], p["grid"], analysis_path=p["analysis"]) for p in sm.params.panels]
written = plot_pseudospectra(
    panels, sm.output[0].removesuffix(".png"), eps_log10=sm.params.eps_log10, relative=sm.params.relative
)
panel_files = [(run_key(p), p["block"], p["analysis"]) for p in sm.params.panels]
description = pseudospectra_description([run for run, _, _ in panel_files], eps_log10=sm.params.eps_log10)
write_text(sm.output.caption, report_caption(description, pseudospectra_caption(panel_files)))
print("wrote", *written, sm.output.caption)
