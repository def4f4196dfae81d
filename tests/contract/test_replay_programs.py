"""A replay follows the city's programs in force as the recording names them (sim/replay_programs.py; H, session 67):
the feed archive's status `program` column (since session 66) becomes a SUMO `<WAUT>` of the scenario, which libsumo
runs as the live city did; an archive written before the column (every row "") and a light the scenario's own WAUT
switches get none; a program SUMO has not loaded is not asked of it."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("sumo")

from controller.adapters.archive import SCHEMAS, _status_row
from controller.model import SignalStatus
from sim.netimport import read_net
from sim.netprogram import waut_schedules
from sim.replay_programs import PROGRAMS_FILE, program_timelines, write_recorded_programs
from sim.sumo import load_api
from tests.contract.test_waut import _evening, _programs_run
from tests.netbuild import additional, cross_net


def _archive(site: Path, tid: str, named: list[tuple[float, str]], schema: pa.Schema = SCHEMAS["status"]) -> None:
    rows = [
        _status_row(SignalStatus(tid, t, 0, False, 1.0, "local", 0, "local", (), p), t + 0.1, 1, k)
        for k, (t, p) in enumerate(named)
    ]
    path = site / "status" / "day=1970-01-01" / "part-1-00000.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = {f.name: pa.array([r[f.name] for r in rows]).cast(f.type) for f in schema}
    pq.write_table(pa.table(cols, schema=schema), path)


@pytest.fixture(scope="module")
def cross(tmp_path_factory) -> tuple[Path, Path, str]:
    """The cross network, an additional file loading a second program 'evening' for its light (no WAUT), its id."""
    cwd = tmp_path_factory.mktemp("replay_programs")
    net = cross_net(cwd)
    tl = read_net(net).getTrafficLights()[0]
    phases = [(float(p.duration), p.state) for p in tl.getPrograms()["0"].getPhases()]
    return net, additional(cwd, "evening.add.xml", _evening(tl.getID(), phases)), tl.getID()


def test_the_timeline_is_the_program_at_the_begin_and_each_change_after() -> None:
    rows = [("J", 1.0, "own"), ("J", 50.0, ""), ("J", 90.0, "own"), ("J", 120.0, "evening"), ("K", 5.0, "")]
    assert program_timelines(rows, 100.0, 3600.0) == {"J": ("own", ((120.0, "evening"),))}
    assert program_timelines(rows, 0.0, 3600.0) == {"J": ("own", ((120.0, "evening"),))}  # the first names it
    assert program_timelines(rows, 0.0, 120.0) == {"J": ("own", ())}  # to_s excluded
    assert program_timelines([("J", 1.0, "a"), ("J", 2.0, "b"), ("J", 3.0, "a")], 0.0, 9.0) == {
        "J": ("a", ((2.0, "b"), (3.0, "a")))
    }


def test_a_recorded_change_of_program_runs_in_the_replay_as_it_did(cross, tmp_path) -> None:
    net, evening, tid = cross
    _archive(tmp_path / "site", tid, [(1.0, "0"), (60.0, "0"), (150.0, "evening")])
    path = write_recorded_programs(tmp_path / "site", 0.0, 400.0, 0.0, net, [str(evening)], tmp_path)
    assert path == tmp_path / PROGRAMS_FILE
    waut = waut_schedules([evening, path])[tid]
    assert [waut.program_at(0.0, t) for t in (149.0, 150.0)] == ["0", "evening"]
    api = load_api()
    run = _programs_run(api, net, Path(f"{evening},{path}"), tid, 0.0)  # SUMO's -a takes the two
    assert set(run[:148]) == {"0"} and set(run[150:]) == {"evening"}


def test_an_archive_naming_no_program_or_a_light_the_scenario_switches_gets_none(cross, tmp_path) -> None:
    net, evening, tid = cross
    old = pa.schema([f for f in SCHEMAS["status"] if f.name != "program"])
    _archive(tmp_path / "old", tid, [(1.0, ""), (150.0, "")], old)  # written before the column
    assert write_recorded_programs(tmp_path / "old", 0.0, 400.0, 0.0, net, [str(evening)], tmp_path) is None
    assert not (tmp_path / PROGRAMS_FILE).exists()
    _archive(tmp_path / "site", tid, [(1.0, "0"), (150.0, "evening")])
    waut = '<WAUT id="w" refTime="0" startProg="0"><wautSwitch time="150" to="evening"/></WAUT>'
    own = additional(tmp_path, "w.add.xml", f'{waut}\n  <wautJunction wautID="w" junctionID="{tid}"/>')
    assert write_recorded_programs(tmp_path / "site", 0.0, 400.0, 0.0, net, [str(evening), str(own)], tmp_path) is None
    assert write_recorded_programs(tmp_path / "site", 0.0, 400.0, 0.0, net, [], tmp_path) is None  # not loaded
    # only what SUMO runs anyway: the program loaded last ('evening': SUMO starts the light on it)
    _archive(tmp_path / "same", tid, [(1.0, "evening"), (150.0, "evening")])
    assert write_recorded_programs(tmp_path / "same", 0.0, 400.0, 0.0, net, [str(evening)], tmp_path) is None
