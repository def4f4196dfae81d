"""What a controller run needs to be trusted by the roadsides: its epoch, its plan signer, its
audit trail (docs/security.md). `open_trust(cfg, wall_s)` builds them from config.toml
[security] and [audit] at start-up; `Trust.close()` closes the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from controller.adapters.audit import AuditStore, boot_epoch
from controller.adapters.keys import load_keyring
from controller.config import Config
from controller.core.messages import Signer


@dataclass(frozen=True)
class Trust:
    epoch: int  # this run's plan epoch: above every earlier run's
    signer: Signer | None  # signs plan messages; None sends them unsigned (require_signed = false)
    audit: AuditStore | None

    def close(self) -> None:
        if self.audit is not None:
            self.audit.close()


def audit_path(cfg: Config) -> Path | None:
    """[audit] path, relative to the config file's folder; None when the trail is off."""
    if not cfg.audit.path:
        return None
    p = Path(cfg.audit.path)
    if p.is_absolute() or cfg.source == "<defaults>":
        return p
    return Path(cfg.source).resolve().parent / p


def open_trust(cfg: Config, wall_s: float) -> Trust:
    """Keys first (a missing key is a ConfigError before anything is written), then the audit
    store and a new epoch recorded in it; without a store the epoch is the boot time."""
    keyring = load_keyring(cfg)
    path = audit_path(cfg)
    audit = AuditStore(path) if path is not None else None
    epoch = audit.begin_epoch(cfg.service.instance, wall_s) if audit is not None else boot_epoch(wall_s)
    return Trust(epoch, keyring.sign if keyring is not None else None, audit)
