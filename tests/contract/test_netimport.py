"""import-net on real SUMO networks: the bundled city, a netgenerate grid and a spider."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

from controller.config import load_config
from controller.errors import NetworkError
from controller.junctions import load_intersections
from controller.model import GREEN
from sim.netimport import import_net, read_net
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
        stages = ["".join(c if c in GREEN else "r" for c in p.state) for p in phases
                  if "y" not in p.state and any(c in GREEN for c in p.state)]
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
    subprocess.run([str(HOME / "bin" / "netgenerate"), "--grid", "--grid.number", "2", "-o", str(plain)],
                   check=True, capture_output=True)  # no --tls.guess: no signals
    with pytest.raises(NetworkError, match="no traffic lights"):
        import_net(plain, tmp_path / "o", CFG)


def test_cli_import_net(tmp_path):
    out = tmp_path / "city"
    done = subprocess.run([sys.executable, str(ROOT / "run_controller.py"), "import-net", str(CITY_NET),
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "junction files" in done.stdout and len(list(out.glob("*.toml"))) >= 20
    bad = subprocess.run([sys.executable, str(ROOT / "run_controller.py"), "import-net", str(tmp_path / "nope.xml"),
                          "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0 and "nope.xml" in bad.stderr
