"""rowsums: rows of different lengths summed at once give numpy's row sums (np.add.reduce along
the row) bit for bit, for every length 1..128 and entries >= 0; a negative entry or a -0.0 is
refused (None)."""

from __future__ import annotations

import numpy as np

from controller.core.rowsums import PAIRWISE_BLOCK, RaggedRows


def _padded(rng: np.random.Generator, lengths: np.ndarray, width: int) -> np.ndarray:
    x = np.zeros((len(lengths), width))
    for i, n in enumerate(lengths):
        x[i, :n] = rng.exponential(3.0, n) * rng.uniform(0.1, 9.0, n) * (rng.random(n) < 0.8)
    return x


def test_ragged_rows_sum_as_numpy_reduces_each_row() -> None:
    rng = np.random.default_rng(11)
    checked = 0
    for trial in range(300):
        top = PAIRWISE_BLOCK if trial % 2 else 20
        lengths = rng.integers(1, top + 1, size=rng.integers(1, 40))
        rows = RaggedRows.build(lengths)
        assert rows is not None and rows.width % 8 == 0 and rows.width > lengths.max()
        x = _padded(rng, lengths, rows.width)
        got = rows.sums(x)
        assert got is not None
        for i, n in enumerate(lengths):
            assert got[i].tobytes() == np.add.reduce(x[i : i + 1, :n], axis=1)[0].tobytes(), (trial, n)
            checked += 1
    assert checked > 5000


def test_every_length_in_one_pass() -> None:
    rng = np.random.default_rng(12)
    lengths = np.arange(1, PAIRWISE_BLOCK + 1)
    rows = RaggedRows.build(lengths)
    assert rows is not None
    for _ in range(20):
        x = _padded(rng, lengths, rows.width)
        got = rows.sums(x)
        assert got is not None
        want = np.array([np.add.reduce(x[i, :n]) for i, n in enumerate(lengths)])
        assert got.tobytes() == want.tobytes()


def test_a_negative_entry_or_a_negative_zero_is_refused() -> None:
    rows = RaggedRows.build(np.array([3, 12]))
    assert rows is not None
    x = np.ones((2, rows.width))
    x[:, 3:] = 0.0
    x[1, :12] = 1.0
    assert rows.sums(x) is not None
    x[1, 5] = -0.0
    assert rows.sums(x) is None
    x[1, 5] = -1.0
    assert rows.sums(x) is None


def test_rows_it_does_not_replay_are_refused_at_build() -> None:
    assert RaggedRows.build(np.array([3, PAIRWISE_BLOCK + 1])) is None
    assert RaggedRows.build(np.array([0, 4])) is None
    assert RaggedRows.build(np.array([], dtype=int)) is None
