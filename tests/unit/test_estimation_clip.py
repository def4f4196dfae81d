"""estimation._clip: the ufunc np.clip applies, found through NumPy's public __array_ufunc__ protocol
(no private name), giving np.clip's floats bit for bit; np.clip itself where np.clip reaches no ufunc."""

from __future__ import annotations

import numpy as np
import pytest

from controller.core import estimation

CASES = [
    (np.array([-0.0, 0.0, np.nan, -1.0, 3.5, np.inf, -np.inf]), 0.0, 2.0),  # signed zero, NaN, infinities
    (np.array([1.0, 5.0, -2.0]), np.array([0.0, 6.0, -3.0]), np.array([2.0, 7.0, -2.5])),  # array bounds
    (np.array([1.0, 5.0]), np.array([3.0, 3.0]), np.array([2.0, 2.0])),  # a lower bound above the upper
    (np.array([4, -7, 12]), 0, 9),  # integers (travel ticks)
]


def test_clip_is_np_clips_own_ufunc() -> None:
    assert isinstance(estimation._clip, np.ufunc)
    assert estimation._clip is np._core.umath.clip  # what np.clip applies in this NumPy


@pytest.mark.parametrize(("a", "lo", "hi"), CASES)
def test_clip_gives_np_clips_bits(a: np.ndarray, lo: object, hi: object) -> None:
    got, want = estimation._clip(a, lo, hi), np.clip(a, lo, hi)
    assert got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()


def test_a_clip_that_reaches_no_ufunc_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def plain(a: object, lo: object, hi: object) -> np.ndarray:
        return np.minimum(np.maximum(np.asarray(a), lo), hi)

    monkeypatch.setattr(np, "clip", plain)
    assert estimation._clip_ufunc() is plain
