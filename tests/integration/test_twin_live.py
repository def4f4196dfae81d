"""The live wiring of the validation gate with the real SUMO twin (spider, junction A1, 300 s
horizon): the service's recent counts (fed by the detector messages it accepts) become the twin's
demand, an operator's plan starving A1's heaviest approach is rejected with the predicted figures
and never sent, and the verdict is in the audit store. Built by controller/live.py
desk_validation from a config with [validation] enabled."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from controller.adapters.audit import AuditStore
from controller.config import Config, load_config
from controller.core.messages import encode_detector_message
from controller.core.override import OverrideRequest, encode_override
from controller.junctions import load_intersections
from controller.live import desk_validation
from controller.model import GREEN, CyclePlan, Intersection
from controller.operators import OperatorDesk
from controller.service import ControllerService
from controller.validation import AUDIT_KIND
from sim.netimport import import_network

ROOT = Path(__file__).resolve().parents[2]
NET = ROOT / "sim" / "scenarios" / "spider" / "spider.net.xml"

pytestmark = [pytest.mark.timeout(120), pytest.mark.wallclock]  # a 100 s wall deadline: run alone


@pytest.fixture(scope="module")
def spider(tmp_path_factory) -> dict[str, Intersection]:
    folder = tmp_path_factory.mktemp("spider_models")
    import_network(NET, folder, load_config(ROOT / "config.toml"))
    return load_intersections(folder)


def test_a_starving_plan_is_rejected_by_the_live_twin_from_the_services_counts(spider, tmp_path):
    cfg = twin_config(tmp_path)
    audit, replies, sent = AuditStore(tmp_path / "audit.sqlite"), [], []
    recent, validation = desk_validation(cfg, spider, audit)
    validation = dataclasses.replace(
        validation, make_request=dataclasses.replace(validation.make_request, work_dir=str(tmp_path / "twin"))
    )
    desk = OperatorDesk(
        cfg.operators,
        ttl_s=cfg.roadside.plan_ttl_s,
        refresh_s=cfg.roadside.refresh_s,
        reply=lambda op, p: replies.append(json.loads(p)),
        audit=audit,
        validation=validation,
    )
    svc = ControllerService(spider, cfg, "webster", publish=lambda c, p: sent.append(c), desk=desk, recent=recent)
    j = spider["A1"]
    heavy = j.movements[0].from_edge
    feed_five_minutes(svc, j, heavy)
    totals = recent.totals(300.0)
    assert sum(c[0] for c in totals.values()) > 0 and set(totals) <= {d.id for d in j.detectors}
    greens = starving_greens(j, heavy)
    req = OverrideRequest(
        "A1", "alice", "plan", "bad1", 300.0, for_s=600.0, phase_order=tuple(p.index for p in j.phases), greens_s=greens
    )
    desk.submit(encode_override(req), "alice", "A1", svc.core, 300.0)
    assert replies[-1]["validating"] is True
    t, deadline = 300.0, time.monotonic() + 100

    def verdicts() -> list[str]:  # webster's own first plan (300 s) is validated beside the operator's
        return sorted(r.actor for r in audit.query(kind=AUDIT_KIND))

    while (len([r for r in replies if r["id"] == "bad1"]) < 2 or len(verdicts()) < 2) and time.monotonic() < deadline:
        t += 1.0
        svc.advance_clock(t)
        svc.tick(t)
        time.sleep(0.1)
    final = replies[-1]
    assert final["id"] == "bad1" and not final["accepted"] and "rejected" in final["reason"], final
    assert "A1: predicted delay" in final["reason"]
    assert not [c for c in sent if isinstance(c, CyclePlan) and "manual" in c.plan_id]
    # the operator's verdict; webster's own first plan (300 s) has its verdict too since its evidence
    # starts at its first command ([harm] evidence_from_first_command: before, do no harm sent A1 to
    # fixed at 300 s on the city's program's seconds, and webster sent no plan)
    (rec,) = [r for r in audit.query(kind=AUDIT_KIND) if r.actor == "alice"]
    assert [r.actor for r in audit.query(kind=AUDIT_KIND) if r.actor != "alice"] == ["policy webster"]
    assert rec.payload["outcome"] == "rejected" and rec.payload["predicted"]["candidate"]["delay_s"]["A1"] > 0


def twin_config(tmp_path: Path) -> Config:
    """config.toml's defaults with the live twin on (NET, 300 s horizon, 90 s timeout), do no harm's evidence
    from the first command, and webster."""
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text(
        f'[validation]\nenabled = true\nnetwork = "{NET}"\nhorizon_s = 300.0\ntimeout_s = 90.0\n'
        "[harm]\nevidence_from_first_command = true\n"  # webster's first plan is sent (below)
    )
    cfg = load_config(cfg_file)
    return dataclasses.replace(cfg, service=dataclasses.replace(cfg.service, policy="webster"))


def feed_five_minutes(svc: ControllerService, j: Intersection, heavy: str) -> None:
    """5 min of A1's loops: 30 cars per stop loop on the heavy approach, 10 elsewhere, ticked every second."""
    for t in range(1, 301):
        dets = {
            d.id: ({"car": int(t % (10 if d.lane.startswith(heavy) else 30) == 0)}, 0.1, 8.0)
            for d in j.detectors
            if d.kind == "stop"
        }
        svc.advance_clock(float(t))
        svc.on_detectors(encode_detector_message("A1", float(t), 1.0, dets))
        svc.tick(float(t))


def starving_greens(j: Intersection, heavy: str) -> tuple[float, ...]:
    """The heavy approach's through phase cut to its minimum green, the others 10 s longer (those over 10 s)."""
    through = next(m for m in j.movements if m.from_edge == heavy and m.turn == "through")
    hp = next(p.index for p in j.phases if all(p.state[k] in GREEN for k in through.links))
    return tuple(
        p.min_green_s if p.index == hp else p.base_green_s + (10.0 if p.base_green_s > 10 else 0.0) for p in j.phases
    )
