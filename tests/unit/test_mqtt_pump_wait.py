"""MqttPump.run_until without an idle callback waits in its poll until done() or the timeout: it
does not turn into a busy loop once idle_every_s has passed (before session 45 its next idle time
stayed in the past, so every later round polled with a timeout of 0: a lockstep region's node,
sim/mqtt_regions.py, spun a core while it waited for the field's next second)."""

from __future__ import annotations

import time

from controller.adapters.mqtt_pump import MqttPump


def test_waiting_without_idle_polls_a_few_times_not_in_a_busy_loop():
    pump = MqttPump()
    rounds = []
    run_once = pump.run_once
    pump.run_once = lambda timeout_s: (rounds.append(timeout_s), run_once(timeout_s))  # type: ignore[method-assign]
    t0 = time.monotonic()
    assert pump.run_until(lambda: False, 0.35, idle_every_s=0.05) is False
    assert time.monotonic() - t0 >= 0.35
    assert 1 <= len(rounds) <= 3  # one poll to the deadline (and a spare), not thousands
    assert rounds[0] > 0.3


def test_idle_still_runs_every_idle_every_s():
    pump = MqttPump()
    idles = []
    assert pump.run_until(lambda: False, 0.3, idle=lambda: idles.append(time.monotonic()), idle_every_s=0.05) is False
    assert 3 <= len(idles) <= 7
