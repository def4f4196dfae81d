"""sim.harm_check's forced hand-back: `--force-fixed J --force-fixed-from S` holds J in fixed mode
from the simulation's second S on, for good, and leaves every other junction to do no harm.

Two lights on one road (tests/netbuild.py pair_net), `adaptive`, a run from 50 s to 400 s. The
loop is the one harm_check.main runs (harm_check.loop_class), from its own command line.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from controller.config import load_config
from sim import harm_check
from sim.simulate import SimulateRequest, run
from tests.netbuild import pair_net
from tests.scenarios import scenario

ROOT = Path(__file__).resolve().parents[2]
BEGIN_S, END_S, FROM_S = 50, 400, 200


class _Modes(harm_check._Loop):
    """harm_check's loop, plus each second's (t, junction -> (mode, hold_s))."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[tuple[float, dict[str, tuple[str, float]]]] = []
        _Modes.last = self

    def second(self, t_s: float) -> None:
        super().second(t_s)
        js = self.service.state.junctions
        self.rows.append((t_s, {j: (s.harm.mode, s.harm.hold_s) for j, s in js.items()}))


@pytest.fixture(scope="module")
def cfg_path(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("harm_check")
    return scenario(cwd, pair_net(cwd, 120.0), end_s=END_S, period_s=2.0, begin_s=BEGIN_S)


def _rows(cfg_path: Path, out: Path, argv: list[str]) -> list[tuple[float, dict[str, tuple[str, float]]]]:
    loop = harm_check.loop_class(harm_check.get_options([str(cfg_path), "--out", str(out), *argv]), _Modes)
    request = SimulateRequest(cfg_path, out, "adaptive", ("--end", str(END_S)), prefer_libsumo=False)
    summary = run(request, load_config(ROOT / "config.toml"), loop_factory=loop)
    assert set(summary["harm_check"]["junctions"]) == {"A", "B"}
    return _Modes.last.rows


@pytest.fixture(scope="module")
def free(cfg_path, tmp_path_factory) -> list[tuple[float, dict[str, tuple[str, float]]]]:
    """The same run with nothing forced: do no harm's own verdicts (it may hand a light back)."""
    return _rows(cfg_path, tmp_path_factory.mktemp("free"), [])


def test_force_fixed_from_holds_the_junction_from_that_second_on(cfg_path, free, tmp_path):
    rows = _rows(cfg_path, tmp_path / "from", ["--force-fixed", "A", "--force-fixed-from", str(FROM_S)])
    assert [t for t, _ in rows] == [t for t, _ in free]
    before = [(modes, base) for (t, modes), (_, base) in zip(rows, free) if t < FROM_S]
    after = [modes for t, modes in rows if t >= FROM_S]
    assert before and after
    assert all(modes == base for modes, base in before)  # nothing forced before S: the free run's modes
    assert all(modes["A"][0] == "fixed" and math.isinf(modes["A"][1]) for modes in after)
    assert not any(math.isinf(modes["A"][1]) for _, modes in free)  # a verdict's hold is finite


def test_force_fixed_without_from_holds_it_all_run(cfg_path, free, tmp_path):
    rows = _rows(cfg_path, tmp_path / "all", ["--force-fixed", "B"])
    assert rows and all(modes["B"][0] == "fixed" and math.isinf(modes["B"][1]) for _, modes in rows)
    assert not any(math.isinf(modes["A"][1]) for _, modes in rows)  # the other light is not held
