"""sim/passthrough.py: what follows `--` goes to SUMO unchanged, the rest to the command."""

from __future__ import annotations

import pytest

from sim.passthrough import split_sumo_args


@pytest.mark.parametrize(
    ("argv", "own", "sumo"),
    [
        (["run.sumocfg", "--out", "d"], ["run.sumocfg", "--out", "d"], ()),
        (["a", "--", "--end", "60"], ["a"], ("--end", "60")),
        (["--", "-b", "0"], [], ("-b", "0")),
        (["a", "--"], ["a"], ()),
        # only the first `--` splits: a second one is SUMO's
        (["a", "--", "x", "--", "y"], ["a"], ("x", "--", "y")),
    ],
)
def test_split_at_the_first_double_dash(argv: list[str], own: list[str], sumo: tuple[str, ...]) -> None:
    assert split_sumo_args(argv) == (own, sumo)


def test_default_is_the_process_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["prog", "x", "--", "--seed", "3"])
    assert split_sumo_args() == (["x"], ("--seed", "3"))
