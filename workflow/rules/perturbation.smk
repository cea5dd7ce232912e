rule perturb:
    input:
        model=results("models/{task}/{model}/{regime}/seed{seed}/model.pt"),
        metrics=results("models/{task}/{model}/{regime}/seed{seed}/metrics.json"),
        data=results("data/{task}/data.npz"),
    output:
        results("perturbation/{task}/{model}/{regime}/seed{seed}.json"),
    log:
        results("logs/perturb/{task}/{model}/{regime}/seed{seed}.log"),
    benchmark:
        results("benchmarks/perturb/{task}/{model}/{regime}/seed{seed}.tsv")
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
