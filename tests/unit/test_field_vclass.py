"""The field's loops count a vehicle by its SUMO vClass (sim/field.py FEED_CLASS_OF_VCLASS); a
vClass the feed has no class for (a tram on a shared lane) counts as a car. That was
silent: on RiLSA r1 with 120 bicycles, trams and cars over 600 s every one went to the
controller as a car. Each such vehicle type is now named once, at its first crossing. A car-sized
class that differs from `passenger` only in the lanes it may use (`ignoring`: Bologna's whole
demand) is a car, and is not named. Since session 49 a bicycle is a class of the feed's own
(it was counted as a car, named, before)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from sim.field import SumoField


def test_a_vehicle_class_the_feed_has_none_for_is_named_once_per_type(caplog):
    types = {"b1": "bike", "b2": "bike", "t1": "tram30", "c1": "car", "k1": "truck"}
    classes = {"bike": "bicycle", "tram30": "tram", "car": "passenger", "truck": "truck"}
    api = SimpleNamespace(
        vehicle=SimpleNamespace(getTypeID=types.__getitem__),
        vehicletype=SimpleNamespace(getVehicleClass=classes.__getitem__),
        TraCIException=RuntimeError,
    )
    field = SimpleNamespace(api=api, _class_of_type={})
    with caplog.at_level(logging.WARNING, logger="sim.field"):
        counted = [SumoField._class_of_vehicle(field, vid, "J1_n_0_stop") for vid in types]  # type: ignore[arg-type]
    assert counted == ["bicycle", "bicycle", "car", "car", "truck"]
    named = [r.getMessage() for r in caplog.records]
    assert len(named) == 1
    assert "type=tram30 vClass=tram crossed loop=J1_n_0_stop" in named[0] and "as a car" in named[0]


def test_car_sized_classes_count_as_cars_without_a_warning(caplog):
    classes = {"ign": "ignoring", "amb": "emergency", "pool": "hov", "police": "authority", "gov": "vip"}
    api = SimpleNamespace(
        vehicle=SimpleNamespace(getTypeID=lambda vid: vid),
        vehicletype=SimpleNamespace(getVehicleClass=classes.__getitem__),
        TraCIException=RuntimeError,
    )
    field = SimpleNamespace(api=api, _class_of_type={})
    with caplog.at_level(logging.WARNING, logger="sim.field"):
        counted = [SumoField._class_of_vehicle(field, vid, "J1_n_0_stop") for vid in classes]  # type: ignore[arg-type]
    assert counted == ["car"] * len(classes)
    assert caplog.records == []
