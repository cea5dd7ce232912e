"""Task 1, adding two numbers: a seeded re-implementation of Keras ``examples/addition_rnn.py`` (protocol §1.1)."""

from __future__ import annotations

import numpy as np

__all__ = ["ADDING_CHARS", "decode_adding", "generate_adding"]

#: The 12 symbols of the adding task, ordered as Keras' ``CharacterTable`` orders them
#: (``sorted(set('0123456789+ '))``): index 0 is the padding space.
ADDING_CHARS: str = "".join(sorted("0123456789+ "))


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
    _check_sizes(n_samples, digits, val_fraction)
    rng = np.random.RandomState(seed)
    questions, answers = _draw_sums(rng, n_samples, digits)
    x = _encode(questions, 2 * digits + 1)
    y = _encode(answers, digits + 1)

    indices = np.arange(n_samples)
    rng.shuffle(indices)
    x, y = x[indices], y[indices]
    split_at = train_size(n_samples, val_fraction)
    return {"x_train": x[:split_at], "y_train": y[:split_at], "x_test": x[split_at:], "y_test": y[split_at:]}


def _check_sizes(n_samples: int, digits: int, val_fraction: float) -> None:
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


def _draw_sums(rng: np.random.RandomState, n_samples: int, digits: int) -> tuple[list[str], list[str]]:
    """Padded, reversed queries and padded answers of distinct unordered pairs, in the Keras example's stream."""
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
    return questions, answers


def _encode(strings: list[str], width: int) -> np.ndarray:
    """Equal-width strings as int64 indices into :data:`ADDING_CHARS`, one row per string."""
    lookup = np.full(128, -1, dtype=np.int64)
    lookup[[ord(c) for c in ADDING_CHARS]] = np.arange(len(ADDING_CHARS))
    return lookup[np.frombuffer("".join(strings).encode("ascii"), dtype=np.uint8)].reshape(len(strings), width)


def train_size(n_samples: int, val_fraction: float) -> int:
    """Questions in the training split: all but the last ``int(n_samples · val_fraction)``.

    >>> train_size(50000, 0.1)
    45000
    """
    return int(n_samples) - int(int(n_samples) * float(val_fraction))


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
