"""An exporter whose registry nothing collects (`ServiceMetrics(collected=False)`: `simulate` without a
metrics endpoint, the service process) computes only what its run report reads: the report is the one
a collected exporter of the same ticks gives, bit for bit, and the series only the exposition reads
(junction counters, modes, the signal states noted for the shadows) are left as they start."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry

from controller.adapters.metrics import PREFIX, ServiceMetrics
from controller.config import Config
from controller.core.messages import encode_status
from controller.model import SignalStatus
from controller.service import ControllerService
from tests.service_fixtures import JUNCTIONS, feed


class _Both:
    """The service's metrics observer: every call to both exporters, in the same order."""

    def __init__(self, *exporters: ServiceMetrics) -> None:
        self.exporters = exporters

    def __getattr__(self, name: str):
        def call(*args, **kwargs) -> None:
            for m in self.exporters:
                getattr(m, name)(*args, **kwargs)

        return call


def _run(ticks: int = 60) -> tuple[ServiceMetrics, CollectorRegistry, ServiceMetrics, CollectorRegistry]:
    cfg = Config()
    shown, unread = CollectorRegistry(), CollectorRegistry()
    seen = ServiceMetrics(shown, JUNCTIONS, cfg)
    alone = ServiceMetrics(unread, JUNCTIONS, cfg, collected=False)
    both = _Both(seen, alone)
    svc = ControllerService(JUNCTIONS, cfg, "adaptive", metrics=both, hand_over=lambda cmd: None)  # type: ignore[arg-type]
    for t in range(1, ticks + 1):
        for k, jid in enumerate(JUNCTIONS):
            svc.on_detectors(feed(jid, float(t), cars=(t + k) % 3))
            phase = (t // 10 + k) % 2  # the roadside's phase: 10 s each, the junctions out of step
            svc.on_status(encode_status(SignalStatus(jid, float(t), phase, t % 10 < 4, 0.0, "p", 0, "adaptive")))
        svc.tick(float(t))
    return seen, shown, alone, unread


def test_the_report_is_the_collected_exporters_bit_for_bit() -> None:
    seen, _shown, alone, _unread = _run()
    assert alone.updates == seen.updates >= 2 * 11  # every junction refreshed every update_s (5 s)
    report = seen.report()
    assert json.dumps(alone.report(), sort_keys=True) == json.dumps(report, sort_keys=True)
    run = report["run"]
    assert isinstance(run, dict) and run["throughput_pcu_h"] and run["delay_s"] is not None  # figures, not n/a


def test_nothing_only_the_exposition_reads_is_computed() -> None:
    seen, shown, alone, unread = _run(12)
    pushed = f"{PREFIX}_plans_pushed_total"
    assert shown.get_sample_value(pushed, {"junction": "J1"}) is not None
    assert unread.get_sample_value(pushed, {"junction": "J1"}) is None  # no junction series made
    assert unread.get_sample_value(f"{PREFIX}_service_time_seconds") == 0.0
    assert shown.get_sample_value(f"{PREFIX}_service_time_seconds") == 12.0
    assert seen._pending_folds > 0 and alone._pending_folds == 0  # no signal state noted for a shadow
    for j in alone._j.values():
        assert not j.folds.calls and j.c == {} and j.modes == {}
