"""The raw message rate of a broker route, as sim/bench_mqtt.py and sim/rabbit_bench.py measure it.

A paho subscriber (controller.adapters.mqtt.MqttClient, QoS 0) counts the messages of one topic
that a publisher in another process sends, until the publisher's b"end" message. The rate is
the messages received over the span between the first and the last one received.

    res = receive_rate(sub_settings, topic, lambda: subprocess.Popen([...]), wait_s=120.0)
    res["msg_s"], res["received"]
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.adapters.mqtt import MqttClient, MqttSettings

END = b"end"  # the publisher's last message: not counted, it ends the measurement


@dataclass
class _Seen:
    """receive_rate's count: messages, the first's and the last's arrival (perf_counter s)."""

    n: int = 0
    first: float | None = None
    last: float | None = None


def receive_rate(
    sub: MqttSettings, topic: str, start_publisher: Callable[[], subprocess.Popen[Any]], wait_s: float, sent: int
) -> dict[str, float]:
    """Subscribe to `topic` with `sub`, start the publisher, count until END or `wait_s` seconds.

    Returns {"received": messages counted, "sent": `sent`, "msg_s": received / span between the
    first and the last message (NaN when fewer than two distinct arrival times)}."""
    lock, done = threading.Lock(), threading.Event()
    seen = _Seen()

    def on_message(_topic: str, payload: bytes) -> None:
        now = time.perf_counter()
        if payload == END:
            done.set()
            return
        with lock:
            seen.n += 1
            seen.first = seen.first or now
            seen.last = now

    client = MqttClient(sub, on_message)
    client.subscribe([topic], qos=0)
    client.start()
    try:
        proc = start_publisher()
        done.wait(wait_s)
        proc.wait(60)
    finally:
        client.close()
    span = (seen.last or 0) - (seen.first or 0)
    return {"received": seen.n, "sent": sent, "msg_s": seen.n / span if span > 0 else float("nan")}
