"""import-net on real SUMO networks: the bundled city, a netgenerate grid and a spider."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from controller.config import load_config
from controller.errors import NetworkError
from controller.junctions import load_intersections
from controller.model import GREEN
from sim.field import write_detector_file
from sim.netimport import import_net, import_network, read_net
from sim.netprogram import Program, ProgramPhase, stage_plan
from sim.sumo import SumoConfig
from tests.scenarios import HOME, grid_net, pedestrian_net, spider_net

ROOT = Path(__file__).resolve().parents[2]
CITY_NET = ROOT / "sim" / "scenarios" / "city" / "city.net.xml"
CFG = load_config(ROOT / "config.toml")


@pytest.fixture(scope="module", params=["city", "grid", "spider"])
def net(request, tmp_path_factory) -> Path:
    if request.param == "city":
        return CITY_NET
    work = tmp_path_factory.mktemp(request.param)
    return grid_net(work) if request.param == "grid" else spider_net(work)


def test_import_round_trip(net, tmp_path):
    files = import_net(net, tmp_path / "a", CFG)
    junctions = load_intersections(tmp_path / "a")
    sumo_net = read_net(net)
    tls = {t.getID(): t for t in sumo_net.getTrafficLights()}
    assert set(junctions) == set(tls) and len(files) == len(tls)
    for jid, j in junctions.items():
        program = next(iter(tls[jid].getPrograms().values()))
        phases = program.getPhases()
        assert j.n_links == len(phases[0].state)
        stages = [
            "".join(c if c in GREEN else "r" for c in p.state)
            for p in phases
            if "y" not in p.state and any(c in GREEN for c in p.state)
        ]
        assert [p.state for p in j.phases] == stages
        assert j.base_cycle_s() <= sum(p.duration for p in phases) + 1e-6
        # every controlled vehicle link belongs to exactly one movement
        links = [i for m in j.movements for i in m.links]
        assert len(links) == len(set(links))
        # a stop-line and an advance loop on every incoming lane, advance further upstream
        for lane in {ln for m in j.movements for ln in m.lanes}:
            kinds = {d.kind: d for d in j.detectors if d.lane == lane}
            assert set(kinds) == {"stop", "advance"}
            assert kinds["advance"].dist_to_stop_m >= kinds["stop"].dist_to_stop_m
    # import is deterministic: a second import writes byte-identical files
    import_net(net, tmp_path / "b", CFG)
    same = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", [f.name for f in files], shallow=False)
    assert same[0] == [f.name for f in files]


def test_the_models_imported_are_those_the_files_read_back(net, tmp_path):
    """simulate runs ImportResult.junctions() instead of reading the files back: the same models,
    field for field (floats by repr), in load_intersections' (file name) order."""
    result = import_network(net, tmp_path / "a", CFG)
    back = load_intersections(tmp_path / "a")
    mem = result.junctions()
    assert list(mem) == list(back) and len(mem) == len(result.written) > 0
    assert [repr(j) for j in mem.values()] == [repr(j) for j in back.values()]


def test_city_has_protected_lefts_and_neighbours(tmp_path):
    import_net(CITY_NET, tmp_path, CFG)
    junctions = load_intersections(tmp_path)
    assert len(junctions) >= 20
    assert any(len(j.phases) >= 4 for j in junctions.values())
    assert all(j.upstream or j.downstream for j in junctions.values())


def test_pedestrian_minimums_from_crossings(tmp_path):
    net = pedestrian_net(tmp_path)
    import_net(net, tmp_path / "j", CFG)
    junctions = load_intersections(tmp_path / "j")
    ped_phases = [p for j in junctions.values() for p in j.phases if p.ped_min_green_s > 0]
    assert ped_phases, "crossings should give pedestrian minimums"
    for p in ped_phases:
        # walk time plus a crossing of at least a few metres at 1.2 m/s
        assert p.ped_min_green_s > CFG.timing.ped_walk_s + 2.0
        assert p.min_green_s >= p.ped_min_green_s


def test_missing_and_broken_nets(tmp_path):
    with pytest.raises(NetworkError, match="file not found"):
        import_net(tmp_path / "absent.net.xml", tmp_path / "o", CFG)
    broken = tmp_path / "broken.net.xml"
    broken.write_text("<net><edge id='a'")
    with pytest.raises(NetworkError, match=r"broken\.net\.xml: -: not a readable SUMO network"):
        import_net(broken, tmp_path / "o", CFG)


def test_net_without_traffic_lights(tmp_path):
    plain = tmp_path / "plain.net.xml"
    subprocess.run(
        [str(HOME / "bin" / "netgenerate"), "--grid", "--grid.number", "2", "-o", str(plain)],
        check=True,
        capture_output=True,
    )  # no --tls.guess: no signals
    with pytest.raises(NetworkError, match="no traffic lights"):
        import_net(plain, tmp_path / "o", CFG)


def test_cli_import_net(tmp_path):
    out = tmp_path / "city"
    done = subprocess.run(
        [sys.executable, str(ROOT / "run_controller.py"), "import-net", str(CITY_NET), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "junction files" in done.stdout and len(list(out.glob("*.toml"))) >= 20
    bad = subprocess.run(
        [sys.executable, str(ROOT / "run_controller.py"), "import-net", str(tmp_path / "nope.xml"), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0 and "nope.xml" in bad.stderr


# -- real city networks: Bologna (../shared/networks, read-only: copied before use) -------------

BOLOGNA = ROOT.parent / "shared" / "networks" / "bologna"
_RUNTIME = r"""
import json, sys, libsumo
args, tls = sys.argv[1:-1], sys.argv[-1].split(",")
libsumo.start(["sumo", *args, "--end", "2", "--no-step-log", "true"])
libsumo.simulationStep()
out = {}
for t in tls:
    pid = libsumo.trafficlight.getProgram(t)
    logic = next(lg for lg in libsumo.trafficlight.getAllProgramLogics(t) if lg.programID == pid)
    out[t] = {"program": pid, "states": [p.state for p in logic.phases]}
out["_loops"] = sorted(libsumo.inductionloop.getIDList())
libsumo.close()
print(json.dumps(out))
"""


@pytest.fixture(scope="module", params=["acosta", "pasubio", "joined"])
def bologna(request, tmp_path_factory) -> Path:
    src = BOLOGNA / request.param
    if not src.is_dir():
        pytest.skip(f"{src} not available")
    work = tmp_path_factory.mktemp(request.param)
    shutil.copytree(src, work, dirs_exist_ok=True)
    return work / "run.sumocfg"


def _runtime(scfg: SumoConfig, extra: list[Path], tls: list[str]) -> dict:
    """What SUMO itself runs: active program per traffic light, and the loops it built."""
    files = ",".join(str(p) for p in scfg.files("additional-files") + extra)
    done = subprocess.run(
        [sys.executable, "-c", _RUNTIME, "-n", str(scfg.net_file), "-a", files, ",".join(tls)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SUMO_HOME": str(HOME)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("detectors", ["generated", "city"])
def test_bologna_imports_what_sumo_runs(bologna, detectors, tmp_path):
    scfg = SumoConfig(bologna)
    result = import_network(scfg.net_file, tmp_path / "j", CFG, scfg.files("additional-files"), detectors)
    junctions = load_intersections(tmp_path / "j")
    assert not result.skipped and len(junctions) == len(read_net(scfg.net_file).getTrafficLights())
    det_file = write_detector_file(junctions, tmp_path / "det.add.xml", CFG.detectors.loop_length_m)
    seen = _runtime(scfg, [det_file], sorted(junctions))
    for jid, j in junctions.items():
        assert seen[jid]["program"] == "utopia"  # the additional file's program, not the net's
        plan = stage_plan(Program(jid, "utopia", 0.0, tuple(ProgramPhase(1.0, s) for s in seen[jid]["states"]), "sumo"))
        greens = {frozenset(i for i, c in enumerate(s.state) if c in GREEN) for s in plan.stages}
        assert {p.green_links() for p in j.phases} == greens
        assert len(j.phases) == len(greens)  # one phase per green set: sub-phases merged
    loops = {d.id for j in junctions.values() for d in j.detectors}
    assert loops <= set(seen["_loops"])  # every loop exists in SUMO: ours fit, the city's are found
    if detectors == "city":
        assert all(d.city for j in junctions.values() for d in j.detectors)
        assert sum(len(j.detectors) for j in junctions.values()) >= 20
    else:
        for j in junctions.values():
            for lane in {ln for m in j.movements for ln in m.lanes}:
                assert any(d.kind == "stop" and d.lane == lane for d in j.detectors)


def test_cli_import_net_with_additional_files_prints_skipped(tmp_path):
    from tests.netbuild import additional, cluster_net, tl_logic

    net = cluster_net(tmp_path)
    n_links = len(next(iter(read_net(net).getTrafficLights()[0].getPrograms().values())).getPhases()[0].state)
    add = additional(tmp_path, "one.add.xml", tl_logic("J", "one", [(90, "G" * n_links)]))
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run_controller.py"),
            "import-net",
            str(net),
            "--out",
            str(tmp_path / "o"),
            "--additional",
            str(add),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 0 junction files" in done.stdout and "skipped J: program 'one'" in done.stdout
    assert (tmp_path / "o" / "skipped.txt").is_file()
