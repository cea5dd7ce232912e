rule analyze:
    input:
        weights=rules.extract_weights.output[0],
    output:
        results("analysis/{task}/{model}/{regime}/seed{seed}.json"),
    log:
        results("logs/analyze/{task}/{model}/{regime}/seed{seed}.log"),
    benchmark:
        results("benchmarks/analyze/{task}/{model}/{regime}/seed{seed}.tsv")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        eps_log10=config["analysis"]["eps_log10"],
        code=CODE["analyze"],
    script:
        "../scripts/analyze.py"


rule pseudospectra:
    input:
        weights=rules.extract_weights.output[0],
    output:
        results("pseudospectra/{task}/{model}/{regime}/seed{seed}.npz"),
    log:
        results("logs/pseudospectra/{task}/{model}/{regime}/seed{seed}.log"),
    benchmark:
        results("benchmarks/pseudospectra/{task}/{model}/{regime}/seed{seed}.tsv")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        pseudospectra=config["pseudospectra"],
        code=CODE["pseudospectra"],
    script:
        "../scripts/pseudospectra.py"
