"""Benchmark (issue 12, session 12, V): A/B in one process of the in-process status path, on the
statuses of one city run (seed 1, 900 s), the start-of-session code against this tree's:

    python -m sim.bench_ab_v --base /work/wt/V-base [--rounds 7] [--policy adaptive] [--sumocfg CFG]

`--base`: a worktree of the session's start (f8889fd); its controller/core/feed.py and
messages.py are loaded beside this tree's. Part: every status the field sent, as the base's
in-process loop carried it (encode_status, then decode_status_report) against this tree's
(status_body handed over, feed.check_status). And the field's side of a via-MQTT run: per
status the base read its junction back from the encoded message twice (json.loads), and per
plan applied it decoded the message once more for its seq (decode_command; here the in-process
run's commands encoded unsigned), where this tree reads the body and the plan's key. Blocks
alternate base/mine per round; CPU time (process_time); medians over rounds; every block's
output (reports, junctions, seqs) must equal the first one's, else it stops.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from controller.config import load_config
from controller.core import feed as feed_mine
from controller.core import messages as messages_mine
from sim.bench_ab_parts import _load, compare, recording

if TYPE_CHECKING:
    from controller.model import Command, Intersection, SignalStatus
    from sim.field import SumoField

ROOT = Path(__file__).resolve().parents[1]


def record(
    sumocfg: Path, policy: str, end_s: int
) -> tuple[list[tuple[SignalStatus, int | None]], dict[str, Intersection], list[Command]]:
    """Every status the field sent in one run, as (SignalStatus, epoch), the junction models and
    the commands the field received."""
    from controller.core.messages import status_body as body_of
    from sim import field
    from sim.simulate import SimulateRequest, run

    sent: list[tuple[SignalStatus, int | None]] = []
    junctions: dict[str, Intersection] = {}
    plans: list[Command] = []

    def rec_body(status: SignalStatus, epoch: int | None = None) -> dict[str, Any]:
        sent.append((status, epoch))
        return body_of(status, epoch)

    init, receive = field.SumoField.__init__, field.SumoField.receive

    def rec_init(self: SumoField, api: ModuleType, js: Mapping[str, Intersection], *a: Any, **kw: Any) -> None:
        junctions.update(js)
        init(self, api, js, *a, **kw)

    def rec_receive(self: SumoField, cmd: Command, t_s: float) -> str:
        plans.append(cmd)
        return receive(self, cmd, t_s)

    sf = field.SumoField
    with recording((field, "status_body", rec_body), (sf, "__init__", rec_init), (sf, "receive", rec_receive)):
        req = SimulateRequest(sumocfg, Path(tempfile.mkdtemp()), policy, ("--seed", "1", "--end", str(end_s)))
        run(req, load_config(ROOT / "config.toml"), progress=lambda _line: None)
    return sent, junctions, plans


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="worktree of the start-of-session commit")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--policy", default="adaptive")
    ap.add_argument("--sumocfg", type=Path, default=ROOT / "sim/scenarios/city/city.sumocfg")
    ap.add_argument("--end", type=int, default=900)
    args = ap.parse_args(argv)
    sent, junctions, plans = record(args.sumocfg, args.policy, args.end)
    what = f"{len(sent)} statuses, {len(plans)} plans of {len(junctions)} junctions"
    print(f"recorded: {what} ({args.policy}, {args.end} s)")
    messages_base = _load("messages_base", args.base / "controller/core/messages.py")
    feed_base = _load("feed_base", args.base / "controller/core/feed.py")

    def statuses(which: str) -> tuple[float, Any]:
        out = []
        t0 = time.process_time()
        if which == "base":
            encode, decode = messages_base.encode_status, feed_base.decode_status_report
            for st, epoch in sent:
                out.append(decode(encode(st, epoch), junctions, st.t_s, {}, 1.0))
        else:
            body, check = messages_mine.status_body, feed_mine.check_status
            for st, epoch in sent:
                out.append(check(body(st, epoch), junctions, st.t_s, {}, 1.0))
        dt = time.process_time() - t0
        return dt, [(r.status, r.epoch) for r in out]

    payloads = [messages_mine.encode_status(st, epoch) for st, epoch in sent]
    bodies = [messages_mine.status_body(st, epoch) for st, epoch in sent]
    keyed = [((cmd.junction, cmd.seq), messages_mine.encode_command(cmd, 1)) for cmd in plans]

    def mqtt_field(which: str) -> tuple[float, Any]:
        t0 = time.process_time()
        if which == "base":
            jids = [json.loads(p)["junction"] for p in payloads] + [json.loads(p)["junction"] for p in payloads]
            seqs = [messages_mine.decode_command(payload).seq for _key, payload in keyed]
        else:
            jids = [b["junction"] for b in bodies] + [b["junction"] for b in bodies]
            seqs = [key[1] for key, _payload in keyed]
        return time.process_time() - t0, (jids, seqs)

    compare(
        {
            "in-process statuses: encoded and decoded / body checked": statuses,
            "via MQTT, field: statuses' junction read back, plans' seq decoded again / not": mqtt_field,
        },
        args.rounds,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
