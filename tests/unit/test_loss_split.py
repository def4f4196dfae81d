"""sim/loss_split.py: each edge-interval's excess goes to the share of what do no harm was doing
at the junction whose approach it is."""

from sim.loss_split import share_of, spells

CHANGES = [
    {"junction": "A", "t_s": 600.0, "mode": "fixed"},
    {"junction": "A", "t_s": 1500.0, "mode": "policy"},
    {"junction": "B", "t_s": 100.0, "mode": "policy"},  # a return without a verdict never happens; kept policy
]


def test_shares_follow_the_junction_mode_in_time():
    modes = spells(CHANGES)
    assert share_of(None, 10.0, modes) == "no signal"
    assert share_of("C", 10.0, modes) == "never judged"
    assert share_of("B", 5000.0, modes) == "never judged"
    assert share_of("A", 599.0, modes) == "before first verdict"
    assert share_of("A", 600.0, modes) == "fixed mode"
    assert share_of("A", 1499.0, modes) == "fixed mode"
    assert share_of("A", 1500.0, modes) == "later policy spells"
