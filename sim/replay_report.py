"""DIR/report.html of a replay (placeholder until the plots land)."""

from __future__ import annotations

from pathlib import Path


def write_report(out: Path, result, policies, junctions) -> Path:
    path = out / "report.html"
    path.write_text("<html><body><p>report pending</p></body></html>", encoding="utf-8")
    return path
