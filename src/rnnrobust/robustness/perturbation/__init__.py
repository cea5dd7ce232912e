"""The perturbation stage (config key ``perturbation``, rule ``perturb``, folder ``perturbation/``).

- ``settings``: :class:`~rnnrobust.robustness.perturbation.settings.PerturbationConfig`, the stage's options;
- ``directions`` (worst-case and random directions, torch-free), ``copies`` (perturbed copies of a model,
  evaluated at once), ``state`` (hidden-state Jacobians) and ``run`` (``perturb_run``: one record per run;
  its JSON schema is in docs/output-formats.md);
- ``eps5`` (ε₅ per run, as numbers) and ``comparisons`` (regimes paired by seed; prediction against
  measurement), read by the reporting jobs.

Nothing is re-exported: the ``perturb`` job imports the measuring modules, the reports the reducing ones.
"""
