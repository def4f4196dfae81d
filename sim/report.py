"""The run report: the figures of the Grafana network overview, as a table on the command line.

`simulate` and `make demo` print it at the end of a run, from summary["online_gains"] (written by
the metrics exporter, controller/adapters/metrics.py). These are the controller's own online
figures — from the detector feed and the roadside status, the same numbers Prometheus scrapes —
not SUMO's evaluation (delay, speed and throughput of sim/evaluate.py, in the table above it).
docs/metrics.md defines them and records how far they are from SUMO's truth.
"""

from __future__ import annotations

import math
from typing import Any

COLUMNS = (  # (heading, key in online_gains["run"], format, shown when the figure is undefined)
    ("crossings/h", "crossings_veh_h", "{:.0f}", "-"),
    ("served PCU/h", "throughput_pcu_h", "{:.0f}", "-"),
    ("fixed PCU/h", "throughput_fixed_pcu_h", "{:.0f}", "-"),
    ("thru gain", "throughput_gain", "{:+.1%}", "n/a"),
    ("delay s/PCU", "measured_delay_s", "{:.1f}", "-"),
    ("model s/PCU", "delay_s", "{:.1f}", "-"),
    ("fixed s/PCU", "delay_fixed_s", "{:.1f}", "-"),
    ("delay gain", "delay_gain", "{:+.1%}", "-"),
    ("speed km/h", "speed_kmh", "{:.1f}", "-"),
)


def _cell(fmt: str, value: Any, undefined: str = "-") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return undefined
    return fmt.format(value)


def gains_table(summaries: list[dict[str, Any]]) -> str:
    """One row per run, run means over the service time: stop-line crossings; PCU served against
    what the fixed-time plans are estimated to serve of the same demand, and their gain ("n/a"
    while those plans serve it all); the measured delay per PCU over a stop line; the shadow
    model's delay under the control given and under the fixed-time plans, and their gain; the
    journey speed over the approaches."""
    widths = [max(len(h), 9) + 2 for h, *_ in COLUMNS]
    head = f"{'policy':<14}" + "".join(f"{h:>{w}}" for (h, *_), w in zip(COLUMNS, widths))
    service_s = max((s.get("online_gains", {}).get("run", {}).get("service_s", 0.0) for s in summaries), default=0.0)
    lines = [
        f"Online figures from the detector feed, as on the Grafana overview "
        f"(run means over {service_s:.0f} s of service time; docs/metrics.md):",
        head,
        "-" * len(head),
    ]
    for s in summaries:
        run = s.get("online_gains", {}).get("run", {})
        lines.append(
            f"{s.get('policy', '?'):<14}"
            + "".join(
                f"{_cell(fmt, run.get(key), undefined):>{w}}" for (_, key, fmt, undefined), w in zip(COLUMNS, widths)
            )
        )
    return "\n".join(lines)
