"""Every test in this folder runs a whole scenario end to end (SUMO, Mosquitto, Prometheus): each
is marked `slow`, so `make test-fast` (`pytest -m "not slow"`) leaves them out and
`make test-slow` runs them; `make test` (and CI) runs both."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A conftest hook sees every collected item, not only this folder's.
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.slow)
