rule perturb:
    input:
        model=run_file("model"),
        metrics=run_file("metrics"),
        data=results("data/{task}/data.npz"),
    output:
        run_file("perturbation"),
    log:
        run_log("perturb"),
    benchmark:
        run_benchmark("perturb")
    conda:
        ENV
    threads: 1
    # benchmarks/perturb.py at the paper's shapes, one thread (2026-12-07): at most 57 s of CPU and 1564 MB (imdb
    # lstm, with a short training epoch in the same process), under 7 % of the run's training time with the predictors.
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        perturbation=config["perturbation"],
        code=CODE["perturb"],
    script:
        "../scripts/perturb.py"


# What each run's weights and dynamics predict about its fragility (rnnrobust.robustness.predictors): spectral
# scalars, the horizon-aware threshold, finite-time Lyapunov exponents and the linear-response threshold, on the
# examples the perturbation stage measures; Table 6 ranks them against the measured thresholds.
rule predict:
    input:
        model=run_file("model"),
        metrics=run_file("metrics"),
        data=results("data/{task}/data.npz"),
    output:
        run_file("predictors"),
    log:
        run_log("predict"),
    benchmark:
        run_benchmark("predict")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=15,
    params:
        predictors=config["predictors"],
        # the evaluation subset is the perturbation stage's (its n_eval and seed)
        perturbation=config["perturbation"],
        code=CODE["predict"],
    script:
        "../scripts/predict.py"
