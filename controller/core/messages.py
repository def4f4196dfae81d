"""Encoders for the versioned MQTT contract (docs/mqtt.md) and the plan decoder.

The controller encodes plans and decodes feeds (core/feed.py); the field — a real roadside
unit or sim/field.py — does the opposite. Both sides use these functions so the wire format
lives in one place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_str  # how json.dumps writes a str
from typing import Any

from controller.core.jsonread import read_json
from controller.errors import FeedError
from controller.model import Command, CyclePlan, FlashCommand, PhaseCommand, SignalStatus

MESSAGE_VERSION = 1

Signer = Callable[[bytes, str], bytes]  # (plan body, junction) -> signed payload (core/signing.Keyring.sign)


def encode_detector_message(
    junction: str, t_s: float, period_s: float, detectors: Mapping[str, tuple[Mapping[str, int], float, float]]
) -> bytes:
    """detectors: id -> (counts by class, occupancy 0..1, mean speed m/s or -1)."""
    body = {
        "v": MESSAGE_VERSION,
        "junction": junction,
        "t": t_s,
        "period_s": period_s,
        "detectors": {d: {"counts": c, "occupancy": o, "speed_mps": s} for d, (c, o, s) in detectors.items()},
    }
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass(frozen=True)
class DetectorMessageFormat:
    """encode_detector_message for every junction of a field at once, byte for byte the same
    messages: the JSON text around the numbers is built once per junction (`build`), and each
    second's readings are formatted into it (`encode`). The readings come as flat columns over
    the loops in a fixed order (the junctions, then each junction's loops, as `build` got them).

    A reading this text cannot hold as json.dumps would write it (a number that is not a finite
    float, a count that is not a str -> int) and a junction listing a loop twice (a dict keeps
    one) go through encode_detector_message itself.

    Example: `fmt = DetectorMessageFormat.build({"J1": ("J1_N_1_stop",)})`, then each second
    `fmt.encode(t_s, 1.0, {0: {"car": 2}}, [0.41], [4.2])` -> [("J1", b'{"v":1,...}')].
    """

    junctions: tuple[str, ...]
    loops: tuple[tuple[str, ...], ...]
    templates: tuple[str | None, ...]  # str.format text per junction; None: a loop listed twice

    @staticmethod
    def build(loops: Mapping[str, Sequence[str]]) -> DetectorMessageFormat:
        """loops: junction -> its loop ids, in the order of the readings."""

        def lit(text: str) -> str:  # JSON text inside a str.format template
            return text.replace("{", "{{").replace("}", "}}")

        slot = "{}"  # a number's (or the counts object's) text, each second
        readings = slot + lit(',"occupancy":') + slot + lit(',"speed_mps":') + slot + lit("}")
        templates: list[str | None] = []
        for jid, dids in loops.items():
            head = lit(f'{{"v":{MESSAGE_VERSION},"junction":{_json_str(jid)},"t":') + slot
            head += lit(',"period_s":') + slot + lit(',"detectors":{')
            each = [lit(f'{_json_str(d)}:{{"counts":') + readings for d in dids]
            plain = len(set(dids)) == len(dids)
            templates.append(head + ",".join(each) + lit("}}") if plain else None)
        return DetectorMessageFormat(tuple(loops), tuple(tuple(d) for d in loops.values()), tuple(templates))

    def encode(
        self,
        t_s: float,
        period_s: float,
        counts: Mapping[int, Mapping[str, int]],
        occupancy: Sequence[float],
        speed_mps: Sequence[float],
    ) -> list[tuple[str, bytes]]:
        """(junction, message) for every junction, in order. counts: by loop position, the
        loops that counted vehicles (the others count none); occupancy 0..1 and mean speed m/s
        (or -1) of every loop, by position. ValueError naming the loop index for a counts key
        that is no loop position, or the lengths for readings not one per loop."""
        self._check_positions(counts, occupancy, speed_mps)
        texts = _plain_texts(t_s, period_s, counts, occupancy, speed_mps)
        out: list[tuple[str, bytes]] = []
        i = 0
        for jid, dids, template in zip(self.junctions, self.loops, self.templates):
            k = len(dids)
            if texts is None or template is None:
                dets = {d: (counts.get(i + n, {}), occupancy[i + n], speed_mps[i + n]) for n, d in enumerate(dids)}
                out.append((jid, encode_detector_message(jid, t_s, period_s, dets)))
            else:
                out.append((jid, template.format(*texts[0], *texts[1][3 * i : 3 * (i + k)]).encode()))
            i += k
        return out

    def _check_positions(
        self, counts: Mapping[int, Mapping[str, int]], occupancy: Sequence[float], speed_mps: Sequence[float]
    ) -> None:
        """ValueError unless the readings are one per loop and every counts key a loop position:
        a message must never carry a reading under another loop's id."""
        n = sum(map(len, self.loops))
        if len(occupancy) != n or len(speed_mps) != n:
            why = f"{len(occupancy)} occupancy and {len(speed_mps)} speed_mps readings for {n} loops"
            raise ValueError(f"detector readings: {why}")
        for k in counts:
            if type(k) is not int or not 0 <= k < n:
                raise ValueError(f"detector readings: counts key {k!r} is no loop index in 0..{n - 1}")


_FLOAT = frozenset({float})


def _plain_texts(
    t_s: float,
    period_s: float,
    counts: Mapping[int, Mapping[str, int]],
    occupancy: Sequence[float],
    speed_mps: Sequence[float],
) -> tuple[tuple[str, str], list[str]] | None:
    """The JSON text of (t, period_s), and of each loop's (counts, occupancy, speed) in a row,
    as json.dumps writes them; None when a value is not plain (DetectorMessageFormat)."""
    head = [t_s, period_s]
    if not all(type(x) in (int, float) and (type(x) is int or math.isfinite(x)) for x in head):
        return None
    if occupancy and not (set(map(type, occupancy)) <= _FLOAT and set(map(type, speed_mps)) <= _FLOAT):
        return None
    if not (all(map(math.isfinite, occupancy)) and all(map(math.isfinite, speed_mps))):
        return None
    count_texts = ["{}"] * len(occupancy)
    for i, c in counts.items():
        if not all(type(k) is str and type(n) is int for k, n in c.items()):
            return None
        count_texts[i] = "{" + ",".join(f"{_json_str(k)}:{n!r}" for k, n in c.items()) + "}"
    texts: list[str] = [""] * (3 * len(occupancy))
    texts[0::3] = count_texts
    texts[1::3] = map(float.__repr__, occupancy)
    texts[2::3] = map(float.__repr__, speed_mps)
    return (repr(t_s), repr(period_s)), texts


def status_body(status: SignalStatus, epoch: int | None = None) -> dict[str, Any]:
    """The status message's JSON object, before encoding: what `encode_status` sends and what
    core/feed.py's `check_status` checks (the in-process field hands it over as it is).
    `epoch`: the epoch of the plan `seq` belongs to (omitted when None: a v1 roadside without
    plan epochs). `program` only when non-empty (a roadside that does not know the city's program in force
    sends none)."""
    body = {
        "v": MESSAGE_VERSION,
        "junction": status.junction,
        "t": status.t_s,
        "phase": status.phase,
        "in_intergreen": status.in_intergreen,
        "time_in_phase_s": status.time_in_phase_s,
        "plan_id": status.plan_id,
        "seq": status.seq,
        "mode": status.mode,
        "faults": list(status.faults),
    }
    if status.program:  # optional: sent only when the roadside knows the program in force
        body["program"] = status.program
    if epoch is not None:
        body["epoch"] = epoch
    return body


def encode_body(body: Mapping[str, Any]) -> bytes:
    """A message's JSON object on the wire (compact separators, as every encoder here)."""
    return json.dumps(body, separators=(",", ":")).encode()


def encode_status(status: SignalStatus, epoch: int | None = None) -> bytes:
    """The status message: `status_body` encoded."""
    return encode_body(status_body(status, epoch))


def encode_command(cmd: Command, epoch: int = 0, signer: Signer | None = None) -> bytes:
    """The plan message. Its identity is (epoch, seq): `epoch` is the controller's run number
    (it grows at every start, docs/security.md), seq grows within it. With `signer` the body
    ends with the key id and the HMAC signature (core/signing.py). Kinds: "cycle" (CyclePlan),
    "next_phase" (PhaseCommand), "flash" (FlashCommand: the identity and window alone)."""
    common = {
        "v": MESSAGE_VERSION,
        "junction": cmd.junction,
        "plan_id": cmd.plan_id,
        "epoch": epoch,
        "seq": cmd.seq,
        "valid_from": cmd.valid_from_s,
        "expires": cmd.expires_s,
    }
    if isinstance(cmd, CyclePlan):
        body = {
            **common,
            "kind": "cycle",
            "phase_order": list(cmd.phase_order),
            "greens_s": list(cmd.greens_s),
            "cycle_s": cmd.cycle_s,
            "offset_s": cmd.offset_s,
        }
    elif isinstance(cmd, PhaseCommand):
        body = {**common, "kind": "next_phase", "phase": cmd.phase, "hold_s": cmd.hold_s}
        if cmd.all_red_s > 0:  # only then: a plan without it reads as before
            body["all_red_s"] = cmd.all_red_s
    else:
        body = {**common, "kind": "flash"}
    raw = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    return signer(raw, cmd.junction) if signer is not None else raw


def _field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, kind):
        raise FeedError("wrong_type", f"plan.{key}")
    return v


_NUM = (int, float)


def _as_finite(v: int | float, what: str) -> float:
    try:
        x = float(v)
    except OverflowError:  # an integer beyond the float range
        raise FeedError("not_finite", what) from None
    if not math.isfinite(x):
        raise FeedError("not_finite", what)
    return x


def _finite(obj: dict[str, Any], key: str) -> float:
    return _as_finite(_field(obj, key, _NUM), f"plan.{key}")


def _reject_constant(name: str) -> float:
    raise FeedError("not_finite", f"plan contains {name}")


@dataclass(frozen=True)
class PlanMessage:
    """A decoded plan and its identity: (epoch, seq) orders plans across controller restarts."""

    command: Command
    epoch: int


def decode_plan(payload: bytes) -> PlanMessage:
    """Plan message -> PlanMessage. Refuses (FeedError) malformed JSON, another version, a field
    of the wrong type, NaN/Infinity anywhere, a negative epoch or seq. It does not check the
    signature (core/signing.py) nor the junction's limits (controller/roadside_agent.py)."""
    obj = read_json(payload, parse_constant=_reject_constant)
    if not isinstance(obj, dict) or obj.get("v") != MESSAGE_VERSION:
        raise FeedError("bad_version", "plan message")
    epoch = obj.get("epoch", 0)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise FeedError("wrong_type", "plan.epoch must be an integer >= 0")
    seq = _field(obj, "seq", int)
    if seq < 0:
        raise FeedError("out_of_range", f"plan.seq={seq}")
    common = {
        "junction": _field(obj, "junction", str),
        "plan_id": _field(obj, "plan_id", str),
        "seq": seq,
        "valid_from_s": _finite(obj, "valid_from"),
        "expires_s": _finite(obj, "expires"),
    }
    kind = obj.get("kind")
    if kind == "cycle":
        order = _field(obj, "phase_order", list)
        greens = _field(obj, "greens_s", list)
        if not all(type(i) is int for i in order) or not all(type(g) in _NUM for g in greens):
            raise FeedError("wrong_type", "plan.phase_order/greens_s")
        cmd: Command = CyclePlan(
            **common,
            phase_order=tuple(order),
            greens_s=tuple(_as_finite(g, "plan.greens_s") for g in greens),
            cycle_s=_finite(obj, "cycle_s"),
            offset_s=_finite(obj, "offset_s"),
        )
    elif kind == "next_phase":
        all_red_s = _finite(obj, "all_red_s") if "all_red_s" in obj else 0.0
        cmd = PhaseCommand(
            **common, phase=_field(obj, "phase", int), hold_s=_finite(obj, "hold_s"), all_red_s=all_red_s
        )
    elif kind == "flash":
        cmd = FlashCommand(**common)
    else:
        raise FeedError("wrong_type", f"plan.kind={str(kind)[:20]!r}")
    return PlanMessage(cmd, epoch)


def decode_command(payload: bytes) -> Command:
    """decode_plan without the epoch (in-process replays, where there is one controller run)."""
    return decode_plan(payload).command
