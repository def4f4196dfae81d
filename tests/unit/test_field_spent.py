"""SumoField.actuate_bodies asks SUMO the time its program's phase has shown (getNextSwitch and
getPhaseDuration) only where RoadsideController.reads_spent says the roadside's tick reads it
(13de4d8), and hands that time over right: the roadside it drives shows and reports, second by
second, what one told the true time every second does, and SUMO is asked only at the first
second and at each green stage's start."""

from __future__ import annotations

from types import SimpleNamespace

from sim.field import SumoField
from sim.roadside import RoadsideController
from tests.junction_fixtures import two_phase

# SUMO's program at J: (seconds, our green stage or None in its intergreens), two_phase's stages:
# a stage after an intergreen, the same stage again after an intergreen, a stage straight after another
PROGRAM = [(20, 0), (3, None), (2, None), (15, 1), (3, None), (2, None), (8, 1), (6, 0), (3, None), (2, None)]
CYCLE = sum(d for d, _ in PROGRAM)
START_S = 1_013.0  # 13 s into the cycle: 13 s into stage 0's green


def shown(t_s: float) -> tuple[int, float, float]:
    """The program's phase at t_s: (index, its start, its duration)."""
    at, start = (t_s - 1_000.0) % CYCLE, t_s - (t_s - 1_000.0) % CYCLE
    for k, (d, _stage) in enumerate(PROGRAM):
        if at < d:
            return k, start, float(d)
        at, start = at - d, start + d
    raise AssertionError


def test_the_field_asks_sumo_the_phase_time_only_where_the_roadside_reads_it():
    now = {"t": START_S}
    asked: list[float] = []

    def next_switch(jid: str) -> float:
        asked.append(now["t"])
        _k, start, d = shown(now["t"])
        return start + d

    rc = RoadsideController(two_phase(), backup_s=5.0)
    field = SimpleNamespace(
        api=SimpleNamespace(trafficlight=None),
        roadside={"J": rc},
        _applied={"J": None},
        _entries={},
        _status_sent={},
        _wauts={},
        status_every_s=1e9,
        _local_phase=lambda jid: PROGRAM[shown(now["t"])[0]][1],
        _tl_next_switch=next_switch,
        _tl_phase_duration=lambda jid: shown(now["t"])[2],
    )
    told = RoadsideController(two_phase(), backup_s=5.0)
    starts = []
    for t in range(int(START_S), int(START_S) + 400):
        now["t"] = float(t)
        k, start, _d = shown(float(t))
        stage = PROGRAM[k][1]
        if t == START_S or (stage is not None and PROGRAM[shown(float(t - 1))[0]][1] != stage):
            starts.append(float(t))
        SumoField.actuate_bodies(field, float(t))  # type: ignore[arg-type]
        assert told.tick(float(t), stage, float(t) - start) is None  # local: SUMO's program on
        assert rc.status(float(t)) == told.status(float(t)), t
        if t == START_S:
            assert rc.status(START_S).time_in_phase_s == 13.0
    assert asked == starts and len(starts) == 1 + 25  # the first second, then each green's start
