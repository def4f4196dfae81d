"""`make test-slow`'s serial pass collects only the Makefile's WALLCLOCK_DIRS (the whole suite's
collection costs seconds of CPU for its 27 tests): a test marked `wallclock` in another folder would
run in neither pass (the parallel one leaves the mark out), so it must fail here. Its parallel pass
collects only SLOW_PATHS (those folders and the unit modules with a `slow` test): a module marking a
test `slow` outside them would run in no pass either."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARK = re.compile(r"mark\.wallclock\b")
SLOW = re.compile(r"mark\.slow\b")


def wallclock_dirs(makefile: str, name: str = "WALLCLOCK_DIRS") -> list[Path]:
    """The folders (or files) the Makefile's variable `name` names; $(WALLCLOCK_DIRS) in it read as its
    folders, a line ending in a backslash continued."""
    found = re.search(rf"^{name}\s*:?=\s*((?:.*\\\n)*.+)$", makefile, flags=re.M)
    assert found, f"Makefile: no {name}"
    words = found.group(1).replace("\\\n", " ").split()
    out: list[Path] = []
    for w in words:
        out += wallclock_dirs(makefile) if w == "$(WALLCLOCK_DIRS)" else [ROOT / w]
    return out


def outside(dirs: list[Path], tests: Path, mark: re.Pattern[str] = MARK) -> list[str]:
    """The test modules under `tests` that mark a test with `mark` and are none of `dirs` nor in one."""
    return sorted(
        str(p.relative_to(tests.parent))
        for p in tests.rglob("test_*.py")
        if mark.search(p.read_text()) and p not in dirs and not any(d in p.parents for d in dirs)
    )


def test_every_wallclock_test_is_in_a_folder_the_serial_pass_collects() -> None:
    makefile = (ROOT / "Makefile").read_text()
    dirs = wallclock_dirs(makefile)
    assert dirs and all(d.is_dir() for d in dirs), dirs
    assert "$(WALLCLOCK_DIRS)" in makefile
    assert outside(dirs, ROOT / "tests") == []


def test_every_slow_test_is_in_a_path_the_parallel_pass_collects() -> None:
    makefile = (ROOT / "Makefile").read_text()
    paths = wallclock_dirs(makefile, "SLOW_PATHS")
    assert set(wallclock_dirs(makefile)) <= set(paths) and all(p.exists() for p in paths), paths
    assert '-m "slow and not wallclock" $(SLOW_PATHS)' in makefile
    assert outside(paths, ROOT / "tests", SLOW) == []


def test_the_check_finds_a_wallclock_test_outside(tmp_path: Path) -> None:
    tests, mark, slow = tmp_path / "tests", "mark." + "wallclock", "mark." + "slow"  # not spelt out: this file matches
    (tests / "integration").mkdir(parents=True)
    (tests / "unit").mkdir()
    (tests / "integration" / "test_a.py").write_text(f"@pytest.{mark}\ndef test_a(): pass\n")
    (tests / "unit" / "test_b.py").write_text(f"pytestmark = [pytest.{slow}, pytest.{mark}]\n")
    (tests / "unit" / "test_c.py").write_text("# not wallclock: fast\n")
    assert outside([tests / "integration"], tests) == ["tests/unit/test_b.py"]
    assert outside([tests / "integration"], tests, SLOW) == ["tests/unit/test_b.py"]  # a slow module outside
    assert outside([tests / "integration", tests / "unit" / "test_b.py"], tests, SLOW) == []  # a module named


def test_the_makefile_variables_read_across_lines() -> None:
    makefile = "WALLCLOCK_DIRS := x y\nB := $(WALLCLOCK_DIRS) u/v.py \\\n\tw.py\ntest: B\n"
    assert wallclock_dirs(makefile) == [ROOT / "x", ROOT / "y"]
    assert wallclock_dirs(makefile, "B") == [ROOT / p for p in ("x", "y", "u/v.py", "w.py")]
