"""Checkpoints of the learnt state in the audit store (controller/adapters/audit.py).

One event of kind `checkpoint` per write: junction '', actor `controller/<instance>`, payload
{"site", "instance", "learnt"} where "learnt" is controller/core/checkpoint.py `learnt(...)`.
`latest(store, site)` is the newest checkpoint of a site, whichever instance wrote it (a standby
taking over resumes too).
"""

from __future__ import annotations

from typing import Any

from controller.adapters.audit import AuditStore
from controller.ledger import AuditSink

KIND = "checkpoint"
_PAGE = 100


def save(store: AuditSink, site: str, instance: str, learnt: dict[str, Any], t_s: float) -> int:
    """Append one checkpoint (one JSON document, one transaction); returns its event id."""
    return store.append(
        KIND, "", f"controller/{instance}", {"site": site, "instance": instance, "learnt": learnt}, t_s=t_s
    )


def latest(store: AuditStore, site: str) -> tuple[int, object] | None:
    """(event id, the "learnt" data as stored: checkpoint.restore reads it, and refuses what it
    cannot read) of the newest checkpoint of `site`, None if there is none.
    Reads the checkpoints newest first, a page at a time, until one of `site`."""
    before: int | None = None
    while True:
        page = store.newest(kind=KIND, junction="", before_id=before, limit=_PAGE)
        for rec in page:
            if rec.payload.get("site") == site:
                return rec.id, rec.payload.get("learnt")
        if len(page) < _PAGE:
            return None
        before = page[-1].id
