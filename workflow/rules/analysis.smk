rule analyze:
    input:
        weights=rules.extract_weights.output[0],
    output:
        "results/analysis/{task}/{model}/{regime}/seed{seed}.json",
    params:
        eps_log10=config["analysis"]["eps_log10"],
        code=CODE["analyze"],
    log:
        "logs/analyze/{task}/{model}/{regime}/seed{seed}.log",
    benchmark:
        "results/benchmarks/analyze/{task}/{model}/{regime}/seed{seed}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        ENV
    script:
        "../scripts/analyze.py"


rule pseudospectra:
    input:
        weights=rules.extract_weights.output[0],
    output:
        "results/pseudospectra/{task}/{model}/{regime}/seed{seed}.npz",
    params:
        pseudospectra=config["pseudospectra"],
        code=CODE["pseudospectra"],
    log:
        "logs/pseudospectra/{task}/{model}/{regime}/seed{seed}.log",
    benchmark:
        "results/benchmarks/pseudospectra/{task}/{model}/{regime}/seed{seed}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        ENV
    script:
        "../scripts/pseudospectra.py"
