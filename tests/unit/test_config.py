from pathlib import Path

import pytest

from controller.config import load_config
from controller.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_project_config_loads():
    cfg = load_config(ROOT / "config.toml")
    assert cfg.pcu.bus == 2.0 and cfg.pcu.motorcycle == 0.4 and cfg.pcu.truck == 2.5
    assert cfg.source.endswith("config.toml")


@pytest.mark.parametrize(
    "text, field",
    [
        ("[timing]\nmin_green_s = -3\n", "timing.min_green_s"),
        ("[timing]\nmin_green_s = 70.0\n", "timing.min_green_s"),
        ("[timing]\nmin_greens = 7\n", "timing.min_greens"),
        ('[pcu]\nbus = "two"\n', "pcu.bus"),
        ("[broker]\nport = 1883.5\n", "broker.port"),
        ("[broker]\ntls = 1\n", "broker.tls"),
        ("[service]\nsimulate_second_process = 1\n", "service.simulate_second_process"),
        ("[service]\nsimulate_metrics_thread = 1\n", "service.simulate_metrics_thread"),
        ("[estimation]\nclear_gap_s = 0\n", "estimation.clear_gap_s"),
        ("[estimation]\nvehicle_spacing_m = 7.5\n", "estimation.vehicle_spacing_m"),
        ("[webster]\nmax_flow_ratio = 1.0\n", "webster.max_flow_ratio"),
        ("[webster]\nhold_short_phases = 1\n", "webster.hold_short_phases"),
        ('[webster]\nfit_capacity = "on"\n', "webster.fit_capacity"),
        ("[webster]\ncity_split = 1\n", "webster.city_split"),
        ('[webster]\nplatoon_fit = "yes"\n', "webster.platoon_fit"),
        ("[webster]\nreplan_spread = 1.5\n", "webster.replan_spread"),
        ("[webster]\ngreen_window_offsets = true\n", "webster.green_window_offsets"),  # without keep_offsets
        ("[webster]\ncarry_green_remainders = true\n", "webster.carry_green_remainders"),  # without keep_offsets
        ("[webster]\noffsets_need_neighbour = true\n", "webster.offsets_need_neighbour"),  # without keep_offsets
        (
            "[webster]\ncredit_unopposed = false\ncredit_transition_green = true\n",
            "webster.credit_transition_green",
        ),  # alone it credits nothing
        ('[schedule]\nsaturation_floor = "yes"\n', "schedule.saturation_floor"),
        ("[schedule]\npermitted_rest = 1\n", "schedule.permitted_rest"),
        ('[schedule]\nchange_loses_capacity = "yes"\n', "schedule.change_loses_capacity"),
        ("[max_pressure]\nclearance_min_pcu = 0.5\n", "max_pressure.clearance_min_pcu"),
        ("[scats]\noffsets = 1\n", "scats.offsets"),
        ("[schedule]\nmax_clusters = 2.5\n", "schedule.max_clusters"),
        ("[harm]\nwindow_s = 0\n", "harm.window_s"),
        ("[harm]\nmeasured_spill = 1\n", "harm.measured_spill"),
        ("[harm]\nprogram_timeline = 1\n", "harm.program_timeline"),
        ("[harm]\nlock_green_s = -1\n", "harm.lock_green_s"),
        ('[metrics]\nstagger = "yes"\n', "metrics.stagger"),
        ("[roadside]\nkeep_off_through_intergreen = 1\n", "roadside.keep_off_through_intergreen"),
        ("[detectors]\ncoupled_by_min_green = 1\n", "detectors.coupled_by_min_green"),
        ('[detectors]\npair_one_program = "yes"\n', "detectors.pair_one_program"),
        ('[timing]\nprogram_clearances = "yes"\n', "timing.program_clearances"),
        ("[estimation]\noff_is_permitted = 1\n", "estimation.off_is_permitted"),
        ('[estimation]\nkeep_clear = "yes"\n', "estimation.keep_clear"),
        ("[estimation]\ncoupled_exit_red = 1\n", "estimation.coupled_exit_red"),
        ("[estimation]\ncoupled_exit_all = 1\n", "estimation.coupled_exit_all"),
        ("[archive]\nretention_days = 0\n", "archive.retention_days"),  # ints are checked too
        ("[schedule]\nhorizon_s = -1\n", "schedule.horizon_s"),
        ("[broker]\nport = -1\n", "broker.port"),
        ("[service]\ntick_delay_s = 1.0\n", "service.tick_delay_s"),  # the next second's messages before its tick
        ("[service]\ntick_delay_s = -0.1\n", "service.tick_delay_s"),
        ("[service]\ntick_wait_max_s = 1.0\n", "service.tick_wait_max_s"),
        ("[service]\ntick_wait_max_s = -0.1\n", "service.tick_wait_max_s"),
        ("[service]\ntick_wait_max_s = 0.6\ntick_delay_s = 0.3\n", "service.tick_wait_max_s"),  # one rule or the other
        ("[regions]\nlease_s = 8.0\n", "regions.lease_s"),  # under 2 x the default heartbeat (5 s)
        ("[regions]\nheartbeat_s = 10.0\nlease_s = 15.0\n", "regions.lease_s"),
        ("[regions]\nheartbeat_s = 0\n", "regions.heartbeat_s"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ("timing = 3\n", "timing"),
        ("[timing\n", "-"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path, text, field):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert err.value.field == field
    assert str(err.value).startswith(str(p))


@pytest.mark.parametrize(
    "text",
    [
        '[estimation]\nkeep_clear = "yes"\n',
        "[estimation]\ncoupled_exit_red = 1\n",
        "[estimation]\ncoupled_exit_all = 1\n",
        "[harm]\nmeasured_spill = 1\n",
        "[harm]\nprogram_timeline = 1\n",
        "[estimation]\noff_is_permitted = 1\n",
    ],
)
def test_a_switch_is_refused_for_its_type_not_as_an_unknown_key(tmp_path, text):
    """The rows above pass for an unknown key too (same field): these keys exist and want a bool."""
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert "unknown key" not in str(err.value)


@pytest.mark.parametrize("value", ["1.0", "0.2"])
def test_a_removed_key_loads_with_a_warning_naming_file_and_key(tmp_path, caplog, value):
    """service.tick_s was removed (the service decides every DECISION_PERIOD_S, the 1 Hz feed's
    period): a config still carrying it loads, its value unread, with a deprecation warning."""
    import dataclasses
    import logging

    from controller.config import ServiceConfig

    p = tmp_path / "c.toml"
    p.write_text(f"[service]\ntick_s = {value}\nfeed_stale_s = 4.0\n")
    with caplog.at_level(logging.WARNING, logger="controller.config"):
        cfg = load_config(p)
    assert cfg.service == ServiceConfig(feed_stale_s=4.0)
    assert "tick_s" not in {f.name for f in dataclasses.fields(ServiceConfig)}
    msg = caplog.text
    assert str(p) in msg and "service.tick_s is deprecated and ignored" in msg and "realtime_factor" in msg


def test_the_positive_rule_is_per_section_and_names_existing_numeric_fields(tmp_path):
    """_POSITIVE lists section.field: every entry is a number of Config (a typo or a removed
    field fails here), and a rule on one section's field does not reach another's."""
    import dataclasses
    from typing import get_type_hints

    from controller.config import _POSITIVE, Config

    numeric = {
        f"{sec}.{f.name}"
        for sec, cls in get_type_hints(Config).items()
        if sec != "source"
        for f in dataclasses.fields(cls)
        if get_type_hints(cls)[f.name] in (int, float)
    }
    assert not _POSITIVE - numeric, sorted(_POSITIVE - numeric)
    assert "harm.window_s" in _POSITIVE and "harm.margin_s" not in _POSITIVE
    p = tmp_path / "c.toml"
    p.write_text("[harm]\nmargin_s = 0\n[scats]\ngap_out_s = 0\n")  # may be 0: loads
    assert load_config(p).harm.margin_s == 0.0


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.toml")


def test_a_folder_or_a_binary_file_as_config_is_named(tmp_path):
    """--config naming a folder was an IsADirectoryError traceback, a binary file a UnicodeDecodeError one."""
    with pytest.raises(ConfigError, match=r": -: cannot be read: Is a directory"):
        load_config(tmp_path)
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match=r"bin\.toml: -: malformed TOML"):
        load_config(tmp_path / "bin.toml")


@pytest.mark.parametrize(
    "policy, section",
    [
        ("webster", "webster"),
        ("max_pressure", "max_pressure"),
        ("adaptive", "max_pressure"),
        ("schedule", "schedule"),
        ("scats", "scats"),
    ],
)
def test_every_field_of_a_policy_section_reaches_the_policy_by_name(tmp_path, policy, section):
    import dataclasses

    from controller.core.policies import make_policy

    params_cls = type(getattr(load_config(None), section))
    changed = {}
    # credit_transition_green: on, it needs credit_unopposed, flipped off here (its own wire: test_webster_unopposed);
    # ds_mean_cycles, webster_flow_cycles: below 1 refused (their own wires: test_scats_ds_mean,
    # test_scats_webster_flow_mean)
    keep = {"credit_transition_green", "ds_mean_cycles", "webster_flow_cycles"}
    for f in dataclasses.fields(params_cls):
        if f.name in keep:
            continue
        if f.type in (bool, "bool"):
            changed[f.name] = not f.default
        elif f.type in (int, "int"):
            changed[f.name] = f.default + 1
        else:
            changed[f.name] = round(f.default * 0.5 + 0.25, 3)
    lines = [f"[{section}]"] + [f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in changed.items()]
    (tmp_path / "c.toml").write_text("\n".join(lines) + "\n")
    assert make_policy(policy, load_config(tmp_path / "c.toml")).params == params_cls(**changed)


def test_a_missing_key_keeps_the_dataclass_default(tmp_path):
    from controller.core.params import ScheduleParams

    (tmp_path / "c.toml").write_text("[schedule]\nhorizon_s = 60\n")
    assert load_config(tmp_path / "c.toml").schedule == ScheduleParams(horizon_s=60.0)


def test_config_toml_states_every_default():
    """config.toml documents the dataclasses: every field, with the default value."""
    import dataclasses
    import tomllib

    raw = tomllib.loads((ROOT / "config.toml").read_text())
    cfg = load_config(None)
    sections = {f.name for f in dataclasses.fields(cfg)} - {"source"}
    assert sections - set(raw) == set(), "config.toml lacks these sections"
    for section, table in raw.items():
        defaults = getattr(cfg, section)
        for f in dataclasses.fields(defaults):
            assert f.name in table, f"config.toml [{section}] lacks {f.name}"
            written = tuple(table[f.name]) if isinstance(table[f.name], list) else table[f.name]
            assert written == getattr(defaults, f.name), f"config.toml [{section}].{f.name} differs from the default"


def test_a_lease_of_exactly_two_heartbeats_is_accepted(tmp_path):
    """A region's lease must outlast two heartbeat periods, or one late heartbeat hands it over
    (shorter ones: test_bad_config_names_file_and_field); exactly two is the bound."""
    p = tmp_path / "c.toml"
    p.write_text("[regions]\nheartbeat_s = 2.5\nlease_s = 5.0\n")
    cfg = load_config(p)
    assert (cfg.regions.heartbeat_s, cfg.regions.lease_s) == (2.5, 5.0)


@pytest.mark.parametrize(
    "text, field",
    [
        ("[broker]\nport = 70000\n", "broker.port"),
        ("[broker]\nport = 0\n", "broker.port"),
        ('[broker]\nhost = ""\n', "broker.host"),
        ('[service]\nsite = "north/east"\n', "service.site"),
        ('[service]\nsite = "city+"\n', "service.site"),
        ('[service]\nsite = ""\n', "service.site"),
        ('[service]\ninstance = ""\n', "service.instance"),
        ("[metrics]\nport = 70000\n", "metrics.port"),
    ],
)
def test_broker_address_and_topic_names_are_checked_at_load(tmp_path, text, field):
    """Before session 59 (U) these loaded: the port and host failed only at the connection, a site
    with '/' or '+' only when the first topic was built (an error naming no file)."""
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert err.value.field == field and str(err.value).startswith(f"{p}: {field}: must be")


def test_names_that_fit_the_topic_tree_load(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[broker]\nport = 65535\nhost = "10.0.0.1"\n[service]\nsite = "bologna-2"\ninstance = "ctl #2"\n')
    cfg = load_config(p)
    assert (cfg.broker.port, cfg.service.site, cfg.service.instance) == (65535, "bologna-2", "ctl #2")
