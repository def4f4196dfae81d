"""`schedule`, `[schedule] wait_kept_in_green`: a standing queue keeps, through its green, the wait
weight it had when that green began (issue 9: RiLSA_example2's east left, one lane against the
main road's two, lost each green at its minimum and starved)."""

from __future__ import annotations

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy
from controller.core.safety import SignalView
from tests.estimate_fixtures import signal_view, stop_line_estimate
from tests.junction_fixtures import two_phase

CFG = Config()


def _green_s(kept: bool) -> int:
    """N_T (phase 0) waited 90 s red while E/W (phase 1) were served; phase 0 green from t = 100 s
    with N_T's 12 PCU standing, discharging at 0.5 PCU/s; E/W 5 PCU each, red since t = 93 s.
    Returns how long phase 0 is kept (s)."""
    lay = Layout.build(two_phase(), CFG)
    p = SchedulePolicy(ScheduleParams(steady_s=0.0, saturation_floor=False, wait_kept_in_green=kept))
    s = p.init(lay, 0.0)
    queue = {"N_T": 12.0, "E_T": 5.0, "W_T": 5.0}
    est = stop_line_estimate(lay, queue, {})
    s, _ = p.decide(s, lay, est, signal_view(lay, 1, 50.0, 92.0, 90.0), 92.0)  # N_T red for 90 s
    red_since = tuple(93.0 if m.id in ("E_T", "W_T") else 2.0 for m in lay.junction.movements)
    ig = SignalView(0, True, 0.0, red_since)  # the intergreen into phase 0
    s, _ = p.decide(s, lay, est, ig, 99.0)
    for k in range(1, 60):
        queue["N_T"] = 12.0 - 0.5 * k
        est = stop_line_estimate(lay, queue, {"N_T": 0.5 * k})
        s, wish = p.decide(s, lay, est, signal_view(lay, 0, float(k), 100.0 + k, 7.0 + k), 100.0 + k)
        if wish is not None and wish.phase != 0:
            return k
    return 60


def test_a_long_waited_queue_keeps_its_weight_through_its_green():
    # off (the default): N_T's weight falls to 1 as its green starts; the E/W queues, discharging
    # twice as fast and ageing, take the green at phase 0's minimum (7 s)
    assert _green_s(kept=False) == 7
    # on: N_T weighs 1 + 90 / 30 through its green and is served on
    assert _green_s(kept=True) > 12
