"""One lockstep second's detector messages as one MQTT message (`tsc/v1/{site}/sim/detectors`,
docs/mqtt.md "Lockstep"): what a replay's field sends instead of one message per junction when
`[service] simulate_feed_pack` is on. The junctions' own messages travel unchanged, byte for
byte, so the service decodes and checks exactly what the per-junction topics would carry.

Layout: a header line, then the messages concatenated in the header's order:

    {"v":1,"t":120.0,"junctions":["J1","J2"],"sizes":[231,198]}\\n<231 bytes of J1's message><198 bytes of J2's>

`t` is the second the messages are for (the clock message's `t`); `junctions` the raw junction
ids (not topic levels); `sizes` each message's length in bytes. A pack that does not read as this
(bad header, sizes that do not add up to the rest) is refused whole: `unpack` returns None.

Pure (orjson is a parser).

A second whose messages pass MAX_PACK_BYTES goes in several packs with the same `t` (`packs`).

Example: `unpack(pack(120.0, [("J1", b'{"v":1,...}')]))` == `(120.0, [("J1", b'{"v":1,...}')])`.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from controller.core.messages import MESSAGE_VERSION

MAX_HEADER_BYTES = 1 << 20  # a header longer than this is not read (1 MiB: ~50,000 junction ids)
# A second's messages go in as many packs as keep each under this (the replay broker refuses
# messages over 1 MiB; a junction's message is about 2 kB, so ~120 junctions a pack).
MAX_PACK_BYTES = 256 * 1024
_HEADER_FIXED_BYTES = 96  # {"v":1,"t":<float>,"junctions":[],"sizes":[]} and the newline, at most
_HEADER_PER_ID_BYTES = 12  # a comma in each list and a size of up to 10 digits


def pack(t_s: float, messages: Sequence[tuple[str, bytes]]) -> bytes:
    """The second `t_s`'s messages, (junction id, message) in the order given, as one payload."""
    header = {
        "v": MESSAGE_VERSION,
        "t": float(t_s),
        "junctions": [jid for jid, _ in messages],
        "sizes": [len(body) for _, body in messages],
    }
    return b"".join([orjson.dumps(header), b"\n", *(body for _, body in messages)])


def packs(t_s: float, messages: Sequence[tuple[str, bytes]], max_bytes: int = MAX_PACK_BYTES) -> list[bytes]:
    """The second `t_s`'s messages, in order, in as few packs as keep each within `max_bytes`
    (a message too long for a pack of its own still goes, alone); none for no messages. A
    receiver buffers the packs of one second as it would one pack."""
    out: list[bytes] = []
    start, size = 0, _HEADER_FIXED_BYTES
    for i, (jid, body) in enumerate(messages):
        cost = len(orjson.dumps(jid)) + _HEADER_PER_ID_BYTES + len(body)
        if i > start and size + cost > max_bytes:
            out.append(pack(t_s, messages[start:i]))
            start, size = i, _HEADER_FIXED_BYTES
        size += cost
    if start < len(messages):
        out.append(pack(t_s, messages[start:]))
    return out


def unpack(payload: bytes) -> tuple[float, list[tuple[str, bytes]]] | None:
    """(t_s, [(junction id, message), ...]) in the pack's order; None for anything else."""
    end = payload.find(b"\n", 0, MAX_HEADER_BYTES)
    if end < 0:
        return None
    try:
        header = orjson.loads(payload[:end])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(header, dict) or header.get("v") != MESSAGE_VERSION:
        return None
    t, jids, sizes = header.get("t"), header.get("junctions"), header.get("sizes")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not isinstance(jids, list):
        return None
    if not isinstance(sizes, list) or len(sizes) != len(jids):
        return None
    if not all(isinstance(j, str) for j in jids):
        return None
    if not all(type(n) is int and n >= 0 for n in sizes) or sum(sizes) != len(payload) - end - 1:
        return None
    out, at = [], end + 1
    for jid, n in zip(jids, sizes, strict=True):
        out.append((jid, payload[at : at + n]))
        at += n
    return float(t), out
