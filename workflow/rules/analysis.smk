rule analyze:
    input:
        weights=rules.extract_weights.output[0],
    output:
        run_file("analysis"),
    log:
        run_log("analyze"),
    benchmark:
        run_benchmark("analyze")
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
        run_file("grid"),
    log:
        run_log("pseudospectra"),
    benchmark:
        run_benchmark("pseudospectra")
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
