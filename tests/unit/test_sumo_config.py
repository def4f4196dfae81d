"""SumoConfig reads a SUMO configuration in the forms SUMO itself loads."""

from __future__ import annotations

import pytest

from controller.errors import DefinitionError
from sim.sumo import SumoConfig, canonical_args, merge_args, option_names, take_option


def _files(tmp_path, *names: str) -> None:
    for name in names:
        (tmp_path / name).write_text("<x/>")


# The sectioned form, and the flat one SUMO's own examples write
# (tools/sumolib/scenario/.../RiLSA_example1/run.sumo.cfg): options straight under the root, by
# their synonyms <net>, <routes>, <additional>, <e>.
FORMS = {
    "sectioned": (
        '<configuration><input><net-file value="a.net.xml"/><route-files value="r.rou.xml"/>'
        '<additional-files value="v.add.xml"/></input><time><begin value="0:10:00"/></time></configuration>',
        ["v.add.xml"],
        ("begin", 600.0),
    ),
    "flat with synonyms": (
        '<c><net value="a.net.xml"/><routes value="r.rou.xml"/><additional value="v.add.xml,t.add.xml"/>'
        '<e value="3600"/></c>',
        ["v.add.xml", "t.add.xml"],
        ("end", 3600.0),
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_configuration_forms(tmp_path, form):
    text, additional, (option, seconds) = FORMS[form]
    _files(tmp_path, "a.net.xml", "r.rou.xml", "v.add.xml", "t.add.xml")
    cfg = tmp_path / "run.sumo.cfg"
    cfg.write_text(text)
    scfg = SumoConfig(cfg)
    assert scfg.net_file == tmp_path / "a.net.xml"
    assert scfg.files("route-files") == [tmp_path / "r.rou.xml"]
    assert scfg.files("additional-files") == [tmp_path / name for name in additional]
    assert scfg.seconds(option) == seconds


@pytest.mark.parametrize(
    ("configured", "user", "begin_s"),
    [
        ("150", [], 150.0),
        ("0:02:30", [], 150.0),
        ("1:00:02:30", [], 86550.0),
        (None, ["--begin", "16:00:00"], 57600.0),
        ("150", ["--begin", "0:01:00"], 60.0),
        (None, [], 0.0),
    ],
)
def test_the_runs_begin_reads_sumos_time_forms(tmp_path, configured, user, begin_s):
    """The begin a WAUT's program in force is read at (sim/simulate.py begin_s_of): SUMO takes
    `--begin` as seconds, h:m:s or d:h:m:s; the user's h:m:s was read as 0, a configuration's
    d:h:m:s as h:m:s (both checked with sumo 1.28's statistic-output begin)."""
    from sim.simulate import begin_s_of

    _files(tmp_path, "a.net.xml")
    begin = "" if configured is None else f'<begin value="{configured}"/>'
    (tmp_path / "run.sumocfg").write_text(f'<c><net value="a.net.xml"/>{begin}</c>')
    assert begin_s_of(SumoConfig(tmp_path / "run.sumocfg"), user) == begin_s


def test_missing_network_is_named(tmp_path):
    cfg = tmp_path / "run.sumocfg"
    cfg.write_text('<configuration><input><route-files value="r.rou.xml"/></input></configuration>')
    with pytest.raises(DefinitionError, match="net-file"):
        SumoConfig(cfg)


def test_the_files_a_configuration_writes_are_named(tmp_path):
    """Outputs and logs with a file (not the null device, not an output's sub-option), at their
    path relative to the configuration (the name alone when absolute or outside its folder)."""
    _files(tmp_path, "a.net.xml")
    cfg = tmp_path / "run.sumo.cfg"
    cfg.write_text(
        '<c><net value="a.net.xml"/><log value="sumo_log.txt"/><tripinfo-output value="out/trips.xml"/>'
        '<tripinfo-output.write-undeparted value="true"/><netstate-dump value="/abs/dump.xml"/>'
        '<summary-output value="NUL"/><fcd-output value="../up/trips.xml"/><duration-log.statistics value="true"/></c>'
    )
    assert SumoConfig(cfg).outputs() == {
        "log": "sumo_log.txt",
        "tripinfo-output": "out/trips.xml",
        "netstate-dump": "dump.xml",
        "fcd-output": "trips.xml",
    }


def test_simulate_sends_the_configurations_outputs_into_its_folder(tmp_path):
    """A scenario folder may be read-only (../shared/networks): `simulate` writes the log and the
    outputs the configuration names into its own --out folder; its tripinfo stays its own, and
    the user's option after `--` wins."""
    from pathlib import Path

    from controller.config import load_config
    from sim.simulate import SimulateRequest, prepare
    from tests.scenarios import grid_net

    cfg = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    net = grid_net(tmp_path, "g", n=2)
    sumocfg = tmp_path / "run.sumo.cfg"
    sumocfg.write_text(f'<c><net value="{net.name}"/><log value="sumo_log.txt"/><tripinfo-output value="t.xml"/></c>')
    out = tmp_path / "out"
    _, _, args = prepare(SimulateRequest(sumocfg, out), cfg)
    assert args[args.index("--log") + 1] == str(out / "sumo_log.txt")
    assert args.count("--tripinfo-output") == 1 and args[args.index("--tripinfo-output") + 1] == str(
        out / "tripinfo.xml"
    )
    _, _, args = prepare(SimulateRequest(sumocfg, tmp_path / "o2", sumo_args=("--log", "mine.txt")), cfg)
    assert args.count("--log") == 1 and args[args.index("--log") + 1] == "mine.txt"


def test_sumo_names_its_options_and_their_synonyms():
    names = option_names()
    assert names["e"] == names["end"] == "end"
    assert names["a"] == names["additional"] == "additional-files"
    assert names["tripinfo"] == "tripinfo-output"


def test_the_users_options_under_their_own_names_make_ours_give_way():
    names = {"e": "end", "end": "end", "tripinfo": "tripinfo-output", "time-to-teleport": "time-to-teleport"}
    user = canonical_args(["-e", "600", "--tripinfo=t.xml", "--time-to-teleport", "-1", "--unknown", "x"], names)
    assert user == ["--end", "600", "--tripinfo-output", "t.xml", "--time-to-teleport", "-1", "--unknown", "x"]
    merged = merge_args(["--tripinfo-output", "ours.xml", "--no-step-log", "true", "--time-to-teleport", "300"], user)
    assert merged == ["--no-step-log", "true", *user]
    assert canonical_args([]) == []


def test_simulate_refuses_to_move_the_files_it_evaluates(tmp_path):
    """The user's `--tripinfo` (SUMO's synonym of --tripinfo-output) would leave simulate's
    evaluation without its file at the end of the run: refused before SUMO starts, by name."""
    from pathlib import Path

    from controller.config import load_config
    from sim.simulate import SimulateRequest, prepare
    from tests.scenarios import grid_net

    cfg = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    net = grid_net(tmp_path, "g", n=2)
    sumocfg = tmp_path / "run.sumo.cfg"
    sumocfg.write_text(f'<c><net value="{net.name}"/></c>')
    for args, option in [(("--tripinfo", "t.xml"), "--tripinfo-output"), (("-c", "x.sumocfg"), "--configuration-file")]:
        with pytest.raises(DefinitionError, match=f"{option}: not accepted"):
            prepare(SimulateRequest(sumocfg, tmp_path / "out", sumo_args=args), cfg)


def test_sumos_table_is_asked_once_per_binary(tmp_path, monkeypatch):
    """SUMO's start costs about 1 % of a 900 s city run: the table is kept under the binary's
    identity, and asked again when the binary changes."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = tmp_path / "calls"
    binary = tmp_path / "sumo"
    template = '<configuration><time><end type="TIME" synonymes="e"/></time></configuration>'
    binary.write_text(f"#!/bin/sh\necho x >> {calls}\necho '{template}'\n")
    binary.chmod(0o755)
    assert option_names(str(binary)) == option_names(str(binary)) == {"end": "end", "e": "end"}
    assert calls.read_text().count("x") == 1
    binary.write_text(binary.read_text().replace('synonymes="e"', 'synonymes="e ende"'))
    assert option_names(str(binary))["ende"] == "end"
    assert calls.read_text().count("x") == 2
    assert list((tmp_path / "cache" / "tsc").glob("*.part")) == []


def test_a_recorded_run_names_the_additional_files_sumo_ran(tmp_path):
    """The archive's meta (what a replay loads) lists the configuration's additional files, then
    the user's `-a` files when given after `--` (R, session 22; added to the configuration's since
    session 57)."""
    import json
    from pathlib import Path

    from prometheus_client import CollectorRegistry

    from controller.config import load_config
    from sim.simulate import SimulateRequest, start_recorder
    from tests.scenarios import grid_net

    cfg = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    net = grid_net(tmp_path, "g", n=2)
    _files(tmp_path, "city.add.xml", "mine.add.xml")
    sumocfg = tmp_path / "run.sumo.cfg"
    sumocfg.write_text(f'<c><net value="{net.name}"/><additional value="city.add.xml"/></c>')
    for args, listed in [
        ((), ["city.add.xml"]),
        (("-a", str(tmp_path / "mine.add.xml")), ["city.add.xml", "mine.add.xml"]),
    ]:
        root = tmp_path / f"arch{len(args)}"
        req = SimulateRequest(sumocfg, tmp_path / "out", sumo_args=args)
        start_recorder(root, req, cfg, SumoConfig(sumocfg), CollectorRegistry(), 0.0, 60.0).close()
        (meta,) = root.glob("*/meta/meta.json")
        assert json.loads(meta.read_text())["additional_files"] == [str(tmp_path / f) for f in listed]


ADDED = [
    # (the user's list after `--`, the files SUMO loads before simulate's own, in order)
    (None, ["city.add.xml"]),  # no list: the scenario's alone, and nothing to log
    ("mine.add.xml", ["city.add.xml", "mine.add.xml"]),  # added: the scenario's loops and programs stay
    ("city.add.xml,mine.add.xml", ["city.add.xml", "mine.add.xml"]),  # plain SUMO's habit: the same run
    ("mine.add.xml,city.add.xml", ["mine.add.xml", "city.add.xml"]),  # the user's order kept (the last program runs)
]


@pytest.mark.parametrize(("listed", "loaded"), ADDED)
def test_simulate_adds_the_users_additional_files_to_the_scenarios(tmp_path, monkeypatch, caplog, listed, loaded):
    """`simulate CFG -- -a mine.add.xml` loads the configuration's additional files, then the
    user's: SUMO alone would load only the user's, silently dropping the scenario's detectors and
    programs. A file in both lists loads once, where the user's list puts it. The log names the
    configuration's files the user's list leaves out (session 57)."""
    import logging
    from pathlib import Path

    from controller.config import load_config
    from sim.simulate import SimulateRequest, prepare
    from tests.scenarios import grid_net

    cfg = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    net = grid_net(tmp_path, "g", n=2)
    for name in ("city.add.xml", "mine.add.xml"):
        (tmp_path / name).write_text("<additional/>")
    sumocfg = tmp_path / "run.sumo.cfg"
    sumocfg.write_text(f'<c><net value="{net.name}"/><additional value="city.add.xml"/></c>')
    monkeypatch.chdir(tmp_path)  # the user's relative names are the working folder's, as SUMO reads them
    with caplog.at_level(logging.INFO, logger="sim.simulate"):
        user = ("-a", listed) if listed is not None else ()
        _, _, args = prepare(SimulateRequest(sumocfg, tmp_path / "out", sumo_args=user), cfg)
    assert args.count("--additional-files") == 1
    files = args[args.index("--additional-files") + 1].split(",")
    assert files[: len(loaded)] == [str(tmp_path / f) for f in loaded]
    assert [Path(f).name for f in files[len(loaded) :]] == ["detectors.add.xml"]
    kept = [r.getMessage() for r in caplog.records if "load before the ones after --" in r.getMessage()]
    assert len(kept) == (listed is not None and "city" not in listed)
    assert all(str(tmp_path / "city.add.xml") in m and str(sumocfg) in m for m in kept)


def test_a_configuration_read_under_sumos_own_synonyms(tmp_path):
    """Every synonym SUMO loads in a configuration is read under the option's own name, not only
    those a hand table knew: <summary> is the summary output (written into `simulate`'s folder,
    not beside a scenario that may be read-only), <statistics-output> is the statistic output
    `simulate` writes itself (given once, not twice: SUMO would refuse to start)."""
    from pathlib import Path

    from controller.config import load_config
    from sim.simulate import SimulateRequest, prepare
    from tests.scenarios import grid_net

    net = grid_net(tmp_path, "g", n=2)
    sumocfg = tmp_path / "run.sumo.cfg"
    sumocfg.write_text(
        f'<c><n value="{net.name}"/><summary value="s.xml"/><statistics-output value="st.xml"/>'
        '<netstate value="d.xml"/><l value="sumo_log.txt"/></c>'
    )
    assert SumoConfig(sumocfg).outputs() == {
        "summary-output": "s.xml",
        "statistic-output": "st.xml",
        "netstate-dump": "d.xml",
        "log": "sumo_log.txt",
    }
    cfg = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    out = tmp_path / "out"
    _, _, args = prepare(SimulateRequest(sumocfg, out), cfg)
    assert args[args.index("--summary-output") + 1] == str(out / "s.xml")
    assert args.count("--statistic-output") == 1 and args[args.index("--statistic-output") + 1] == str(
        out / "statistics.xml"
    )
    assert "--statistics-output" not in args


def test_a_configuration_read_with_a_given_table(tmp_path):
    """`names` replaces the asked table (a caller that has it already asks SUMO nothing)."""
    _files(tmp_path, "a.net.xml")
    cfg = tmp_path / "run.sumo.cfg"
    cfg.write_text('<c><network value="a.net.xml"/></c>')
    with pytest.raises(DefinitionError, match="net-file"):
        SumoConfig(cfg, names={})
    assert SumoConfig(cfg, names={"network": "net-file"}).net_file == tmp_path / "a.net.xml"


def test_simulate_imports_into_a_folder_holding_only_this_runs_models(tmp_path):
    """A junction file left in --out/intersections by an earlier import (another network) is
    removed: the run uses the models it just imported, and the folder, which `--record` copies as
    the models the run used, holds exactly those."""
    from pathlib import Path

    from controller.config import load_config
    from controller.junctions import load_intersections
    from sim.simulate import SimulateRequest, prepare
    from tests.scenarios import grid_net

    cfg = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    net = grid_net(tmp_path, "g", n=2)
    sumocfg = tmp_path / "run.sumo.cfg"
    sumocfg.write_text(f'<c><net value="{net.name}"/></c>')
    out = tmp_path / "out"
    (out / "intersections").mkdir(parents=True)
    (out / "intersections" / "elsewhere.toml").write_text('id = "elsewhere"\n', encoding="utf-8")
    _, junctions, _ = prepare(SimulateRequest(sumocfg, out), cfg)
    assert junctions and not (out / "intersections" / "elsewhere.toml").exists()
    assert set(load_intersections(out / "intersections")) == set(junctions)


def test_simulate_runs_a_step_length_dividing_a_second_and_refuses_others(tmp_path):
    """A scenario's sub-second step length runs (SUMO stepped to each whole second, the loops
    aggregated over its steps): before, 0.5 was refused, and the whole network gave no result.
    A step that does not end on the second (0.3, 2) is refused before SUMO starts, naming the file
    or the arguments and the option."""
    from pathlib import Path

    from controller.config import load_config
    from sim.simulate import SimulateRequest, prepare, steps_per_second
    from tests.scenarios import grid_net

    assert [steps_per_second(s) for s in (1.0, 0.5, 0.25, 0.2, 0.1, 0.05)] == [1, 2, 4, 5, 10, 20]
    assert [steps_per_second(s) for s in (0.3, 0.4, 0.7, 2.0, 0.0, -1.0, float("nan"))] == [None] * 7
    cfg = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    net = grid_net(tmp_path, "g", n=2)
    half = tmp_path / "half.sumocfg"
    half.write_text(f'<c><net value="{net.name}"/><step-length value="0.5"/></c>')
    _, _, args = prepare(SimulateRequest(half, tmp_path / "o1"), cfg)
    assert "--step-length" not in args  # the configuration's 0.5 runs, not overridden by a 1
    odd = tmp_path / "odd.sumocfg"
    odd.write_text(f'<c><net value="{net.name}"/><step-length value="0.3"/></c>')
    with pytest.raises(
        DefinitionError, match=r"odd\.sumocfg: time\.step-length: '0\.3' s not supported.*divisor of 1 s"
    ):
        prepare(SimulateRequest(odd, tmp_path / "o2"), cfg)
    with pytest.raises(DefinitionError, match=r"after --: --step-length: '2' s not supported"):
        prepare(SimulateRequest(half, tmp_path / "o3", sumo_args=("--step-length=2",)), cfg)
    _, _, args = prepare(
        SimulateRequest(odd, tmp_path / "o4", sumo_args=("--step-length", "0.25")), cfg
    )  # the user's wins
    assert args[args.index("--step-length") + 1] == "0.25"


def test_simulate_and_estimate_check_step_a_second_with_one_helper():
    """One second at a step length under 1 s: SUMO's steps to the whole second, the loops read
    after each but the last (step_second, which simulate's step_to_end and sim.estimate_check both
    call: the loop was written twice); a step SUMO runs that does not divide 1 s is refused."""
    from types import SimpleNamespace

    from sim.simulate import step_second, substeps_per_second

    calls: list[str] = []
    clock = {"t": 0.0, "dt": 0.25}

    def step() -> None:
        calls.append("step")
        clock["t"] += clock["dt"]

    sim = SimpleNamespace(getTime=lambda: clock["t"], getDeltaT=lambda: clock["dt"], getArrivedNumber=lambda: 2)
    api = SimpleNamespace(simulationStep=step, simulation=sim)
    field = SimpleNamespace(sample_substep=lambda: calls.append("sample"))
    assert step_second(api, field, substeps_per_second(api, "c.sumocfg")) == (1.0, 8)  # 2 arrived per step
    assert calls == ["step", "sample", "step", "sample", "step", "sample", "step"]
    clock["dt"] = 0.3
    with pytest.raises(DefinitionError, match=r"c\.sumocfg: step-length: 0\.3 s SUMO runs is not a divisor of 1 s"):
        substeps_per_second(api, "c.sumocfg")
    import sim.estimate_check as check

    assert check.step_second is step_second and check.substeps_per_second is substeps_per_second


def test_simulate_refuses_the_mesoscopic_model(tmp_path):
    """`--mesosim` has no lanes for the feed's induction loops: the run died at the first read
    with libsumo's traceback ("Induction loop ... is not known"). Refused before SUMO starts,
    from the configuration or the arguments; `--mesosim false` runs."""
    from pathlib import Path

    from controller.config import load_config
    from sim.simulate import SimulateRequest, prepare
    from tests.scenarios import grid_net

    cfg = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    net = grid_net(tmp_path, "g", n=2)
    meso = tmp_path / "meso.sumocfg"
    meso.write_text(
        f'<configuration><input><net-file value="{net.name}"/></input><mesosim value="true"/></configuration>'
    )
    with pytest.raises(
        DefinitionError, match=r"meso\.sumocfg: mesoscopic\.mesosim: the mesoscopic model is not supported"
    ):
        prepare(SimulateRequest(meso, tmp_path / "o1"), cfg)
    micro = tmp_path / "micro.sumocfg"
    micro.write_text(f'<c><net value="{net.name}"/></c>')
    for args in (("--mesosim",), ("--mesosim", "true", "--end", "60"), ("--mesosim=true",)):
        with pytest.raises(DefinitionError, match="after --: --mesosim: the mesoscopic model"):
            prepare(SimulateRequest(micro, tmp_path / "o2", sumo_args=args), cfg)
    prepare(SimulateRequest(meso, tmp_path / "o3", sumo_args=("--mesosim", "false")), cfg)
    prepare(SimulateRequest(micro, tmp_path / "o4"), cfg)
    for word in ("f", "-", "Off"):  # SUMO reads these as false too (probed: lanes and vehicles as micro)
        off = tmp_path / "off.sumocfg"
        off.write_text(f'<c><net value="{net.name}"/><mesosim value="{word}"/></c>')
        prepare(SimulateRequest(off, tmp_path / "o5"), cfg)
    for word in ("maybe", " true", "false "):  # SUMO refuses these (probed with sumo 1.28: "not a valid bool")
        odd = tmp_path / "odd.sumocfg"
        odd.write_text(f'<c><net value="{net.name}"/><mesosim value="{word}"/></c>')
        with pytest.raises(
            DefinitionError, match=rf"odd\.sumocfg: mesoscopic\.mesosim: '{word}' is not a boolean SUMO"
        ):
            prepare(SimulateRequest(odd, tmp_path / "o6"), cfg)


def test_a_boolean_after_the_arguments_is_read_as_sumo_reads_it(tmp_path):
    """SUMO 1.28 (probed with libsumo: a vehicle's lane is '' under meso): `--mesosim=-` is false
    (any word after `=`), `--mesosim -` true (a separate word starting with `-` is not a value),
    `--mesosim x` true, `--mesosim=maybe` refused. Before, canonical_args split `--mesosim=-` into
    `--mesosim -`: simulate refused the micro run, and would have handed SUMO the meso one."""
    from pathlib import Path

    from controller.config import load_config
    from sim.simulate import SimulateRequest, prepare
    from tests.scenarios import grid_net

    cfg = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    net = grid_net(tmp_path, "g", n=2)
    micro = tmp_path / "micro.sumocfg"
    micro.write_text(f'<c><net value="{net.name}"/></c>')
    for args in (("--mesosim=-",), ("--mesosim=-", "--end", "60")):
        _, _, sumo = prepare(SimulateRequest(micro, tmp_path / "o1", sumo_args=args), cfg)
        assert args[0] in sumo  # joined: SUMO reads it false
    prepare(SimulateRequest(micro, tmp_path / "o1", sumo_args=("--mesosim=F",)), cfg)
    for args in (("--mesosim", "-"), ("--mesosim", "x"), ("--mesosim", "-", "--end", "60")):
        with pytest.raises(DefinitionError, match="after --: --mesosim: the mesoscopic model"):
            prepare(SimulateRequest(micro, tmp_path / "o2", sumo_args=args), cfg)
    with pytest.raises(DefinitionError, match=r"after --: --mesosim: 'maybe' is not a boolean SUMO reads"):
        prepare(SimulateRequest(micro, tmp_path / "o3", sumo_args=("--mesosim=maybe",)), cfg)
    with pytest.raises(DefinitionError, match=r"after --: --mesosim: ' true' is not a boolean SUMO reads"):
        prepare(SimulateRequest(micro, tmp_path / "o3", sumo_args=("--mesosim= true",)), cfg)  # SUMO refuses it too
    names = {"end": "end", "tripinfo": "tripinfo-output"}
    assert canonical_args(["--end=-1", "--tripinfo=-t.xml", "--end", "-1"], names) == [
        "--end=-1",
        "--tripinfo-output=-t.xml",
        "--end",
        "-1",
    ]
    assert take_option(["--a", "--end=-1", "--b"], "--end") == ("-1", ["--a", "--b"])
    with pytest.raises(DefinitionError, match="after --: --tripinfo-output: not accepted"):
        prepare(SimulateRequest(micro, tmp_path / "o4", sumo_args=("--tripinfo=-t.xml",)), cfg)


def test_simulate_names_a_light_whose_program_a_waut_switches(tmp_path, caplog):
    """A WAUT switches a light's program mid-run (SUMO runs it under `fixed`, as plain sumo);
    the model is the program loaded last. That was silent; now each such light is named at
    start with the WAUT, its file and its switches. Under `actuated`, SUMO's controller gives way
    to the city's program at the WAUT's first switch: named too (it was silent)."""
    import logging
    from pathlib import Path

    from controller.config import load_config
    from sim.netimport import read_net
    from sim.simulate import SimulateRequest, prepare
    from tests.scenarios import grid_net

    cfg = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    net = grid_net(tmp_path, "g", n=2)
    tid = read_net(net).getTrafficLights()[0].getID()
    (tmp_path / "w.add.xml").write_text(
        f'<additional><WAUT id="night" startProg="0" refTime="0"><wautSwitch time="300" to="off"/></WAUT>'
        f'<wautJunction wautID="night" junctionID="{tid}"/></additional>'
    )
    sumocfg = tmp_path / "w.sumocfg"
    sumocfg.write_text(f'<c><net value="{net.name}"/><additional value="w.add.xml"/></c>')
    with caplog.at_level(logging.WARNING, logger="sim.simulate"):
        prepare(SimulateRequest(sumocfg, tmp_path / "o"), cfg)
    named = [r.getMessage() for r in caplog.records if f"junction={tid}:" in r.getMessage()]
    assert len(named) == 1 and "WAUT night" in named[0] and "to 'off' at 300 s" in named[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sim.simulate"):
        prepare(SimulateRequest(sumocfg, tmp_path / "o2", policy="actuated"), cfg)
    named = [r.getMessage() for r in caplog.records if f"junction={tid}:" in r.getMessage()]
    # SUMO's actuated controller runs only until the WAUT's first switch (its program 'off' then)
    assert len(named) == 2 and "--policy actuated runs SUMO's actuated controller only until" in named[1]


def test_simulate_names_the_configurations_outputs_it_writes_itself(tmp_path, caplog):
    """A configuration's own tripinfo-output and statistic-output give way to simulate's (which it
    evaluates): the city's file was silently not written. Each is named, with the file written
    instead."""
    import logging
    from pathlib import Path

    from controller.config import load_config
    from sim.simulate import SimulateRequest, prepare
    from tests.scenarios import grid_net

    cfg = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    net = grid_net(tmp_path, "g", n=2)
    sumocfg = tmp_path / "run.sumo.cfg"
    sumocfg.write_text(
        f'<c><net value="{net.name}"/><tripinfo-output value="own_trips.xml"/><statistic-output value="s.xml"/>'
        '<queue-output value="q.xml"/></c>'
    )
    with caplog.at_level(logging.WARNING, logger="sim.simulate"):
        prepare(SimulateRequest(sumocfg, tmp_path / "o"), cfg)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "tripinfo-output own_trips.xml is not written: simulate writes --out/tripinfo.xml" in said
    assert "statistic-output s.xml is not written: simulate writes --out/statistics.xml" in said
    assert "q.xml" not in said  # written, into --out
