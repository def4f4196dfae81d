"""The service's in-flight window of QoS 1 messages: config.toml's `[broker] max_inflight` (one source: BrokerConfig's
default, MqttSettings' default and `run`'s settings), bounded as MQTT bounds it, and lowered at each connect to the
broker's MQTT 5 receive maximum where that is lower (a client must not have more unacknowledged; paho does not
honour it by itself). No broker: the CONNACK handler is called as paho calls it."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from controller.adapters.mqtt import MqttClient, MqttSettings
from controller.config import BrokerConfig, Config, load_config, with_section
from controller.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


class _Paho:
    """paho's client as the handler sees it: `socket()` (none here) and its window."""

    _max_inflight_messages = 0

    def socket(self) -> None:
        return None


def _connack(client: MqttClient, receive_max: int | None) -> _Paho:
    paho = _Paho()
    props = None
    if receive_max is not None:
        props = Properties(PacketTypes.CONNACK)  # type: ignore[no-untyped-call]
        props.ReceiveMaximum = receive_max
    flags = mqtt.ConnectFlags(session_present=False)
    client._handle_connect(paho, None, flags, ReasonCode(PacketTypes.CONNACK, "Success"), props)  # type: ignore[arg-type]
    assert client.connected.is_set()
    return paho


def test_run_s_window_is_config_toml_s_one_source() -> None:
    toml = load_config(ROOT / "config.toml").broker.max_inflight
    assert toml == BrokerConfig.max_inflight == MqttSettings("h", 1, "u", "p", "c").max_inflight
    cfg = with_section(Config(), "broker", {"max_inflight": 250}, "test")
    assert MqttSettings.from_config(cfg.broker, "tsc-x", password="").max_inflight == 250


@pytest.mark.parametrize("bad", [0, -1, 65536])
def test_a_window_mqtt_cannot_have_is_refused_naming_the_field(bad: int) -> None:
    with pytest.raises(ConfigError, match=r"broker\.max_inflight"):
        with_section(Config(), "broker", {"max_inflight": bad}, "test")


@pytest.mark.parametrize(
    ("mine", "receive_max", "window"),
    [(1000, 20, 20), (20, 1000, 20), (1000, 1000, 1000), (300, None, 300), (0, 50, 50), (0, None, 0)],
)
def test_the_window_is_the_broker_s_receive_maximum_where_that_is_lower(
    mine: int, receive_max: int | None, window: int
) -> None:
    client = MqttClient(MqttSettings("127.0.0.1", 1, "u", "", "c", max_inflight=mine))
    assert _connack(client, receive_max)._max_inflight_messages == window


def test_each_connect_sets_the_window_again_from_the_settings() -> None:
    client = MqttClient(MqttSettings("127.0.0.1", 1, "u", "", "c", max_inflight=500))
    paho = _connack(client, 20)
    assert paho._max_inflight_messages == 20
    flags = mqtt.ConnectFlags(session_present=True)
    client._handle_connect(paho, None, flags, ReasonCode(PacketTypes.CONNACK, "Success"), None)  # type: ignore[arg-type]
    assert paho._max_inflight_messages == 500  # a broker without a receive maximum now: the setting's
