"""Reporting: the paper's tables and figures, and ours, from the per-run files; nothing here is re-exported.

One module per product, named after its rule's output, holding its builder and both of its captions (the
one written into the files and the report's ``.caption.rst``, from the data's own records):

- tables: ``table1_accuracy``, ``table1_detail``, ``table2_henrici``, ``table3_robustness``,
  ``table4_perturbation``, ``table5_paired``; shared by them ``table_common`` (run loading, summary columns,
  caption parts), ``outcomes`` (a run's outcome and status cells) and ``paper`` (the paper's numbers);
- figures: ``figure_pseudospectra`` (Figures 1–6), ``figure_training``, ``figure_eigenvalues``,
  ``figure7_perturbation``, ``figure8_prediction``; shared by them ``figure_style``;
- the perturbation stage in words: ``perturbation_text`` (cells and sentences) and ``perturbation_captions``;
- files: ``formatting`` (numbers), ``table_frame`` (machine-readable and display tables), ``latex`` (booktabs,
  fitted to a page) and ``render`` (``write_table``: CSV, Markdown, LaTeX and HTML in one call).

Import the module you need: a job's code digest covers the modules its script imports, so a change to one
table's caption reruns that rule only.
"""
