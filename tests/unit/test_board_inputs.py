"""sim.scenarios.board: the board file reads as `sim.bench_key --board` reads it, the cross_* fuzz inputs
build with the game's step length, and a tool that fails is named with the input it was building."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import bench_key
from sim.scenarios import board
from sim.scenarios.common import sumo_home
from sim.sumo import SumoConfig

GAME = sumo_home() / "tools" / "game"


def laid_out(tmp_path: Path) -> tuple[Path, Path]:
    """An empty stand-in for every configuration the board names (out, bologna); the city is the repo's."""
    out, bologna = tmp_path / "board", tmp_path / "bologna"
    for line in board.board_lines(out, bologna):
        if not line.cfg.is_file():
            line.cfg.parent.mkdir(parents=True, exist_ok=True)
            line.cfg.write_text("<configuration/>")
    return out, bologna


def test_the_board_file_parses_with_bench_keys_parser(tmp_path):
    out, bologna = laid_out(tmp_path)
    path = board.write_board(out, bologna)
    scenarios = bench_key.parse_scenarios([], path)
    names = [s.name for s in scenarios]
    lines = [ln for ln in path.read_text().splitlines() if ln.split("#", 1)[0].strip()]
    assert len(lines) == len(names) == len(set(names)) == 48  # the parser keeps one of a repeated line
    ends = {s.name: s.end_s for s in scenarios}
    assert ends["acosta"] == ends["pasubio"] == ends["joined"] == 3600
    assert ends["cologne1"] == 25200 + 900 and ends["ingolstadt21"] == 57600 + 900 and ends["grid4x4"] == 900
    assert ends["city"] == ends["r3"] == ends["grid6_incoming_left"] == ends["t_corridor"] == 900
    assert ends["grid_late_start"] == 25200 + 900  # its begin: an end of 900 s would not start
    assert {s.name: s.cfg for s in scenarios}["city"] == board.CITY.resolve()
    assert all(s.cfg.is_absolute() for s in scenarios)
    assert {s.name: s.cfg for s in scenarios}["r1"] == (out / "rilsa" / "r1" / "run.sumo.cfg").resolve()


def test_a_missing_configuration_is_named_and_no_board_written(tmp_path):
    out, bologna = laid_out(tmp_path)
    (out / "fz" / "fkk_in_delay" / "fkk_in_delay.sumocfg").unlink()
    with pytest.raises(board.BoardError, match=r"board network fkk_in_delay: no .*fkk_in_delay\.sumocfg"):
        board.write_board(out, bologna)
    assert not (out / "board.txt").exists()


@pytest.mark.parametrize("name", ["cross_actuated", "cross_incoming"])
def test_the_cross_fuzz_inputs_build_with_the_games_step_length(tmp_path, name):
    fz = board.fuzz_by_name()[name]
    cfg = board.build_fuzz(fz, tmp_path)
    assert cfg == tmp_path / name / f"{name}.sumocfg"
    got = SumoConfig(cfg).values
    game = SumoConfig(GAME / "cross.sumocfg").values  # the game's own configuration of the network
    assert float(got["step-length"]) == float(game["step-length"]) == 0.2
    net = (tmp_path / name / f"{name}.net.xml").read_text()
    assert "<tlLogic" in net and "generated on" not in net  # programs rebuilt; no build-time header
    if name == "cross_actuated":
        assert 'type="actuated"' in net
    else:
        assert 'type="actuated"' not in net
    assert (tmp_path / name / f"{name}.rou.xml").read_bytes() == (GAME / fz.routes).read_bytes()
    mtime = cfg.stat().st_mtime_ns
    assert board.build_fuzz(fz, tmp_path) == cfg and cfg.stat().st_mtime_ns == mtime  # built: left as is


def test_a_failing_netconvert_is_reported_with_the_inputs_name(tmp_path):
    game = tmp_path / "game"
    game.mkdir()
    (game / "broken.net.xml").write_text("<net><edge id='e' from='nowhere'")  # not XML netconvert can read
    (game / "broken.rou.xml").write_text("<routes/>")
    fz = board.FuzzInput("grid_broken", "broken.net.xml", "broken.rou.xml", "0.2", ("--tls.rebuild",))
    with pytest.raises(board.BoardError, match=r"^fuzz input grid_broken: netconvert failed \(exit \d+\): \S"):
        board.build_fuzz(fz, tmp_path / "fz", game=game)
    assert not (tmp_path / "fz" / "grid_broken").exists()  # nothing half-built is left to be taken as built
    assert [p.name for p in (tmp_path / "fz").iterdir()] == []


def test_the_cli_prints_a_failing_tools_error_and_exits_1(tmp_path, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise board.BoardError("RiLSA r1 (RiLSA_example1): python failed (exit 1): boom")

    monkeypatch.setattr(board, "build_all", fail)
    assert board.main(["--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == "error: RiLSA r1 (RiLSA_example1): python failed (exit 1): boom\n"


@pytest.mark.parametrize("fz", board.FUZZ, ids=lambda f: f.name)
def test_every_fuzz_input_keeps_its_game_networks_step_length(fz):
    """grid6 (0.1 s) and fkk_in (0.2 s) are not built here (slow): their step length is checked against the
    game's own configuration of the network (tools/game/DIR.sumocfg), as the cross_* inputs' is when built."""
    game_cfg = GAME / f"{Path(fz.net).parts[0]}.sumocfg"
    assert SumoConfig(game_cfg).net_file == (GAME / fz.net).resolve()
    assert float(fz.step_s) == float(SumoConfig(game_cfg).values["step-length"])
