"""Tiny data for the tests, one home for each builder: stand-ins for the downloads, and prepared arrays.

Shared by every test folder (``tests/conftest.py`` puts this folder on ``sys.path``; its ``fixture_mirror``
and ``http_mirror`` fixtures serve :func:`write_fixture_mirror`).

The stand-ins for the MNIST and IMDB downloads are small and byte-deterministic. The MNIST fixture is
four gzip'd IDX files of seven-segment "digits"; the IMDB fixture is an ``aclImdb`` tarball of short
generated reviews whose sentiment is learnable from their words. Every archive is written with gzip
mtime 0 and fixed tar headers, so the same arguments give the same bytes (given the same zlib); the
returned digests are of the decompressed / labelled content and do not depend on the compressor at all.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tarfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rnnrobust.config import TrainConfig
from rnnrobust.io import atomic_path

# Seven-segment layout on a 28x28 canvas: (row0, row1, col0, col1) of each segment, thickness 2.
_SEGMENTS = {
    "a": (5, 7, 9, 19),
    "b": (5, 14, 17, 19),
    "c": (13, 22, 17, 19),
    "d": (20, 22, 9, 19),
    "e": (13, 22, 9, 11),
    "f": (5, 14, 9, 11),
    "g": (13, 15, 9, 19),
}
_DIGIT_SEGMENTS = ["abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg"]


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array of 1 (labels) or 3 (images) dims as an IDX file."""
    arr = np.ascontiguousarray(array, dtype=np.uint8)
    if arr.ndim not in (1, 3):
        raise ValueError(f"IDX fixture arrays must be 1- or 3-D, got {arr.shape}")
    header = struct.pack(">I", 0x00000800 | arr.ndim) + struct.pack(f">{arr.ndim}i", *arr.shape)
    return header + arr.tobytes()


def _digit_images(labels: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    images = np.zeros((len(labels), 28, 28), dtype=np.float64)
    for i, label in enumerate(labels):
        dy, dx = rng.randint(-3, 4, size=2)
        ink = rng.uniform(170, 255)
        for seg in _DIGIT_SEGMENTS[int(label)]:
            r0, r1, c0, c1 = _SEGMENTS[seg]
            images[i, r0 + dy : r1 + dy, c0 + dx : c1 + dx] = ink
        images[i] += rng.normal(0.0, 12.0, size=(28, 28)) * (images[i] > 0)
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def mnist_fixture_arrays(n_train: int = 200, n_test: int = 100, seed: int = 0) -> dict[str, np.ndarray]:
    """The arrays behind :func:`write_mnist_fixture`, keyed by canonical base name."""
    if n_train < 10 or n_test < 10:
        raise ValueError("n_train and n_test must be >= 10 so that labels cover 0..9")
    rng = np.random.RandomState(seed)
    out: dict[str, np.ndarray] = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
        out[f"{prefix}-images-idx3-ubyte"] = _digit_images(labels, rng)
        out[f"{prefix}-labels-idx1-ubyte"] = labels
    return out


def write_mnist_fixture(
    dir: str | os.PathLike[str], n_train: int = 200, n_test: int = 100, seed: int = 0
) -> dict[str, str]:
    """Write ``dir/<name>.gz`` for the four canonical MNIST names; return their decompressed SHA-256."""
    out_dir = Path(dir)
    digests: dict[str, str] = {}
    for name, arr in mnist_fixture_arrays(n_train, n_test, seed).items():
        raw = idx_bytes(arr)
        write_bytes_atomic(out_dir / f"{name}.gz", gzip.compress(raw, compresslevel=9, mtime=0))
        digests[name] = hashlib.sha256(raw).hexdigest()
    return digests


_NEUTRAL = (
    "the movie film story plot actor actress director scene scenes character characters script "
    "camera music ending cast it this was is a an and of to in with for on as at by its their "
    "his her they he she watched saw really quite very rather just also then again time year "
    "first second one two show part end minutes café naïve"
).split()
_POSITIVE = "great wonderful excellent brilliant superb loved beautiful touching fun best enjoyable".split()
_NEGATIVE = "awful terrible boring worst dull waste poor stupid bad disappointing annoying".split()


def _review(rng: np.random.RandomState, positive: bool) -> bytes:
    own, other = (_POSITIVE, _NEGATIVE) if positive else (_NEGATIVE, _POSITIVE)
    sentences = []
    for _ in range(rng.randint(2, 6)):
        words = [_NEUTRAL[j] for j in rng.randint(0, len(_NEUTRAL), size=rng.randint(4, 11))]
        for _ in range(rng.randint(1, 3)):
            pool = own if rng.uniform() < 0.85 else other
            words.insert(rng.randint(0, len(words) + 1), pool[rng.randint(0, len(pool))])
        if rng.uniform() < 0.2:
            words.insert(rng.randint(0, len(words) + 1), "don't" if positive else "didn't")
        text = " ".join(words)
        sentences.append(text[0].upper() + text[1:] + ("!" if rng.uniform() < 0.3 else "."))
    out = sentences[0]
    for sentence in sentences[1:]:
        out += ("<br /><br />" if rng.uniform() < 0.4 else " ") + sentence
    return out.encode("utf-8")


def imdb_fixture_reviews(n_per_folder: int = 40, seed: int = 0) -> dict[str, bytes]:
    """The labelled reviews of :func:`write_imdb_fixture`.

    Keyed by archive path, ``aclImdb/<split>/<pos|neg>/<id>_<rating>.txt``; values are UTF-8 bytes.
    """
    rng = np.random.RandomState(seed)
    reviews: dict[str, bytes] = {}
    for split in ("train", "test"):
        for folder in ("pos", "neg"):
            for i in range(n_per_folder):
                rating = rng.randint(7, 11) if folder == "pos" else rng.randint(1, 5)
                reviews[f"aclImdb/{split}/{folder}/{i}_{rating}.txt"] = _review(rng, folder == "pos")
    return reviews


def labelled_digest(reviews: dict[str, bytes]) -> str:
    """The ``imdb_digest`` definition, computed independently from the review contents."""
    h = hashlib.sha256()
    for rel in sorted(reviews):
        h.update(rel.encode("utf-8") + b"\0" + str(len(reviews[rel])).encode("ascii") + b"\0" + reviews[rel])
    return h.hexdigest()


def _tarinfo(name: str, data: bytes | None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if data is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = len(data)
        info.mode = 0o644
    return info


def write_tar_gz(path: str | os.PathLike[str], members: Iterable[tuple[str, bytes | None] | tarfile.TarInfo]) -> None:
    """Write a gzip'd ustar archive atomically, members in the order given.

    A member is ``(name, bytes)`` for a file, ``(name, None)`` for a directory, or a prepared
    ``TarInfo`` (links, devices, ...) added without data.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tf.addfile(member)
            else:
                name, data = member
                tf.addfile(_tarinfo(name, data), io.BytesIO(data) if data is not None else None)
    write_bytes_atomic(path, gzip.compress(buf.getvalue(), compresslevel=9, mtime=0))


def imdb_fixture_members(
    n_per_folder: int = 40, seed: int = 0, layout: str = "labeled"
) -> list[tuple[str, bytes | None]]:
    """The members of :func:`write_imdb_fixture`'s tarball, in archive order."""
    reviews = imdb_fixture_reviews(n_per_folder, seed)
    dirs = ["aclImdb/"] + [f"aclImdb/{s}/" for s in ("train", "test")]
    dirs += [f"aclImdb/{s}/{f}/" for s in ("train", "test") for f in ("pos", "neg")]
    if layout == "labeled":
        members: list[tuple[str, bytes | None]] = [(d, None) for d in dirs] + list(reviews.items())
        return sorted(members, key=lambda m: m[0])
    if layout != "official":
        raise ValueError(f"layout must be 'labeled' or 'official', got {layout!r}")
    # Official-like: extra files, unlabelled reviews, and an order that is not sorted by name
    # (test before train, ids in numeric order), so the digest must sort by itself.
    rng = np.random.RandomState(seed + 1)
    unsup = [(f"aclImdb/train/unsup/{i}_0.txt", _review(rng, bool(i % 2))) for i in range(n_per_folder)]
    vocab = "\n".join(sorted(set(_NEUTRAL + _POSITIVE + _NEGATIVE))).encode("utf-8") + b"\n"
    members = [("aclImdb/", None), ("aclImdb/test/", None)]
    members += [("aclImdb/README", b"Large Movie Review Dataset v1.0 (fixture)\n")]
    members += [("aclImdb/imdb.vocab", vocab), ("aclImdb/imdbEr.txt", b"0.1\n" * 8)]
    for split in ("test", "train"):
        if split == "train":
            members += [("aclImdb/train/", None), ("aclImdb/train/unsup/", None), *unsup]
            members += [("aclImdb/train/labeledBow.feat", b"0 0:1\n"), ("aclImdb/train/urls_pos.txt", b"x\n")]
        for folder in ("pos", "neg"):
            members.append((f"aclImdb/{split}/{folder}/", None))
            prefix = f"aclImdb/{split}/{folder}/"
            names = sorted(
                (r for r in reviews if r.startswith(prefix)),
                key=lambda r: int(r[len(prefix) :].split("_")[0]),
            )
            members += [(name, reviews[name]) for name in names]
    return members


def write_imdb_fixture(
    path_to_tar_gz: str | os.PathLike[str], n_per_folder: int = 40, seed: int = 0, layout: str = "labeled"
) -> str:
    """Write an ``aclImdb``-layout tar.gz of generated reviews; return its ``imdb_digest``.

    ``layout="labeled"`` mimics the labelled-only offline copy (sorted, 4 folders);
    ``layout="official"`` adds ``train/unsup/``, ``imdb.vocab``, a README and other extras in a
    non-sorted order. Both give the same labelled reviews, hence the same digest, for a given seed.
    """
    write_tar_gz(path_to_tar_gz, imdb_fixture_members(n_per_folder, seed, layout))
    return labelled_digest(imdb_fixture_reviews(n_per_folder, seed))


def write_fixture_mirror(dir: str | os.PathLike[str]) -> dict:
    """Write a data mirror: ``dir/mnist/<name>.gz`` and ``dir/imdb/aclImdb_labeled.tar.gz``.

    Returns ``{'mnist_sha256': {name: decompressed sha256}, 'imdb_digest': str}``.
    """
    root = Path(dir)
    mnist = write_mnist_fixture(root / "mnist")
    digest = write_imdb_fixture(root / "imdb" / "aclImdb_labeled.tar.gz")
    return {"mnist_sha256": mnist, "imdb_digest": digest}


# --------------------------------------------------------------------------------------------------
# Tiny prepared data and settings of a training run (tests/training, tests/floor/test_status.py).


def imdb_arrays(n_train: int = 96, n_test: int = 32, seed: int = 0) -> dict[str, np.ndarray]:
    """Prepared IMDB-shaped arrays (12 word ids per review) whose label is learnable: the ids shift with it."""
    rng = np.random.default_rng(seed)
    y_train, y_test = rng.integers(0, 2, n_train), rng.integers(0, 2, n_test)
    x_train = rng.integers(3, 50, (n_train, 12)) + 50 * y_train[:, None]
    x_test = rng.integers(3, 50, (n_test, 12)) + 50 * y_test[:, None]
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def imdb_params(**overrides) -> TrainConfig:
    """A tiny IMDB run on the CPU (4 epochs of an LSTM with 5 units, with dropout), for :func:`imdb_arrays`."""
    params = {
        "task": "imdb", "model": "lstm", "seed": 3, "regime": "baseline", "epochs": 4, "batch_size": 16,
        "optimizer": "adam", "lr": 0.01, "hidden_size": 5, "vocab_size": 100, "embed_dim": 6,
        "dropout": 0.2, "recurrent_dropout": 0.2, "device": "cpu", "cell_impl": "faithful",
    }  # fmt: skip
    params.update(overrides)
    return TrainConfig(**params)
