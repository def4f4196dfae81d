"""`[timing] crossings_max_red` (on since 57f06c1) under a network policy that reads the lights' signal views
(`reads_signals`, as max_pressure with its default stall_s): the gate then takes each junction's SignalView from the
tick's NetworkView (core/step.py _coordinate, _views), which must carry the crossings' red times as the view the
core builds itself does. Without them the gate's bounded view has a red time too few and every wish is refused
(R, session 61: dropping them from _coordinate's views passed every test)."""

from __future__ import annotations

from tests.unit.test_crossings_max_red import MAX_RED_S, Twins, closed_loop_greens, reds_of_stage, scramble


class SignalReadingTwins(Twins):
    """Twins as a network policy that reads the signal views (NetworkView.signals)."""

    uses_network = True
    reads_links = False
    reads_signals = True

    def decide(self, state, layout, est, signal, now_s, network=None):
        assert network is not None and network.signals  # the views the gate takes too (_views)
        return super().decide(state, layout, est, signal, now_s)


def test_a_policy_reading_the_signal_views_runs_as_one_that_does_not():
    plain, reading = Twins(), SignalReadingTwins()
    shown = closed_loop_greens(scramble([4]), reading)
    assert shown == closed_loop_greens(scramble([4]), plain)
    reds = reds_of_stage(shown, 2)
    assert len(reds) >= 8 and max(reds) <= MAX_RED_S
    assert reading.seen == plain.seen == {(4, 4)}  # the policy sees the four vehicle movements only
