"""The do-no-harm replay's fixed side against SUMO, second by second, under the city's own program.

One junction (tests/netbuild.py cross_net) on a program with transitions of their own lengths
(a 4 s yellow and a 2 s all-red, a green kept 3 s into a partial yellow, a 3 s yellow and a
1 s all-red), a stage served twice a cycle (W alone, 6 s mid-cycle and 5 s at its end), an
offset of 17 s and a run that begins at 50 s. Under `fixed` the roadside reports SUMO's own
program; with [harm] program_timeline the replay's fixed side shows the same phase in every
second (docs/harm.md), where the base program (one uniform intergreen, one green per stage)
moves green ends and serves W once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from controller.config import load_config
from controller.core import shadow
from sim.simulate import InProcessLoop, SimulateRequest, run
from tests.netbuild import additional, cross_net, tl_logic
from tests.scenarios import scenario

ROOT = Path(__file__).resolve().parents[2]
NS, EW, W = "GGgrrrGGgrrr", "rrrGGgrrrGGg", "rrrrrrrrrGGG"
BEGIN_S, END_S = 50, 400


def _y(state: str) -> str:
    return state.replace("G", "y").replace("g", "y")


PHASES = [
    (25, NS), (4, _y(NS)), (2, "r" * 12), (6, W), (20, EW), (3, "rrryyyrrrGGG"), (5, W), (3, _y(W)), (1, "r" * 12),
]  # fmt: skip


class _Trace(InProcessLoop):
    """Per second: (t, the replay's fixed phase as shadow.advance reads it, the phase the roadside
    status reports)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[tuple[float, int, int]] = []
        _Trace.last = self

    def second(self, t_s: float) -> None:
        super().second(t_s)
        program = self.service.core.programs["C"]
        status = self.service.state.junctions["C"].status
        self.rows.append((t_s, program.phase_at(t_s - 2.0), shadow.controlled_phase(status)))


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> tuple[Path, Path]:
    cwd = tmp_path_factory.mktemp("timeline")
    net = cross_net(cwd)
    add = additional(cwd, "tls.add.xml", tl_logic("C", "city", PHASES, 17))
    return scenario(cwd, net, end_s=END_S, period_s=3.0, begin_s=BEGIN_S), add


def _trace(case: tuple[Path, Path], tmp_path: Path, on: bool) -> list[tuple[float, int, int]]:
    cfg_path, add = case
    cfg = load_config(ROOT / "config.toml")
    cfg = dataclasses.replace(cfg, harm=dataclasses.replace(cfg.harm, program_timeline=on))
    args = ("--additional-files", str(add), "--end", str(END_S))
    run(SimulateRequest(cfg_path, tmp_path / f"on{on}", "fixed", args, prefer_libsumo=False), cfg, loop_factory=_Trace)
    return _Trace.last.rows


def test_the_fixed_side_shows_sumos_phase_every_second(case, tmp_path):
    rows = _trace(case, tmp_path, on=True)
    assert len(rows) >= END_S - BEGIN_S - 2
    late = [(t, fixed, shown) for t, fixed, shown in rows if t >= BEGIN_S + 2]  # a status read first
    assert [r for r in late if r[1] != r[2]] == []
    assert {shown for _, _, shown in late} == {-1, 0, 1, 2}
    off = _trace(case, tmp_path, on=False)  # the base program: green ends move, W served once
    differ = sum(1 for t, fixed, shown in off if t >= BEGIN_S + 2 and fixed != shown)
    assert differ >= 5 * ((END_S - BEGIN_S) // 69)
