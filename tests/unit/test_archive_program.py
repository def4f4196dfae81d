"""The feed archive's status rows carry the city's program in force the status names (`program`, session 66:
SignalStatus.program, docs/mqtt.md), so a replay of the recording can follow it ([harm] follow_program_in_force).
The format grows by whole columns: a status file written before reads every row's `program` as "" (no program
named), as a detector file from before the bicycle class reads its counts as 0 (tests/unit/test_bicycle_class.py)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from controller.adapters.archive import SCHEMAS, _status_row, read_archive
from controller.model import SignalStatus


def _write(path, schema: pa.Schema, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = {f.name: pa.array([r[f.name] for r in rows]).cast(f.type) for f in schema}
    pq.write_table(pa.table(cols, schema=schema), path)


def _rows(programs: list[str]) -> list[dict]:
    return [
        _status_row(SignalStatus("J1", float(k), 0, False, 1.0, "local", 0, "local", (), p), k + 0.1, 1, k)
        for k, p in enumerate(programs)
    ]


def test_a_status_row_keeps_the_program_named() -> None:
    assert [r["program"] for r in _rows(["evening", ""])] == ["evening", ""]
    assert SCHEMAS["status"].names[-1] == "program"


def test_an_archive_written_before_the_program_column_reads_no_program(tmp_path) -> None:
    old = pa.schema([f for f in SCHEMAS["status"] if f.name != "program"])
    rows = _rows(["", "", ""])
    _write(tmp_path / "status" / "day=1970-01-01" / "part-1-00000.parquet", old, rows)
    _write(tmp_path / "status" / "day=1970-01-01" / "part-2-00000.parquet", SCHEMAS["status"], _rows(["night"]))
    st = read_archive(tmp_path, "status")
    assert st.schema.names == SCHEMAS["status"].names
    assert st["program"].cast(pa.string()).to_pylist() == ["", "night", "", ""]
