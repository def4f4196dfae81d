"""`run_controller.py ctl`: the operators' console, over MQTT with the operator's own credentials.

  ctl status [--junction J] [--watch [S]]          the junction table (mode, plan, phase, queue,
                                                   delay, faults, feed age), refreshed every S s
  ctl override J --hold-phase N [--for S]          hold phase N (within the safety gate) for S s
  ctl override J --plan FILE [--for S]             run a cycle plan (TOML or JSON: phase_order,
                                                   greens_s, offset_s) as written, or be refused
      [--force --reason TEXT]                      past a rejection by the validation gate (never
                                                   past the safety gate); the reason is recorded
  ctl override J --flash [--for S]                 flashing yellow on every link for S s (the
                                                   roadside runs the intergreens into and out of it)
  ctl release J                                    back to the service's policy
  ctl policy J --set NAME [--param K=V ...]        run policy NAME (its config section's parameters
      [--force --reason TEXT]                      K=V) at every junction, once the validation gate
                                                   passed it on J's region (docs/validation.md)

Who: `--user` (default $TSC_MQTT_USER, else "operator"); password from `--credentials DIR`
(DIR/{user}.password, what broker-setup writes) or $TSC_MQTT_PASSWORD_{USER}. A monitor user
may run `status` only: the broker refuses its overrides.

An override is answered by the service on tsc/v1/{site}/ops/{user}: accepted (until when) or
refused with the rule. With the validation gate on ([validation] enabled, docs/validation.md) a
manual plan is first answered "validating": ctl then waits for the verdict, the second answer
with the same id, up to --verdict-timeout (default [validation] timeout_s + --timeout).
Exit codes: 0 accepted / shown, 1 refused, 3 no answer (service down?) or no verdict in time,
2 bad input or credentials.

Each command opens a short connection and closes it (the broker binds a session to the user:
one at a time per user, so a `--watch` reconnects at every refresh).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller import liveopts
from controller.config import Config
from controller.core.jsonread import read_json
from controller.core.override import MAX_REASON_CHARS, OverrideRequest, encode_override
from controller.core.validation import ParamValue, PolicyChange, PolicyChoice, encode_policy_change
from controller.errors import AdapterError, ConfigError, FeedError

if TYPE_CHECKING:  # paho is imported where a command connects: building the CLI parser (every run) does not need it
    from controller.adapters.mqtt import MqttSettings, Topics

DEFAULT_USER = "operator"
COLLECT_S = 1.5  # how long `status` listens for retained messages


def add_parser(sub: Any) -> None:
    c = sub.add_parser("ctl", help="operators' console: status, override, release, policy (docs/operators.md)")
    c.add_argument(
        "--user",
        default=os.environ.get("TSC_MQTT_USER", DEFAULT_USER),
        help="broker user (default: $TSC_MQTT_USER or 'operator')",
    )
    c.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the service's answer")
    liveopts.add_options(c, speed=True)
    cs = c.add_subparsers(dest="ctl_command", required=True)
    st = cs.add_parser("status", help="table of junctions")
    st.add_argument("--junction", default=None, metavar="J", help="only this junction's line")
    st.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=2.0,
        default=None,
        metavar="S",
        help="refresh every S seconds (default 2) until Ctrl-C",
    )
    ov = cs.add_parser("override", help="take a junction over")
    ov.add_argument("junction", help="the junction taken over")
    what = ov.add_mutually_exclusive_group(required=True)
    what.add_argument("--hold-phase", type=int, default=None, metavar="N", help="keep phase N green")
    what.add_argument(
        "--plan", type=Path, default=None, metavar="FILE", help="run this fixed cycle (TOML or JSON; docs/operators.md)"
    )
    what.add_argument("--flash", action="store_true", help="flashing operation")
    ov.add_argument(
        "--for",
        dest="for_s",
        type=float,
        default=None,
        metavar="S",
        help="seconds (default and maximum: config [operators])",
    )
    ov.add_argument(
        "--force",
        action="store_true",
        help="with --plan: put it in force even if the validation gate rejects it (needs --reason)",
    )
    ov.add_argument("--reason", default=None, metavar="TEXT", help="why the plan is forced (recorded)")
    ov.add_argument(
        "--verdict-timeout",
        dest="verdict_timeout_s",
        type=float,
        default=None,
        metavar="S",
        help="seconds to wait for the validation verdict (default [validation] timeout_s + --timeout)",
    )
    rel = cs.add_parser("release", help="give a junction back to the service's policy")
    rel.add_argument("junction", help="the junction given back")
    _add_policy_parser(cs)


def _add_policy_parser(cs: Any) -> None:
    pol = cs.add_parser("policy", help="run another policy or other parameters (validated in the twin first)")
    pol.add_argument("junction", help="the twin checks this junction's region; the change applies to the service")
    pol.add_argument("--set", dest="policy", required=True, metavar="NAME", help="policy name (config [service])")
    pol.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="K=V",
        help="a parameter of the policy's config section, e.g. wait_scale_s=30 (repeatable)",
    )
    pol.add_argument("--force", action="store_true", help="put it in force even if the validation gate rejects it")
    pol.add_argument("--reason", default=None, metavar="TEXT", help="why the change is forced (recorded)")
    pol.add_argument(
        "--verdict-timeout",
        dest="verdict_timeout_s",
        type=float,
        default=None,
        metavar="S",
        help="seconds to wait for the validation verdict (default [validation] policy_timeout_s + --timeout)",
    )


# -- connection -------------------------------------------------------------------------------
def settings(cfg: Config, user: str, credentials: Path | None, timeout_s: float) -> MqttSettings:
    from controller.adapters.credentials import password_for
    from controller.adapters.mqtt import MqttSettings

    password = password_for(user, credentials)
    return MqttSettings.for_user(
        cfg.broker, user, password, reconnect_min_s=0.2, reconnect_max_s=1.0, connect_timeout_s=timeout_s
    )


class Collector:
    """Messages by topic, the latest of each (retained state), on paho's thread."""

    def __init__(self) -> None:
        self.latest: dict[str, bytes] = {}
        self.cv = threading.Condition()

    def __call__(self, topic: str, payload: bytes) -> None:
        with self.cv:
            self.latest[topic] = payload
            self.cv.notify_all()

    def wait(self, pred: Callable[[dict[str, bytes]], bool], timeout_s: float) -> bool:
        with self.cv:
            return self.cv.wait_for(lambda: pred(self.latest), timeout_s)


def snapshot(s: MqttSettings, topics: Topics, instance: str, collect_s: float = COLLECT_S) -> dict[str, Any]:
    """The retained junction table, roadside statuses and heartbeat, as one dict."""
    from controller.adapters.mqtt import MqttClient

    got = Collector()
    client = MqttClient(s, got)
    table = topics.junction_table(instance)
    client.subscribe([table, f"{table}/+", topics.heartbeat(instance), f"{topics.root}/+/status"], qos=1)
    try:
        client.start()
        got.wait(lambda m: table in m and _all_pages(m, table), collect_s)
        time.sleep(0.2)  # the retained statuses arrive in one burst
    finally:
        client.close(flush_s=0.2)
    statuses = {}
    for topic, payload in got.latest.items():
        parts = topics.split(topic)
        if parts is not None and parts[1] == "status":
            statuses[parts[0]] = _json(payload)
    return {
        "table": _merged_table(got.latest, table),
        "heartbeat": _json(got.latest.get(topics.heartbeat(instance), b"null")),
        "statuses": statuses,
    }


def _pages(latest: dict[str, bytes], table: str) -> list[Any]:
    """The junction table's pages as received (docs/mqtt.md: page 0 on the table's topic, page k
    on .../k), each a dict or None."""
    first = _json(latest.get(table, b"null"))
    n = first.get("pages", 1) if isinstance(first, dict) else 1
    return [first] + [_json(latest.get(f"{table}/{k}", b"null")) for k in range(1, int(n))]


def _all_pages(latest: dict[str, bytes], table: str) -> bool:
    pages = _pages(latest, table)
    t = pages[0].get("t") if isinstance(pages[0], dict) else None
    return all(isinstance(p, dict) and p.get("t") == t for p in pages)


def _merged_table(latest: dict[str, bytes], table: str) -> Any:
    """Page 0 with the rows of every page of the same table (the same `t`) merged in."""
    pages = _pages(latest, table)
    if not isinstance(pages[0], dict):
        return pages[0]
    merged = dict(pages[0])
    rows: dict[str, Any] = {}
    for page in pages:
        if isinstance(page, dict) and page.get("t") == merged.get("t"):
            rows.update(page.get("junctions") or {})
    merged["junctions"] = rows
    return merged


def _json(payload: bytes) -> Any:
    try:
        return read_json(payload)
    except FeedError:
        return None


# -- status -----------------------------------------------------------------------------------
COLUMNS = ("JUNCTION", "MODE", "PLAN IN FORCE", "PHASE", "QUEUE PCU", "DELAY s/PCU", "FEED AGE s", "FAULTS")


def rows(snap: dict[str, Any], now_s: float, junction: str | None = None) -> list[tuple[str, ...]]:
    """One row per junction: the service's table, completed by the roadside statuses."""
    table = (snap.get("table") or {}).get("junctions", {})
    statuses = snap.get("statuses", {})
    ids = sorted(set(table) | {st.get("junction", k) for k, st in statuses.items() if isinstance(st, dict)})
    out: list[tuple[str, ...]] = []
    for jid in ids:
        if junction is not None and jid != junction:
            continue
        t = table.get(jid, {})
        st = next((s for s in statuses.values() if isinstance(s, dict) and s.get("junction") == jid), {})
        mode, ov = t.get("mode", "?"), t.get("override")
        if ov:  # seconds left on this console's clock (the table may be a few seconds old)
            mode = f"manual ({ov['operator']}'s {ov['action']}, {max(0.0, ov['until'] - now_s):.0f} s left)"
        elif t.get("why"):
            mode = f"{mode} ({t['why'][:48]})"
        phase = st.get("phase", t.get("phase"))
        inter = st.get("in_intergreen", t.get("in_intergreen"))
        phase_s = "-" if phase is None else f"{phase}{' (intergreen)' if inter else ''}"
        plan = st.get("plan_id", t.get("plan")) or "-"
        rmode = st.get("mode", t.get("roadside_mode"))
        if rmode:
            plan = f"{plan} [{rmode}]"
        faults = list(t.get("faults") or st.get("faults") or [])
        out.append(
            (
                jid,
                mode,
                plan,
                phase_s,
                _num(t.get("queue_pcu")),
                _num(t.get("delay_s_pcu")),
                _num(t.get("feed_age_s")),
                "; ".join(faults)[:60] or "-",
            )
        )
    return out


def _num(x: Any) -> str:
    return "-" if x is None else f"{x:.1f}" if isinstance(x, float) else str(x)


def format_status(snap: dict[str, Any], now_s: float, junction: str | None = None) -> str:
    hb = snap.get("heartbeat") or {}
    head = (
        f"service {hb.get('instance', '?')}: {hb.get('state', 'unknown')}"
        f"{', policy ' + hb['policy'] if hb.get('policy') else ''}"
        f"{', ' + str(hb.get('stale')) + ' stale' if hb.get('stale') is not None else ''}"
    )
    if snap.get("table") is None:
        head += "  (no junction table: is the service running? roadside statuses only)"
    body = rows(snap, now_s, junction)
    widths = [max(len(c), *(len(r[i]) for r in body)) if body else len(c) for i, c in enumerate(COLUMNS)]
    lines = [head, "  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in body]
    if junction is not None and not body:
        lines.append(f"(no junction {junction})")
    return "\n".join(lines)


# -- override ---------------------------------------------------------------------------------
def read_plan(path: Path) -> tuple[tuple[int, ...], tuple[float, ...], float]:
    """phase_order, greens_s, offset_s from a TOML or JSON file; ConfigError naming the field."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = read_json(text) if path.suffix == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(str(path), "-", f"cannot read: {exc.strerror}") from None
    except FeedError as exc:
        raise ConfigError(str(path), "-", f"malformed: {exc.detail}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "-", f"malformed: {exc}") from None
    if not isinstance(raw, dict):  # (a JSON file may hold a list, a number, ...)
        raise ConfigError(str(path), "-", "must be an object of phase_order, greens_s and offset_s")
    order, greens = raw.get("phase_order"), raw.get("greens_s")
    if not isinstance(order, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in order):
        raise ConfigError(str(path), "phase_order", "must be a list of phase indices")
    if not isinstance(greens, list) or not all(isinstance(g, (int, float)) and not isinstance(g, bool) for g in greens):
        raise ConfigError(str(path), "greens_s", "must be a list of seconds")
    if len(order) != len(greens) or not order:
        raise ConfigError(str(path), "greens_s", "one green per entry of phase_order")
    offset = raw.get("offset_s", 0.0)
    if isinstance(offset, bool) or not isinstance(offset, (int, float)):
        raise ConfigError(str(path), "offset_s", "must be a number")
    return tuple(order), tuple(float(g) for g in greens), float(offset)


def param_value(text: str) -> ParamValue:
    """A --param value: true/false, an integer, a number, else the text."""
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def policy_change(args: argparse.Namespace, now_s: float) -> PolicyChange:
    params = {}
    for item in args.params:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError("<command line>", "--param", f"{item!r}: want NAME=VALUE")
        params[key.strip()] = param_value(value.strip())
    choice = PolicyChoice(args.policy, tuple(sorted(params.items())))
    return PolicyChange(args.junction, args.user, secrets.token_hex(4), now_s, choice, force_reason(args))


def request(args: argparse.Namespace, now_s: float) -> OverrideRequest | PolicyChange:
    rid = secrets.token_hex(4)
    if args.ctl_command == "policy":
        return policy_change(args, now_s)
    if getattr(args, "plan", None) is None and (getattr(args, "force", False) or getattr(args, "reason", None)):
        raise ConfigError("<command line>", "--force", "--force and --reason go with --plan only")
    if args.ctl_command == "release":
        return OverrideRequest(args.junction, args.user, "release", rid, now_s)
    if args.flash:
        return OverrideRequest(args.junction, args.user, "flash", rid, now_s, for_s=args.for_s)
    if args.plan is not None:
        order, greens, offset = read_plan(args.plan)
        return OverrideRequest(
            args.junction,
            args.user,
            "plan",
            rid,
            now_s,
            for_s=args.for_s,
            phase_order=order,
            greens_s=greens,
            offset_s=offset,
            force_reason=force_reason(args),
        )
    return OverrideRequest(args.junction, args.user, "hold", rid, now_s, for_s=args.for_s, phase=args.hold_phase)


def force_reason(args: argparse.Namespace) -> str:
    """--force's stated reason; ConfigError when --force lacks a reason or a reason lacks --force."""
    force, reason = getattr(args, "force", False), (getattr(args, "reason", None) or "").strip()
    if force and not reason:
        raise ConfigError("<command line>", "--reason", "--force needs a stated reason (it is recorded)")
    if reason and not force:
        raise ConfigError("<command line>", "--reason", "a reason goes with --force")
    if len(reason) > MAX_REASON_CHARS:
        raise ConfigError("<command line>", "--reason", f"{len(reason)} characters > {MAX_REASON_CHARS}")
    return reason


def send(
    s: MqttSettings, topics: Topics, req: OverrideRequest | PolicyChange, timeout_s: float, verdict_s: float = 0.0
) -> dict[str, Any] | None:
    """Publish the override and wait for the service's answer to it (None: none in time). An
    answer saying `validating` is followed by the verdict with the same id: waited for up to
    `verdict_s` more and returned instead (the `validating` answer itself when none came)."""
    from controller.adapters.mqtt import MqttClient

    got = Collector()
    answers: list[dict[str, Any]] = []

    def on_message(topic: str, payload: bytes) -> None:
        body = _json(payload)
        if isinstance(body, dict) and body.get("id") == req.request_id:
            answers.append(body)
            got(topic, payload)

    client = MqttClient(s, on_message)
    client.subscribe([topics.reply(req.operator)], qos=1)
    try:
        client.start()
        body = encode_policy_change(req) if isinstance(req, PolicyChange) else encode_override(req)
        code = client.wait_ack(client.publish(topics.override(req.junction, req.operator), body, qos=1), timeout_s)
        if code is not None and code >= 128:
            raise AdapterError(
                f"the broker refused user {req.operator!r} an override on {req.junction} "
                f"(reason {code}: not an operator?)",
                fatal=True,
            )
        got.wait(lambda m: bool(answers), timeout_s)
        if answers and answers[0].get("validating") is True and verdict_s > 0:
            got.wait(lambda m: any(a.get("validating") is not True for a in answers), verdict_s)
    finally:
        client.close(flush_s=0.2)
    final = [a for a in answers if a.get("validating") is not True]
    return final[0] if final else answers[0] if answers else None


# -- entry ------------------------------------------------------------------------------------
def main(args: argparse.Namespace, cfg: Config) -> int:
    from controller.adapters.mqtt import Topics
    from controller.live import ScaledClock

    cfg = liveopts.apply(cfg, args)
    s = settings(cfg, args.user, args.credentials, args.timeout)
    topics, clock = Topics(cfg.service.site), ScaledClock(cfg.service.realtime_factor)
    if args.ctl_command == "status":
        while True:
            text = format_status(snapshot(s, topics, cfg.service.instance), clock.now(), args.junction)
            if args.watch is None:
                print(text)
                return 0
            print("\033[2J\033[H" + time.strftime("%H:%M:%S ") + text, flush=True)
            time.sleep(args.watch)
    req = request(args, clock.now())
    verdict_s = getattr(args, "verdict_timeout_s", None)
    if verdict_s is None:
        twin_s = cfg.validation.policy_timeout_s if args.ctl_command == "policy" else cfg.validation.timeout_s
        verdict_s = twin_s + args.timeout
    answer = send(s, topics, req, args.timeout, verdict_s)
    if answer is None:
        print(
            f"no answer from service {cfg.service.instance} within {args.timeout:g} s (is it running?)", file=sys.stderr
        )
        return 3
    action = req.action if isinstance(req, OverrideRequest) else "policy"
    if answer.get("validating") is True:
        print(
            f"{req.junction}: {action}: no verdict within {verdict_s:g} s ({answer.get('reason', '')})", file=sys.stderr
        )
        return 3
    verdict = "accepted" if answer.get("accepted") else "REFUSED"
    print(f"{req.junction}: {action} {verdict}: {answer.get('reason', '')}")
    return 0 if answer.get("accepted") else 1
