"""step._view builds the gate's SignalView field by field: equal to SignalView(...) of the same
values (phase, intergreen, green elapsed to now, red times, the crossings' red times), still frozen,
None without a status; and SignalView stays a plain frozen dataclass of those five fields (no
__post_init__), which the field-by-field build relies on."""

from __future__ import annotations

import dataclasses

import pytest

from controller.core.safety import SignalView
from controller.core.step import _view
from controller.model import SignalStatus


def _status(phase: int, intergreen: bool, in_phase_s: float, t_s: float) -> SignalStatus:
    return SignalStatus(
        junction="J",
        t_s=t_s,
        phase=phase,
        in_intergreen=intergreen,
        time_in_phase_s=in_phase_s,
        plan_id="p",
        seq=1,
        mode="adaptive",
    )


@pytest.mark.parametrize(
    ("intergreen", "in_phase_s", "t_s", "now_s", "elapsed"),
    [(False, 7.0, 100.0, 102.0, 9.0), (False, 7.0, 103.0, 102.0, 7.0), (True, 3.0, 100.0, 102.0, 0.0)],
)
def test_view_equals_the_dataclass_built_one(
    intergreen: bool, in_phase_s: float, t_s: float, now_s: float, elapsed: float
) -> None:
    red = (90.0, 95.5, 102.0)
    v = _view(_status(2, intergreen, in_phase_s, t_s), red, now_s)
    assert v == SignalView(2, intergreen, elapsed, red)
    assert type(v) is SignalView and hash(v) == hash(SignalView(2, intergreen, elapsed, red))
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.phase = 1  # type: ignore[misc]
    assert _view(None, red, now_s) is None
    crossing = (60.0,)  # a junction's crossings ([timing] crossings_max_red): their red times ride along
    assert _view(_status(2, intergreen, in_phase_s, t_s), red, now_s, crossing) == SignalView(
        2, intergreen, elapsed, red, crossing
    )


def test_signal_view_is_a_plain_frozen_dataclass_of_five_fields() -> None:
    names = [f.name for f in dataclasses.fields(SignalView)]
    assert names == ["phase", "in_intergreen", "green_elapsed_s", "red_since_s", "crossing_red_since_s"]
    assert all(f.init for f in dataclasses.fields(SignalView))
    assert not hasattr(SignalView, "__post_init__") and not hasattr(SignalView, "__slots__")
