"""The exporter's mode gauges, fallback and do-no-harm switch counts over random runs of ticks:
each tick's gauges say junction_mode of that tick's inputs (feed stale, the roadside's mode,
the core's harm mode, an override), the fallbacks count the entries into fallback after the
first mode, the switches follow the core's count. ServiceMetrics sets the gauges only when
those inputs change; this checks that nothing is missed when they do."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.adapters.metrics import MODES, junction_mode
from controller.core import shadow
from controller.core.step import TickResult
from tests.metrics_fixtures import core_state, exporter, status, value

TICK = st.tuples(
    st.booleans(),  # feed stale
    st.sampled_from([None, "local", "adaptive"]),  # the roadside's mode (None: no status yet)
    st.sampled_from([None, "policy", "fixed"]),  # the core's do-no-harm mode (None: no harm state)
    st.booleans(),  # an override in force
    st.integers(0, 2),  # switches added this tick
    st.booleans(),  # on the city's plan this tick (TickResult.fixed: its own verdict, or held by its group)
    st.sampled_from([None, "policy P failed: A", "policy P failed: B"]),  # its decision raised (TickResult.failed)
)


@settings(max_examples=60, deadline=None)
@given(ticks=st.lists(TICK, min_size=1, max_size=12))
def test_mode_gauges_follow_every_tick(
    ticks: list[tuple[bool, str | None, str | None, bool, int, bool, str | None]],
) -> None:
    m, reg, js = exporter()
    gains = shadow.Gains(40.0, 50.0, 900.0, 880.0, 1000.0)
    switches, last_mode, fallbacks, seen = 0, None, 0, 0
    for t, (stale, roadside, harm_mode, manual, more, held, raised) in enumerate(ticks):
        switches += more
        fields = {"stale": stale, "status": status("J", float(t), 0, mode=roadside) if roadside else None}
        state = core_state(js, float(t), J=fields)
        if harm_mode is not None:
            base = state.junctions["J"]
            kept = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
            kept["harm"] = SimpleNamespace(mode=harm_mode, switches=switches, gains=gains)
            state = replace(state, junctions={"J": SimpleNamespace(**kept)})
            seen = switches  # the core's count, as the exporter last saw it
        on_plan = held and not stale  # the core dispatches no stale light (step.py _dispatch)
        failed = (("J", raised),) if raised and not stale else ()  # nor does it decide one (no decision to fail)
        result = TickResult(
            manual=("J",) if manual else (), fixed=("J",) if on_plan and not failed else (), failed=failed
        )
        m.tick_done(state, result, float(t), 1e-3)
        mode = junction_mode(stale, roadside, "fixed" if on_plan else harm_mode, manual=manual, failed=bool(failed))
        fallbacks += mode == "fallback" and last_mode not in (None, "fallback")
        last_mode = mode
        assert {k: value(reg, "tsc_junction_mode", junction="J", mode=k) for k in MODES} == {
            k: float(k == mode) for k in MODES
        }
        assert value(reg, "tsc_junction_fallbacks_total", junction="J") == fallbacks
        infos = [s.labels for f in reg.collect() if f.name == "tsc_junction_failed_info" for s in f.samples]
        assert infos == [{"junction": "J", "reason": r} for _, r in failed]
    assert value(reg, "tsc_junction_harm_switches_total", junction="J") == seen


@settings(max_examples=30, deadline=None)
@given(ticks=st.lists(TICK, min_size=1, max_size=8))
def test_a_junction_refused_at_start_stays_refused_whatever_the_others_do(
    ticks: list[tuple[bool, str | None, str | None, bool, int, bool, str | None]],
) -> None:
    """R is refused at start (ServiceMetrics.junctions_refused, as the service reports it): the core
    never ticks it, so its gauges read refused = 1 and the other modes 0 all run long, while J's
    follow its inputs; R never counts a fallback."""
    m, reg, js = exporter("J", "R")
    m.junctions_refused({"R": "<R>: phases[0].state: shown by no phase of the roadside's program"})
    served = {"J": js["J"]}
    for t, (stale, roadside, _harm, manual, _more, _held, _raised) in enumerate(ticks):
        fields = {"stale": stale, "status": status("J", float(t), 0, mode=roadside) if roadside else None}
        m.tick_done(core_state(served, float(t), J=fields), TickResult(manual=("J",) if manual else ()), float(t), 1e-3)
        mode = junction_mode(stale, roadside, manual=manual)
        for jid, want in (("R", "refused"), ("J", mode)):
            got = {k: value(reg, "tsc_junction_mode", junction=jid, mode=k) for k in MODES}
            assert got == {k: float(k == want) for k in MODES}, jid
    assert value(reg, "tsc_junction_fallbacks_total", junction="R") == 0
