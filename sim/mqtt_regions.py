"""The region controllers of a sharded `simulate --via-mqtt` (sim/mqtt_run.py), each in a process
of its own: the same ServiceNode as `run --region`, sharing nothing with the others but the
broker, so a replay of a big city uses every core.

    proc = RegionProcess(RegionSpec(...)).start()   # spawned
    proc.wait_ready()                               # connected and subscribed
    ...                                             # lockstep: it ticks on the field's clock
    stats = proc.finish()                           # after the clock's "end" (or terminate())

Each region's process connects as a broker user of its own, `region_user(name)` (with the
controller's rights: region_users gives the broker's extra users), as each instance of a
deployment does (docs/deployment.md), so the broker binds client ids to user names (one
connection per user) in replays too.

The child reports once it is subscribed ("ready", with its subscriptions) and when it stops
("done", with ServiceNode.stats(), its subscriptions and its error, if any, its junctions' control and
its decision cost (summary.json's `junction_control`, `decision_cost`: sim/junction_control.py), and with
`RegionSpec.metrics` its run report). Children are spawned (multiprocessing "spawn"): a script
that runs a sharded replay must guard its entry point with `if __name__ == "__main__":` and be a
file (not `python -`). An unsharded lockstep replay's controller (region None: every junction,
as the controller of a replay that is not sharded) is forked instead: it needs no import, and
the field's process has no thread when it starts.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from controller.adapters.metrics import ServiceMetrics
from controller.adapters.mqtt import MqttSettings, Topics
from controller.adapters.mqtt_pump import MqttPump
from controller.adapters.trust import Trust
from controller.config import Config
from controller.core.signing import Keyring
from controller.errors import AdapterError
from controller.live import ScaledClock, ServiceNode, run_lockstep, run_realtime, stop_on_signals, warm_up_until
from controller.model import Intersection
from sim.broker import CONTROLLER, acl_rules
from sim.junction_control import summary_parts

log = logging.getLogger(__name__)


def region_user(region: str) -> str:
    """The broker user of region `region`'s controller process (its client id too, on a broker
    that binds client ids to user names)."""
    return f"{CONTROLLER}-{region}"


def region_users(topics: Topics, regions: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """The regions' users with the controller's rights (sim/broker.py acl_rules), as the
    `extra_users` of a Broker."""
    rules = acl_rules(topics, (), (), ())[CONTROLLER]
    return {region_user(r): list(rules) for r in regions}


@dataclass(frozen=True)
class RegionSpec:
    """Everything a region's process needs (pickled to it)."""

    cfg: Config
    junctions: dict[str, Intersection]  # owned and halo
    owned: tuple[str, ...]
    region: str | None  # None: not sharded, the node runs every junction (its ticked message names none)
    settings: MqttSettings
    policy: str
    start_s: float
    keyring: Keyring  # the replay's throw-away plan keys (epoch 1)
    realtime_factor: float | None = None  # None: lockstep
    timeout_s: float = 60.0
    programs: Mapping[str, tuple[str, ...]] | None = None  # the roadsides' programs (ControllerService)
    metrics: bool = False  # keep the node's run report (ServiceMetrics), "online_gains" in its stats


def region_main(spec: RegionSpec, conn: Any) -> None:
    """The child: run the region's node until the clock's end (lockstep) or SIGTERM."""
    logging.basicConfig(level=logging.WARNING, format=f"%(levelname)s region={spec.region} %(name)s %(message)s")
    stop = threading.Event()
    with stop_on_signals(stop, (signal.SIGTERM,)):  # not stop.set() in a handler: stop_on_signals
        _run_region(spec, conn, stop)


def _run_region(spec: RegionSpec, conn: Any, stop: threading.Event) -> None:
    """region_main's run, until the clock's end or `stop`; its stats sent to the parent."""
    metrics = ServiceMetrics(CollectorRegistry(), spec.junctions, spec.cfg) if spec.metrics else None
    node = ServiceNode(
        spec.cfg,
        spec.junctions,
        spec.settings,
        policy=spec.policy,
        start_s=spec.start_s,
        lockstep=spec.realtime_factor is None,
        trust=Trust(epoch=1, signer=spec.keyring.sign, audit=None),
        region=spec.region,
        owned=spec.owned,
        pump=MqttPump() if spec.realtime_factor is None else None,  # lockstep: run_lockstep serves it
        programs=spec.programs,
        metrics=metrics,
    )
    error = ""
    try:
        # as `run` and the unsharded replay (sim/mqtt_run.py) do before their clock starts: the first re-plan
        # tick would otherwise compile webster's loop (a minute at load 35): in real time its plans expire
        # before they arrive, in lockstep the field waits for its `ticked` no longer than its timeout_s.
        # Before "ready", which the replay waits for before its field steps. (A forked process inherits
        # the field's warm-up.)
        if not warm_up_until(spec.policy, stop):
            return  # stopped while compiling: reported as done, below
        node.start()
        conn.send(("ready", sorted(node.client._subs)))
        if spec.realtime_factor is None:
            run_lockstep(node, stop, timeout_s=spec.timeout_s)
        else:
            run_realtime(node, ScaledClock(spec.realtime_factor), stop)
    except Exception as exc:  # reported to the parent, which fails the run
        error = f"{type(exc).__name__}: {exc}"
    finally:
        node.close()
        report: dict[str, Any] = {} if metrics is None else {"online_gains": metrics.report()}
        report |= summary_parts(node.service)
        conn.send(("done", {**node.stats(), "subscriptions": sorted(node.client._subs), "error": error, **report}))


class RegionProcess:
    """One region's controller process, seen from the replay."""

    def __init__(self, spec: RegionSpec, start_method: str = "spawn") -> None:
        """start_method "spawn" (default): no SUMO, no threads inherited from the field; "fork"
        where the field has no thread yet (an unsharded lockstep replay's one controller)."""
        if start_method not in ("spawn", "fork"):
            raise ValueError(f"RegionProcess: start_method {start_method!r}: 'spawn' or 'fork'")
        ctx = multiprocessing.get_context("fork") if start_method == "fork" else multiprocessing.get_context("spawn")
        self.spec = spec
        self.region = spec.region
        self._conn, child = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=region_main, args=(spec, child), name=f"region-{spec.region}", daemon=True)
        self.subscriptions: list[str] = []
        self.final: dict[str, Any] | None = None

    def start(self) -> RegionProcess:
        """Spawn it (wait_ready tells when it is connected and subscribed)."""
        self.proc.start()
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        if not self._conn.poll(timeout_s):
            self.proc.terminate()
            raise AdapterError(f"region {self.region}: its controller process did not come up in {timeout_s:g} s")
        kind, body = self._conn.recv()
        if kind != "ready":
            raise AdapterError(f"region {self.region}: controller process failed: {body.get('error')}", fatal=True)
        self.subscriptions = body

    def finish(self, timeout_s: float = 15.0, terminate: bool = False) -> dict[str, Any]:
        """Wait for it to stop (SIGTERM first with `terminate`) and return its final stats."""
        if self.final is not None:
            return self.final
        if terminate and self.proc.is_alive():
            self.proc.terminate()
        if not self._conn.poll(timeout_s) and self.proc.is_alive():
            self.proc.terminate()  # lockstep without its "end": stop it
        if self._conn.poll(5.0):
            _kind, self.final = self._conn.recv()
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        if self.final is None:
            self.final = {"error": f"exit code {self.proc.exitcode}, no report", "subscriptions": self.subscriptions}
        return self.final
