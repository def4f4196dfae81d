"""[harm] follow_program_in_force's parked evidence (H's 5d3604db, session 68) against a change of mode: the
cumulative-sum test gathered against a program the replay no longer runs is parked while the policy runs, and
cleared at a change of mode (docs/harm.md), so evidence from before a hold never resumes after it (R, session 68:
mutant H5d3-5, the parked tests kept across a change of mode, survived the other tests)."""

from __future__ import annotations

from dataclasses import replace

from controller.core import harm
from tests.unit.test_harm import FAST
from tests.unit.test_harm_program_window import _losing


def test_a_change_of_mode_clears_the_parked_evidence() -> None:
    before, t_s = _losing()
    state = replace(before, parked=(("night", 5.0),), program="day", evidence_of="day")
    fixed = harm._to_fixed(state, t_s, "worse", FAST)
    assert fixed.mode == "fixed" and fixed.parked == ()
    back = harm._switch(replace(fixed, parked=(("night", 5.0),)), "policy", t_s + 700.0, "hold over")
    assert back.mode == "policy" and back.parked == () and back.excess_s == 0.0
