"""`bus_lane` movements (import-net's [timing] bus_lane_movements), with [estimation] bus_lane_unopposed: a 'g' turn is
served protected where it gives way to some movement and to bus lanes' only (estimation._phase_service,
_yields_to_buses_only). Not a turn that gives way to no movement (it may give way to a crossing's walkers), nor in a
phase that does not serve it, nor with the key off.

The junction: tests/junction_fixtures.py's four-phase one, S_T made a bus lane; N_L (permitted in phase 0, protected
in phase 1) gives way to S_T only, S_L (permitted in phase 0) to no movement."""

from __future__ import annotations

from dataclasses import replace

from controller.config import Config
from controller.core.estimation import Layout
from controller.junctions import parse_intersection
from tests.junction_fixtures import four_phase_raw

ON = replace(Config(), estimation=replace(Config().estimation, bus_lane_unopposed=True))


def _layout(bus_lane: bool, cfg: Config = ON) -> tuple[Layout, list[str]]:
    raw = four_phase_raw()
    for m in raw["movements"]:
        m["yields_to"] = {"N_L": ["S_T"], "S_L": []}.get(m["id"], [])
        if m["id"] == "S_T" and bus_lane:
            m["bus_lane"] = True
    lay = Layout.build(parse_intersection(raw, "bus_lane.toml"), cfg)
    return lay, [m.id for m in lay.junction.movements]


def test_a_turn_giving_way_to_a_bus_lane_only_is_protected_where_it_is_served() -> None:
    lay, ids = _layout(bus_lane=True)
    n_l, s_l = ids.index("N_L"), ids.index("S_L")
    assert lay.protected[:, n_l].tolist() == [True, True, False, False]  # 'g' in 0, 'G' in 1, red in 2 and 3
    assert lay.protected[:, s_l].tolist() == [False, True, False, False]  # gives way to no movement: as before
    plain, _ = _layout(bus_lane=False)
    assert plain.protected[:, n_l].tolist() == [False, True, False, False]  # no bus lane: main's reading
    off, _ = _layout(bus_lane=True, cfg=Config())
    assert off.protected[:, n_l].tolist() == [False, True, False, False]  # the key off (as shipped)


def test_a_turn_with_a_link_switched_off_is_not_protected() -> None:
    """A turn one of whose links the stage switches off ('o': it yields as at a priority sign, read as served with
    [estimation] off_is_permitted) is not served by 'g' alone: permitted, bus lane or not."""
    raw = four_phase_raw()
    raw["n_links"] = 9
    for ph, extra in zip(raw["phases"], "oGrr", strict=True):
        ph["state"] += extra  # link 8: N_L's second link, off in phase 0 and protected in phase 1
    for m in raw["movements"]:
        m["yields_to"] = ["S_T"] if m["id"] == "N_L" else []
        m["links"] = [*m["links"], 8] if m["id"] == "N_L" else m["links"]
        m["bus_lane"] = m["id"] == "S_T"
    cfg = replace(ON, estimation=replace(ON.estimation, off_is_permitted=True))
    lay = Layout.build(parse_intersection(raw, "bus_lane_off.toml"), cfg)
    n_l = [m.id for m in lay.junction.movements].index("N_L")
    assert lay.serves[0, n_l] and lay.protected[:, n_l].tolist() == [False, True, False, False]
