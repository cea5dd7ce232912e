rule train:
    input:
        data=results("data/{task}/data.npz"),
    output:
        model=results("models/{task}/{model}/{regime}/seed{seed}/model.pt"),
        metrics=results("models/{task}/{model}/{regime}/seed{seed}/metrics.json"),
        history=results("models/{task}/{model}/{regime}/seed{seed}/history.csv"),
    log:
        results("logs/train/{task}/{model}/{regime}/seed{seed}.log"),
    benchmark:
        results("benchmarks/train/{task}/{model}/{regime}/seed{seed}.tsv")
    # The one rule retried: a job cut off by its time or memory limit comes back with more and
    # resumes from its last epoch's checkpoint. Other rules are short and deterministic: no retry.
    retries: 2
    conda:
        ENV
    threads: 1
    # Time and memory from the run's size and measured costs (resources.smk), more on each retry.
    resources:
        mem_mb=train_mem_mb,
        runtime=train_runtime,
        gpu=GPUS_PER_TRAINING_JOB,
    params:
        train=train_params,
        code=CODE["train"],
    script:
        "../scripts/train.py"


rule extract_weights:
    input:
        model=rules.train.output.model,
    output:
        results("weights/{task}/{model}/{regime}/seed{seed}.npz"),
    log:
        results("logs/extract_weights/{task}/{model}/{regime}/seed{seed}.log"),
    benchmark:
        results("benchmarks/extract_weights/{task}/{model}/{regime}/seed{seed}.tsv")
    conda:
        ENV
    params:
        code=CODE["extract_weights"],
    script:
        "../scripts/extract_weights.py"
