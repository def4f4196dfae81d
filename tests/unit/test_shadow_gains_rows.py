"""shadow.gains takes each side's sums once, as rows of the (2, movements) arrays (_row_sums), and
pcu_in_window's standing queue from them (_standing): every figure must be the former per-row
`.sum()` code's to the bit, on row-contiguous views into a network's arrays (as the replays keep
them), on contiguous copies, on Fortran-ordered arrays (whose axis sum runs another order), with
NaN and signed zeros."""

from types import SimpleNamespace

import numpy as np
import pytest

from controller.core import shadow


def _former(replay) -> tuple[float, ...]:
    """shadow.gains as it was (session 54's main): each figure its own reduction."""
    arrived = float(replay.arrived_pcu.sum())
    present = shadow.pcu_in_window(replay)
    s = replay.sides
    delay, served, queue = s.delay_pcu_s, s.served_pcu, s.queue_pcu
    per_h = 3600.0 / replay.span_s if replay.span_s > 0 else 0.0
    f, c = shadow.FIXED, shadow.CONTROLLED
    return (
        float(delay[f].sum()) / present if present > 0 else 0.0,
        float(delay[c].sum()) / present if present > 0 else 0.0,
        float(served[f].sum()) * per_h,
        float(served[c].sum()) * per_h,
        arrived * per_h,
        float(queue[f].sum()),
        float(queue[c].sum()),
        replay.span_s,
    )


def _now(g: shadow.Gains) -> tuple[float, ...]:
    return (
        g.delay_fixed_s,
        g.delay_controlled_s,
        g.throughput_fixed_pcu_h,
        g.throughput_controlled_pcu_h,
        g.demand_pcu_h,
        g.queue_fixed_pcu,
        g.queue_controlled_pcu,
        g.span_s,
    )


def _rows(rng: np.random.Generator, n_net: int, a: int, b: int, order: str) -> np.ndarray:
    x = rng.exponential(3.0, size=(2, n_net)) * rng.choice([1.0, 1e-7, 1e7, 0.0], size=(2, n_net))
    if rng.random() < 0.1:
        x[rng.integers(2), rng.integers(n_net)] = np.nan
    if rng.random() < 0.1:
        x = -0.0 * np.abs(x)
    view = x[:, a:b]
    return {"view": view, "C": np.ascontiguousarray(view), "F": view.copy(order="F")}[order]


@pytest.mark.parametrize("order", ["view", "C", "F"])
def test_gains_are_the_former_per_row_sums_to_the_bit(order: str) -> None:
    rng = np.random.default_rng(54)
    for _ in range(3000):
        n_net = int(rng.integers(1, 120))
        a = int(rng.integers(0, n_net))
        b = int(rng.integers(a, n_net + 1))
        sides = SimpleNamespace(
            **{k: _rows(rng, n_net, a, b, order) for k in ("queue_pcu", "delay_pcu_s", "served_pcu")}
        )
        replay = SimpleNamespace(
            arrived_pcu=rng.exponential(2.0, size=b - a),
            held_pcu=float(rng.choice([0.0, 3.0, 1e9])),
            span_s=float(rng.choice([0.0, 17.0])),
            sides=sides,
        )
        got, want = _now(shadow.gains(replay)), _former(replay)
        assert np.array(got).tobytes() == np.array(want).tobytes(), (order, b - a)
        assert all(type(v) is float for v in got)


def test_an_axis_sum_of_fortran_rows_is_not_their_row_sums() -> None:
    """Why _row_sums looks at the strides: a Fortran-ordered array's axis sum adds down the columns,
    in another order than each row's own sum (if numpy ever sums them alike, this test says so)."""
    x = np.random.default_rng(1).exponential(3.0, size=(2, 64)) * 1e7
    f = x.copy(order="F")
    assert f.sum(axis=1).tolist() != [float(f[0].sum()), float(f[1].sum())]
    assert shadow._row_sums(f) == [float(f[0].sum()), float(f[1].sum())]
    assert shadow._row_sums(x) == x.sum(axis=1).tolist() == [float(x[0].sum()), float(x[1].sum())]


def test_standing_takes_nan_and_the_first_of_equals_as_numpy_max() -> None:
    nan = float("nan")
    q = np.zeros((2, 3))
    assert np.isnan(shadow._standing(q, [nan, 1.0])) and np.isnan(shadow._standing(q, [1.0, nan]))
    assert np.signbit(shadow._standing(q, [-0.0, 0.0])) and not np.signbit(shadow._standing(q, [0.0, -0.0]))
    assert shadow._standing(q, [2.0, 5.0]) == 5.0 and shadow._standing(q, [5.0, 2.0]) == 5.0
