"""`make live`: broker + service + SUMO field + Prometheus on this machine, in one command.

    python -m sim.live_demo [--speed X] [--dir DIR] [--sumocfg CFG] [--intersections DIR] [--for S]

What it does, in a work folder outside the repository (default /tmp/tsc-live-$USER):
1. `broker-setup` (sim/broker.py provision): passwd, acl, mosquitto.conf and one credential file
   per user (controller, operator `alice`, monitor `wall`, a field device per junction);
2. a throw-away plan key (controller/adapters/keys.py) and a config.toml derived from the
   repository's: the broker's port, the clock's speed, free metrics ports, the audit trail and
   the key in the work folder;
3. starts Mosquitto, `run_controller.py run`, `run_controller.py field` (the bundled city by
   default) and, when installed, Prometheus scraping the service;
4. prints where to look (metrics, Prometheus, the `ctl` commands to try), then waits. Ctrl-C
   (or --for S seconds) stops everything, the field first.

Every process logs into the work folder. Nothing here is needed in production: it is the
commands of docs/operators.md, wired together.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import tomli_w

from controller.config import load_config
from controller.junctions import load_intersections
from sim.broker import CREDENTIALS_DIR, Broker, free_port, provision

ROOT = Path(__file__).resolve().parent.parent
CITY = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
CITY_JUNCTIONS = ROOT / "intersections" / "city"
OPERATOR, MONITOR = "alice", "wall"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def derived_config(work: Path, *, broker_port: int, speed: float, intersections: Path, metrics_port: int) -> Path:
    """The repository's config.toml with this demo's broker, clock, ports, key and audit file."""
    raw = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    raw["broker"].update(host="127.0.0.1", port=broker_port, username="controller", password="")
    raw["service"].update(realtime_factor=1.0 / speed, intersections=str(intersections.resolve()))
    raw.setdefault("metrics", {}).update(port=metrics_port, addr="127.0.0.1")
    raw.setdefault("security", {}).update(plan_keys_file=str(work / "plan.keys"))
    raw.setdefault("audit", {}).update(path=str(work / "audit.sqlite"))
    raw.setdefault("archive", {}).update(enabled=False)
    path = work / "config.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return path


def plan_key(work: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "controller.adapters.keys", "new", "live1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    key = work / "plan.keys"
    key.write_text(out.stdout)
    key.chmod(0o600)


def prometheus_config(work: Path, metrics_port: int) -> Path:
    path = work / "prometheus.yml"
    path.write_text(
        "global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: tsc\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    return path


class Processes:
    """Children started in order, stopped in reverse order (SIGTERM, then SIGKILL after 10 s)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with open(self.work / f"{name}.log", "ab") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((name, proc))
        return proc

    def exited(self) -> str:
        return next((f"{n} exited with {p.returncode}" for n, p in self.procs if p.poll() is not None), "")

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def wait_port(port: int, timeout_s: float = 10.0) -> bool:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def banner(work: Path, conf: Path, *, metrics_port: int, prom_port: int | None, broker_port: int) -> str:
    rc = f"{sys.executable} run_controller.py --config {conf} ctl --credentials {work / CREDENTIALS_DIR}"
    lines = [
        "",
        f"live demo up (work folder {work}; logs there: broker, service.log, field.log)",
        f"  broker      mqtt://127.0.0.1:{broker_port}   users: controller, {OPERATOR} (operator), "
        f"{MONITOR} (monitor), field-*",
        f"  metrics     http://127.0.0.1:{metrics_port}/metrics",
    ]
    if prom_port:
        lines.append(
            f"  prometheus  http://127.0.0.1:{prom_port}/graph?g0.expr=tsc_junction_phase   "
            "(Grafana: grafana/README.md)"
        )
    lines += [
        "  try:",
        f"    {rc} --user {MONITOR} status --watch",
        f"    {rc} --user {OPERATOR} override J12 --hold-phase 1 --for 120",
        f"    {rc} --user {OPERATOR} release J12",
        "  Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def options(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed", type=float, default=1.0, help="clock speed (1: real time)")
    ap.add_argument("--dir", type=Path, default=Path(f"/tmp/tsc-live-{getpass.getuser()}"))
    ap.add_argument("--sumocfg", type=Path, default=CITY)
    ap.add_argument("--intersections", type=Path, default=CITY_JUNCTIONS)
    ap.add_argument("--for", dest="for_s", type=float, default=None, help="stop after this many wall seconds")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    work = args.dir.resolve()
    if work.is_relative_to(ROOT):
        print(f"error: --dir {work} is inside the repository (credentials must live outside it)", file=sys.stderr)
        return 2
    if work.exists():
        shutil.rmtree(work)  # a fresh demo each time: new passwords, new key
    work.mkdir(parents=True)
    broker_port, metrics_port = free_port(), free_port()
    prom_port = free_port() if os.access(PROMETHEUS, os.X_OK) else None
    plan_key(work)
    conf = derived_config(
        work, broker_port=broker_port, speed=args.speed, intersections=args.intersections, metrics_port=metrics_port
    )
    broker = provision(
        work / "broker",
        load_config(conf),
        sorted(load_intersections(args.intersections)),
        operators=[OPERATOR],
        monitors=[MONITOR],
        host="127.0.0.1",
        port=broker_port,
        log_denied=True,
        repo_root=ROOT,
    )
    procs = Processes(work)
    stop = {"now": False}
    previous = {sig: signal.signal(sig, lambda *_: stop.update(now=True)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not start_all(procs, args, conf, broker, (broker_port, metrics_port, prom_port)):
            return 1
        print(banner(work, conf, metrics_port=metrics_port, prom_port=prom_port, broker_port=broker_port), flush=True)
        deadline = time.monotonic() + args.for_s if args.for_s else None
        while not stop["now"] and not procs.exited() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.5)
        why = procs.exited()
        if why:
            print(f"stopping: {why} (see {work})", file=sys.stderr)
    finally:
        procs.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("live demo stopped", flush=True)
    return 0


def start_all(
    procs: Processes, args: argparse.Namespace, conf: Path, broker: Broker, ports: tuple[int, int, int | None]
) -> bool:
    """Mosquitto, then the service, the field and (with a port) Prometheus, in the work folder
    `procs` logs into; waits for the metrics port. False when Mosquitto did not start."""
    broker_port, metrics_port, prom_port = ports
    work = procs.work
    procs.start("broker", [broker.binary, "-c", str(broker.conf_path)])
    if not wait_port(broker_port):
        print(f"error: mosquitto did not start: {broker.log_tail(5)}", file=sys.stderr)
        return False
    creds = str(work / "broker" / CREDENTIALS_DIR)
    run = [sys.executable, "run_controller.py", "--config", str(conf)]
    procs.start("service", [*run, "run", "--credentials", creds])
    procs.start(
        "field",
        [
            *run,
            "field",
            str(args.sumocfg.resolve()),
            "--out",
            str(work / "field"),
            "--intersections",
            str(args.intersections.resolve()),
            "--credentials",
            creds,
        ],
    )
    if prom_port:
        procs.start(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={prometheus_config(work, metrics_port)}",
                f"--storage.tsdb.path={work / 'prometheus'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
        )
    wait_port(metrics_port, 30.0)
    (work / "credentials").symlink_to(work / "broker" / CREDENTIALS_DIR)
    return True


if __name__ == "__main__":
    sys.exit(main())
