"""A batch holding several messages of a junction (a live tick that takes two seconds of every junction: the
first seconds of a feed, a tick after an overrun, a junction late for its tick): its k-th plain message goes
to layer k, and a layer's messages of one (t, period_s) share a frame (core/feedbatch.py). Accepts, refuses
and reads as on_detectors message by message, and the ticks after give the same commands and states to the
bit; a junction whose message is left to the one-by-one path keeps its later ones there (issue 12, T, session 54)."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import replace

import pytest

from controller.config import Config
from controller.core.feedbatch import BatchLayout, split_batch
from controller.core.messages import encode_detector_message, encode_status
from controller.core.params import WebsterParams
from controller.model import Intersection
from controller.service import ControllerService
from tests.junction_fixtures import two_phase_as
from tests.unit.test_feedbatch import body, enc, readings
from tests.unit.test_webster_net import random_statuses, region

NOW_S = 100.0


def compare(js: dict[str, Intersection], messages: list[tuple[str | None, bytes]]) -> ControllerService:
    """The batch (read here, and read ahead) against on_detectors message by message: the same refusals, last
    times and readings in fold order. Returns the batch's service."""
    made = [ControllerService(js, Config(), "fixed", publish=lambda c, p: None, start_s=NOW_S - 1) for _ in "123"]
    for svc in made:
        svc.advance_clock(NOW_S)
    one, batch, ahead = made
    for jid, payload in messages:
        one.on_detectors(payload, junction=jid)
    batch.on_detector_batch(messages)
    ahead.on_detector_batch(messages, [ahead.read_detector_message(payload, jid) for jid, payload in messages])
    for svc in (batch, ahead):
        assert (svc.rejected, svc.received, svc._last_t) == (one.rejected, one.received, one._last_t)
        assert readings(svc) == readings(one)
    return batch


def many(n: int) -> dict[str, Intersection]:
    return {f"X{k:03d}": two_phase_as(f"X{k:03d}") for k in range(n)}


def msg(js: dict[str, Intersection], jid: str, t: float) -> tuple[str, bytes]:
    loops = enumerate(js[jid].detectors)
    dets = {d.id: {"counts": {"car": k % 3}, "occupancy": 0.1, "speed_mps": 4.0} for k, d in loops}
    return jid, enc({"v": 1, "junction": jid, "t": t, "period_s": 1.0, "detectors": dets})


def test_two_seconds_of_every_junction_go_through_two_frames() -> None:
    js = many(130)
    msgs = [msg(js, j, NOW_S - 1) for j in js] + [msg(js, j, NOW_S) for j in js]
    batch = compare(js, msgs)
    assert not batch.rejected and len(batch._frames) == 2 and not batch._snaps  # before: 1 frame, 130 one by one
    assert [f.t_s for f, _ in batch._frames] == [NOW_S - 1, NOW_S]


def test_a_junctions_messages_arriving_in_any_order_keep_it() -> None:
    """Interleaved seconds, a junction's second before another's first, a repeat and an older second after a
    newer one (refused as stale, as one by one)."""
    js = many(130)
    names = list(js)
    msgs = []
    for k, j in enumerate(names):
        msgs.append(msg(js, j, NOW_S - 1))
        if k % 2:
            msgs.append(msg(js, names[k - 1], NOW_S))
    msgs += [msg(js, "X128", NOW_S), msg(js, "X005", NOW_S), msg(js, "X007", NOW_S - 2)]
    batch = compare(js, msgs)
    assert batch.rejected == Counter({"stale_timestamp": 2})  # X128's repeat, X007's older second
    assert not batch._snaps and [int(p.sum()) for _, p in batch._frames] == [130, 66]  # X005 in layer 1


def test_a_later_layer_seen_first_is_validated_after_the_earlier_one() -> None:
    """Y's second messages come in before X's first: the frames go layer by layer, so X's first second is
    validated before its second (in arrival order of the groups, X's second would be first and its first
    refused as older)."""
    js = many(130)
    ys, xs = ["X010", "X011", "X012"], ["X020", "X021", "X022"]
    msgs = [msg(js, j, NOW_S - 2) for j in ys] + [msg(js, j, NOW_S) for j in ys]
    msgs += [msg(js, j, NOW_S - 3) for j in xs] + [msg(js, j, NOW_S) for j in xs]
    batch = compare(js, msgs)
    assert not batch.rejected and not batch._snaps
    assert [(f.t_s, int(p.sum())) for f, p in batch._frames] == [(NOW_S - 2, 3), (NOW_S - 3, 3), (NOW_S, 6)]


def test_a_junction_left_one_by_one_keeps_its_later_messages_there() -> None:
    """X000's second message has a second of its own (a group too small for a frame: one by one); its third,
    of the second all the others' third share, goes one by one after it, not in their frame. In the frame it
    would be validated first, and its second then refused as older."""
    js = many(130)
    layout = BatchLayout.build(js)
    msgs = [msg(js, j, NOW_S - 2) for j in js]
    msgs += [msg(js, "X000", NOW_S - 1.5)] + [msg(js, j, NOW_S - 1) for j in js if j != "X000"]
    msgs += [msg(js, j, NOW_S) for j in js]
    batch = compare(js, msgs)
    assert not batch.rejected
    assert [s.junction for s in batch._snaps] == ["X000", "X000"] and len(batch._frames) == 3
    split = split_batch(msgs, layout)
    assert split.rest == (130, 260)
    assert [int(p.sum()) for _, p in split.frames] == [130, 129, 129]


def test_an_unplain_message_sends_its_junctions_later_ones_one_by_one() -> None:
    js = many(130)
    bom = ("X003", b"\xef\xbb\xbf" + msg(js, "X003", NOW_S - 1)[1])  # read one by one
    msgs = [msg(js, j, NOW_S - 2) for j in js] + [bom] + [msg(js, j, NOW_S) for j in js]
    batch = compare(js, msgs)
    assert [s.junction for s in batch._snaps] == ["X003", "X003"] and len(batch._frames) == 2


def test_the_fixtures_two_phase_junctions_read_as_before() -> None:
    """test_feedbatch's junctions: a duplicate in one batch (a later layer) is refused as stale, as one by one."""
    js = {jid: two_phase_as(jid) for jid in "AB"}
    batch = compare(js, [("A", enc(body("A"))), ("A", enc(body("A"))), ("B", enc(body("B")))])
    assert batch.rejected == Counter({"stale_timestamp": 1})


def digest(js: dict[str, Intersection], policy: str, one_by_one: bool, seed: int) -> tuple[str, int]:
    """Every command sent and the final states (repr: every float to the bit) over 30 seconds of random counts
    and roadside statuses, each odd tick taking its own second and the one before (the even ticks take none):
    in one batch, or every message through on_detectors."""
    sent: list[tuple[object, bytes]] = []
    cfg = replace(Config(), webster=WebsterParams(period_s=5.0, replan_spread=1.0))  # webster re-plans within 30 s
    svc = ControllerService(js, cfg, policy, publish=lambda c, p: sent.append((c, p)), start_s=1000.0)
    rng = random.Random(seed)
    shown: dict[str, tuple[int, bool, float]] = {}
    waiting: list[tuple[str, bytes]] = []
    for r in range(30):
        t = 1001.0 + r
        svc.advance_clock(t)
        for jid, j in js.items():
            dets = {d.id: ({"car": rng.randint(0, 4), "bus": rng.randint(0, 1)}, 0.2, 3.0) for d in j.detectors}
            waiting.append((jid, encode_detector_message(jid, t, 1.0, dets)))
        if r % 2:
            if one_by_one:
                for jid, payload in waiting:
                    svc.on_detectors(payload, junction=jid)
            else:
                svc.on_detector_batch(waiting)
                assert len(svc._frames) == 2 and not svc._snaps
            waiting = []
        for st in random_statuses(rng, js, t, shown):
            svc.on_status(encode_status(st), junction=st.junction)
        svc.tick(t)
    h = hashlib.sha256()
    for c, p in sent:
        h.update(repr(c).encode() + p)
    for jid in sorted(svc.state.junctions):
        h.update(repr(svc.state.junctions[jid]).encode())
    return h.hexdigest(), len(sent)


@pytest.mark.parametrize("policy", ["adaptive", "webster"])
def test_ticks_on_two_seconds_a_batch_decide_as_message_by_message(policy: str) -> None:
    js = region(2)
    batched = digest(js, policy, False, 3)
    assert batched == digest(js, policy, True, 3) and batched[1] > 0
