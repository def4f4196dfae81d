"""Plan keys from a file or the environment (config.toml [security]); never from the repository.

Formats (docs/security.md):
- file (`plan_keys_file`): one key per line, `key_id hex-secret`; `#` starts a comment; the
  first key signs, the others are still accepted by the roadsides (the previous key during a
  rotation);
- environment (`plan_keys_env`, when no file is set): `key_id:hex,key_id:hex`, current first.

Secrets are at least 16 bytes (32 recommended: `python -m controller.adapters.keys new`).
A cabinet receives only its derived keys:
`python -m controller.adapters.keys derive --config config.toml --junction J12`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from controller.config import Config, load_config
from controller.core.signing import Keyring
from controller.errors import ConfigError


def _parse(entries: list[tuple[str, str]], source: str, field: str) -> Keyring:
    masters: dict[str, bytes] = {}
    for kid, hex_secret in entries:
        if kid in masters:
            raise ConfigError(source, field, f"key id {kid!r} appears twice")
        try:
            masters[kid] = bytes.fromhex(hex_secret)
        except ValueError:
            raise ConfigError(source, field, f"key {kid!r}: the secret is not hexadecimal") from None
    try:
        return Keyring.from_masters(masters)
    except ValueError as exc:
        raise ConfigError(source, field, str(exc)) from None


def parse_key_file(path: Path) -> Keyring:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "security.plan_keys_file", f"cannot read: {exc.strerror}") from None
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ConfigError(str(path), f"line {n}", "expected 'key_id hex-secret'")
        entries.append((parts[0], parts[1]))
    return _parse(entries, str(path), "security.plan_keys_file")


def parse_key_env(value: str, name: str) -> Keyring:
    entries = []
    for item in value.split(","):
        kid, sep, hex_secret = item.strip().partition(":")
        if not sep:
            raise ConfigError(f"${name}", "security.plan_keys_env", "expected 'key_id:hex,key_id:hex'")
        entries.append((kid.strip(), hex_secret.strip()))
    return _parse(entries, f"${name}", "security.plan_keys_env")


def load_keyring(cfg: Config) -> Keyring | None:
    """The plan keyring of config.toml [security]; None when none is configured and
    require_signed is false. ConfigError when required and missing, or malformed."""
    sec = cfg.security
    if sec.plan_keys_file:
        p = Path(sec.plan_keys_file)
        if not p.is_absolute() and cfg.source != "<defaults>":
            p = Path(cfg.source).resolve().parent / p
        return parse_key_file(p)
    value = os.environ.get(sec.plan_keys_env, "") if sec.plan_keys_env else ""
    if value.strip():
        return parse_key_env(value, sec.plan_keys_env)
    if sec.require_signed:
        raise ConfigError(
            cfg.source,
            "security.plan_keys_file",
            f"no plan key: set plan_keys_file or ${sec.plan_keys_env} (docs/security.md), "
            "or require_signed = false for a test bench",
        )
    return None


def new_keyring(key_id: str = "k1") -> Keyring:
    """A throw-away random keyring (tests, private replays)."""
    return Keyring.from_masters({key_id: secrets.token_bytes(32)})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m controller.adapters.keys", description="plan keys")
    sub = p.add_subparsers(dest="command", required=True)
    n = sub.add_parser("new", help="print a new master key line for the key file")
    n.add_argument("key_id")
    d = sub.add_parser("derive", help="print the keys to provision in one junction's cabinet")
    d.add_argument("--config", default="config.toml")
    d.add_argument("--junction", required=True)
    args = p.parse_args(argv)
    if args.command == "new":
        fresh = new_keyring(args.key_id)
        print(f"{args.key_id} {fresh.masters[args.key_id].hex()}")
        return 0
    try:
        ring = load_keyring(load_config(args.config))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if ring is None:
        print("error: no plan key configured", file=sys.stderr)
        return 2
    for kid, key in ring.for_junction(args.junction).keys.items():
        print(f"{kid} {key.hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
