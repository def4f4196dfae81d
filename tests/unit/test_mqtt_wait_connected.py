"""MqttClient.wait_connected without a broker (issue 12, restart safety): it gives up at its timeout with an
AdapterError naming the broker (no answer) or the client (no SUBACK), and with a `stop` event returns once that is
set, connected or not (E, session 55: a SIGTERM to `run` waited out connect_timeout_s). Each wait runs in a thread
of its own, so that a wait that never ends fails the test instead of hanging it."""

from __future__ import annotations

import threading
import time

import pytest

from controller.adapters.mqtt import MqttClient, MqttSettings
from controller.errors import AdapterError

SETTINGS = MqttSettings(host="127.0.0.1", port=1, username="controller", password="", client_id="c")


def _wait(client: MqttClient, timeout_s: float, stop: threading.Event | None = None) -> tuple[float, str]:
    """(seconds wait_connected took, its AdapterError's text or ""); fails if it is not back within 5 s."""
    out: list[tuple[float, str]] = []

    def run() -> None:
        t0 = time.monotonic()
        try:
            client.wait_connected(timeout_s, stop)
            out.append((time.monotonic() - t0, ""))
        except AdapterError as exc:
            out.append((time.monotonic() - t0, str(exc)))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5.0)
    if stop is not None:
        stop.set()  # a wait that did not end (the test fails) ends now
    assert out, "wait_connected did not return within 5 s"
    return out[0]


def _connected_without_suback() -> MqttClient:
    """A client whose CONNACK came and whose one SUBSCRIBE is not acknowledged."""
    client = MqttClient(SETTINGS, lambda topic, payload: None)
    client._first.set()
    client.connected.set()
    client._sub_pending.add(1)
    return client


@pytest.mark.parametrize("no_suback", [False, True])
def test_without_an_answer_it_gives_up_at_its_timeout(no_suback: bool) -> None:
    client = _connected_without_suback() if no_suback else MqttClient(SETTINGS, lambda topic, payload: None)
    took_s, error = _wait(client, 0.3)
    assert 0.25 <= took_s < 2.0
    want = "did not acknowledge the subscriptions of c" if no_suback else "no MQTT broker answered at 127.0.0.1:1"
    assert want in error


@pytest.mark.parametrize("no_suback", [False, True])
def test_a_stop_set_meanwhile_ends_the_wait_without_an_error(no_suback: bool) -> None:
    client = _connected_without_suback() if no_suback else MqttClient(SETTINGS, lambda topic, payload: None)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    took_s, error = _wait(client, 30.0, stop)
    assert 0.15 <= took_s < 2.0 and error == ""
