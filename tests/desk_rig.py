"""The operators' desk behind the validation gate, for the desk tests
(tests/unit/test_validation_desk.py, test_validation_policy_desk.py): one ControllerService on
junction "J" (tests.junction_fixtures.two_phase) with an OperatorDesk whose validation runs a
stand-in twin (tests/twin_fakes.py) in the gate's real worker process. What the service sends,
what the desk answers and what it audits are kept in memory for the test to read.

    rig = DeskRig(lambda gate: DeskValidation(gate, make_request))
    rig.tick()
    rig.submit_body(body, "r1")
    rig.verdict("r1")["accepted"]
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from controller.adapters.audit import AuditStore
from controller.config import Config
from controller.core.messages import encode_detector_message, encode_status
from controller.core.validation import ValidationParams
from controller.model import SignalStatus
from controller.operators import OperatorDesk
from controller.service import ControllerService
from controller.validation import DeskValidation, ValidationGate
from tests import twin_fakes
from tests.junction_fixtures import two_phase

OPERATOR = "alice"
VERDICT_WAIT_S = 30.0  # wall seconds a test waits for the gate's worker process to answer
PHASE_S = 30.0  # seconds the rig's roadside shows each phase (two_phase: min 7, max 60 s green)


class DeskRig:
    """`validation(gate)` builds the desk's DeskValidation around a gate whose twin is
    twin_fakes.predict_from_request (and `predict_policy` for policy changes), or None: no gate."""

    def __init__(
        self,
        validation: Callable[[ValidationGate], DeskValidation] | None,
        cfg: Config,
        predict_policy: Callable[[dict], object] | None = None,
    ) -> None:
        self.sent: list = []
        self.replies: list[dict] = []
        self.audit = AuditStore(":memory:")
        gate = ValidationGate(
            ValidationParams(enabled=True, timeout_s=20.0),
            twin_fakes.predict_from_request,
            audit=self.audit,
            predict_policy=predict_policy,
        )
        self.desk = OperatorDesk(
            cfg.operators,
            ttl_s=cfg.roadside.plan_ttl_s,
            refresh_s=cfg.roadside.refresh_s,
            audit=self.audit,
            reply=lambda op, p: self.replies.append(json.loads(p)),
            validation=validation(gate) if validation is not None else None,
        )
        self.svc = ControllerService(
            {"J": two_phase()}, cfg, "adaptive", publish=lambda c, p: self.sent.append(c), desk=self.desk
        )
        self.t = 0.0

    def tick(self) -> None:
        """One second: J's detectors (one car each) and status, then the service's tick. The
        roadside reports its two phases in turn, PHASE_S each, whatever was sent: a status that
        held phase 0 for ever would make the gate refuse every plan once the other phase had
        waited max_red_s (120 s), and how many ticks a verdict takes depends on the machine's load."""
        self.t += 1.0
        j = self.svc.junctions["J"]
        self.svc.advance_clock(self.t)
        self.svc.on_detectors(
            encode_detector_message("J", self.t, 1.0, {d.id: ({"car": 1}, 0.3, 5.0) for d in j.detectors})
        )
        phase, in_phase_s = divmod(self.t, PHASE_S)
        status = SignalStatus("J", self.t, int(phase) % 2, False, in_phase_s, "p", 0, "adaptive")
        self.svc.on_status(encode_status(status))
        self.svc.tick(self.t)

    def submit_body(self, body: dict) -> dict:
        """The operator's message `body` (JSON) to the desk; returns the desk's answer."""
        self.desk.submit(json.dumps(body).encode(), OPERATOR, "J", self.svc.core, self.t)
        return self.replies[-1]

    def verdict(self, rid: str) -> dict:
        """Tick until the desk answers `rid` a second time (the verdict); AssertionError after
        VERDICT_WAIT_S wall seconds."""
        deadline = time.monotonic() + VERDICT_WAIT_S
        while time.monotonic() < deadline:
            self.tick()
            answers = [r for r in self.replies if r["id"] == rid]
            if len(answers) >= 2:
                return answers[-1]
            time.sleep(0.05)
        raise AssertionError(f"no verdict for {rid}")
