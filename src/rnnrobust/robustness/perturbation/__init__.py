"""The perturbation stage (config key ``perturbation``, rule ``perturb``, folder ``perturbation/``).

- ``settings``: :class:`~rnnrobust.robustness.perturbation.settings.PerturbationConfig`, the stage's options;
- the measuring modules, which the ``perturb`` job imports: ``directions`` (Gaussian, rank-matched Gaussian and
  instability directions, torch-free), ``adversarial`` (projected gradient ascent on the loss), ``copies``
  (perturbed copies of a model evaluated at once: accuracy, flip rate, KL), ``trained`` (a run's network and
  evaluation subset, shared with the predictors), ``trajectories`` (the pre-activation
  scale), ``sweep`` (the rows of every curve and level), ``bisection`` (thresholds bracketed on the grid, then
  bisected in log ε), ``state`` (hidden-state Jacobians) and ``run`` (``perturb_run``: one record per run; its
  JSON schema is in docs/output-formats.md);
- the reducing modules, which the reports import: ``censoring`` and ``eps5`` (a run's thresholds as numbers,
  censored ones as bounds), ``comparisons`` (regimes paired by seed; prediction against measurement) and
  ``contrasts`` (one family against another, paired by run).

Nothing is re-exported: the ``perturb`` job imports the measuring modules, the reports the reducing ones.
"""
