"""Scenario files as SUMO reads them: plain or gzip-compressed XML, whatever the name says."""

from __future__ import annotations

import gzip
import io
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
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


def readable_roots(files: list[Path]) -> Iterator[tuple[Path, ET.Element]]:
    """Each file of `files` that reads as XML, with its root element, in order. A file that does not
    (UNREADABLE_XML) is skipped: the readers that must refuse it (the loops', the programs') raise on it."""
    for fp in files:
        try:
            with open_xml(fp) as source:
                root = ET.parse(source).getroot()
        except UNREADABLE_XML:
            continue
        yield fp, root


def with_includes(files: list[Path]) -> list[Path]:
    """The additional files as SUMO reads them: each followed by the files its `<include href="...">` elements
    name (relative to the including file; recursively, in document order). SUMO loads an included file's
    elements in place of the element: a city's programs or loops may sit in a file only an index file names.
    Listed after the including file, an included program wins over one the including file defines for the same
    light after the include (SUMO's would): no city file seen does both. A file that cannot be read, or a cycle
    of includes, adds nothing (the readers name an unreadable file)."""
    out: list[Path] = []

    def add(fp: Path, seen: tuple[Path, ...]) -> None:
        out.append(fp)
        for href in _included(fp):
            inner = (fp.parent / href).resolve()
            if inner not in seen:
                add(inner, (*seen, inner))

    for fp in files:
        add(Path(fp), (Path(fp).resolve(),))
    return out


def _included(path: Path) -> list[str]:
    """The `href`s of the file's `<include>` elements, in document order."""
    try:
        with open_xml(path) as stream:
            found = []
            for _event, element in ET.iterparse(stream):
                if element.tag == "include" and element.get("href"):
                    found.append(str(element.get("href")))
                element.clear()
            return found
    except UNREADABLE_XML:
        return []
