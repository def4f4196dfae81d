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


def test_the_feeder_has_a_connection_per_thousand_junctions_unless_told():
    """A field's roadside units each have their own connection; the bench's one feeder connection for 5,000
    junctions with statuses ran out of QoS 1 message ids and collapsed (the lead, session 49): one per 1,000
    junctions (the broker's max_inflight, a second's statuses in one connection's window)."""
    from sim.bench_mqtt import feeder_connections

    assert [feeder_connections(None, n) for n in (1, 1000, 1001, 5000)] == [1, 1, 2, 5]
    assert feeder_connections(1, 5000) == 1 and feeder_connections(3, 10) == 3
    assert _parser().parse_args([]).feeder_connections is None


def test_each_plans_own_latency_steady_leaves_the_start_out():
    """The own latency's steady figures count only the ticks from the kept window's start + STEADY_AFTER_S: the
    first plans of every junction (one tick at the start, a tenth of a 60 s run's plans) are out of them."""
    from sim.bench_mqtt import STEADY_AFTER_S, _own_latency

    t0 = 100.0
    sent = {t0 + s: 1000.0 + s for s in range(30)}
    handed = {repr(t): [0.0, 0.0] for t in sent}  # both junctions' messages handed at the second's start
    slow, fast = 2.0, 0.1  # the first tick's plans 2 s after their message, the others' 0.1 s
    plans = {str(t): [[0, sent[t] + (slow if t == t0 else fast), t], [1, sent[t] + fast, t]] for t in sent}
    out = _own_latency([{"plans": plans}], sent, handed, t0)
    assert out["own_max"] == 2000.0 and out["own_n"] == 60
    assert out["steady_n"] == 2 * (30 - STEADY_AFTER_S) and round(out["steady_p99"], 6) == 100.0


def test_own_latency_reports_the_steady_p99_without_its_slowest_second():
    """One slow tick in a 60 s run is 1/50 of the plans, more than the 1 % a p99 leaves out: it sets the p99 alone.
    The bench reports the steady p99 without that second's plans too, and names the second (T, session 52)."""
    from sim.bench_mqtt import _own_latency, _own_line

    t0, n = 100.0, 4
    sent = {t0 + s: 1000.0 + s for s in range(60)}
    handed = {repr(t): [0.0] * n for t in sent}
    slow_t = t0 + 30  # every junction's plan of that tick 0.6 s after its message; the others 0.1-0.2 s
    plans = {
        str(t): [[k, sent[t] + (0.6 if t == slow_t else 0.1 + 0.1 * (k == 0 and t == t0 + 40)), t] for k in range(n)]
        for t in sent
    }
    out = _own_latency([{"plans": plans}], sent, handed, t0)
    assert round(out["steady_p99"], 6) == 600.0  # the one slow second is the p99
    assert out["steady_worst_s"] == 30.0 and round(out["steady_p99_but1"], 6) == 100.0
    assert "p99 without its slowest second (+30 s) 100;" in _own_line(out)  # the live row's line says both
    fast = {t: [[k, sent[float(t)] + 0.1, float(t)] for k in range(n)] for t in plans}
    out = _own_latency([{"plans": fast}], sent, handed, t0)
    assert round(out["steady_p99"], 6) == round(out["steady_p99_but1"], 6) == 100.0


def test_pin_reads_roles_and_cpus_and_refuses_what_it_cannot_do():
    """--pin ROLE=CPUS: the roles and CPU numbers it names; an unknown role, a CPU the machine does not have, or
    no number, refused naming the flag (the bench's fair measure: the feeder on a core of its own, T session 51)."""
    from sim.bench_mqtt import pin_roles

    args = _parser().parse_args(["--pin", "controllers=0", "--pin", "feeder=1", "--pin", "broker=1,0"])
    assert pin_roles(args.pin, 2) == {"controllers": [0], "feeder": [1], "broker": [0, 1]}
    assert pin_roles([], 2) == {} and _parser().parse_args([]).pin == []
    for bad, says in (
        ("field=1", "role"),
        ("feeder=2", "from 0 to 1"),
        ("feeder=", "CPU numbers"),
        ("feeder=a", "CPU"),
    ):
        with pytest.raises(ValueError, match=says):
            pin_roles([bad], 2)


def test_pin_sets_every_thread_of_the_process():
    """pin(0, cpus) puts this process's threads (a paho network thread started before, say) on those CPUs."""
    import os
    import threading

    from sim.bench_mqtt import pin

    before = os.sched_getaffinity(0)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        one = [min(before)]
        pin(0, one)
        assert os.sched_getaffinity(0) == os.sched_getaffinity(other.native_id) == set(one)
        pin(0, None)  # None: as it was
        assert os.sched_getaffinity(other.native_id) == set(one)
    finally:
        stop.set()
        other.join()
        pin(0, sorted(before))
    assert os.sched_getaffinity(0) == before


def test_own_latency_by_part_adds_up_to_each_plans_own_latency():
    """--dump, live: each steady plan's own latency split at its region's last message received and its tick's
    start (P, session 57): the parts are those spans, plan by plan, and the line says them."""
    from sim.bench_mqtt import STEADY_AFTER_S, _own_line, _own_parts

    t0 = 100.0
    sent = {t0 + s: 1000.0 + s for s in range(30)}
    handed = {repr(t): [0.0, 40.0] for t in sent}  # junction 1 handed 40 ms after junction 0
    arrived = {str(t): {"0": sent[t] + 0.010, "1": sent[t] + 0.050} for t in sent}  # the region's last in at +50 ms
    begun = {str(t): sent[t] + 0.080 for t in sent}  # the tick starts 30 ms after it
    plans = {str(t): [[0, sent[t] + 0.200, t], [1, sent[t] + 0.300, t]] for t in sent}
    out = _own_parts([{"plans": plans, "arrived": arrived, "begun": begun}], sent, handed, t0)
    # junction 0: 50 + 30 + 120 = its own 200 ms; junction 1: 10 + 30 + 220 = its own 300 - 40 ms
    assert round(out["own_region_p50"], 6) == 30.0 and round(out["own_region_p99"], 6) == 50.0
    assert round(out["own_reads_p99"], 6) == round(out["own_reads_p50"], 6) == 30.0
    assert round(out["own_tick_p50"], 6) == 170.0 and round(out["own_tick_p99"], 6) == 220.0
    early = {str(t): v for t, v in plans.items() if float(t) < t0 + STEADY_AFTER_S}
    assert _own_parts([{"plans": early, "arrived": arrived, "begun": begun}], sent, handed, t0) == {}
    assert _own_parts([{"plans": plans}], sent, handed, t0) == {}  # no --dump: no parts
    line = _own_line({"own_p50": 1, "own_p99": 1, "own_max": 1, "own_n": 1, "feed_p50": 1, "feed_p99": 1} | out)
    assert "by part, ms p50/p99: region " in line and ", reads 30/30, tick " in line


def test_the_bench_s_controllers_connect_with_run_s_settings():
    """The controllers' connection is `run`'s (MqttSettings.from_config of [broker]: its in-flight window above all,
    1,000 in the bench before session 64 where `run` had 20), only to the bench's broker and user; --max-inflight
    sets [broker] max_inflight as a config file would."""
    from dataclasses import replace

    from controller.adapters.mqtt import MqttSettings
    from controller.config import Config
    from sim.bench_mqtt import BENCH_USER, broker_given, service_settings

    spec = {"host": "127.0.0.1", "port": 1884, "password": "pw"}
    got = service_settings(spec, bench_cfg(), "ctl-1")
    run = MqttSettings.from_config(Config().broker, "tsc-x", password="pw")
    assert got == replace(run, host="127.0.0.1", port=1884, username=BENCH_USER, client_id="ctl-1")
    assert got.max_inflight == load_config("config.toml").broker.max_inflight
    given = broker_given(_parser().parse_args(["--max-inflight", "700"]).max_inflight)
    assert service_settings(spec, bench_cfg(broker=given), "c").max_inflight == 700
    assert broker_given(_parser().parse_args([]).max_inflight) == {}
    with pytest.raises(ConfigError, match=r"broker\.max_inflight"):
        bench_cfg(broker=broker_given(0))


def test_each_plan_is_matched_to_the_first_puback_of_its_id_after_it_was_handed():
    """A plan's PUBACK is the first of its message id that came in after the plan was handed to the client (ids
    come round again); a plan never acknowledged gets None."""
    from sim.bench_mqtt import _StampedAcks

    class Client:
        def __init__(self) -> None:
            self.acks = {7: 0}

    client = Client()
    acks = _StampedAcks.install(client)  # type: ignore[arg-type]
    assert client.acks is acks and acks == {7: 0}
    acks[5] = 0
    acks.walls[5] = [10.0, 20.0, 30.0]  # id 5 acknowledged three times (ids come round again)
    acks.walls[6] = [11.0]
    plans = {2.0: [[0, 19.0, 2.0, 5], [1, 10.5, 2.0, 6]], 1.0: [[0, 9.0, 1.0, 5], [2, 12.0, 1.0, 6]]}
    acks.resolve(plans)
    assert plans[1.0] == [[0, 9.0, 1.0, 10.0], [2, 12.0, 1.0, None]]
    assert plans[2.0] == [[0, 19.0, 2.0, 20.0], [1, 10.5, 2.0, None]]


def test_each_plans_own_latency_to_its_puback():
    """to="acked": from the plan's message to its PUBACK (the entry's fourth field), plans never acknowledged left
    out and counted; the line says both."""
    from sim.bench_mqtt import _acked_line, _own_latency

    t0 = 100.0
    sent = {t0 + s: 1000.0 + s for s in range(30)}
    handed = {repr(t): [0.0, 0.0] for t in sent}
    plans = {str(t): [[0, sent[t] + 0.1, t, sent[t] + 0.4], [1, sent[t] + 0.1, t, None]] for t in sent}
    handed_out = _own_latency([{"plans": plans}], sent, handed, t0)
    acked = _own_latency([{"plans": plans}], sent, handed, t0, to="acked")
    assert round(handed_out["own_p99"], 6) == 100.0 and handed_out["own_n"] == 60 and handed_out["own_unacked"] == 0
    assert round(acked["own_p99"], 6) == 400.0 and acked["own_n"] == 30 and acked["own_unacked"] == 30
    hz = {f"acked_{k}": v for k, v in acked.items()}
    assert "to its PUBACK (the broker has it), ms p50/p99/max: 400/400/400 (30 plans, 30 never" in _acked_line(hz)
