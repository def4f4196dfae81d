"""Small SUMO scenarios built on the fly for tests (netgenerate + randomTrips, seeded)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import sumo

from sim.commands import simulate_command

HOME = Path(sumo.SUMO_HOME)
ENV = {**os.environ, "SUMO_HOME": str(HOME)}


def run_tool(cmd: list[str], cwd: Path) -> None:
    done = subprocess.run(cmd, env=ENV, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def netgenerate(cwd: Path, name: str, *args: str) -> Path:
    out = cwd / f"{name}.net.xml"
    run_tool([str(HOME / "bin" / "netgenerate"), *args, "--tls.guess", "--seed", "1", "-o", str(out)], cwd)
    return out


def grid_net(cwd: Path, name: str = "grid", n: int = 3) -> Path:
    return netgenerate(
        cwd,
        name,
        "--grid",
        "--grid.number",
        str(n),
        "--grid.length",
        "200",
        "--grid.attach-length",
        "150",
        "--default.lanenumber",
        "2",
        "--turn-lanes",
        "1",
        "--turn-lanes.length",
        "40",
        "--no-turnarounds",
        "true",
    )


def spider_net(cwd: Path, name: str = "spider") -> Path:
    return netgenerate(
        cwd,
        name,
        "--spider",
        "--spider.arm-number",
        "5",
        "--spider.circle-number",
        "3",
        "--spider.space-radius",
        "150",
        "--default.lanenumber",
        "2",
    )


def pedestrian_net(cwd: Path, name: str = "ped") -> Path:
    """A grid with sidewalks and signalised pedestrian crossings."""
    return netgenerate(
        cwd,
        name,
        "--grid",
        "--grid.number",
        "3",
        "--grid.attach-length",
        "100",
        "--default.lanenumber",
        "2",
        "--sidewalks.guess",
        "--crossings.guess",
    )


def scenario(cwd: Path, net: Path, end_s: int = 600, period_s: float = 1.0, seed: int = 1, begin_s: int = 0) -> Path:
    """Random trips on the net from begin_s to a minute before end_s, and a .sumocfg running from
    begin_s to end_s."""
    routes = cwd / f"{net.stem}.rou.xml"
    run_tool(
        [
            sys.executable,
            str(HOME / "tools" / "randomTrips.py"),
            "-n",
            str(net),
            "-o",
            str(routes),
            "-b",
            str(begin_s),
            "-e",
            str(end_s - 60),
            "-p",
            str(period_s),
            "--seed",
            str(seed),
            "--fringe-factor",
            "10",
            "--validate",
        ],
        cwd,
    )
    cfg = cwd / f"{net.stem.removesuffix('.net')}.sumocfg"
    cfg.write_text(
        "<configuration>\n"
        f'  <input><net-file value="{net.name}"/><route-files value="{routes.name}"/></input>\n'
        f'  <time><begin value="{begin_s}"/><end value="{end_s}"/></time>\n'
        f'  <random_number><seed value="{seed}"/></random_number>\n'
        "</configuration>\n"
    )
    return cfg


# --- whole-scenario runs (tests/integration/test_corpus.py and others) ---------------------------

ROOT = Path(__file__).resolve().parent.parent


def simulate(cfg: Path, out: Path, policy: str, *sumo_args: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    """`run_controller.py simulate CFG --out OUT --policy POLICY [-- SUMO_ARGS]`, output captured."""
    cmd = simulate_command(cfg, out, policy, sumo_args=sumo_args)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout_s)


def sumocfg_begin_s(cfg: Path) -> float:
    """The scenario's begin time (s): `<time><begin value=.../>` of the .sumocfg, 0 when absent."""
    import xml.etree.ElementTree as ET

    begin = ET.parse(cfg).getroot().find("./time/begin")
    return float(begin.get("value")) if begin is not None else 0.0


def copy_writable(src: Path, dst: Path) -> Path:
    """A writable copy of a (read-only) scenario folder; returns dst."""
    import shutil

    shutil.copytree(src, dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(p.stat().st_mode | 0o200)
    return dst


def cache_dir(name: str) -> Path:
    """A folder kept between test runs, where pytest's cache plugin keeps its own
    (`request.config.cache.mkdir(name)`: .pytest_cache/d/NAME at the repository's root), made
    without the plugin, so that `pytest -p no:cacheprovider` finds the same files."""
    d = ROOT / ".pytest_cache" / "d" / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def resco_root() -> Path:
    """The RESCO networks (sim/scenarios/resco.py) in cache_dir("tsc_resco"): the folder
    `python -m sim.scenarios.resco` fills by default, which `make test-slow` runs first;
    fetched here when missing. A failed fetch fails the test: they belong in CI."""

    from sim.scenarios.resco import DEFAULT_DIR, RescoError, ensure_resco

    try:
        return ensure_resco(cache_dir("tsc_resco") / DEFAULT_DIR.name)
    except RescoError as e:
        pytest.fail(f"{e}; the RESCO networks belong in CI (docs/corpus.md)")


def error_line(stderr: str) -> str:
    """The one line that says why a run failed: SUMO's first `Error:`, else the CLI's `error:`,
    else the last line of stderr."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for prefix in ("Error:", "error:"):
        hit = next((ln for ln in lines if ln.startswith(prefix)), None)
        if hit:
            return hit[:400]
    return lines[-1][:400] if lines else "(no stderr)"


def trips(path: Path) -> list[dict[str, str]]:
    """Every tripinfo element with all its attributes and children (header comments ignored)."""
    root = ET.parse(path).getroot()
    return [{**t.attrib, "children": [(c.tag, sorted(c.attrib.items())) for c in t]} for t in root]


def run_figures(summary: dict) -> dict:
    # wall-clock measurements differ run to run and by transport, and the in-process run also
    # reports the controller's own state (refused junctions, per-junction control); the traffic
    # figures must not differ
    extras = ("wall_s", "transport", "decision_cost", "refused", "junction_control")
    return {k: v for k, v in summary.items() if k not in extras}
