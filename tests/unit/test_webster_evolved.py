"""webster.evolved / webster._new_state (session 46, issue 12) stand in for dataclasses.replace and the
WebsterState constructor on the re-plan path: they copy the fields without the dataclass machinery. They
are right only while WebsterState has no __post_init__, no init=False field and no default_factory; this
checks that, and that each builds the very object (field by field, the same values) the dataclass would."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from controller.core.policies import webster
from controller.core.policies.webster import WebsterState


def _same(a: WebsterState, b: WebsterState) -> None:
    assert type(a) is type(b) is WebsterState
    assert vars(a).keys() == vars(b).keys()
    for name in vars(a):
        assert getattr(a, name) is getattr(b, name), name


def test_the_state_has_what_a_plain_copy_can_build():
    assert not hasattr(WebsterState, "__post_init__")
    for f in dataclasses.fields(WebsterState):
        assert f.init, f.name
        assert f.default_factory is dataclasses.MISSING, f.name
    assert not hasattr(WebsterState, "__slots__")  # evolved writes the copy's __dict__


def test_evolved_is_replace():
    base = WebsterState(12.0, np.ones(3), np.zeros(3), steady_s=(10.0, 20.0), green_phase=1, residual_pcu=(1.0, 2.0))
    changes = {"green_phase": 0, "residual_pcu": (3.0, 2.0), "divided": True, "plan_s": (9.0, 21.0)}
    got = webster.evolved(base, **changes)
    _same(got, dataclasses.replace(base, **changes))
    assert base.green_phase == 1 and got.green_phase == 0  # a copy: the state given is unchanged
    _same(webster.evolved(base), dataclasses.replace(base))
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.green_phase = 2  # type: ignore[misc]


def test_new_state_is_the_constructor():
    arr, dep = np.ones(2), np.zeros(2)
    _same(webster._new_state(5.0, arr, dep), WebsterState(5.0, arr, dep))
    given = {"held_y": (0.3, 0.0), "retimed": True, "past_flows": (arr,)}
    _same(webster._new_state(5.0, arr, dep, **given), WebsterState(5.0, arr, dep, **given))


def test_an_unknown_field_is_refused_as_replace_refuses_it():
    base = WebsterState(0.0, None, None)
    with pytest.raises(TypeError, match="no field.*green_phse"):
        webster.evolved(base, green_phse=1)
    with pytest.raises(TypeError, match="no field.*retimd"):
        webster._new_state(0.0, None, None, retimd=True)
