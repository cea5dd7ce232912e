from hashlib import sha256

from rnnrobust.data.mnist import MNIST_FILES

# Downloads are shared by every config that fetches the same data (quick and paper, not the tests'
# fixtures): each lives in a folder named by the digests it is verified against.
MNIST_DIGEST = sha256(" ".join(sorted(config["sources"]["mnist"]["sha256"].values())).encode()).hexdigest()[:12]
IMDB_DIGEST = config["sources"]["imdb"]["digest"][:12]


# The download rules take no code digest: what they fetch is fixed by its digest, so a code edit
# must not fetch the data again. They go first (priority), so that a bad source fails in seconds.
rule download_mnist:
    output:
        expand("resources/mnist/{digest}/{name}", digest=MNIST_DIGEST, name=MNIST_FILES),
    log:
        results("logs/download_mnist.log"),
    benchmark:
        results("benchmarks/download_mnist.tsv")
    priority: 100
    localrule: True
    conda:
        ENV
    params:
        urls=config["sources"]["mnist"]["urls"],
        sha256=config["sources"]["mnist"]["sha256"],
    script:
        "../scripts/download_mnist.py"


rule download_imdb:
    output:
        f"resources/imdb/{IMDB_DIGEST}/aclImdb.tar.gz",
    log:
        results("logs/download_imdb.log"),
    benchmark:
        results("benchmarks/download_imdb.tsv")
    priority: 100
    localrule: True
    conda:
        ENV
    params:
        urls=config["sources"]["imdb"]["urls"],
        digest=config["sources"]["imdb"]["digest"],
    script:
        "../scripts/download_imdb.py"


rule prepare_adding:
    output:
        data=results("data/adding/data.npz"),
        meta=results("data/adding/meta.json"),
    log:
        results("logs/prepare_adding.log"),
    benchmark:
        results("benchmarks/prepare_adding.tsv")
    conda:
        ENV
    params:
        options=config["data"]["adding"],
        code=CODE["prepare_adding"],
    script:
        "../scripts/prepare_adding.py"


rule prepare_mnist:
    input:
        raw=rules.download_mnist.output,
    output:
        data=results("data/mnist/data.npz"),
        meta=results("data/mnist/meta.json"),
    log:
        results("logs/prepare_mnist.log"),
    benchmark:
        results("benchmarks/prepare_mnist.tsv")
    conda:
        ENV
    params:
        sha256=config["sources"]["mnist"]["sha256"],
        code=CODE["prepare_mnist"],
    script:
        "../scripts/prepare_mnist.py"


rule prepare_imdb:
    input:
        raw=rules.download_imdb.output,
    output:
        data=results("data/imdb/data.npz"),
        meta=results("data/imdb/meta.json"),
        vocab=results("data/imdb/vocab.json"),
    log:
        results("logs/prepare_imdb.log"),
    benchmark:
        results("benchmarks/prepare_imdb.tsv")
    conda:
        ENV
    resources:
        mem_mb=4000,
    params:
        digest=config["sources"]["imdb"]["digest"],
        options=config["data"]["imdb"],
        code=CODE["prepare_imdb"],
    script:
        "../scripts/prepare_imdb.py"
