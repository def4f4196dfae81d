"""[harm] follow_program_in_force, a status that keeps changing programs (R, session 67; H, session 68). Each program
followed re-bases the evidence on it (test_harm_program_window.py), at most once per window_s; with the cumulative-sum
test restarted at zero each time, a status alternating two names once per window kept a loss that needs longer than
that to reach the budget from ever being judged (here: no verdict in 1,800 s, nor in 2,400 s, where a steady status
gives one at 856 s). The test gathered against each program is parked with it and resumed when the replay follows it
again: the verdict is delayed, not kept from being reached."""

from __future__ import annotations

from dataclasses import replace

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.step import Core
from controller.junctions import parse_intersection
from tests.unit.test_harm import FAST, NS_HEAVY, Field, WrongPhase
from tests.unit.test_harm_program_in_force import _raw

# a loss that takes ~650 s of evidence to reach its budget: longer than the ~400 s between two re-bases
SLOW = replace(FAST, follow_program_in_force=True, excess_budget_s=600.0)


def _flapping(seconds: int, period_s: int = 400) -> list[tuple[int, str, str]]:
    """WrongPhase (test_harm) at a light whose status names 'night' from 250 s, then 'day' (its static program) and
    'night' in turn, each for period_s (a cycle of either and more than window_s, 300 s); the switches of mode."""
    raw = _raw(base_greens_s=[20.0, 40.0], base_offset_s=7.0)
    raw["program_id"] = "day"
    j = parse_intersection(raw, "J.toml")
    cfg = replace(Config(), harm=SLOW, estimation=replace(Config().estimation, flow_window_s=60.0))
    core = Core({"J": Layout.build(j, cfg)}, WrongPhase(), cfg)
    field = Field(j, NS_HEAVY)
    state, status, out = core.initial_state(0.0), field.rc.status(0.0), []
    for t in range(1, seconds + 1):
        name = "night" if t >= 250 and ((t - 250) // period_s) % 2 == 0 else "day"
        state, result = core.step(state, [field.traffic(float(t))], [replace(status, program=name)], float(t))
        status = field.answer(result.commands, float(t))
        out += [(t, c.mode, c.reason) for c in result.mode_changes]
    return out


def test_a_status_alternating_programs_once_per_window_delays_the_verdict_but_does_not_prevent_it() -> None:
    changes = _flapping(1800)
    assert changes, "no verdict: the evidence restarted at each program followed"
    t_s, mode, why = changes[0]
    assert mode == "fixed" and why.startswith("policy worse than the fixed plan") and t_s > 856
