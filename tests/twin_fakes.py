"""Stand-ins for sim/twin.py predict in the validation gate's unit tests: module-level (the gate
runs them in a spawned worker process, which imports them by name)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from controller.core.validation import Prediction


@dataclass(frozen=True)
class FakeResult:
    incumbent: Prediction
    candidate: Prediction
    run_s: float = 0.01


def predict_from_request(request: dict) -> FakeResult:
    """The request names the predicted delays: {"incumbent": {...}, "candidate": {...}}."""
    return FakeResult(Prediction(request["incumbent"]), Prediction(request["candidate"]))


def predict_timed(request: dict) -> FakeResult:
    """As predict_from_request, its runs' wall time the request's "run_s"."""
    return FakeResult(Prediction(request["incumbent"]), Prediction(request["candidate"]), float(request["run_s"]))


def predict_slowly(request: dict) -> FakeResult:
    time.sleep(float(request["sleep_s"]))
    return predict_from_request(request)


def predict_fails(request: dict) -> FakeResult:
    raise RuntimeError("no network named in [validation]")
