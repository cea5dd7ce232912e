if config["train_grouping"] == "all":

    # train_grouping: all — one job trains every group of the config at once, each in its own thread and
    # (on a GPU) CUDA stream, so that the groups' kernels overlap (rnnrobust.training.loop.train_groups). It writes
    # the same per-run files as the per-group jobs, restores finished runs from the same cache, and logs
    # each group to the same file.
    rule train_all:
        input:
            data=expand(results("data/{task}/data.npz"), task=config["tasks"]),
        output:
            models=per_run(run_file("model")),
            metrics=per_run(run_file("metrics")),
            histories=per_run(run_file("history")),
            before_rescale=per_run(run_file("before_rescale")),
        log:
            results("logs/train/all.log"),
        benchmark:
            results("benchmarks/train/all.tsv")
        retries: 2
        conda:
            ENV
        threads: workflow.cores
        resources:
            gpu=GPUS_PER_TRAINING_JOB,
        params:
            groups=all_train_groups,
            cache=results("cache/train"),
            code=CODE["train_all"],
        script:
            "../scripts/train_all.py"

else:

    # One job per task × model × regime trains the runs of every configured seed together, as one stacked
    # model (rnnrobust.training.group), and writes each run's files. A run finished earlier with the same settings,
    # code and data is restored from the cache instead of retrained (rnnrobust.training.run_cache), so adding a
    # seed trains only that seed.
    rule train:
        input:
            data=results("data/{task}/data.npz"),
            starts=train_starts,
        output:
            models=per_seed(run_file("model")),
            metrics=per_seed(run_file("metrics")),
            histories=per_seed(run_file("history")),
            before_rescale=per_seed(run_file("before_rescale")),
        log:
            results("logs/train/{task}/{model}/{regime}.log"),
        benchmark:
            results("benchmarks/train/{task}/{model}/{regime}.tsv")
        # The one rule retried: a job cut off by its time or memory limit comes back with more and
        # resumes from its last epoch's checkpoint. Other rules are short and deterministic: no retry.
        retries: 2
        conda:
            ENV
        threads: 1
        # Time and memory from the group's size and measured costs (resources.smk), more on each retry.
        resources:
            mem_mb=train_mem_mb,
            runtime=train_runtime,
            gpu=GPUS_PER_TRAINING_JOB,
        params:
            train=train_params,
            cache=results("cache/train"),
            code=CODE["train"],
        script:
            "../scripts/train.py"


rule extract_weights:
    input:
        model=run_file("model"),
    output:
        run_file("weights"),
    log:
        run_log("extract_weights"),
    benchmark:
        run_benchmark("extract_weights")
    conda:
        ENV
    params:
        code=CODE["extract_weights"],
    script:
        "../scripts/extract_weights.py"
