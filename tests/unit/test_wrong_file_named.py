"""A user who gives the wrong kind of file is told so, naming the file and the field, with exit
code 2: a network where a configuration goes and the other way round, an XML file that is not a
network, a file where the --out folder goes (session 59, U: before, "input.net-file: missing",
"the network has no traffic lights to control" and a FileExistsError traceback)."""

from __future__ import annotations

import pytest

import run_controller
from controller.errors import DefinitionError, NetworkError
from sim.netimport import read_net
from sim.sumo import SumoConfig

NET = (
    '<net version="1.16"><location netOffset="0.00,0.00" convBoundary="0.00,0.00,1.00,1.00"'
    ' origBoundary="0.00,0.00,1.00,1.00" projParameter="!"/></net>'
)


def test_an_xml_file_that_is_not_a_network_is_named_so(tmp_path):
    other = tmp_path / "routes.xml"
    other.write_text("<routes/>")
    with pytest.raises(NetworkError, match=r"routes\.xml: -: not a SUMO network: its root element is <routes>"):
        read_net(other)


def test_a_configuration_given_as_a_network_says_which_command_takes_it(tmp_path):
    cfg = tmp_path / "run.sumocfg"
    cfg.write_text('<configuration><input><net-file value="a.net.xml"/></input></configuration>')
    with pytest.raises(
        NetworkError, match=r"a SUMO configuration \(simulate and import-net take one; a network goes here\)"
    ):
        read_net(cfg)


def test_a_network_still_reads(tmp_path):
    net = tmp_path / "a.net.xml"
    net.write_text(NET)
    assert read_net(net).getEdges() == []


def test_a_network_given_as_a_configuration_says_which_command_takes_it(tmp_path):
    net = tmp_path / "a.net.xml"
    net.write_text(NET)
    with pytest.raises(DefinitionError, match=r"a\.net\.xml: -: a SUMO network, not a configuration \(\.sumocfg\)"):
        SumoConfig(net, names={})


@pytest.mark.parametrize("command", [["simulate", "none.sumocfg"], ["import-net", "none.net.xml"]])
def test_a_file_where_the_out_folder_goes_is_named_before_anything_runs(tmp_path, capsys, command):
    taken = tmp_path / "taken"
    taken.write_text("a file the user keeps")
    for out in (taken, taken / "below"):
        assert run_controller.run([*command, "--out", str(out)]) == (2, command[0])
        assert f"error: {taken}: --out: is a file, not a folder" in capsys.readouterr().err
    assert taken.read_text() == "a file the user keeps"


def test_an_out_folder_that_cannot_be_written_in_is_named_before_anything_runs(tmp_path, capsys, monkeypatch):
    """The nearest folder that exists on --out's path is asked for write and search access (os.access:
    root passes it anywhere, so the refusal is stood in for)."""
    asked: list[str] = []

    def access(path, mode) -> bool:
        asked.append(str(path))
        return False

    monkeypatch.setattr(run_controller.os, "access", access)
    out = tmp_path / "runs" / "one"
    assert run_controller.run(["simulate", "none.sumocfg", "--out", str(out)]) == (2, "simulate")
    assert f"error: {tmp_path}: --out: cannot be written in (--out {out})" in capsys.readouterr().err
    assert asked == [str(tmp_path)]


def test_junction_files_of_another_network_are_named_before_sumo_starts(tmp_path):
    """simulate --intersections with a folder imported from another network: SUMO refused it with a
    screen of unknown lanes; now the first file whose id is no traffic light of the network, by name."""
    from controller.junctions import parse_intersection
    from sim.simulate import check_lights
    from tests.junction_fixtures import two_phase_raw

    def junction(jid: str):
        return parse_intersection({**two_phase_raw(), "id": jid}, f"{jid}.toml")

    net = tmp_path / "a.net.xml"
    net.write_text('<net><tlLogic id="J" type="static"><phase duration="30" state="GGrr"/></tlLogic></net>')
    check_lights({"J": junction("J")}, net)  # J is a light of a.net.xml
    with pytest.raises(DefinitionError, match=r"K\.toml: id: 'K' is not a traffic light of .*a\.net\.xml"):
        check_lights({"J": junction("J"), "K": junction("K")}, net)


def test_simulate_checks_the_lights_of_an_intersections_folder(tmp_path):
    """The check runs where simulate reads --intersections (_junction_models), before SUMO starts."""
    from types import SimpleNamespace

    import tomli_w

    from controller.config import Config
    from sim.simulate import _junction_models
    from tests.junction_fixtures import two_phase_raw

    folder = tmp_path / "intersections"
    folder.mkdir()
    (folder / "K.toml").write_text(tomli_w.dumps({**two_phase_raw(), "id": "K"}))
    net = tmp_path / "a.net.xml"
    net.write_text('<net><tlLogic id="J" type="static"><phase duration="30" state="GGrr"/></tlLogic></net>')
    req = SimpleNamespace(intersections=folder, out_dir=tmp_path / "out")
    with pytest.raises(DefinitionError, match=r"K\.toml: id: 'K' is not a traffic light of .*a\.net\.xml"):
        _junction_models(req, Config(), SimpleNamespace(net_file=net), [], 0.0)  # type: ignore[arg-type]
