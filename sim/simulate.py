"""`simulate`: any SUMO scenario in closed loop with the controller, and its evaluation.

Always writes, in the output folder: tripinfo.xml (with unfinished trips), statistics.xml and
summary.json (sim/evaluate.py). SUMO runs without teleporting; arguments after `--` go to SUMO
unchanged and win over these defaults. SUMO runs at the scenario's step length, which must
divide 1 s (`require_step_dividing_a_second`): the controller runs once per second.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CollectorRegistry

from controller.adapters.metrics import ServiceMetrics
from controller.config import Config
from controller.core.policies import REGISTRY
from controller.errors import AdapterError, DefinitionError
from controller.junctions import load_intersections
from controller.model import Command, Intersection
from controller.service import ControllerService, Recorder
from sim.baselines import FIELD_POLICIES, write_baseline_programs
from sim.evaluate import evaluate, write_summary
from sim.field import SumoField, write_detector_file
from sim.importfiles import ImportResult, NoTrafficLights, read_skipped
from sim.junction_control import junction_summary
from sim.netprogram import Waut, additional_programs, waut_schedules
from sim.netprogram_waut import ProgramInForce, programs_in_force
from sim.progress import Progress
from sim.sumo import (
    SumoConfig,
    SumoRefused,
    additional_files,
    begin_s_of,
    canonical_args,
    listed_files,
    load_api,
    merge_args,
    option_at,
    scenario_files_kept,
    start_command,
    start_sumo,
    sumo_time_s,
    take_option,
)
from sim.xmlfiles import open_xml, with_includes

if TYPE_CHECKING:  # imported when a run records: pyarrow takes a while to load
    import sumolib

    from controller.adapters.archive import ArchiveRecorder
    from sim.twin_sim import SimTwin

log = logging.getLogger(__name__)

POLICIES = tuple(sorted(set(REGISTRY) | set(FIELD_POLICIES)))


@dataclass(frozen=True)
class SimulateRequest:
    sumocfg: Path
    out_dir: Path
    policy: str = "fixed"
    sumo_args: tuple[str, ...] = ()
    intersections: Path | None = None  # junction TOMLs; imported from the network when None
    prefer_libsumo: bool = True
    progress_every_s: float = 900.0
    detectors: str = "generated"  # or "city": the scenario's own induction loops (sim/loops.py)
    record: Path | None = None  # archive root: the controller's feeds and plans recorded there (docs/replay.md)
    import_cache: bool = True  # imported junction models kept and reused (sim/netcache.py; --no-import-cache)


# the files simulate itself writes into --out and evaluates: a user's option after `--` may not move them
OWN_OUTPUTS = {"--tripinfo-output": "tripinfo.xml", "--statistic-output": "statistics.xml"}


def own_output_args(out: Path) -> list[str]:
    """SUMO's options for the outputs simulate writes into `out` and evaluates (OWN_OUTPUTS, the
    trips not finished at the end included)."""
    return [
        "--tripinfo-output",
        str(out / OWN_OUTPUTS["--tripinfo-output"]),
        "--tripinfo-output.write-unfinished",
        "true",
        "--statistic-output",
        str(out / OWN_OUTPUTS["--statistic-output"]),
    ]


def steps_per_second(step_s: float) -> int | None:
    """How many SUMO steps of step_s make one second (the controller's), None when step_s is
    not a divisor of 1 s (0.5, 0.25, 0.2, 0.1 ... are; 0.3 and 2 are not)."""
    if not 0.0 < step_s <= 1.0:
        return None
    n = round(1.0 / step_s)
    return n if abs(n * step_s - 1.0) < 1e-9 else None


def require_step_dividing_a_second(scfg: SumoConfig, user: list[str]) -> None:
    """Refuse a step length that is not a divisor of 1 s, the user's (`--step-length` after
    `--`, canonical) or the configuration's. The service runs once per second: SUMO is stepped
    to each whole second in its own steps, the loops read at every step and aggregated into the
    second (sim/field.py aggregate_substeps), the roadside run once per second; a 0.3 s step
    does not end on the second."""
    value, _ = take_option(user, "--step-length")
    where, step = "the SUMO arguments after --", value
    if value is None:
        where, step = f"{scfg.path}", scfg.values.get("step-length")
    if step is None:
        return
    try:
        step_s = float(step)
    except ValueError:
        step_s = float("nan")
    if steps_per_second(step_s) is None:
        raise DefinitionError(
            where,
            "--step-length" if value is not None else "time.step-length",
            f"{step!r} s not supported: the controller runs once per second and SUMO's steps must end on"
            " it (a divisor of 1 s: 1, 0.5, 0.25, 0.2, 0.1 ...)",
        )


# SUMO's own words, any case (StringUtils::toBool); anything else SUMO refuses
FALSE_WORDS = frozenset({"false", "0", "no", "off", "f", "-"})
TRUE_WORDS = frozenset({"true", "1", "yes", "on", "t", "x"})


def user_flag(user: list[str], option: str) -> bool | None:
    """A boolean SUMO option among the user's arguments (canonical form) read as SUMO reads it:
    `--mesosim` alone, or followed by a word not starting with `-` (`--mesosim -` is true, the
    `-` not taken), or `--mesosim=-` (false: after `=` any word is the value); None when not
    given. A value SUMO does not read as a boolean is refused naming the option."""
    found = option_at(user, option)
    if found is None:
        return None
    k, value = found
    if value is None:
        value = user[k + 1] if k + 1 < len(user) and not user[k + 1].startswith("-") else "true"
    return sumo_bool(value, "the SUMO arguments after --", option)


def sumo_bool(value: str, where: str, option: str) -> bool:
    """A boolean option's value read as SUMO reads it, on the command line and in a configuration
    file alike: its own words in any case, nothing stripped (`' true'` and `'false '` are SUMO's
    errors too). Anything else is refused naming where it was given and the option."""
    word = value.lower()
    if word not in FALSE_WORDS | TRUE_WORDS:
        raise DefinitionError(
            where, option, f"{value!r} is not a boolean SUMO reads ({', '.join(sorted(TRUE_WORDS | FALSE_WORDS))})"
        )
    return word in TRUE_WORDS


def require_microsim(scfg: SumoConfig, user: list[str]) -> None:
    """Refuse SUMO's mesoscopic model (`--mesosim`, the configuration's or the arguments'): its
    induction loops are not TraCI's (the run died at the feed's first read, "Induction loop ...
    is not known") and it models queues per edge segment, not per lane. Not supported: the
    refusal names where it was set."""
    given = user_flag(user, "--mesosim")
    where = "the SUMO arguments after --"
    option = "--mesosim"
    if given is None:
        where, option = f"{scfg.path}", "mesoscopic.mesosim"
        given = sumo_bool(scfg.values.get("mesosim", "false"), where, option)
    if given:
        raise DefinitionError(
            where,
            option,
            "the mesoscopic model is not supported: the controller reads induction loops per lane, which"
            " SUMO does not give there (run the scenario microscopic)",
        )


def modelled_programs(
    wauts: Mapping[str, Waut], additional: list[Path], begin_s: float, at_begin: bool
) -> dict[str, str]:
    """Per light a WAUT switches, the program its model describes, for messages: the one in force
    at the begin (`[timing] waut_program_at_begin`) or the one loaded last."""
    if at_begin:
        return {tid: f"{w.program_at(begin_s, begin_s)!r} ([timing] waut_program_at_begin)" for tid, w in wauts.items()}
    loaded = additional_programs(additional)
    return {
        tid: f"{loaded[tid].program_id!r} (loaded last)" if tid in loaded else "the network's last (loaded last)"
        for tid in wauts
    }


def name_time_of_day_programs(
    wauts: Mapping[str, Waut],
    junctions: Mapping[str, Intersection],
    span_s: tuple[float, float],
    modelled: Mapping[str, str],
    in_force: Mapping[str, list[ProgramInForce]],
) -> None:
    """Name each controlled light whose program a WAUT switches during the run, with the program
    its model describes (`modelled`, by light; and with it do no harm's fixed side, the city's
    cycle and split that webster and schedule start from and the intergreens the gate keeps)
    through every switch, and each program the run will see from `span_s`'s begin to its end
    (`in_force`, by light: its stages, cycle and intergreen beside the model's); a hand-back
    resumes the program in force at that time (sim/field.py), SUMO running the switches as it
    would alone."""
    for tid, waut in wauts.items():
        if tid in junctions:
            j = junctions[tid]
            seen = in_force.get(tid, [])
            log.warning(
                "junction=%s: %s; the run sees %s; its model (cycle %g s, yellow %g + all-red %g s), do no"
                " harm's fixed side, the city's cycle and split the policies start from and the intergreens"
                " the gate keeps are program %s through every switch (one timing per junction); a"
                " hand-back resumes the program in force at that time",
                tid,
                waut.describe(),
                _listed([p.describe() for p in seen]) if seen else f"{waut.program_at(span_s[0], span_s[0])!r} first",
                j.base_cycle_s(),
                j.yellow_s,
                j.all_red_s,
                modelled.get(tid, "the network's last"),
            )


def _listed(items: list[str], most: int = 6) -> str:
    """The first `most` items joined, and how many more."""
    more = f" and {len(items) - most} more changes" if len(items) > most else ""
    return ", ".join(items[:most]) + more


def _waut_programs(
    wauts: Mapping[str, Waut],
    junctions: Mapping[str, Intersection],
    scfg: SumoConfig,
    read: list[Path],
    span_s: tuple[float, float],
    net: sumolib.net.Net | None,
) -> dict[str, list[ProgramInForce]]:
    """By controlled light a WAUT switches, the programs the run from span_s[0] to span_s[1] sees
    (netprogram_waut.programs_in_force); the network read here when `net` is None."""
    tables = {tid: w.timetable(*span_s) for tid, w in wauts.items() if tid in junctions}
    if not tables:
        return {}
    net = net if net is not None else _read_net(scfg.net_file)
    return programs_in_force(net, str(scfg.net_file), read, dict(junctions), tables)


def end_s_of(scfg: SumoConfig, user: list[str], begin_s: float) -> float:
    """The run's end in seconds for the messages on time-of-day programs: the user's `--end`, else the
    configuration's, else (SUMO runs until the last vehicle) a day after the begin."""
    value, _ = take_option(user, "--end")
    try:
        end_s = scfg.seconds("end") if value is None else sumo_time_s(value)
    except ValueError:
        end_s = None
    return end_s if end_s is not None and end_s > begin_s else begin_s + 86400.0


def name_baseline_switched_back(wauts: Mapping[str, Waut], junctions: Mapping[str, Intersection], policy: str) -> None:
    """`actuated` / `delay_based` (sim/baselines.py): SUMO's controller, loaded last, runs a light
    a WAUT switches only until the WAUT's first switch, which puts one of the city's programs in
    force (SUMO refuses a second program of the same id, so the baseline cannot replace the ones
    the WAUT names). Not fixed: each such light is named."""
    for tid, waut in wauts.items():
        if tid in junctions and waut.switches:
            log.warning(
                "junction=%s: --policy %s runs SUMO's %s controller only until its WAUT's first switch (%s);"
                " the city's program switched to runs from then on",
                tid,
                policy,
                policy,
                waut.describe(),
            )


def prepare(req: SimulateRequest, cfg: Config) -> tuple[SumoConfig, dict[str, Intersection], list[str]]:
    """Junction models, generated additional files and the SUMO command line.

    The junction models are imported from the network and the additional files SUMO will load
    (the config's, then the user's `--additional-files`): their signal programs are the ones SUMO
    runs, their induction loops the city's (`req.detectors == "city"` maps those instead of
    generating loops). Traffic lights that cannot be controlled stay on their own program; each
    is logged with the reason (skipped.txt of the junction folder). A network without any traffic
    light runs with nothing to control (SUMO alone), as one whose lights are all skipped."""
    if req.policy not in POLICIES:
        raise DefinitionError("--policy", "policy", f"unknown policy {req.policy!r}; known: {', '.join(POLICIES)}")
    scfg = SumoConfig(req.sumocfg)
    out = req.out_dir
    out.mkdir(parents=True, exist_ok=True)
    user = _user_args(req, scfg)
    listed, user = take_option(user, "--additional-files")  # the user's list goes after the config's; ours after both
    additional = _additional(scfg, listed)
    begin_s = begin_s_of(scfg, user)
    # the network read once: the import (unless its cache holds it) and the baseline programs both
    # take it (sumolib's read, 0.03-0.08 s)
    net = _read_net(scfg.net_file) if req.policy in FIELD_POLICIES else None
    read = with_includes([Path(a) for a in additional])  # what SUMO reads; SUMO is given `additional`
    junctions = _junction_models(req, cfg, scfg, read, begin_s, net)
    wauts = waut_schedules(read)
    if wauts:
        modelled = modelled_programs(wauts, read, begin_s, cfg.timing.waut_program_at_begin)
        span_s = (begin_s, end_s_of(scfg, user, begin_s))
        in_force = _waut_programs(wauts, junctions, scfg, read, span_s, net)
        name_time_of_day_programs(wauts, junctions, span_s, modelled, in_force)
        if req.policy in FIELD_POLICIES:
            name_baseline_switched_back(wauts, junctions, req.policy)
    extra = [write_detector_file(junctions, out / "detectors.add.xml", cfg.detectors.loop_length_m)]
    if req.policy in FIELD_POLICIES:
        extra.append(write_baseline_programs(scfg.net_file, junctions, req.policy, out / "baseline.add.xml", read, net))
    return scfg, junctions, merge_args(_own_args(scfg, out, additional + [str(p) for p in extra], user), user)


def _additional(scfg: SumoConfig, listed: str | None) -> list[str]:
    """The additional files SUMO loads (`additional_files`: the configuration's, then the user's),
    logged where the user's `--additional-files` leaves out some of the configuration's, which SUMO
    alone would then not load."""
    kept = scenario_files_kept(scfg, listed) if listed is not None else []
    if kept:
        log.info(
            "additional files: the scenario's %s load before the ones after -- (%s), which SUMO alone would "
            "load instead of them; to run without one of the scenario's, edit %s",
            ",".join(kept),
            listed,
            scfg.path,
        )
    return additional_files(scfg, listed)


def _user_args(req: SimulateRequest, scfg: SumoConfig) -> list[str]:
    """The SUMO arguments after `--`, canonical; refused where simulate writes the output itself or
    names the scenario, and checked against the scenario (a step dividing a second, microsim)."""
    user = canonical_args(req.sumo_args)
    refused = {option: f"simulate writes --out/{name} and evaluates it" for option, name in OWN_OUTPUTS.items()}
    for option, why in {**refused, "--configuration-file": "the scenario is SUMOCFG"}.items():
        if option_at(user, option) is not None:
            raise DefinitionError("the SUMO arguments after --", option, f"not accepted: {why}")
    require_step_dividing_a_second(scfg, user)
    require_microsim(scfg, user)
    return user


def _junction_models(
    req: SimulateRequest,
    cfg: Config,
    scfg: SumoConfig,
    additional: list[Path],
    begin_s: float,
    net: sumolib.net.Net | None = None,
) -> dict[str, Intersection]:
    """The junction models: imported from the network into --out/intersections (an earlier
    import's files there removed first), or read from `req.intersections`; the lights skipped are
    logged with their reason. `net`: the network already read (read_net), else read by the import."""
    out = req.out_dir
    if req.intersections is None:
        for stale in (out / "intersections").glob("*.toml"):  # an earlier import's: the folder holds this run's only
            stale.unlink()  # (the archive copies the folder as the models the run used)
        try:
            result = _import(req, cfg, scfg, additional, begin_s, net)
        except NoTrafficLights as exc:  # any SUMO scenario runs: nothing to control, SUMO alone
            log.warning("%s: SUMO runs the scenario alone", exc)
            result = ImportResult((), (), ())
        skipped = result.skipped
        junctions = result.junctions()  # the files just written, not read back
    else:
        skipped = tuple(read_skipped(req.intersections))
        junctions = load_intersections(req.intersections)
        check_lights(junctions, scfg.net_file)
    for tid, why in skipped:
        log.warning("junction=%s stays on its own program: %s", tid, why)
    if req.detectors == "city":
        _name_unread_city_detectors(additional, junctions)
    return junctions


def _name_unread_city_detectors(files: list[Path], junctions: Mapping[str, Intersection]) -> None:
    """A warning per junction naming the city's detectors on its lanes the import does not read (e2, e3,
    instant loops, e1 loops counting a subset: sim/loops.py), and one for those on no junction's lane."""
    from sim.loops import read_unread_detectors, unread_lines

    found = read_unread_detectors(files)
    if found:
        lanes_of = {
            tid: {lane for m in j.movements for lane in m.lanes} | {d.at_lane or d.lane for d in j.detectors}
            for tid, j in junctions.items()
        }
        for line in unread_lines(found, lanes_of):
            log.warning("%s", line)


def check_lights(junctions: Mapping[str, Intersection], net_file: Path) -> None:
    """Each junction file of `--intersections` names a traffic light of the scenario's network, else a
    DefinitionError naming the file and its `id`: a folder imported from another network was refused only by
    SUMO, a screen of unknown lanes of the generated loops."""
    lights = set()
    with open_xml(net_file) as stream:
        for _event, element in ET.iterparse(stream):
            if element.tag == "tlLogic":
                lights.add(element.get("id"))
            element.clear()  # the network streams past, not kept
    for jid, j in sorted(junctions.items()):
        if jid not in lights:
            raise DefinitionError(j.source, "id", f"{jid!r} is not a traffic light of {net_file} (--intersections)")


def _import(
    req: SimulateRequest,
    cfg: Config,
    scfg: SumoConfig,
    additional: list[Path],
    begin_s: float,
    net: sumolib.net.Net | None,
) -> ImportResult:
    """The import into --out/intersections: through the import cache (sim/netcache.py) unless
    `req.import_cache` is off; `net`, the network when already read."""
    out = req.out_dir / "intersections"
    if not req.import_cache:
        from sim.netimport import import_network

        return import_network(scfg.net_file, out, cfg, additional, req.detectors, begin_s, net)
    from sim.netcache import cached_import

    def read() -> sumolib.net.Net:
        return net if net is not None else _read_net(scfg.net_file)

    return cached_import(scfg.net_file, out, cfg, additional, req.detectors, begin_s, read)


def _read_net(path: str | Path) -> sumolib.net.Net:
    """sim/netimport.py's read_net: the import's modules loaded only when a run reads the network."""
    from sim.netimport import read_net

    return read_net(path)


def _own_args(scfg: SumoConfig, out: Path, additional: list[str], user: list[str]) -> list[str]:
    """simulate's own SUMO arguments (the user's, merged after, win): the scenario, every
    additional file, our outputs, no teleporting, quiet logs; and the outputs the scenario's
    configuration writes, moved into our folder (ours, tripinfo and statistics, win)."""
    defaults = [
        "--configuration-file",
        str(scfg.path),
        "--additional-files",
        ",".join(additional),
        *own_output_args(out),
        "--time-to-teleport",
        "-1",
        "--no-step-log",
        "true",
        "--duration-log.disable",
        "true",
    ]  # the step length is the scenario's (or the user's): a divisor of 1 s, stepped per second in step_to_end
    # what the scenario's configuration writes goes into our folder, not beside the scenario
    # (which may be read-only: ../shared/networks); ours above (tripinfo, statistics) win
    for key, rel in scfg.outputs().items():
        if f"--{key}" in OWN_OUTPUTS and option_at(user, f"--{key}") is None:
            log.warning(
                "%s: %s %s is not written: simulate writes --out/%s", scfg.path, key, rel, OWN_OUTPUTS[f"--{key}"]
            )
        if f"--{key}" not in defaults:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            defaults += [f"--{key}", str(out / rel)]
    return defaults


class ClosedLoop(Protocol):
    """How the controller and the field exchange one second: in process, or through a broker
    (sim/mqtt_run.py). The field is stepped by `run`; the loop carries the messages."""

    @property
    def plans_sent(self) -> int: ...

    @property
    def rejected(self) -> Mapping[str, int]: ...

    def start(self, begin_s: float) -> None:
        """The roadside controllers' first actuation, before the first step."""

    def second(self, t_s: float) -> None:
        """SUMO just reached t_s: feeds to the controller, its tick, plans back, actuation."""

    def close(self) -> None: ...

    def summary(self) -> dict[str, Any]:
        """Extra entries for summary.json ({} in process)."""


class LoopFactory(Protocol):
    """Builds a run's ClosedLoop once SUMO has started (InProcessLoop itself, sim/mqtt_run.py's
    MqttLoop behind a broker): the field, the junction models, the configuration, the policy
    ("fixed" for the field's own programmes), the first simulated second, and optionally the
    controller's metrics and the recorder of what it received and sent (`simulate --record`)."""

    def __call__(
        self,
        field: SumoField,
        junctions: dict[str, Intersection],
        cfg: Config,
        policy: str,
        begin_s: float,
        *,
        metrics: ServiceMetrics | None = None,
        archive: Recorder | None = None,
    ) -> ClosedLoop: ...


def _dropped(cmd: Command) -> None:
    """A command not handed to the field (InProcessLoop's plans_to_field False)."""


class InProcessLoop:
    """The controller service called directly: the reference every transport must reproduce."""

    def __init__(
        self,
        field: SumoField,
        junctions: dict[str, Intersection],
        cfg: Config,
        policy: str,
        begin_s: float,
        *,
        metrics: ServiceMetrics | None = None,
        archive: Recorder | None = None,
        plans_to_field: bool = True,
        twin: SimTwin | None = None,
    ) -> None:
        """twin: the validation gate ([validation] enabled; sim/twin_sim.py), run after each tick."""
        self.field = field
        self.now_s = begin_s
        self.twin = twin
        # [service] simulate_metrics_thread: the tick's metrics handed to a thread (the libsumo
        # installed keeps the GIL in its step: in process the run mostly takes them back, config.toml);
        # not beside the twin or a recorder, which report to the metrics or the service between two ticks
        threaded = cfg.service.simulate_metrics_thread and metrics is not None and twin is None and archive is None
        self._tail = MetricsThread() if threaded else None
        # the command itself, no message built (a recorded run builds them for its archive):
        # decode_command(encode_command(cmd)) == cmd (tests/unit/test_speed_loop.py), and the
        # via-MQTT run, which decodes every message, gives the same trips (test_via_mqtt.py).
        # plans_to_field False: the service's plans are dropped (sim/replay_recorded.py sends its own).
        self.service = ControllerService(
            junctions,
            cfg,
            policy,
            start_s=begin_s,
            metrics=metrics,
            archive=archive,
            hand_over=self._to_field if plans_to_field else _dropped,
            programs=field.program_states(),  # a junction with a stage its program never shows is refused
            desk=None if twin is None else twin.desk,
            recent=None if twin is None else twin.recent,
            defer=None if self._tail is None else self._tail.submit,
        )
        if twin is not None:
            twin.desk.bind_policy(self.service.set_policy, cfg, self.service.core.policy.name)
        # statuses likewise as their messages' JSON objects, checked by the same feed.check_status
        # as a status message (the via-MQTT run encodes and decodes them: test_via_mqtt.py)
        self._statuses: list[dict[str, Any]] = []

    def _to_field(self, cmd: Command) -> None:
        """The service's command to the field's roadside controller, at the loop's time."""
        self.field.receive(cmd, self.now_s)

    @property
    def plans_sent(self) -> int:
        return self.service.plans_sent

    @property
    def rejected(self) -> Mapping[str, int]:
        return self.service.rejected

    def start(self, begin_s: float) -> None:
        self._statuses = self.field.actuate_bodies(begin_s)

    def second(self, t_s: float) -> None:
        self.now_s = t_s
        service = self.service
        if self._tail is not None:
            self._tail.wait()  # the last tick's metrics done before the service hears anything new
        service.advance_clock(t_s)
        service.on_detector_frame(self.field.detector_frame(t_s))  # arrays, not JSON: same rules
        for body in self._statuses:
            service.on_status_body(body)
        service.tick(t_s)
        self._statuses = self.field.actuate_bodies(t_s)

    def close(self) -> None:
        if self._tail is not None:
            self._tail.close()

    def summary(self) -> dict[str, Any]:
        if self._tail is not None:
            self._tail.wait()
        s = self.service
        extra = {} if self.twin is None else {"validation": self.twin.gate.report()}
        return extra | {
            "decision_cost": s.decision_cost(),
            "refused": dict(s.refused),
            "junction_control": junction_summary(s),
        }


class MetricsThread:
    """One worker thread that runs each tick's metrics (ControllerService `defer`) while the
    caller goes on; `wait` returns once they are done, raising what they raised. Work the
    worker has not begun when the caller waits (no core was free for it) is taken back and
    run by the caller at once: it never waits for the worker to be scheduled."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tick-metrics")
        self._pending: tuple[Future[None], Callable[[], None]] | None = None
        self.taken_back = 0  # works run by the caller
        self.submitted = 0  # works handed in

    def submit(self, work: Callable[[], None]) -> None:
        self.wait()
        self.submitted += 1
        self._pending = (self._pool.submit(work), work)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        future, work = pending
        if future.cancel():  # not begun: run here, now
            self.taken_back += 1
            work()
        else:
            future.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)


def start_recorder(
    root: Path,
    req: SimulateRequest,
    cfg: Config,
    scfg: SumoConfig,
    registry: CollectorRegistry,
    begin_s: float,
    end_s: float,
) -> ArchiveRecorder:
    """The feed archive of a simulated run, under root/{site}/, with what a replay needs in its
    meta/: the network, the scenario (the additional files SUMO ran: the configuration's, then the
    user's `--additional-files` after `--`; their signal programs) and the junction models the feeds
    were validated against."""
    from controller.adapters.archive import ArchiveRecorder

    listed, _ = take_option(canonical_args(req.sumo_args), "--additional-files")
    recorder = ArchiveRecorder(root, cfg.service.site, cfg.archive, registry=registry)
    recorder.write_meta(
        {
            "source": "simulate",
            "net_file": str(Path(scfg.net_file).resolve()),
            "sumocfg": str(scfg.path.resolve()),
            "additional_files": additional_files(scfg, listed),
            "route_files": [str(p) for p in scfg.files("route-files")],
            "policy": req.policy,
            "begin_s": begin_s,
            "end_s": end_s,
            "detectors": req.detectors,
            "sumo_args": list(req.sumo_args),
        },
        req.intersections or req.out_dir / "intersections",
    )
    return recorder


def substeps_per_second(api: Any, sumocfg: Path) -> int:
    """SUMO's steps in one of the controller's seconds, at the step length SUMO runs; a step
    that does not divide 1 s is refused naming the configuration (`steps_per_second`)."""
    step_s = api.simulation.getDeltaT()
    substeps = steps_per_second(step_s)
    if substeps is None:
        raise DefinitionError(sumocfg, "step-length", f"{step_s:g} s SUMO runs is not a divisor of 1 s")
    return substeps


def step_second(api: Any, field: SumoField, substeps: int) -> tuple[float, int]:
    """SUMO's `substeps` steps to the next whole second, the field's loops read after each but
    the last (SumoField.sample_substep: the second's read aggregates them); returns SUMO's time
    and the vehicles arrived in those steps (SUMO's getArrivedNumber counts the last step's only)."""
    arrived = 0
    for _ in range(substeps - 1):
        api.simulationStep()
        arrived += api.simulation.getArrivedNumber()
        field.sample_substep()
    api.simulationStep()
    return float(api.simulation.getTime()), arrived + api.simulation.getArrivedNumber()


def step_to_end(
    api: Any,
    loop: ClosedLoop,
    field: SumoField,
    req: SimulateRequest,
    progress: Progress,
    span: tuple[float, float],
    wall0: float,
) -> float:
    """Step SUMO to its end time (or until no vehicle is left when it has none), one closed-loop
    second at a time, reporting to `progress` (a detail every req.progress_every_s: SUMO's time,
    the vehicles running, those arrived since the run began, the plans sent); returns the last
    time. A step length under 1 s: SUMO's steps up to the second, the field's loops read
    after each (SumoField.sample_substep) and aggregated into the second the loop then reads; the
    roadside's lights, set once per second, hold across them."""
    begin_s, end_s = span
    substeps = substeps_per_second(api, req.sumocfg)
    t, arrived = begin_s, 0

    def detail() -> str:
        return (
            f"t={t:.0f}/{end_s:.0f} s  running={api.vehicle.getIDCount()} "
            f"arrived={arrived} plans={loop.plans_sent} "
            f"wall={time.perf_counter() - wall0:.0f} s"
        )

    while (end_s < 0 and api.simulation.getMinExpectedNumber() > 0) or (end_s >= 0 and t < end_s):
        t, now_arrived = step_second(api, field, substeps)
        arrived += now_arrived
        loop.second(t)
        progress.update(t - begin_s, detail)
    return float(api.simulation.getTime())


def run(
    req: SimulateRequest,
    cfg: Config,
    progress: Callable[[str], None] | None = None,
    loop_factory: LoopFactory = InProcessLoop,
    registry: CollectorRegistry | None = None,
) -> dict[str, Any]:
    """Run the scenario in closed loop; returns the summary (also written to summary.json).

    The controller's metrics (controller/adapters/metrics.py) go into `registry` — serve it to
    watch the run in Grafana — or, with none given, a private one nothing collects (the metrics then
    compute only what the report reads: ServiceMetrics' `collected`); either way their run report
    (the online gains over fixed-time) is summary["online_gains"]."""
    scfg, junctions, args = prepare(req, cfg)
    api = load_api(req.prefer_libsumo)
    controlled = req.policy not in FIELD_POLICIES
    wall0 = time.perf_counter()
    _start(api, scfg, args)
    loop: ClosedLoop | None = None
    recorder: ArchiveRecorder | None = None
    try:
        begin_s = api.simulation.getTime()
        end_s = api.simulation.getEndTime()
        field = _field(api, junctions, cfg, args, begin_s)
        # no registry given: nothing collects the metrics' (ServiceMetrics' `collected`), only the run report is read
        collected, registry = registry is not None, registry if registry is not None else CollectorRegistry()
        # a loop whose service runs in another process (sim/service_process.py) keeps its metrics there
        apart = getattr(loop_factory, "metrics_apart", False)
        metrics = None if apart else ServiceMetrics(registry, junctions, cfg, collected=collected)
        extra: dict[str, Any] = {}
        if req.record is not None:
            recorder = extra["archive"] = start_recorder(req.record, req, cfg, scfg, registry, begin_s, end_s)
        if cfg.validation.enabled and controlled and req.policy != "fixed":
            extra["twin"] = _twin(req, scfg, junctions, cfg, args, loop_factory)
        loop = loop_factory(
            field, junctions, cfg, req.policy if controlled else "fixed", begin_s, metrics=metrics, **extra
        )
        loop.start(begin_s)
        end_t = _to_end(api, loop, field, req, progress, (begin_s, end_s), wall0)
    finally:
        try:
            if loop is not None:
                # close() can raise (a service process's error: sim/service_process.py); when the
                # run is already failing (or interrupted), that error is the run's to report
                with contextlib.suppress(Exception) if sys.exc_info()[0] is not None else contextlib.nullcontext():
                    loop.close()
        finally:
            if recorder is not None:
                recorder.close()
            api.close()
    wall_s = time.perf_counter() - wall0
    summary = _summary(req, api.__name__, junctions, field, loop, (begin_s, end_t), wall_s)
    if metrics is not None:  # else the loop's own, from the process its service ran in
        summary.setdefault("online_gains", metrics.report())
    if recorder is not None:
        summary["archive"] = {"dir": str(recorder.root), **dataclasses.asdict(recorder.stats)}
    write_summary(summary, req.out_dir / "summary.json")
    return summary


def _to_end(
    api: Any,
    loop: ClosedLoop,
    field: SumoField,
    req: SimulateRequest,
    progress: Callable[[str], None] | None,
    span_s: tuple[float, float],
    wall0: float,
) -> float:
    """step_to_end over span_s = (begin, end; end < 0: none) with the progress shown: a bar on a
    terminal when nobody asked for the lines (`progress` None), plain lines otherwise."""
    begin_s, end_s = span_s
    length_s, bar = end_s - begin_s if end_s >= 0 else -1.0, None if progress is None else False
    shown = Progress(req.policy, length_s, req.progress_every_s, bar=bar, write=progress)
    try:
        return step_to_end(api, loop, field, req, shown, span_s, wall0)
    finally:
        shown.close()


def _start(api: Any, scfg: SumoConfig, args: list[str]) -> None:
    """SUMO started with `args`; refused, a fatal AdapterError with SUMO's reason first."""
    try:
        start_sumo(api, [start_command(api), *args])
    except SumoRefused as exc:
        # SUMO's reason first: the command line, long, comes last
        raise AdapterError(
            f"SUMO did not start: {exc} ({scfg.path}; SUMO's arguments: {' '.join(args)})", fatal=True
        ) from None


def _field(api: Any, junctions: dict[str, Intersection], cfg: Config, args: list[str], begin_s: float) -> SumoField:
    """The city: SUMO's lights behind virtual roadside controllers, with the WAUT schedules of the
    additional files SUMO loads (the scenario's, and ours: no WAUT in them)."""
    listed, _ = take_option(args, "--additional-files")
    return SumoField(
        api,
        junctions,
        cfg.roadside.backup_s,
        keep_off_through_intergreen=cfg.roadside.keep_off_through_intergreen,
        wauts=waut_schedules([Path(a) for a in listed_files(listed or "")]),
        begin_s=begin_s,
    )


def _twin(
    req: SimulateRequest,
    scfg: SumoConfig,
    junctions: dict[str, Intersection],
    cfg: Config,
    args: list[str],
    factory: Any,
) -> SimTwin:
    """[validation] enabled: the gate on the scenario's own network, programs and vehicle types
    (sim/twin_sim.py), in process only."""
    from sim.twin_sim import wire

    if not (isinstance(factory, type) and issubclass(factory, InProcessLoop)):
        raise AdapterError("[validation] enabled: simulate runs the validation twin in process only (not --via-mqtt)")
    listed, _ = take_option(args, "--additional-files")
    files = [Path(a) for a in listed_files(listed or "")]
    files += scfg.files("route-files")
    return wire(cfg, junctions, str(scfg.net_file), files, req.out_dir / "twin")


def _summary(
    req: SimulateRequest,
    sumo_api: str,
    junctions: Mapping[str, Intersection],
    field: SumoField,
    loop: ClosedLoop,
    span_s: tuple[float, float],
    wall_s: float,
) -> dict[str, Any]:
    """The run's evaluation (sim/evaluate.py) over span_s = (begin, end) simulated seconds, with
    what the controller and the field counted."""
    summary = evaluate(
        req.out_dir / OWN_OUTPUTS["--tripinfo-output"],
        req.out_dir / OWN_OUTPUTS["--statistic-output"],
        begin_s=span_s[0],
        end_s=span_s[1],
        junction_counts=field.crossed,
    )
    summary.update(
        {
            "policy": req.policy,
            "scenario": str(req.sumocfg),
            "wall_s": round(wall_s, 2),
            "sumo_api": sumo_api,
            "junctions_controlled": len(junctions),
            "skipped": dict(read_skipped(req.intersections or req.out_dir / "intersections")),
            "controller": {
                "plans_sent": loop.plans_sent,
                "plans_refused_by_roadside": field.refusals,
                "feed_rejected": dict(loop.rejected),
            },
            **loop.summary(),
        }
    )
    return summary
