"""Judge a config change against each network's own noise floor: paired runs key on / key off and
changes of no meaning key off, seed by seed.

    python -m sim.bench_key --set max_pressure.head_block_s=4 [--set ...]
                            [--perturb ws61:max_pressure.wait_scale_s=61 ...]
                            (--scenario CFG[:END_S] ... | --board FILE) [--policy adaptive]
                            [--only NAME,...] [--seeds 1-3] [--jobs 2] [--nice 5]
                            [--tree CHECKOUT] [--import FILE] [--judge-only] --out DIR

Each (network, seed) runs `run_controller.py --config C simulate CFG --policy P -- --seed S
[--end END_S]` of the checkout `--tree` (default: this one; one process each, `--jobs` at a time,
at niceness `--nice` or more) with the configs: `off` (the base, `--config`, default the tree's
config.toml), `on` (the base with every `--set`) and one per named perturbation (`--perturb
NAME:section.key=value`, repeatable; the settings of one NAME form one config; a perturbation
without a name is named `pert`): a change of no meaning to the policy run, the network's floor.
Per seed r_s = delay_on / delay_off and, for each perturbation, p_s = delay_pert / delay_off
(summary.json's `delay_s`, s/veh). Per network the table gives the median and the geometric mean
of r and of each p and the count of seeds worse by more than `--worse-by` (2 %), and a verdict
(the board's method, docs/policies.md, "Judging a key"):

- `no effect`: every seed gives the base's digits (the change does not act there);
- against the floor, when at least `--min-perturbations` (3) perturbations were run at every seed
  judged: `pass` when median r and geometric mean r are each no worse than the worst
  perturbation's (and than the fixed 1.01 / 1.02, a lower bound), `FAIL` otherwise; `pass, gain`
  when also median r <= the best perturbation's median p and `--gain-median` (0.95), and r is
  below every perturbation's p at more than half the seeds;
- else against the fixed thresholds (the table says so): `FAIL` when median r > `--median-max`
  (1.01) or geometric mean r > `--gmean-max` (1.02), `pass, gain` at median r <= 0.95;
- `needs seeds 4-10` (the seeds missing; besides): it lost (r > 1) at one of seeds 1-3 and seeds 1-10
  were not all run. Run `--seeds 1-10` then (the runs finished are reused): only the seeds given are
  judged, so `--seeds 4-10` alone leaves seeds 1-3 out.

The overall verdict: `may be proposed on` when every network where it acts passes, none needs more
seeds, one gains and the bundled city was among the networks run (else `not decided`); `ships off`
otherwise, with the reason. Without `--set` (perturbations only) the tool measures the floor and
gives no verdict. The exit code is 0 whatever the verdict; 1 when a run failed or one of its
junctions' decisions raised (summary.json's `junction_control` counts `failed_ticks`: its figures
are not the policy's), each named, or with `--judge-only` when runs are missing; 2 for a bad input
(a key not in the base config, a value of the wrong type, a missing scenario, a malformed
`--perturb`, a `--tree` that is not a checkout).

Board file (`--board`): one network a line, `name cfg end_s` (`-` for no end), `#` comments.
Runs are kept under `--out`/runs/<tree>/<policy>-<config hash>/<network>/seed<S>/ (the tree: the
commit of the `--tree` checkout, `+` and a hash of its uncommitted changes and untracked files if
any) and reused when finished with the same command, so that runs of the base config are shared by
every key judged into the same `--out`; `--rerun` runs everything again. `--judge-only` starts no
run: it judges what is there and names what is missing.

Import file (`--import`, repeatable): runs made outside the tool, one line each,
`network variant folder`, the folder holding the run's summary.json, `{seed}` in it standing for the
seed (`ingolstadt21 off /work/out/K/s43/runs/ingolstadt21/off/s{seed}`); `variant` is `off`, `on`
or a perturbation's name. An imported run stands for the tool's own at that (network, variant,
seed): it is judged and not run. Import only runs of the same command (policy, end, config, tree).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
KEY_VARIANTS = ("off", "on")  # a perturbation takes any other name
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class InputError(Exception):
    """A bad input to the tool, named (exit 2)."""


# -- the inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One network of the judgement: its name in the tables, its SUMO config, and the simulated second the
    runs end at (`end_s`; None: the config's own end)."""

    name: str
    cfg: Path
    end_s: float | None


def parse_seeds(text: str) -> list[int]:
    """`1-10`, `4-10`, `1,3,5`, `1-3,7` -> the seeds, ascending, each once."""
    seeds: set[int] = set()
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            lo, dash, hi = part.partition("-")
            a, b = int(lo), int(hi if dash else lo)
            if a < 0 or b < a:
                raise ValueError
            seeds.update(range(a, b + 1))
    except ValueError:
        raise InputError(f"--seeds {text!r}: expected e.g. 1-10, 4-10 or 1,3,5") from None
    if not seeds:
        raise InputError(f"--seeds {text!r}: no seed")
    return sorted(seeds)


def scenario_name(cfg: Path) -> str:
    """A network's name: its config's stem, or its folder's for a generic run.sumocfg / run.sumo.cfg."""
    stem = cfg.name.split(".")[0]
    return cfg.parent.name if stem == "run" else stem


def _end(text: str, where: str) -> float | None:
    if text in ("", "-"):
        return None
    try:
        end_s = float(text)
    except ValueError:
        raise InputError(f"{where}: end {text!r} is not a number of seconds") from None
    if not math.isfinite(end_s) or end_s <= 0:
        raise InputError(f"{where}: end {text!r} must be > 0")
    return end_s


def _scenario(name: str | None, cfg_text: str, end_text: str, where: str) -> Scenario:
    cfg = Path(cfg_text).expanduser()
    if not cfg.is_file():
        raise InputError(f"{where}: no scenario file {cfg}")
    cfg = cfg.resolve()
    return Scenario(name or scenario_name(cfg), cfg, _end(end_text, where))


def parse_scenarios(specs: Sequence[str], board: Path | None) -> list[Scenario]:
    """`--scenario CFG[:END_S]` specs and the lines of a board file (`name cfg end_s`), in order;
    two networks of one name are refused."""
    out = []
    for spec in specs:
        cfg, sep, end = spec.rpartition(":")
        if not sep or not end.replace(".", "", 1).isdigit():  # no end given (or a ':' in the path)
            cfg, end = spec, ""
        out.append(_scenario(None, cfg, end, f"--scenario {spec}"))
    if board is not None:
        if not board.is_file():
            raise InputError(f"--board: no file {board}")
        for k, line in enumerate(board.read_text(encoding="utf-8").splitlines(), 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if len(words) not in (2, 3):
                raise InputError(f"{board}:{k}: expected `name cfg end_s`, got {line.strip()!r}")
            out.append(_scenario(words[0], words[1], words[2] if len(words) == 3 else "", f"{board}:{k}"))
    if not out:
        raise InputError("no network: give --scenario CFG[:END_S] or --board FILE")
    seen: dict[str, Path] = {}
    for s in out:
        if s.name in seen and seen[s.name] != s.cfg:
            raise InputError(f"two networks named {s.name!r}: {seen[s.name]} and {s.cfg} (name them in a --board file)")
        seen[s.name] = s.cfg
    return list({s.name: s for s in out}.values())


# -- the configs -----------------------------------------------------------------------------


def parse_setting(text: str, option: str) -> tuple[str, str, str]:
    """`section.key=value` -> (section, key, value text)."""
    lhs, sep, value = text.partition("=")
    section, dot, key = lhs.strip().partition(".")
    if not sep or not dot or not section or not key or not value.strip():
        raise InputError(f"{option} {text!r}: expected section.key=value, e.g. max_pressure.wait_scale_s=61")
    return section, key.strip(), value.strip()


def parse_perturbations(texts: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
    """`--perturb` values -> the settings of each perturbation, by name, in order of first mention.
    `NAME:section.key=value` names one (the settings of one NAME form one config);
    `section.key=value` alone belongs to the perturbation named `pert` (the form of session 43)."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for text in texts:
        head, colon, rest = text.partition(":")
        named = bool(colon) and "=" not in head and "." not in head
        if named and not _NAME.fullmatch(head.strip()):
            raise InputError(
                f"--perturb {text!r}: a perturbation's name is a letter, then letters, digits, '_' or '-' "
                "(e.g. ws61:max_pressure.wait_scale_s=61)"
            )
        name = head.strip() if named else "pert"
        if name in KEY_VARIANTS:
            raise InputError(f"--perturb {text!r}: {name!r} names the key's own configs; name it otherwise")
        setting = parse_setting(rest if named else text, "--perturb")
        settings = out.setdefault(name, [])
        if any(setting[:2] == s[:2] for s in settings):
            raise InputError(f"--perturb {text!r}: {setting[0]}.{setting[1]} given twice for {name!r}")
        settings.append(setting)
    return out


def _toml_value(value: str, old: Any, name: str) -> str:
    """The value as TOML text: as written when it parses as TOML, else quoted when the key holds a string."""
    try:
        tomllib.loads(f"v = {value}")
        return value
    except tomllib.TOMLDecodeError:
        if isinstance(old, str):
            return json.dumps(value)
        raise InputError(f"{name}: {value!r} is not a TOML value (the base holds {old!r})") from None


def with_settings(text: str, settings: Sequence[tuple[str, str, str]], source: str) -> str:
    """config.toml's `text` with each (section, key, value) replaced in place, its comment kept.
    A key must be in the file already (every parameter lives in config.toml, documented)."""
    raw = tomllib.loads(text)
    lines = text.splitlines(keepends=True)
    for section, key, value in settings:
        table = raw.get(section)
        if not isinstance(table, dict):
            raise InputError(f"{section}.{key}: no section [{section}] in {source}")
        if key not in table:
            known = ", ".join(sorted(table))
            raise InputError(f"{section}.{key}: no key {key!r} in [{section}] of {source} (known: {known})")
        new = _toml_value(value, table[key], f"{section}.{key}")
        lines = _replace_line(lines, section, key, new, source)
    return "".join(lines)


def _replace_line(lines: list[str], section: str, key: str, value: str, source: str) -> list[str]:
    """`lines` with `key = value` in [section], its comment kept at its column (at least a space after)."""
    current = None
    for k, line in enumerate(lines):
        s = line.strip()
        if s.startswith("[") and not s.startswith("[["):
            current = s[1 : s.index("]")].strip()
            continue
        name, eq, rest = line.partition("=")
        if current == section and eq and name.strip() == key:
            head = f"{name.rstrip()} = {value}"
            at = line.find("#", len(name) + 1 + len(rest) - len(rest.lstrip()) + len(_value_text(rest)))
            comment = " " * max(1, at - len(head)) + line[at:].rstrip("\n") if at >= 0 else ""
            lines[k] = head + comment + ("\n" if line.endswith("\n") else "")
            return lines
    raise InputError(f"{section}.{key}: not a one-line `key = value` in [{section}] of {source}")


def _value_text(rest: str) -> str:
    """The value's text at the start of what follows `=`: its shortest start that reads as the same
    value (a `#` inside a string is no comment), followed by nothing or a comment."""
    text = rest.strip()
    try:
        whole = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return ""
    for end in range(1, len(text) + 1):
        after = text[end:].lstrip()
        if after and not after.startswith("#"):
            continue
        try:
            v = tomllib.loads(f"v = {text[:end]}")["v"]
        except tomllib.TOMLDecodeError:
            continue
        if type(v) is type(whole) and v == whole:
            return text[:end]
    return text


def write_variant(
    base_text: str, settings: Sequence[tuple[str, str, str]], base: Path, folder: Path
) -> tuple[Path, str]:
    """Write the base config with `settings` into `folder` as <hash>.toml (16 hex digits of its
    text: a change judged into the same folder never overwrites another's), checked as the service
    checks it (controller.config.load_config: a wrong type or range is an InputError naming the
    field). Returns the file and the hash."""
    from controller.config import load_config
    from controller.errors import ConfigError

    text = with_settings(base_text, settings, str(base)) if settings else base_text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.toml"
    tmp = folder / f".{digest}.{os.getpid()}.tmp"
    tmp.write_text(text, encoding="utf-8")
    try:
        load_config(tmp)
    except ConfigError as exc:
        tmp.unlink(missing_ok=True)
        change = ", ".join(f"{s}.{k}={v}" for s, k, v in settings) or "the base config"
        raise InputError(f"{change}: {str(exc).replace(str(tmp), 'the changed config')}") from None
    tmp.replace(path)
    return path.resolve(), digest


def tree_id(root: Path = ROOT) -> str:
    """The checkout's commit (12 hex digits), with `+` and a hash of its uncommitted changes to
    tracked files and of its untracked files (not ignored: names and contents) when there are any."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout

    try:
        head = git("rev-parse", "HEAD").strip()[:12]
        diff = git("diff", "HEAD")
        untracked = sorted(git("ls-files", "--others", "--exclude-standard", "-z").split("\0"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    h = hashlib.sha256(diff.encode())
    for name in (n for n in untracked if n):
        h.update(b"\0" + name.encode())
        try:
            h.update(hashlib.sha256((root / name).read_bytes()).digest())
        except OSError:
            h.update(b"?")
    return head + (f"+{h.hexdigest()[:8]}" if diff or any(untracked) else "")


def checkout(path: Path) -> Path:
    """`--tree`: a git checkout holding run_controller.py (the resolved path); InputError otherwise."""
    root = path.expanduser().resolve()
    if not (root / "run_controller.py").is_file():
        raise InputError(f"--tree {path}: no run_controller.py there: not a checkout of this project")
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise InputError(f"--tree {path}: not a git checkout") from None
    if Path(top).resolve() != root:
        raise InputError(f"--tree {path}: not the top of a checkout (that is {top})")
    return root


# -- the runs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One simulation: a network under one variant (`off`, `on` or a perturbation's name) at one SUMO seed.
    `out` is the run's folder (its summary.json holds the figure) and `command` the `run_controller.py simulate`
    line that makes it, run in `cwd`."""

    scenario: Scenario
    variant: str
    seed: int
    out: Path
    command: tuple[str, ...]
    cwd: Path = ROOT  # the checkout whose run_controller.py runs


def plan_runs(
    scenarios: Sequence[Scenario],
    variants: dict[str, tuple[Path, str]],
    seeds: Sequence[int],
    policy: str,
    runs: Path,
    tree: Path = ROOT,
) -> list[Run]:
    """Every (seed, network, variant) run, seed by seed so that partial results pair up;
    `variants` maps a variant to its config file and hash; `tree`'s run_controller.py runs."""
    from sim.commands import simulate_command

    out = []
    for seed in seeds:
        for sc in scenarios:
            for variant, (cfg, digest) in variants.items():
                folder = runs / f"{policy}-{digest}" / sc.name / f"seed{seed}"
                sumo = ["--seed", str(seed), *(["--end", f"{sc.end_s:g}"] if sc.end_s is not None else [])]
                cmd = simulate_command(sc.cfg, folder, policy, config=cfg, sumo_args=sumo)
                cmd[1] = str(tree / "run_controller.py")
                out.append(Run(sc, variant, seed, folder, tuple(cmd), tree))
    return out


def finished(run: Run) -> bool:
    """The run ended well with this very command (its run.json, written after exit 0) and left its summary."""
    meta = run.out / "run.json"
    if not meta.is_file() or not (run.out / "summary.json").is_file():
        return False
    try:
        shown: object = json.loads(meta.read_text())["command"]
        return shown == _shown(run.command)
    except (ValueError, KeyError):
        return False


def _shown(cmd: Sequence[str]) -> list[str]:
    """The command without the interpreter's path (a venv's or the system's python run the same code)."""
    return list(cmd[1:])


def _niced(level: int) -> None:
    """In the child: niceness at least `level` (added to none already higher)."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if level > current:
        os.setpriority(os.PRIO_PROCESS, 0, level)


def run_all(
    runs: Sequence[Run], jobs: int, nice: int, say: Callable[[str], None] | None = None, every_s: float = 600.0
) -> list[Run]:
    """Run `runs`, `jobs` at a time at niceness `nice` or more; a line on stderr (`say` to replace it)
    as each ends, and every `every_s` of wall time one naming the runs still going, with the last
    progress line of each one's log (simulate's `[policy] ...`, every 900 simulated seconds). Returns
    the runs that failed (their log: <run>.log beside the run's folder)."""
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    pending, failed = list(runs), []
    active: list[tuple[Run, subprocess.Popen[bytes], IO[str], float]] = []  # run, its process, its log, started
    done, t_start, t_said = 0, time.monotonic(), time.monotonic()
    while pending or active:
        while pending and len(active) < max(1, jobs):
            r = pending.pop(0)
            r.out.mkdir(parents=True, exist_ok=True)
            (r.out / "run.json").unlink(missing_ok=True)
            log = open(_log(r), "w")  # noqa: SIM115 - closed when its process ends
            proc = subprocess.Popen(
                r.command, stdout=log, stderr=subprocess.STDOUT, cwd=r.cwd, preexec_fn=lambda: _niced(nice)
            )
            active.append((r, proc, log, time.monotonic()))
        time.sleep(0.2)
        for item in [a for a in active if a[1].poll() is not None]:
            active.remove(item)
            item[2].close()
            done += 1
            r, figure = item[0], _ended(item[0], item[1].returncode)
            if figure.startswith("FAILED"):
                failed.append(r)
            elapsed = time.monotonic() - t_start
            left = elapsed / done * (len(runs) - done)
            say(
                f"[{done}/{len(runs)}] {r.scenario.name} {r.variant} seed {r.seed}: {figure} in "
                f"{time.monotonic() - item[3]:.0f} s (elapsed {elapsed / 60:.1f} min, about {left / 60:.0f} min left)"
            )
        if active and time.monotonic() - t_said >= every_s:
            t_said = time.monotonic()
            going = "; ".join(
                f"{r.scenario.name} {r.variant} seed {r.seed} for {(t_said - t0) / 60:.0f} min{_last_progress(r)}"
                for r, _, _, t0 in active
            )
            say(f"[{done}/{len(runs)}] running: {going}")
    return failed


def _log(run: Run) -> Path:
    return run.out.parent / f"{run.out.name}.log"


def _ended(run: Run, code: int) -> str:
    """A run's ending: its run.json written and its delay when it ended well, else FAILED and why."""
    if code == 0 and (run.out / "summary.json").is_file():
        (run.out / "run.json").write_text(json.dumps({"command": _shown(run.command)}, indent=1))
        return f"delay {json.loads((run.out / 'summary.json').read_text()).get('delay_s', float('nan')):.2f}"
    why = f"exit {code}" if code != 0 else "no summary.json"
    return f"FAILED ({why}; {_log(run)})"


def _last_progress(run: Run) -> str:
    """`: <simulate's last progress line>` from the run's log, or nothing."""
    try:
        with open(_log(run), "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    shown = [line for line in lines if line.startswith("[")]
    return f": {shown[-1]}" if shown else ""


# -- the arithmetic --------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """The board's method. Fixed (session 43; the rule where no floor is measured, and the floor's
    lower bound): a network passes if median r <= median_max and geometric mean r <= gmean_max; a
    gain is median r <= gain_median. A seed is worse when r > 1 + worse_by; a network that lost
    (r > 1) at one of seeds 1-3 needs seeds 1..full_seeds. The floor (session 44) is measured when at
    least min_perturbations perturbations were run at every seed judged."""

    median_max: float = 1.01
    gmean_max: float = 1.02
    worse_by: float = 0.02
    gain_median: float = 0.95
    full_seeds: int = 10
    min_perturbations: int = 3


@dataclass(frozen=True)
class Ratios:
    """Ratios by seed, and their median, geometric mean and count worse by more than worse_by."""

    by_seed: dict[int, float]
    median: float
    gmean: float
    worse: int


def ratios(num: dict[int, float], den: dict[int, float], worse_by: float) -> Ratios | None:
    """num / den at the seeds where both are (finite, den > 0); None without any."""
    r = {
        s: num[s] / den[s]
        for s in sorted(set(num) & set(den))
        if math.isfinite(num[s]) and math.isfinite(den[s]) and den[s] > 0 and num[s] >= 0
    }
    if not r:
        return None
    values = list(r.values())
    gmean = math.exp(statistics.fmean(math.log(v) for v in values)) if all(v > 0 for v in values) else 0.0
    return Ratios(r, statistics.median(values), gmean, sum(v > 1 + worse_by for v in values))


@dataclass(frozen=True)
class Floor:
    """A network's noise floor from the perturbations run at every seed judged (`names`): the worst
    (highest) median p and geometric mean p, and the best (lowest) median p and, per seed, the
    lowest p. `measured` when there are at least min_perturbations of them."""

    names: tuple[str, ...]
    measured: bool
    worst_median: float
    worst_gmean: float
    best_median: float
    best_by_seed: dict[int, float]

    def pass_bounds(self, th: Thresholds) -> tuple[float, float]:
        """The largest median r and geometric mean r that pass: the floor's, not below the fixed ones."""
        if not self.measured:
            return th.median_max, th.gmean_max
        return max(th.median_max, self.worst_median), max(th.gmean_max, self.worst_gmean)

    def wide(self, th: Thresholds) -> bool:
        """The floor is wider than the fixed thresholds: the verdict there is weak."""
        return self.measured and (self.worst_median > th.median_max or self.worst_gmean > th.gmean_max)


def floor_counts(p: Ratios, seeds: Sequence[int]) -> str:
    """Whether a perturbation counts in the floor ("" when it does, else why not): run at every
    seed judged, and acting at one of them (one that gives the base's digits everywhere is no
    draw of the network's noise)."""
    if not seeds or any(s not in p.by_seed for s in seeds):
        return "not at every seed judged"
    if all(p.by_seed[s] == 1.0 for s in seeds):
        return "no effect (the base's digits)"
    return ""


def floor_of(perts: dict[str, Ratios], seeds: Sequence[int], th: Thresholds) -> Floor:
    """The floor from the perturbations' ratios, counting those run at every one of `seeds` that act."""
    full = {n: p for n, p in perts.items() if not floor_counts(p, seeds)}
    if not full:
        return Floor((), False, math.nan, math.nan, math.nan, {})
    return Floor(
        tuple(full),
        len(full) >= th.min_perturbations,
        max(p.median for p in full.values()),
        max(p.gmean for p in full.values()),
        min(p.median for p in full.values()),
        {s: min(p.by_seed[s] for p in full.values()) for s in seeds},
    )


@dataclass(frozen=True)
class Judgement:
    """One network's: delays by variant and seed (s/veh), r (on / off), p (each perturbation's
    pert / off, at the seeds of r), the floor, the verdict."""

    name: str
    delays: dict[str, dict[int, float]]
    r: Ratios | None
    perts: dict[str, Ratios]
    floor: Floor
    acts: bool
    passes: bool
    gains: bool
    needs_seeds: list[int] = field(default_factory=list)
    lost_at: list[int] = field(default_factory=list)
    unrun: tuple[str, ...] = ()  # perturbations asked for without a finished run at a seed judged

    @property
    def p(self) -> Ratios | None:
        """The only perturbation's ratios, or the one named `pert` (session 43's single form)."""
        return self.perts.get("pert") or (next(iter(self.perts.values())) if len(self.perts) == 1 else None)

    def basis(self, th: Thresholds) -> str:
        """What the network was judged against."""
        n = len(self.floor.names)
        if not self.floor.measured:
            return f"fixed ({n} of {th.min_perturbations} perturbations)"
        return f"floor of {n}" + (", wide" if self.floor.wide(th) else "")

    @property
    def verdict(self) -> str:
        if self.r is None:
            return "floor only" if self.perts and "on" not in self.delays else "no pair"
        if not self.acts:
            return "no effect"
        text = "pass, gain" if self.passes and self.gains else "pass" if self.passes else "FAIL"
        if self.needs_seeds:
            first, last = self.needs_seeds[0], self.needs_seeds[-1]
            text += f"; needs seeds {first}-{last} (lost at {', '.join(map(str, self.lost_at))})"
        return text


def judge(
    name: str, delays: dict[str, dict[int, float]], th: Thresholds, perturbations: Sequence[str] = ()
) -> Judgement:
    """A network's judgement from its delays by variant ('off', 'on', each perturbation's name) and
    seed: against its floor when at least th.min_perturbations perturbations were run at every seed
    of r, else against the fixed thresholds."""
    off, on = delays.get("off", {}), delays.get("on", {})
    r = ratios(on, off, th.worse_by)
    seeds = sorted(r.by_seed) if r else sorted(off)
    perts = {}
    for variant, by_seed in delays.items():
        if variant in KEY_VARIANTS or not by_seed:
            continue
        p = ratios({s: d for s, d in by_seed.items() if s in seeds}, off, th.worse_by)
        if p is not None:
            perts[variant] = p
    floor = floor_of(perts, seeds, th)
    unrun = tuple(n for n in perturbations if n not in perts)
    if r is None:
        return Judgement(name, delays, None, perts, floor, False, False, False, unrun=unrun)
    acts = any(on[s] != off[s] for s in r.by_seed)
    max_median, max_gmean = floor.pass_bounds(th)
    passes = r.median <= max_median and r.gmean <= max_gmean
    if floor.measured:  # beyond the floor: below the best perturbation's median, and its p at most seeds
        below = sum(r.by_seed[s] < floor.best_by_seed[s] for s in seeds)
        gains = r.median <= min(th.gain_median, floor.best_median) and 2 * below > len(seeds)
    else:
        gains = r.median <= th.gain_median
    lost_at = [s for s, v in r.by_seed.items() if s <= 3 and v > 1]
    needs = [s for s in range(1, th.full_seeds + 1) if s not in r.by_seed] if lost_at else []
    return Judgement(name, delays, r, perts, floor, acts, passes, acts and gains, needs, lost_at, unrun)


def overall(judgements: Sequence[Judgement], th: Thresholds, city_run: bool) -> str:
    """The key's verdict over the networks judged (the board's method)."""
    if judgements and all(j.r is None and j.perts for j in judgements):
        return "no key: the floor only"
    acting = [j for j in judgements if j.acts]
    failing = [
        j.name + (" (seeds 1-3 only: the full seeds settle it)" if j.needs_seeds else "")
        for j in acting
        if not j.passes
    ]
    if failing:
        return f"ships off: fails on {', '.join(failing)}"
    if not acting:
        return "ships off: no effect on any network run"
    short = [j.name for j in acting if j.needs_seeds]
    gaining = [j.name for j in acting if j.gains]
    if short:
        return f"not decided: run seeds 1-{th.full_seeds} on {', '.join(short)}"
    if not gaining:
        return (
            "ships off: passes where it acts, but no gain (median r <= 0.95, beyond the floor where measured) anywhere"
        )
    text = f"passes everywhere it acts, gains on {', '.join(gaining)}"
    weak = [j.name for j in acting if j.floor.wide(th)]
    if weak:
        text += f" (weak on {', '.join(weak)}: the floor there is wider than 1.01 / 1.02)"
    if not city_run:  # the method: passes on every network where it acts, the bundled city included
        return f"not decided: {text}; the bundled city not run: it must be"
    return f"may be proposed on: {text}"


# -- the report ------------------------------------------------------------------------------


def _cells(x: Ratios | None) -> list[str]:
    return ["-", "-", "-"] if x is None else [f"{x.median:.3f}", f"{x.gmean:.3f}", f"{x.worse}/{len(x.by_seed)}"]


def _seeds_shown(seeds: Sequence[int]) -> str:
    seeds = sorted(seeds)
    if seeds and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
    return ",".join(map(str, seeds)) or "-"


def table(judgements: Sequence[Judgement], th: Thresholds) -> list[str]:
    """A row a network: the key's r, the largest median / geometric mean that pass, what they are
    from (the floor of n perturbations, or the fixed thresholds) and the verdict."""
    pct = f"{th.worse_by * 100:g} %"
    lines = [
        f"| network | seeds | r median | r gmean | r worse > {pct} | passes to (median / gmean) | judged against "
        "| verdict |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for j in judgements:
        seeds = sorted(j.r.by_seed) if j.r else sorted(j.delays.get("off", {}))
        bound = "{:.3f} / {:.3f}".format(*j.floor.pass_bounds(th))
        cells = [j.name, _seeds_shown(seeds), *_cells(j.r), bound, j.basis(th), j.verdict]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def floor_table(judgements: Sequence[Judgement], th: Thresholds) -> list[str]:
    """A row a (network, perturbation): p's median, geometric mean and seeds worse, and whether it
    counts in the floor (run at every seed judged)."""
    pct = f"{th.worse_by * 100:g} %"
    lines = [
        f"| network | perturbation | seeds | p median | p gmean | p worse > {pct} | in the floor |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for j in judgements:
        for name, p in j.perts.items():
            seeds = sorted(j.r.by_seed) if j.r else sorted(j.delays.get("off", {}))
            counted = f"no: {floor_counts(p, seeds)}" if floor_counts(p, seeds) else "yes"
            lines.append(
                f"| {j.name} | {name} | {_seeds_shown(list(p.by_seed))} | " + " | ".join(_cells(p)) + f" | {counted} |"
            )
        lines += [f"| {j.name} | {name} | - | - | - | - | no: not run |" for name in j.unrun]
    return lines


def _fig(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def per_seed_table(judgements: Sequence[Judgement]) -> list[str]:
    """Seed by seed: the delays (s/veh) of off and on, r, and each perturbation's delay and p."""
    names = list(dict.fromkeys(n for j in judgements for n in j.delays if n not in KEY_VARIANTS))
    head = ["network", "seed", "off s/veh", "on s/veh", "r"] + [c for n in names for c in (f"{n} s/veh", f"{n} p")]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for j in judgements:
        d = j.delays
        for s in sorted({seed for by_seed in d.values() for seed in by_seed}):
            r = _fig(j.r.by_seed.get(s) if j.r else None, 3)
            cells = [_fig(d.get(v, {}).get(s), 2) for v in ("off", "on")] + [r]
            for n in names:
                p = j.perts.get(n)
                cells += [_fig(d.get(n, {}).get(s), 2), _fig(p.by_seed.get(s) if p else None, 3)]
            lines.append(f"| {j.name} | {s} | " + " | ".join(cells) + " |")
    return lines


def collect(
    runs: Sequence[Run], imported: dict[tuple[str, str, int], Path] | None = None
) -> tuple[dict[str, dict[str, dict[int, float]]], list[str]]:
    """Delays by network, variant and seed from the runs' summary.json (an imported run's folder
    standing for the tool's run at its network, variant and seed); and the runs in which a
    junction's decision raised (summary.json's junction_control `failed_ticks`), one line each."""
    imported = imported or {}
    delays: dict[str, dict[str, dict[int, float]]] = {}
    raised = []
    for r in runs:
        folder = imported.get((r.scenario.name, r.variant, r.seed))
        if folder is None and not finished(r):
            continue
        path = (folder or r.out) / "summary.json"
        if not path.is_file():
            continue
        summary = json.loads(path.read_text())
        delays.setdefault(r.scenario.name, {}).setdefault(r.variant, {})[r.seed] = float(summary["delay_s"])
        control = summary.get("junction_control") or {}
        failing = [(jid, c) for jid, c in sorted(control.items()) if c.get("failed_ticks")]
        if failing:
            named = ", ".join(f"{jid} ({c['failed_ticks']} ticks: {c.get('failed_reason', '?')})" for jid, c in failing)
            raised.append(f"{r.scenario.name} {r.variant} seed {r.seed}: {named}")
    return delays, raised


def read_imports(
    files: Sequence[Path], scenarios: Sequence[Scenario], variants: Sequence[str], seeds: Sequence[int]
) -> dict[tuple[str, str, int], Path]:
    """The import files' runs at the networks, variants and seeds judged: (network, variant, seed)
    -> the folder of its summary.json (those with none left out: run or named missing). A line
    naming a network not judged is skipped; an unknown variant or a line without `{seed}` is refused."""
    names = {s.name for s in scenarios}
    out: dict[tuple[str, str, int], Path] = {}
    for f in files:
        if not f.is_file():
            raise InputError(f"--import: no file {f}")
        for k, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if len(words) != 3 or "{seed}" not in words[2]:
                raise InputError(
                    f"{f}:{k}: expected `network variant folder` with {{seed}} in the folder, got {line.strip()!r}"
                )
            network, variant, pattern = words
            if variant not in variants:
                raise InputError(f"{f}:{k}: variant {variant!r} is none of this judgement's ({', '.join(variants)})")
            if network not in names:
                continue
            for seed in seeds:
                folder = Path(pattern.replace("{seed}", str(seed))).expanduser()
                if folder.name == "summary.json":
                    folder = folder.parent
                if (folder / "summary.json").is_file():
                    out[(network, variant, seed)] = folder.resolve()
    return out


# -- the command line ------------------------------------------------------------------------


def get_options(args: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sim.bench_key", description=__doc__.split("\n")[0])
    p.add_argument("--config", type=Path, default=None, help="the base config (default: the tree's config.toml)")
    p.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="SECTION.KEY=VALUE", help="the change (repeatable)"
    )
    p.add_argument(
        "--perturb",
        action="append",
        default=[],
        metavar="[NAME:]SECTION.KEY=VALUE",
        help="a change of no meaning to the same policy, run key off: the network's floor (repeatable; the "
        "settings of one NAME form one perturbation; without a name: the perturbation `pert`)",
    )
    p.add_argument("--scenario", action="append", default=[], metavar="CFG[:END_S]", help="a network (repeatable)")
    p.add_argument("--board", type=Path, default=None, help="a file of networks, one a line: name cfg end_s")
    p.add_argument("--only", default=None, metavar="NAME,NAME", help="run only these networks of the ones given")
    p.add_argument("--policy", default="adaptive", help="the policy run (default: adaptive)")
    p.add_argument("--seeds", default="1-3", help="SUMO seeds, e.g. 1-3, 4-10, 1,3,5 (default: 1-3)")
    p.add_argument("--jobs", type=int, default=2, help="simulations at a time (default: 2)")
    p.add_argument("--nice", type=int, default=5, help="the runs' niceness, at least (default: 5)")
    p.add_argument("--out", type=Path, required=True, help="folder of the runs and configs (reused)")
    p.add_argument(
        "--tree", type=Path, default=ROOT, help="the checkout whose run_controller.py runs (default: this one)"
    )
    p.add_argument(
        "--import",
        dest="imports",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="runs made outside the tool: lines `network variant folder` ({seed} in the folder; repeatable)",
    )
    p.add_argument("--judge-only", action="store_true", help="start no run: judge those there, name those missing")
    p.add_argument(
        "--progress-s", type=float, default=600.0, help="wall seconds between lines on the runs going (default: 600)"
    )
    p.add_argument("--rerun", action="store_true", help="run again the runs already finished in --out")
    p.add_argument("--per-seed", action="store_true", help="also print the delays and ratios seed by seed")
    th = Thresholds()
    p.add_argument("--median-max", type=float, default=th.median_max, help="pass: median r <= this (default: 1.01)")
    p.add_argument("--gmean-max", type=float, default=th.gmean_max, help="pass: geometric mean r <= this (1.02)")
    p.add_argument("--worse-by", type=float, default=th.worse_by, help="a seed worse: r > 1 + this (default: 0.02)")
    p.add_argument("--gain-median", type=float, default=th.gain_median, help="a gain: median r <= this (0.95)")
    p.add_argument("--full-seeds", type=int, default=th.full_seeds, help="a loss at seeds 1-3 needs seeds 1..this (10)")
    p.add_argument(
        "--min-perturbations",
        type=int,
        default=th.min_perturbations,
        help="perturbations a network needs at every seed judged to be judged against its floor (default: 3)",
    )
    return p.parse_args(args)


def only(scenarios: list[Scenario], names: str | None) -> list[Scenario]:
    """The networks named in `names` (comma-separated; None: all), in their order; an unknown name refused."""
    if not names:
        return scenarios
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {s.name for s in scenarios}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise InputError(f"--only: no network {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return [s for s in scenarios if s.name in wanted]


def next_step(judgements: Sequence[Judgement]) -> str:
    """The options that judge, on the networks that lost at one of seeds 1-3, every seed the method
    asks for (the seeds run already reused), or "" when none is missing."""
    short = [j for j in judgements if j.acts and j.needs_seeds]
    if not short:
        return ""
    last = max(j.needs_seeds[-1] for j in short)
    return f"--seeds 1-{last} --only {','.join(j.name for j in short)}"


@dataclass(frozen=True)
class Prepared:
    """Everything checked before the first run: the networks and seeds, each variant's config file and hash
    (`variants`: `off`, `on` if a change was set, and each perturbation), where the runs go (`runs_dir`, per
    tree id), the checkout that runs them, and the runs given by `--import` ((network, variant, seed) -> folder)."""

    scenarios: list[Scenario]
    seeds: list[int]
    variants: dict[str, tuple[Path, str]]
    runs_dir: Path
    tree: Path
    imported: dict[tuple[str, str, int], Path]


def prepare(opts: argparse.Namespace) -> Prepared:
    """Check every input before any run; write the configs. InputError names what is wrong."""
    if not opts.sets and not opts.perturb:
        raise InputError("no change: give --set section.key=value (or --perturb alone for the floor only)")
    tree = checkout(opts.tree)
    base = opts.config if opts.config is not None else tree / "config.toml"
    if not base.is_file():
        raise InputError(f"--config: no file {base}")
    scenarios = only(parse_scenarios(opts.scenario, opts.board), opts.only)
    seeds = parse_seeds(opts.seeds)
    base_text = base.read_text(encoding="utf-8")
    changes: dict[str, list[tuple[str, str, str]]] = {"off": []}
    if opts.sets:
        changes["on"] = [parse_setting(s, "--set") for s in opts.sets]
    changes.update(parse_perturbations(opts.perturb))
    written = {
        name: write_variant(base_text, settings, base, opts.out / "configs") for name, settings in changes.items()
    }
    parsed = {name: tomllib.loads(path.read_text()) for name, (path, _) in written.items()}
    for name, values in parsed.items():
        option = "--set" if name == "on" else f"--perturb {name}"
        if name == "off":
            continue
        if values == parsed["off"]:
            raise InputError(f"{option} changes nothing: the values are the base config's")
        earlier = list(parsed)[: list(parsed).index(name)]
        same = [other for other in earlier if other != "off" and parsed[other] == values]
        if name != "on" and same:
            raise InputError(f"{option}: the same config as {same[0]!r} (a perturbation is a change of its own)")
    imported = read_imports(opts.imports, scenarios, list(written), seeds)
    return Prepared(scenarios, seeds, written, opts.out / "runs" / tree_id(tree), tree, imported)


def main(argv: list[str] | None = None) -> int:
    opts = get_options(argv)
    th = Thresholds(
        opts.median_max, opts.gmean_max, opts.worse_by, opts.gain_median, opts.full_seeds, opts.min_perturbations
    )
    try:
        prep = prepare(opts)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runs = plan_runs(prep.scenarios, prep.variants, prep.seeds, opts.policy, prep.runs_dir, prep.tree)
    outside = [r for r in runs if (r.scenario.name, r.variant, r.seed) in prep.imported]
    todo = [r for r in runs if r not in outside and (opts.rerun or not finished(r))]
    missing = todo if opts.judge_only else []
    print(
        f"bench_key: {len(prep.scenarios)} networks x {len(prep.seeds)} seeds x {len(prep.variants)} configs: "
        f"{0 if opts.judge_only else len(todo)} runs ({len(runs) - len(todo) - len(outside)} reused, "
        f"{len(outside)} imported{f', {len(missing)} missing' if missing else ''}), {opts.jobs} at a time; "
        f"runs in {prep.runs_dir}",
        file=sys.stderr,
    )
    failed = [] if opts.judge_only else run_all(todo, opts.jobs, opts.nice, every_s=opts.progress_s)
    delays, raised = collect(runs, prep.imported)
    perts = [v for v in prep.variants if v not in KEY_VARIANTS]
    judgements = [judge(s.name, delays.get(s.name, {}), th, perts) for s in prep.scenarios]
    city = any(s.cfg.parts[-3:] == ("scenarios", "city", "city.sumocfg") for s in prep.scenarios)
    print(report(opts, judgements, th, prep, city, failed, raised, missing))
    if failed or raised or missing:
        print(
            f"error: {len(failed)} run(s) failed, {len(raised)} with a decision that raised, {len(missing)} missing: "
            "see the end",
            file=sys.stderr,
        )
    return 1 if failed or raised or missing else 0


def report(
    opts: argparse.Namespace,
    judgements: Sequence[Judgement],
    th: Thresholds,
    prep: Prepared,
    city_run: bool,
    failed: Sequence[Run],
    raised: Sequence[str],
    missing: Sequence[Run] = (),
) -> str:
    change = ", ".join(opts.sets) or "none (the floor only)"
    perts = [n for n in prep.variants if n not in KEY_VARIANTS]
    pert = ", ".join(opts.perturb) or "none"
    lines = [
        f"Key {change} under {opts.policy} (perturbations: {pert}), base {opts.config or prep.tree / 'config.toml'}, "
        f"tree {prep.tree} ({prep.runs_dir.name}).",
        "r = delay on / off, p = delay pert / off, per seed (summary.json delay_s, s/veh). Against the floor (at least "
        f"{th.min_perturbations} perturbations at every seed judged): pass when median r and geometric mean r are no "
        f"worse than the worst perturbation's nor than {th.median_max:g} / {th.gmean_max:g}; gain when median r <= the "
        f"best perturbation's median p and {th.gain_median:g}, and r below every p at most seeds. Else the fixed "
        f"thresholds: pass at median r <= {th.median_max:g} and geometric mean r <= {th.gmean_max:g}; gain at median "
        f"r <= {th.gain_median:g}.",
        "",
        *table(judgements, th),
    ]
    if perts:
        lines += ["", *floor_table(judgements, th)]
    lines += ["", f"Verdict: {overall(judgements, th, city_run)}."]
    if next_step(judgements):
        lines.append(f"Next: the same command with {next_step(judgements)} (the runs done reused).")
    if opts.per_seed:
        lines += ["", *per_seed_table(judgements)]
    if prep.imported:
        lines += ["", f"Imported runs: {len(prep.imported)} (from {', '.join(map(str, opts.imports))})."]
    if missing:
        lines += ["", "Missing runs (--judge-only: not run; left out of the ratios):"]
        lines += [f"- {r.scenario.name} {r.variant} seed {r.seed}: {r.out}" for r in missing]
    if failed:
        lines += ["", "Failed runs (left out of the ratios):"]
        lines += [
            f"- {r.scenario.name} {r.variant} seed {r.seed}: {r.out.parent / (r.out.name + '.log')}" for r in failed
        ]
    if raised:
        lines += [
            "",
            "A junction's decision raised (left on its own program: a bug; its figures are not the policy's):",
        ]
        lines += [f"- {line}" for line in raised]
    lines += ["", "Configs: " + ", ".join(f"{v} {path} ({digest})" for v, (path, digest) in prep.variants.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
