"""Additional files written next to a built network, as real cities ship them: signal programs
in a separate `tlLogic` file with their own programID (the program SUMO runs is that one, not
the net's), and the city's own induction loops.

Each `PostStep` is called with (out_dir, name, rng) after the network is built; it reads
out_dir/{name}.net.xml and returns the additional file names it wrote. Everything is drawn from
`rng`, so the files are reproducible from the network's seed.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PostStep = Callable[[Path, str, random.Random], tuple[str, ...]]

GREEN = "Gg"


@dataclass(frozen=True)
class Phase:
    duration_s: int
    state: str


@dataclass(frozen=True)
class Link:
    index: int
    from_lane: str  # SUMO lane id
    direction: str  # SUMO connection dir: s, l, r, t, L, R


def _attr(el: ET.Element, key: str, net: Path) -> str:
    """An attribute netconvert always writes; a file without it is refused, naming the file, element and field."""
    value = el.get(key)
    if value is None:
        raise ValueError(f"{net}: <{el.tag} id={el.get('id')!r}> has no {key}")
    return value


def read_programs(net: Path) -> dict[str, list[Phase]]:
    """The net's own program of each traffic light, by tls id (static, actuated, ... alike)."""
    out = {}
    for tl in ET.parse(net).getroot().iter("tlLogic"):
        phases = tl.iter("phase")
        out[_attr(tl, "id", net)] = [
            Phase(round(float(_attr(p, "duration", net))), _attr(p, "state", net)) for p in phases
        ]
    return out


def read_links(net: Path) -> dict[str, list[Link]]:
    """The signal links of each traffic light, sorted by link index."""
    out: dict[str, list[Link]] = {}
    for c in ET.parse(net).getroot().iter("connection"):
        tl = c.get("tl")
        if tl:
            lane = f"{c.get('from')}_{c.get('fromLane')}"
            out.setdefault(tl, []).append(Link(int(_attr(c, "linkIndex", net)), lane, _attr(c, "dir", net)))
    return {tl: sorted(links, key=lambda k: k.index) for tl, links in out.items()}


def write_tls_add(path: Path, programs: dict[str, list[Phase]], program_id: str, offsets_s: dict[str, int]) -> None:
    """A Bologna-like `*_tls.add.xml`: static programs with minDur = maxDur = duration."""
    rows = ["<additional>"]
    for tl, phases in sorted(programs.items()):
        rows.append(f'    <tlLogic id="{tl}" type="static" programID="{program_id}" offset="{offsets_s.get(tl, 0)}">')
        rows += [
            f'        <phase duration="{p.duration_s}" state="{p.state}" minDur="{p.duration_s}" '
            f'maxDur="{p.duration_s}"/>'
            for p in phases
        ]
        rows.append("    </tlLogic>")
    path.write_text("\n".join([*rows, "</additional>", ""]), encoding="utf-8")


def split_sub_phases(phases: list[Phase], rng: random.Random) -> list[Phase]:
    """Each phase cut into consecutive sub-phases of 1-10 s that share its state (same cycle)."""
    out = []
    for p in phases:
        left = p.duration_s
        while left > 0:
            d = min(left, rng.randint(1, 10))
            out.append(Phase(d, p.state))
            left -= d
    return out


def stages(phases: list[Phase]) -> list[list[Phase]]:
    """The program cut after each green phase's intergreen: [green, yellow, red...] groups."""
    groups: list[list[Phase]] = []
    for p in phases:
        is_green = any(c in GREEN for c in p.state) and "y" not in p.state.lower()
        if is_green or not groups:
            groups.append([p])
        else:
            groups[-1].append(p)
    return groups


def serve_first_stage_twice(phases: list[Phase]) -> list[Phase]:
    """The first stage (with its intergreen) served again after the second one; programs of
    fewer than three stages are returned as they are."""
    g = stages(phases)
    if len(g) < 3:
        return phases
    order = [g[0], g[1], g[0], *g[2:]]
    return [p for group in order for p in group]


def subphase_programs(program_id: str = "city", twice: bool = False) -> PostStep:
    """Every program rewritten into `{name}_tls.add.xml` under `program_id`: sub-phases that
    share a state, a random offset, and (if `twice`) the first stage served twice a cycle."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        programs = read_programs(out_dir / f"{name}.net.xml")
        new, offsets = {}, {}
        for tl, phases in sorted(programs.items()):
            new[tl] = split_sub_phases(serve_first_stage_twice(phases) if twice else phases, rng)
            offsets[tl] = rng.randint(0, sum(p.duration_s for p in phases) - 1)
        write_tls_add(out_dir / f"{name}_tls.add.xml", new, program_id, offsets)
        return (f"{name}_tls.add.xml",)

    return step


def with_red_amber(phases: list[Phase]) -> list[Phase]:
    """A 1 s phase before each green in which links about to turn green show 'u' (red-amber)."""
    out = []
    for i, p in enumerate(phases):
        prev = phases[i - 1].state
        if any(c in GREEN and q not in GREEN for c, q in zip(p.state, prev)):
            out.append(
                Phase(
                    1,
                    "".join(
                        "u" if c in GREEN and q not in GREEN else (c if c in GREEN else "r")
                        for c, q in zip(p.state, prev)
                    ),
                )
            )
        out.append(p)
    return out


def lettered(phases: list[Phase], links: list[Link]) -> list[Phase]:
    """Red-amber 'u' before greens, right turns on red as 's' (stop, then go), the yellows of the
    first approach as 'Y', and the first right turn 'o' (flashing, yield) in every phase: a
    link that is never green."""
    rights = [k.index for k in links if k.direction == "r"]
    first_edge = links[0].from_lane.rsplit("_", 1)[0]
    first_approach = {k.index for k in links if k.from_lane.rsplit("_", 1)[0] == first_edge}
    out = []
    for p in with_red_amber(phases):
        s = list(p.state)
        for i, c in enumerate(s):
            if c == "r" and i in rights and "y" not in p.state and "u" not in p.state:
                s[i] = "s"
            elif c == "y" and i in first_approach:
                s[i] = "Y"
        if rights:
            s[rights[0]] = "o"
        out.append(Phase(p.duration_s, "".join(s)))
    return out


def letter_programs(program_id: str = "letters") -> PostStep:
    """`{name}_tls.add.xml`: the first traffic light off and flashing (one phase, all 'o'), the
    second dark (one phase, all 'O'), every other one `lettered`."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        net = out_dir / f"{name}.net.xml"
        programs, links = read_programs(net), read_links(net)
        new = {}
        for i, tl in enumerate(sorted(programs)):
            n = len(programs[tl][0].state)
            if i == 0:
                new[tl] = [Phase(90, "o" * n)]
            elif i == 1:
                new[tl] = [Phase(90, "O" * n)]
            else:
                new[tl] = lettered(programs[tl], links[tl])
        write_tls_add(out_dir / f"{name}_tls.add.xml", new, program_id, {})
        return (f"{name}_tls.add.xml",)

    return step


def lagging_left_program(main_edges: tuple[str, ...], program_id: str = "lagging") -> PostStep:
    """For every traffic light, a three-stage program with a lagging protected left on
    `main_edges`: the left permitted ('g') in the through stage and kept green through its
    yellow, then a short lefts-only stage, then the side roads."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        new = {}
        for tl, links in read_links(out_dir / f"{name}.net.xml").items():
            main = [k.from_lane.rsplit("_", 1)[0] in main_edges for k in links]
            left = [k.direction in "lLt" for k in links]

            def state(f: Callable[[bool, bool], str]) -> str:
                return "".join(f(m, lt) for m, lt in zip(main, left))  # noqa: B023 (called within the iteration)

            new[tl] = [
                Phase(rng.randint(25, 40), state(lambda m, lt: ("g" if lt else "G") if m else "r")),
                Phase(3, state(lambda m, lt: ("G" if lt else "y") if m else "r")),
                Phase(rng.randint(5, 9), state(lambda m, lt: "G" if m and lt else "r")),
                Phase(3, state(lambda m, lt: "y" if m and lt else "r")),
                Phase(1, state(lambda m, lt: "r")),
                Phase(rng.randint(15, 25), state(lambda m, lt: ("g" if lt else "G") if not m else "r")),
                Phase(3, state(lambda m, lt: "y" if not m else "r")),
                Phase(1, state(lambda m, lt: "r")),
            ]
        write_tls_add(out_dir / f"{name}_tls.add.xml", new, program_id, {})
        return (f"{name}_tls.add.xml",)

    return step


def lane_lengths(net: Path) -> dict[str, float]:
    """Length of every non-internal lane, by lane id (m)."""
    return {
        _attr(lane, "id", net): float(_attr(lane, "length", net))
        for e in ET.parse(net).getroot().iter("edge")
        if e.get("function") != "internal"
        for lane in e.iter("lane")
    }


def city_detectors(skip_share: float = 0.25) -> PostStep:
    """`{name}_detectors.add.xml`: the city's own e1 loops on the signalised approaches, as a
    city places them: on a random share of the lanes none, otherwise one loop 1-5 m before the
    stop line, 15-120 m before it, or both (clamped to the lane, however short)."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        net = out_dir / f"{name}.net.xml"
        lengths = lane_lengths(net)
        lanes = sorted({k.from_lane for links in read_links(net).values() for k in links})
        rows = ["<additional>"]
        for lane in lanes:
            if rng.random() < skip_share:
                continue
            length = lengths[lane]
            kind = rng.choice(("stop", "advance", "both"))
            spots = {
                "stop": [rng.uniform(1, 5)],
                "advance": [rng.uniform(15, 120)],
                "both": [rng.uniform(1, 5), rng.uniform(15, 120)],
            }[kind]
            for j, back_m in enumerate(spots):
                pos = max(0.1, length - back_m)
                rows.append(
                    f'    <e1Detector id="city_{lane}_{j}" lane="{lane}" pos="{pos:.2f}" freq="1800" file="NUL"/>'
                )
        path = out_dir / f"{name}_detectors.add.xml"
        path.write_text("\n".join([*rows, "</additional>", ""]), encoding="utf-8")
        return (path.name,)

    return step
