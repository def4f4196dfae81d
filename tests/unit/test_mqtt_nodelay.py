"""MqttClient's CONNACK handler turns Nagle's delay off on the broker's TCP socket (small messages, latency matters),
TLS included, and leaves a transport whose socket is no socket.socket (a websocket's wrapper) as it is: before,
`setsockopt` on such a wrapper raised AttributeError on the network thread, and the client never read as
connected. No broker: the handler is called as paho calls it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from controller.adapters.mqtt import MqttClient, MqttSettings

SETTINGS = MqttSettings(host="127.0.0.1", port=1, username="controller", password="", client_id="c")


class _Paho:
    """paho's client as the handler sees it: only `socket()`."""

    def __init__(self, sock: object) -> None:
        self._sock = sock

    def socket(self) -> object:
        return self._sock


class _Wrapper:
    """A transport's socket that is no socket.socket (no setsockopt)."""


def _connack(client: MqttClient, sock: object) -> None:
    flags = mqtt.ConnectFlags(session_present=False)
    client._handle_connect(_Paho(sock), None, flags, ReasonCode(PacketTypes.CONNACK, "Success"), None)  # type: ignore[arg-type]


@pytest.fixture
def tcp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    yield sock
    sock.close()


def test_a_tcp_socket_sends_without_nagle_s_delay(tcp: socket.socket) -> None:
    assert tcp.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
    client = MqttClient(SETTINGS, lambda topic, payload: None)
    _connack(client, tcp)
    assert tcp.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    assert client.connected.is_set() and client.connects == 1


def test_a_socket_that_is_no_socket_is_left_as_it_is_and_the_client_connects() -> None:
    client = MqttClient(SETTINGS, lambda topic, payload: None)
    _connack(client, _Wrapper())
    assert client.connected.is_set() and client.connects == 1
