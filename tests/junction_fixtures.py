"""Hand-built tiny junctions for unit tests."""

from __future__ import annotations

import copy

from controller.junctions import parse_intersection
from controller.model import Intersection


def two_phase_raw() -> dict:
    """A four-arm junction with 4 links: N/S through (links 0, 2) vs E/W through (1, 3)."""
    mv = lambda mid, ap, link, conf: {  # noqa: E731
        "id": mid,
        "approach": ap,
        "turn": "through",
        "from_edge": f"e{ap}",
        "lanes": [f"e{ap}_0"],
        "links": [link],
        "sat_flow_pcu_h": 1800.0,
        "storage_pcu": 10.0,
        "conflicts": conf,
    }
    return copy.deepcopy(
        {
            "id": "J",
            "n_links": 4,
            "yellow_s": 3.0,
            "all_red_s": 2.0,
            "cycle_min_s": 30.0,
            "cycle_max_s": 120.0,
            "max_red_s": 120.0,
            "base_offset_s": 0.0,
            "upstream": [],
            "downstream": [],
            "phases": [
                {"state": "GrGr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0},
                {"state": "rGrG", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 25.0},
            ],
            "movements": [
                mv("N_T", "N", 0, ["E_T", "W_T"]),
                mv("E_T", "E", 1, ["N_T", "S_T"]),
                mv("S_T", "S", 2, ["E_T", "W_T"]),
                mv("W_T", "W", 3, ["N_T", "S_T"]),
            ],
            "detectors": [
                d
                for ap in "NESW"
                for d in (
                    {"id": f"{ap}_stop", "lane": f"e{ap}_0", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0},
                    {"id": f"{ap}_adv", "lane": f"e{ap}_0", "kind": "advance", "pos_m": 20.0, "dist_to_stop_m": 80.0},
                )
            ],
        }
    )


def two_phase() -> Intersection:
    return parse_intersection(two_phase_raw(), "two_phase.toml")


def two_phase_as(jid: str, **fields: object) -> Intersection:
    """two_phase under id `jid`, its loops' ids prefixed with it (they do not clash with J's),
    with `fields` replacing top-level keys (upstream=["J"], ...)."""
    raw = two_phase_raw()
    raw.update(id=jid, **fields)
    for d in raw["detectors"]:
        d["id"] = jid + d["id"]
    return parse_intersection(raw, f"{jid}.toml")


def two_lane_north_raw(second_lane_movement: str) -> dict:
    """two_phase with a second N lane eN_1 without loops: in N_T's lanes ('N_T') or in a left
    turn of its own from the same edge ('N_L')."""
    raw = two_phase_raw()
    raw["n_links"] = 5
    for ph in raw["phases"]:
        ph["state"] += ph["state"][0]  # link 4 green with N_T
    if second_lane_movement == "N_T":
        raw["movements"][0]["lanes"].append("eN_1")
        raw["movements"][0]["links"].append(4)
    else:
        raw["movements"].append(
            {
                "id": "N_L",
                "approach": "N",
                "turn": "left",
                "from_edge": "eN",
                "lanes": ["eN_1"],
                "links": [4],
                "sat_flow_pcu_h": 1800.0,
                "storage_pcu": 10.0,
                "conflicts": ["E_T", "W_T"],
            }
        )
    return raw
