"""Command-line options shared by `run`, `field` and `ctl`: where the broker is, where the
credentials are, and the speed of the clock. They override config.toml for one invocation.

  --broker HOST:PORT     instead of [broker] host/port
  --credentials DIR      passwords from DIR/{user}.password (what `broker-setup` writes)
  --speed X              service clock X times real time (realtime_factor = 1 / X); `run` and
                         `field` must use the same speed
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from controller.adapters.credentials import password_for
from controller.config import Config
from controller.errors import ConfigError


def add_options(p: argparse.ArgumentParser, *, speed: bool) -> None:
    p.add_argument("--broker", default=None, metavar="HOST:PORT", help="broker address (default: config [broker])")
    p.add_argument(
        "--credentials",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of {user}.password files (broker-setup's); else config/environment",
    )
    if speed:
        p.add_argument(
            "--speed",
            type=float,
            default=None,
            metavar="X",
            help="run the clock X times faster than real time (default: 1 / config realtime_factor)",
        )


def add_field_parser(sub: Any) -> None:
    """`field SUMOCFG` (sim/field_live.py)."""
    f = sub.add_parser(
        "field",
        help="SUMO as the live city (real time) against a broker (docs/operators.md)",
        description="SUMO as the live city (real time) against a broker. Arguments after `--` go to SUMO.",
    )
    f.add_argument("sumocfg", type=Path, help="the scenario's SUMO configuration (.sumocfg)")
    f.add_argument("--out", type=Path, default=Path("out/field"), help="evaluation at the end (default: out/field)")
    f.add_argument(
        "--intersections",
        type=Path,
        default=None,
        help="junction TOMLs, the service's (default: config [service] intersections)",
    )
    add_options(f, speed=True)


def add_broker_setup_parser(sub: Any) -> None:
    """`broker-setup --out DIR` (sim/broker.py provision)."""
    bs = sub.add_parser("broker-setup", help="write Mosquitto's passwd, acl, mosquitto.conf and credentials")
    bs.add_argument("--out", type=Path, required=True, help="folder outside the repository")
    bs.add_argument("--operators", default="operator", help="operator user names, comma-separated")
    bs.add_argument("--monitors", default="monitor", help="read-only user names, comma-separated")
    bs.add_argument("--listen", default=None, metavar="ADDR", help="listen address (default: config [broker] host)")
    bs.add_argument("--port", type=int, default=None, help="port (default: config [broker] port)")
    bs.add_argument("--intersections", type=Path, default=None, help="junction TOMLs (one field user each)")
    bs.add_argument("--tls-cert", type=Path, default=None, help="the listener's certificate (with --tls-key, --tls-ca)")
    bs.add_argument("--tls-key", type=Path, default=None, help="the listener's private key")
    bs.add_argument("--tls-ca", type=Path, default=None, help="the CA clients verify the listener with")
    bs.add_argument("--log-denied", action="store_true", help="log every refused publish (Mosquitto debug level)")


def broker_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("--broker", "broker", f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def apply(cfg: Config, args: argparse.Namespace, user: str | None = None) -> Config:
    """cfg with the command line's broker, speed and (for `user`) password."""
    broker = cfg.broker
    if getattr(args, "broker", None):
        host, port = broker_address(args.broker)
        broker = replace(broker, host=host, port=port)
    if user is not None and getattr(args, "credentials", None) is not None:
        broker = replace(broker, username=user, password=password_for(user, args.credentials))
    service = cfg.service
    speed = getattr(args, "speed", None)
    if speed is not None:
        if not speed > 0:
            raise ConfigError("--speed", "speed", f"must be > 0, got {speed}")
        service = replace(service, realtime_factor=1.0 / speed)
    return replace(cfg, broker=broker, service=service)
