"""Scenario files as SUMO reads them: plain or gzip-compressed XML, whatever the name says."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"


def open_xml(path: str | Path) -> IO[bytes]:
    """The file at `path` for reading as XML bytes, decompressed when it is gzip (by its first two
    bytes, as SUMO and sumolib tell: a city's `net.xml.gz`, `rou.xml.gz`, `add.xml.gz`). Raises
    FileNotFoundError as open() does."""
    with open(path, "rb") as head:
        compressed = head.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else open(path, "rb")
