"""The roadside status's optional `program` (docs/mqtt.md, "Roadside status"): the city's program in force,
sent only when the roadside knows it (a light a WAUT switches: sim/field.py), read the same by the typed and
the general read (core/statusread.py, core/feed.py), one validation for MQTT and the in-process path."""

from __future__ import annotations

import json

import pytest

from controller.core import feed, statusread
from controller.core.messages import encode_status, status_body
from controller.errors import FeedError
from controller.model import SignalStatus
from sim.roadside import RoadsideController
from tests.junction_fixtures import GOOD_STATUS, STATUS_JUNCTIONS, two_phase

NOW_S = 100.0


def _reads(obj: dict) -> tuple:
    """(typed read, general read, in-process check) of one status object: a report or the refusal."""
    payload = json.dumps(obj).encode()
    out = []
    for read in (
        lambda: statusread.decode_status_report(payload, STATUS_JUNCTIONS, NOW_S, {}, 1.0),
        lambda: feed.decode_status_report(payload, STATUS_JUNCTIONS, NOW_S, {}, 1.0),
        lambda: feed.check_status(obj, STATUS_JUNCTIONS, NOW_S, {}, 1.0),
    ):
        try:
            out.append(read())
        except FeedError as exc:
            out.append(("refused", exc.reason, exc.detail))
    return tuple(out)


def test_a_status_without_program_reads_as_before_with_none():
    typed, general, in_process = _reads(dict(GOOD_STATUS))
    assert typed == general == in_process and typed.status.program == ""


def test_a_status_naming_its_program_is_read_by_every_path():
    typed, general, in_process = _reads({**GOOD_STATUS, "program": "evening"})
    assert typed == general == in_process and typed.status.program == "evening"
    assert (
        statusread._read_typed(
            json.dumps({**GOOD_STATUS, "program": "evening"}).encode(), STATUS_JUNCTIONS, NOW_S, {}, 1.0
        )
        == typed
    )


@pytest.mark.parametrize("value", [3, None, ["a"], "x" * (feed.MAX_PLAN_ID_CHARS + 1)])
def test_a_wrong_program_is_refused_alike(value):
    typed, general, in_process = _reads({**GOOD_STATUS, "program": value})
    assert typed == general == in_process and typed[0] == "refused" and "program" in typed[2]


def test_the_body_carries_program_only_when_known():
    status = SignalStatus("J", 100.0, 1, False, 4.0, "local", 0, "local")
    assert "program" not in status_body(status)
    assert encode_status(status) == encode_status(SignalStatus("J", 100.0, 1, False, 4.0, "local", 0, "local", ()))
    named = SignalStatus("J", 100.0, 1, False, 4.0, "local", 0, "local", (), "evening")
    assert status_body(named)["program"] == "evening"
    report = statusread.decode_status_report(encode_status(named, 3), STATUS_JUNCTIONS, NOW_S, {}, 1.0)
    assert report.status == named and report.epoch == 3


def test_the_roadside_reports_the_program_it_is_told_and_a_change_is_a_new_status():
    rc = RoadsideController(two_phase(), backup_s=10.0)
    rc.tick(0.0, 0, 3.0)
    before = rc.status_key()
    assert rc.status(0.0).program == ""
    rc.program = "evening"
    assert rc.status_key() != before and rc.status(1.0).program == "evening"
