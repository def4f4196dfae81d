"""Stuck-on faults with `[estimation] stuck_on_needs_traffic`: a loop fully occupied without a count
is a fault only when vehicles must have crossed it (its paired loop counted them); a jam standing
over both loops of a lane is traffic, and its loops stay in use."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from controller.config import Config, ConfigError, load_config
from controller.core import netestimate
from controller.core.estimation import Estimate, EstimationParams, Layout
from tests.estimate_fixtures import Feed, fold_both_ways, mixed_junctions, random_snapshot, reading

NEEDS_TRAFFIC = Config(estimation=EstimationParams(stuck_on_needs_traffic=True))


def _jam(f: Feed, seconds: int) -> None:
    """Both loops of N covered by standing vehicles, nothing counted (N red, its exit full)."""
    for _ in range(seconds):
        f.step(reading("N_stop", {}, 1.0, 0.0), reading("N_adv", {}, 1.0, 0.0), green=1)


def test_a_jam_over_both_loops_is_not_a_fault_with_the_rule():
    f = Feed(cfg=NEEDS_TRAFFIC)
    _jam(f, 400)
    assert f.est.faulty_detectors(f.lay) == ()
    assert f.q() >= f.lay.lane_storage_pcu[0]  # the jam is still read: the storage is full


def test_a_jam_over_both_loops_is_a_fault_without_the_rule():
    f = Feed()
    _jam(f, 400)
    assert {"N_stop", "N_adv"} <= set(f.est.faulty_detectors(f.lay))


def test_an_advance_loop_stuck_on_while_the_stop_line_counts_is_a_fault_with_the_rule():
    f = Feed(cfg=NEEDS_TRAFFIC)
    for k in range(301):  # one car every 4 s over the stop line: 75 vehicles, beyond storage + 15
        f.step(reading("N_adv", {}, 1.0, 0.0), reading("N_stop", {"car": 1} if k % 4 == 0 else {}, 0.3, 10.0), green=0)
    assert "N_adv" in f.est.faulty_detectors(f.lay)
    assert "N_stop" not in f.est.faulty_detectors(f.lay)


def test_the_reference_count_starts_with_the_occupied_spell():
    """Vehicles counted by the pair before the loop was covered do not count against it."""
    f = Feed(cfg=NEEDS_TRAFFIC)
    for k in range(200):  # free flow: both loops count
        adv = reading("N_adv", {"car": 1} if k % 2 == 0 else {}, 0.3, 12.0)
        f.step(adv, reading("N_stop", {"car": 1} if k % 2 else {}, 0.3, 10.0), green=0)
    _jam(f, 400)
    assert f.est.faulty_detectors(f.lay) == ()


def test_a_non_bool_names_the_field(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[estimation]\nstuck_on_needs_traffic = 1\n")
    with pytest.raises(ConfigError, match="stuck_on_needs_traffic"):
        load_config(p)


def test_one_pass_over_the_network_equals_junction_by_junction_with_the_rule():
    """netestimate folds the rule as estimation.update does, bit for bit (random feeds, one loop
    of A covered for good while its pair counts: it turns stuck-on on both paths)."""
    rng = random.Random(11)
    js = mixed_junctions()
    layouts = {jid: Layout.build(j, NEEDS_TRAFFIC) for jid, j in js.items()}
    net = netestimate.network_layout(layouts)
    assert net is not None
    ref = {jid: Estimate.empty(lay, 0.0) for jid, lay in layouts.items()}
    got = dict(ref)
    for tick in range(1, 400):
        snaps = {jid: [random_snapshot(rng, j, float(tick))] for jid, j in js.items()}
        covered = reading("N_adv", {}, 1.0, 0.0)
        kept = [x for x in snaps["A"][0].readings if x.detector != "N_adv"]
        snaps["A"] = [replace(snaps["A"][0], readings=(*kept, covered))]
        got = fold_both_ways(net, layouts, ref, got, snaps, {jid: rng.choice((None, 0, 1)) for jid in js})
    assert "N_adv" in got["A"].faulty_detectors(layouts["A"])


@pytest.mark.parametrize(("every_s", "fault"), [(15, False), (10, True)])
def test_the_lane_storage_between_the_loops_counts_before_a_fault(every_s, fault):
    """The stop line counts 21 vehicles (every 15 s) or 31 (every 10 s) while the advance loop
    stays covered for 301 s: beyond `stuck_off_ref_veh` (15) both, but only 31 beyond it plus
    the 10.4 PCU the lane stores between the loops (vehicles that must have crossed it)."""
    f = Feed(cfg=NEEDS_TRAFFIC)
    assert f.lay.lane_storage_pcu[0] == pytest.approx(10.4)
    for k in range(301):
        stop = reading("N_stop", {"car": 1} if k % every_s == 0 else {}, 0.3, 10.0)
        f.step(reading("N_adv", {}, 1.0, 0.0), stop, green=0)
    assert ("N_adv" in f.est.faulty_detectors(f.lay)) is fault


@pytest.mark.parametrize(("every_s", "fault"), [(15, False), (10, True)])
def test_the_lane_storage_counts_for_a_covered_stop_line_loop_too(every_s, fault):
    """The mirror of the test above: the stop-line loop stays covered for 301 s while the advance
    loop counts 21 or 31 vehicles; the 10.4 PCU stored between the loops count for it as well."""
    f = Feed(cfg=NEEDS_TRAFFIC)
    for k in range(301):
        adv = reading("N_adv", {"car": 1} if k % every_s == 0 else {}, 0.3, 12.0)
        f.step(reading("N_stop", {}, 1.0, 0.0), adv, green=1)
    assert ("N_stop" in f.est.faulty_detectors(f.lay)) is fault


@pytest.mark.parametrize("cfg", [Config(), NEEDS_TRAFFIC], ids=["rule off", "rule on"])
def test_a_silent_loop_is_stuck_off_with_or_without_the_rule(cfg):
    """The rule changes stuck-on only: a stop-line loop silent for 901 s while its advance loop
    counts 91 vehicles is a stuck-off fault either way (the reference summed over the silence)."""
    f = Feed(cfg=cfg)
    for k in range(901):
        f.step(reading("N_adv", {"car": 1} if k % 10 == 0 else {}, 0.2, 12.0), green=0)
    assert "N_stop" in f.est.faulty_detectors(f.lay)
