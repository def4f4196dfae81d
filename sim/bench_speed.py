"""Benchmark: what the service adds to each simulated second, against plain `sumo`.

    python -m sim.bench_speed [--sumocfg sim/scenarios/city/city.sumocfg] [--runs 3] [--end 1800]
        [--policies fixed,adaptive] [--via-mqtt adaptive] [--tree before=/tmp/e8-base] [--tree after=.]

Prints a table of median wall times (whole process) and their ratio to plain `sumo` on the same
config, and the median CPU time of each (user + sys of the process and the children it waited
for: Mosquitto, region processes; a loaded machine blurs it less than the wall time). Variants:
plain sumo (the binary), plain sumo with the same induction loops the closed loop adds, plain
sumo with those loops and the outputs simulate writes (tripinfo with the unfinished trips,
statistics: the fair baseline of a closed-loop run), then `simulate --policy P` for each policy
(and `--via-mqtt` for those named) from each source tree given (`--tree NAME=PATH`, default: this
one), so that a version before a change and one after it are timed in the same session. The
ratios are to plain sumo (the binary); the last column is the ratio to the fair baseline. Runs
are interleaved (every variant once, then again) so that a noisy neighbour hurts all of them
alike, and the rounds alternate their order (ABBA: the first in the order above, the second
reversed, and so on), so that no variant always runs right after another: with one order in every
round a tree given second always ran after the first (a warm page cache, a load that rises or falls
through the round). Give an even `--runs` to balance the orders exactly. Every closed-loop run uses
`--seed 1` unless the SUMO arguments after `--` say otherwise.

Each tree's bytecode is brought up to date first (`--as-is`: not), as an install does once: a module
whose cached bytecode is missing or older than its source is compiled again by every run, in
memory only where PYTHONDONTWRITEBYTECODE is set (this machine), and that compile is the tree's
state, not the service's cost (BENCHMARKS.md, issue 12, S session 35).
"""

from __future__ import annotations

import argparse
import importlib.util
import py_compile
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sim.simulate import own_output_args
from sim.sumo import SumoConfig, sumo_binary

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("controller", "sim", "run_controller.py")  # what a tree's `simulate` imports of its own


def stale_bytecode(tree: Path) -> list[Path]:
    """The tree's modules (SOURCES) whose cached bytecode Python would not use: missing, of
    another Python, or not matching the source (a timestamp .pyc: the source's mtime and size
    in its header; a hash-based one: the source's hash)."""
    sources = [p for s in SOURCES for p in ((tree / s).rglob("*.py") if (tree / s).is_dir() else [tree / s])]
    return [p for p in sorted(sources) if p.is_file() and not _bytecode_current(p)]


def _bytecode_current(source: Path) -> bool:
    try:
        head = Path(importlib.util.cache_from_source(str(source))).read_bytes()[:16]
    except OSError:
        return False
    if len(head) < 16 or head[:4] != importlib.util.MAGIC_NUMBER:
        return False
    if int.from_bytes(head[4:8], "little") & 1:  # hash-based
        return head[8:16] == importlib.util.source_hash(source.read_bytes())
    st = source.stat()
    return head[8:16] == (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (st.st_size & 0xFFFFFFFF).to_bytes(
        4, "little"
    )


def compile_bytecode(tree: Path) -> int:
    """Write the bytecode of the tree's stale modules (stale_bytecode) into its __pycache__
    folders, as an install does; the number compiled."""
    stale = stale_bytecode(tree)
    for source in stale:
        py_compile.compile(str(source), doraise=True)
    return len(stale)


def _timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall s, CPU s: user + sys of the command and every child it waited for)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, text=True)
    wall_s = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall_s, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def _trees(specs: list[str]) -> dict[str, Path]:
    out = {}
    for spec in specs or [f"this={ROOT}"]:
        name, sep, path = spec.partition("=")
        if not sep or not (Path(path) / "run_controller.py").is_file():
            raise SystemExit(f"--tree {spec!r}: expected NAME=PATH of a source tree with run_controller.py")
        out[name] = Path(path).resolve()
    return out


def variants(args: argparse.Namespace, out: Path, sumo_args: list[str]) -> dict[str, tuple[list[str], Path]]:
    """name -> (command, working directory), in the order they are run."""
    common = ["--time-to-teleport", "-1", "--no-step-log", "true", "--duration-log.disable", "true"]
    sumocfg = args.sumocfg.resolve()
    out_v: dict[str, tuple[list[str], Path]] = {
        "sumo (binary)": ([sumo_binary(), "-c", str(sumocfg), *common, *sumo_args], ROOT)
    }
    adds = ",".join(
        [str(p) for p in SumoConfig(sumocfg).files("additional-files")] + [str(out / "loops" / "detectors.add.xml")]
    )
    out_v["sumo + same loops"] = (
        [sumo_binary(), "-c", str(sumocfg), "--additional-files", adds, *common, *sumo_args],
        ROOT,
    )
    # what simulate's SUMO writes besides (sim/simulate.py prepare): the fair baseline of a closed-loop run
    outputs = own_output_args(out / "plain")
    out_v["sumo + same loops and outputs"] = (
        [sumo_binary(), "-c", str(sumocfg), "--additional-files", adds, *outputs, *common, *sumo_args],
        ROOT,
    )
    for tree, path in _trees(args.tree).items():
        for policy in args.policies.split(","):
            for mqtt in (False, True) if policy in args.via_mqtt.split(",") else (False,):
                name = f"{tree}: simulate --policy {policy}" + (" --via-mqtt" if mqtt else "")
                cmd = [
                    sys.executable,
                    str(path / "run_controller.py"),
                    "simulate",
                    str(sumocfg),
                    "--out",
                    str(out / name.replace(" ", "_").replace(":", "")),
                    "--policy",
                    policy,
                    *(["--via-mqtt"] if mqtt else []),
                    "--",
                    *sumo_args,
                ]
                out_v[name] = (cmd, path)
    return out_v


def main(argv: list[str] | None = None) -> int:
    args, sumo_extra = _parser().parse_known_args(argv)
    sumo_args = ["--seed", "1", *(["--end", f"{args.end:g}"] if args.end else []), *sumo_extra]
    bytecode = []
    for tree, path in _trees(args.tree).items():
        n = len(stale_bytecode(path)) if args.as_is else compile_bytecode(path)
        bytecode.append(f"{tree}: {n} modules {'stale, left so' if args.as_is else 'stale, compiled first'}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        # A closed-loop run first, untimed: it writes the loops the second plain variant reuses.
        _timed(
            [
                sys.executable,
                str(ROOT / "run_controller.py"),
                "simulate",
                str(args.sumocfg.resolve()),
                "--out",
                str(out / "loops"),
                "--policy",
                "fixed",
                "--",
                "--end",
                "1",
            ],
            ROOT,
        )
        (out / "plain").mkdir()
        times, cpus, loads = _rounds(variants(args, out, sumo_args), args.runs)
    print(f"\nscenario: {args.sumocfg}  runs: {args.runs}  sumo args: {' '.join(sumo_args)}")
    print(f"load average (1 min) at the start of each round and at the end: {', '.join(loads)}")
    print("order: the rounds alternate (ABBA): rounds 1, 3, ... in the table's order, rounds 2, 4, ... reversed")
    print(f"bytecode: {'; '.join(bytecode)}")
    _table(times, cpus)
    return 0


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sumocfg", type=Path, default=ROOT / "sim/scenarios/city/city.sumocfg")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--end", type=float, default=None, help="simulated seconds (default: the config's end)")
    ap.add_argument("--policies", default="fixed,adaptive", help="comma-separated policies to time")
    ap.add_argument("--via-mqtt", default="", help="comma-separated policies also timed through Mosquitto")
    ap.add_argument("--tree", action="append", default=[], help="NAME=PATH of a source tree (repeatable)")
    ap.add_argument(
        "--as-is", action="store_true", help="time the trees with their bytecode as it is (default: compiled first)"
    )
    return ap


def _rounds(
    todo: dict[str, tuple[list[str], Path]], runs: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], list[str]]:
    """`runs` rounds of every variant in turn, in round_order's order: per variant its wall and CPU seconds
    per round, and the load average at the start of each round and at the end."""
    times: dict[str, list[float]] = {k: [] for k in todo}
    cpus: dict[str, list[float]] = {k: [] for k in todo}
    loads = []
    for i in range(runs):
        loads.append(_load())
        for name in round_order(list(todo), i):
            cmd, cwd = todo[name]
            wall_s, cpu_s = _timed(cmd, cwd)
            times[name].append(wall_s)
            cpus[name].append(cpu_s)
            print(f"run {i + 1}/{runs} {name}: {wall_s:.1f} s, CPU {cpu_s:.1f} s", file=sys.stderr, flush=True)
    loads.append(_load())
    return times, cpus, loads


def round_order(names: list[str], i: int) -> list[str]:
    """The order of round `i` (from 0): `names` as given in the even rounds, reversed in the odd ones (ABBA)."""
    return names if i % 2 == 0 else names[::-1]


def _table(times: dict[str, list[float]], cpus: dict[str, list[float]]) -> None:
    """The table of medians and ratios, to plain sumo and to sumo with the same loops and outputs."""
    base = statistics.median(times["sumo (binary)"])
    cpu_base = statistics.median(cpus["sumo (binary)"])
    print(
        "| variant | median wall s | runs (s) | ratio of medians to plain sumo | median of per-round ratios "
        "| median CPU s | CPU runs (s) | CPU ratio to plain sumo | median of per-round ratios to sumo + same "
        "loops and outputs (wall; CPU) |\n"
        "|---|---:|---|---:|---:|---:|---|---:|---|"
    )
    fair = "sumo + same loops and outputs"
    for name, ts in times.items():
        med = statistics.median(ts)
        per_round = statistics.median(t / b for t, b in zip(ts, times["sumo (binary)"]))
        cpu = statistics.median(cpus[name])
        to_fair = statistics.median(t / b for t, b in zip(ts, times[fair]))
        cpu_to_fair = statistics.median(c / b for c, b in zip(cpus[name], cpus[fair]))
        print(
            f"| {name} | {med:.1f} | {', '.join(f'{t:.1f}' for t in ts)} | {med / base:.2f}× | {per_round:.2f}× "
            f"| {cpu:.1f} | {', '.join(f'{c:.1f}' for c in cpus[name])} | {cpu / cpu_base:.2f}× "
            f"| {to_fair:.2f}×; {cpu_to_fair:.2f}× |"
        )


def _load() -> str:
    """The 1-minute load average (the machine is shared: read the times with it)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
