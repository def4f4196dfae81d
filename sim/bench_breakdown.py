"""Benchmark: where the wall time of one in-process `simulate` run goes, stage by stage.

    python -m sim.bench_breakdown SUMOCFG [--policy fixed] [--runs 1] [--out DIR] [--via-mqtt] [-- SUMO ARGS...]

Runs `simulate` (--runs times, in this process) with a timer around each stage of the closed
loop (SUMO's step, the field reading its loops and actuating, the service checking the feed,
the core's estimator, do-no-harm replay and decision, the metrics) and prints a table of CPU
seconds (process time) and wall seconds per stage, medians over the runs, nested stages
indented under the one that contains them. CPU time is what the machine's other load disturbs
least. Timers (sim/timers.py) cost a few microseconds per call; use bench_speed for the ratios to plain SUMO.
The calls column counts each stage's outer calls: a stage with 0 timed nothing in this run (another
policy's pass, a function an older tree calls, decide() where the network pass decides every junction).
A stage is wrapped where it is defined (the class, or the module whose global the callers look up), so
which modules were imported before the timers does not matter; a caller that bound a module function to
its own name (`from m import f`) before the wrap would bypass it, and none of the stages' callers does
(checked in session 60: tests/integration/test_bench_breakdown.py).
With --via-mqtt the run is a lockstep replay through a private Mosquitto (sim/mqtt_run.py): its
transport's stages come first, and the broker's CPU (a child process) last.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sim.timers import Timers

STAGES: tuple[tuple[str, str, str], ...] = (  # (module, attribute, label): nested labels are indented
    ("libsumo", "simulationStep", "SUMO step (libsumo)"),
    ("sim.field:SumoField", "detector_frame", "field: read loops into a frame"),
    ("sim.field:SumoField", "actuate", "field: roadside controllers"),
    ("sim.field:SumoField", "actuate_bodies", "field: roadside controllers"),  # in process since session 12
    ("controller.service:ControllerService", "on_detector_frame", "service: check the frame"),
    ("controller.service:ControllerService", "on_status", "service: statuses"),
    ("controller.service:ControllerService", "on_status_body", "service: statuses"),  # in process since session 12
    ("controller.core.step:Core", "step", "core step (all junctions)"),
    ("controller.core.netestimate", "fold", "  estimator"),
    ("controller.core.netestimate", "readings_from_frame", "    frame -> network arrays"),
    ("controller.core.netestimate", "update_lanes", "    lane update (compiled once warmed up: lanerows)"),
    ("controller.core.netestimate", "_movements", "    borrowing, lanes -> movements (network)"),
    ("controller.core.netestimate", "_cut", "    per junction: estimates cut from the network"),
    ("controller.core.step:Core", "_observe_harm", "  do-no-harm: replays, and the charges for a verdict"),
    ("controller.core.netshadow", "advance_all", "    do-no-harm replay"),
    ("controller.core.step:Core", "_decide_network", "  policy: the network pass (every junction's decision)"),
    ("controller.core.step:Core", "_gate_due", "  safety gate: the network pass's cycle wishes together"),
    ("controller.core.step:Core", "_junction", "  per junction: policy, gate, send"),
    ("controller.adapters.metrics:ServiceMetrics", "tick_done", "metrics (per tick)"),
    # a run nobody collects (no --metrics-port: ServiceMetrics(collected=False)) finds only the junctions due
    ("controller.adapters.metrics:ServiceMetrics", "_due", "  every tick: the junctions due (nothing collects)"),
    ("controller.adapters.metrics:ServiceMetrics", "_refresh", "  junctions due: figures and gauges"),
    ("controller.adapters.metrics:ServiceMetrics", "_update_junction", "    per junction: gauges"),
    ("controller.adapters.metrics:ServiceMetrics", "_network", "  network figures"),
    ("sim.simulate", "prepare", "start: junction import, loops file"),
    ("sim.simulate", "evaluate", "end: evaluation"),
)

# --deep: the per-junction stage split further (18,000 calls each on the city in 900 s: their
# timers add ~0.04 s each, so the outer stages read higher than without them)
DEEP: tuple[tuple[str, str, str], ...] = (
    ("controller.core.step:Core", "_guard", "    do-no-harm mode (harm.decide)"),
    # decide() runs only where the network pass leaves a junction to it (NetPressure.held_at) or is off
    ("controller.core.policies.max_pressure:MaxPressurePolicy", "decide", "    policy decide (max_pressure, no pass)"),
    ("controller.core.policies.max_pressure", "phase_pressures", "      pressures"),
    ("controller.core.policies.max_pressure:MaxPressurePolicy", "_track_box", "      permitted-turn box"),
    ("controller.core.step:Core", "_gate", "    safety gate"),
    ("controller.core.step:Core", "_send", "    send or refresh"),
)

# --deep, under the network pass (Core._decide_network): the policies' passes over every junction
DEEP_NET: tuple[tuple[str, str, str], ...] = (
    ("controller.core.policies.max_pressure_net:NetPressure", "decide_all", "    max_pressure's pass (decide_all)"),
    ("controller.core.policies.max_pressure_net:NetPressure", "_pressures", "      pressures (network)"),
    ("controller.core.policies.max_pressure_net:NetPressure", "_boxes", "      permitted-turn boxes (network)"),
    ("controller.core.policies.webster_net:NetWebster", "decide_all", "    webster's pass (decide_all)"),
)

# --via-mqtt: the lockstep replay's transport (sim/mqtt_run.py), nested as they run: the field's
# second holds the pump's rounds (every packet read) and, between them, the controller's ticks
VIA_MQTT: tuple[tuple[str, str, str], ...] = (
    ("sim.mqtt_run:MqttLoop", "_second_lockstep", "via MQTT: the field's second (publish, wait, apply)"),
    ("sim.field:SumoField", "detector_messages", "  field: loops read, messages built"),
    ("sim.field", "encode_detector_message", "    detector messages encoded (JSON)"),  # before session 15
    ("controller.core.messages:DetectorMessageFormat", "encode", "    detector messages encoded (JSON)"),
    ("controller.adapters.mqtt_pump:MqttPump", "run_once", "  pump: poll, reads, writes"),
    ("paho.mqtt.client:Client", "_packet_read", "    paho: packets read and handled"),
    # the lean reader replaces each client's _packet_read on the instance when it starts (paho_read.install)
    ("controller.adapters.paho_read", "lean_packet_read", "    paho: packets read and handled"),
    ("controller.live:LockstepStepper", "step", "  controller: lockstep step (between the pump's rounds)"),
    ("controller.live", "_t_of", "    each message parsed, its t read"),
    ("controller.service:ControllerService", "on_detector_batch", "    service: decode and check the batch"),
    ("controller.live:ServiceNode", "_tick", "    service tick (core, metrics, plans published)"),
    ("sim.mqtt_run:MqttLoop", "_collect_plan", "  field: plans decoded"),
    ("sim.mqtt_run:MqttLoop", "_apply", "  field: plans applied (roadside checks)"),
    ("sim.mqtt_run:MqttLoop", "_publish_statuses", "  field: statuses (roadside tick, publish)"),
    ("paho.mqtt.client:Client", "publish", "paho: publish (every client, anywhere above)"),
)

WHOLE = "whole run (after imports)"
BROKER = "broker (Mosquitto, a child process)"


def _children_cpu_s() -> float:
    import resource

    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _nested(
    stages: tuple[tuple[str, str, str], ...], under: str, rows: tuple[tuple[str, str, str], ...]
) -> tuple[tuple[str, str, str], ...]:
    """`stages` with `rows` right after the first stage whose label starts with `under`."""
    at = next(i for i, (_s, _n, lab) in enumerate(stages) if lab.startswith(under)) + 1
    return stages[:at] + rows + stages[at:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sumocfg", type=Path)
    ap.add_argument("--policy", default="fixed")
    ap.add_argument("--runs", type=int, default=1, help="runs in this process (medians are printed)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one)")
    ap.add_argument("--config", type=Path, default=Path("config.toml"))
    ap.add_argument("--deep", action="store_true", help="also time the per-junction stage's parts")
    ap.add_argument("--via-mqtt", action="store_true", help="a lockstep replay through a private Mosquitto")
    args, sumo_args = ap.parse_known_args(argv)
    sumo_args = [a for a in sumo_args if a != "--"]
    from controller.config import load_config
    from sim.mqtt_run import run_via_mqtt
    from sim.simulate import SimulateRequest, run

    simulate = run_via_mqtt if args.via_mqtt else run
    n_runs = max(args.runs, 1)
    timers = Timers(cpu=time.process_time, wall=time.perf_counter)
    cpu, totals = timers.totals["cpu"], timers.totals["wall"]
    stages = STAGES
    if args.deep:  # the parts go under the network pass and under "per junction: policy, gate, send"
        stages = _nested(_nested(stages, "  policy: the network pass", DEEP_NET), "  per junction:", DEEP)
    if args.via_mqtt:
        stages = VIA_MQTT + stages
    for spec, name, label in stages:
        timers.wrap(spec, name, label)  # an older tree lacks some (a label may name two)
    runs: list[tuple[dict[str, float], dict[str, float], dict[str, int]]] = []
    cfg = load_config(args.config)
    if getattr(cfg.service, "simulate_metrics_thread", False):  # a stage's process time: one thread at work
        cfg = dataclasses.replace(cfg, service=dataclasses.replace(cfg.service, simulate_metrics_thread=False))
    for _ in range(n_runs):
        timers.reset()
        with tempfile.TemporaryDirectory() as tmp:
            out = args.out or Path(tmp)
            t0, c0, b0 = time.perf_counter(), time.process_time(), _children_cpu_s()
            simulate(SimulateRequest(args.sumocfg, out, args.policy, tuple(sumo_args)), cfg, progress=lambda line: None)
            totals[WHOLE], cpu[WHOLE] = time.perf_counter() - t0, time.process_time() - c0
            cpu[BROKER] = _children_cpu_s() - b0  # the broker is stopped (reaped) when run returns
        runs.append((dict(cpu), dict(totals), dict(timers.calls)))
    timers.unwrap()
    print(f"scenario: {args.sumocfg}  policy: {args.policy}  sumo args: {' '.join(sumo_args)}  runs: {n_runs}")
    labels = [*dict.fromkeys(lab for _s, _n, lab in stages), WHOLE, *([BROKER] if args.via_mqtt else [])]
    print("\n".join(table(labels, runs)))
    return 0


def table(labels: list[str], runs: list[tuple[dict[str, float], dict[str, float], dict[str, int]]]) -> list[str]:
    """The printed table's lines: per label, the medians over `runs` (CPU s, wall s, calls) of its
    seconds and calls; "-" for calls where nothing counts them (the whole run, the broker)."""
    head = "| stage | CPU s (median) | wall s (median) | calls (median) | CPU s, each run |"
    lines = [head, "|---|---:|---:|---:|---|"]
    for label in labels:
        c = [r[0].get(label, 0.0) for r in runs]
        w = [r[1].get(label, 0.0) for r in runs]
        n = [r[2][label] for r in runs if label in r[2]]
        each = ", ".join(f"{x:.2f}" for x in c)
        name = label.replace("  ", "&nbsp;&nbsp;")
        calls = f"{statistics.median(n):.0f}" if n else "-"
        lines.append(f"| {name} | {statistics.median(c):.2f} | {statistics.median(w):.2f} | {calls} | {each} |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
