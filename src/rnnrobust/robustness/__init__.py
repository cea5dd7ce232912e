"""Robustness, in two parts kept apart by name; nothing is re-exported here.

- ``analysis``: the **robustness scalars** of each recurrent matrix (Henrici departure, ρ_ε, Kreiss bound,
  transient peak, distance to instability; Table 3) and its pseudospectrum grids, from ``rnnrobust.spectra``;
- ``perturbation``: the **perturbation stage**, which perturbs a trained network's weights and measures what
  its accuracy and hidden states do (Table 4, Figures 7–8).
"""
