"""config.toml -> validated, frozen dataclasses. Errors name the file and the field.

Each [section] of config.toml is one frozen dataclass, a field of `Config`; the core's sections
are the core's own dataclasses (EstimationParams, HarmParams, the policies' in core/params.py),
so a parameter has one definition and one default: the dataclass field. `_section` reads a table
into its dataclass by field name: an unknown key, a value of the wrong type (bool, int, float,
str), a non-finite or negative number (or a non-positive one, `_POSITIVE`) is a ConfigError
naming the file and `section.key`; a missing key keeps the field's default. config.toml states
every default (tests/unit/test_config.py checks it). Rules across fields follow in load_config.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

from controller.core.estimation import ADVANCE_UNDERCOUNT_MODES, DEFAULT_VEHICLE_SPACING_M, EstimationParams
from controller.core.harm import HarmParams
from controller.core.override import OperatorParams
from controller.core.params import MaxPressureParams, ScatsParams, ScheduleParams, WebsterParams
from controller.core.policies import REGISTRY
from controller.core.validation import ValidationParams
from controller.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceConfig:
    site: str = "city"
    instance: str = "ctl-1"
    policy: str = "adaptive"
    intersections: str = "intersections/city"
    feed_stale_s: float = 5.0
    realtime_factor: float = 1.0  # wall seconds per service second in `run` (< 1: faster demos)
    tick_delay_s: float = 0.0  # `run` ticks on second t at t + this: the field's messages of t have time to come in
    tick_wait_max_s: float = (
        0.6  # > 0: `run` ticks on second t once every junction's message of t is in, at most t + this
    )
    simulate_second_process: bool = False  # simulate under a policy that sends plans: the controller beside the field
    simulate_metrics_thread: bool = True  # simulate (in process; via MQTT, lockstep): tick metrics handed to a thread
    simulate_feed_pack: bool = True  # simulate --via-mqtt, lockstep: a second's detector messages in one message


@dataclass(frozen=True)
class BrokerConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    ca_file: str = ""  # CA bundle for TLS; empty: the system's store
    username: str = "controller"
    password: str = ""
    password_env: str = "TSC_BROKER_PASSWORD"  # read when `password` is empty
    client_id: str = ""  # empty: tsc-{site}-{instance}
    keepalive_s: float = 30.0
    session_expiry_s: float = 3600.0  # persistent session: QoS 1 traffic survives a reconnect
    mqtt_version: str = "5"  # or "3.1.1" for a broker without MQTT 5 (RabbitMQ 3.10; docs/deployment.md)
    # QoS 1 messages (a tick's plans) sent and not yet acknowledged at once; the rest wait in the client, in order.
    # With MQTT 5 the broker's receive maximum lowers it (docs/mqtt.md, "The in-flight window")
    max_inflight: int = 20

    def resolved_password(self) -> str:
        return self.password or (os.environ.get(self.password_env, "") if self.password_env else "")


@dataclass(frozen=True)
class PcuConfig:
    car: float = 1.0
    bus: float = 2.0
    truck: float = 2.5
    motorcycle: float = 0.4
    bicycle: float = 0.2
    bicycle_own: bool = False  # a bicycle weighs `bicycle` PCU; off: a car's (the loops' counts before session 49)

    def factor(self, vehicle_class: str) -> float:
        if vehicle_class == "bicycle" and not self.bicycle_own:
            return float(self.car)
        return float(getattr(self, vehicle_class, 1.0))


@dataclass(frozen=True)
class TimingConfig:
    min_green_s: float = 7.0
    max_green_s: float = 60.0
    yellow_s: float = 3.0
    all_red_s: float = 0.0
    cycle_min_s: float = 30.0
    cycle_max_s: float = 150.0
    max_red_s: float = 150.0
    ped_walk_s: float = 5.0
    ped_speed_mps: float = 1.2
    program_clearances: bool = False  # sim/netprogram.py link_clearances_s: the program's own intergreens
    program_transitions: bool = True  # sim/netprogram.py program_transitions: the program's own transition states
    waut_program_at_begin: bool = False  # sim/netprogram.py active_programs: a WAUT's program in force at the begin
    split_movements_by_green: bool = True  # sim/netmovements.py movements: one movement per set of green stages
    bicycle_lane_movements: bool = True  # sim/netmovements.py movements: a bicycle-only lane a movement of its own
    car_movements_skip_restricted_lanes: bool = False  # sim/netmovements.py: a lane closed to cars left out
    bus_lane_movements: bool = False  # sim/netmovements.py movements: a bus lane a movement of its own
    ped_min_from_program: bool = False  # sim/netstages.py: a crossing's pedestrian minimum at most its program green
    crossing_red_is_clearance: bool = False  # sim/netimport.py: a transition stopping a crossing kept without yellow
    crossing_transitions: bool = False  # sim/netimport.py: key off ped_min_from_program, a crossing's clearance kept
    crossings_max_red: bool = True  # sim/netimport.py: each crossing a movement of the file, red at most max_red_s
    cyclist_clearance: bool = False  # sim/netmovements.py: each movement's cyclist_clear_s (core/safety.py reads it)
    cyclist_speed_mps: float = 4.0  # with cyclist_clearance: a cyclist's speed through the junction
    pair_intergreens: bool = True  # sim/netimport.py: each conflicting pair's program intergreen, pair_intergreen_s


@dataclass(frozen=True)
class DetectorConfig:
    stop_setback_m: float = 1.0
    advance_dist_m: float = 80.0
    loop_length_m: float = 1.0
    vehicle_spacing_m: float = DEFAULT_VEHICLE_SPACING_M  # jam spacing of one PCU (the estimator's own default)
    stop_loop_before_split: bool = True  # sim/loops.py: stop-line loop of a lane shorter than a loop moved upstream
    turn_back_is_fringe: bool = True  # sim/loops.py: a lane fed only by a U-turn is a network entry
    advance_clear_of_start: bool = False  # sim/loops.py: advance loop >= one spacing into any lane, fed or not
    advance_past_split: bool = False  # sim/loops.py: a lane with no room for one shares its split feeder's loop
    coupled_by_min_green: bool = False  # sim/netneighbours.py: a road holding less than a min green sends couples
    pair_one_program: bool = False  # sim/netneighbours.py, core/pairs.py: a short-link pair decided as one


@dataclass(frozen=True)
class SaturationConfig:
    through_pcu_h_lane: float = 1800.0
    left_pcu_h_lane: float = 1600.0
    right_pcu_h_lane: float = 1550.0
    bicycle_lane_veh_h: float = 2000.0  # bicycles per hour of a bicycle-only lane (HCM 2010)


@dataclass(frozen=True)
class RoadsideConfig:
    backup_s: float = 30.0
    plan_ttl_s: float = 20.0
    refresh_s: float = 5.0
    keep_off_through_intergreen: bool = True  # sim/roadside.py: a link off ('o'/'O') in both stages stays off


@dataclass(frozen=True)
class MetricsConfig:
    """The Prometheus endpoint and the cadence of its figures (controller/adapters/metrics.py)."""

    port: int = 9108
    addr: str = "127.0.0.1"  # 0.0.0.0 lets a Prometheus on another host scrape
    update_s: float = 5.0  # per-junction gauges and network gains refreshed this often (service time)
    gain_window_s: float = 900.0  # time constant of the measured green shares and cycles (saturation, cycle gauges)
    throughput_window_s: float = 300.0  # crossings, approach speed, measured delay, throughput gain: over this window
    stagger: bool = False  # junctions refreshed spread over update_s (true) or all together at each update_s


@dataclass(frozen=True)
class ArchiveConfig:
    """The feed archive (controller/adapters/archive.py, docs/replay.md)."""

    enabled: bool = False  # `run` records every valid detector message, status and plan sent
    dir: str = "archive"  # root folder: {dir}/{site}/{kind}/day=YYYY-MM-DD/*.parquet
    retention_days: int = 90  # day partitions older than this (behind the newest recorded day) are deleted
    queue_max: int = 100000  # bounded queue between the tick and the writer; overflow is dropped and counted
    flush_s: float = 2.0  # the writer appends to the journal this often: a kill -9 loses at most this much
    segment_s: float = 900.0  # a journal is compacted into one Parquet file this often


@dataclass(frozen=True)
class ReplayConfig:
    """`replay`: how a recorded window becomes a SUMO scenario (sim/replay.py, docs/replay.md)."""

    interval_s: float = 60.0  # loop counts are summed per this interval in the count files routeSampler reads
    sampler_interval_s: float = 300.0  # routeSampler's own aggregation (-i): a whole multiple of interval_s
    lead_s: float = 300.0  # recorded time simulated before --from, not compared: traffic is under way at --from
    warmup_s: float = 900.0  # recorded feed before the scenario's start that the queue estimate is run over
    minimize_vehicles: float = 0.5  # routeSampler's weight of fewer vehicles against the count deviation, [0, 1)
    candidate_trips: int = 3000  # random trips (randomTrips.py) per set of candidate routes and vehicle class
    entries_first: bool = False  # routes from the network's entries first, what they leave short from anywhere
    drop_one_edge_routes: bool = False  # candidate routes of one edge (appear and vanish on one street) are dropped
    route_min_counts: int = 1  # counting locations (counted edges, turns) a sampled route must pass (routeSampler)
    routes_from_entries: bool = False  # a sampled route starting inside the network is moved back to its entries
    spread_routes: bool = False  # each sampled vehicle spread over the routes that pass the same counting sites
    restricted_lane_cars: bool = False  # cars counted on bus-only streets rebuilt, of a vClass those lanes admit
    cover_routes_cut: bool = False  # covering routes also offered cut where a counted edge saw under half their count
    start_before_advance_loops: bool = True  # routes starting past an advance loop start before it
    drop_turnaround_routes: str = "signals"  # candidate routes that turn around dropped: "none", "signals" (a U-turn at
    # a traffic light), "all"


@dataclass(frozen=True)
class SecurityConfig:
    """Plan signatures and clock-skew limits (docs/security.md)."""

    plan_keys_file: str = ""  # file of plan master keys, one "key_id hex" per line, the current first
    plan_keys_env: str = "TSC_PLAN_KEYS"  # read when plan_keys_file is empty: "key_id:hex,key_id:hex"
    require_signed: bool = True  # `run` refuses to start without a plan key
    clock_skew_s: float = 1.0  # a message stamped further ahead of the receiver's clock is refused
    plan_max_validity_s: float = 300.0  # a roadside refuses a plan valid for longer than this
    ack_timeout_s: float = 5.0  # a plan not acknowledged by the roadside status after this is reported


@dataclass(frozen=True)
class AuditConfig:
    """The audit trail (controller/adapters/audit.py)."""

    path: str = "out/audit.sqlite"  # SQLite file, relative to the config file; "" keeps no audit trail
    checkpoint_s: float = 300.0  # learnt state (saturation flows, coupling) saved this often; 0 = never


@dataclass(frozen=True)
class RegionsConfig:
    """Sharding the city across controller instances (controller/regions.py, docs/deployment.md).
    `named`: region name -> junction ids, checked against the junctions by controller/regions.py."""

    count: int = 0  # > 0 and no `named`: that many regions, an automatic partition of the junction graph
    named: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    halo_hops: int = 1  # neighbours this many links beyond the border are read from the feed
    lease_s: float = 15.0  # an instance whose heartbeat is older than this (or offline) loses its region
    heartbeat_s: float = 5.0  # wall seconds between an instance's retained heartbeats; lease_s >= 2 x this


@dataclass(frozen=True)
class Config:
    service: ServiceConfig = ServiceConfig()
    broker: BrokerConfig = BrokerConfig()
    pcu: PcuConfig = PcuConfig()
    timing: TimingConfig = TimingConfig()
    detectors: DetectorConfig = DetectorConfig()
    saturation: SaturationConfig = SaturationConfig()
    estimation: EstimationParams = EstimationParams()  # the core's own dataclass, validated here like the rest
    webster: WebsterParams = WebsterParams()  # the policies' own dataclasses (controller/core/params.py)
    max_pressure: MaxPressureParams = MaxPressureParams()
    schedule: ScheduleParams = ScheduleParams()
    scats: ScatsParams = ScatsParams()
    roadside: RoadsideConfig = RoadsideConfig()
    metrics: MetricsConfig = MetricsConfig()
    harm: HarmParams = HarmParams()  # the core's own dataclass (controller/core/harm.py)
    archive: ArchiveConfig = ArchiveConfig()
    replay: ReplayConfig = ReplayConfig()
    security: SecurityConfig = SecurityConfig()
    audit: AuditConfig = AuditConfig()
    operators: OperatorParams = OperatorParams()  # the core's own dataclass (controller/core/override.py)
    validation: ValidationParams = ValidationParams()  # the core's own dataclass (controller/core/validation.py)
    regions: RegionsConfig = RegionsConfig()
    source: str = "<defaults>"


MQTT_MAX_INFLIGHT = 65535  # [broker] max_inflight's bound: MQTT 5's receive maximum, the packet ids a client has

# Numbers that must be strictly positive, as section.field (the name a ConfigError gives); every
# other number (float or int) only non-negative. tests/unit/test_config.py checks that each
# entry names a numeric field of Config.
_POSITIVE = frozenset(
    {
        "service.feed_stale_s",
        "service.realtime_factor",
        "broker.keepalive_s",
        "broker.max_inflight",
        "pcu.car",
        "pcu.bus",
        "pcu.truck",
        "pcu.motorcycle",
        "pcu.bicycle",
        "timing.min_green_s",
        "timing.max_green_s",
        "timing.cycle_min_s",
        "timing.cycle_max_s",
        "timing.max_red_s",
        "timing.ped_speed_mps",
        "timing.cyclist_speed_mps",
        "detectors.advance_dist_m",
        "detectors.loop_length_m",
        "detectors.vehicle_spacing_m",
        "saturation.through_pcu_h_lane",
        "saturation.left_pcu_h_lane",
        "saturation.right_pcu_h_lane",
        "saturation.bicycle_lane_veh_h",
        "estimation.flow_window_s",
        "harm.lock_movements",
        "estimation.clear_gap_s",
        "estimation.standing_occupancy",
        "estimation.standing_s",
        "estimation.sat_window_s",
        "estimation.sat_min_ratio",
        "estimation.sat_max_ratio",
        "estimation.block_window_s",
        "estimation.stuck_on_s",
        "estimation.stuck_off_s",
        "estimation.max_lane_flow_veh_h",
        "estimation.implausible_window_s",
        "estimation.implausible_limit",
        "estimation.link_max_travel_s",
        "estimation.link_window_s",
        "estimation.link_remap_s",
        "estimation.undercount_window_s",
        "estimation.permitted_critical_gap_s",
        "estimation.permitted_follow_up_s",
        "webster.period_s",
        "webster.divide_after_periods",
        "webster.max_flow_ratio",
        "webster.residual_queue_pcu",
        "webster.retime_window_s",
        "max_pressure.switch_service_s",
        "max_pressure.wait_scale_s",
        "max_pressure.permitted_sat_ratio",
        "schedule.cluster_gap_s",
        "schedule.replan_s",
        "schedule.wait_scale_s",
        "schedule.permitted_sat_ratio",
        "schedule.max_clusters",
        "scats.ds_target",
        "scats.marry_flow_pcu_h",
        "roadside.backup_s",
        "roadside.plan_ttl_s",
        "roadside.refresh_s",
        "metrics.update_s",
        "metrics.gain_window_s",
        "metrics.throughput_window_s",
        "harm.window_s",
        "archive.retention_days",
        "archive.queue_max",
        "archive.flush_s",
        "archive.segment_s",
        "replay.interval_s",
        "replay.sampler_interval_s",
        "replay.candidate_trips",
        "replay.route_min_counts",
        "security.clock_skew_s",
        "security.plan_max_validity_s",
        "security.ack_timeout_s",
        "operators.default_s",
        "operators.max_s",
        "validation.horizon_s",
        "validation.window_s",
        "validation.timeout_s",
        "validation.policy_timeout_s",
        "validation.max_twins",
        "regions.lease_s",
        "regions.heartbeat_s",
    }
)


# Keys that were removed, with what replaces them. A config that still carries one loads, with a
# warning naming the file and the key (config.toml is the users' file: a deprecation path, not
# a refusal); its value is not read.
_REMOVED = {
    ("service", "tick_s"): "the service decides once per second, the period of the detector feed (1 Hz by "
    "contract; controller/core/safety.py DECISION_PERIOD_S); to run a demo faster than "
    "real time, set service.realtime_factor"
}


def _drop_removed(raw: dict[str, Any], path: str) -> dict[str, Any]:
    """`raw` without the removed keys of _REMOVED, each one found logged as a deprecation."""
    out = dict(raw)
    for (section, key), instead in _REMOVED.items():
        table = out.get(section)
        if isinstance(table, dict) and key in table:
            log.warning(
                "%s: %s.%s is deprecated and ignored: %s. Remove it from the file.", path, section, key, instead
            )
            out[section] = {k: v for k, v in table.items() if k != key}
    return out


def _section(cls: type, raw: Any, path: str, name: str) -> Any:
    """The table `raw` of section `name` into its dataclass `cls`, by field name."""
    if not isinstance(raw, dict):
        raise ConfigError(path, name, f"must be a table, got {type(raw).__name__}")
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(path, f"{name}.{key}", f"unknown key (known: {', '.join(sorted(known))})")
    return cls(**{key: _value(hints[key], value, path, f"{name}.{key}") for key, value in raw.items()})


def _value(want: Any, value: Any, path: str, field_name: str) -> Any:
    """One value checked against its field's type (bool, int, float, str) and, for a number,
    its sign (_POSITIVE); an int is accepted for a float field."""
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if want is bool and not isinstance(value, bool):
        raise ConfigError(path, field_name, f"must be true or false, got {value!r}")
    if want is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(path, field_name, f"must be an integer, got {value!r}")
    if want is float and (not isinstance(value, float) or not math.isfinite(value)):
        raise ConfigError(path, field_name, f"must be a finite number, got {value!r}")
    if want is str and not isinstance(value, str):
        raise ConfigError(path, field_name, f"must be a string, got {value!r}")
    if want == tuple[str, ...]:
        return _names(value, path, field_name)
    if want == dict[str, list[str]]:
        return _lists_of_names(value, path, field_name)
    if want in (int, float):
        if field_name in _POSITIVE and value <= 0:
            raise ConfigError(path, field_name, f"must be > 0, got {value}")
        if value < 0:
            raise ConfigError(path, field_name, f"must be >= 0, got {value}")
    return value


def _names(value: Any, path: str, field_name: str) -> tuple[str, ...]:
    """A list of names (`["a.add.xml", "b.add.xml"]`). A string is read as SUMO lists files
    (comma- or semicolon-separated), with a warning: the form session 21 shipped."""
    if isinstance(value, str) and not value.strip():  # the old default "": no files
        return ()
    if isinstance(value, str):
        msg = '%s: %s: a list is expected (["a.xml", "b.xml"]); read %r as a comma-separated list'
        log.warning(msg, path, field_name, value)
        return tuple(n.strip() for n in value.replace(";", ",").split(",") if n.strip())
    if not isinstance(value, list) or not all(isinstance(n, str) and n.strip() for n in value):
        raise ConfigError(path, field_name, f"must be a list of file names, got {value!r}")
    return tuple(n.strip() for n in value)


def _lists_of_names(value: Any, path: str, field_name: str) -> dict[str, list[str]]:
    """A table of lists of names (`[regions.named]`: region -> junction ids), its shape only: what
    the names must be is checked where they are known (controller/regions.py)."""
    if not isinstance(value, dict):
        raise ConfigError(path, field_name, f"must be a table of lists of names, got {value!r}")
    for key, names in value.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(path, f"{field_name}.{key}", f"must be a list of names, got {names!r}")
    return value


def load_config(path: str | Path | None) -> Config:
    """Read and validate config.toml. `None` gives the built-in defaults."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(p), "-", "file not found") from None
    except OSError as exc:  # a folder, no permission: a traceback before session 59 (U)
        raise ConfigError(str(p), "-", f"cannot be read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), "-", f"malformed TOML: {exc}") from None
    raw = _drop_removed(raw, str(p))
    sections = {}
    hints = get_type_hints(Config)
    for key, value in raw.items():
        if key not in hints or key == "source":
            raise ConfigError(str(p), key, "unknown section")
        sections[key] = _section(hints[key], value, str(p), key)
    cfg = Config(**sections, source=str(p))
    t = cfg.timing
    if t.min_green_s > t.max_green_s:
        raise ConfigError(str(p), "timing.min_green_s", f"{t.min_green_s} > timing.max_green_s {t.max_green_s}")
    if t.cycle_min_s > t.cycle_max_s:
        raise ConfigError(str(p), "timing.cycle_min_s", f"{t.cycle_min_s} > timing.cycle_max_s {t.cycle_max_s}")
    _check_webster(cfg.webster, str(p))
    if cfg.operators.max_s < cfg.operators.default_s:
        raise ConfigError(
            str(p), "operators.max_s", f"{cfg.operators.max_s} < operators.default_s {cfg.operators.default_s}"
        )
    if cfg.harm.hold_max_s < cfg.harm.hold_s:
        raise ConfigError(str(p), "harm.hold_max_s", f"{cfg.harm.hold_max_s} < harm.hold_s {cfg.harm.hold_s}")
    if cfg.harm.network_share > 1:
        raise ConfigError(str(p), "harm.network_share", f"a share, must be <= 1, got {cfg.harm.network_share}")
    _check_max_pressure(cfg.max_pressure, str(p))
    if cfg.scats.ds_mean_cycles < 1:  # the newest cycle would weigh more than all of it
        raise ConfigError(str(p), "scats.ds_mean_cycles", f"cycles, must be >= 1, got {cfg.scats.ds_mean_cycles}")
    if cfg.scats.webster_flow_cycles < 1:  # the newest cycle would weigh more than all of it
        raise ConfigError(
            str(p), "scats.webster_flow_cycles", f"cycles, must be >= 1, got {cfg.scats.webster_flow_cycles}"
        )
    if cfg.harm.validate_return and not cfg.validation.enabled:  # nothing would ever approve a return
        raise ConfigError(str(p), "harm.validate_return", "needs validation.enabled (the twin validates the return)")
    _check_service(cfg.service, str(p))
    if not cfg.validation.margin < 1.0:
        raise ConfigError(str(p), "validation.margin", f"a fraction, must be < 1, got {cfg.validation.margin}")
    _check_validation_network(cfg, p)
    _check_replay(cfg, p)
    _check_estimation(cfg.estimation, str(p))
    _check_broker(cfg.broker, str(p))
    _check_names(cfg, str(p))
    r = cfg.regions
    if r.lease_s < 2 * r.heartbeat_s:
        why = "one late heartbeat would hand a region over"
        msg = f"must be >= 2 x regions.heartbeat_s ({r.heartbeat_s}), got {r.lease_s}: {why}"
        raise ConfigError(str(p), "regions.lease_s", msg)
    return cfg


def _check_validation_network(cfg: Config, path: Path) -> None:
    """[validation] enabled needs the city's SUMO network the twin runs (relative to the config file)."""
    v = cfg.validation
    if not v.enabled:
        return
    if not v.network:
        raise ConfigError(str(path), "validation.network", "validation is enabled: name the city's SUMO network")
    net = beside_config(str(path), v.network)
    if not net.is_file():
        raise ConfigError(str(path), "validation.network", f"no such network file: {net}")
    for name in v.additional_files:
        add = beside_config(str(path), name)
        if not add.is_file():
            raise ConfigError(str(path), "validation.additional_files", f"no such file: {add}")


def beside_config(source: str, path: str) -> Path:
    """A path the config names, relative to the config file's folder (`source`, as in
    Config.source) when not absolute; as given under the built-in defaults."""
    p = Path(path)
    if p.is_absolute() or source == "<defaults>":
        return p
    return Path(source).resolve().parent / p


def with_section(cfg: Config, name: str, values: Mapping[str, Any], source: str) -> Config:
    """`cfg` with some fields of section `name` replaced by `values` (e.g. an operator's change of
    a policy's parameters), checked like the file's own values; ConfigError naming `source` and
    the field otherwise."""
    hints = get_type_hints(Config)
    if name not in hints or name == "source":
        raise ConfigError(source, name, "unknown section")
    merged = {**dataclasses.asdict(getattr(cfg, name)), **values}
    section = _section(hints[name], merged, source, name)
    if name == "webster":
        _check_webster(section, source)
    if name == "service":
        _check_service(section, source)
    if name == "broker":
        _check_broker(section, source)
    return dataclasses.replace(cfg, **{name: section})


def _check_broker(broker: BrokerConfig, path: str) -> None:
    """[broker]'s protocol, and an in-flight window MQTT can have (receive maximum and packet ids: two bytes)."""
    if broker.mqtt_version not in ("5", "3.1.1"):
        raise ConfigError(path, "broker.mqtt_version", f'must be "5" or "3.1.1", got {broker.mqtt_version!r}')
    if broker.max_inflight > MQTT_MAX_INFLIGHT:
        raise ConfigError(path, "broker.max_inflight", f"must be <= {MQTT_MAX_INFLIGHT}, got {broker.max_inflight}")


def _check_max_pressure(mp: MaxPressureParams, path: str) -> None:
    """A share of the highest pressure above 1 could never be met: the rule would be off while it reads on."""
    for key in ("program_order_share", "program_order_saturated_share"):
        share = getattr(mp, key)
        if share > 1:
            raise ConfigError(
                path, f"max_pressure.{key}", f"a share of the highest pressure, must be <= 1, got {share}"
            )


def _check_names(cfg: Config, source: str) -> None:
    """The ports, the broker's host and the service's names in the topic tree: ConfigError naming `source`
    and the field (a site with '/' was refused only when the first topic was built, naming no file;
    port 70000 or an empty host only when the connection failed)."""
    if not 0 <= cfg.metrics.port <= 65535:
        raise ConfigError(source, "metrics.port", f"must be in 0..65535, got {cfg.metrics.port}")
    if not cfg.broker.host:
        raise ConfigError(source, "broker.host", "must be a host name or address, got ''")
    if not 0 < cfg.broker.port <= 65535:
        raise ConfigError(source, "broker.port", f"must be in 1..65535, got {cfg.broker.port}")
    site = cfg.service.site
    if not site or any(c in site for c in "/+#") or any(ord(c) < 32 for c in site):
        why = "one MQTT topic level (tsc/v1/{site}/...): not empty, no '/', '+', '#' or control characters"
        raise ConfigError(source, "service.site", f"must be {why}, got {site!r}")
    if not cfg.service.instance:
        raise ConfigError(source, "service.instance", "must be a name (the heartbeat's topic level), got ''")


def _check_service(service: ServiceConfig, source: str) -> None:
    """[service]'s bounds beyond the signs (_section): ConfigError naming `source` and the field. An
    unknown policy was named only when `run` built its service (after the broker's credentials and the
    junctions were read), and only there."""
    if service.policy not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError(source, "service.policy", f"unknown policy {service.policy!r}; known: {known}")
    for key in ("tick_delay_s", "tick_wait_max_s"):
        if not getattr(service, key) < 1.0:  # the next second's messages would be in before its tick
            raise ConfigError(
                source, f"service.{key}", f"must be < 1 s (the feed's period), got {getattr(service, key)}"
            )
    if service.tick_wait_max_s > 0 and service.tick_delay_s > 0:  # two rules for the same start
        raise ConfigError(
            source,
            "service.tick_wait_max_s",
            f"set with tick_delay_s = {service.tick_delay_s}: the tick starts by one rule or the other, set one",
        )


def _check_webster(webster: WebsterParams, source: str) -> None:
    """[webster]'s bounds beyond the signs (_section): ConfigError naming `source` and the field."""
    if webster.max_flow_ratio >= 1.0:
        raise ConfigError(source, "webster.max_flow_ratio", "must be < 1 (Webster's formula diverges at 1)")
    if webster.replan_spread > 1.0:
        raise ConfigError(
            source, "webster.replan_spread", f"a share of the period, must be <= 1, got {webster.replan_spread}"
        )
    if webster.credit_transition_green and not webster.credit_unopposed:
        raise ConfigError(
            source,
            "webster.credit_transition_green",
            "needs webster.credit_unopposed = true (alone it credits nothing)",
        )
    if webster.green_window_offsets and not webster.keep_offsets:
        raise ConfigError(source, "webster.green_window_offsets", "needs webster.keep_offsets = true (no offset kept)")
    needs_offsets = (
        ("carry_green_remainders", webster.carry_green_remainders),
        ("offsets_need_neighbour", webster.offsets_need_neighbour),
    )
    for name, on in needs_offsets:
        if on and not webster.keep_offsets:
            raise ConfigError(source, f"webster.{name}", "needs webster.keep_offsets = true (no offset kept)")


def _check_estimation(e: EstimationParams, source: str) -> None:
    """[estimation] advance_undercount one of its modes, undercount_share a share below 1."""
    if e.advance_undercount not in ADVANCE_UNDERCOUNT_MODES:
        msg = f"must be one of {', '.join(ADVANCE_UNDERCOUNT_MODES)}, got {e.advance_undercount!r}"
        raise ConfigError(source, "estimation.advance_undercount", msg)
    if not e.undercount_share < 1.0:
        raise ConfigError(source, "estimation.undercount_share", f"a share, must be < 1, got {e.undercount_share}")


TURNAROUND_DROPS = ("none", "signals", "all")  # [replay] drop_turnaround_routes


def _check_replay(cfg: Config, p: Path) -> None:
    """[replay]: routeSampler's weight below 1; its aggregation interval a whole multiple of the
    count files' interval (routeSampler takes a part of a count interval by truncating it)."""
    r = cfg.replay
    if not r.minimize_vehicles < 1.0:
        msg = f"routeSampler's weight, must be < 1: {r.minimize_vehicles}"
        raise ConfigError(str(p), "replay.minimize_vehicles", msg)
    if r.drop_turnaround_routes not in TURNAROUND_DROPS:
        msg = f"must be one of {', '.join(TURNAROUND_DROPS)}, got {r.drop_turnaround_routes!r}"
        raise ConfigError(str(p), "replay.drop_turnaround_routes", msg)
    ratio = r.sampler_interval_s / r.interval_s
    if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
        msg = f"must be a whole multiple of replay.interval_s ({r.interval_s}), got {r.sampler_interval_s}"
        raise ConfigError(str(p), "replay.sampler_interval_s", msg)
