"""`import libsumo` is silent: the installed pyarrow is the Arrow that libsumo 1.28 is built against
(pyproject.toml pins it). With pyarrow 26 every run of simulate, replay and the twins began with
libsumo's "pyarrow is installed with version 26.0.1 which might be incompatible" lines."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("libsumo")


def test_importing_libsumo_prints_nothing():
    done = subprocess.run([sys.executable, "-c", "import libsumo"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "", done.stdout
