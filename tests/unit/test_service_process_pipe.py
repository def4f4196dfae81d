"""What sim/service_process.py pipes to its child: a second's loop readings with only the loops that
read something (`_sparse`), rebuilt bit for bit (`_dense`); under `fixed`, BATCH_S seconds a message."""

from __future__ import annotations

import numpy as np

from sim.service_process import BATCH_S, ServiceProcessLoop, _dense, _sparse


def test_the_readings_come_back_bit_for_bit() -> None:
    occ = np.zeros(9)
    speed = np.full(9, -1.0)
    occ[[1, 4]] = [0.25, 1.0]
    speed[[1, 4, 6]] = [3.5, 0.0, -1.0]
    occ[7], speed[7] = -0.0, -1.0  # a signed zero is not "nothing"
    occ[8], speed[8] = np.nan, np.nan
    counted = {1: {"car": 1}}
    got_counted, n, *parts = _sparse(counted, occ, speed)
    back_occ, back_speed = _dense(n, *parts)
    assert got_counted is counted and n == 9
    assert back_occ.tobytes() == occ.tobytes() and back_speed.tobytes() == speed.tobytes()
    assert len(np.frombuffer(parts[0], dtype=np.intp)) == 4  # loops 1, 4, 7, 8; 6 reads nothing


def test_nothing_read_is_sent_as_no_loop() -> None:
    _counted, n, at, occ, speed = _sparse({}, np.zeros(516), np.full(516, -1.0))
    assert n == 516 and at == occ == speed == b""
    back_occ, back_speed = _dense(n, at, occ, speed)
    assert not back_occ.any() and (back_speed == -1.0).all()


class _Conn:
    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, msg: object) -> None:
        self.sent.append(msg)

    def poll(self, *_a: object) -> bool:
        return False


class _Field:
    def loop_readings(self) -> tuple:
        return {}, np.zeros(3), np.full(3, -1.0)

    def actuate_bodies(self, t_s: float) -> list:
        return [{"t": t_s}]


def test_under_fixed_the_seconds_go_in_batches_in_order() -> None:
    loop = ServiceProcessLoop.__new__(ServiceProcessLoop)  # the pipe's end only: no child
    loop.field, loop._lockstep, loop._statuses, loop._pending = _Field(), False, [], []
    loop._conn = conn = _Conn()  # type: ignore[assignment]
    seconds = 2 * BATCH_S + 3
    for t in range(1, seconds + 1):
        loop.second(float(t))
    assert [len(b) for b in conn.sent] == [BATCH_S, BATCH_S]  # type: ignore[arg-type]
    loop._send_pending()
    batches = conn.sent
    assert [s[0] for b in batches for s in b] == [float(t) for t in range(1, seconds + 1)]  # type: ignore[attr-defined]
    # each second carries the statuses actuated after the second before
    assert [s[-1] for b in batches for s in b][1:] == [[{"t": float(t)}] for t in range(1, seconds)]  # type: ignore[attr-defined]
