"""Issue 14's wiring: [validation] enabled needs a network file that exists; the live service
feeds a RecentCounts from the detector messages it accepts and gives the operators' desk a gate."""

from __future__ import annotations

import pytest

from controller.config import load_config
from controller.errors import ConfigError


@pytest.mark.parametrize("network", ["", "missing.net.xml"])
def test_enabled_validation_without_an_existing_network_is_refused(tmp_path, network):
    p = tmp_path / "c.toml"
    p.write_text(f'[validation]\nenabled = true\nnetwork = "{network}"\n')
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(p) in str(err.value) and "validation.network" in str(err.value)
    if network:
        assert "missing.net.xml" in str(err.value)


def test_enabled_validation_with_a_network_beside_the_config_loads(tmp_path):
    (tmp_path / "city.net.xml").write_text("<net/>")
    p = tmp_path / "c.toml"
    p.write_text('[validation]\nenabled = true\nnetwork = "city.net.xml"\n')
    assert load_config(p).validation.enabled


def test_disabled_validation_needs_no_network(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[validation]\nenabled = false\nnetwork = "missing.net.xml"\n')
    assert not load_config(p).validation.enabled
