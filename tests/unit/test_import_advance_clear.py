"""[detectors] advance_clear_of_start (sim/loops.py _advance; off as shipped): a real advance loop
is never inside the first car length of a link, fed or not. The cross's S approach: S1C (30 m,
shorter than the advance distance) is fed by two links (the chain branches), so its advance loop
sits at the lane's start; with the key on, one vehicle spacing into the lane."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import load_config
from controller.junctions import load_intersections
from sim.netimport import import_network
from tests.netbuild import cross_net

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = load_config(ROOT / "config.toml")
ON = replace(SHIPPED, detectors=replace(SHIPPED.detectors, advance_clear_of_start=True))
DET = SHIPPED.detectors


def _advance(tmp_path: Path, name: str, cfg, lengths: dict[str, float] | None = None) -> dict:
    net = cross_net(tmp_path, name, lengths)
    import_network(net, tmp_path / name, cfg)
    (j,) = load_intersections(tmp_path / name).values()
    return {d.lane: d for d in j.detectors if d.kind == "advance"}


def test_off_as_shipped():
    assert SHIPPED.detectors.advance_clear_of_start is False


def test_a_fed_lane_s_advance_loop_moves_one_spacing_in(tmp_path):
    off = _advance(tmp_path, "off", SHIPPED)["S1C_0"]
    on = _advance(tmp_path, "on", ON)["S1C_0"]
    assert off.at_lane == on.at_lane == "S1C_0"
    assert off.pos_m == pytest.approx(0.0)
    assert on.pos_m == pytest.approx(DET.vehicle_spacing_m)
    assert on.dist_to_stop_m == pytest.approx(off.dist_to_stop_m - DET.vehicle_spacing_m, abs=0.01)


def test_on_a_fed_lane_too_short_it_goes_as_far_in_as_the_stop_loop_allows(tmp_path):
    lengths = {"S1C": 10.0}
    off = _advance(tmp_path, "off", SHIPPED, lengths)
    on = _advance(tmp_path, "on", ON, lengths)
    assert off["S1C_0"].pos_m == pytest.approx(0.0)
    # 10 m less the stop-line loop's 2 m from the stop line and a loop's gap: 6 m, kept
    assert on["S1C_0"].pos_m == pytest.approx(10.0 - DET.stop_setback_m - 3 * DET.loop_length_m, abs=0.02)
    # loops already clear of their lane's start do not move
    for lane in ("E0C_0", "N0C_0", "W1C_0"):
        assert (on[lane].at_lane, on[lane].pos_m) == (off[lane].at_lane, off[lane].pos_m)
