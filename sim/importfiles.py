"""The files of a network's import (sim/netimport.py) and its result, without sumolib: what `simulate`
needs when the import cache (sim/netcache.py) holds the import. The import's modules (sim.netimport,
netstages, netmovements, ...) and tomli_w are then not loaded; sumolib is all the same, by libsumo
(traci.main imports sumolib.miscutils): BENCHMARKS.md, issue 12, session 57."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.errors import NetworkError
from controller.junctions import intersections_from_tables
from controller.model import Intersection

__all__ = ["SKIPPED_FILE", "ImportResult", "NoTrafficLights", "file_texts", "read_skipped", "write_import"]


class NoTrafficLights(NetworkError):
    """The network has no traffic light at all: import-net refuses it, simulate runs SUMO alone."""


@dataclass(frozen=True)
class ImportResult:
    """Files written, and the traffic lights left on their own program with the reason."""

    written: tuple[Path, ...]
    skipped: tuple[tuple[str, str], ...]  # (traffic light id, reason)
    tables: tuple[dict[str, Any], ...]  # what each written file holds, in the same order
    # the models of `written` and `tables` where already built (the import cache's entry, validated
    # by building them: sim/netcache.py), so that a run does not build them twice
    models: Mapping[str, Intersection] | None = field(default=None, compare=False, repr=False)

    def junctions(self) -> dict[str, Intersection]:
        """The models of the files written, as load_intersections reads them back from a folder
        holding only them, without reading the files again (the TOML round trip changes no value)."""
        if self.models is not None:
            return dict(self.models)
        return intersections_from_tables(list(zip(self.written, self.tables, strict=True)))


def _file_name(tid: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in tid)
    return f"{safe}.toml"


SKIPPED_FILE = "skipped.txt"


def file_texts(tables: list[dict[str, Any]], net_path: str | Path) -> list[tuple[str, str]]:
    """(file name, text) of each junction file import_network writes for `tables`, in order."""
    import tomli_w  # not needed when the import cache holds the texts

    out = []
    for table in tables:
        header = (
            f"# Junction {table['id']}, imported from {Path(net_path).name} by import-net.\n"
            "# Edit freely: timing limits, detector positions, conflicts. Loading validates it.\n\n"
        )
        out.append((_file_name(table["id"]), header + tomli_w.dumps(table)))
    return out


def write_import(
    out_dir: str | Path,
    texts: list[tuple[str, str]],
    tables: list[dict[str, Any]],
    skipped: list[tuple[str, str]],
    models: Mapping[str, Intersection] | None = None,
) -> ImportResult:
    """The import's files in out_dir: each (file name, text) of `texts` (the junction files of
    `tables`, in order: file_texts), a skipped light's earlier file removed, and skipped.txt
    (when any is skipped; an earlier one removed). `models`: those files' models where already
    built (ImportResult.models)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in texts:
        fp = out / name
        fp.write_text(text, encoding="utf-8")
        written.append(fp)
    for tid, _ in skipped:  # a previous import's model of a light skipped now must not linger
        (out / _file_name(tid)).unlink(missing_ok=True)
    (out / SKIPPED_FILE).unlink(missing_ok=True)
    if skipped:
        (out / SKIPPED_FILE).write_text(
            "# Traffic lights left on their own program by import-net, with the reason.\n"
            + "".join(f"{tid}: {why}\n" for tid, why in skipped),
            encoding="utf-8",
        )
    return ImportResult(tuple(written), tuple((tid, why) for tid, why in skipped), tuple(tables), models)


def read_skipped(folder: str | Path) -> list[tuple[str, str]]:
    """The (id, reason) lines of a folder's skipped.txt; [] when there is none."""
    fp = Path(folder) / SKIPPED_FILE
    if not fp.is_file():
        return []
    out = []
    for line in fp.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            tid, _, why = line.partition(": ")
            out.append((tid, why))
    return out
