"""What a persistent session of the service survives when a RabbitMQ node is lost (docs/deployment.md).

On a private cluster (sim/rabbit.py) of `--nodes` nodes with `--session-queues` classic or quorum:

1. the controller user connects to node 1 with a persistent session (clean_session false),
   subscribes to one junction's status, and disconnects;
2. node 1 is stopped;
3. the junction's field device publishes a status (QoS 1) through node 2;
4. the controller connects again, through node 2, with the same client id.

Prints whether the broker still had its session (CONNACK session_present) and whether the status
published while it was away reached it, and the queue's type and members. Exit status 0 when the
session survived with its message, 1 otherwise.

    python -m sim.rabbit_node_loss --nodes 3 --session-queues quorum
    python -m sim.rabbit_node_loss --nodes 2 --session-queues classic
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import TypedDict

from controller.adapters.mqtt import MqttClient
from sim.broker import CONTROLLER, field_user
from sim.rabbit import RabbitCluster

JUNCTION = "J1"
SESSION_ID = "tsc-city-ctl-1"  # the controller's client id, the same through both nodes (its session)


class NodeLoss(TypedDict):
    """What run_check saw: the cluster's start, the session queue before the loss, the status's
    PUBACK code through node 2 (None: none came), session_present at each reconnect, the messages."""

    boot_s: float
    queues: str
    puback: int | None
    session_present: list[bool]
    received: list[bytes]


def run_check(nodes: int, session_queues: str, workdir: Path) -> NodeLoss:
    """The four steps of the module docstring; returns what was seen."""
    got: list[bytes] = []
    seen = threading.Event()
    sessions: list[bool] = []

    def on_message(_topic: str, payload: bytes) -> None:
        got.append(payload)
        seen.set()

    t0 = time.monotonic()
    with RabbitCluster(workdir, "city", [JUNCTION], nodes=nodes, session_queues=session_queues) as cluster:
        boot_s = time.monotonic() - t0
        topic = cluster.topics.status(JUNCTION)
        first = MqttClient(cluster.settings(CONTROLLER, SESSION_ID, node=0, session_expiry_s=3600.0))
        first.subscribe([topic], qos=1)
        first.start()
        first.close()
        queues = cluster.ctl(cluster.nodes[1], "list_queues", "name", "type", "members", "--no-table-headers")
        cluster.stop_node(cluster.nodes[0])
        dev = MqttClient(cluster.settings(field_user(JUNCTION), node=1)).start()
        ack = dev.wait_ack(dev.publish(topic, b"while node 1 was down", qos=1), 10.0)
        settings = cluster.settings(CONTROLLER, SESSION_ID, node=1, session_expiry_s=3600.0)
        back = MqttClient(settings, on_message, on_connected=sessions.append)
        back.subscribe([topic], qos=1)
        back.start()
        seen.wait(5.0)
        back.close()
        dev.close()
    return {"boot_s": boot_s, "queues": queues.strip(), "puback": ack, "session_present": sessions, "received": got}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--session-queues", choices=("classic", "quorum"), default="quorum")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tsc-rabbit-nodeloss-") as work:
        r = run_check(args.nodes, args.session_queues, Path(work))
    kept = r["session_present"][:1] == [True] and r["received"] == [b"while node 1 was down"]
    print(f"# {args.nodes} nodes, {args.session_queues} session queues (cluster up in {r['boot_s']:.0f} s)")
    print(f"session queue before the loss: {r['queues']}")
    print(f"status published through node 2 while node 1 was down: PUBACK {r['puback']}")
    print(f"controller back through node 2: session_present {r['session_present']}, received {r['received']}")
    print("session and its queued message survived" if kept else "session lost: a new one, the queued message gone")
    return 0 if kept else 1


if __name__ == "__main__":
    raise SystemExit(main())
