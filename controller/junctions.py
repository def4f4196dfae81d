"""Intersection TOML files -> validated Intersection models.

One human-editable file per signalised junction (written by `import-net`, edited by traffic
engineers). Loading checks everything that the safety gate later relies on; every error names
the file and the field.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from itertools import combinations
from pathlib import Path
from typing import Any, TypeVar

from controller.errors import JunctionError
from controller.model import (
    GREEN,
    LOOP_KINDS,
    TURNS,
    Detector,
    Intersection,
    LoopKind,
    Movement,
    Phase,
    ProgramTiming,
    Transition,
    crossing_movement,
    derived_intergreen_s,
    stops_crossings_only,
)

_PHASE_LETTERS = frozenset("GgrsoO")  # green stages only: no yellow inside a stage
_TRANSITION_LETTERS = frozenset("GgsuyYroO")  # a program transition: any of SUMO's letters
_Choice = TypeVar("_Choice", bound=str)


class _Fields:
    """Typed access to one TOML table, raising JunctionError(path, 'prefix.key', ...). Each key
    looked for is noted (`looked`), and each table opened from the file's root is in the root's
    `opened`: a key no one looked for is unknown (check_known). The keys looked for, with the default of
    each optional one that has one (`defaults`), are the table's schema as the loader reads it (keys_read)."""

    def __init__(self, path: str, prefix: str, table: Any, opened: list[_Fields] | None = None) -> None:
        if not isinstance(table, dict):
            raise JunctionError(path, prefix or "-", f"must be a table, got {type(table).__name__}")
        self.path, self.prefix, self.table = path, prefix, table
        self.looked: set[str] = set()
        self.defaults: dict[str, Any] = {}
        self.opened = [] if opened is None else opened
        self.opened.append(self)

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def check_known(self) -> None:
        """Raise JunctionError naming the first key of a table opened from here that no one looked
        for: a misspelt optional key (`base_ofset_s`) would otherwise be ignored without a word."""
        for t in self.opened:
            unknown = sorted(k for k in t.table if k not in t.looked)
            if unknown:
                known = ", ".join(sorted(t.looked))
                raise JunctionError(t.path, t.name(unknown[0]), f"unknown key (known here: {known})")

    def sub(self, key: str) -> _Fields:
        """The table under `key` (required)."""
        return _Fields(self.path, self.name(key), self.get(key), self.opened)

    def has(self, key: str) -> bool:
        """Whether the table gives `key`, an optional key the loader reads only when present (no default)."""
        self.looked.add(key)
        return key in self.table

    def get(self, key: str, default: Any = ...) -> Any:
        self.looked.add(key)
        if default is not ...:
            self.defaults.setdefault(key, default)
        if key not in self.table:
            if default is ...:
                raise JunctionError(self.path, self.name(key), "missing")
            return default
        return self.table[key]

    def num(self, key: str, default: Any = ..., *, positive: bool = False) -> float:
        v = self.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise JunctionError(self.path, self.name(key), f"must be a finite number, got {v!r}")
        if v < 0 or (positive and v == 0):
            raise JunctionError(self.path, self.name(key), f"must be {'>' if positive else '>='} 0, got {v}")
        return float(v)

    def bool(self, key: str, default: Any = ...) -> bool:
        v = self.get(key, default)
        if not isinstance(v, bool):
            raise JunctionError(self.path, self.name(key), f"must be true or false, got {v!r}")
        return v

    def strs(self, key: str, default: Any = ...) -> tuple[str, ...]:
        v = self.get(key, default)
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise JunctionError(self.path, self.name(key), f"must be a list of strings, got {v!r}")
        return tuple(v)

    def ints(self, key: str) -> tuple[int, ...]:
        v = self.get(key)
        if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            raise JunctionError(self.path, self.name(key), f"must be a list of integers, got {v!r}")
        return tuple(v)

    def tables(self, key: str) -> list[_Fields]:
        v = self.get(key)
        if not isinstance(v, list) or not v:
            raise JunctionError(self.path, self.name(key), "must be a non-empty array of tables")
        return [_Fields(self.path, f"{self.name(key)}[{i}]", t, self.opened) for i, t in enumerate(v)]

    def choice(self, key: str, choices: tuple[_Choice, ...]) -> _Choice:
        v = self.get(key)
        for c in choices:
            if v == c:
                return c
        raise JunctionError(self.path, self.name(key), f"must be one of {choices}, got {v!r}")

    # these two come last: below them in the class body, `str` and `int` would name the methods, not the types
    def int(self, key: str) -> int:
        v = self.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise JunctionError(self.path, self.name(key), f"must be a non-negative integer, got {v!r}")
        return v

    def str(self, key: str, default: Any = ...) -> str:
        v = self.get(key, default)
        if not isinstance(v, str) or not v:
            raise JunctionError(self.path, self.name(key), f"must be a non-empty string, got {v!r}")
        return v


def parse_intersection(raw: dict[str, Any], path: str) -> Intersection:
    """Validate one junction's parsed TOML. Raises JunctionError naming the field."""
    return _parse(raw, path)[0]


def keys_read(raw: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    """The schema the loader reads one junction's parsed TOML by: per table it opens (named as its errors name
    it, indices dropped: '', 'movements[]', 'program_timeline'), each key it looks for, with its default where it
    has one (`...` where it has none: required, or read only when present). A table the file does not give is not
    opened (program_timeline's keys are known only where it is given). Raises JunctionError as parse_intersection."""
    out: dict[str, dict[str, Any]] = {}
    for t in _parse(raw, path)[1].opened:
        keys = out.setdefault(re.sub(r"\[\d+\]", "[]", t.prefix), {})
        for k in sorted(t.looked):  # a default that depends on the row (at_lane: the loop's lane): the first row's
            keys.setdefault(k, t.defaults.get(k, ...))
    return out


def _parse(raw: dict[str, Any], path: str) -> tuple[Intersection, _Fields]:
    """The junction, and the root of the tables its loading opened."""
    f = _Fields(path, "", raw)
    jid = f.str("id")
    n_links = f.int("n_links")
    vehicle = _symmetric_conflicts(_movements(f, n_links), path)
    phases = _phases(f, n_links)
    detectors = _detectors(f, {lane for m in vehicle for lane in m.lanes})
    crossing_links = _crossing_links(f, n_links, vehicle)
    junction = Intersection(
        id=jid,
        n_links=n_links,
        movements=tuple(vehicle),
        phases=tuple(phases),
        detectors=tuple(detectors),
        yellow_s=f.num("yellow_s"),
        all_red_s=f.num("all_red_s", 0.0),
        cycle_min_s=f.num("cycle_min_s", positive=True),
        cycle_max_s=f.num("cycle_max_s", positive=True),
        max_red_s=f.num("max_red_s", positive=True),
        base_offset_s=f.num("base_offset_s", 0.0),
        upstream=f.strs("upstream", []),
        downstream=f.strs("downstream", []),
        coupled=f.strs("coupled", []),
        paired=f.strs("paired", []),
        source=path,
        clearance_s=_clearances(f, n_links),
        crossing_clearance_s=_crossing_clearances(f, n_links, vehicle),
        pair_intergreen_s=_pair_intergreens(f, n_links),
        program_timeline=_timeline(f, len(phases)),
        transitions=_transitions(f, phases, n_links, f.num("yellow_s"), crossing_links),
        actuated=f.bool("actuated", False),
        crossings=tuple(_crossing_walkers(f, n_links, vehicle, phases)),
        programs=_programs(f, len(phases)),
        crossing_links=crossing_links,
        program_id=f.str("program_id") if f.has("program_id") else "",
    )
    if junction.cycle_min_s > junction.cycle_max_s:
        raise JunctionError(path, "cycle_min_s", f"{junction.cycle_min_s} > cycle_max_s {junction.cycle_max_s}")
    _check_consistency(junction, path)
    _check_programs(junction, path)
    _check_pair_intergreens(junction, path)
    f.check_known()
    return junction, f


def _clearances(f: _Fields, n_links: int) -> tuple[tuple[int, int, float], ...]:
    """The optional `clearance_s` table: "i>j" = seconds from the end of link i's green to the
    start of link j's green (the program's intergreen matrix, where shorter than yellow_s +
    all_red_s; longer ones are set by raising all_red_s)."""
    table = f.get("clearance_s", {})
    if not isinstance(table, dict):
        raise JunctionError(f.path, "clearance_s", f'must be a table of "i>j" = seconds, got {table!r}')
    whole_s = f.num("yellow_s") + f.num("all_red_s", 0.0)
    out = []
    for key, value in table.items():
        name = f"clearance_s.{key}"
        i, k = _link_pair(f.path, name, key, n_links)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= whole_s:
            why = f"must be a number in [0, yellow_s + all_red_s = {whole_s:g}], got {value!r}"
            raise JunctionError(f.path, name, why)
        out.append((i, k, float(value)))
    return tuple(sorted(out))


def _link_pair(path: str, name: str, key: object, n_links: int) -> tuple[int, int]:
    """A pair table's key "i>k": two different links in 0..n_links - 1, or an error naming the file and the field."""
    i, sep, k = str(key).partition(">")
    digits = sep and i.isascii() and k.isascii() and i.isdecimal() and k.isdecimal()
    if not (digits and int(i) < n_links and int(k) < n_links and int(i) != int(k)):
        raise JunctionError(path, name, f"must name two links i>k in 0..{n_links - 1}")
    return int(i), int(k)


def _pair_intergreens(f: _Fields, n_links: int) -> tuple[tuple[int, int, float], ...]:
    """The optional `pair_intergreen_s` table: "i>k" = the seconds the city's program keeps from the end of link
    i's green to the start of a conflicting link k's, where longer than the change would otherwise run (docs/import.md
    rule 5): two links in 0..n_links - 1, seconds finite and >= 0."""
    table = f.get("pair_intergreen_s", {})
    if not isinstance(table, dict):
        raise JunctionError(f.path, "pair_intergreen_s", f'must be a table of "i>k" = seconds, got {table!r}')
    out = []
    for key, value in table.items():
        name = f"pair_intergreen_s.{key}"
        i, k = _link_pair(f.path, name, key, n_links)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            raise JunctionError(f.path, name, f"must be a finite number >= 0, got {value!r}")
        out.append((i, k, float(value)))
    return tuple(sorted(out))


def _check_pair_intergreens(j: Intersection, path: str) -> None:
    """Every change between two phases keeps each listed pair's intergreen (`pair_intergreen_s`): from the end of
    the stopped link's green to the start of the started one's, at least the pair's seconds. The derived change
    does (derived_intergreen_s reads them); a program transition is read state by state (_transition_gap_s) and
    named when short (import-net then writes the derived changes)."""
    n = len(j.phases)
    greens = [p.green_links() for p in j.phases]
    for i, k, need_s in j.pair_intergreen_s:
        for a, b in ((a, b) for a in range(n) for b in range(n) if i in greens[a] - greens[b]):
            if k not in greens[b] - greens[a]:
                continue
            tr = j.transition(a, b)
            have_s = j.intergreen_s(a, b) if tr is None else _transition_gap_s(tr, i, k)
            if have_s < need_s - 1e-9:
                field = f"pair_intergreen_s.{i}>{k}" if tr is None else f"transitions[{j.transitions.index(tr)}]"
                why = f"the change {a} -> {b} starts link {k} {have_s:g} s after link {i}'s green, needs {need_s:g} s"
                raise JunctionError(path, field, why)


def _transition_gap_s(tr: Transition, i: int, k: int) -> float:
    """In a program transition, the seconds from the end of link i's green (its last state showing it green) to the
    start of link k's (its first such state; the transition's end where none)."""
    t, end_s, start_s = 0.0, 0.0, None
    for state, d in zip(tr.states, tr.durations_s):
        if start_s is None and state[k] in GREEN:
            start_s = t
        t += d
        if state[i] in GREEN:
            end_s = t
    return (tr.total_s if start_s is None else start_s) - end_s


def _programs(f: _Fields, n_phases: int) -> tuple[ProgramTiming, ...]:
    """The optional `programs` array: each other program the light may run (a WAUT puts it in force), as
    its `id`, its longest `yellow_s` and its longest `all_red_s`, and where its stages are the junction's phases,
    its `base_greens_s` (one per phase) and `base_offset_s` (import-net writes them; docs/import.md)."""
    if not f.has("programs"):
        return ()
    out: list[ProgramTiming] = []
    for pf in f.tables("programs"):
        pid = pf.str("id")
        if any(p.program_id == pid for p in out):
            raise JunctionError(f.path, pf.name("id"), f"a second program {pid!r}")
        timing = ProgramTiming(pid, pf.num("yellow_s"), pf.num("all_red_s", 0.0))
        if pf.has("base_greens_s"):
            greens = _program_greens(pf, n_phases)
            out.append(replace(timing, greens_s=greens, offset_s=pf.num("base_offset_s", 0.0)))
        else:
            out.append(timing)
    return tuple(out)


def _program_greens(pf: _Fields, n_phases: int) -> tuple[float, ...]:
    """A program's `base_greens_s`: one finite number >= 0 per phase of the junction."""
    v = pf.get("base_greens_s")
    ok = isinstance(v, list) and len(v) == n_phases
    if not ok or not all(not isinstance(g, bool) and isinstance(g, (int, float)) and 0 <= g < math.inf for g in v):
        why = f"must be a list of {n_phases} finite numbers >= 0 (one per phase), got {v!r}"
        raise JunctionError(pf.path, pf.name("base_greens_s"), why)
    return tuple(float(g) for g in v)


def _check_programs(j: Intersection, path: str) -> None:
    """Every other program the light may run (`programs`) is covered by the junction's own intergreens, which
    every rule reads (the gate's, the roadside's): its yellow_s at least each program's, and each change
    between two phases at least as long as a program's yellow and all-red make it (derived_intergreen_s).
    A program transition shorter than that is named (import-net then writes the derived changes)."""
    greens = [p.green_links() for p in j.phases]
    for k, p in enumerate(j.programs):
        if j.yellow_s < p.yellow_s - 1e-9:
            why = f"{p.yellow_s:g} s, longer than the junction's yellow_s {j.yellow_s:g} s"
            raise JunctionError(path, f"programs[{k}].yellow_s", f"{why}: {_COVER}")
        for a, b in ((a, b) for a in range(len(greens)) for b in range(len(greens)) if a != b):
            only = stops_crossings_only(greens[a], greens[b], j.crossing_links)
            need_s = 0.0 if only else derived_intergreen_s(greens[a], greens[b], p.yellow_s, p.all_red_s)[0]
            have_s = j.intergreen_s(a, b)
            if have_s < need_s - 1e-9:
                why = f"the change {a} -> {b} lasts {have_s:g} s, program {p.program_id!r} (programs[{k}]) {need_s:g} s"
                raise JunctionError(path, _short_field(j, a, b, p), f"{why}: {_COVER}")


_COVER = "the junction's intergreens must cover every program the light may run"


def _short_field(j: Intersection, a: int, b: int, p: ProgramTiming) -> str:
    """What makes the change a -> b shorter than program p's: a program transition, else an all-red shorter than
    p's, else the junction's clearances (with its yellow and all-red at least p's, the derived change covers p's)."""
    tr = j.transition(a, b)
    if tr is not None:
        return f"transitions[{j.transitions.index(tr)}]"
    return "all_red_s" if j.all_red_s < p.all_red_s else "clearance_s"


def _crossing_clearances(f: _Fields, n_links: int, movements: list[Movement]) -> tuple[tuple[int, float], ...]:
    """The optional `crossing_clearance_s` table: a pedestrian crossing's link = the seconds from the end of its
    green to the start of a link it is never green with, where the program keeps longer than yellow_s + all_red_s
    (the walkers' clearance, docs/import.md rule 7): a link that serves no movement, seconds finite and >= 0."""
    table = f.get("crossing_clearance_s", {})
    if not isinstance(table, dict):
        raise JunctionError(f.path, "crossing_clearance_s", f"must be a table of link = seconds, got {table!r}")
    vehicle = {i for m in movements for i in m.links}
    out = []
    for key, value in table.items():
        name = f"crossing_clearance_s.{key}"
        link = str(key)
        if not (link.isascii() and link.isdecimal() and int(link) < n_links and int(link) not in vehicle):
            raise JunctionError(f.path, name, f"must name a crossing's link in 0..{n_links - 1} (no movement's)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            raise JunctionError(f.path, name, f"must be a finite number >= 0, got {value!r}")
        out.append((int(link), float(value)))
    return tuple(sorted(out))


def _timeline(f: _Fields, n_phases: int) -> tuple[tuple[int, float], ...]:
    """The optional `program_timeline` table: the city's program as the roadside reports it, from
    base_offset_s, as `phases` (a phase index, or -1 in a transition) and their `durations_s`
    (seconds, > 0), one each per segment."""
    if not f.has("program_timeline"):
        return ()
    t = f.sub("program_timeline")
    phases = t.get("phases")
    if not (isinstance(phases, list) and phases and all(_is_int(k) and -1 <= k < n_phases for k in phases)):
        why = f"must be a non-empty list of phase indices in -1..{n_phases - 1}, got {phases!r}"
        raise JunctionError(f.path, t.name("phases"), why)
    durations = t.get("durations_s")
    if not (isinstance(durations, list) and len(durations) == len(phases) and all(map(_is_duration, durations))):
        why = f"must be {len(phases)} finite numbers > 0 (one per phase), got {durations!r}"
        raise JunctionError(f.path, t.name("durations_s"), why)
    return tuple(zip(phases, (float(d) for d in durations)))


def _crossing_links(f: _Fields, n_links: int, movements: list[Movement]) -> frozenset[int]:
    """The optional `crossing_links`: links of pedestrian crossings, which show no yellow (SUMO's
    crossings go from green to red; the red after, conflicting vehicles still held, is their
    clearance). None may serve a movement: a vehicle link always shows its yellow."""
    if not f.has("crossing_links"):
        return frozenset()
    links = f.ints("crossing_links")
    vehicle = {i for m in movements for i in m.links}
    bad = [i for i in links if not 0 <= i < n_links or i in vehicle]
    if bad:
        why = f"must be link indices in 0..{n_links - 1} that serve no movement, got {list(links)}"
        raise JunctionError(f.path, "crossing_links", why)
    return frozenset(links)


def _crossing_walkers(f: _Fields, n_links: int, movements: list[Movement], phases: list[Phase]) -> list[Movement]:
    """The optional `crossings` (import-net with [timing] crossings_max_red): the links of the
    junction's signalised pedestrian crossings, each a movement of its own, `PED_PREFIX` and its
    link, kept in `Intersection.crossings`, so that every rule of a movement's red (max_red_s in the
    gate, the roadside's check, the loader's: Intersection.red_bounded) bounds a crossing's too and
    nothing else reads them. A crossing has no detector: it waits always, as the city's
    program serves it every cycle. Each link must serve no vehicle movement and be green in some phase."""
    if not f.has("crossings"):
        return []
    links = f.ints("crossings")
    vehicle = {i for m in movements for i in m.links}
    green = {i for p in phases for i in p.green_links()}
    if any(not 0 <= i < n_links or i in vehicle or i not in green for i in links) or len(set(links)) != len(links):
        why = f"must be distinct link indices in 0..{n_links - 1}, green in some phase, that serve no movement"
        raise JunctionError(f.path, "crossings", f"{why}, got {list(links)}")
    return [crossing_movement(i) for i in links]


def _transitions(
    f: _Fields, phases: list[Phase], n_links: int, yellow_s: float, crossings: frozenset[int] = frozenset()
) -> tuple[Transition, ...]:
    """The optional `transitions` array: the program's own change from `from_phase` to
    `to_phase`, as `states` (SUMO's letters, n_links each) shown for `durations_s` (> 0). A link
    may show green in it only where one of the two phases greens it, a link both phases green
    shows green in every state (the model serves it through the change), and a link the change
    stops shows no green in its last state and, after its last green, yellow for at least the
    junction's `yellow_s` (the intergreen every other change runs; docs/import.md, rule 11),
    but for a link of `crossings` (`crossing_links`: a pedestrian crossing, which has no yellow). For
    a link `to_phase` switches off ('o'), the states that show it off after its last green count
    as its yellow: it yields from then on (the city's program turns a protected turn off with no
    yellow: SUMO's RiLSA_example3), but never green into the next stage's conflicting greens."""
    if not f.has("transitions"):
        return ()
    out: dict[tuple[int, int], Transition] = {}
    for tf in f.tables("transitions"):
        a, b = tf.int("from_phase"), tf.int("to_phase")
        if a >= len(phases) or b >= len(phases) or a == b:
            why = f"must be two different phase indices in 0..{len(phases) - 1}, got {a} -> {b}"
            raise JunctionError(f.path, tf.name("to_phase"), why)
        if (a, b) in out:
            raise JunctionError(f.path, tf.name("from_phase"), f"a second transition {a} -> {b}")
        states = tf.strs("states")
        durations = tf.get("durations_s")
        if not (isinstance(durations, list) and len(durations) == len(states) and all(map(_is_duration, durations))):
            why = f"must be {len(states)} finite numbers > 0 (one per state), got {durations!r}"
            raise JunctionError(f.path, tf.name("durations_s"), why)
        allowed = phases[a].green_links() | phases[b].green_links()
        for i, state in enumerate(states):
            _check_transition_state(f.path, tf.name(f"states[{i}]"), state, n_links, allowed)
        stopped = phases[a].green_links() - phases[b].green_links()
        kept = phases[a].green_links() & phases[b].green_links()
        cut = sorted(i for i in kept if any(state[i] not in GREEN for state in states))
        if cut:
            why = f"stops links {cut}, green in both phases (the model serves them through the change)"
            raise JunctionError(f.path, tf.name("states"), why)
        last = states[-1] if states else ""
        if not last or any(last[i] in GREEN for i in stopped):
            why = "must end with no green on a link the change stops (its yellow first)"
            raise JunctionError(f.path, tf.name("states"), why)
        yellows = stopped - crossings
        short = _short_yellow(states, [float(d) for d in durations], yellows, phases[b].off_yield_links(), yellow_s)
        if short is not None:
            why = f"shows link {short} less than yellow_s = {yellow_s:g} s of yellow after its green"
            raise JunctionError(f.path, tf.name("states"), why)
        out[(a, b)] = Transition(a, b, states, tuple(float(d) for d in durations))
    return tuple(out.values())


def _short_yellow(
    states: Sequence[str],
    durations_s: Sequence[float],
    stopped: frozenset[int],
    off_after: frozenset[int],
    yellow_s: float,
) -> int | None:
    """The first link of `stopped` whose yellow (y or Y; also o for a link of `off_after`, off in
    the stage entered), in the states after its last green, lasts less than yellow_s; None if
    every one shows its whole yellow."""
    for i in sorted(stopped):
        clearing = "yYo" if i in off_after else "yY"
        last_green = max((k for k, st in enumerate(states) if st[i] in GREEN), default=-1)
        yellow = sum(d for st, d in zip(states[last_green + 1 :], durations_s[last_green + 1 :]) if st[i] in clearing)
        if yellow < yellow_s - 1e-9:
            return i
    return None


def _check_transition_state(path: str, name: str, state: str, n_links: int, allowed: frozenset[int]) -> None:
    if len(state) != n_links:
        raise JunctionError(path, name, f"has {len(state)} links, n_links is {n_links}")
    odd = sorted(set(state) - _TRANSITION_LETTERS)
    if odd:
        raise JunctionError(path, name, f"unknown signal letters {odd}")
    extra = sorted(i for i, c in enumerate(state) if c in GREEN and i not in allowed)
    if extra:
        raise JunctionError(path, name, f"links {extra} green, but neither phase of the change greens them")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_duration(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf


def _movements(f: _Fields, n_links: int) -> list[Movement]:
    """The `movements` array, each validated; conflicts as written."""
    path = f.path
    movements = []
    for mf in f.tables("movements"):
        turn = mf.choice("turn", TURNS)
        links = mf.ints("links")
        bad = [i for i in links if not 0 <= i < n_links]
        if bad or not links:
            raise JunctionError(path, mf.name("links"), f"link indices must be in 0..{n_links - 1}, got {list(links)}")
        lanes = mf.strs("lanes")
        if not lanes:
            raise JunctionError(path, mf.name("lanes"), "at least one lane")
        movements.append(
            Movement(
                id=mf.str("id"),
                approach=mf.str("approach"),
                turn=turn,
                from_edge=mf.str("from_edge"),
                lanes=lanes,
                links=links,
                sat_flow_pcu_h=mf.num("sat_flow_pcu_h", positive=True),
                storage_pcu=mf.num("storage_pcu", positive=True),
                conflicts=mf.strs("conflicts", []),
                to_edge=mf.str("to_edge") if mf.has("to_edge") else "",
                reach_edge=mf.str("reach_edge") if mf.has("reach_edge") else "",
                reach_storage_pcu=mf.num("reach_storage_pcu", 0.0),
                reach_merges=mf.int("reach_merges") if mf.has("reach_merges") else 0,
                reach_diverges=mf.int("reach_diverges") if mf.has("reach_diverges") else 0,
                yields_to=mf.strs("yields_to") if mf.has("yields_to") else None,
                bus_lane=mf.bool("bus_lane", False),
                cyclist_clear_s=mf.num("cyclist_clear_s", 0.0),
            )
        )
    return movements


def _symmetric_conflicts(movements: list[Movement], path: str) -> list[Movement]:
    """The movements with unique ids, each conflict known and listed on both sides, whichever
    side the engineer wrote it on."""
    ids = [m.id for m in movements]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise JunctionError(path, "movements.id", f"duplicate movement ids {dupes}")
    known = set(ids)
    conflict_pairs: set[frozenset[str]] = set()
    for i, m in enumerate(movements):
        for other in m.conflicts:
            if other not in known:
                raise JunctionError(path, f"movements[{i}].conflicts", f"unknown movement {other!r}")
            if other == m.id:
                raise JunctionError(path, f"movements[{i}].conflicts", "a movement cannot conflict with itself")
            conflict_pairs.add(frozenset((m.id, other)))
        bad = sorted(set(m.yields_to or ()) - known)
        if bad:
            raise JunctionError(path, f"movements[{i}].yields_to", f"unknown movements {bad}")
    return [
        Movement(
            **{**m.__dict__, "conflicts": tuple(sorted(next(iter(p - {m.id})) for p in conflict_pairs if m.id in p))}
        )
        for m in movements
    ]


def _phases(f: _Fields, n_links: int) -> list[Phase]:
    """The `phases` array (green stages), each validated."""
    path = f.path
    phases = []
    for k, pf in enumerate(f.tables("phases")):
        state = pf.str("state")
        if len(state) != n_links:
            raise JunctionError(path, pf.name("state"), f"has {len(state)} links, n_links is {n_links}")
        odd = sorted(set(state) - _PHASE_LETTERS)
        if odd:
            raise JunctionError(
                path, pf.name("state"), f"letters {odd} not allowed in a green stage (use G, g, s, o, O, r)"
            )
        lo, hi = pf.num("min_green_s", positive=True), pf.num("max_green_s", positive=True)
        if lo > hi:
            raise JunctionError(path, pf.name("min_green_s"), f"{lo} > max_green_s {hi}")
        base = pf.num("base_green_s", positive=True)
        ped = pf.num("ped_min_green_s", 0.0)
        if ped > lo:
            raise JunctionError(path, pf.name("min_green_s"), f"{lo} < ped_min_green_s {ped} (pedestrian minimum)")
        phases.append(
            Phase(index=k, state=state, min_green_s=lo, max_green_s=hi, base_green_s=base, ped_min_green_s=ped)
        )
        if not any(c in "Gg" for c in state):
            raise JunctionError(path, pf.name("state"), "a green stage with no green link")
    return phases


def _detectors(f: _Fields, lanes_known: set[str]) -> list[Detector]:
    """The `detectors` array, each validated: on a known lane, unique ids, at most one loop of
    each kind per lane."""
    path = f.path
    detectors = []
    seen_det: set[str] = set()
    kinds_seen: dict[tuple[str, str], str] = {}
    for df in f.tables("detectors"):
        kind = df.choice("kind", LOOP_KINDS)
        lane = df.str("lane")
        if lane not in lanes_known:
            raise JunctionError(path, df.name("lane"), f"unknown lane {lane!r} (not an incoming lane of any movement)")
        did = df.str("id")
        if did in seen_det:
            raise JunctionError(path, df.name("id"), f"duplicate detector id {did!r}")
        seen_det.add(did)
        if (lane, kind) in kinds_seen:
            raise JunctionError(
                path,
                df.name("kind"),
                f"lane {lane!r} already has a {kind} loop ({kinds_seen[lane, kind]!r}); one of each kind per lane",
            )
        kinds_seen[lane, kind] = did
        detectors.append(_detector(df, did, lane, kind))
    return detectors


def _detector(df: _Fields, did: str, lane: str, kind: LoopKind) -> Detector:
    """One loop's positions, length and `city` flag, validated."""
    length = df.num("length_m", positive=True) if df.has("length_m") else None
    city, at_entry, from_light = df.get("city", False), df.get("at_entry", False), df.get("room_from_light", False)
    for name, flag in (("city", city), ("at_entry", at_entry), ("room_from_light", from_light)):
        if not isinstance(flag, bool):
            raise JunctionError(df.path, df.name(name), f"must be true or false, got {flag!r}")
    pos, dist = df.num("pos_m"), df.num("dist_to_stop_m")
    at_lane = df.str("at_lane", lane)
    room = df.num("room_m") if df.has("room_m") else None
    turn_off = df.num("room_to_turn_off_pcu") if df.has("room_to_turn_off_pcu") else None
    shared_by = df.get("shared_by", 1)
    if isinstance(shared_by, bool) or not isinstance(shared_by, int) or shared_by < 1:
        raise JunctionError(df.path, df.name("shared_by"), f"must be a whole number >= 1, got {shared_by!r}")
    if shared_by > 1 and kind != "advance":
        raise JunctionError(df.path, df.name("shared_by"), "only an advance loop is shared by several lanes")
    return Detector(
        id=did,
        lane=lane,
        kind=kind,
        pos_m=pos,
        dist_to_stop_m=dist,
        at_lane=at_lane,
        length_m=length,
        city=city,
        at_entry=at_entry,
        room_m=room,
        room_to_turn_off_pcu=turn_off,
        room_from_light=from_light,
        shared_by=shared_by,
    )


def _check_consistency(j: Intersection, path: str) -> None:
    """No conflicting greens in any phase or program transition, and every movement served by
    some phase."""
    for k in range(len(j.phases)):
        served = j.served_movements(k)
        for a, b in combinations(served, 2):
            if b in j.movement(a).conflicts:
                raise JunctionError(path, f"phases[{k}].state", f"conflicting greens: movements {a} and {b}")
    for t, tr in enumerate(j.transitions):
        for i, state in enumerate(tr.states):
            green = {k for k, c in enumerate(state) if c in GREEN}
            shown = [m.id for m in j.movements if green.intersection(m.links)]
            for a, b in combinations(shown, 2):
                if b in j.movement(a).conflicts:
                    why = f"conflicting greens: movements {a} and {b}"
                    raise JunctionError(path, f"transitions[{t}].states[{i}]", why)
    served_any = {m for k in range(len(j.phases)) for m in j.served_movements(k)}
    for i, m in enumerate(j.movements):
        if m.id not in served_any:
            raise JunctionError(path, f"movements[{i}]", f"movement {m.id} is never served by any phase")


def load_intersection(path: str | Path) -> Intersection:
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JunctionError(str(p), "-", "file not found") from None
    except OSError as exc:  # a folder named *.toml, no permission: a traceback before session 59 (U)
        raise JunctionError(str(p), "-", f"cannot be read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise JunctionError(str(p), "-", f"malformed TOML: {exc}") from None
    return checked_max_red(parse_intersection(raw, str(p)), str(p))


def checked_max_red(j: Intersection, path: str) -> Intersection:
    """`j` of the file at `path`, once every phase is known to be one a plan can run within `max_red_s`.

    A phase keeps every movement it does not serve red for its minimum green plus the red on either
    side (_reds_past_max; yellow counts as red, as the safety gate counts it), whatever the plan. Where
    that exceeds `max_red_s`, no plan that runs the phase keeps it: every plan, where the phase is the
    only one serving some movement; else webster and scats refuse the junction at start, while the
    acyclic gate still commands the phase (its deadlines are those of the movements waiting, not of the
    ones it turns red) and breaks `max_red_s` without a word. So the file is refused either way:
    JunctionError naming the file, the junction and the field. Lower the phase's min_green_s or raise
    max_red_s. Its crossings are bounded too (`j.red_bounded`); `j` is returned as parsed."""
    bounded = j.red_bounded
    for k, red_id, red_s in _reds_past_max(bounded):
        others = set().union(*(bounded.served_movements(p) for p in range(len(j.phases)) if p != k))
        only = [m for m in bounded.served_movements(k) if m not in others]
        why = (
            f"junction {j.id}: {j.max_red_s:g} s cannot be kept: phase {k} keeps movement {red_id} red at least "
            f"{red_s:g} s (its min_green_s {j.phases[k].min_green_s:g} s and the red on either side)"
        )
        runs = f"every plan runs phase {k}, the only one serving {only[0]}" if only else f"no plan may run phase {k}"
        raise JunctionError(path, "max_red_s", f"{why}: {runs}")
    return j


def _reds_past_max(j: Intersection) -> list[tuple[int, str, float]]:
    """Per phase whose shortest run keeps a movement red past `j.max_red_s`: (phase, the movement kept red
    longest, its red in seconds). A lower bound over every plan: the phase's min green, and on each side
    the intergreen to or from the neighbouring phase, plus that phase's min green where it too keeps the
    movement red; the neighbour that gives the least."""
    n, out = len(j.phases), []
    served = [set(j.served_movements(k)) for k in range(n)]
    for k, phase in enumerate(j.phases):
        if n < 2:
            break
        worst = max(
            (
                (_side_s(j, served, k, m.id, True) + phase.min_green_s + _side_s(j, served, k, m.id, False), m.id)
                for m in j.movements
                if m.id not in served[k]
            ),
            default=None,
        )
        if worst is not None and worst[0] > j.max_red_s + 1e-9:
            out.append((k, worst[1], worst[0]))
    return out


def _side_s(j: Intersection, served: list[set[str]], k: int, m_id: str, into: bool) -> float:
    """The least red `m_id` sees on one side of phase k (into it or out of it): the intergreen, plus the
    neighbouring phase's min green where that phase keeps it red too."""
    return min(
        (j.intergreen_s(p, k) if into else j.intergreen_s(k, p))
        + (0.0 if m_id in served[p] else j.phases[p].min_green_s)
        for p in range(len(j.phases))
        if p != k
    )


def load_intersections(folder: str | Path) -> dict[str, Intersection]:
    """Every *.toml in the folder, keyed by junction id; neighbour ids must be known."""
    d = Path(folder)
    if not d.is_dir():
        raise JunctionError(str(d), "-", "not a folder of junction TOML files")
    files = sorted(d.glob("*.toml"))
    if not files:
        raise JunctionError(str(d), "-", "no junction TOML files in folder")
    return _with_known_neighbours((load_intersection(fp) for fp in files), [str(fp) for fp in files])


def intersections_from_tables(files: Sequence[tuple[Path, dict[str, Any]]]) -> dict[str, Intersection]:
    """What load_intersections reads back from a folder holding exactly these (file, table)
    pairs, each table the values its file was written from (tomli_w writes and tomllib reads
    them unchanged), without parsing the TOML: the same checks, the same models, in the same
    (file name) order."""
    ordered = sorted(files, key=lambda f: f[0])
    return _with_known_neighbours(
        (checked_max_red(parse_intersection(table, str(fp)), str(fp)) for fp, table in ordered),
        [str(fp) for fp, _ in ordered],
    )


def _with_known_neighbours(models: Iterable[Intersection], paths: Sequence[str]) -> dict[str, Intersection]:
    """The models (of the files at `paths`, in order) keyed by junction id: ids unique, neighbour ids known."""
    junctions: dict[str, Intersection] = {}
    for j, path in zip(models, paths):
        if j.id in junctions:
            raise JunctionError(path, "id", f"junction {j.id!r} also defined in {junctions[j.id].source}")
        junctions[j.id] = j
    for j in junctions.values():
        for key in ("upstream", "downstream"):
            for n in getattr(j, key):
                if n not in junctions:
                    raise JunctionError(j.source, key, f"unknown neighbour junction {n!r}")
    return junctions
