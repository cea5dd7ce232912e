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


# The scalars of a rescaled run's kernels before its final rescale (before_rescale.pt): the network that
# metrics.json's test_before_final_rescale measured, which the final rescale W -> cW changes.
rule analyze_before_rescale:
    input:
        kernels=run_file("before_rescale"),
    output:
        run_file("analysis_before_rescale"),
    log:
        run_log("analyze_before_rescale"),
    benchmark:
        run_benchmark("analyze_before_rescale")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        eps_log10=config["analysis"]["eps_log10"],
        code=CODE["analyze_before_rescale"],
    script:
        "../scripts/analyze_before_rescale.py"
