"""The live field's cabinets check a plan's validity window on the clock the service shares
with them (sim/field_live.py), not on SUMO's time: on a loaded machine SUMO falls behind the
clock, and a plan stamped on the clock would otherwise be refused as 'not valid before'."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from controller.config import Config
from controller.core.messages import encode_command
from controller.core.signing import Keyring
from controller.model import PhaseCommand
from sim.field_live import LiveFieldLoop
from sim.roadside import RoadsideController
from tests.junction_fixtures import two_phase

RING = Keyring.from_masters({"k1": b"\x01" * 32})


class StoppedClock:
    """A clock read at a set service time."""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s
        self.factor = 0.05

    def now(self) -> float:
        return self.now_s

    def wait_until(self, t_s: float, stop: threading.Event) -> bool:
        return True


def test_a_plan_stamped_on_the_clock_is_applied_while_sumo_runs_behind_it():
    clock = StoppedClock(1_000.0)
    rc = RoadsideController(two_phase(), backup_s=30.0)
    field = SimpleNamespace(roadside={"J": rc})
    loop = LiveFieldLoop(field, {}, Config(), 0.0, settings_for=lambda user: None, clock=clock, stop=threading.Event())
    rc.set_keys(RING.for_junction("J"))
    assert loop.offset_s == 1_001.0  # SUMO's 0 s is the clock's 1,001 s
    clock.now_s = 1_001.0 + 105.0  # the clock at SUMO's 105 s; SUMO still at 100 s
    cmd = PhaseCommand("J", "p1", 1, 1, 5.0, 1_001.0 + 105.0, 1_001.0 + 125.0)
    loop._apply("J", encode_command(cmd, 7, RING.sign), 100.0, 105.0)
    assert (loop.plans_received, loop.plans_refused) == (1, 0), rc.faults
    assert rc.plan is not None and rc.last_rx_s == 100.0
    assert loop.summary()["transport"]["field"]["lag_max_s"] == 5.0


def test_a_plan_is_judged_on_the_clock_when_it_came_not_when_a_slow_sumo_second_takes_it():
    """A plan valid for 20 s on the clock comes while SUMO steps a slow second (25 s of the clock):
    the cabinet received it in its window, so it is applied; judged on the clock when SUMO's next
    second reads the inbox it had expired (session 59, U; as sim/mqtt_run.py's real time, 068fa9d)."""
    clock = StoppedClock(1_000.0)
    rc = RoadsideController(two_phase(), backup_s=30.0)
    field = SimpleNamespace(roadside={"J": rc}, detector_messages=lambda t_s: [], actuate=lambda t_s: [])
    loop = LiveFieldLoop(field, {}, Config(), 0.0, settings_for=lambda user: None, clock=clock, stop=threading.Event())
    rc.set_keys(RING.for_junction("J"))
    clock.now_s = 1_001.0 + 100.5  # the plan comes at SUMO's 100.5 s on the clock, valid until 120.5 s
    cmd = PhaseCommand("J", "p1", 1, 1, 5.0, 1_001.0 + 100.5, 1_001.0 + 120.5)
    loop._plan_message("J", "plan", encode_command(cmd, 7, RING.sign))
    clock.now_s = 1_001.0 + 126.0  # SUMO's 101 s is taken 25 s late on the clock
    loop.second(101.0)
    assert (loop.plans_received, loop.plans_refused) == (1, 0), rc.faults
    assert rc.plan is not None and rc.last_rx_s == 101.0
    assert loop.summary()["transport"]["field"]["lag_max_s"] == 0.0  # it came within SUMO's second


def test_how_far_sumo_fell_behind_the_clock_at_any_second_is_in_the_summary():
    """behind_max_s: the largest age, on the service's clock, of the detector messages of a second as SUMO
    sends them (past [service] feed_stale_s the service commands none of those junctions:
    sim/restart_check.py reports it), with no plan arriving (lag_max_s, at a plan, says nothing then)."""
    clock = StoppedClock(1_000.0)
    field = SimpleNamespace(roadside={}, detector_messages=lambda t_s: [], actuate=lambda t_s: [])
    loop = LiveFieldLoop(field, {}, Config(), 0.0, settings_for=lambda user: None, clock=clock, stop=threading.Event())
    clock.now_s = 1_001.0 + 10.0  # SUMO's 10 s on time
    loop.second(10.0)
    clock.now_s = 1_001.0 + 19.5  # SUMO's 11 s taken 8.5 s late, then catching up
    loop.second(11.0)
    clock.now_s = 1_001.0 + 20.0
    loop.second(18.0)
    field_summary = loop.summary()["transport"]["field"]
    assert (field_summary["behind_max_s"], field_summary["lag_max_s"]) == (8.5, 0.0)
