"""Sums of rows of different lengths in one pass, bit for bit numpy's row sums. Pure.

`np.add.reduce(a, axis=-1)` sums a float64 row of n entries by numpy's pairwise summation
(numpy/_core/src/umath/loops_utils.h.src, `pairwise_sum`): for n < 8 left to right; for
8 <= n <= 128 eight running sums over the whole blocks of eight, combined as
((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the last n % 8 entries added left to right;
beyond 128 the halves apart. The order depends on n, so rows of different lengths padded to one
width and reduced at once give other last bits. `RaggedRows` replays that order column-wise over all
rows at once: every addition is one IEEE addition of the same two operands as numpy's, so each sum is
numpy's bit for bit, provided no entry is negative or -0.0 (a zero of the padding added to such a sum
leaves it as it is; `sums` returns None otherwise, and the caller reduces row by row).

Example: rows of 3 and 12 entries, `rr = RaggedRows.build(np.array([3, 12]))`, `x` of shape
(2, rr.width) holding them left-aligned and zeros after: `rr.sums(x)` equals
`[np.add.reduce(x[0, :3]), np.add.reduce(x[1, :12])]` bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE: longer rows are split in halves (not replayed here)


@dataclass(frozen=True)
class RaggedRows:
    """The summation order of rows of given lengths (1..PAIRWISE_BLOCK), padded to `width`."""

    width: int  # a multiple of 8 leaving every row at least one padding column
    long: np.ndarray  # (rows,) bool: n >= 8 (blocks of eight), else left to right
    blocks: tuple[np.ndarray, ...]  # per block of eight after the first, (rows,) bool: the row has it whole
    tail: np.ndarray  # (rows, most tail entries) flat positions in (rows, width) of the last n % 8 entries
    # of each long row, then of a padding zero

    @staticmethod
    def build(lengths: np.ndarray) -> RaggedRows | None:
        """None when a row is empty or longer than PAIRWISE_BLOCK."""
        n = np.asarray(lengths, dtype=int)
        if not len(n) or n.min() < 1 or n.max() > PAIRWISE_BLOCK:
            return None
        width = 8 * (int(n.max()) // 8 + 1)
        whole = n - n % 8  # entries in whole blocks of eight (long rows)
        blocks = tuple((n >= 8) & (whole >= 8 * (b + 1)) for b in range(1, width // 8))
        most = max(1, int((n % 8)[n >= 8].max()) if (n >= 8).any() else 1)
        t = np.arange(most)
        col = np.where(t[None, :] < (n % 8)[:, None], whole[:, None] + t[None, :], width - 1)
        tail = np.arange(len(n))[:, None] * width + col
        return RaggedRows(width, n >= 8, tuple(m for m in blocks if m.any()), tail)

    def sums(self, x: np.ndarray) -> np.ndarray | None:
        """(rows,) numpy's sum of each row of `x` (rows, width), whose entries past a row's length
        are +0.0; None when some entry is negative or -0.0 (np.signbit)."""
        if np.logical_or.reduce(np.signbit(x), axis=None):
            return None
        r = x[:, :8]
        for b, has in enumerate(self.blocks, start=1):
            r = np.where(has[:, None], r + x[:, 8 * b : 8 * b + 8], r)
        pairs = r[:, 0::2] + r[:, 1::2]  # (r0 + r1), (r2 + r3), (r4 + r5), (r6 + r7)
        quads = pairs[:, 0::2] + pairs[:, 1::2]
        out: np.ndarray = quads[:, 0] + quads[:, 1]
        rest = x.reshape(-1)[self.tail]
        for t in range(rest.shape[1]):
            out = out + rest[:, t]
        short = np.add.reduce(x[:, :7], axis=1)  # n < 8: left to right (padding zeros change nothing)
        return np.where(self.long, out, short)
