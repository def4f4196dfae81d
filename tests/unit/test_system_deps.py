"""Under `make test` every system package the live tests need is installed.

The modules that start Mosquitto, Prometheus, RabbitMQ or Chromium skip themselves when the
program is missing, so that a developer without them can still run the rest. `make test`
installs them first (scripts/install-system-deps.sh) and sets TSC_REQUIRE_SYSTEM_DEPS=1: there a
missing program fails here, by name, instead of letting whole contract and integration layers
pass as skipped.
"""

from __future__ import annotations

import os
import shutil

import pytest

from controller.errors import AdapterError
from sim.broker import find_mosquitto
from sim.rabbit import find_rabbitmq

REQUIRED = os.environ.get("TSC_REQUIRE_SYSTEM_DEPS") == "1"
pytestmark = pytest.mark.skipif(not REQUIRED, reason="only under make test (TSC_REQUIRE_SYSTEM_DEPS=1)")


def _prometheus() -> None:
    path = shutil.which("prometheus") or "/usr/bin/prometheus"  # as tests/integration/test_prometheus.py
    if not os.access(path, os.X_OK):
        raise AdapterError(f"prometheus not found ({path}): install the Debian package `prometheus`")


def _chromium() -> None:
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):  # as tests/integration/test_replay.py
        raise AdapterError("chromium not found: install the Debian package `chromium`")


def _mosquitto_passwd() -> None:
    if shutil.which("mosquitto_passwd") is None:  # as tests/contract/test_mqtt_broker.py
        raise AdapterError("mosquitto_passwd not found: install the Debian package `mosquitto`")


def _openssl() -> None:
    if shutil.which("openssl") is None:
        raise AdapterError("openssl not found: install the Debian package `openssl`")


@pytest.mark.parametrize(
    "find",
    [find_mosquitto, _mosquitto_passwd, find_rabbitmq, _prometheus, _chromium, _openssl],
    ids=["mosquitto", "mosquitto_passwd", "rabbitmq", "prometheus", "chromium", "openssl"],
)
def test_the_system_package_is_installed(find):
    try:
        find()
    except AdapterError as e:
        pytest.fail(f"make test needs it (scripts/install-system-deps.sh): {e}")
