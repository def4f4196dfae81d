"""ServiceNode's start: an unknown policy name is the config's error, naming service.policy; any
other error while the service is built propagates as it is (it is not relabelled a policy error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import live
from controller.adapters.mqtt import MqttSettings
from controller.config import Config
from controller.errors import ConfigError
from controller.junctions import load_intersections

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = MqttSettings("127.0.0.1", 1, "controller", "", "tsc-test-node")


@pytest.fixture(scope="module")
def city():
    return load_intersections(ROOT / "intersections" / "city")


def test_an_unknown_policy_names_the_field(city):
    with pytest.raises(ConfigError, match=r"service\.policy.*unknown policy 'warp_drive'"):
        live.ServiceNode(Config(), city, SETTINGS, policy="warp_drive", lockstep=True)


def test_another_value_error_is_not_called_a_policy_error(city, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("junction J3: phase 2 has no green link")

    monkeypatch.setattr(live, "ControllerService", broken)
    with pytest.raises(ValueError, match="no green link") as caught:
        live.ServiceNode(Config(), city, SETTINGS, policy="adaptive", lockstep=True)
    assert not isinstance(caught.value, ConfigError)
