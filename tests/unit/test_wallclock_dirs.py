"""`make test-slow`'s serial pass collects only the Makefile's WALLCLOCK_DIRS (the whole suite's
collection costs seconds of CPU for its 27 tests): a test marked `wallclock` in another folder would
run in neither pass (the parallel one leaves the mark out), so it must fail here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARK = re.compile(r"mark\.wallclock\b")


def wallclock_dirs(makefile: str) -> list[Path]:
    """The folders the Makefile's WALLCLOCK_DIRS names."""
    found = re.search(r"^WALLCLOCK_DIRS\s*:?=\s*(.+)$", makefile, flags=re.M)
    assert found, "Makefile: no WALLCLOCK_DIRS"
    return [ROOT / d for d in found.group(1).split()]


def outside(dirs: list[Path], tests: Path) -> list[str]:
    """The test modules under `tests` that mark a test `wallclock` and lie in none of `dirs`."""
    return sorted(
        str(p.relative_to(tests.parent))
        for p in tests.rglob("test_*.py")
        if MARK.search(p.read_text()) and not any(d in p.parents for d in dirs)
    )


def test_every_wallclock_test_is_in_a_folder_the_serial_pass_collects() -> None:
    makefile = (ROOT / "Makefile").read_text()
    dirs = wallclock_dirs(makefile)
    assert dirs and all(d.is_dir() for d in dirs), dirs
    assert "$(WALLCLOCK_DIRS)" in makefile
    assert outside(dirs, ROOT / "tests") == []


def test_the_check_finds_a_wallclock_test_outside(tmp_path: Path) -> None:
    tests, mark = tmp_path / "tests", "mark." + "wallclock"  # not spelt out: this file would match
    (tests / "integration").mkdir(parents=True)
    (tests / "unit").mkdir()
    (tests / "integration" / "test_a.py").write_text(f"@pytest.{mark}\ndef test_a(): pass\n")
    (tests / "unit" / "test_b.py").write_text(f"pytestmark = [pytest.mark.slow, pytest.{mark}]\n")
    (tests / "unit" / "test_c.py").write_text("# not wallclock: fast\n")
    assert outside([tests / "integration"], tests) == ["tests/unit/test_b.py"]
