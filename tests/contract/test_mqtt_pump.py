"""Several MqttClients served by one thread (controller/adapters/mqtt_pump.py) against a real
Mosquitto: no network thread per client, each client keeps its own connection and credentials
(the broker's ACL still refuses what its user may not publish), QoS 1 messages published while
the broker is down arrive after the pump reconnects, and a pumped close flushes; all three also
with the pump gathering each connection's writes (controller/adapters/paho_write.py), which
writes a connection's queue in one send. A lockstep
replay's broker (`yields`) runs under SCHED_BATCH."""

from __future__ import annotations

import logging
import os
import threading

import pytest
from paho.mqtt import client as paho_client

from controller.adapters import paho_write
from controller.adapters.mqtt import MqttClient
from controller.adapters.mqtt_pump import MqttPump
from sim.broker import CONTROLLER, Broker, field_user
from tests.live_fixtures import skip_without_mosquitto, wait_until

skip_without_mosquitto()

pytestmark = pytest.mark.timeout(30)

NOT_AUTHORISED = 135
GATHER = pytest.mark.parametrize("gather", [False, True], ids=["paho_writes", "gathered"])
JUNCTIONS = ["J1", "J2", "J3"]


@pytest.fixture
def broker(tmp_path):
    with Broker(tmp_path / "broker", "t", JUNCTIONS) as b:
        yield b


def _paho_threads() -> list[str]:
    return [th.name for th in threading.enumerate() if th.name.startswith("paho")]


def _pumped_devices(broker: Broker, pump: MqttPump, got: list[tuple[str, bytes]]) -> dict[str, MqttClient]:
    """One field device per junction, each its own user, all on `pump`, subscribed to their plans."""
    devices = {}
    for jid in JUNCTIONS:
        dev = MqttClient(broker.settings(field_user(jid)), lambda topic, payload: got.append((topic, payload)))
        dev.subscribe([broker.topics.plan(jid)], qos=1)
        devices[jid] = dev.start(wait=False, pump=pump)
    for dev in devices.values():
        dev.wait_connected(10.0)
    return devices


@GATHER
def test_one_thread_serves_every_device_each_with_its_own_user(broker, clients, gather):
    pump = MqttPump(gather_writes=gather)
    plans: list[tuple[str, bytes]] = []
    devices = _pumped_devices(broker, pump, plans)
    clients.extend(devices.values())
    assert _paho_threads() == []  # no network thread: the test's thread serves them
    seen: list[tuple[str, bytes]] = []
    ctl = MqttClient(broker.settings(CONTROLLER), lambda topic, payload: seen.append((topic, payload)))
    clients.append(ctl)
    ctl.subscribe([f"{broker.topics.root}/+/detectors"], qos=1)
    ctl.start(wait=False, pump=pump).wait_connected(10.0)

    mids = {jid: dev.publish(broker.topics.detectors(jid), jid.encode(), qos=1) for jid, dev in devices.items()}
    wrong = devices["J1"].publish(broker.topics.detectors("J2"), b"J1 as J2", qos=1)
    for jid in JUNCTIONS:
        ctl.publish(broker.topics.plan(jid), f"plan {jid}".encode(), qos=1)

    def all_in() -> bool:
        acked = wrong in devices["J1"].acks and all(mid in devices[j].acks for j, mid in mids.items())
        return acked and len(plans) == 3 and len(seen) == 3

    assert pump.run_until(all_in, 10.0)

    assert sorted(payload for _topic, payload in seen) == [b"J1", b"J2", b"J3"]  # not J1's forgery
    assert devices["J1"].acks[wrong] == NOT_AUTHORISED
    assert all(devices[jid].acks[mid] in (0, 16) for jid, mid in mids.items())  # 16: no subscriber matched
    assert sorted(plans) == sorted((broker.topics.plan(j), f"plan {j}".encode()) for j in JUNCTIONS)
    assert _paho_threads() == []


@GATHER
def test_messages_published_while_the_broker_is_down_arrive_after_the_reconnect(broker, clients, gather):
    pump = MqttPump(gather_writes=gather)
    plans: list[tuple[str, bytes]] = []
    devices = _pumped_devices(broker, pump, plans)
    clients.extend(devices.values())
    seen: list[bytes] = []
    ctl = MqttClient(broker.settings(CONTROLLER, session_expiry_s=60.0), lambda topic, payload: seen.append(payload))
    clients.append(ctl)
    ctl.subscribe([f"{broker.topics.root}/+/detectors"], qos=1)
    ctl.start(wait=False, pump=pump).wait_connected(10.0)

    broker.stop()
    for jid, dev in devices.items():  # the pump has not noticed yet: the write finds the socket dead
        dev.publish(broker.topics.detectors(jid), f"late {jid}".encode(), qos=1)
    pump.run_until(lambda: False, 0.3)  # down a while: connection attempts refused
    assert not any(dev.connected.is_set() for dev in devices.values())
    broker.start()
    assert pump.run_until(lambda: len(seen) == 3, 15.0), seen
    assert sorted(seen) == [b"late J1", b"late J2", b"late J3"]
    assert all(dev.connects == 2 for dev in devices.values())
    assert _paho_threads() == []


@GATHER
def test_a_pumped_close_flushes_what_is_in_flight(broker, clients, gather):
    pump = MqttPump(gather_writes=gather)
    seen: list[bytes] = []
    ctl = MqttClient(broker.settings(CONTROLLER), lambda topic, payload: seen.append(payload)).start()  # own thread
    clients.append(ctl)
    ctl.subscribe([f"{broker.topics.root}/+/detectors"], qos=1)
    ctl.wait_connected(10.0)
    dev = MqttClient(broker.settings(field_user("J1"))).start(pump=pump)
    for k in range(200):
        dev.publish(broker.topics.detectors("J1"), b"%d" % k, qos=1)
    dev.close(flush_s=5.0)
    assert dev.pending() == 0 and not pump.clients
    assert wait_until(lambda: len(seen) == 200, 5.0)
    assert [int(p) for p in seen] == list(range(200))


def test_a_gathered_read_s_puback_goes_with_the_connection_s_next_packet(broker, clients, monkeypatch):
    """Gathered, what a read queues waits for the pump's next round: a device's PUBACK of its plan
    is not written after the read but with its status, the same bytes in one send (S, session 68);
    the broker then has both: the plan is acknowledged (nothing redelivered) and the status arrives."""
    pump = MqttPump(gather_writes=True)
    plans: list[tuple[str, bytes]] = []
    dev = _pumped_devices(broker, pump, plans)["J1"]
    clients.append(dev)
    statuses: list[bytes] = []
    ctl = MqttClient(broker.settings(CONTROLLER), lambda topic, payload: statuses.append(payload)).start()  # own thread
    clients.append(ctl)
    ctl.subscribe([broker.topics.status("J1")], qos=1)
    ctl.wait_connected(10.0)
    sends: list[bytes] = []  # the device's, by paho's send (alone) or the gathered writer's (paho_write)
    paho_send = paho_client.Client._sock_send

    def counted(client: paho_client.Client, buf: bytes) -> int:
        if client is dev._client:
            sends.append(bytes(buf))
        return paho_send(client, buf)

    monkeypatch.setattr(paho_client.Client, "_sock_send", counted)
    monkeypatch.setattr(paho_write, "_paho_send", counted)
    mid = ctl.publish(broker.topics.plan("J1"), b"plan", qos=1)
    assert pump.run_until(lambda: len(plans) == 1, 10.0)
    assert dev.wants_write() and sends == []  # the PUBACK waits in the queue
    dev.publish(broker.topics.status("J1"), b"status", qos=1, retain=True)
    assert pump.run_until(lambda: statuses == [b"status"] and dev.pending() == 0, 10.0)
    # one send: the PUBACK (of the broker's message id for the plan), then the status
    assert len(sends) == 1 and sends[0][:2] == b"\x40\x02" and sends[0].endswith(b"status")
    assert ctl.wait_ack(mid, 5.0) == 0 and plans == [(broker.topics.plan("J1"), b"plan")]


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
def test_a_yielding_broker_runs_under_batch_scheduling(tmp_path):
    with Broker(tmp_path / "plain", "t", JUNCTIONS) as plain, Broker(tmp_path / "y", "t", JUNCTIONS, yields=True) as y:
        assert os.sched_getscheduler(plain._proc.pid) == os.SCHED_OTHER
        assert os.sched_getscheduler(y._proc.pid) == os.SCHED_BATCH
        y.restart()
        assert os.sched_getscheduler(y._proc.pid) == os.SCHED_BATCH


def test_a_burst_is_read_in_one_call_until_the_socket_is_empty(broker, clients):
    """pump_read reads packet after packet until the socket would block: a subscriber with
    nothing in flight (paho's loop_read reads one packet a call then) takes a burst of 200
    messages in one call, without a poll per packet, and its callbacks see them in order."""
    pump = MqttPump()
    seen: list[bytes] = []
    ctl = MqttClient(broker.settings(CONTROLLER), lambda topic, payload: seen.append(payload))
    clients.append(ctl)
    ctl.subscribe([f"{broker.topics.root}/+/detectors"], qos=0)
    ctl.start(wait=False, pump=pump).wait_connected(10.0)
    dev = MqttClient(broker.settings(field_user("J1"))).start(wait=False, pump=pump)
    clients.append(dev)
    dev.wait_connected(10.0)
    sent = [f"{k:03d}".encode() for k in range(200)]
    for payload in sent:
        dev.publish(broker.topics.detectors("J1"), payload, qos=0)
    topic = broker.topics.detectors("J1").encode()
    burst = len(sent) * (1 + 1 + 2 + len(topic) + 1 + len(sent[0]))  # MQTT 5 PUBLISH, QoS 0, no properties
    assert wait_until(lambda: _unread_bytes(ctl) >= burst, 10.0)  # the whole burst waits in the socket
    ctl.pump_read()
    assert seen == sent


def _unread_bytes(client: MqttClient) -> int:
    """Bytes waiting in the client's socket (FIONREAD)."""
    import fcntl
    import struct
    import termios

    sock = client.pump_socket(0.0)
    assert sock is not None
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


class _PahoWithoutBurstRead:
    """A paho client as a release without the private calls pump_read's burst read makes
    (mqtt.PAHO_BURST_READ) and MqttClient.pending (`_out_messages`) would look from outside:
    those names missing, the rest paho's."""

    def __init__(self, client: object) -> None:
        object.__setattr__(self, "_real", client)

    def __getattr__(self, name: str) -> object:
        if name in ("_sock", "_packet_read", "_loop_rc_handle", "_out_messages"):
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "_real"), name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(object.__getattribute__(self, "_real"), name, value)


def test_a_paho_without_the_private_reader_still_reads_every_message(broker, clients, caplog):
    """R's finding 8 (session 24): pump_read's burst read calls paho's private `_sock`,
    `_packet_read` and `_loop_rc_handle`. A client whose paho lacks them is found out when it
    starts, said once in the log, and read by the public loop_read: every message of a burst
    still arrives, in order, over the pump's rounds; the clients close."""
    pump = MqttPump()
    seen: list[bytes] = []
    ctl = MqttClient(broker.settings(CONTROLLER), lambda topic, payload: seen.append(payload))
    dev = MqttClient(broker.settings(field_user("J1")))
    for client in (ctl, dev):
        client._client = _PahoWithoutBurstRead(client._client)  # type: ignore[assignment]
        clients.append(client)
    ctl.subscribe([f"{broker.topics.root}/+/detectors"], qos=0)
    with caplog.at_level(logging.WARNING, logger="controller.adapters.mqtt"):
        ctl.start(wait=False, pump=pump).wait_connected(10.0)
        dev.start(wait=False, pump=pump).wait_connected(10.0)
    assert len([r for r in caplog.records if "loop_read" in r.getMessage()]) == 1  # once per pump, not per client
    sent = [f"{k:03d}".encode() for k in range(200)]
    for payload in sent:
        dev.publish(broker.topics.detectors("J1"), payload, qos=0)
    assert pump.run_until(lambda: len(seen) >= len(sent), 10.0)
    assert seen == sent
    for client in (ctl, dev):  # close() reads pending(): no `_out_messages` either
        assert client.pending() == 0
        client.close(flush_s=0.2)
