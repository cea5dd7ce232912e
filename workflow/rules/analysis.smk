rule analyze:
    input:
        weights=rules.extract_weights.output[0],
        code=library("analysis", "spectra"),
    output:
        "results/analysis/{task}/{model}/{regime}/seed{seed}.json",
    params:
        eps_levels=config["analysis"]["eps_levels"],
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


rule pseudospectrum:
    input:
        weights=rules.extract_weights.output[0],
        code=library("analysis", "spectra"),
    output:
        "results/pseudospectra/{task}/{model}/{regime}/seed{seed}.npz",
    params:
        grid=config["pseudospectra"],
    log:
        "logs/pseudospectrum/{task}/{model}/{regime}/seed{seed}.log",
    benchmark:
        "results/benchmarks/pseudospectrum/{task}/{model}/{regime}/seed{seed}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        ENV
    script:
        "../scripts/pseudospectrum.py"
