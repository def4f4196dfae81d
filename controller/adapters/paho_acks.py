"""paho-mqtt's walk of the messages in flight after each acknowledgement, skipped when it can send nothing (exact).

paho 2.2 calls `_update_inflight` whenever a QoS 1 or 2 message it sent is acknowledged (`_do_on_publish`, on
its PUBACK or PUBCOMP) while `max_inflight_messages` is above 0: the walk goes through every message still in
`_out_messages`, in order, to send those queued behind the in-flight limit. A controller publishes a tick's plans
together (about 500 a region and tick at 5,000 junctions, replan_spread 1) and, pumped, reads their PUBACKs
after them: each PUBACK then walks the plans still unacknowledged, about n^2 / 2 steps a tick (its CPU for a
region's plans: BENCHMARKS.md, issue 12, D session 46).

The walk sends something only when a message waits queued (paho's state `mqtt_ms_queued`). Every message of
`_out_messages` is QoS 1 or 2 (paho sends QoS 0 without keeping it) and is either in flight, counted in
`_inflight_messages` (sent, awaiting its PUBACK, PUBREC or PUBCOMP), or not counted: queued, or waiting for a
connection (`mqtt_ms_publish`, after a reconnect). So while `_out_messages` holds no more messages than
`_inflight_messages` counts, none waits queued: paho's walk would send nothing and change nothing. And at the
in-flight limit it stops at its first message. In both cases `lean_update_inflight` gives paho's answer (success)
without the walk; otherwise it runs paho's walk. `drop_out_messages` empties `_out_messages` without resetting
the count: from then on the client walks every time, as paho does.

Messages are sent when paho sends them and in its order: the QoS of the plan topic, the in-flight limit
(MqttSettings.max_inflight, within the broker's receive maximum) and what waits while the broker is away are as
they were. `install` acts only on the paho releases this was read against (paho_lean.EXACT_FOR, 2.2: the walk,
`_do_on_publish`, `publish`, `drop_out_messages` and the reconnect's reset); elsewhere the client keeps paho's.
"""

from __future__ import annotations

import types

from paho.mqtt import client as paho_client
from paho.mqtt.enums import MQTTErrorCode

from controller.adapters.paho_read import exact_here  # the same releases (paho_lean.EXACT_FOR)

_SUCCESS = MQTTErrorCode.MQTT_ERR_SUCCESS
_paho_walk = paho_client.Client._update_inflight
_paho_drop = paho_client.Client.drop_out_messages


def install(client: paho_client.Client) -> bool:
    """The client skips the walk after an acknowledgement when it can send nothing, from now on (idempotent).
    Only on a paho release of EXACT_FOR: elsewhere nothing changes. Returns whether it is installed."""
    if not exact_here():
        return False
    if getattr(client, "_lean_acks", None) is not None:
        return True
    client._lean_acks = True  # type: ignore[attr-defined]  # False once drop_out_messages broke the count
    client._update_inflight = types.MethodType(lean_update_inflight, client)  # type: ignore[method-assign]
    client.drop_out_messages = types.MethodType(_dropping, client)  # type: ignore[method-assign]
    return True


def lean_update_inflight(self: paho_client.Client) -> MQTTErrorCode:
    """paho's `_update_inflight`, its walk skipped where it sends nothing: at the in-flight limit, or while every
    message kept is counted in flight (none queued). Called, as paho's, with `_out_message_mutex` held."""
    inflight = self._inflight_messages
    if self._max_inflight_messages <= inflight:
        return _SUCCESS  # paho's walk returns at its first message (or finds none)
    if len(self._out_messages) <= inflight and self._lean_acks:  # type: ignore[attr-defined]
        return _SUCCESS  # every message kept is in flight: none queued
    return _paho_walk(self)


def _dropping(self: paho_client.Client) -> list[paho_client.MQTTMessage]:
    """paho's `drop_out_messages`: its count of messages in flight is no longer theirs, so the walk always runs."""
    self._lean_acks = False  # type: ignore[attr-defined]
    return _paho_drop(self)
