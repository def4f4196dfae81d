from pathlib import Path

import pytest

from controller.config import load_config
from controller.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_project_config_loads():
    cfg = load_config(ROOT / "config.toml")
    assert cfg.pcu.bus == 2.0 and cfg.pcu.motorcycle == 0.4 and cfg.pcu.truck == 2.5
    assert cfg.source.endswith("config.toml")


@pytest.mark.parametrize("text, field", [
    ("[timing]\nmin_green_s = -3\n", "timing.min_green_s"),
    ("[timing]\nmin_green_s = 70.0\n", "timing.min_green_s"),
    ("[timing]\nmin_greens = 7\n", "timing.min_greens"),
    ("[pcu]\nbus = \"two\"\n", "pcu.bus"),
    ("[broker]\nport = 1883.5\n", "broker.port"),
    ("[broker]\ntls = 1\n", "broker.tls"),
    ("[estimation]\nclear_gap_s = 0\n", "estimation.clear_gap_s"),
    ("[estimation]\nvehicle_spacing_m = 7.5\n", "estimation.vehicle_spacing_m"),
    ("[webster]\nmax_flow_ratio = 1.0\n", "webster.max_flow_ratio"),
    ("[nonsense]\nx = 1\n", "nonsense"),
    ("timing = 3\n", "timing"),
    ("[timing\n", "-"),
])
def test_bad_config_names_file_and_field(tmp_path, text, field):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert err.value.field == field
    assert str(err.value).startswith(str(p))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.toml")


@pytest.mark.parametrize("policy", ["max_pressure", "adaptive", "schedule"])
def test_the_clearance_gap_of_config_reaches_every_policy_using_the_rule(tmp_path, policy):
    from controller.core.policies import make_policy

    text = (ROOT / "config.toml").read_text().replace("clearance_gap_s = 4.0", "clearance_gap_s = 7.5")
    (tmp_path / "c.toml").write_text(text)
    assert make_policy(policy, load_config(tmp_path / "c.toml")).clearance_gap_s == 7.5
