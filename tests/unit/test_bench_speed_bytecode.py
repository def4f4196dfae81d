"""sim.bench_speed times each tree with its bytecode up to date: a module whose cached bytecode is
missing or older than its source is compiled again by every run (in memory only, where
PYTHONDONTWRITEBYTECODE is set), which is the tree's state and not the service's cost."""

from __future__ import annotations

import os
from pathlib import Path

from sim.bench_speed import compile_bytecode, stale_bytecode


def _tree(root: Path) -> list[Path]:
    files = [root / "controller" / "a.py", root / "sim" / "sub" / "b.py", root / "run_controller.py"]
    for f in files:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("X = 1\n")
    (root / "other.py").write_text("Y = 2\n")  # not what simulate imports of its own: not looked at
    return files


def test_missing_bytecode_is_stale_and_compiled_once(tmp_path):
    files = _tree(tmp_path)
    assert stale_bytecode(tmp_path) == sorted(files)
    assert compile_bytecode(tmp_path) == 3
    assert stale_bytecode(tmp_path) == []
    assert compile_bytecode(tmp_path) == 0


def test_a_source_changed_after_its_bytecode_is_stale(tmp_path):
    files = _tree(tmp_path)
    compile_bytecode(tmp_path)
    files[0].write_text("X = 12\n")  # another size
    st = files[1].stat()
    os.utime(files[1], (st.st_atime, st.st_mtime + 10))  # another mtime, the same size
    assert stale_bytecode(tmp_path) == [files[0], files[1]]
    assert compile_bytecode(tmp_path) == 2
    assert stale_bytecode(tmp_path) == []
