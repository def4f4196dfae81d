"""A pedestrian crossing's clearance, the city's program against the junction model (issue 9; BENCHMARKS.md, "the
crossing clearance as a safety rule: the scan", C session 67).

    python -m sim.crossing_scan OUT.jsonl LIST...     # one JSON line per network, a line per light on stdout
    python -m sim.crossing_scan --table OUT.jsonl     # the summary and the per-light table (markdown)

LIST: files of `name cfg [end]` lines (the boards' board.txt), or a `.sumocfg` per line. Per light with a signalised
crossing (a link of a crossing or walking area, sim/netstages.py is_pedestrian) and per crossing:

- `city_s`: the clearance the city's program keeps: from the end of the crossing's green to the start of the green
  of a vehicle link that conflicts with it (SUMO's foes, the node's right-of-way request, sim/netimport.py _foes)
  and that the program never shows green with it, where the program goes there directly (through the crossing's
  red part and the change after it), else to the start of the stage after that change (program_clearance_s); the
  shortest over the program (a phase at its minDur where it has one, as netprogram.crossing_clearances_s reads
  it), the longest over the light's programs (its WAUT's too). `across_s`: to the conflicting green across stages
  between (the plan's order).
- `off_s` / `on_s`: the shortest the junction model lets a policy run from the end of a stage greening the crossing
  to the start of such a link, as imported with `[timing] crossing_transitions` off / on (the rest of the config as
  shipped): over every run of changes the model allows, each stage passed through held its minimum green
  (sim/netimport.py _walkers_after_s, which the key's own credit reads).
- `import_s`: netprogram.crossing_clearances_s's reading, the one the key keeps (to the end of the intergreen after
  the crossing's green, or to the start of any link before that).

Needs no SUMO run: sumolib reads the networks and the import runs in process (`PYTHONPATH` = the tree)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import sumolib

from controller.config import Config, load_config
from controller.junctions import parse_intersection
from sim import netprogram
from sim.importnet import import_sources
from sim.netimport import _foes, _walkers_after_s, junction_tables, read_net
from sim.netprogram_waut import OtherPrograms
from sim.netstages import is_pedestrian

Conflict = Callable[[int, int], bool]


def program_clearance_s(
    phases: Iterable[netprogram.ProgramPhase], crossing: int, foes: frozenset[int], direct: bool = True
) -> float:
    """The shortest time the program keeps from the end of `crossing`'s green to the start of a link of `foes`
    (inf where it never goes from one to the other); a phase at its minDur where it has one. `direct`: read no
    further than the program's next stage after the first intergreen (a yellow or a phase without green) that follows
    the crossing's green, the crossing's red part and that change: a foe the program starts only after another stage
    (a left-turn stage between) waits for that stage, the plan's order, which a policy may skip; the clearance is
    then read to that stage's start."""
    run = [(p.duration_s if p.min_dur_s is None else p.min_dur_s, p.state) for p in phases]
    green = [frozenset(i for i, c in enumerate(s) if c in netprogram.STAGE_GREEN) for _, s in run]
    n, out = len(run), math.inf
    for k in range(n):
        if crossing not in green[k - 1] or crossing in green[k]:
            continue
        t_s, cleared = 0.0, False
        for step in range(n):
            at = (k + step) % n
            if crossing in green[at]:
                break
            if (green[at] - green[at - 1]) & foes:
                out = min(out, t_s)
                break
            if direct and cleared and netprogram.is_stage(run[at][1]):
                out = min(out, t_s)  # the next stage, which starts no foe: the clearance ends here
                break
            cleared = cleared or not netprogram.is_stage(run[at][1])
            t_s += run[at][0]
    return out


def _program_foes(
    phases: Iterable[tuple[netprogram.ProgramPhase, ...]], crossing: int, vehicle: set[int], conflict: Conflict
) -> frozenset[int]:
    """The vehicle links that conflict with the crossing and that no phase of these programs shows green with it."""
    together: set[int] = set()
    for program in phases:
        for p in program:
            if len(p.state) > crossing and p.state[crossing] in netprogram.STAGE_GREEN:
                together |= {i for i, c in enumerate(p.state) if c in netprogram.STAGE_GREEN}
    return frozenset(k for k in vehicle if k not in together and conflict(crossing, k))


def model_clearance_s(table: dict[str, Any] | None, crossing: int, foes: frozenset[int]) -> float | None:
    """The shortest time the junction model (an imported table) lets a policy run from the end of a stage greening
    `crossing` to the start of a link of `foes` green in no stage with it (None: not imported, or no stage greens
    the crossing; inf: no such link)."""
    if table is None:
        return None
    j = parse_intersection(table, table["id"])
    greens = [ph.green_links() for ph in j.phases]
    mine = [k for k, g in enumerate(greens) if crossing in g]
    if not mine:
        return None
    with_it = frozenset().union(*(greens[k] for k in mine))
    return min(_walkers_after_s(j, k, crossing, foes - with_it) for k in mine)


def _links(tl: sumolib.net.TLS) -> tuple[set[int], set[int]]:
    """The light's crossing links and vehicle links."""
    ped: set[int] = set()
    veh: set[int] = set()
    for a, b, link in tl.getConnections():
        (ped if is_pedestrian(a, b) else veh).add(link)
    return ped, veh - ped


def _programs_of(tl: sumolib.net.TLS, program: netprogram.Program | None, others: OtherPrograms) -> list[Any]:
    """The phases of the program SUMO starts the light with and of those its WAUT may switch it to."""
    if program is None:
        return []
    try:
        others.of(tl, program.program_id)
    except ValueError:
        return [program.phases]
    return [program.phases, *others.phases_of(tl.getID())]


def _tables(
    net: sumolib.net.Net, cfg: Config, net_path: Path, files: list[Path], begin: float | None
) -> dict[str, Any]:
    tables, _ = junction_tables(net, cfg, str(net_path), files, "generated", begin)
    return {t["id"]: t for t in tables}


def _longest(values: Iterable[float]) -> float:
    """The longest of the programs' finite readings (inf where none is)."""
    return max((v for v in values if math.isfinite(v)), default=math.inf)


def _num(s: float | None) -> float | None:
    return None if s is None or not math.isfinite(s) else round(s, 3)


def scan_network(name: str, cfg_path: Path, configs: tuple[Config, Config]) -> dict[str, Any]:
    """One network's record: per light with crossings, per crossing city_s, import_s, off_s, on_s (module doc)."""
    net_path, files, begin = import_sources(cfg_path, "")
    net = read_net(net_path)
    crossing_lights = [tl for tl in sorted(net.getTrafficLights(), key=lambda t: t.getID()) if _links(tl)[0]]
    rec: dict[str, Any] = {"net": name, "lights": len(net.getTrafficLights()), "crossing_lights": 0, "rows": []}
    if not crossing_lights:
        return rec
    rec["crossing_lights"] = len(crossing_lights)
    at_begin = begin if configs[0].timing.waut_program_at_begin else None
    programs = netprogram.active_programs(net, str(net_path), files, at_begin)
    others = OtherPrograms(str(net_path), files)
    off, on = (_tables(net, c, net_path, files, begin) for c in configs)
    for tl in crossing_lights:
        ped, veh = _links(tl)
        conflict = _foes(tl, ped | veh)
        phases = _programs_of(tl, programs.get(tl.getID()), others)
        for c in sorted(ped):
            foes = _program_foes(phases, c, veh, conflict)
            city = _longest(program_clearance_s(p, c, foes) for p in phases)
            across = _longest(program_clearance_s(p, c, foes, False) for p in phases)
            imported = [dict(netprogram.crossing_clearances_s(p, [c], 0.0)).get(c) for p in phases]
            row = {
                "light": tl.getID(),
                "crossing": c,
                "foes": len(foes),
                "city_s": _num(city),
                "across_s": _num(across),
            }
            row["import_s"] = _num(max((s for s in imported if s is not None), default=None))
            row["imported"] = tl.getID() in off
            row["off_s"] = _num(model_clearance_s(off.get(tl.getID()), c, foes))
            row["on_s"] = _num(model_clearance_s(on.get(tl.getID()), c, foes))
            row["yellow_all_red"] = [off[tl.getID()][k] for k in ("yellow_s", "all_red_s")] if row["imported"] else None
            rec["rows"].append(row)
    return rec


def _entries(lists: Iterable[str]) -> list[tuple[str, Path]]:
    """(name, cfg) of each line of the LIST files (or each LIST that is a .sumocfg), each cfg once."""
    out: dict[Path, str] = {}
    for lst in lists:
        lines = [lst] if lst.endswith(".sumocfg") else Path(lst).read_text().splitlines()
        for line in lines:
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            name, path = (parts[0], parts[1]) if len(parts) > 1 else (Path(parts[0]).parent.name, parts[0])
            out.setdefault(Path(path).resolve(), name)
    return [(name, path) for path, name in out.items()]


def scan(out_path: Path, lists: list[str], config: str = "config.toml") -> None:
    """Append each network's record to out_path (JSON lines), a line per light with crossings on stdout."""
    cfg = load_config(config)
    off, on = (replace(cfg, timing=replace(cfg.timing, crossing_transitions=v)) for v in (False, True))
    with out_path.open("a") as out:
        for name, path in _entries(lists):
            try:
                rec = scan_network(name, path, (off, on))
            except Exception as exc:  # a network that does not import: named, the scan goes on
                rec = {"net": name, "error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(rec), file=out, flush=True)
            print(name, rec.get("crossing_lights", rec.get("error")), flush=True)


def _short(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [r for r in rows if r[key] is not None and r["city_s"] is not None and r[key] < r["city_s"] - 1e-9]


def _span(values: Iterable[float]) -> str:
    v = sorted(values)
    return "-" if not v else f"{v[0]:g}" if v[0] == v[-1] else f"{v[0]:g}-{v[-1]:g}"


def table(path: Path) -> str:
    """The scan's summary and, per light with a crossing the model runs shorter than the city, a markdown row."""
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [dict(r, net=rec["net"]) for rec in recs for r in rec.get("rows", [])]
    seen = [r for r in rows if r["imported"] and r["off_s"] is not None and r["city_s"] is not None]
    lines = [
        f"networks {len(recs)} (errors {sum('error' in r for r in recs)}), with crossings "
        f"{len({r['net'] for r in rows})}; lights with crossings {sum(r.get('crossing_lights', 0) for r in recs)}, "
        f"imported {len({(r['net'], r['light']) for r in rows if r['imported']})}; crossings {len(rows)}, "
        f"compared {len(seen)}"
    ]
    other = [r for r in seen if r["import_s"] is not None and abs(r["import_s"] - r["city_s"]) > 1e-9]
    lines.append(f"crossing_clearances_s (the key's reading) not the city_s: {len(other)} crossings")
    for key in ("off_s", "on_s"):
        short = _short(seen, key)
        lines.append(
            f"{key}: shorter than the city {len(short)} crossings at {len({(r['net'], r['light']) for r in short})} "
            f"lights, by {_span(round(r['city_s'] - r[key], 3) for r in short)} s"
        )
    lines += ["", "| network | lights | crossings | yellow + all-red | city keeps (s) | key off (s) | key on (s) |"]
    lines[-1] += " off short: crossings (lights), by (s) | on short |"
    lines.append("|---|---:|---:|---|---|---|---|---|---|")
    by_net: dict[str, list[dict[str, Any]]] = {}
    for r in seen:
        by_net.setdefault(r["net"], []).append(r)
    for net, rs in by_net.items():
        yr = _span(r["yellow_all_red"][0] for r in rs) + " + " + _span(r["yellow_all_red"][1] for r in rs)
        cells = [_span(r[k] for r in rs) for k in ("city_s", "off_s", "on_s")]
        for key in ("off_s", "on_s"):
            short = _short(rs, key)
            by = _span(round(r["city_s"] - r[key], 3) for r in short)
            cells.append(f"{len(short)} ({len({r['light'] for r in short})}), {by}" if short else "0")
        lines.append(f"| {net} | {len({r['light'] for r in rs})} | {len(rs)} | {yr} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--table"]:
        print(table(Path(sys.argv[2])))
    else:
        scan(Path(sys.argv[1]), sys.argv[2:])
