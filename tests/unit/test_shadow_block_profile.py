"""[harm] block_profile: the fixed side's exit blockage read by the age of its own green from the stop-line loops'
standing by the age of the greens shown (shadow.learn_profile, shadow.profile_block), and a green's age that runs
through a second blocked whole (shadow.serve's `green`).

The two-phase junction of tests/junction_fixtures.py (as tests/unit/test_shadow.py): saturation flow 1800 PCU/h
(0.5 PCU/s), start-up loss 2 s, extension 2 s, base program N/S 30 s, intergreen 5 s, E/W 25 s, intergreen 5 s (65 s).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core import harm, netshadow, shadow
from controller.core.estimation import Estimate, Layout
from controller.core.harm import HarmParams
from controller.model import SignalStatus
from tests.junction_fixtures import two_phase

LONG = 1e9  # window: no forgetting
N_T, E_T = 0, 1  # N/S phase 0 serves N_T; E/W phase 1 serves E_T


def _layout() -> Layout:
    return Layout.build(two_phase(), Config())


def _program(lay: Layout) -> shadow.Program:
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    return replace(prog, zone_m=np.zeros_like(prog.zone_m))  # no transit: counted at the stop line at once


def _status(phase: int, t: float, intergreen: bool = False) -> SignalStatus:
    return SignalStatus("J", t, phase, intergreen, 0.0, "p", 1, "adaptive")


def _queued(lay: Layout, pcu: float, block_now: float, block: float = 0.0) -> Estimate:
    """`pcu` standing on every movement, the last second's blockage `block_now` and the average `block` on each."""
    n = len(lay.junction.movements)
    e = Estimate.empty(lay, 0.0)
    return replace(
        e,
        departures_pcu=np.zeros(n),
        queue_pcu=np.full(n, pcu),
        block=np.full(n, block),
        block_now=np.full(n, block_now),
    )


def test_the_profile_learns_the_standing_by_the_age_of_a_queued_protected_green():
    n = 3
    standing = np.array([1.0, 1.0, 1.0])
    service = np.array([1.0, 0.4, 1.0])  # the second one permitted only: not read
    age = np.array([5.0, 5.0, 0.0])  # the third one inside its start-up loss (2 s): not read
    queue = np.array([3.0, 3.0, 3.0])
    p = shadow.learn_profile(None, standing, service, age, 2.0, queue, np.zeros(n, dtype=bool), 1.0, 1.0)
    assert p.shape == (2 * shadow.AGE_BINS, n)
    assert p[5, 0] == 1.0 and p[shadow.AGE_BINS + 5, 0] == 1.0  # one second read at age 5, the loop stood
    assert p[:, 1:].sum() == 0.0
    p = shadow.learn_profile(p, np.zeros(n), service, age, 2.0, queue, np.zeros(n, dtype=bool), 1.0, 0.5)
    assert p[5, 0] == 1.5 and p[shadow.AGE_BINS + 5, 0] == 0.5  # forgotten by half, then a second that moved
    short = shadow.learn_profile(None, standing, service, age, 2.0, np.full(n, 0.5), np.zeros(n, dtype=bool), 1, 1)
    blind = shadow.learn_profile(None, standing, service, age, 2.0, queue, np.ones(n, dtype=bool), 1.0, 1.0)
    assert short.sum() == 0.0 and blind.sum() == 0.0  # no queue standing, or no loops: nothing read
    old = shadow.learn_profile(None, standing, service, np.full(n, 500.0), 2.0, queue, np.zeros(n, dtype=bool), 1, 1)
    assert old[shadow.AGE_BINS - 1, 0] == 1.0  # a green older than the profile: its last row


def test_the_fixed_side_reads_the_profile_at_its_own_greens_age():
    n = 4
    p = np.zeros((2 * shadow.AGE_BINS, n))
    p[3, :], p[shadow.AGE_BINS + 3, :] = 4.0, 1.0  # at age 3: the loop stood a quarter of the seconds read
    measured = np.full(n, 0.9)
    green = np.array([True, True, False, True])
    same = np.array([False, True, False, False])
    age = np.array([3.0, 3.0, 3.0, 7.0])
    got = shadow.profile_block(p, age, green, same, measured)
    # the profile at its age; the same green shown: the measured; red: the measured; an age never read: the measured
    assert got.tolist() == [0.25, 0.9, 0.9, 0.9]
    assert shadow.profile_block(None, age, green, same, measured) is measured  # nothing learnt yet


def _replay_e_w(key: bool) -> shadow.Replay:
    """The fixed side at E/W (t 38-60 s) while the greens shown keep N/S: the profile read N/S's loop never standing
    in the first 20 s of a green; the loops measure E_T blocked whole (its last second's standing 1, its average 1)."""
    lay = _layout()
    prog = _program(lay)
    rp = shadow.start(prog, 4, 0.0)
    profile = np.zeros((2 * shadow.AGE_BINS, 4))
    profile[:20, :] = 1.0  # every movement: a second read at each age 0-19 s, the loop never standing
    rp = replace(rp, block_profile=profile)
    est = _queued(lay, 30.0, 1.0, 1.0)
    for k in range(1, 61):
        rp = shadow.advance(prog, rp, est, _status(0, float(k)), float(k), LONG, block_now=True, block_profile=key)
    return rp


def test_the_fixed_sides_green_meets_the_blockage_of_its_age_not_the_greens_shown():
    on, off = _replay_e_w(True), _replay_e_w(False)
    # E/W's fixed green from 37 s (its program read 2 s back): ages 0-19 from the profile (0), then 0 s read: blocked
    assert off.fixed.served_pcu[E_T] == 0.0  # the blockage the greens shown met, kept whole
    assert on.fixed.served_pcu[E_T] == pytest.approx(0.5 * (20 - 2))  # 18 usable seconds at 0.5 PCU/s
    assert on.controlled.served_pcu[E_T] == 0.0  # the controlled side never showed E/W
    assert on.controlled.served_pcu[N_T] == off.controlled.served_pcu[N_T] == 0.0  # blocked whole, as measured


def test_under_the_city_plan_both_sides_stay_equal_every_second():
    """The greens shown are the program's: the fixed side's green is always the one shown at the same age, and reads
    the measured blockage: the two sides agree in every second whatever the loops show."""
    lay = _layout()
    prog = _program(lay)
    rp = shadow.start(prog, 4, 0.0)
    rng = np.random.default_rng(3)
    arrived = np.zeros(4)
    read = False
    for k in range(1, 400):
        t = float(k)
        arrived += rng.uniform(0.0, 0.6, 4)
        now = rng.choice([0.0, 1.0, 0.5], 4)
        est = replace(_queued(lay, 0.0, 0.0), queue_pcu=arrived.copy(), block_now=now, block=rng.uniform(0, 1, 4))
        seg = prog.segment_at(t - 2.0)
        phase = prog.phases[seg]
        rp = shadow.advance(
            prog, rp, est, _status(max(phase, 0), t, phase < 0), t, LONG, block_now=True, block_profile=True
        )
        read = read or bool(rp.block_profile is not None and rp.block_profile[shadow.AGE_BINS :].sum() > 0)
        assert np.array_equal(rp.sides.queue_pcu[0], rp.sides.queue_pcu[1])
    assert read  # the profile was learnt
    g = shadow.gains(rp)
    assert g.delay_fixed_s == g.delay_controlled_s


def test_a_second_blocked_whole_does_not_restart_the_green():
    """With the key a green's age runs through a second its exit blocks whole: the discharge resumes at once after
    it; without, the replay took that second for the green's end (its extension) and restarted the green after it,
    with its start-up loss."""
    lay = _layout()
    prog = _program(lay)
    served = {}
    for key in (False, True):
        rp = shadow.start(prog, 4, 0.0)
        for k in range(1, 13):  # N/S shown 12 s, 10 PCU standing; the loop stands whole in seconds 6-8
            now = 1.0 if k in (6, 7, 8) else 0.0
            est = replace(_queued(lay, 10.0, now), queue_pcu=np.full(4, 10.0))
            rp = shadow.advance(prog, rp, est, _status(0, float(k)), float(k), LONG, block_now=True, block_profile=key)
        served[key] = float(rp.controlled.served_pcu[N_T])
    # 12 s: 2 s lost, 3 s blocked: 7 s at 0.5 PCU/s; without the key 2 blocked seconds discharged (the extension)
    # and 2 more lost at the restart: 7 s as well, but in other seconds
    assert served[True] == pytest.approx(3.5)
    assert served[False] == pytest.approx(3.5)
    ages = {}
    for key in (False, True):
        rp = shadow.start(prog, 4, 0.0)
        for k in range(1, 10):
            est = _queued(lay, 10.0, 1.0 if k == 6 else 0.0)
            rp = shadow.advance(prog, rp, est, _status(0, float(k)), float(k), LONG, block_now=True, block_profile=key)
        ages[key] = float(rp.controlled.green_s[N_T])
    assert ages[True] == 9.0  # from the green's onset
    assert ages[False] == 3.0  # restarted after the blocked second


def _harm_run(params: HarmParams, observe: bool) -> harm.HarmState:
    """The two-phase junction 60 s with the greens shown at N/S, 30 PCU standing everywhere, every loop standing
    (blocked whole) and a profile that read no standing in the first 20 s of a green: `observe`: observe_all, else
    advance_replays."""
    lay = _layout()
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    net = netshadow.NetworkProgram.build([prog])
    hs = harm.initial(prog, 4, 0.0)
    profile = np.zeros((2 * shadow.AGE_BINS, 4))
    profile[:20, :] = 1.0
    hs = replace(hs, replay=replace(hs.replay, block_profile=profile))
    for k in range(1, 61):
        t = float(k)
        e = replace(Estimate.empty(lay, t), queue_pcu=np.full(4, 30.0), block_now=np.ones(4), block=np.ones(4))
        step = harm.observe_all if observe else harm.advance_replays
        (hs,) = step(net, [hs], [e], [_status(0, t)], t, params)
    return hs


@pytest.mark.parametrize("observe", [True, False])
def test_the_key_reaches_the_replay_from_both_calls(observe: bool):
    base = HarmParams(window_s=300.0, spill_back=False, block_now=True)
    on = _harm_run(replace(base, block_profile=True), observe)
    off = _harm_run(base, observe)
    assert on.replay.sides.served_pcu[shadow.FIXED, E_T] > 1.0  # E/W's fixed green read the profile
    assert off.replay.sides.served_pcu[shadow.FIXED, E_T] == 0.0  # blocked as measured under N/S


def test_a_greens_age_falls_in_the_row_of_its_whole_seconds():
    """age_bin: a green 2.7 s old is read in row 2 (its whole seconds, as learnt), not rounded up
    to row 3; an age past the profile's last row is pooled there (R's finding: no test read an
    age between whole seconds)."""
    ages = np.array([0.0, 0.4, 2.7, 5.99, float(shadow.AGE_BINS) + 30.5])
    assert shadow.age_bin(ages).tolist() == [0, 0, 2, 5, shadow.AGE_BINS - 1]
