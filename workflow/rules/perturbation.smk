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
    # benchmarks/perturb.py at the paper's shapes, one thread: at most 25 s of CPU and 1040 MB (imdb lstm,
    # with a short training epoch in the same process), under 3 % of the run's training time.
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        perturbation=config["perturbation"],
        code=CODE["perturb"],
    script:
        "../scripts/perturb.py"
