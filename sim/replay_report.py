"""OUT/report.html of a replay or a `validate`: PNG plots (matplotlib, no display needed) and tables.

- delay per junction, policy against policy (SUMO edgeData: time loss over the junction's
  incoming edges / vehicles that entered them);
- queue over time at the five junctions worst under the recorded plans (mean halting vehicles
  on their incoming edges per minute: edgeData waitingTime / 60 s);
- the distribution of trip speeds (tripinfo: routeLength / duration of arrived vehicles);
- recorded against rebuilt counts, and the GEH table (sim/replay_geh.py).
"""

from __future__ import annotations

import html
import math
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server
import matplotlib.pyplot as plt

from controller.model import Intersection
from sim.replay_geh import GEH_OK, TARGET_SHARE, GehResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WORST = 5


def edgedata_additional(path: Path) -> Path:
    """A SUMO additional file asking for edgeData per minute (time loss, waiting time) into
    edgedata.xml beside it: what the report's delay and queue plots read."""
    root = ET.Element("additional")
    ET.SubElement(
        root,
        "edgeData",
        id="tsc_report",
        period="60",
        file=str(path.with_name("edgedata.xml").resolve()),
        excludeEmpty="true",
    )
    path.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path


def edge_series(path: Path) -> dict[str, dict[float, tuple[float, float, float]]]:
    """edge -> interval begin -> (entered, timeLoss s, waitingTime s) from SUMO edgeData."""
    out: dict[str, dict[float, tuple[float, float, float]]] = defaultdict(dict)
    if not path.exists():
        return out
    for _ev, el in ET.iterparse(path, events=("start",)):
        if el.tag == "interval":
            begin = float(el.get("begin", 0))
        elif el.tag == "edge":
            out[el.get("id", "")][begin] = (
                float(el.get("entered", 0)),
                float(el.get("timeLoss", 0)),
                float(el.get("waitingTime", 0)),
            )
    return out


def junction_delays(
    series: Mapping[str, Mapping[float, tuple[float, float, float]]], junctions: Mapping[str, Intersection]
) -> dict[str, float]:
    """Junction -> mean time loss (s/veh) of the vehicles entering its incoming edges."""
    out = {}
    for jid, j in junctions.items():
        edges = {m.from_edge for m in j.movements}
        entered = sum(v[0] for e in edges for v in series.get(e, {}).values())
        loss = sum(v[1] for e in edges for v in series.get(e, {}).values())
        out[jid] = loss / entered if entered else 0.0
    return out


def junction_queue(
    series: Mapping[str, Mapping[float, tuple[float, float, float]]], j: Intersection, period_s: float = 60.0
) -> tuple[list[float], list[float]]:
    times: dict[float, float] = defaultdict(float)
    for e in {m.from_edge for m in j.movements}:
        for t, v in series.get(e, {}).items():
            times[t] += v[2] / period_s
    ts = sorted(times)
    return ts, [times[t] for t in ts]


def trip_speeds_kmh(tripinfo: Path) -> list[float]:
    speeds: list[float] = []
    if not tripinfo.exists():
        return speeds
    for _ev, el in ET.iterparse(tripinfo):
        if el.tag == "tripinfo" and el.get("arrival", "-1") not in ("-1", "-1.00"):
            duration = float(el.get("duration", 0))
            if duration > 0:
                speeds.append(float(el.get("routeLength", 0)) / duration * 3.6)
        el.clear()
    return speeds


def short_label(jid: str, max_chars: int = 24) -> str:
    """A junction id fit for an axis label: SUMO names a joined cluster after every node in it
    (ids of 150+ characters), which no plot can hold. report.html's table of the worst junctions
    has the full ids."""
    return jid if len(jid) <= max_chars else f"{jid[: max_chars - 1]}…"


def _save(fig: Figure, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name


def plot_delays(out: Path, delays: Mapping[str, Mapping[str, float]], policies: list[str]) -> str:
    order = sorted(delays[policies[0]], key=lambda j: -delays[policies[0]][j])[:25]
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(order) * len(policies)), 4))
    width = 0.8 / len(policies)
    for k, p in enumerate(policies):
        ax.bar([i + k * width for i in range(len(order))], [delays[p].get(j, 0.0) for j in order], width, label=p)
    ax.set_xticks(
        [i + 0.4 - width / 2 for i in range(len(order))], [short_label(j) for j in order], rotation=60, fontsize=8
    )
    ax.set_ylabel("time loss, s/veh")
    ax.set_title("Delay per junction (incoming edges)")
    ax.legend()
    return _save(fig, out / "delay_per_junction.png")


def plot_queues(
    out: Path,
    series: Mapping[str, Mapping[str, Mapping[float, tuple[float, float, float]]]],
    junctions: Mapping[str, Intersection],
    worst: list[str],
    policies: list[str],
) -> str:
    fig, axes = plt.subplots(len(worst) or 1, 1, figsize=(8, 1.9 * max(1, len(worst))), sharex=True, squeeze=False)
    for ax, jid in zip(axes[:, 0], worst):
        for p in policies:
            ts, q = junction_queue(series[p], junctions[jid])
            ax.plot(ts, q, label=p)
        ax.set_ylabel(f"{short_label(jid)}\nveh", fontsize=8)
    axes[0, 0].set_title(f"Queue over time (halting vehicles on the incoming edges), {len(worst)} worst junctions")
    axes[0, 0].legend(fontsize=8)
    axes[-1, 0].set_xlabel("simulation time, s")
    return _save(fig, out / "queues_worst.png")


def plot_speeds(out: Path, speeds: Mapping[str, list[float]], policies: list[str]) -> str:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    top = max([max(v) for v in speeds.values() if v] or [60.0])
    bins = [top * i / 30 for i in range(31)]
    for p in policies:
        ax.hist(speeds[p], bins=bins, histtype="step", label=f"{p} ({len(speeds[p])} trips)")
    ax.set_xlabel("trip speed, km/h")
    ax.set_ylabel("vehicles")
    ax.set_title("Speed distribution of arrived vehicles")
    ax.legend(fontsize=8)
    return _save(fig, out / "speed_distribution.png")


def plot_counts(out: Path, geh: GehResult) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, rows, name in ((axes[0], geh.hourly, "hourly"), (axes[1], geh.quarter, "15 min")):
        c = [r.counted_veh_h for r in rows]
        m = [r.modelled_veh_h for r in rows]
        ok = [r.geh < GEH_OK for r in rows]
        ax.scatter([x for x, k in zip(c, ok) if k], [y for y, k in zip(m, ok) if k], s=8, label=f"GEH < {GEH_OK:g}")
        ax.scatter(
            [x for x, k in zip(c, ok) if not k],
            [y for y, k in zip(m, ok) if not k],
            s=8,
            c="red",
            label=f"GEH >= {GEH_OK:g}",
        )
        top = max(c + m + [1.0])
        ax.plot([0, top], [0, top], "k--", lw=0.8)
        ax.set_xlabel("recorded, veh/h")
        ax.set_ylabel("rebuilt, veh/h")
        ax.set_title(f"{name} counts per site")
        ax.legend(fontsize=8)
    return _save(fig, out / "counts_recorded_vs_rebuilt.png")


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _summary_table(summaries: list[dict[str, Any]]) -> str:
    rows = [
        [
            s["policy"],
            f"{s['delay_s']:.1f}",
            f"{s['speed_kmh']:.2f}",
            f"{s['throughput_veh_h']:.0f}",
            s["vehicles"]["arrived"],
            s["vehicles"]["running"],
            s["vehicles"]["waiting"],
        ]
        for s in summaries
    ]
    return _table(["policy", "delay s/veh", "speed km/h", "arrived/h", "arrived", "running", "waiting"], rows)


def _geh_section(geh: GehResult) -> str:
    def share(x: float) -> str:
        return "n/a" if math.isnan(x) else f"{x:.0%}"

    verdict = "meets" if geh.hourly_share >= TARGET_SHARE else "misses"
    head = (
        f"<p>GEH &lt; {GEH_OK:g} for <b>{share(geh.hourly_share)}</b> of {geh.hourly_n} hourly counts "
        f"({verdict} the {TARGET_SHARE:.0%} target) and {share(geh.quarter_share)} of {geh.quarter_n} "
        f"15-minute counts. A site is the loops of one kind on one edge, summed.</p>"
    )
    worst = sorted(geh.hourly, key=lambda r: -r.geh)[:30]
    rows = [
        [
            r.detector,
            f"{r.period_start_s:.0f}",
            f"{r.period_s:.0f}",
            f"{r.counted_veh_h:.0f}",
            f"{r.modelled_veh_h:.0f}",
            f"{r.geh:.2f}",
        ]
        for r in worst
    ]
    return (
        head
        + "<p>Worst hourly sites:</p>"
        + _table(["site", "from s", "length s", "recorded veh/h", "rebuilt veh/h", "GEH"], rows)
    )


def write_report(
    out: Path,
    summaries: list[dict[str, Any]],
    policies: list[str],
    junctions: Mapping[str, Intersection],
    geh: GehResult | None = None,
    intro: str = "",
) -> Path:
    """out/report.html, from the runs in out/<policy>/ (summary.json, tripinfo.xml, edgedata.xml);
    every image it shows is a PNG file next to it. `intro`: plain text said first."""
    series = {p: edge_series(out / p / "edgedata.xml") for p in policies}
    delays = {p: junction_delays(series[p], junctions) for p in policies}
    worst = sorted(delays[policies[0]], key=lambda j: -delays[policies[0]][j])[:WORST]
    speeds = {p: trip_speeds_kmh(out / p / "tripinfo.xml") for p in policies}
    images = [
        ("Delay per junction", plot_delays(out, delays, policies)),
        ("Queues at the worst junctions", plot_queues(out, series, junctions, worst, policies)),
        ("Speed distribution", plot_speeds(out, speeds, policies)),
    ]
    if geh is not None:
        images.append(("Recorded against rebuilt counts", plot_counts(out, geh)))
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Replay report</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:1em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}</style></head><body>",
        "<h1>Policy comparison</h1>",
        f"<p>{html.escape(intro)}</p>" if intro else "",
        "<h2>Policies</h2>",
        _summary_table(summaries),
    ]
    for title, name in images:
        parts += [f"<h2>{html.escape(title)}</h2>", f"<img src='{html.escape(name)}' alt='{html.escape(title)}'>"]
    head = ["junction", *(f"{p} s/veh" for p in policies)]
    parts += [
        "<h2>Worst junctions</h2>",
        _table(head, [[j, *(f"{delays[p][j]:.1f}" for p in policies)] for j in worst]),
    ]
    if geh is not None:
        parts += ["<h2>Calibration (GEH)</h2>", _geh_section(geh)]
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
