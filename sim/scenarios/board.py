"""The board's inputs in one command: every network the board runs that the repo does not hold, and the
board file that names them (issue 9; docs/corpus.md, "The board").

    python -m sim.scenarios.board --out DIR [--bologna DIR] [--resco-wheel WHEEL]

Builds into DIR, each part only when it is not already there (a second call is a no-op):

- `resco/`: the eight RESCO networks (`sim.scenarios.resco.ensure_resco`: the `sumo-rl` wheel from PyPI);
- `rilsa/r1` .. `rilsa/r4`: SUMO's RealWorld/RiLSA_example1-4 (the eclipse-sumo wheel's
  tools/sumolib/scenario/scenarios/), copied, each with its flows written by its own makeRoutes.py
  (run with SUMO_HOME and PYTHONPATH set);
- `corpus/NAME`: the corpus (`sim.scenarios.corpus.build.build`, every network of the catalogue);
- `fz/NAME`: four fuzz inputs made from SUMO's game networks (tools/game) by netconvert, the programs
  rebuilt (`FUZZ`), with the game's own step lengths (0.1 s grid6, 0.2 s the others);
- `board.txt`: the board, one network a line, `name cfg end_s` with absolute paths, as `sim.bench_key
  --board` reads it: Bologna (../shared/networks/bologna, beside the repo) at 3,600 s, the others 900 s
  after their own begin (RESCO's and grid_late_start's are not 0); the city is the repo's.

Each network is built in a temporary sibling folder and moved into place when whole, so an interrupted
build is never taken for a built one. Progress goes to stdout; a tool that fails (pip, netconvert,
makeRoutes.py, a corpus generator) raises `BoardError` naming the input and the tool's error line, which
the CLI prints before exiting 1. Nothing here is committed.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from controller.errors import AdapterError
from sim.scenarios import resco
from sim.scenarios.common import error_line, staged, strip_header, sumo_home, sumo_tool, tool_failure
from sim.scenarios.corpus.build import build as build_corpus_net
from sim.scenarios.corpus.catalogue import CORPUS

ROOT = Path(__file__).resolve().parents[2]
BOLOGNA = ROOT.parent / "shared" / "networks" / "bologna"
BOLOGNA_NETS = ("acosta", "pasubio", "joined")
CITY = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
RILSA = {f"r{k}": f"RiLSA_example{k}" for k in (1, 2, 3, 4)}
BOLOGNA_END_S = 3600
RUN_S = 900  # the board's length elsewhere (RESCO: after its begin)
TOOL_TIMEOUT_S = 600


class BoardError(AdapterError):
    """An input of the board could not be built; the message names it and says why."""


@dataclass(frozen=True)
class FuzzInput:
    """A network of SUMO's game (tools/game) re-converted by netconvert with options that rebuild its
    programs; `step_s` is the game's own step length (its .sumocfg), kept as written there."""

    name: str
    net: str  # under tools/game
    routes: str
    step_s: str
    options: tuple[str, ...]


FUZZ: tuple[FuzzInput, ...] = (
    FuzzInput(
        "grid6_incoming_left",
        "grid6/grid6.net.xml",
        "grid6/grid6.rou.xml",
        "0.1",
        ("--tls.rebuild", "--tls.layout", "incoming", "--tls.left-green.time", "6"),
    ),
    FuzzInput(
        "cross_actuated",
        "cross/cross.net.xml",
        "cross/cross.rou.xml",
        "0.2",
        ("--tls.rebuild", "--tls.default-type", "actuated"),
    ),
    FuzzInput(
        "cross_incoming",
        "cross/cross.net.xml",
        "cross/cross.rou.xml",
        "0.2",
        ("--tls.rebuild", "--tls.layout", "incoming"),
    ),
    FuzzInput(
        "fkk_in_delay",
        "fkk_in/ingolstadt.net.xml.gz",
        "fkk_in/fkk_in.rou.xml",
        "0.2",
        ("--tls.rebuild", "--tls.default-type", "delay_based"),
    ),
)


def fuzz_by_name() -> dict[str, FuzzInput]:
    return {f.name: f for f in FUZZ}


def run_tool(what: str, cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Run one tool; raises BoardError naming `what` (the input) with the tool's error line when it fails."""
    try:
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    except FileNotFoundError as e:
        raise BoardError(f"{what}: {cmd[0]} not found") from e
    except subprocess.TimeoutExpired as e:
        raise BoardError(f"{what}: {Path(cmd[0]).name} gave no answer in {TOOL_TIMEOUT_S} s") from e
    if done.returncode != 0:
        why = error_line(done.stderr + "\n" + done.stdout)
        raise BoardError(f"{what}: {Path(cmd[0]).name} failed (exit {done.returncode}): {why}")


def fuzz_cfg(out: Path, name: str) -> Path:
    return out / name / f"{name}.sumocfg"


def build_fuzz(fz: FuzzInput, out: Path, game: Path | None = None) -> Path:
    """out/NAME/NAME.{net.xml,rou.xml,sumocfg} from the game's network (`game`: tools/game by default);
    returns the .sumocfg. Already there: left as is."""
    cfg = fuzz_cfg(out, fz.name)
    if cfg.is_file():
        return cfg
    game = game or sumo_home() / "tools" / "game"

    def make(d: Path) -> None:
        d.mkdir(parents=True)
        net = d / f"{fz.name}.net.xml"
        run_tool(
            f"fuzz input {fz.name}",
            [sumo_tool("netconvert"), "-s", str(game / fz.net), "-o", str(net), "--no-turnarounds", *fz.options],
        )
        strip_header(net)  # netconvert's comment: its time and the paths of this build
        shutil.copyfile(game / fz.routes, d / f"{fz.name}.rou.xml")
        (d / f"{fz.name}.sumocfg").write_text(
            f"""<configuration>
    <input>
        <net-file value="{fz.name}.net.xml"/>
        <route-files value="{fz.name}.rou.xml"/>
    </input>
    <time><step-length value="{fz.step_s}"/></time>
</configuration>
"""
        )

    staged(cfg.parent, make)
    return cfg


def rilsa_cfg(out: Path, short: str) -> Path:
    return out / short / "run.sumo.cfg"


def build_rilsa(short: str, out: Path) -> Path:
    """out/rK: SUMO's RiLSA_exampleK copied, makeRoutes.py run in it (its flows.rou.xml); the run.sumo.cfg."""
    cfg = rilsa_cfg(out, short)
    if cfg.is_file():
        return cfg
    home = sumo_home()
    src = home / "tools" / "sumolib" / "scenario" / "scenarios" / "RealWorld" / RILSA[short]
    if not (src / "makeRoutes.py").is_file():
        raise BoardError(f"RiLSA {short}: no {src / 'makeRoutes.py'} (the eclipse-sumo wheel ships it)")
    pythonpath = os.pathsep.join(p for p in (str(home / "tools"), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "SUMO_HOME": str(home), "PYTHONPATH": pythonpath}

    def make(d: Path) -> None:
        shutil.copytree(src, d)
        for p in [d, *d.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)  # the wheel's files may be read-only
        run_tool(f"RiLSA {short} ({RILSA[short]})", [sys.executable, "makeRoutes.py"], cwd=d, env=env)
        if not (d / "flows.rou.xml").is_file():
            raise BoardError(f"RiLSA {short} ({RILSA[short]}): makeRoutes.py wrote no flows.rou.xml")

    staged(cfg.parent, make)
    return cfg


def corpus_cfg(out: Path, name: str) -> Path:
    return out / name / f"{name}.sumocfg"


def build_corpus(name: str, out: Path) -> Path:
    """out/NAME, one corpus network (the catalogue's; already there: left as is); its .sumocfg."""
    cfg = corpus_cfg(out, name)
    if cfg.is_file():
        return cfg
    net = next(c for c in CORPUS if c.name == name)

    def make(d: Path) -> None:
        try:
            build_corpus_net(net, d)
        except SystemExit as e:
            raise BoardError(f"corpus network {name}: {tool_failure(e)}") from e

    staged(cfg.parent, make)
    return cfg


@dataclass(frozen=True)
class Line:
    """One network of the board: its name, its SUMO configuration, the simulated second its runs end at."""

    name: str
    cfg: Path
    end_s: int

    def text(self) -> str:
        return f"{self.name} {self.cfg} {self.end_s}"


def board_lines(out: Path, bologna: Path = BOLOGNA, city: Path = CITY) -> list[Line]:
    """The board's 48 networks, in its order (Bologna, the fuzz inputs, RESCO, RiLSA, the city, the corpus
    by name), with the paths `build_all(out)` makes; absolute."""
    out, bologna, city = out.resolve(), bologna.resolve(), city.resolve()
    lines = [Line(b, bologna / b / "run.sumocfg", BOLOGNA_END_S) for b in BOLOGNA_NETS]
    lines += [Line(f.name, fuzz_cfg(out / "fz", f.name), RUN_S) for f in FUZZ]
    lines += [Line(n.name, resco.sumocfg(out / "resco", n.name), n.begin_s + RUN_S) for n in resco.NETWORKS]
    lines += [Line(s, rilsa_cfg(out / "rilsa", s), RUN_S) for s in RILSA]
    lines.append(Line("city", city, RUN_S))
    lines += [
        Line(c.name, corpus_cfg(out / "corpus", c.name), c.begin_s + RUN_S)
        for c in sorted(CORPUS, key=lambda c: c.name)
    ]
    return lines


def write_board(out: Path, bologna: Path = BOLOGNA, city: Path = CITY) -> Path:
    """out/board.txt; raises BoardError naming the first network whose configuration is missing."""
    lines = board_lines(out, bologna, city)
    for ln in lines:
        if not ln.cfg.is_file():
            raise BoardError(f"board network {ln.name}: no {ln.cfg}")
    path = out / "board.txt"
    head = f"# the board: {len(lines)} networks, name cfg end_s (python -m sim.scenarios.board --out {out.resolve()})\n"
    path.write_text(head + "".join(ln.text() + "\n" for ln in lines), encoding="utf-8")
    return path


def build_all(
    out: Path, bologna: Path = BOLOGNA, city: Path = CITY, wheel: Path | None = None, say: Callable[[str], None] = print
) -> Path:
    """Every input into `out`, what is there left as is; then out/board.txt. Returns the board file."""
    out.mkdir(parents=True, exist_ok=True)

    def step(what: str, cfg: Path, make: Callable[[], Path]) -> None:
        if cfg.is_file():  # each network is moved into place whole: its configuration means built
            say(f"{what}: built ({cfg})")
            return
        say(f"{what}: building ...")
        say(f"{what}: {make()}")

    say(
        "resco: "
        + ("built" if (out / "resco" / resco.MARKER).is_file() else f"fetching {resco.PACKAGE} {resco.VERSION} ...")
    )
    try:
        resco.ensure_resco(out / "resco", wheel)
    except resco.RescoError as e:
        raise BoardError(f"RESCO: {e}") from e
    for short in RILSA:
        step(f"rilsa {short}", rilsa_cfg(out / "rilsa", short), functools.partial(build_rilsa, short, out / "rilsa"))
    for net in CORPUS:
        step(
            f"corpus {net.name}",
            corpus_cfg(out / "corpus", net.name),
            functools.partial(build_corpus, net.name, out / "corpus"),
        )
    for fz in FUZZ:
        step(f"fz {fz.name}", fuzz_cfg(out / "fz", fz.name), functools.partial(build_fuzz, fz, out / "fz"))
    if not bologna.is_dir():
        raise BoardError(f"Bologna: no folder {bologna} (the shared networks, beside the repo; --bologna DIR)")
    board = write_board(out, bologna, city)
    say(f"board: {board} ({len(board_lines(out, bologna, city))} networks)")
    return board


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Build the board's inputs (RESCO, RiLSA, the corpus, the fuzz inputs) and its board file."
    )
    p.add_argument("--out", type=Path, required=True, help="destination folder (what is built there is kept)")
    p.add_argument("--bologna", type=Path, default=BOLOGNA, help=f"the Bologna networks (default: {BOLOGNA})")
    p.add_argument("--resco-wheel", type=Path, help=f"a local {resco.WHEEL} instead of downloading it")
    args = p.parse_args(argv)
    try:
        build_all(args.out, args.bologna, CITY, args.resco_wheel, say=lambda s: print(s, flush=True))
    except BoardError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
