"""Hand-built tiny junctions for unit tests."""

from __future__ import annotations

import copy

import numpy as np

from controller.core.estimation import Layout
from controller.core.safety import SignalView
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


def four_phase_raw(
    *, shared_left_lane: bool = False, through_sat_pcu_h: float = 1800.0, left_base_green_s: float = 6.0
) -> dict:
    """N/S through with permitted lefts (phase 0), N/S protected lefts (1), E/W through (2), E/W
    protected lefts (3): the network programs' lagging-left pattern. Each approach has two lanes,
    the left turn on the inner one (_1), a stop-line and an advance loop on each;
    `shared_left_lane`: the through movement uses both lanes, else only the outer one (_0)."""
    raw = copy.deepcopy(two_phase_raw())

    def mv(mid: str, ap: str, turn: str, link: int) -> dict:
        lanes = [f"e{ap}_1"] if turn == "left" else [f"e{ap}_0", f"e{ap}_1"] if shared_left_lane else [f"e{ap}_0"]
        sat = through_sat_pcu_h if turn == "through" else 1600.0
        return {
            "id": mid,
            "approach": ap,
            "turn": turn,
            "from_edge": f"e{ap}",
            "lanes": lanes,
            "links": [link],
            "sat_flow_pcu_h": sat,
            "storage_pcu": 10.0,
        }

    ns, ew = ["N_T", "N_L", "S_T", "S_L"], ["E_T", "E_L", "W_T", "W_L"]
    moves = [
        mv(f"{ap}_{t[0].upper()}", ap, t, 2 * k + (t == "left"))
        for k, ap in enumerate("NESW")
        for t in ("through", "left")
    ]
    for m in moves:
        m["conflicts"] = ew if m["id"] in ns else ns
    left_s = left_base_green_s
    raw.update(
        n_links=8,
        movements=moves,
        phases=[
            {"state": "GgrrGgrr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0},
            {"state": "rGrrrGrr", "min_green_s": 5.0, "max_green_s": 20.0, "base_green_s": left_s},
            {"state": "rrGgrrGg", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0},
            {"state": "rrrGrrrG", "min_green_s": 5.0, "max_green_s": 20.0, "base_green_s": left_s},
        ],
    )
    raw["detectors"] = [
        {"id": f"{ap}{lane}_{tag}", "lane": f"e{ap}_{lane}", "kind": kind, "pos_m": pos, "dist_to_stop_m": dist}
        for ap in "NESW"
        for lane in (0, 1)
        for kind, tag, pos, dist in (("stop", "stop", 98.0, 2.0), ("advance", "adv", 20.0, 80.0))
    ]
    return raw


def two_phase_as(jid: str, **fields: object) -> Intersection:
    """two_phase under id `jid`, its loops' ids prefixed with it (they do not clash with J's),
    with `fields` replacing top-level keys (upstream=["J"], ...)."""
    raw = two_phase_raw()
    raw.update(id=jid, **fields)
    for d in raw["detectors"]:
        d["id"] = jid + d["id"]
    return parse_intersection(raw, f"{jid}.toml")


def north_left(lane: str, sat_flow_pcu_h: float) -> dict:
    """two_phase's left N_L from eN on `lane`, link 4, crossing E_T and W_T (raw movement table)."""
    return {
        "id": "N_L",
        "approach": "N",
        "turn": "left",
        "from_edge": "eN",
        "lanes": [lane],
        "links": [4],
        "sat_flow_pcu_h": sat_flow_pcu_h,
        "storage_pcu": 10.0,
        "conflicts": ["E_T", "W_T"],
    }


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
        raw["movements"].append(north_left("eN_1", 1800.0))
    return raw


def flows(lay: Layout, by_movement: dict[str, float]) -> np.ndarray:
    """(movements,) of `lay`'s junction: the given value per movement id, 0 elsewhere."""
    return np.array([float(by_movement.get(m.id, 0.0)) for m in lay.junction.movements])


def green(lay: Layout, phase: int, elapsed_s: float, now_s: float) -> SignalView:
    """The roadside's view of `phase` green for `elapsed_s`: its movements green now, the others
    last green 20 s ago."""
    served = set(lay.junction.served_movements(phase))
    last = tuple(now_s if m.id in served else now_s - 20.0 for m in lay.junction.movements)
    return SignalView(phase, False, elapsed_s, last)


def shared_left_raw() -> dict:
    """two_phase with a left N_L from eN in N_T's lane eN_0 (link 4, permissive 'g' in the N/S
    phase); the lane's 1800 PCU/h split 900 / 900 between them."""
    raw = two_phase_raw()
    raw["n_links"] = 5
    raw["phases"][0]["state"] += "g"
    raw["phases"][1]["state"] += "r"
    raw["movements"][0]["sat_flow_pcu_h"] = 900.0
    raw["movements"].append(north_left("eN_0", 900.0))
    return raw


def timed_junction(
    jid: str, greens_s: tuple[float, float] = (30.0, 25.0), paired: tuple[str, ...] = ()
) -> Intersection:
    raw = two_phase_raw()
    raw["id"] = jid
    for p, g in zip(raw["phases"], greens_s):
        p["base_green_s"] = g
    for d in raw["detectors"]:
        d["id"] = f"{jid}_{d['id']}"
    raw["paired"] = list(paired)
    return parse_intersection(raw, f"{jid}.toml")


def one_stage():
    raw = two_phase_raw()
    raw["phases"] = [{"state": "GGGG", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0}]
    for m in raw["movements"]:
        m["conflicts"] = []
    return parse_intersection(raw, "one_stage.toml")


STATUS_JUNCTIONS = {"J": two_phase()}


GOOD_STATUS = {
    "v": 1,
    "junction": "J",
    "t": 100.0,
    "phase": 1,
    "in_intergreen": False,
    "time_in_phase_s": 4.0,
    "plan_id": "J-adaptive-3",
    "seq": 3,
    "epoch": 17,
    "mode": "adaptive",
    "faults": [],
}


# SUMO's RiLSA_example3 (German guidelines), (duration s, state) per phase: the east left turn
# (link 5) is protected (G) in the second east stage and switched off ('o': it yields) in every
# other; E2 -> NS turns it off with no yellow, and the west stage hands over to the east one during
# its own yellow. Rotated to start with the west green (its first 5 s of all-red joined to the last
# 1 s). Stages W, E1 (through), E2 (+ left), NS.
RILSA_3 = (
    (28, "rrrrrorrrGGG"),
    (3, "rrrGGorrryyy"),
    (2, "rrrGGorrrrrr"),
    (13, "rrrGGGrrrrrr"),
    (3, "rrryyorrrrrr"),
    (7, "rrrrrorrrrrr"),
    (22, "GGgrroGGgrrr"),
    (3, "yyyrroyyyrrr"),
    (6, "rrrrrorrrrrr"),
)
