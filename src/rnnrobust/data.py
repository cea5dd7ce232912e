"""Data preparation for the three tasks (protocol §1.1–1.3).

* Adding two numbers: a seeded re-implementation of Keras ``examples/addition_rnn.py``.
* MNIST: the four IDX files, verified by the SHA-256 of their decompressed bytes.
* IMDB: the raw Large Movie Review Dataset (``aclImdb``), read straight from the tarball,
  tokenised and encoded with the Keras ``imdb.load_data`` conventions.

Every data problem raises :class:`DataError`; its message names the file, the expected and the
actual digest where there is one, and how to point the workflow at a mirror. Every write is atomic
(:mod:`rnnrobust.io`).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import re
import struct
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np

from rnnrobust.io import atomic_path, load_npz, save_npz, write_json

__all__ = [
    "ADDING_CHARS",
    "MIRROR_HINT",
    "MNIST_NAMES",
    "DataError",
    "build_word_index",
    "candidate_sources",
    "decode_adding",
    "encode_imdb",
    "fetch",
    "generate_adding",
    "imdb_digest",
    "load_prepared",
    "prepare_imdb",
    "prepare_mnist",
    "read_idx",
    "read_imdb",
    "save_prepared",
    "sha256_file",
    "tokenize",
    "verify_mnist",
]

#: The 12 symbols of the adding task, ordered as Keras' ``CharacterTable`` orders them
#: (``sorted(set('0123456789+ '))``): index 0 is the padding space.
ADDING_CHARS: str = "".join(sorted("0123456789+ "))

#: Canonical MNIST base names (the IDX files without ``.gz``).
MNIST_NAMES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: How to fix a missing or bad input: appended to every :class:`DataError` about a data file.
MIRROR_HINT: str = (
    "Fix: delete the bad file so that the workflow fetches it again, or point the workflow at a "
    "good copy: set data_mirror: <dir or URL> in config.yaml or --config data_mirror=<dir or URL>."
)

_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"


class DataError(RuntimeError):
    """A data file is missing, unreadable, malformed, unsafe or has the wrong digest."""


def _fail(message: str) -> DataError:
    return DataError(f"{message}\n{MIRROR_HINT}")


# --------------------------------------------------------------------------------------------
# Task 1: adding two numbers (Keras examples/addition_rnn.py)
# --------------------------------------------------------------------------------------------


def generate_adding(
    n_samples: int = 50000, digits: int = 3, val_fraction: float = 0.1, seed: int = 0
) -> dict[str, np.ndarray]:
    """Generate the addition data set of Keras ``examples/addition_rnn.py`` (protocol §1.1).

    The random stream is that of the Keras example run after ``np.random.seed(seed)``: each
    operand draws its number of digits with ``randint(1, digits + 1)`` and then each digit
    uniformly (``np.random.choice(list('0123456789'))`` consumes the stream exactly as
    ``randint(0, 10)`` does), so leading zeros collapse (``int('007') == 7``). Unordered duplicate
    pairs are rejected. The query ``'a+b'`` is right-padded with spaces to ``2 * digits + 1``
    characters and reversed; the answer ``str(a + b)`` is right-padded to ``digits + 1`` and not
    reversed. The samples are then shuffled with the same stream, and the last
    ``int(n_samples * val_fraction)`` are held out (Keras: ``split_at = len(x) - len(x) // 10``).

    Returns ``x_train`` ``(N, 2*digits+1)``, ``y_train`` ``(N, digits+1)``, ``x_test`` and
    ``y_test``: int64 indices into :data:`ADDING_CHARS` (one-hot encoding is left to the model).

    Raises ``ValueError`` if ``n_samples`` exceeds the number of distinct unordered pairs,
    ``10**digits * (10**digits + 1) / 2``.
    """
    if digits < 1:
        raise ValueError(f"digits must be >= 1, got {digits}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_numbers = 10**digits
    n_pairs = n_numbers * (n_numbers + 1) // 2
    if not 0 < n_samples <= n_pairs:
        raise ValueError(
            f"n_samples={n_samples} must be in 1..{n_pairs}, the number of distinct unordered pairs "
            f"of numbers with at most {digits} digits"
        )
    rng = np.random.RandomState(seed)
    maxlen = 2 * digits + 1
    randint = rng.randint

    def operand() -> int:
        value = 0
        for _ in range(randint(1, digits + 1)):
            value = 10 * value + int(randint(0, 10))
        return value

    seen: set[tuple[int, int]] = set()
    questions: list[str] = []
    answers: list[str] = []
    while len(questions) < n_samples:
        a, b = operand(), operand()
        key = (a, b) if a <= b else (b, a)
        if key in seen:
            continue
        seen.add(key)
        questions.append(f"{a}+{b}".ljust(maxlen)[::-1])
        answers.append(str(a + b).ljust(digits + 1))

    lookup = np.full(128, -1, dtype=np.int64)
    lookup[[ord(c) for c in ADDING_CHARS]] = np.arange(len(ADDING_CHARS))
    x = lookup[np.frombuffer("".join(questions).encode("ascii"), dtype=np.uint8)].reshape(n_samples, maxlen)
    y = lookup[np.frombuffer("".join(answers).encode("ascii"), dtype=np.uint8)].reshape(n_samples, digits + 1)

    indices = np.arange(n_samples)
    rng.shuffle(indices)
    x, y = x[indices], y[indices]
    split_at = n_samples - int(n_samples * val_fraction)
    return {"x_train": x[:split_at], "y_train": y[:split_at], "x_test": x[split_at:], "y_test": y[split_at:]}


def decode_adding(indices: np.ndarray) -> list[str]:
    """Turn rows of :data:`ADDING_CHARS` indices back into strings (for tests and debugging).

    ``(N, L)`` gives N strings and ``(L,)`` one; an ``(N, L, 12)`` array of one-hot vectors or
    probabilities is decoded by its argmax. Queries come back as stored, that is reversed.
    """
    arr = np.asarray(indices)
    if arr.ndim == 3:
        arr = arr.argmax(axis=-1)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"expected a 1-, 2- or 3-D array, got shape {arr.shape}")
    table = np.array(list(ADDING_CHARS))
    return ["".join(row) for row in table[arr.astype(np.int64)]]


# --------------------------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------------------------


def _is_url(location: str) -> bool:
    return urllib.parse.urlsplit(location).scheme.lower() in {"http", "https", "file"}


def candidate_sources(
    filenames: Sequence[str], canonical_urls: Sequence[str], mirror: str | None, subdir: str
) -> list[str]:
    """The locations to try for one data file, in try order.

    ``filenames`` are alternative names of the same file. With a ``mirror`` (a local directory, or
    an ``http(s)://`` or ``file://`` base URL) each name is looked for as ``mirror/name`` and then
    as ``mirror/subdir/name``; the canonical URLs are not tried. Without a mirror the result is
    ``canonical_urls``.
    """
    if not mirror:
        return [str(url) for url in canonical_urls]
    mirror = str(mirror)
    subdir = str(subdir).strip("/")
    out: list[str] = []
    for name in filenames:
        rels = [name] if not subdir else [name, f"{subdir}/{name}"]
        for rel in rels:
            if _is_url(mirror):
                out.append(mirror.rstrip("/") + "/" + urllib.parse.quote(rel))
            else:
                out.append(str(Path(mirror).expanduser() / rel))
    return out


def _copy_stream(src: IO[bytes], dst: IO[bytes]) -> int:
    total = 0
    while chunk := src.read(_CHUNK):
        dst.write(chunk)
        total += len(chunk)
    return total


def _fetch_one(location: str, tmp: Path, timeout: float) -> None:
    if not _is_url(location):
        with open(location, "rb") as src, open(tmp, "wb") as dst:
            _copy_stream(src, dst)
        return
    request = urllib.request.Request(location, headers={"User-Agent": "rnnrobust-data-fetch"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as dst:
        n_read = _copy_stream(response, dst)
        # http.client reports a connection closed early as a normal end of body, so check here.
        length = response.headers.get("Content-Length") if response.headers is not None else None
        if length is not None and length.strip().isdigit() and int(length) != n_read:
            raise DataError(f"incomplete download: got {n_read} bytes, Content-Length says {length}")


def fetch(candidates: Sequence[str], dest: Path, *, timeout: float = 60) -> str:
    """Copy or download the first candidate that works to ``dest``; return the candidate used.

    Candidates are local paths or ``http://``, ``https://`` or ``file://`` URLs, tried in order.
    Each attempt writes a temporary file beside ``dest`` and renames it into place only when the
    whole file arrived (a body shorter than its ``Content-Length`` counts as a failure), so
    ``dest`` is never left partial and an existing ``dest`` is untouched by a failed fetch. If no
    candidate works, :class:`DataError` lists every location tried with its error.
    """
    dest = Path(dest)
    errors: list[str] = []
    for location in candidates:
        try:
            with atomic_path(dest) as tmp:
                _fetch_one(str(location), tmp, timeout)
            return str(location)
        except (OSError, ValueError, http.client.HTTPException, DataError) as exc:
            errors.append(f"  {location}: {type(exc).__name__}: {exc}")
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()
    tried = "\n".join(errors) if errors else "  (no candidate locations)"
    raise DataError(
        f"could not fetch {dest.name} to {dest}; tried:\n{tried}\n"
        "Fix: set data_mirror: <dir or URL> in config.yaml or --config data_mirror=<dir or URL> "
        "(a directory or base URL holding the file, directly or in its subfolder)."
    )


# --------------------------------------------------------------------------------------------
# Digests and MNIST
# --------------------------------------------------------------------------------------------


def _is_gzip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == _GZIP_MAGIC
    except OSError as exc:
        raise _fail(f"{path}: cannot read: {exc}") from exc


def sha256_file(path: str | Path, *, gunzip: bool = False) -> str:
    """Hex SHA-256 of a file, streamed; with ``gunzip=True`` of its decompressed bytes.

    A missing file or a truncated or corrupt gzip stream raises :class:`DataError` naming the file.
    """
    path = Path(path)
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") if gunzip else open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        what = "decompress" if gunzip else "read"
        raise _fail(f"{path}: cannot {what}: {type(exc).__name__}: {exc}") from exc
    return digest.hexdigest()


def _read_maybe_gzip(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == _GZIP_MAGIC else raw
    except (OSError, EOFError, zlib.error) as exc:
        raise _fail(f"{path}: cannot read: {type(exc).__name__}: {exc}") from exc


_IDX_MAGICS = {0x00000803: 3, 0x00000801: 1}


def read_idx(path: str | Path) -> np.ndarray:
    """Read a gzip-compressed or plain IDX file of unsigned bytes into a uint8 array.

    Accepts the two MNIST kinds: magic ``0x00000803`` (images, dims ``N, rows, cols``) and
    ``0x00000801`` (labels, dim ``N``); dims are big-endian int32. The magic, the dims and the
    exact file length are checked; any mismatch raises :class:`DataError` naming the file.
    """
    path = Path(path)
    data = _read_maybe_gzip(path)
    if len(data) < 4:
        raise _fail(f"{path}: not an IDX file: only {len(data)} bytes")
    (magic,) = struct.unpack(">I", data[:4])
    if magic not in _IDX_MAGICS:
        raise _fail(f"{path}: bad IDX magic 0x{magic:08x}; expected 0x00000803 (images) or 0x00000801 (labels)")
    ndim = _IDX_MAGICS[magic]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _fail(f"{path}: IDX header truncated: {len(data)} bytes, need {header}")
    dims = struct.unpack(f">{ndim}i", data[4:header])
    if any(d < 0 for d in dims) or (ndim == 3 and (dims[1] == 0 or dims[2] == 0)):
        raise _fail(f"{path}: bad IDX dims {dims}")
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise _fail(
            f"{path}: IDX length mismatch: dims {dims} need {expected} bytes, file has {len(data)} "
            f"({'truncated' if len(data) < expected else 'trailing bytes'})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def verify_mnist(files: Mapping[str, Path], expected_sha256: Mapping[str, str]) -> None:
    """Check the SHA-256 of the decompressed bytes of each MNIST file.

    ``files`` and ``expected_sha256`` are keyed by the canonical base names (:data:`MNIST_NAMES`,
    without ``.gz``); a file may be gzip-compressed or plain (detected by its magic bytes). Every
    file is checked, then one :class:`DataError` lists each bad file with its expected and actual
    digest and how to set ``data_mirror``.
    """
    missing = [n for n in MNIST_NAMES if n not in files or n not in expected_sha256]
    if missing:
        raise _fail(f"MNIST: no file or no expected sha256 given for {missing}")
    problems: list[str] = []
    for name in MNIST_NAMES:
        path = Path(files[name])
        expected = str(expected_sha256[name]).strip().lower()
        try:
            actual = sha256_file(path, gunzip=_is_gzip(path))
        except DataError as exc:
            first_line = str(exc).splitlines()[0]
            problems.append(f"{path}: expected sha256 {expected} (decompressed), actual: unreadable ({first_line})")
            continue
        if actual != expected:
            problems.append(f"{path}: expected sha256 {expected} (decompressed), actual sha256 {actual}")
    if problems:
        raise _fail("MNIST verification failed:\n  " + "\n  ".join(problems))


def prepare_mnist(files: Mapping[str, Path], expected_sha256: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Verify the four MNIST files (:func:`verify_mnist`), then read them.

    Returns ``x_train`` and ``x_test`` as uint8 ``(N, 28, 28)`` raw pixels (0 background, 255 ink)
    and ``y_train``, ``y_test`` as int64 labels 0–9. Pixels are **not** scaled here: training
    divides by 255 at load time, as ``examples/mnist_irnn.py`` does (protocol §1.3), which keeps
    the prepared file four times smaller than float32.
    """
    verify_mnist(files, expected_sha256)
    out: dict[str, np.ndarray] = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(files[f"{prefix}-images-idx3-ubyte"])
        labels = read_idx(files[f"{prefix}-labels-idx1-ubyte"])
        img_path, lab_path = files[f"{prefix}-images-idx3-ubyte"], files[f"{prefix}-labels-idx1-ubyte"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise _fail(f"{img_path}: expected (N, 28, 28) images, got {images.shape}")
        if labels.ndim != 1:
            raise _fail(f"{lab_path}: expected (N,) labels, got {labels.shape}")
        if len(images) != len(labels):
            raise _fail(f"MNIST {split}: {len(images)} images in {img_path} but {len(labels)} labels in {lab_path}")
        if labels.size and labels.max() > 9:
            raise _fail(f"{lab_path}: label {int(labels.max())} outside 0..9")
        out[f"x_{split}"] = images
        out[f"y_{split}"] = labels.astype(np.int64)
    return out


# --------------------------------------------------------------------------------------------
# IMDB
# --------------------------------------------------------------------------------------------

_IMDB_LABELLED = re.compile(r"aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt")
_IMDB_FOLDERS = ("train/pos", "train/neg", "test/pos", "test/neg")


def _member_kind(member: tarfile.TarInfo) -> str | None:
    """Why a tar member is unsafe, or None if it is a plain file or directory with a safe path."""
    name = member.name
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "'..' path component"
    if member.issym():
        return f"symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"hard link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "device file"
    if member.isfifo():
        return "FIFO"
    if not (member.isfile() or member.isdir()):
        return f"unsupported member type {member.type!r}"
    return None


def _scan_imdb(tar_path: Path) -> tuple[dict[str, bytes], str]:
    """One pass over the tarball: check every member, collect the labelled reviews, compute the digest."""
    reviews: dict[str, bytes] = {}
    try:
        with tarfile.open(tar_path, mode="r|*") as tf:
            for member in tf:
                problem = _member_kind(member)
                if problem:
                    raise _fail(f"{tar_path}: unsafe tar member {member.name!r}: {problem}; refusing to read it")
                if not member.isfile():
                    continue
                rel = member.name[2:] if member.name.startswith("./") else member.name
                if not _IMDB_LABELLED.fullmatch(rel):
                    continue
                if rel in reviews:
                    raise _fail(f"{tar_path}: duplicate tar member {rel!r}")
                f = tf.extractfile(member)
                assert f is not None
                reviews[rel] = f.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _fail(f"{tar_path}: cannot read tar archive: {type(exc).__name__}: {exc}") from exc
    digest = hashlib.sha256()
    for rel in sorted(reviews):
        content = reviews[rel]
        digest.update(rel.encode("utf-8") + b"\0" + str(len(content)).encode("ascii") + b"\0")
        digest.update(content)
    return reviews, digest.hexdigest()


def imdb_digest(tar_path: str | Path) -> str:
    """Content digest of the labelled IMDB reviews in an ``aclImdb`` tarball.

    Definition: SHA-256 over the members whose path (a leading ``./`` removed) fully matches
    ``aclImdb/(train|test)/(pos|neg)/<id>_<rating>.txt``, taken in sorted order of that path
    (Python ``str`` order), each contributing ``path.encode('utf-8') + b'\\0' +
    str(len(content)).encode() + b'\\0' + content``. Everything else (``train/unsup/``,
    ``imdb.vocab``, the README, directories, member order, tar headers, compression) is ignored, so
    the official ``aclImdb_v1.tar.gz`` and the labelled-only tarball give the same digest.

    Like :func:`read_imdb`, it rejects an archive with an unsafe member.
    """
    return _scan_imdb(Path(tar_path))[1]


def read_imdb(tar_path: str | Path, expected_digest: str | None) -> dict[str, tuple[list[str], np.ndarray]]:
    """Read the labelled IMDB reviews from an ``aclImdb`` tarball, without extracting it.

    Every member is checked before anything is used: absolute paths, ``..`` components, symbolic
    and hard links, devices, FIFOs and other special members raise :class:`DataError`. The
    :func:`imdb_digest` is computed in the same pass and compared with ``expected_digest`` (skipped
    when it is None). Each of ``train/pos``, ``train/neg``, ``test/pos`` and ``test/neg`` must be
    non-empty and every review must be UTF-8.

    Returns ``{'train': (texts, labels), 'test': (texts, labels)}``, labels int64 with pos = 1 and
    neg = 0, in sorted path order within each split (so neg before pos; shuffling comes later).
    """
    tar_path = Path(tar_path)
    reviews, actual = _scan_imdb(tar_path)
    if expected_digest is not None and actual != expected_digest.strip().lower():
        raise _fail(
            f"{tar_path}: IMDB content digest mismatch: expected {expected_digest.strip().lower()}, "
            f"actual {actual} (see rnnrobust.data.imdb_digest for the definition)"
        )
    counts = Counter("/".join(rel.split("/")[1:3]) for rel in reviews)
    empty = [folder for folder in _IMDB_FOLDERS if counts[folder] == 0]
    if empty:
        raise _fail(f"{tar_path}: no reviews in aclImdb/{', aclImdb/'.join(empty)}")
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for split in ("train", "test"):
        texts: list[str] = []
        labels: list[int] = []
        for rel in sorted(r for r in reviews if r.split("/")[1] == split):
            try:
                texts.append(reviews[rel].decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise _fail(f"{tar_path}: member {rel!r} is not UTF-8: {exc}") from exc
            labels.append(1 if rel.split("/")[2] == "pos" else 0)
        out[split] = (texts, np.asarray(labels, dtype=np.int64))
    return out


_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Split a review into lowercase tokens.

    HTML line breaks (``<br />``, also ``<br>`` and ``<br/>``) become spaces. A token is either a
    word, a run of Unicode letters, digits and underscores with inner apostrophes kept
    (``don't``, ``rock'n'roll``), or any other single non-space character (``.``, ``!``, ``"``, a
    leading or trailing ``'``). Regex: ``\\w+(?:'\\w+)*|[^\\w\\s]`` on the lowercased text.
    """
    return _TOKEN.findall(_BREAK.sub(" ", text.lower()))


def build_word_index(train_texts_tokens: Iterable[Sequence[str]]) -> dict[str, int]:
    """Rank the training tokens: 1 = most frequent, ties broken alphabetically (deterministic).

    Same convention as Keras' ``imdb.get_word_index()`` (ranks, before ``index_from``).
    """
    counts: Counter[str] = Counter()
    for tokens in train_texts_tokens:
        counts.update(tokens)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {word: rank for rank, (word, _) in enumerate(ranked, start=1)}


def encode_imdb(
    tokens_list: Iterable[Sequence[str]],
    word_index: Mapping[str, int],
    *,
    num_words: int | None = 20000,
    maxlen: int | None = 80,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
) -> np.ndarray:
    """Encode tokenised reviews as Keras ``imdb.load_data`` + ``pad_sequences`` do (protocol §1.2).

    Word id = rank + ``index_from``; ``start_char`` is prepended; every id ``>= num_words`` (and
    every token absent from ``word_index``) becomes ``oov_char``, or is dropped when ``oov_char`` is
    None. Then ``pad_sequences(maxlen=maxlen)`` with its defaults: ``padding='pre'``,
    ``truncating='pre'`` (the **last** ``maxlen`` ids are kept), pad value 0, int32. With
    ``maxlen=None`` the longest sequence sets the width.
    """
    unknown = num_words if num_words is not None else -1  # any id that maps to OOV
    seqs: list[list[int]] = []
    for tokens in tokens_list:
        # With a 1:1 OOV mapping only the last maxlen tokens can survive 'pre' truncation.
        tail = tokens[-maxlen:] if (maxlen is not None and oov_char is not None and maxlen > 0) else tokens
        ids = [word_index[t] + index_from if t in word_index else unknown for t in tail]
        if start_char is not None:
            ids.insert(0, start_char)
        if num_words is not None:
            if oov_char is not None:
                ids = [w if w < num_words else oov_char for w in ids]
            else:
                ids = [w for w in ids if 0 <= w < num_words]
        elif oov_char is not None:
            ids = [oov_char if w == unknown else w for w in ids]
        else:
            ids = [w for w in ids if w != unknown]
        seqs.append(ids)
    width = maxlen if maxlen is not None else max((len(s) for s in seqs), default=0)
    out = np.zeros((len(seqs), width), dtype=np.int32)
    for i, ids in enumerate(seqs):
        kept = ids[-width:] if width else []
        if kept:
            out[i, width - len(kept) :] = kept
    return out


def prepare_imdb(
    tar_path: str | Path,
    expected_digest: str | None,
    *,
    num_words: int = 20000,
    maxlen: int = 80,
    start_char: int = 1,
    oov_char: int = 2,
    index_from: int = 3,
    shuffle_seed: int = 113,
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Read, tokenise, index, encode and shuffle the IMDB reviews.

    :func:`read_imdb`, then :func:`tokenize`; the word index is built from the **training** reviews
    only (:func:`build_word_index`); both splits are encoded with :func:`encode_imdb`. As Keras
    ``imdb.load_data`` does, one ``np.random.RandomState(shuffle_seed)`` shuffles the training set
    and then, continuing the same stream, the test set.

    Returns ``({'x_train', 'y_train', 'x_test', 'y_test'}, word_index)``: x int32
    ``(N, maxlen)``, y int64 0/1, and the rank of each training token (before ``index_from``).
    """
    splits = read_imdb(tar_path, expected_digest)
    train_tokens = [tokenize(t) for t in splits["train"][0]]
    word_index = build_word_index(train_tokens)
    rng = np.random.RandomState(shuffle_seed)
    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        # The test reviews are tokenised lazily, so only one split's tokens are held at a time.
        tokens = train_tokens if split == "train" else (tokenize(t) for t in splits["test"][0])
        x = encode_imdb(
            tokens,
            word_index,
            num_words=num_words,
            maxlen=maxlen,
            start_char=start_char,
            oov_char=oov_char,
            index_from=index_from,
        )
        if split == "train":
            del train_tokens
        y = splits[split][1]
        indices = np.arange(len(x))
        rng.shuffle(indices)
        arrays[f"x_{split}"] = x[indices]
        arrays[f"y_{split}"] = y[indices]
    return arrays, word_index


# --------------------------------------------------------------------------------------------
# Prepared files
# --------------------------------------------------------------------------------------------


def save_prepared(out_dir: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write ``out_dir/data.npz`` (uncompressed, no pickles) and ``out_dir/meta.json`` (``meta`` plus
    each array's shape and dtype), each atomically."""
    out_dir = Path(out_dir)
    for key, arr in arrays.items():
        if np.asarray(arr).dtype.hasobject:
            raise ValueError(f"array {key!r} has dtype object; it could not be loaded without pickles")
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    save_npz(out_dir / "data.npz", arrays)
    shapes = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()}
    write_json(out_dir / "meta.json", {**meta, "arrays": shapes})


def load_prepared(path: str | Path) -> dict[str, np.ndarray]:
    """Load a ``data.npz`` written by :func:`save_prepared` (``allow_pickle=False``)."""
    try:
        return load_npz(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{path}: cannot load prepared data: {type(exc).__name__}: {exc}\n"
            "Fix: delete it so that the workflow prepares it again."
        ) from exc
