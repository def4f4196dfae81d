"""Kill -9 the live controller in the middle of a SUMO run, restart it, and check from SUMO's
own signal states that every junction stayed safe and under a valid plan (issue 11).

    python -m sim.restart_check --out /tmp/restart [--sumocfg sim/scenarios/city/city.sumocfg]
        [--intersections intersections/city] [--end 900] [--speed 10] [--kill-at 300] [--down 30]

A private Mosquitto, `run_controller.py field` (SUMO as the city, at --speed times real time)
and `run_controller.py run` (the service) as separate processes, on throw-away credentials and
plan keys. At simulated second --kill-at the service gets SIGKILL; --down simulated seconds later
a new one starts on the same audit store. SUMO writes every junction's signal state each second
(a SaveTLSStates timed event); `check_states` reads them against the junction models:

- conflict: two conflicting movements green in the same second;
- short_intergreen: a link leaving its green with less yellow than yellow_s, or a link turning
  green less than all_red_s after a link of a conflicting movement was last green or yellow;
- long_green: one phase green longer than its max_green_s;
- long_red: a movement red (no green link) longer than the junction's max_red_s;
- no_stage: signal states that are no green stage of the model for longer than an intergreen
  (the junction runs no valid plan).

It prints a table (violations per kind, junctions adaptive again after the restart) and exits
non-zero on any violation. A benchmark script, not a test: it runs for (end / speed) seconds, or
longer on a loaded machine, where SUMO falls behind the clock (the field's run is waited on while it
writes seconds). Whether the new service could act is in the report: the simulated second it was up
(`restart_up_at_s`, None if the field ended first), the plans it sent, and how far SUMO fell behind the
clock (`field_behind_max_s`, service seconds): past `feed_stale_s` every detector message is stale
when it comes, and the service, as designed, commands none of those junctions (they keep their local
plans). At load 35 on two cores the field ran the city at 5-7 times real time when asked for 10.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from controller.adapters.audit import AuditStore
from controller.adapters.keys import new_keyring
from controller.config import load_config
from controller.junctions import load_intersections
from controller.model import GREEN, Intersection
from sim.broker import Broker
from sim.sumo import SumoConfig

ROOT = Path(__file__).resolve().parent.parent
SITE = "restart"
KINDS = ("conflict", "short_intergreen", "long_green", "long_red", "no_stage")
STUCK_S = 60.0  # wall seconds without a simulated second written: the field is stuck


def read_states(path: Path) -> dict[str, list[str]]:
    """SaveTLSStates output -> junction -> state string of each second, in time order."""
    out: dict[str, dict[float, str]] = {}
    for _event, el in ET.iterparse(path):
        if el.tag == "tlsState":
            out.setdefault(el.get("id", ""), {})[float(el.get("time", "0"))] = el.get("state", "")
            el.clear()
    return {j: [by_t[t] for t in sorted(by_t)] for j, by_t in out.items()}


def _stages(j: Intersection, states: list[str]) -> list[tuple[int | None, int, int]]:
    """(phase or None, first second, last second) runs: a phase while its greens show exactly and
    no link shows yellow. A second of an intergreen (some link yellow) belongs to no phase, even
    when the links that stay green through it are exactly the next phase's (a lagging left kept
    green through the through stage's yellow): the roadside, like the gate, counts a stage's green
    from the end of its intergreen."""
    phase_of = {p.green_links(): p.index for p in j.phases}
    runs: list[tuple[int | None, int, int]] = []
    for t, s in enumerate(states):
        in_intergreen = any(c in "yY" for c in s)
        p = None if in_intergreen else phase_of.get(frozenset(i for i, c in enumerate(s) if c in GREEN))
        if runs and runs[-1][0] == p:
            runs[-1] = (p, runs[-1][1], t)
        else:
            runs.append((p, t, t))
    return runs


def _conflicts(j: Intersection, states: list[str]) -> list[str]:
    found = []
    for t, s in enumerate(states):
        green = [m for m in j.movements if any(s[i] in GREEN for i in m.links if i < len(s))]
        ids = {m.id for m in green}
        bad = next((f"{m.id}+{c}" for m in green for c in m.conflicts if c in ids), None)
        if bad:
            found.append(f"t={t} {bad} green together")
    return found


def _red_runs(j: Intersection, states: list[str]) -> list[str]:
    found = []
    for m in j.movements:
        run = 0
        for t, s in enumerate(states):
            run = 0 if any(s[i] in GREEN for i in m.links if i < len(s)) else run + 1
            if run == int(j.max_red_s) + 1:
                found.append(f"t={t} {m.id} red > {j.max_red_s:g} s")
    return found


def _intergreens(j: Intersection, states: list[str]) -> list[str]:
    """A link leaving its green shows yellow for yellow_s first; a link turning green waits until
    every link of a conflicting movement has been red (not yellow) for all_red_s."""
    movement_of = {i: m for m in j.movements for i in m.links}
    rivals = {i: [k for c in m.conflicts for k in j.movement(c).links] for i, m in movement_of.items()}
    yellow_need = math.ceil(j.yellow_s - 1e-9)
    last_busy: dict[int, int] = {}  # link -> last second green or yellow
    yellow_run: dict[int, int] = {}
    found = []
    for t, s in enumerate(states):
        bad = []
        for i, c in enumerate(s):
            before = states[t - 1][i] if t else c
            if c in "yY":
                yellow_run[i] = yellow_run.get(i, 0) + 1 if before in "yY" else 1
            elif c not in GREEN and before in GREEN and yellow_need > 0:
                bad.append(f"link {i} green to red without yellow")
            elif c not in GREEN and before in "yY" and yellow_run.get(i, 0) < yellow_need:
                bad.append(f"link {i} yellow {yellow_run.get(i, 0)} s < {j.yellow_s:g} s")
            elif c in GREEN and t and before not in GREEN:
                late = [k for k in rivals.get(i, ()) if k in last_busy and t - last_busy[k] - 1 < j.all_red_s - 1e-9]
                if late:
                    bad.append(
                        f"link {i} green {t - last_busy[late[0]] - 1} s after link {late[0]} "
                        f"(all-red {j.all_red_s:g} s)"
                    )
        for i, c in enumerate(s):
            if c in GREEN or c in "yY":
                last_busy[i] = t
        if bad:
            found.append(f"t={t} " + "; ".join(bad))
    return found


def check_states(j: Intersection, states: list[str]) -> dict[str, list[str]]:
    """Violations by kind (KINDS) in one junction's per-second signal states."""
    out: dict[str, list[str]] = {k: [] for k in KINDS}
    out["conflict"] = _conflicts(j, states)
    out["long_red"] = _red_runs(j, states)
    out["short_intergreen"] = _intergreens(j, states)
    runs = _stages(j, states)
    longest_ig_s = max((j.intergreen_s(a, b) for a in range(len(j.phases)) for b in range(len(j.phases))), default=0)
    for k, (p, t0, t1) in enumerate(runs):
        if p is not None and t1 - t0 + 1 > j.phases[p].max_green_s:
            out["long_green"].append(f"t={t0} phase {p} green {t1 - t0 + 1} s > {j.phases[p].max_green_s:g} s")
        if p is None and 0 < k < len(runs) - 1 and t1 - t0 + 1 > max(longest_ig_s, 1.0) + 1:
            out["no_stage"].append(f"t={t0} {t1 - t0 + 1} s in no green stage")
    return out


def tls_additional(junctions: Mapping[str, Intersection], dest: Path, path: Path) -> Path:
    root = ET.Element("additional")
    for jid in sorted(junctions):
        ET.SubElement(root, "timedEvent", type="SaveTLSStates", source=jid, dest=str(dest))
    path.write_bytes(ET.tostring(root))
    return path


def write_plan_keys(out: Path, key_id: str) -> Path:
    """out/plan.keys (mode 0600) with one fresh master key named key_id: the service signs its
    plans with it, the field's roadsides verify them (throw-away keys of a check run)."""
    keys = out / "plan.keys"
    keys.write_text(f"{key_id} {new_keyring(key_id).masters[key_id].hex()}\n")
    keys.chmod(0o600)
    return keys


def service_config(out: Path, broker: Broker, intersections: Path, instance: str, keys: Path) -> dict[str, Any]:
    """The config.toml of a check run's service (and field): the private broker and its site,
    the plan keys, the audit store in `out`, no metrics port."""
    return {
        "service": {"site": broker.topics.site, "instance": instance, "intersections": str(intersections.resolve())},
        "broker": {"host": broker.host, "port": broker.port},
        "security": {"plan_keys_file": str(keys)},
        "audit": {"path": str(out / "audit.sqlite")},
        "metrics": {"port": 0},
    }


def _write_config(out: Path, broker: Broker, intersections: Path) -> Path:
    conf = out / "config.toml"
    keys = write_plan_keys(out, "restart")
    conf.write_text(tomli_w.dumps(service_config(out, broker, intersections, "ctl-restart", keys)))
    return conf


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run_controller.py"), *args],
        cwd=ROOT,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )


def wait_sim_time(states_path: Path, t_s: float, field: subprocess.Popen[bytes]) -> None:
    """Until SUMO has written second t_s (the states file grows as it runs)."""
    needle = f'time="{t_s:.2f}"'.encode()
    while field.poll() is None:
        if states_path.exists() and needle in states_path.read_bytes()[-200_000:]:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the field ended before second {t_s:g}")


@dataclass(frozen=True)
class StatesRun:
    """The SUMO side of a kill-and-check run (this script, sim/failover_check.py): the resolved
    output folder, the junction models, and the file where SUMO writes every junction's signal
    state each second (read_states)."""

    out: Path
    junctions: Mapping[str, Intersection]
    states_path: Path
    additional: tuple[str, ...]  # SUMO additional files: the scenario's, then the states output

    @staticmethod
    def prepare(a: argparse.Namespace) -> StatesRun:
        """From check_parser's arguments: creates --out, writes the states output's additional file."""
        out = a.out.resolve()
        out.mkdir(parents=True, exist_ok=True)
        junctions = load_intersections(a.intersections)
        states_path = out / "tls_states.xml"
        extra = tls_additional(junctions, states_path, out / "tls_states.add.xml")
        scenario = [str(p.resolve()) for p in SumoConfig(a.sumocfg).files("additional-files")]
        return StatesRun(out, junctions, states_path, (*scenario, str(extra)))

    def field_args(self, a: argparse.Namespace, common: list[str]) -> list[str]:
        """`run_controller.py field` for --sumocfg until --end, writing the states (after --config)."""
        sumo = ["--end", str(a.end), "--additional-files", ",".join(self.additional)]
        return ["field", str(a.sumocfg), "--out", str(self.out / "field"), *common, "--", *sumo]


def run_check(a: argparse.Namespace) -> dict[str, Any]:
    run = StatesRun.prepare(a)
    out, junctions, states_path = run.out, run.junctions, run.states_path
    with Broker(out / "broker", SITE, junctions) as broker:
        creds = broker.write_credentials()
        conf = _write_config(out, broker, a.intersections)
        common = ["--speed", str(a.speed), "--credentials", str(creds)]
        field = start(["--config", str(conf), *run.field_args(a, common)], out / "field.log")
        services = [start(["--config", str(conf), "run", *common], out / "service1.log")]
        try:
            wait_sim_time(states_path, a.kill_at, field)
            services[0].send_signal(signal.SIGKILL)
            services[0].wait(10)
            wait_sim_time(states_path, a.kill_at + a.down, field)
            services.append(start(["--config", str(conf), "run", *common], out / "service2.log"))
            up_at_s = wait_field_end(states_path, field, out / "service2.log")
        finally:
            stop_all([*services, field])
    return _report(junctions, read_states(states_path), out, a, up_at_s)


def last_second(states_path: Path) -> float | None:
    """The last simulated second SUMO has written to the states file so far (None: none yet)."""
    if not states_path.exists():
        return None
    tail = states_path.read_bytes()[-4_000:]
    found = re.findall(rb'time="([0-9.]+)"', tail)
    return float(found[-1]) if found else None


def wait_field_end(
    states_path: Path, field: subprocess.Popen[bytes], log: Path, stuck_s: float = STUCK_S, poll_s: float = 0.2
) -> float | None:
    """Until the field ends, as long as SUMO writes seconds (none for `stuck_s` of wall time: stuck, a
    RuntimeError; no flat deadline: on a loaded machine a run takes what it takes). Returns the simulated
    second by when the service logging to `log` said "service up" (its ticks begin), None if it did not
    before the field ended."""
    up_at_s, last, moved = None, last_second(states_path), time.monotonic()
    while field.poll() is None:
        now_s = last_second(states_path)
        if now_s != last:
            last, moved = now_s, time.monotonic()
        elif time.monotonic() - moved > stuck_s:
            raise RuntimeError(f"the field wrote no second in {stuck_s:g} s (last {last}): stuck")
        if up_at_s is None and log.exists() and b"service up" in log.read_bytes():
            up_at_s = now_s
        time.sleep(poll_s)
    return up_at_s


def stop_all(procs: list[subprocess.Popen[bytes]], timeout_s: float = 30.0) -> None:
    """SIGTERM to every process still running, each waited for up to timeout_s."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout_s)


def _report(
    junctions: Mapping[str, Intersection],
    states: dict[str, list[str]],
    out: Path,
    a: argparse.Namespace,
    up_at_s: float | None = None,
) -> dict[str, Any]:
    totals: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for jid, j in sorted(junctions.items()):
        found = check_states(j, states.get(jid, []))
        for kind, items in found.items():
            totals[kind] += len(items)
            if items:
                examples.setdefault(kind, []).extend(f"{jid} {x}" for x in items[:2])
    store = AuditStore(out / "audit.sqlite")
    epochs = [e for e, _, _ in store.epochs()]
    acks = store.query(kind="ack", limit=10**7)
    acked_after = {r.junction for r in acks if epochs and r.payload["epoch"] == epochs[-1]}
    plans = store.query(kind="plan", limit=10**7)
    field = _field_summary(out)
    result = {
        "junctions": len(junctions),
        "seconds": max((len(s) for s in states.values()), default=0),
        "violations": {k: totals[k] for k in KINDS},
        "examples": examples,
        "epochs": epochs,
        "acknowledged_after_restart": len(acked_after),
        "plans_after_restart": sum(1 for r in plans if epochs and r.payload["epoch"] == epochs[-1]),
        "restart_up_at_s": up_at_s,
        "field_behind_max_s": field.get("behind_max_s"),
        "feed_stale_s": load_config(out / "config.toml").service.feed_stale_s,
        "audit_check": store.check(),
        "command": " ".join(sys.argv),
    }
    (out / "restart_check.json").write_text(json.dumps(result, indent=1))
    return result


def _field_summary(out: Path) -> dict[str, Any]:
    """summary.json's transport.field of the field's run ({} when it wrote none: stopped early)."""
    path = out / "field" / "summary.json"
    if not path.is_file():
        return {}
    field: dict[str, Any] = json.loads(path.read_text()).get("transport", {}).get("field", {})
    return field


def check_parser(module: str, doc: str, end_s: float, kill_at_s: float, killed: str) -> argparse.ArgumentParser:
    """The command line a kill-and-check script shares (this one, sim/failover_check.py):
    --out, --sumocfg and --intersections (the bundled city), --end (simulated seconds, default
    end_s), --speed (times real time) and --kill-at (simulated second, default kill_at_s, of the
    kill -9 of `killed`). `module` names the script (python -m module), `doc` its docstring."""
    p = argparse.ArgumentParser(prog=f"python -m {module}", description=" ".join(doc.split("\n\n")[0].split()))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--sumocfg", type=Path, default=ROOT / "sim/scenarios/city/city.sumocfg")
    p.add_argument("--intersections", type=Path, default=ROOT / "intersections/city")
    p.add_argument("--end", type=float, default=end_s, help="simulated seconds")
    p.add_argument("--speed", type=float, default=10.0, help="times real time (field and service)")
    p.add_argument("--kill-at", type=float, default=kill_at_s, help=f"simulated second of the kill -9 of {killed}")
    return p


def main(argv: list[str] | None = None) -> int:
    p = check_parser("sim.restart_check", __doc__ or "", end_s=900.0, kill_at_s=300.0, killed="the service")
    p.add_argument("--down", type=float, default=30.0, help="simulated seconds without a service")
    r = run_check(p.parse_args(argv))
    print(f"{'junctions':<28}{r['junctions']}\n{'seconds checked':<28}{r['seconds']}")
    for kind, n in r["violations"].items():
        print(f"{kind:<28}{n}")
    print(f"{'epochs':<28}{r['epochs']}\n{'acked after the restart':<28}{r['acknowledged_after_restart']}")
    print(f"{'audit store':<28}{r['audit_check']}")
    print(f"{'service up again at':<28}{r['restart_up_at_s']}")
    print(f"{'plans after the restart':<28}{r['plans_after_restart']}")
    print(f"{'SUMO behind the clock':<28}{r['field_behind_max_s']} s (feeds stale past {r['feed_stale_s']:g} s)")
    for kind, ex in r["examples"].items():
        print(f"  {kind}: {'; '.join(ex[:4])}")
    return 1 if any(r["violations"].values()) or r["audit_check"] != "ok" else 0


if __name__ == "__main__":
    sys.exit(main())
