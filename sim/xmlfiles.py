"""Scenario files as SUMO reads them: plain or gzip-compressed XML, whatever the name says."""

from __future__ import annotations

import gzip
import io
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"

# What reading an XML file through `open_xml` raises when the file cannot be read as XML: a
# parse error, an unreadable file (OSError, gzip's BadGzipFile among them), or gzip data that
# is truncated (EOFError) or corrupt (zlib.error), which are neither.
UNREADABLE_XML: tuple[type[Exception], ...] = (ET.ParseError, OSError, EOFError, zlib.error)


def open_xml(path: str | Path) -> io.BufferedIOBase:
    """The file at `path` for reading as XML bytes, decompressed when it is gzip (by its first two
    bytes, as SUMO and sumolib tell: a city's `net.xml.gz`, `rou.xml.gz`, `add.xml.gz`). Raises
    FileNotFoundError as open() does; a caller parsing it catches UNREADABLE_XML."""
    with open(path, "rb") as head:
        compressed = head.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def root_tag(path: str | Path) -> str:
    """The name of the file's root element, read from its first bytes only (plain or gzip).
    Raises one of UNREADABLE_XML when there is none to read."""
    with open_xml(path) as stream:
        for _event, element in ET.iterparse(stream, events=("start",)):
            return str(element.tag)
    raise ET.ParseError("no root element")
