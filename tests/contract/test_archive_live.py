"""The live service (`run`'s ServiceNode) records through a real Mosquitto broker into the archive."""

from __future__ import annotations

import pytest

from controller.adapters.archive import ArchiveRecorder, read_archive
from controller.adapters.mqtt import MqttClient
from controller.config import ArchiveConfig, Config, ServiceConfig
from controller.core.messages import encode_detector_message, encode_status
from controller.live import ServiceNode
from controller.model import SignalStatus
from sim.broker import CONTROLLER, Broker, field_user
from tests.live_fixtures import cross, skip_without_mosquitto, wait_until

skip_without_mosquitto()

pytestmark = pytest.mark.timeout(60)

SITE = "t"
JUNCTIONS = {"J1": cross("J1")}
CFG = Config(service=ServiceConfig(site=SITE, policy="max_pressure"))


def test_run_records_what_arrives_over_mqtt_and_what_it_sends(tmp_path):
    rec = ArchiveRecorder(tmp_path / "arch", SITE, ArchiveConfig(flush_s=0.05))
    with Broker(tmp_path / "broker", SITE, JUNCTIONS) as broker:
        node = ServiceNode(
            CFG, JUNCTIONS, broker.settings(CONTROLLER, client_id="tsc-t-ctl"), start_s=0.0, archive=rec
        ).start()
        field = MqttClient(broker.settings(field_user("J1")), None).start()
        try:
            t = broker.topics
            loops = [d.id for d in JUNCTIONS["J1"].detectors]
            for now in range(1, 21):
                before = node.client.received
                field.publish(
                    t.status("J1"),
                    encode_status(SignalStatus("J1", float(now), 0, False, float(now), "local", 0, "local")),
                    qos=1,
                )
                field.publish(
                    t.detectors("J1"),
                    encode_detector_message("J1", float(now), 1.0, {d: ({"car": 1}, 0.3, 4.0) for d in loops}),
                    qos=1,
                )
                assert wait_until(lambda: node.client.received >= before + 2)  # noqa: B023 (waited on here)
                node.tick(float(now))
        finally:
            field.close()
            node.close()
    rec.close()
    site = tmp_path / "arch" / SITE
    det = read_archive(site, "detectors")
    assert det.num_rows == 20 * len(loops) and sum(det["car"].to_pylist()) == 20 * len(loops)
    assert read_archive(site, "status").num_rows == 20
    plans = read_archive(site, "plans")
    assert plans.num_rows == node.service.plans_sent > 0
