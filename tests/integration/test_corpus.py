"""The corpus (issue 9): every network imported and simulated for 600 s without an error.

Networks: the seeded irregular corpus (sim/scenarios/corpus/, built at test time into pytest's
cache), the three Bologna scenarios of ../shared/networks (copied: the folder is read-only),
the project's own city, spider and irregular, the eight RESCO networks of the sumo-rl wheel
(sim/scenarios/resco.py, fetched once into pytest's cache), and the four real-world junctions
SUMO itself ships (tools/sumolib/scenario/scenarios/RealWorld/RiLSA_example1-4: the German
signal guidelines' examples, each with its own program and counted flows, and a configuration
in SUMO's older flat form), each from its scenario's own begin.
Every network runs `adaptive`; each other policy runs on a rotating share of the networks (one
other policy per network), so that the corpus stays within about 6 minutes of CPU.
docs/corpus.md has what each network exercises and the timings.

    TSC_CORPUS_ROTATION=N   shift which network runs which other policy (default 0)
    TSC_CORPUS_ALL=1        every policy on every network (a long run, not for CI)

A run fails when: the exit code is not 0, summary.json is missing, the delay is not finite, no
vehicle was inserted, a policy that sends plans sent none although it did not refuse every
junction at start, or it left a junction without any plan for the whole run without refusing
it at start (summary.json's "refused", "skipped" and "junction_control").

A guard on top (issue 9's target): `adaptive` is no more than 2 % worse than `fixed`, the
network's own programs, on each network, in mean delay per vehicle over the same 600 s. The
fixed-program figure comes from SUMO alone (no controller: under `fixed` it sends no plan),
scored as `simulate` scores a run, which costs a fraction of a second per corpus network; the
rotation's own `fixed` runs check that it is the figure `simulate --policy fixed` gives. A
network that misses the target today is listed in KNOWN_MISSES with its measured figures, and
must not get worse than them.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from sim.baselines import FIELD_POLICIES
from sim.evaluate import evaluate
from sim.netimport import read_skipped
from sim.scenarios.corpus.build import ensure_built
from sim.scenarios.corpus.catalogue import CORPUS
from sim.scenarios.resco import NETWORKS as RESCO
from tests.scenarios import ENV, HOME, ROOT, cache_dir, copy_writable, error_line, resco_root, simulate, sumocfg_begin_s

pytestmark = pytest.mark.slow

RUN_S = 600
BOLOGNA = ROOT.parent / "shared" / "networks" / "bologna"
OWN = ("city", "spider", "irregular")
SUMO_EXAMPLES = HOME / "tools" / "sumolib" / "scenario" / "scenarios" / "RealWorld"
RILSA = tuple(f"RiLSA_example{k}" for k in (1, 2, 3, 4))
NETWORKS = (
    [f"corpus/{c.name}" for c in CORPUS]
    + [f"bologna/{b}" for b in ("acosta", "pasubio", "joined")]
    + [f"own/{o}" for o in OWN]
    + [f"resco/{r.name}" for r in RESCO]
    + [f"sumo/{r}" for r in RILSA]
)
OTHER_POLICIES = ("max_pressure", "schedule", "scats", "webster", "fixed", "actuated", "delay_based")
NO_PLANS = ("fixed", *FIELD_POLICIES)  # the network's own programs, or SUMO's own actuation
MAX_WORSE_THAN_FIXED = 0.02  # issue 9: adaptive's mean delay at most 2 % above fixed's, per network
# Networks where adaptive misses that today: network -> (adaptive, fixed) s/veh as measured (600 s,
# SUMO 1.28); the guard there is that the ratio does not grow by more than MAX_WORSE_THAN_FIXED.
KNOWN_MISSES: dict[str, tuple[float, float]] = {
    # None since session 17. SUMO's RiLSA examples 3 and 4 (unseen until session 13) were listed
    # here at (62.1, 60.4) and (30.9, 27.1): a left turn the city keeps on 'o' (yield) through its
    # all-reds, which the roadside showed red. With [roadside] keep_off_through_intergreen on they
    # read 61.3 vs 60.4 (1.014x) and 25.6 vs 27.1 (0.94x) here (BENCHMARKS.md, H and lead session 17).
}


def cases() -> list[tuple[str, str]]:
    """(network, policy): adaptive everywhere, plus one other policy per network, rotating."""
    rotation = int(os.environ.get("TSC_CORPUS_ROTATION", "0"))
    every = os.environ.get("TSC_CORPUS_ALL") == "1"
    out = []
    for i, net in enumerate(NETWORKS):
        out.append((net, "adaptive"))
        out += [(net, p) for k, p in enumerate(OTHER_POLICIES) if every or (i + rotation) % len(OTHER_POLICIES) == k]
    return out


@pytest.fixture(scope="module")
def scenario_cfg(tmp_path_factory):
    """name -> the .sumocfg to run (built, copied, fetched or bundled), prepared once per module."""
    cache_root = cache_dir("tsc_corpus")
    copies = tmp_path_factory.mktemp("bologna")
    ready: dict[str, Path] = {}

    def get(net: str) -> Path:
        if net not in ready:
            kind, name = net.split("/")
            if kind == "corpus":
                ready[net] = ensure_built(cache_root, name)
            elif kind == "bologna":
                if not (BOLOGNA / name).is_dir():
                    pytest.fail(f"{BOLOGNA / name} missing: the shared Bologna networks belong in CI")
                ready[net] = copy_writable(BOLOGNA / name, copies / name) / "run.sumocfg"
            elif kind == "resco":
                ready[net] = resco_root() / name / f"{name}.sumocfg"
            elif kind == "sumo":
                ready[net] = sumo_example(SUMO_EXAMPLES / name, copies / name)
            else:
                ready[net] = ROOT / "sim" / "scenarios" / name / f"{name}.sumocfg"
        return ready[net]

    return get


def sumo_example(src: Path, dst: Path) -> Path:
    """A writable copy of one of SUMO's RiLSA examples, its flows written by its own
    makeRoutes.py (into the folder it runs in); returns its run.sumo.cfg."""
    import subprocess
    import sys

    if not src.is_dir():
        pytest.fail(f"{src} missing: the eclipse-sumo wheel ships it")
    copy_writable(src, dst)
    done = subprocess.run([sys.executable, "makeRoutes.py"], cwd=dst, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, f"{src.name}/makeRoutes.py: {error_line(done.stderr)}"
    return dst / "run.sumo.cfg"


def refused_by_policy(summary: dict) -> list[str]:
    """The junctions the policy refused at start (summary["refused"]: id -> reason)."""
    return list(summary.get("refused") or {})


def skipped_at_import(summary: dict, out: Path) -> list[str]:
    """The lights the import skipped with a reason (summary["skipped"], else skipped.txt)."""
    if isinstance(summary.get("skipped"), dict):
        return list(summary["skipped"])
    return [tid for tid, _ in read_skipped(out / "intersections")]


def nothing_to_control(summary: dict, out: Path) -> bool:
    """True when no junction was left to control, and each was named at start: skipped by the
    import or refused by the policy."""
    named = skipped_at_import(summary, out) + refused_by_policy(summary)
    return bool(named) and summary.get("junctions_controlled", 0) <= len(refused_by_policy(summary))


def silent_junctions(summary: dict) -> list[str]:
    """Controlled junctions that got no plan in the whole run and were not refused at start
    (from summary["junction_control"]: id -> {"plans": n, ...}; [] when the summary has none)."""
    refused = set(refused_by_policy(summary))
    return sorted(
        j for j, c in (summary.get("junction_control") or {}).items() if c.get("plans", 0) == 0 and j not in refused
    )


def fixed_delay_s(cfg: Path, out: Path, begin_s: float, end_s: float, *sumo_args: str) -> float:
    """Mean delay (s/veh) of the scenario under its own programs from `begin_s` to `end_s`: SUMO
    alone, with the outputs and options `simulate` gives it, scored by sim.evaluate as
    `simulate` scores a run (the same figure as `simulate --policy fixed`, whose controller
    sends no plan: the rotation's fixed runs assert it)."""
    import subprocess

    out.mkdir(parents=True, exist_ok=True)
    trips, stats = out / "tripinfo.xml", out / "statistics.xml"
    cmd = [str(HOME / "bin" / "sumo"), "-c", str(cfg), "--end", f"{end_s:.0f}", "--tripinfo-output", str(trips)]
    cmd += ["--tripinfo-output.write-unfinished", "true", "--statistic-output", str(stats)]
    cmd += ["--time-to-teleport", "-1", "--no-step-log", "true", "--duration-log.disable", "true", *sumo_args]
    done = subprocess.run([*cmd, "--step-length", "1"], env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{cfg} under its own programs (SUMO alone): {error_line(done.stderr)}"
    return float(evaluate(trips, stats, begin_s=begin_s, end_s=end_s)["delay_s"])


def check_against_fixed(net: str, adaptive_s: float, fixed_s: float) -> None:
    """Issue 9's target on one network: adaptive at most MAX_WORSE_THAN_FIXED worse than fixed,
    or, for a known miss, no worse than measured (module doc)."""
    ratio = adaptive_s / fixed_s if fixed_s > 0 else (1.0 if adaptive_s <= 0 else math.inf)
    if net in KNOWN_MISSES:
        was_a, was_f = KNOWN_MISSES[net]
        limit = was_a / was_f + MAX_WORSE_THAN_FIXED
        why = f"known miss, measured {was_a:.1f} vs {was_f:.1f}"
    else:
        limit, why = 1.0 + MAX_WORSE_THAN_FIXED, "issue 9: at most 2 % worse than the network's own programs"
    assert ratio <= limit, (
        f"{net} adaptive: {adaptive_s:.1f} s/veh vs fixed {fixed_s:.1f} ({ratio:.3f}x > {limit:.3f}x; {why})"
    )


@pytest.mark.parametrize(("net", "policy"), cases(), ids=[f"{n}-{p}" for n, p in cases()])
def test_runs_600_s_without_error(net, policy, scenario_cfg, tmp_path):
    cfg = scenario_cfg(net)
    begin_s = sumocfg_begin_s(cfg)
    done = simulate(cfg, tmp_path / "out", policy, "--end", f"{begin_s + RUN_S:.0f}")
    assert done.returncode == 0, f"{net} {policy}: {error_line(done.stderr)}"
    path = tmp_path / "out" / "summary.json"
    assert path.exists(), f"{net} {policy}: no summary.json"
    s = json.loads(path.read_text())
    assert math.isfinite(s["delay_s"]) and s["delay_s"] >= 0, f"{net} {policy}: delay {s['delay_s']}"
    assert s["vehicles"]["inserted"] > 0, f"{net} {policy}: no vehicle inserted"
    failing = {j: c for j, c in (s.get("junction_control") or {}).items() if c.get("failed_ticks")}
    assert not failing, f"{net} {policy}: a decision raised (left on its own program): {failing}"
    if policy not in NO_PLANS:
        assert s["controller"]["plans_sent"] > 0 or nothing_to_control(s, tmp_path / "out"), (
            f"{net} {policy}: no plan sent in {RUN_S} s, and no junction refused at start "
            f"({s.get('junctions_controlled')} junctions)"
        )
        silent = silent_junctions(s)
        assert not silent, f"{net} {policy}: no plan in {RUN_S} s for {', '.join(silent)}, not refused at start"
    if policy in ("adaptive", "fixed"):
        fixed_s = fixed_delay_s(cfg, tmp_path / "sumo_alone", begin_s, begin_s + RUN_S)
        if policy == "fixed":
            assert fixed_s == pytest.approx(s["delay_s"], rel=1e-9, abs=1e-9), (
                f"{net}: SUMO alone {fixed_s} s/veh, simulate --policy fixed {s['delay_s']}: the guard's "
                "baseline is not the fixed run"
            )
        else:
            check_against_fixed(net, s["delay_s"], fixed_s)


# A lock among short-linked lights (two lights that block each other over a link a few metres
# long, vehicles standing in both boxes) is a lottery of seeds and shows late: at 600 s and SUMO's
# default seed the two networks below pass; at their own full length (900 s: 600 s of demand, 300 s
# to drain) and seed 1 `adaptive` locks (BENCHMARKS.md, "Issue 9 at HEAD: every network at full
# length (V, session 18)"). These cases run that, against the same seed's fixed programs.
# rand_short_edges seed 3: the lock [estimation] coupled_exit_all removes (247.7 -> 40.5 s/veh)
LOCK_CASES = (("corpus/rand_short_edges", 1), ("corpus/rand_short_edges", 3), ("corpus/grid_joined_pairs", 1))
# network@seed -> (adaptive, fixed) s/veh as measured (full length); the guard as KNOWN_MISSES'
# (the ratio may not grow by more than MAX_WORSE_THAN_FIXED). rand_short_edges seed 1 (311.9 vs
# 153.2 before) meets the target since [estimation] coupled_exit_red (36.4 at bdb18c8);
# grid_joined_pairs' seed 1 is two vehicles on its 9.2 m inner road B1B0 each needing the lane the
# other holds (BENCHMARKS.md, K session 19), which [harm] lock_green_s (off) hands back, still locked.
KNOWN_LOCKS: dict[str, tuple[float, float]] = {
    "corpus/grid_joined_pairs@seed1": (57.2, 49.2)  # 1.16x; seeds 2 / 3 0.35x, 0.33x
}


@pytest.mark.parametrize(("net", "seed"), LOCK_CASES, ids=[f"{n}-seed{s}" for n, s in LOCK_CASES])
def test_adaptive_does_not_lock_at_full_length(net, seed, scenario_cfg, tmp_path, monkeypatch):
    """Issue 9's target at the network's own end and a fixed seed (module doc: the guard)."""
    cfg = scenario_cfg(net)
    done = simulate(cfg, tmp_path / "out", "adaptive", "--seed", str(seed))
    assert done.returncode == 0, f"{net} adaptive seed {seed}: {error_line(done.stderr)}"
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    end_s = float(s["duration_s"]) + sumocfg_begin_s(cfg)
    fixed_s = fixed_delay_s(cfg, tmp_path / "sumo_alone", sumocfg_begin_s(cfg), end_s, "--seed", str(seed))
    key = f"{net}@seed{seed}"
    if key in KNOWN_LOCKS:
        monkeypatch.setitem(KNOWN_MISSES, key, KNOWN_LOCKS[key])
    check_against_fixed(key, s["delay_s"], fixed_s)


def test_resco_networks_run_their_own_hour(scenario_cfg):
    """The begin times the test and docs/corpus.md state are the .sumocfg's own (the fetched
    wheel is the pinned one, so a mismatch is a wrong table in sim/scenarios/resco.py)."""
    for r in RESCO:
        assert sumocfg_begin_s(scenario_cfg(f"resco/{r.name}")) == r.begin_s, r.name


# --- the corpus' own program rewriting (pure, fast) ----------------------------------------------


def test_sub_phases_keep_the_cycle_and_last_1_to_10_s():
    import random

    from sim.scenarios.corpus.programs import Phase, split_sub_phases

    phases = [Phase(31, "GGrr"), Phase(3, "yyrr"), Phase(25, "rrGG"), Phase(4, "rryy")]
    split = split_sub_phases(phases, random.Random(3))
    assert sum(p.duration_s for p in split) == 63
    assert all(1 <= p.duration_s <= 10 for p in split)
    assert len(split) > len(phases)
    # the same states in the same order, only cut
    assert [s for i, s in enumerate(p.state for p in split) if i == 0 or split[i - 1].state != s] == [
        "GGrr",
        "yyrr",
        "rrGG",
        "rryy",
    ]


def test_first_stage_served_twice_a_cycle():
    from sim.scenarios.corpus.programs import Phase, serve_first_stage_twice

    a, ya, b, yb, c, yc = (
        Phase(20, "Grr"),
        Phase(3, "yrr"),
        Phase(20, "rGr"),
        Phase(3, "ryr"),
        Phase(20, "rrG"),
        Phase(3, "rry"),
    )
    assert serve_first_stage_twice([a, ya, b, yb, c, yc]) == [a, ya, b, yb, a, ya, c, yc]
    assert serve_first_stage_twice([a, ya, b, yb]) == [a, ya, b, yb]


def test_lettered_program_uses_every_letter():
    from sim.scenarios.corpus.programs import Link, Phase, lettered

    links = [Link(0, "n_0", "r"), Link(1, "n_0", "s"), Link(2, "e_0", "r"), Link(3, "e_0", "l")]
    program = lettered([Phase(30, "GGrr"), Phase(3, "yyrr"), Phase(30, "rrGg"), Phase(3, "rryy")], links)
    letters = set("".join(p.state for p in program))
    assert {"u", "s", "o", "Y", "y", "G", "g", "r"} <= letters
    assert all(p.state[0] == "o" for p in program)  # the link that is never green


def test_the_guard_fails_a_network_more_than_2_pc_worse_than_fixed(monkeypatch):
    check_against_fixed("corpus/x", 51.0, 50.0)  # 2 % worse: within the target
    with pytest.raises(AssertionError, match=r"corpus/x adaptive: 51\.6 s/veh vs fixed 50\.0"):
        check_against_fixed("corpus/x", 51.6, 50.0)
    monkeypatch.setitem(KNOWN_MISSES, "corpus/x", (60.0, 50.0))  # a known miss at 1.2x may not grow past 1.22x
    check_against_fixed("corpus/x", 61.0, 50.0)
    with pytest.raises(AssertionError, match="known miss, measured 60.0 vs 50.0"):
        check_against_fixed("corpus/x", 61.5, 50.0)
