"""A cache of the network import (sim/netimport.py's junction tables) between `simulate` runs.

Reading a SUMO network with sumolib and deriving its junction tables is the largest part of
`simulate`'s start-up after the imports (BENCHMARKS.md, issue 12), every run, for the same answer.
`simulate` keeps the answer (the junction tables, each junction file's text, the traffic lights
skipped with their reasons) in `import_cache_dir()`: `$XDG_CACHE_HOME/tsc/netimport/`, else
`~/.cache/tsc/netimport/`, one JSON file per key, the KEPT_FILES used last. Deleting the folder
clears it; nothing else reads it (`import-net` always imports).

The key (`import_key`) is a SHA-256 of everything the import reads or runs:
- the bytes of the network and of each additional file, and their paths as given (the reasons
  of the skipped lights name them);
- the detectors source, the run's begin, and the configuration (`repr` of the validated Config);
- the importer's version: every module of the packages `controller`, `sim` and `sumolib` (its
  path, size and modification time), and the Python version.
A changed network, file, configuration or code gives another key: the network is imported again.
The tables and files kept are the fresh import's, value for value and type for type (JSON keeps
int, float, str, bool, list and dict apart; the tables hold no other type:
tests/contract/test_netcache.py).
A cache that cannot be read or written is only a cache: the network is imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sumolib

from controller.config import Config

# the junction tables, the (id, reason) of the lights skipped, and each table's junction file (its text)
Imported = tuple[list[dict[str, Any]], list[tuple[str, str]], list[str]]

KEPT_FILES = 64  # the newest keys kept (by last use); older ones are removed when a new one is written
CODE_PACKAGES = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "controller")


def import_cache_dir() -> Path:
    """$XDG_CACHE_HOME/tsc/netimport, else ~/.cache/tsc/netimport (sim/sumo.py's folder for SUMO's options)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tsc" / "netimport"


def code_digest() -> str:
    """SHA-256 of the identity of every module of `controller`, `sim` and `sumolib` (its path, size
    and modification time, as sim/sumo.py identifies SUMO's binary: an edited, added or removed
    source changes it) and of the Python version."""
    h = hashlib.sha256(sys.version.encode())
    for root in (*CODE_PACKAGES, Path(sumolib.__file__).resolve().parent):
        for source in sorted(root.rglob("*.py")):
            st = source.stat()
            h.update(f"\0{source}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()


def import_key(
    net_path: str | Path, cfg: Config, additional: Sequence[Path], detectors: str, begin_s: float | None
) -> str:
    """The cache key of one import (module docstring). Raises OSError when a file cannot be read."""
    h = hashlib.sha256(code_digest().encode())
    for path in (Path(net_path), *additional):
        h.update(f"\0{path}\0".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    h.update(f"\0{detectors}\0{begin_s!r}\0{cfg!r}".encode())
    return h.hexdigest()


def cached_import(folder: Path, key: str, compute: Callable[[], Imported]) -> Imported:
    """The import kept under `key` in `folder`, else `compute()`'s, then kept."""
    entry = folder / f"{key}.json"
    try:
        kept = json.loads(entry.read_text(encoding="utf-8"))
        tables, texts = kept["tables"], [str(text) for text in kept["texts"]]
        skipped = [(str(tid), str(why)) for tid, why in kept["skipped"]]
        if len(texts) == len(tables):
            os.utime(entry)  # its last use: the newest KEPT_FILES stay
            return tables, skipped, texts
    except (OSError, ValueError, KeyError, TypeError):
        pass
    tables, skipped, texts = compute()
    _keep(folder, entry, {"tables": tables, "skipped": skipped, "texts": texts})
    return tables, skipped, texts


def _keep(folder: Path, entry: Path, value: dict[str, Any]) -> None:
    """Write `value` to `entry` whole (then renamed: runs started together never read half a
    file), and remove the oldest entries beyond KEPT_FILES."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        part = entry.with_name(f"{entry.name}.{os.getpid()}.part")
        part.write_text(json.dumps(value, allow_nan=True), encoding="utf-8")
        os.replace(part, entry)
        entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in entries[KEPT_FILES:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
