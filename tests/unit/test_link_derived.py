"""What `[max_pressure] exit_room_held` reads of the network's statics at every decision is derived once
(issue 12, E session 58): the direct exits of a junction (phases.direct_exits, through LinkLayout.derived)
and its program's longest reds (spill_red.plan_red_s, through Layout.derived, in phases.red_left_s). On
Bologna joined they were rebuilt at each of held_exit_ratio's three reads of the exits and at each red
left read; kept, the decisions are the same to the bit (the same functions of the same statics)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Layout, LinkLayout
from controller.core.policies import phases
from controller.core.policies.spill_red import plan_red_s
from controller.core.safety import SignalView
from tests.estimate_fixtures import mixed_junctions, ring_chained, short_link_layouts


def _network() -> tuple[dict[str, Layout], LinkLayout]:
    cfg = Config()
    layouts = {jid: Layout.build(j, cfg) for jid, j in ring_chained(mixed_junctions()).items()}
    return layouts, LinkLayout.build(layouts, cfg.estimation)


def _linked() -> tuple[dict[str, Layout], LinkLayout]:
    """short_link_layouts' J and K, J's N_T leaving over K's north approach, K downstream of J."""
    pair = short_link_layouts()
    layouts = {"J": Layout.build(replace(pair["J"].junction, downstream=("K",))), "K": pair["K"]}
    return layouts, LinkLayout.build(layouts)


def test_a_links_derived_quantity_is_built_once_per_layout_object():
    layouts, links = _network()
    calls: list[str] = []

    def build(layout: Layout, lk: LinkLayout) -> tuple[str, int]:
        calls.append(layout.junction.id)
        return layout.junction.id, len(lk.edge_movements)

    first = next(iter(layouts.values()))
    assert links.derived(first, build) == (first.junction.id, len(layouts))
    assert links.derived(first, build) is links.derived(first, build)
    assert calls == [first.junction.id]
    again = Layout.build(first.junction, Config())  # an equal layout, another object: built for it
    links.derived(again, build)
    assert calls == [first.junction.id, first.junction.id]


def test_direct_exits_are_the_links_reading_kept():
    layouts, links = _linked()
    view = phases.NetworkView(links, None, {}, layouts)  # type: ignore[arg-type]  # direct_exits reads the links only
    linked = 0
    for lay in layouts.values():
        got = phases.direct_exits(lay, view)
        assert got == phases._direct_exits(lay, links.edge_movements)
        assert phases.direct_exits(lay, view) is got  # kept, not rebuilt
        linked += sum(d is not None for d in got)
    assert linked == 1  # J's N_T: its exit edge is K's approach


def test_red_left_reads_the_programs_reds_derived_once(monkeypatch):
    layouts, _ = _network()
    lay = next(x for x in layouts.values() if len(x.junction.phases) > 1)
    j = lay.junction
    waited = np.flatnonzero(~lay.serves[0])  # movements the first stage does not serve
    assert len(waited)
    view = SignalView(0, False, 5.0, tuple([100.0] * len(j.movements)))
    built: list[str] = []

    def counted(junction):
        built.append(junction.id)
        return plan_red_s(junction)

    monkeypatch.setattr(phases, "plan_red_s", counted)
    left = [phases.red_left_s(lay, view, waited, now_s) for now_s in (110.0, 111.0, 110.0)]
    assert built == [j.id]  # once for this layout, whatever the calls
    assert left[0] == left[2] and left[1] >= left[0] - 1.0
    kept = lay.derived(phases._plan_red_s)
    assert np.array_equal(kept, plan_red_s(j)) and not kept.flags.writeable


def _junction_id(layout: Layout, links: LinkLayout) -> str:
    return layout.junction.id


def _movement_count(layout: Layout, links: LinkLayout) -> int:
    return len(layout.junction.movements)


def test_each_layout_and_each_function_keeps_its_own_reading():
    """The memo is keyed by the function and the layout object: readings of several junctions asked in turn are each
    built once, and two functions of the same layout do not read each other's (R, mutations of LinkLayout.derived's
    key: without the layout every call rebuilt, without the function the second read the first's)."""
    layouts, links = _network()
    calls: list[str] = []

    def counted(layout: Layout, lk: LinkLayout) -> str:
        calls.append(layout.junction.id)
        return _junction_id(layout, lk)

    for _ in range(2):
        for lay in layouts.values():
            assert links.derived(lay, counted) == lay.junction.id
            assert links.derived(lay, _junction_id) == lay.junction.id
            assert links.derived(lay, _movement_count) == len(lay.junction.movements)
    assert calls == [lay.junction.id for lay in layouts.values()]
