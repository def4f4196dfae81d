"""Regions (controller/regions.py): partition of the junction graph, halos, config errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from controller import regions
from controller.config import Config, RegionsConfig, load_config
from controller.errors import ConfigError
from controller.junctions import load_intersections

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base():
    return next(iter(load_intersections(ROOT / "intersections" / "city").values()))


def grid(base, cols: int, rows: int) -> dict:
    """cols x rows junctions G{c}_{r}, each linked to its four neighbours."""

    def jid(c: int, r: int) -> str:
        return f"G{c}_{r}"

    out = {}
    for c in range(cols):
        for r in range(rows):
            nbrs = [jid(c + dc, r + dr) for dc, dr in ((1, 0), (-1, 0), (0, 1), (0, -1))]
            nbrs = [n for n in nbrs if 0 <= int(n[1:].split("_")[0]) < cols and 0 <= int(n.split("_")[1]) < rows]
            out[jid(c, r)] = replace(base, id=jid(c, r), upstream=tuple(nbrs), downstream=tuple(nbrs))
    return out


def cfg_with(**kw) -> Config:
    return replace(Config(), regions=RegionsConfig(**kw))


@pytest.mark.parametrize("count", [2, 3, 5, 8])
def test_partition_is_balanced_complete_and_cuts_few_links(base, count):
    js = grid(base, 20, 10)
    plan = regions.plan_regions(cfg_with(count=count), js)
    sizes = [len(r.owned) for r in plan.regions]
    assert max(sizes) - min(sizes) <= 1
    owned = [j for r in plan.regions for j in r.owned]
    assert sorted(owned) == sorted(js)  # every junction in exactly one region
    links = sum(len(v) for v in regions.neighbours(js).values()) // 2
    # a straight cut across a 20 x 10 grid crosses 10 links; the partition stays within twice that per cut
    assert regions.cut_links(plan, js) <= 2 * 10 * (count - 1) < links
    assert regions.plan_regions(cfg_with(count=count), js) == plan  # deterministic
    if count == 2:
        assert regions.cut_links(plan, js) == 10  # the straight cut across the grid's short side


def test_partition_of_a_big_grid_cuts_straight_and_fast(base):
    js = grid(base, 70, 70)  # 4,900 junctions: the sparse eigensolver's path
    plan = regions.plan_regions(cfg_with(count=2), js)
    assert regions.cut_links(plan, js) == 70 and [len(r.owned) for r in plan.regions] == [2450, 2450]


def test_junctions_without_links_are_shared_evenly(base):
    js = {f"S{k}": replace(base, id=f"S{k}", upstream=(), downstream=()) for k in range(7)}
    plan = regions.plan_regions(cfg_with(count=3), js)
    assert sorted(len(r.owned) for r in plan.regions) == [2, 2, 3] and all(r.halo == () for r in plan.regions)


def test_halo_is_the_neighbours_within_hops_outside_the_region(base):
    js = grid(base, 3, 1)  # G0_0 - G1_0 - G2_0
    plan = regions.plan_regions(
        replace(Config(), regions=RegionsConfig(named={"a": ["G0_0"], "b": ["G1_0", "G2_0"]}, halo_hops=1)), js
    )
    assert plan.region("a").halo == ("G1_0",)
    assert plan.region("b").halo == ("G0_0",)
    assert plan.region("a").watched == ("G0_0", "G1_0")
    two = regions.plan_regions(cfg_with(named={"a": ["G0_0"], "b": ["G1_0", "G2_0"]}, halo_hops=2), js)
    assert two.region("a").halo == ("G1_0", "G2_0")
    assert (
        regions.plan_regions(cfg_with(named={"a": ["G0_0"], "b": ["G1_0", "G2_0"]}, halo_hops=0), js).region("a").halo
        == ()
    )


def test_no_regions_configured_is_one_region_of_everything(base):
    js = grid(base, 2, 2)
    plan = regions.plan_regions(Config(), js)
    assert plan.names == ("all",) and sorted(plan.regions[0].owned) == sorted(js)


def test_successor_is_the_next_live_region_in_order(base):
    plan = regions.plan_regions(cfg_with(count=3), grid(base, 6, 2))
    assert plan.successor("r0", alive={"r1", "r2"}) == "r1"
    assert plan.successor("r2", alive={"r0", "r1"}) == "r0"
    assert plan.successor("r0", alive={"r2"}) == "r2"
    assert plan.successor("r0", alive={"r0"}) is None


def test_select_names_the_instance_after_the_region(base):
    js = grid(base, 4, 1)
    cfg, watched, owned = regions.select(cfg_with(count=2), js, "r1")
    assert cfg.service.instance == "ctl-1-r1"
    assert owned in (frozenset({"G0_0", "G1_0"}), frozenset({"G2_0", "G3_0"}))
    border = "G2_0" if "G1_0" in owned else "G1_0"
    assert set(watched) == owned | {border}


@pytest.mark.parametrize(
    "named, field, words",
    [
        ({"a": ["G0_0", "NOPE"], "b": ["G1_0"]}, "regions.named.a", "unknown junctions NOPE"),
        ({"a": ["G0_0", "G1_0"], "b": ["G1_0"]}, "regions.named.b", "already in region 'a'"),
        ({"a": ["G0_0"]}, "regions.named", "junctions in no region: G1_0"),
        ({"a": [], "b": ["G0_0", "G1_0"]}, "regions.named.a", "non-empty list"),
        ({"a": "G0_0", "b": ["G1_0"]}, "regions.named.a", "non-empty list"),
        ({"a/b": ["G0_0"], "b": ["G1_0"]}, "regions.named.a/b", "letters, digits"),
    ],
)
def test_bad_named_regions_are_refused_naming_file_and_field(base, tmp_path, named, field, words):
    cfg = replace(Config(source=str(tmp_path / "c.toml")), regions=RegionsConfig(named=named))
    with pytest.raises(ConfigError) as err:
        regions.plan_regions(cfg, grid(base, 2, 1))
    assert err.value.field == field and "c.toml" in str(err.value) and words in str(err.value)


def test_unknown_region_name_is_refused(base):
    with pytest.raises(ConfigError, match="no region 'zz'"):
        regions.select(cfg_with(count=2), grid(base, 4, 1), "zz")


def test_named_regions_load_from_config_toml(tmp_path, base):
    (tmp_path / "c.toml").write_text('[regions]\nhalo_hops = 0\n[regions.named]\nw = ["G0_0"]\ne = ["G1_0"]\n')
    cfg = load_config(tmp_path / "c.toml")
    plan = regions.plan_regions(cfg, grid(base, 2, 1))
    assert plan.names == ("w", "e") and plan.region("e").owned == ("G1_0",)
