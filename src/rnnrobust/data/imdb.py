"""Task 2, IMDB: the raw Large Movie Review Dataset (``aclImdb``), read straight from its tarball (protocol §1.2).

The labelled reviews are checked by a content digest, tokenised as the text behind Keras'
preprocessed ``imdb.npz`` was, and encoded with the Keras ``imdb.load_data`` conventions.

Tokenisation (:func:`tokenize`), matched to Keras' reviews (protocol §1.2, §5.1): lowercase; every
HTML line break (``<br />``, ``<br/>``, ``<br>``, any case) becomes the word ``br``, as in Keras'
word index, where ``br`` is rank 7; every other character that is not a letter or a digit
separates words and is dropped (``fly-fishing`` gives ``fly fishing``, ``10/10`` gives ``10 10``),
except an apostrophe between two letters or digits, which stays inside the word (``don't``,
``everyone's``, ``80's``); a leading or trailing apostrophe or quote is dropped. Digits are words.
The first two Keras training reviews, as decoded with ``imdb.get_word_index()``, are our
``train/pos/576_10.txt`` and ``train/neg/10654_1.txt``, tokenised word for word by this rule.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from rnnrobust.data.archive import unsafe_member
from rnnrobust.data.fetch import DataError, data_error

__all__ = [
    "IMDB_ARCHIVES",
    "build_word_index",
    "encode_imdb",
    "imdb_digest",
    "prepare_imdb",
    "read_imdb",
    "tokenize",
    "verify_imdb",
]

#: Accepted names of the IMDB tarball, in try order: the official archive and a labelled-only copy
#: (same ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` members, hence the same digest).
IMDB_ARCHIVES: tuple[str, ...] = ("aclImdb_v1.tar.gz", "aclImdb_labeled.tar.gz")

_IMDB_LABELLED = re.compile(r"aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt")
_IMDB_FOLDERS = ("train/pos", "train/neg", "test/pos", "test/neg")


def _scan_imdb(tar_path: Path) -> tuple[dict[str, bytes], str]:
    """One pass over the tarball: check every member, collect the labelled reviews, compute the digest."""
    reviews: dict[str, bytes] = {}
    try:
        with tarfile.open(tar_path, mode="r|*") as tf:
            for member in tf:
                problem = unsafe_member(member)
                if problem:
                    raise data_error(f"{tar_path}: unsafe tar member {member.name!r}: {problem}; refusing to read it")
                if not member.isfile():
                    continue
                rel = member.name[2:] if member.name.startswith("./") else member.name
                if not _IMDB_LABELLED.fullmatch(rel):
                    continue
                if rel in reviews:
                    raise data_error(f"{tar_path}: duplicate tar member {rel!r}")
                f = tf.extractfile(member)
                assert f is not None
                reviews[rel] = f.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise data_error(f"{tar_path}: cannot read tar archive: {type(exc).__name__}: {exc}") from exc
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


def _check_digest(tar_path: Path, expected_digest: str, actual: str, source: str | None = None) -> None:
    expected = expected_digest.strip().lower()
    if actual != expected:
        where = f"{tar_path} (from {source})" if source else str(tar_path)
        raise data_error(
            f"{where}: IMDB content digest mismatch: expected {expected}, actual {actual} "
            "(see rnnrobust.data.imdb.imdb_digest for the definition)",
            [source] if source else [],
        )


def verify_imdb(tar_path: str | Path, expected_digest: str, *, source: str | None = None) -> str:
    """Check the :func:`imdb_digest` of a tarball against ``expected_digest``; return the digest.

    ``source`` is the location the tarball was just fetched from, if it was: it is named in the
    message and chooses its "Fix:" line (:func:`~rnnrobust.data.fetch.fix_hint`). Like
    :func:`read_imdb`, it rejects an archive with an unsafe member.
    """
    tar_path = Path(tar_path)
    try:
        actual = imdb_digest(tar_path)
    except DataError as exc:
        if source is None:
            raise
        # An unreadable or unsafe archive from a mirror needs the mirror's fix, not "delete it".
        raise data_error(f"{str(exc).splitlines()[0]} (from {source})", [source]) from exc
    _check_digest(tar_path, expected_digest, actual, source)
    return actual


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
    if expected_digest is not None:
        _check_digest(tar_path, expected_digest, actual)
    counts = Counter("/".join(rel.split("/")[1:3]) for rel in reviews)
    empty = [folder for folder in _IMDB_FOLDERS if counts[folder] == 0]
    if empty:
        raise data_error(f"{tar_path}: no reviews in aclImdb/{', aclImdb/'.join(empty)}")
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for split in ("train", "test"):
        texts: list[str] = []
        labels: list[int] = []
        for rel in sorted(r for r in reviews if r.split("/")[1] == split):
            try:
                texts.append(reviews[rel].decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise data_error(f"{tar_path}: member {rel!r} is not UTF-8: {exc}") from exc
            labels.append(1 if rel.split("/")[2] == "pos" else 0)
        out[split] = (texts, np.asarray(labels, dtype=np.int64))
    return out


_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """Split a review into lowercase words, as Keras' preprocessed IMDB reviews are.

    HTML line breaks (``<br />``, also ``<br>`` and ``<br/>``, any case) become the word ``br``. A
    word is a run of Unicode letters and digits, with apostrophes kept between two of them
    (``don't``, ``rock'n'roll``, ``80's``). Everything else, punctuation, underscores and leading
    or trailing apostrophes included, separates words and is dropped. Regex:
    ``[^\\W_]+(?:'[^\\W_]+)*`` on the lowercased text, after the line breaks are replaced.
    """
    return _WORD.findall(_BREAK.sub(" br ", text.lower()))


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
