"""Training: Keras-faithful models of the three tasks, trained by groups of seeds, resumable and cached.

- ``loop``: ``train_run``, ``train_group``, ``train_groups`` (the entry points) and the epoch loop;
  ``session`` (a group set up: data, models, optimizer, checkpoint, logs), ``epochs`` (one epoch's
  steps, divergence, evaluation, history rows), ``outputs`` (``model.pt``, ``metrics.json``,
  ``history.csv`` and the run's status);
- ``tasks`` (each task's tensors, loss, accuracy and chance level) and ``evaluation`` (test metrics;
  shared with the perturbation stage, and importing neither the loop nor the CUDA-graph step);
- ``optimizer``, ``checkpoint``; ``models`` and ``recurrence`` (the cells), ``group`` (seeds stacked
  into one model), ``graphed`` (the static-buffer, CUDA-graph step), ``stabilize`` (Algorithm 1);
- ``run_cache`` (finished runs kept outside the workflow's outputs), ``weights`` (the gate blocks);
- robustness-aware training (issue 18; regimes with ``robust_training``): ``methods`` (what a step gains),
  ``schur_param`` (W = P(Λ + N)Pᵀ with ρ ≤ γ and Henrici departure ‖N‖_F), ``barrier`` (the Stein barrier),
  ``projection`` (per-step rescale or singular-value clipping).
"""
