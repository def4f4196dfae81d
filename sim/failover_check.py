"""Failover of a region instance (controller/takeover.py): two `run --region` instances shard the
bundled city; one gets SIGKILL mid-run; its region must leave the lost instance's plans within the
roadsides' backup time and come back under adaptive control from the other instance.

    python -m sim.failover_check --out /tmp/failover [--end 300] [--speed 10] [--kill-at 120]

A private Mosquitto, `run_controller.py field` (SUMO as the city) and two `run_controller.py run
--region rK` instances as separate processes ([regions] count = 2), on throw-away credentials
and plan keys. A monitor client records every roadside status (mode, epoch, plan). SUMO writes
every junction's signal state each second; sim/restart_check.py checks them (conflicts,
intergreens, max green, max red, valid stages). The report (failover_check.json):

- per junction of the lost region: the last second it reported the lost instance's plans in
  force, when it was first adaptive under the taker's epoch, its mode and epoch at the end
  (with --back-at, r0's instance starts again then: the taker must hand r0 back, and the
  roadsides end under the returned instance's epoch, above the taker's);
- the signal-safety violations over the whole run;
- the MQTT connections the instances lost (their logs): 0, or instances kick each other.

Broker users: the broker binds client ids to user names (use_username_as_clientid, as
broker-setup writes: one connection per user), so each instance has a user of its own with the
controller's rights (sim/broker.py acl_rules), `controller-r0` and `controller-r1`, each in a
config of its own (config-r0.toml, config-r1.toml; the same regions). The taker runs the lost
region on its own connection (controller/takeover.py); r0's returning instance is `controller-r0`
again.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import tomli_w

from controller.adapters.keys import new_keyring
from controller.adapters.mqtt import MqttClient, Topics
from controller.config import load_config
from controller.junctions import load_intersections
from controller.regions import plan_regions
from sim.broker import CONTROLLER, Broker, acl_rules
from sim.restart_check import KINDS, check_states, read_states, start, tls_additional, wait_sim_time
from sim.sumo import SumoConfig

ROOT = Path(__file__).resolve().parent.parent
SITE = "failover"
REGIONS = ("r0", "r1")


def _user(region: str) -> str:
    return f"controller-{region}"


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
        "broker": {"host": broker.host, "port": broker.port, "username": _user(region)},
        "security": {"plan_keys_file": str(keys)},
        "audit": {"path": str(out / "audit.sqlite")},
        "metrics": {"port": 0},
        "regions": {"count": 2},
    }
    conf.write_text(tomli_w.dumps(body))
    return conf


class StatusLog:
    """Every roadside status of the site, as (junction, t, mode, epoch, plan_id), from a monitor."""

    def __init__(self, broker: Broker) -> None:
        self.rows: list[tuple[str, float, str, int, str]] = []
        self._lock = threading.Lock()
        self.client = MqttClient(broker.settings("monitor", client_id="monitor"), self._on)
        self.client.subscribe([f"{broker.topics.root}/+/status"], qos=1)
        self.client.start()

    def _on(self, topic: str, payload: bytes) -> None:
        s = json.loads(payload)
        with self._lock:
            self.rows.append((s["junction"], float(s["t"]), s["mode"], int(s.get("epoch", 0)), s["plan_id"]))

    def close(self) -> None:
        self.client.close()


def run_check(a: argparse.Namespace) -> dict[str, Any]:
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    junctions = load_intersections(a.intersections)
    states_path = out / "tls_states.xml"
    extra = tls_additional(junctions, states_path, out / "tls_states.add.xml")
    additional = [str(p.resolve()) for p in SumoConfig(a.sumocfg).files("additional-files")] + [str(extra)]
    rules = acl_rules(Topics(SITE), (), (), ())[CONTROLLER]
    users = {_user(r): rules for r in REGIONS}
    with Broker(out / "broker", SITE, junctions, extra_users=users, bind_client_ids=True) as broker:
        creds = broker.write_credentials()
        confs = {r: _write_config(out, broker, a.intersections, r) for r in REGIONS}
        conf = confs["r0"]
        common = ["--speed", str(a.speed), "--credentials", str(creds)]
        statuses = StatusLog(broker)
        field_args = ["field", str(a.sumocfg), "--out", str(out / "field"), *common, "--"]
        field_args += ["--end", str(a.end), "--additional-files", ",".join(additional)]
        field = start(["--config", str(conf), *field_args], out / "field.log")
        services = {
            r: start(["--config", str(confs[r]), "run", "--region", r, *common], out / f"service-{r}.log")
            for r in REGIONS
        }
        try:
            wait_sim_time(states_path, a.kill_at, field)
            killed_wall = time.time()
            services["r0"].send_signal(signal.SIGKILL)
            services["r0"].wait(10)
            back_wall = None
            if a.back_at is not None:  # r0's instance starts again: the taker must hand r0 back
                wait_sim_time(states_path, a.back_at, field)
                back_wall = time.time()
                args = ["--config", str(conf), "run", "--region", "r0", *common]
                services["r0-back"] = start(args, out / "service-r0-back.log")
            field.wait(timeout=a.end / a.speed + 300)
        finally:
            for p in [*services.values(), field]:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    p.wait(30)
            statuses.close()
    cfg = load_config(conf)
    lost = plan_regions(cfg, junctions).region("r0").owned
    kill_s = killed_wall * a.speed  # service time: Unix time x speed (controller.live.ScaledClock)
    back_s = back_wall * a.speed if back_wall is not None else None
    return _report(junctions, read_states(states_path), statuses.rows, lost, (kill_s, back_s), cfg, out)


def _report(junctions, states, rows, lost, times: tuple[float, float | None], cfg, out: Path) -> dict[str, Any]:
    """Per junction of the lost region: the lost instance's plans, the taker's, the returned
    owner's (epochs of "adaptive" statuses before the kill, after it, after the return)."""
    kill_s, back_s = times
    totals: Counter[str] = Counter()
    for jid, j in junctions.items():
        for kind, items in check_states(j, states.get(jid, [])).items():
            totals[kind] += len(items)
    before = {e for j, t, m, e, _p in rows if t < kill_s and m == "adaptive" and j in lost}
    per: dict[str, dict[str, Any]] = {}
    for jid in lost:
        mine = [r for r in rows if r[0] == jid]
        old = [t for _j, t, m, e, _p in mine if m == "adaptive" and e in before]
        new = [t for _j, t, m, e, _p in mine if t > kill_s and m == "adaptive" and e not in before]
        per[jid] = {
            "old_plans_until_s": round(max(old) - kill_s, 1) if old else None,
            "adaptive_again_after_s": round(min(new) - kill_s, 1) if new else None,
            "mode_at_end": mine[-1][2] if mine else None,
            "epoch_at_end": mine[-1][3] if mine else None,
        }
    result = {
        "lost_region": sorted(lost),
        "backup_s": cfg.roadside.backup_s,
        "junctions": per,
        "violations": {k: totals[k] for k in KINDS},
        "epochs_before_kill": sorted(before),
        "epochs_taker": sorted(
            {e for j, t, m, e, _p in rows if j in lost and m == "adaptive" and kill_s < t < (back_s or 1e300)} - before
        ),
        "back_after_s": round(back_s - kill_s, 1) if back_s is not None else None,
        # a second connection of an instance's user would kick the first (bound client ids)
        "connections_lost": sum(f.read_text().count("mqtt connection lost") for f in out.glob("service-*.log")),
        "command": " ".join(sys.argv),
    }
    (out / "failover_check.json").write_text(json.dumps(result, indent=1))
    (out / "statuses.json").write_text(json.dumps([[j, t - kill_s, m, e, p] for j, t, m, e, p in rows]))
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
    r = run_check(p.parse_args(argv))
    print(f"{'junction':<10}{'old plans until s':>18}{'adaptive again s':>18}  mode at end")
    for jid, row in r["junctions"].items():
        print(f"{jid:<10}{row['old_plans_until_s']!s:>18}{row['adaptive_again_after_s']!s:>18}  {row['mode_at_end']}")
    print(f"violations: {r['violations']}; connections lost: {r['connections_lost']}")
    taker = max(r["epochs_taker"], default=0)
    ok = all(
        row["adaptive_again_after_s"] is not None
        and (row["old_plans_until_s"] or 0) <= r["backup_s"]
        and (r["back_after_s"] is None or (row["epoch_at_end"] or 0) > taker)
        for row in r["junctions"].values()
    )
    print(f"epochs: before the kill {r['epochs_before_kill']}, taker {r['epochs_taker']}")
    return 0 if ok and not any(r["violations"].values()) and not r["connections_lost"] else 1


if __name__ == "__main__":
    sys.exit(main())
