"""Raw broker rates for docs/deployment.md: Mosquitto against a two-node RabbitMQ 3.10 cluster.

One paho publisher process sends `count` QoS 0 messages of `size` bytes (3,001 B: one city
junction's detector message) as fast as it can, one paho subscriber in this process receives
them; the rate is messages received over the span between the first and the last one. Routes:

- mosquitto: a private Mosquitto (sim/broker.py), MQTT 5;
- rabbit-same: publisher and subscriber on RabbitMQ node 1 (MQTT 3.1.1);
- rabbit-cross: publisher on node 2, subscriber on node 1 (every message crosses the cluster).

The routes run interleaved, `--rounds` times each; the table gives the median and the range.

    python -m sim.rabbit_bench --count 30000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

from controller.adapters.mqtt import MqttClient, MqttSettings
from sim.broker import Broker
from sim.msg_rate import END, receive_rate
from sim.rabbit import RabbitCluster

SITE = "bench"
USER = "bench"
ROUTES = ("mosquitto", "rabbit-same", "rabbit-cross")


class PublisherSpec(TypedDict):
    """The publisher process's task (JSON on its command line): MqttSettings' fields, topic, size, count."""

    settings: dict[str, Any]
    topic: str
    size: int
    count: int


def publisher(spec: PublisherSpec) -> None:
    """Runs in its own process: `count` messages of `size` bytes at QoS 0, then "end" at QoS 1."""
    client = MqttClient(MqttSettings(**spec["settings"])).start()
    payload = b"x" * spec["size"]
    for _ in range(spec["count"]):
        client.publish(spec["topic"], payload, qos=0)
    client.wait_ack(client.publish(spec["topic"], END, qos=1), 60.0)
    client.close(flush_s=10.0)


def rate(pub: MqttSettings, sub: MqttSettings, topic: str, size: int, count: int) -> dict[str, float]:
    """Messages per second from a publisher process through the broker(s) to a subscriber."""
    spec: PublisherSpec = {"settings": pub.__dict__, "topic": topic, "size": size, "count": count}
    cmd = [sys.executable, "-m", "sim.rabbit_bench", "--publisher", json.dumps(spec)]
    return receive_rate(sub, topic, lambda: subprocess.Popen(cmd), wait_s=300, sent=count)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=30_000)
    p.add_argument("--size", type=int, default=3001)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--publisher", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.publisher:
        publisher(json.loads(args.publisher))
        return 0
    users = {USER: [("readwrite", f"tsc/v1/{SITE}/raw")]}
    with tempfile.TemporaryDirectory(prefix="tsc-rabbit-bench-") as work:
        t0 = time.monotonic()
        with (
            Broker(Path(work) / "mosquitto", SITE, extra_users=users) as mosq,
            RabbitCluster(Path(work) / "rabbit", SITE, extra_users=users) as rabbit,
        ):
            print(f"# brokers up in {time.monotonic() - t0:.0f} s; {args.count} messages of {args.size} B per run")
            topic = f"{mosq.topics.root}/raw"
            routes = {
                "mosquitto": (mosq.settings(USER, max_inflight=1000), mosq.settings(USER)),
                "rabbit-same": (rabbit.settings(USER, node=0, max_inflight=1000), rabbit.settings(USER, node=0)),
                "rabbit-cross": (rabbit.settings(USER, node=1, max_inflight=1000), rabbit.settings(USER, node=0)),
            }
            results: dict[str, list[dict[str, float]]] = {r: [] for r in ROUTES}
            for k in range(args.rounds):
                for route in ROUTES:
                    pub, sub = routes[route]
                    res = rate(pub, sub, topic, args.size, args.count)
                    results[route].append(res)
                    print(f"# round {k + 1} {route}: {res['msg_s']:,.0f} msg/s ({res['received']}/{res['sent']})")
    print("\n| route | msg/s median | min - max | received / sent |\n|---|---:|---|---|")
    for route in ROUTES:
        rates = [r["msg_s"] for r in results[route]]
        got = sum(r["received"] for r in results[route])
        sent = sum(r["sent"] for r in results[route])
        print(f"| {route} | {statistics.median(rates):,.0f} | {min(rates):,.0f} - {max(rates):,.0f} | {got} / {sent} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
