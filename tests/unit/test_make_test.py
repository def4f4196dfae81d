"""`make test` (and CI's .ci/run, which runs it) fails when any of its parts fails, also those that run beside
the unit pass with their output kept (lint, the wallclock pass), and runs every part when one fails. Checked on a
copy of the Makefile and .ci/run whose interpreter is a stand-in: each part exits as told and says it ran."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("ruff_check", "ruff_format", "mypy", "fast", "wallclock", "parallel")

# The stand-in for .venv/bin/python: a part prints "ran PART" and exits with $FAKE_RC_PART (0 when unset).
FAKE_PYTHON = """#!/usr/bin/env bash
case "$*" in
  *"-m ruff check"*) p=ruff_check;; *"-m ruff format"*) p=ruff_format;; *"-m mypy"*) p=mypy;;
  *"-m pytest"*"not slow"*) p=fast;; *"-m pytest"*"slow and wallclock"*) p=wallclock;; *"-m pytest"*) p=parallel;;
  *) exit 0;;
esac
v=FAKE_RC_$p; echo "ran $p"; exit ${!v:-0}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A folder holding the Makefile and .ci/run, set up already (the venv's stamp newer than pyproject.toml)."""
    (tmp_path / ".ci").mkdir()
    (tmp_path / "scripts").mkdir()
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / "scripts" / "install-system-deps.sh").write_text("exit 0\n")
    python = tmp_path / ".venv" / "bin" / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    (tmp_path / "pyproject.toml").write_text("")
    os.utime(tmp_path / "pyproject.toml", (1_700_000_000, 1_700_000_000))
    (tmp_path / ".venv" / ".installed").write_text("")
    return tmp_path


def ci_run(repo: Path, failing: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_RC_", "MAKE"))}
    if failing:
        env[f"FAKE_RC_{failing}"] = "1"
    return subprocess.run([str(repo / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("failing", [None, *PARTS])
def test_ci_fails_when_any_part_fails_and_every_part_runs(repo: Path, failing: str | None) -> None:
    done = ci_run(repo, failing)
    assert (done.returncode == 0) == (failing is None), done.stdout + done.stderr
    ran = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("ran ")]
    assert sorted(ran) == sorted(PARTS), done.stdout  # each part once, whichever failed
