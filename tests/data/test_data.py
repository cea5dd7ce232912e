"""Tests for rnnrobust.data: the adding generator, MNIST IDX, IMDB tarball, encoding, fetching and the mirror check."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import socket
import tarfile
from pathlib import Path

import numpy as np
import pytest
from fixtures import (
    idx_bytes,
    imdb_fixture_members,
    imdb_fixture_reviews,
    mnist_fixture_arrays,
    write_bytes_atomic,
    write_fixture_mirror,
    write_imdb_fixture,
    write_mnist_fixture,
    write_tar_gz,
)

from rnnrobust.data.adding import ADDING_CHARS, decode_adding, generate_adding
from rnnrobust.data.fetch import DataError, candidate_sources, fetch, fix_hint, sha256_file
from rnnrobust.data.imdb import (
    IMDB_ARCHIVES,
    build_word_index,
    encode_imdb,
    imdb_digest,
    prepare_imdb,
    read_imdb,
    tokenize,
    verify_imdb,
)
from rnnrobust.data.mirror import check_mirror
from rnnrobust.data.mnist import MNIST_FILES, MNIST_NAMES, prepare_mnist, read_idx, verify_mnist
from rnnrobust.io import load_prepared, save_prepared
from rnnrobust.layout import TASKS

# ---------------------------------------------------------------------------------------------
# Adding task
# ---------------------------------------------------------------------------------------------


def _parse_adding(out: dict[str, np.ndarray], digits: int) -> list[tuple[int, int, str, str]]:
    rows = []
    for xs, ys in (("x_train", "y_train"), ("x_test", "y_test")):
        for q, a in zip(decode_adding(out[xs]), decode_adding(out[ys]), strict=True):
            rows.append((q, a))
    parsed = []
    for q, a in rows:
        forward = q[::-1]
        m = re.fullmatch(r"(\d+)\+(\d+) *", forward)
        assert m, f"query {q!r} is not a reversed, right-padded 'a+b'"
        assert len(forward) == 2 * digits + 1 and len(a) == digits + 1
        parsed.append((int(m.group(1)), int(m.group(2)), forward, a))
    return parsed


def test_adding_chars_match_keras_character_table():
    assert ADDING_CHARS == " +0123456789"


def test_adding_default_is_paper_split_45000_5000():
    out = generate_adding()
    assert out["x_train"].shape == (45000, 7) and out["y_train"].shape == (45000, 4)
    assert out["x_test"].shape == (5000, 7) and out["y_test"].shape == (5000, 4)
    for arr in out.values():
        assert arr.dtype == np.int64 and arr.min() >= 0 and arr.max() < 12


@pytest.mark.parametrize(("n", "frac", "n_test"), [(1000, 0.25, 250), (999, 0.1, 99), (50, 0.0, 0)])
def test_adding_split_sizes(n, frac, n_test):
    out = generate_adding(n, digits=2, val_fraction=frac, seed=1)
    assert len(out["x_train"]) == len(out["y_train"]) == n - n_test
    assert len(out["x_test"]) == len(out["y_test"]) == n_test
    assert out["x_train"].shape[1] == 5 and out["y_train"].shape[1] == 3


def test_adding_answers_are_sums_of_reversed_queries():
    parsed = _parse_adding(generate_adding(3000, digits=3, seed=0), digits=3)
    for a, b, forward, answer in parsed:
        assert forward == f"{a}+{b}".ljust(7)
        assert answer == str(a + b).ljust(4)
    assert max(max(a, b) for a, b, _, _ in parsed) > 99  # three-digit operands occur


def test_adding_has_no_unordered_duplicates():
    parsed = _parse_adding(generate_adding(3000, digits=3, seed=0), digits=3)
    assert len({tuple(sorted((a, b))) for a, b, _, _ in parsed}) == 3000


def test_adding_is_deterministic_per_seed():
    a, b, c = (generate_adding(500, seed=s) for s in (7, 7, 8))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["x_train"], c["x_train"])


def _keras_addition_reference(n, digits, seed):
    """The addition_rnn.py generation loop, written with rng.choice like the example."""
    rng = np.random.RandomState(seed)
    questions, expected, seen = [], [], set()
    maxlen = digits + 1 + digits
    while len(questions) < n:

        def f():
            return int("".join(rng.choice(list("0123456789")) for _ in range(rng.randint(1, digits + 1))))

        a, b = f(), f()
        key = tuple(sorted((a, b)))
        if key in seen:
            continue
        seen.add(key)
        q = f"{a}+{b}"
        questions.append((q + " " * (maxlen - len(q)))[::-1])
        ans = str(a + b)
        expected.append(ans + " " * (digits + 1 - len(ans)))
    indices = np.arange(len(expected))
    rng.shuffle(indices)
    questions = [questions[i] for i in indices]
    expected = [expected[i] for i in indices]
    split_at = n - n // 10
    return questions[:split_at], expected[:split_at], questions[split_at:], expected[split_at:]


def test_adding_matches_keras_random_stream():
    out = generate_adding(400, digits=3, seed=5)
    qt, et, qv, ev = _keras_addition_reference(400, 3, 5)
    assert decode_adding(out["x_train"]) == qt and decode_adding(out["y_train"]) == et
    assert decode_adding(out["x_test"]) == qv and decode_adding(out["y_test"]) == ev


def test_adding_rejects_more_samples_than_pairs():
    with pytest.raises(ValueError, match="55"):
        generate_adding(56, digits=1)
    parsed = _parse_adding(generate_adding(55, digits=1, seed=0), digits=1)
    all_pairs = {(a, b) for a in range(10) for b in range(a, 10)}
    assert {tuple(sorted((a, b))) for a, b, _, _ in parsed} == all_pairs


def test_decode_adding_accepts_one_hot_and_single_rows():
    x = generate_adding(20, seed=0)["x_train"]
    one_hot = np.eye(12)[x]
    assert decode_adding(one_hot) == decode_adding(x)
    assert decode_adding(x[0]) == decode_adding(x)[:1]


# ---------------------------------------------------------------------------------------------
# IDX and MNIST
# ---------------------------------------------------------------------------------------------


def test_idx_round_trip_plain_and_gzip(tmp_path):
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, size=(7, 28, 28)).astype(np.uint8)
    labels = rng.randint(0, 10, size=7).astype(np.uint8)
    for arr, name in ((images, "img"), (labels, "lab")):
        raw = idx_bytes(arr)
        (tmp_path / name).write_bytes(raw)
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(raw))
        for path in (tmp_path / name, tmp_path / f"{name}.gz"):
            back = read_idx(path)
            assert back.dtype == np.uint8
            np.testing.assert_array_equal(back, arr)


@pytest.mark.parametrize("damage", ["bad_magic", "truncated", "trailing", "short_header", "truncated_gzip"])
def test_idx_damage_raises_naming_file(tmp_path, damage):
    raw = idx_bytes(np.zeros((3, 28, 28), np.uint8))
    path = tmp_path / f"damaged-{damage}"
    if damage == "bad_magic":
        raw = b"\x00\x00\x08\x04" + raw[4:]
    elif damage == "truncated":
        raw = raw[:-5]
    elif damage == "trailing":
        raw = raw + b"\x00"
    elif damage == "short_header":
        raw = raw[:10]
    else:
        raw = gzip.compress(raw)[:-20]
    path.write_bytes(raw)
    with pytest.raises(DataError, match=re.escape(str(path))):
        read_idx(path)


@pytest.fixture
def mnist_dir(tmp_path):
    expected = write_mnist_fixture(tmp_path / "mnist")
    files = {name: tmp_path / "mnist" / f"{name}.gz" for name in MNIST_NAMES}
    return files, expected


def test_prepare_mnist_reads_fixture(mnist_dir):
    files, expected = mnist_dir
    out = prepare_mnist(files, expected)
    ref = mnist_fixture_arrays()
    assert out["x_train"].shape == (200, 28, 28) and out["x_test"].shape == (100, 28, 28)
    assert out["x_train"].dtype == np.uint8 and out["y_train"].dtype == np.int64
    np.testing.assert_array_equal(out["x_train"], ref["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(out["y_test"], ref["t10k-labels-idx1-ubyte"])
    assert set(out["y_train"].tolist()) == set(range(10)) == set(out["y_test"].tolist())


def test_sha256_file_gunzip_hashes_decompressed_bytes(mnist_dir):
    files, expected = mnist_dir
    path = files["train-labels-idx1-ubyte"]
    assert sha256_file(path, gunzip=True) == expected["train-labels-idx1-ubyte"]
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_mnist_error(files, expected, name, actual):
    with pytest.raises(DataError) as info:
        verify_mnist(files, expected)
    msg = str(info.value)
    assert str(files[name]) in msg
    assert expected[name] in msg
    if actual is not None:
        assert actual in msg
    assert "data_mirror" in msg
    with pytest.raises(DataError):
        prepare_mnist(files, expected)


def test_mnist_mismatching_file_names_file_and_both_digests(mnist_dir, tmp_path):
    files, expected = mnist_dir
    other = write_mnist_fixture(tmp_path / "other", seed=1)
    name = "t10k-images-idx3-ubyte"
    files[name].write_bytes((tmp_path / "other" / f"{name}.gz").read_bytes())
    _assert_mnist_error(files, expected, name, other[name])


def test_mnist_corrupt_content_names_file_and_both_digests(mnist_dir):
    files, expected = mnist_dir
    name = "train-images-idx3-ubyte"
    raw = bytearray(gzip.decompress(files[name].read_bytes()))
    raw[1000] ^= 0xFF
    files[name].write_bytes(gzip.compress(bytes(raw)))
    _assert_mnist_error(files, expected, name, hashlib.sha256(bytes(raw)).hexdigest())


def test_mnist_truncated_gzip_names_file(mnist_dir):
    files, expected = mnist_dir
    name = "train-labels-idx1-ubyte"
    files[name].write_bytes(files[name].read_bytes()[:-12])
    _assert_mnist_error(files, expected, name, None)


def test_mnist_damaged_gzip_stream_names_file(mnist_dir):
    files, expected = mnist_dir
    name = "t10k-images-idx3-ubyte"
    blob = bytearray(files[name].read_bytes())
    for i in range(40, 60):
        blob[i] ^= 0x55
    files[name].write_bytes(bytes(blob))
    _assert_mnist_error(files, expected, name, None)


def test_mnist_missing_file_is_data_error(mnist_dir):
    files, expected = mnist_dir
    files["t10k-labels-idx1-ubyte"].unlink()
    _assert_mnist_error(files, expected, "t10k-labels-idx1-ubyte", None)


def test_mnist_image_label_count_mismatch(tmp_path):
    write_mnist_fixture(tmp_path / "a", n_train=200)
    write_mnist_fixture(tmp_path / "b", n_train=210)
    files = {name: tmp_path / "a" / f"{name}.gz" for name in MNIST_NAMES}
    files["train-labels-idx1-ubyte"] = tmp_path / "b" / "train-labels-idx1-ubyte.gz"
    expected = {name: sha256_file(p, gunzip=True) for name, p in files.items()}
    with pytest.raises(DataError, match=r"200 images.*210 labels"):
        prepare_mnist(files, expected)


# ---------------------------------------------------------------------------------------------
# IMDB tarball
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def imdb_tar(tmp_path):
    path = tmp_path / "aclImdb_labeled.tar.gz"
    return path, write_imdb_fixture(path, n_per_folder=10)


def test_read_imdb_fixture_sorted_with_labels(imdb_tar):
    path, digest = imdb_tar
    out = read_imdb(path, digest)
    reviews = imdb_fixture_reviews(n_per_folder=10)
    for split in ("train", "test"):
        texts, labels = out[split]
        names = sorted(r for r in reviews if r.startswith(f"aclImdb/{split}/"))
        assert texts == [reviews[n].decode("utf-8") for n in names]
        assert labels.dtype == np.int64
        assert labels.tolist() == [1 if "/pos/" in n else 0 for n in names]
        assert labels.tolist() == [0] * 10 + [1] * 10  # neg sorts before pos


def test_imdb_digest_mismatch_names_file_and_both_digests(imdb_tar):
    path, digest = imdb_tar
    wrong = "0" * 64
    with pytest.raises(DataError) as info:
        read_imdb(path, wrong)
    msg = str(info.value)
    assert str(path) in msg and wrong in msg and digest in msg and "data_mirror" in msg


def test_imdb_digest_same_for_labeled_and_official_layout(tmp_path):
    labeled = write_imdb_fixture(tmp_path / "l.tar.gz", n_per_folder=12, seed=3, layout="labeled")
    official = write_imdb_fixture(tmp_path / "o.tar.gz", n_per_folder=12, seed=3, layout="official")
    assert labeled == official
    assert imdb_digest(tmp_path / "l.tar.gz") == imdb_digest(tmp_path / "o.tar.gz") == labeled
    with tarfile.open(tmp_path / "o.tar.gz") as tf:
        names = tf.getnames()
    assert any("/unsup/" in n for n in names) and "aclImdb/imdb.vocab" in names
    assert names != sorted(names)  # the digest must not depend on member order
    a, b = read_imdb(tmp_path / "l.tar.gz", labeled), read_imdb(tmp_path / "o.tar.gz", labeled)
    assert a["train"][0] == b["train"][0] and a["test"][1].tolist() == b["test"][1].tolist()
    assert write_imdb_fixture(tmp_path / "s.tar.gz", n_per_folder=12, seed=4) != labeled


def test_imdb_digest_covers_content_and_path(tmp_path):
    members = imdb_fixture_members(n_per_folder=3)
    target = next(n for n, _ in members if n.startswith("aclImdb/train/pos/1_"))
    changed = [(n, c + b" " if n == target else c) for n, c in members]
    renamed = [(n.replace("/train/pos/1_", "/train/pos/5_"), c) for n, c in members]
    for name, variant in (("a", members), ("b", changed), ("c", renamed)):
        write_tar_gz(tmp_path / f"{name}.tar.gz", variant)
    base = imdb_digest(tmp_path / "a.tar.gz")
    assert imdb_digest(tmp_path / "b.tar.gz") != base
    assert imdb_digest(tmp_path / "c.tar.gz") != base


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mtime = 0
    if kind == tarfile.CHRTYPE:
        info.devmajor, info.devminor = 1, 3
    return info


_UNSAFE = {  # kind: (member, words the error must contain)
    "dotdot": (("../evil.txt", b"owned"), "'..'"),
    "dotdot_inside": (("aclImdb/train/pos/../../../evil.txt", b"owned"), "'..'"),
    "absolute": (("/tmp/rnnrobust-evil.txt", b"owned"), "absolute path"),
    "symlink": (_special("aclImdb/train/pos/99_9.txt", tarfile.SYMTYPE, "/etc/passwd"), "symbolic link"),
    "hardlink": (
        _special("aclImdb/train/pos/98_9.txt", tarfile.LNKTYPE, "aclImdb/train/pos/0_8.txt"),
        "hard link",
    ),
    "fifo": (_special("aclImdb/fifo", tarfile.FIFOTYPE), "FIFO"),
    "device": (_special("aclImdb/null", tarfile.CHRTYPE), "device file"),
}


@pytest.mark.parametrize("kind", sorted(_UNSAFE))
def test_imdb_rejects_unsafe_members(tmp_path, kind):
    bad, reason = _UNSAFE[kind]
    path = tmp_path / "work" / "evil.tar.gz"
    members = imdb_fixture_members(n_per_folder=3)
    write_tar_gz(path, [*members[:5], bad, *members[5:]])
    with tarfile.open(path) as tf:  # the archive really holds the bad member as written
        assert (bad.name if isinstance(bad, tarfile.TarInfo) else bad[0]) in tf.getnames()
    for call in (lambda: read_imdb(path, None), lambda: imdb_digest(path)):
        with pytest.raises(DataError, match="unsafe tar member") as info:
            call()
        assert reason in str(info.value)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["evil.tar.gz"]
    assert not (tmp_path / "evil.txt").exists()


def test_imdb_requires_each_labelled_folder(tmp_path):
    members = [m for m in imdb_fixture_members(n_per_folder=3) if not m[0].startswith("aclImdb/test/neg/")]
    write_tar_gz(tmp_path / "x.tar.gz", members)
    with pytest.raises(DataError, match="test/neg"):
        read_imdb(tmp_path / "x.tar.gz", None)


def test_imdb_truncated_archive_names_file(imdb_tar):
    path, digest = imdb_tar
    path.write_bytes(path.read_bytes()[:-300])
    with pytest.raises(DataError, match=re.escape(str(path))):
        read_imdb(path, digest)


def test_imdb_rejects_non_utf8_review(tmp_path):
    members = imdb_fixture_members(n_per_folder=3)
    members = [(n, b"caf\xe9 bad" if n.endswith(".txt") and "/train/neg/0_" in n else c) for n, c in members]
    write_tar_gz(tmp_path / "x.tar.gz", members)
    with pytest.raises(DataError, match="UTF-8"):
        read_imdb(tmp_path / "x.tar.gz", None)


# ---------------------------------------------------------------------------------------------
# Tokenising and encoding
# ---------------------------------------------------------------------------------------------


def test_tokenize_words_only_like_keras():
    # Punctuation separates words and is dropped; inner apostrophes stay; digits are words.
    text = 'I LOVED it!<br /><br />Don\'t miss it... 10/10 (café) "Top_1"'
    assert tokenize(text) == [
        "i", "loved", "it", "br", "br", "don't", "miss", "it", "10", "10", "café", "top", "1",
    ]  # fmt: skip
    assert tokenize("brilliant,casting,location scenery,story,everyone's really suited") == [
        "brilliant", "casting", "location", "scenery", "story", "everyone's", "really", "suited",
    ]  # fmt: skip
    assert tokenize("the fly-fishing was 80's fun...in 1990-91; rock'n'roll!!") == [
        "the", "fly", "fishing", "was", "80's", "fun", "in", "1990", "91", "rock'n'roll",
    ]  # fmt: skip


def test_tokenize_apostrophes_and_quotes():
    # A leading or trailing apostrophe or quote is dropped; only one between two letters/digits stays.
    assert tokenize("'quoted' \"double\" `back` Lovers' Lane 'tis") == [
        "quoted", "double", "back", "lovers", "lane", "tis",
    ]  # fmt: skip
    assert tokenize("boy's part's it''s ' '' don\u2019t") == ["boy's", "part's", "it", "s", "don", "t"]
    assert tokenize("...!?,;:()[]{}-") == []


def test_tokenize_html_line_break_is_the_word_br():
    for brk in ("<br />", "<br/>", "<br>", "<BR />", "<Br>", "<br  />"):
        assert tokenize(f"end.{brk}{brk}Next") == ["end", "br", "br", "next"], brk
    assert tokenize("a<br />b<BR>c") == ["a", "br", "b", "br", "c"]
    assert tokenize("<i>x</i> <hr>") == ["i", "x", "i", "hr"]  # other tags are not special


def test_build_word_index_ranks_by_frequency_then_alphabet():
    index = build_word_index([["b", "a", "c", "a"], ["c", "b", "d", "e", "e", "e"]])
    assert index == {"e": 1, "a": 2, "b": 3, "c": 4, "d": 5}


_WI = {"the": 1, "movie": 2, "good": 3, "bad": 4, "rare": 10}


def test_encode_keras_conventions_hand_made():
    # ids = rank + 3: the=4 movie=5 good=6 bad=7 rare=13 -> oov (>= num_words=8); unknown -> oov
    x = encode_imdb(
        [
            ["good", "movie"],
            ["the", "movie", "rare", "bad", "good", "the", "zzz"],
            ["the", "the", "bad", "good"],
        ],
        _WI,
        num_words=8,
        maxlen=5,
    )
    assert x.dtype == np.int32 and x.shape == (3, 5)
    assert x[0].tolist() == [0, 0, 1, 6, 5]  # start_char, pre-padding with 0
    assert x[1].tolist() == [2, 7, 6, 4, 2]  # pre-truncating keeps the last 5 of [1,4,5,2,7,6,4,2]
    assert x[2].tolist() == [1, 4, 4, 7, 6]  # exactly maxlen with the start char


def _keras_encode_reference(tokens_list, wi, num_words, maxlen, start_char, oov_char, index_from):
    xs = [[wi.get(t, 10**9) for t in toks] for toks in tokens_list]
    if start_char is not None:
        xs = [[start_char] + [w + index_from for w in x] for x in xs]
    else:
        xs = [[w + index_from for w in x] for x in xs]
    if oov_char is not None:
        xs = [[w if w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if w < num_words] for x in xs]
    out = np.zeros((len(xs), maxlen), dtype=np.int32)
    for i, x in enumerate(xs):
        trunc = x[-maxlen:]
        if trunc:
            out[i, -len(trunc) :] = trunc
    return out


@pytest.mark.parametrize(
    ("num_words", "maxlen", "start_char", "oov_char", "index_from"),
    [(20, 6, 1, 2, 3), (12, 3, 1, 2, 3), (30, 10, None, 2, 0), (15, 4, 1, None, 3), (9, 1, 1, 2, 3)],
)
def test_encode_matches_keras_reference(num_words, maxlen, start_char, oov_char, index_from):
    rng = np.random.RandomState(0)
    vocab = [f"w{i}" for i in range(25)]
    wi = {w: i + 1 for i, w in enumerate(vocab[:20])}  # w20..w24 are unknown
    tokens_list = [[vocab[j] for j in rng.randint(0, 25, size=rng.randint(0, 15))] for _ in range(50)]
    got = encode_imdb(
        tokens_list,
        wi,
        num_words=num_words,
        maxlen=maxlen,
        start_char=start_char,
        oov_char=oov_char,
        index_from=index_from,
    )
    ref = _keras_encode_reference(tokens_list, wi, num_words, maxlen, start_char, oov_char, index_from)
    np.testing.assert_array_equal(got, ref)


def test_prepare_imdb_shuffles_like_keras(imdb_tar):
    path, digest = imdb_tar
    arrays, word_index = prepare_imdb(path, digest, num_words=30, maxlen=12)
    splits = read_imdb(path, digest)
    rng = np.random.RandomState(113)
    for split in ("train", "test"):
        texts, labels = splits[split]
        x = encode_imdb([tokenize(t) for t in texts], word_index, num_words=30, maxlen=12)
        perm = np.arange(len(x))
        rng.shuffle(perm)  # one stream: train first, then test
        np.testing.assert_array_equal(arrays[f"x_{split}"], x[perm])
        np.testing.assert_array_equal(arrays[f"y_{split}"], labels[perm])
        assert arrays[f"x_{split}"].dtype == np.int32 and arrays[f"y_{split}"].dtype == np.int64
        assert arrays[f"x_{split}"].shape == (20, 12)
    assert arrays["y_train"].tolist() != sorted(arrays["y_train"].tolist())


def test_prepare_imdb_word_index_from_training_set_only(tmp_path):
    members = [
        ("aclImdb/train/pos/0_9.txt", b"Good good film."),
        ("aclImdb/train/neg/0_1.txt", b"Bad film."),
        ("aclImdb/test/pos/0_9.txt", b"good zebra"),
        ("aclImdb/test/neg/0_1.txt", b"bad film"),
    ]
    write_tar_gz(tmp_path / "t.tar.gz", members)
    arrays, wi = prepare_imdb(tmp_path / "t.tar.gz", None, maxlen=4)
    assert wi == {"film": 1, "good": 2, "bad": 3}
    assert "zebra" not in wi
    rows = {tuple(r) for r in arrays["x_test"].tolist()}
    assert rows == {(0, 1, 2 + 3, 2), (0, 1, 3 + 3, 1 + 3)}


# ---------------------------------------------------------------------------------------------
# Prepared files
# ---------------------------------------------------------------------------------------------


def test_save_and_load_prepared(tmp_path):
    arrays = {"x_train": np.arange(12, dtype=np.int32).reshape(3, 4), "y_train": np.array([0, 1, 1])}
    save_prepared(tmp_path / "out", arrays, {"task": "imdb", "n": 3})
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["data.npz", "meta.json"]
    back = load_prepared(tmp_path / "out" / "data.npz")
    assert back.keys() == arrays.keys()
    for key in arrays:
        np.testing.assert_array_equal(back[key], arrays[key])
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta == {
        "task": "imdb",
        "n": 3,
        "arrays": {"x_train": {"shape": [3, 4], "dtype": "int32"}, "y_train": {"shape": [3], "dtype": "int64"}},
    }
    with pytest.raises(ValueError, match="object"):
        save_prepared(tmp_path / "bad", {"x": np.array([None, 1], dtype=object)}, {})
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=re.escape("junk.npz")):
        load_prepared(tmp_path / "junk.npz")


# ---------------------------------------------------------------------------------------------
# Sources and fetching
# ---------------------------------------------------------------------------------------------


def test_candidate_sources():
    urls = ["https://example.org/a.gz"]
    assert candidate_sources(["a.gz"], urls, None, "mnist") == urls
    assert candidate_sources(["a.gz"], urls, "", "mnist") == urls
    assert candidate_sources(["a.gz", "b.gz"], urls, "/m", "imdb") == [
        "/m/a.gz",
        "/m/imdb/a.gz",
        "/m/b.gz",
        "/m/imdb/b.gz",
    ]
    assert candidate_sources(["a.gz"], urls, "http://h:8/base/", "mnist") == [
        "http://h:8/base/a.gz",
        "http://h:8/base/mnist/a.gz",
    ]
    assert candidate_sources(["a.gz"], urls, "file:///srv/m", "x") == [
        "file:///srv/m/a.gz",
        "file:///srv/m/x/a.gz",
    ]


def _no_temp_files(folder: Path) -> bool:
    return not any(".tmp" in p.name for p in folder.iterdir())


def test_fetch_from_directory_mirror_both_layouts(tmp_path):
    mirror = tmp_path / "mirror"
    write_bytes_atomic(mirror / "top.bin", b"top")
    write_bytes_atomic(mirror / "mnist" / "nested.bin", b"nested")
    out = tmp_path / "out"
    for name, content in (("top.bin", b"top"), ("nested.bin", b"nested")):
        cands = candidate_sources([name], [], str(mirror), "mnist")
        used = fetch(cands, out / name)
        assert (out / name).read_bytes() == content
        assert used == (str(mirror / name) if name == "top.bin" else str(mirror / "mnist" / name))
    used = fetch(candidate_sources(["nested.bin"], [], mirror.as_uri(), "mnist"), out / "via-file-url")
    assert used == mirror.as_uri() + "/mnist/nested.bin"
    assert (out / "via-file-url").read_bytes() == b"nested"
    assert _no_temp_files(out)


def test_fetch_missing_everywhere_lists_tried_locations(tmp_path):
    cands = candidate_sources(["a.gz", "b.gz"], [], str(tmp_path / "nowhere"), "mnist")
    dest = tmp_path / "out" / "a.gz"
    with pytest.raises(DataError) as info:
        fetch(cands, dest)
    msg = str(info.value)
    assert len(cands) == 4 and all(c in msg for c in cands)
    assert "data_mirror" in msg
    assert not dest.exists()


def test_fetch_over_http_from_mirror(http_mirror, tmp_path):
    url, root, digests = http_mirror
    out = tmp_path / "dl"
    name = "train-labels-idx1-ubyte.gz"
    cands = candidate_sources([name], [], url, "mnist")
    assert fetch(cands, out / name, timeout=5) == f"{url}/mnist/{name}"  # after a 404 at url/name
    assert (out / name).read_bytes() == (root / "mnist" / name).read_bytes()
    assert sha256_file(out / name, gunzip=True) == digests["mnist_sha256"]["train-labels-idx1-ubyte"]
    tar = out / "aclImdb_labeled.tar.gz"
    fetch(candidate_sources([tar.name], [], url + "/", "imdb"), tar, timeout=5)
    assert imdb_digest(tar) == digests["imdb_digest"]
    assert _no_temp_files(out)


@pytest.mark.parametrize("remote", ["short.bin", "missing.bin"])
def test_fetch_failed_download_leaves_no_partial_file(http_mirror, tmp_path, remote):
    url, _, _ = http_mirror
    out = tmp_path / "dl"
    out.mkdir()
    dest = out / "file.bin"
    with pytest.raises(DataError) as info:
        fetch([f"{url}/{remote}"], dest, timeout=5)
    assert f"{url}/{remote}" in str(info.value)
    assert ("Content-Length" in str(info.value)) if remote == "short.bin" else ("404" in str(info.value))
    assert list(out.iterdir()) == []
    dest.write_bytes(b"old good copy")  # a failed fetch never clobbers an existing file
    with pytest.raises(DataError):
        fetch([f"{url}/{remote}"], dest, timeout=5)
    assert dest.read_bytes() == b"old good copy" and _no_temp_files(out)


def test_fetch_falls_back_after_a_broken_candidate(http_mirror, tmp_path):
    url, root, _ = http_mirror
    dest = tmp_path / "dl" / "x.gz"
    good = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    assert fetch([f"{url}/short.bin", str(good)], dest, timeout=5) == str(good)
    assert dest.read_bytes() == good.read_bytes()


def test_fixture_mirror_is_byte_deterministic(tmp_path):
    a = write_fixture_mirror(tmp_path / "a")
    b = write_fixture_mirror(tmp_path / "b")
    assert a == b
    for rel in [f"mnist/{n}.gz" for n in MNIST_NAMES] + ["imdb/aclImdb_labeled.tar.gz"]:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    files = {n: tmp_path / "a" / "mnist" / f"{n}.gz" for n in MNIST_NAMES}
    verify_mnist(files, a["mnist_sha256"])
    assert imdb_digest(tmp_path / "a" / "imdb" / "aclImdb_labeled.tar.gz") == a["imdb_digest"]


# ---------------------------------------------------------------------------------------------
# Checking data_mirror at parse time
# ---------------------------------------------------------------------------------------------


def _mirror_error(mirror: str, tasks=TASKS) -> str:
    with pytest.raises(DataError) as info:
        check_mirror(mirror, tasks)
    msg = str(info.value)
    assert "\n" not in msg and f"data_mirror = {mirror!r}" in msg
    return msg


def test_check_mirror_missing_directory(tmp_path):
    msg = _mirror_error(str(tmp_path / "nowhere"))
    assert "does not exist" in msg and "canonical URLs" in msg


def test_check_mirror_rejects_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    assert "not a directory" in _mirror_error(str(tmp_path / "file"))


def test_check_mirror_names_each_missing_file(tmp_path):
    write_fixture_mirror(tmp_path)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    msg = _mirror_error(str(tmp_path), ["mnist", "imdb"])
    assert "t10k-labels-idx1-ubyte.gz" in msg and "mnist/" in msg
    assert "train-images-idx3-ubyte.gz" not in msg and "aclImdb" not in msg
    (tmp_path / "imdb" / "aclImdb_labeled.tar.gz").unlink()
    msg = _mirror_error(str(tmp_path), ["imdb"])
    assert all(name in msg for name in IMDB_ARCHIVES) and "imdb/" in msg


def test_check_mirror_accepts_subfolder_layout(fixture_mirror):
    check_mirror(fixture_mirror.url, TASKS)
    check_mirror(fixture_mirror.root.as_uri(), ["imdb", "mnist"])  # a file:// URL is a local directory too


def test_check_mirror_accepts_files_directly_in_the_mirror(tmp_path):
    write_mnist_fixture(tmp_path)
    write_imdb_fixture(tmp_path / IMDB_ARCHIVES[0], n_per_folder=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*MNIST_FILES, IMDB_ARCHIVES[0]])
    check_mirror(str(tmp_path), ["mnist", "imdb"])


def test_check_mirror_adding_needs_nothing(tmp_path):
    check_mirror(str(tmp_path), ["adding"])
    check_mirror(str(tmp_path), [])
    msg = _mirror_error(str(tmp_path), ["adding", "mnist"])
    assert all(name in msg for name in MNIST_FILES)


def test_check_mirror_http_url_is_checked_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("check_mirror must not touch the network")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    for url in ("http://mirror.invalid/data", "https://127.0.0.1:8443/", "HTTP://h"):
        check_mirror(url, ["mnist", "imdb"])


@pytest.mark.parametrize(
    ("mirror", "words"),
    [
        ("ftp://x", "neither a local directory nor an http(s):// URL"),
        ("s3://bucket/data", "neither a local directory nor an http(s):// URL"),
        ("http://", "no host"),
        ("https:///data", "no host"),
        ("http://h:port/", "bad port"),
        ("", "empty"),
    ],
)
def test_check_mirror_rejects_bad_values(mirror, words):
    assert words in _mirror_error(mirror, ["mnist"])


# ---------------------------------------------------------------------------------------------
# The "Fix:" line of a bad file depends on where it came from
# ---------------------------------------------------------------------------------------------


def test_fix_hint_by_source(tmp_path):
    assert "delete" in fix_hint() and fix_hint() == fix_hint(["https://example.org/a.gz"])
    local = str(tmp_path / "mirror" / "a.gz")
    for source in (local, Path(local).as_uri()):
        hint = fix_hint([source])
        assert local in hint and "replace" in hint and "data_mirror" in hint
        assert not hint.startswith("Fix: delete")


def test_mnist_bad_file_from_mirror_says_replace_it_there(fixture_mirror, tmp_path):
    mirror = fixture_mirror.root
    expected = dict(fixture_mirror.digests["mnist_sha256"])
    bad = "t10k-images-idx3-ubyte"
    expected[bad] = "0" * 64
    cached, sources = {}, {}
    for name, filename in zip(MNIST_NAMES, MNIST_FILES, strict=True):
        cached[name] = tmp_path / "resources" / filename
        sources[name] = fetch(candidate_sources([filename], [], str(mirror), "mnist"), cached[name])
    with pytest.raises(DataError) as info:
        verify_mnist(cached, expected, sources)
    msg = str(info.value)
    assert str(mirror / "mnist" / f"{bad}.gz") in msg and "replace" in msg and "Fix: delete" not in msg
    assert "train-images" not in msg  # only the bad file is named
    with pytest.raises(DataError) as info:  # a file fetched from a URL, or cached: delete it
        verify_mnist(cached, expected, {name: f"https://example.org/{name}.gz" for name in cached})
    assert "Fix: delete" in str(info.value)


def test_imdb_bad_archive_from_mirror_says_replace_it_there(fixture_mirror, tmp_path):
    mirror = fixture_mirror.root
    digest = fixture_mirror.digests["imdb_digest"]
    source = str(mirror / "imdb" / "aclImdb_labeled.tar.gz")
    dest = tmp_path / "resources" / "aclImdb.tar.gz"
    assert fetch(candidate_sources(IMDB_ARCHIVES, [], str(mirror), "imdb"), dest) == source
    assert verify_imdb(dest, digest, source=source) == digest
    for wrong in ("0" * 64, None):
        if wrong is None:  # an unreadable archive: the mirror's fix too
            dest.write_bytes(dest.read_bytes()[:-300])
        with pytest.raises(DataError) as info:
            verify_imdb(dest, wrong or digest, source=source)
        msg = str(info.value)
        assert str(dest) in msg and source in msg and "replace" in msg and "Fix: delete" not in msg
    with pytest.raises(DataError, match="Fix: delete"):
        verify_imdb(dest, digest)
