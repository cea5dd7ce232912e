"""Figures 1–6: ε-pseudospectra of one recurrent matrix per model, EigTool style."""

from rnnrobust.io import write_text
from rnnrobust.job import start
from rnnrobust.reporting import captions, figures
from rnnrobust.runs import files_by_run, run_key

sm = start(snakemake)

# each panel record carries its run key, block and files together (report_inputs.smk: figure_panels)
files_by_run(sm.params.panels, "grid", sm.input.grids)
files_by_run(sm.params.panels, "analysis", sm.input.analysis)
panels = [figures.Panel(*run_key(p), p["block"], p["grid"], analysis_path=p["analysis"]) for p in sm.params.panels]
written = figures.plot_pseudospectra(
    panels, sm.output[0].removesuffix(".png"), eps_log10=sm.params.eps_log10, relative=sm.params.relative
)
panel_files = [(run_key(p), p["block"], p["analysis"]) for p in sm.params.panels]
write_text(sm.output.caption, captions.pseudospectra_caption(panel_files))
print("wrote", *written, sm.output.caption)
