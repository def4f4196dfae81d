"""Failover of a region instance (controller/takeover.py): two `run --region` instances shard the
bundled city; one gets SIGKILL mid-run; its region must leave the lost instance's plans within the
roadsides' backup time and come back under adaptive control from the other instance.

    python -m sim.failover_check --out /tmp/failover [--end 300] [--speed 10] [--kill-at 120]
                                 [--back-at S [--after-back A]]

A private Mosquitto, `run_controller.py field` (SUMO as the city) and two `run_controller.py run
--region rK` instances as separate processes ([regions] count = 2), on throw-away credentials
and plan keys. A monitor client records every roadside status (mode, epoch, plan). SUMO writes
every junction's signal state each second; sim/restart_check.py checks them (conflicts,
intergreens, max green, max red, valid stages). The report (failover_check.json):

- per junction of the lost region: the last second it reported the lost instance's plans in
  force, when it was first adaptive under the taker's epoch, its mode and epoch at the end, and
  whose epoch that is (`ended_under`: "lost", "taker" or "returned"). Epochs are known by who
  began them (the audit store's `epochs` table: the instance of r0 before the kill, the taker's
  node `*-for-r0`, r0's instance started again with --back-at), not by the roadsides' clock;
- the signal-safety violations over the whole run;
- the MQTT connections the instances lost (their logs): 0, or instances kick each other;
- the instances that ended before the field (`died`: exit code and the exception in their log):
  none, or a region is left to the taker (a returned instance that died at start is never
  handed its region back);
- `status_lag_s`: how far the roadsides' clock ran behind (median, max; service seconds);
- with --back-at (r0's instance started again at that second): `returned_up_s`, the second it said "service up"
  (with --after-back A the field is stopped A seconds after it: the time to come back counts from the start-up,
  which takes what it takes on a loaded machine), and `taker_plans_after_return_s`, how long after its first
  "online" heartbeat the taker still sent the region plans (the hand-back: a roadside refuses the taker's older
  epoch anyway, so the statuses alone would not show a taker that never lets go).

Beside it: statuses.json (every status: junction, t and wall time received relative to the
kill, mode, epoch, plan) and trace.json (plan identities, heartbeats, status faults as received,
wall seconds from the kill), to read a failed hand-back from.

Broker users: the broker binds client ids to user names (use_username_as_clientid, as
broker-setup writes: one connection per user), so each instance has a user of its own with the
controller's rights (sim/broker.py acl_rules), `controller-r0` and `controller-r1`, each in a
config of its own (config-r0.toml, config-r1.toml; the same regions). The taker runs the lost
region on its own connection (controller/takeover.py); r0's returning instance is `controller-r0`
again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from controller.adapters.audit import AuditStore
from controller.adapters.keys import new_keyring
from controller.adapters.mqtt import MqttClient, Topics
from controller.config import Config, load_config
from controller.model import Intersection
from controller.regions import plan_regions, region_instance
from sim.broker import Broker
from sim.mqtt_regions import region_user, region_users
from sim.restart_check import KINDS, StatesRun, check_states, last_second, read_states, start, stop_all, wait_sim_time

ROOT = Path(__file__).resolve().parent.parent
SITE = "failover"
REGIONS = ("r0", "r1")


def _write_config(out: Path, broker: Broker, intersections: Path, region: str) -> Path:
    """config-{region}.toml: the instance's own broker user; the plan keys shared."""
    keys = out / "plan.keys"
    if not keys.exists():
        ring = new_keyring("failover")
        keys.write_text(f"failover {ring.masters['failover'].hex()}\n")
        keys.chmod(0o600)
    conf = out / f"config-{region}.toml"
    body = {
        "service": {"site": SITE, "instance": "ctl", "intersections": str(intersections.resolve())},
        "broker": {"host": broker.host, "port": broker.port, "username": region_user(region)},
        "security": {"plan_keys_file": str(keys)},
        "audit": {"path": str(out / "audit.sqlite")},
        "metrics": {"port": 0},
        "regions": {"count": 2},
    }
    conf.write_text(tomli_w.dumps(body))
    return conf


Row = tuple[str, float, str, int, str, float]  # junction, t, mode, epoch, plan_id, wall time received
PLAN_ID = re.compile(rb'"epoch":(\d+),"seq":(\d+)')


class StatusLog:
    """Every roadside status of the site, as (junction, t, mode, epoch, plan_id, wall time
    received), from a monitor; and a trace (`trace`: wall time, topic, what it said) of the
    plans' identities, the statuses' faults and the heartbeats, to read a failed hand-back from."""

    def __init__(self, broker: Broker) -> None:
        self.rows: list[Row] = []
        self.trace: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()
        self.client = MqttClient(broker.settings("monitor", client_id="monitor"), self._on)
        root = broker.topics.root
        self.client.subscribe([f"{root}/+/status", f"{root}/+/plan", f"{root}/service/+"], qos=1)
        self.client.start()

    def _on(self, topic: str, payload: bytes) -> None:
        now = time.time()
        if topic.endswith("/plan"):
            m = PLAN_ID.search(payload)
            with self._lock:
                self.trace.append((now, topic, f"plan {m.group(1).decode()}/{m.group(2).decode()}" if m else "plan ?"))
            return
        s = json.loads(payload)
        if "/service/" in topic:
            with self._lock:
                self.trace.append((now, topic, f"beat {s.get('state')}"))
            return
        with self._lock:
            self.rows.append((s["junction"], float(s["t"]), s["mode"], int(s.get("epoch", 0)), s["plan_id"], now))
            if s.get("faults"):
                self.trace.append((now, topic, f"faults {s['faults']}"))

    def close(self) -> None:
        self.client.close()


def run_check(a: argparse.Namespace) -> dict[str, Any]:
    run = StatesRun.prepare(a)
    out, junctions, states_path = run.out, run.junctions, run.states_path
    users = region_users(Topics(SITE), REGIONS)
    with Broker(out / "broker", SITE, junctions, extra_users=users, bind_client_ids=True) as broker:
        creds = broker.write_credentials()
        confs = {r: _write_config(out, broker, a.intersections, r) for r in REGIONS}
        conf = confs["r0"]
        common = ["--speed", str(a.speed), "--credentials", str(creds)]
        statuses = StatusLog(broker)
        field = start(["--config", str(conf), *run.field_args(a, common)], out / "field.log")
        services = {
            r: start(["--config", str(confs[r]), "run", "--region", r, *common], out / f"service-{r}.log")
            for r in REGIONS
        }
        try:
            wait_sim_time(states_path, a.kill_at, field)
            killed_wall = time.time()
            services["r0"].send_signal(signal.SIGKILL)
            services["r0"].wait(10)
            back_wall, up_s = None, None
            if a.back_at is not None:  # r0's instance starts again: the taker must hand r0 back
                wait_sim_time(states_path, a.back_at, field)
                back_wall = time.time()
                args = ["--config", str(conf), "run", "--region", "r0", *common]
                services["r0-back"] = start(args, out / "service-r0-back.log")
                up_s = _end_after_return(states_path, field, out / "service-r0-back.log", a.after_back)
            field.wait(timeout=a.end / a.speed + 300)
            died = {name: p.returncode for name, p in services.items() if name != "r0" and p.poll() is not None}
        finally:
            stop_all([*services.values(), field])
            statuses.close()
    cfg = load_config(conf)
    lost = plan_regions(cfg, junctions).region("r0").owned
    epochs = region_epochs(out / "audit.sqlite", cfg, "r0", killed_wall)
    (out / "trace.json").write_text(json.dumps([[round(w - killed_wall, 3), t, x] for w, t, x in statuses.trace]))
    times = (killed_wall, back_wall, a.speed)
    r = _report(junctions, read_states(states_path), statuses.rows, lost, epochs, times, cfg, out)
    r["returned_up_s"] = up_s
    r["taker_plans_after_return_s"] = _taker_plans_after_return(statuses.trace, epochs, cfg, back_wall, a.speed)
    r["died"] = {name: {"exit": code, "error": _last_error(out / f"service-{name}.log")} for name, code in died.items()}
    (out / "failover_check.json").write_text(json.dumps(r, indent=1))
    return r


def _end_after_return(
    states_path: Path, field: subprocess.Popen[bytes], log: Path, after_s: float | None
) -> float | None:
    """The simulated second by when r0's instance, started again and logging to `log`, said "service up" (None: the
    field ended first); with after_s, the field is stopped (SIGTERM: SUMO closed, its files complete) after_s
    simulated seconds later. The time the region has to come back is counted from the instance's start-up, not from
    its process's start: at load 20-30 the process took 15-22 s of wall time to come up (imports, warm-up), at 5x
    real time 75-110 simulated seconds, longer than the 90 s the field ran after --back-at (S, session 66)."""
    up_s = None
    while field.poll() is None and up_s is None:
        if log.exists() and b"service up" in log.read_bytes():
            up_s = last_second(states_path)
        time.sleep(0.2)
    if up_s is None or after_s is None:
        return up_s
    with contextlib.suppress(RuntimeError):  # (the field ended first, at --end)
        wait_sim_time(states_path, up_s + after_s, field)
        field.send_signal(signal.SIGTERM)
    return up_s


def _taker_plans_after_return(
    trace: list[tuple[float, str, str]], epochs: Epochs, cfg: Config, back_wall: float | None, speed: float
) -> float | None:
    """Service seconds from r0's returned instance's first "online" heartbeat to the last plan the taker sent the
    region (0 when none came after): the taker hands the region back once the instance is alive, and stops. None:
    the returned instance never said "online" (or there was no return)."""
    if back_wall is None:
        return None
    beat = f"/service/{region_instance(cfg, 'r0')}"
    online = min((w for w, t, x in trace if w >= back_wall and t.endswith(beat) and x == "beat online"), default=None)
    if online is None:
        return None
    taker = [w for w, t, x in trace if t.endswith("/plan") and _plan_epoch(x) in epochs.taker]
    return round(max(0.0, max(taker, default=online) - online) * speed, 1)


def _plan_epoch(said: str) -> int | None:
    """The epoch of a plan as StatusLog's trace says it ("plan EPOCH/SEQ"), None if it could not be read."""
    head = said.removeprefix("plan ").split("/")[0]
    return int(head) if head.isdigit() else None


def _last_error(log: Path) -> str:
    """The last line of a Python traceback in the log (the exception), or ''."""
    lines = [x for x in log.read_text(errors="replace").splitlines() if x and not x.startswith((" ", "Traceback"))]
    return lines[-1] if lines else ""


@dataclass(frozen=True)
class Epochs:
    """The lost region's plan epochs by who began them (the audit store's `epochs` table, which
    every instance and taker writes before it sends a plan): its instance before the kill, the
    taker's node for it, its instance started again."""

    before: frozenset[int]
    taker: frozenset[int]
    back: frozenset[int]

    def of(self, epoch: int | None) -> str | None:
        """ "lost", "taker", "returned" or None (an epoch of nobody of the region)."""
        for name, group in (("lost", self.before), ("taker", self.taker), ("returned", self.back)):
            if epoch in group:
                return name
        return None


def region_epochs(audit_path: Path, cfg: Config, region: str, killed_wall: float) -> Epochs:
    """The region's epochs: its instance's (region_instance) begun before killed_wall (Unix
    time) and after it, and those of the nodes `{instance}-for-{region}` that took it over."""
    own = region_instance(cfg, region)
    store = AuditStore(audit_path)
    try:
        rows = store.epochs()
    finally:
        store.close()
    return Epochs(
        before=frozenset(e for e, who, wall in rows if who == own and wall < killed_wall),
        taker=frozenset(e for e, who, _wall in rows if who.endswith(f"-for-{region}")),
        back=frozenset(e for e, who, wall in rows if who == own and wall >= killed_wall),
    )


def _report(
    junctions: Mapping[str, Intersection],
    states: dict[str, list[str]],
    rows: list[Row],
    lost: tuple[str, ...],
    epochs: Epochs,
    times: tuple[float, float | None, float],
    cfg: Config,
    out: Path,
) -> dict[str, Any]:
    """Per junction of the lost region: until when it ran the lost instance's plans, when it was
    first adaptive under the taker's, and whose epoch it ended under. An epoch is known by who
    began it (`epochs`), never by when its statuses say they were sent: a roadside's clock that
    lags (a field behind real time under load) dates the returned instance's first statuses
    before its start. times: the kill and the return (Unix time) and the speed."""
    killed_wall, back_wall, speed = times
    kill_s = killed_wall * speed  # service time: Unix time x speed (controller.live.ScaledClock)
    totals: Counter[str] = Counter()
    for jid, j in junctions.items():
        for kind, items in check_states(j, states.get(jid, [])).items():
            totals[kind] += len(items)
    per: dict[str, dict[str, Any]] = {}
    for jid in lost:
        mine = [r for r in rows if r[0] == jid]
        old = [t for _j, t, m, e, _p, _w in mine if m == "adaptive" and e in epochs.before]
        new = [t for _j, t, m, e, _p, _w in mine if m == "adaptive" and e in epochs.taker]
        end = mine[-1] if mine else None
        per[jid] = {
            "old_plans_until_s": round(max(old) - kill_s, 1) if old else None,
            "adaptive_again_after_s": round(min(new) - kill_s, 1) if new else None,
            "mode_at_end": end[2] if end else None,
            "epoch_at_end": end[3] if end else None,
            "ended_under": epochs.of(end[3] if end else None),
        }
    lags = sorted(w * speed - t for _j, t, _m, _e, _p, w in rows)
    result = {
        "lost_region": sorted(lost),
        "backup_s": cfg.roadside.backup_s,
        "junctions": per,
        "violations": {k: totals[k] for k in KINDS},
        "epochs_before_kill": sorted(epochs.before),
        "epochs_taker": sorted(epochs.taker),
        "epochs_back": sorted(epochs.back),
        "back_after_s": round((back_wall - killed_wall) * speed, 1) if back_wall is not None else None,
        # how far the roadsides' clock (their statuses' t) ran behind the Unix time x speed they
        # were received at: the field's lag behind real time, in service seconds (median, max)
        "status_lag_s": [round(lags[len(lags) // 2], 1), round(lags[-1], 1)] if lags else None,
        # a second connection of an instance's user would kick the first (bound client ids)
        "connections_lost": sum(f.read_text().count("mqtt connection lost") for f in out.glob("service-*.log")),
        "command": " ".join(sys.argv),
    }
    (out / "failover_check.json").write_text(json.dumps(result, indent=1))
    rel = [[j, round(t - kill_s, 3), m, e, p, round(w - killed_wall, 3)] for j, t, m, e, p, w in rows]
    (out / "statuses.json").write_text(json.dumps(rel))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.failover_check", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--sumocfg", type=Path, default=ROOT / "sim/scenarios/city/city.sumocfg")
    p.add_argument("--intersections", type=Path, default=ROOT / "intersections/city")
    p.add_argument("--end", type=float, default=300.0, help="simulated seconds")
    p.add_argument("--speed", type=float, default=10.0, help="times real time (field and service)")
    p.add_argument("--kill-at", type=float, default=120.0, help="simulated second of the kill -9 of region r0")
    p.add_argument("--back-at", type=float, default=None, help="simulated second r0's instance starts again")
    p.add_argument(
        "--after-back",
        type=float,
        default=None,
        help="with --back-at: the field stops this many simulated seconds after r0's instance is up again "
        "(default: at --end)",
    )
    r = run_check(p.parse_args(argv))
    print(f"{'junction':<10}{'old plans until s':>18}{'adaptive again s':>18}  mode at end  ended under")
    for jid, row in r["junctions"].items():
        times = f"{row['old_plans_until_s']!s:>18}{row['adaptive_again_after_s']!s:>18}"
        print(f"{jid:<10}{times}  {row['mode_at_end']!s:<11}  {row['ended_under']}")
    print(f"violations: {r['violations']}; connections lost: {r['connections_lost']}")
    ok = all(
        row["adaptive_again_after_s"] is not None
        and (row["old_plans_until_s"] or 0) <= r["backup_s"]
        and row["ended_under"] == ("taker" if r["back_after_s"] is None else "returned")
        for row in r["junctions"].values()
    )
    print(
        f"epochs: before the kill {r['epochs_before_kill']}, taker {r['epochs_taker']}, "
        f"returned {r['epochs_back']}; status lag (median, max) {r['status_lag_s']} s"
    )
    for name, why in r["died"].items():
        print(f"instance {name} ended before the field: exit {why['exit']}: {why['error']}")
    return 0 if ok and not any(r["violations"].values()) and not r["connections_lost"] and not r["died"] else 1


if __name__ == "__main__":
    sys.exit(main())
