"""sim/bench_mqtt.py's live controllers start their ticks by the service's own rule ([service] in
ServiceConfig, config.toml's defaults), not by a second default of the bench's (R, session 49:
--tick-wait defaulted to 0, off, after the service's became 0.6)."""

from __future__ import annotations

import pytest

from controller.config import ServiceConfig, load_config
from controller.errors import ConfigError
from sim.bench_mqtt import _parser, bench_cfg, service_given


def given(*argv: str) -> dict[str, float]:
    args = _parser().parse_args(list(argv))
    return service_given(args.tick_delay, args.tick_wait)


def test_without_the_flags_the_bench_ticks_by_the_services_default():
    service = bench_cfg(1.0, given("--service", "live")).service
    assert given("--service", "live") == {}
    assert (
        service.tick_wait_max_s == ServiceConfig().tick_wait_max_s == load_config("config.toml").service.tick_wait_max_s
    )
    assert service.tick_wait_max_s > 0 and service.tick_delay_s == 0.0


def test_the_flags_set_the_rule_and_a_pair_the_service_refuses_is_refused():
    assert bench_cfg(0.0, given("--tick-wait", "0.4")).service.tick_wait_max_s == 0.4
    off = bench_cfg(0.0, given("--tick-wait", "0", "--tick-delay", "0.3")).service
    assert (off.tick_wait_max_s, off.tick_delay_s) == (0.0, 0.3)
    with pytest.raises(ConfigError, match="service.tick_wait_max_s"):  # the delay with the default wait on
        bench_cfg(0.0, given("--tick-delay", "0.3"))
    with pytest.raises(ConfigError, match="service.tick_wait_max_s"):
        bench_cfg(0.0, given("--tick-wait", "1.0"))


def test_the_bench_refuses_the_pair_on_its_command_line(capsys):
    from sim.bench_mqtt import main

    with pytest.raises(SystemExit):
        main(["--service", "live", "--tick-delay", "0.3", "--sizes", "10"])
    assert "tick_wait_max_s" in capsys.readouterr().err
