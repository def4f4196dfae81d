"""End to end with a real Prometheus: every PromQL expression of the Grafana dashboards returns data.

A Prometheus (the Debian package, /usr/bin/prometheus) starts on a free loopback port, scraping
the controller's metrics endpoint every second. The controller runs the bundled city through a
private Mosquitto (`simulate --via-mqtt`, first 600 simulated seconds) with `--metrics-port`, and
keeps serving its metrics after the run until this test has queried. Then each target of each
panel of grafana/dashboards/*.json, with its variables substituted ($junction: a junction the
variable's own label_values query finds), is queried through Prometheus's HTTP API; a query that
returns nothing (or only NaN) fails the test, naming the dashboard and the panel. The throughput
gains are the exception: below the fixed plans' capacity they are NaN by definition ("n/a",
docs/metrics.md), so for them the series must exist, not be finite.

The run's junction files are the city's with one edited by hand (J11's stage 0, as in
tests/integration/test_stage_check_sim.py): the service refuses J11 at start, so the run also
shows a refused junction through Prometheus (mode `refused`, its reason on
tsc_junction_refused_info, the health board's count and table).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import tomli_w

from sim.broker import free_port
from sim.commands import simulate_command
from tests.live_fixtures import Stopped, skip_without_mosquitto

pytest.importorskip("sumo")

ROOT = Path(__file__).resolve().parents[2]
CITY = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
CITY_JUNCTIONS = ROOT / "intersections" / "city"
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
END_S = 600
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
# Grafana's built-in interval variables, as Grafana would expand them for a 1 s scrape interval.
# Gauges that are NaN by definition while the fixed-time plans serve the whole demand.
MAY_BE_NAN = ("tsc_network_throughput_gain_ratio", "tsc_junction_throughput_gain_ratio")
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "10m", "__interval_ms": "15000"}
REFUSED = "J11"  # its stage 0 edited so that no phase of its program shows it: refused at start
EDITED = ("rrrrGGGGgrrrrGGGGg", "rrrrGGGGrrrrrGGGGr")  # J11's stage 0: its permitted lefts taken out

skip_without_mosquitto()
if not os.access(PROMETHEUS, os.X_OK):
    pytest.skip("prometheus is not installed (make system-deps)", allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300), pytest.mark.wallclock]  # 250 ms scrapes, run_s


def api(base: str, path: str, **params) -> dict:
    url = f"{base}{path}?{urllib.parse.urlencode(params, doseq=True)}"
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.loads(r.read())
    assert body.get("status") == "success", f"{url}: {body}"
    return body["data"]


def instant(run: dict, expr: str) -> list:
    """The result of the PromQL expression at the run's last successful scrape (run["at"])."""
    return api(run["base"], "/api/v1/query", query=expr, time=run["at"])["result"]


def wait_for(what: str, check, timeout_s: float, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            pytest.fail(f"{what}: process exited with {proc.returncode} first\n{tail}")
        try:
            got = check()
        except OSError:
            got = None
        if got:
            return got
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout_s:g} s")


def _target_scraped(base: str) -> bool:
    targets = api(base, "/api/v1/targets")["activeTargets"]
    return bool(targets) and all(t["health"] != "unknown" for t in targets)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """A Prometheus scraping 127.0.0.1:{metrics port} every 250 ms (the 600 s run takes a few
    seconds of wall time: scrapes must be dense enough to see its figures move); yields (base
    URL, metrics port)."""
    work = tmp_path_factory.mktemp("prometheus")
    metrics_port, web_port = free_port(), free_port()
    (work / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: tsc\n    scrape_interval: 250ms\n    scrape_timeout: 250ms\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    log = work / "prometheus.log"
    with Stopped(within_s=20) as procs:  # one that ignores SIGTERM fails the module's teardown, with its log
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={work / 'data'}",
                    f"--web.listen-address=127.0.0.1:{web_port}",
                    "--log.level=warn",
                ],
                stdout=out,
                stderr=out,
            )
        procs.add("prometheus", proc, log)
        base = f"http://127.0.0.1:{web_port}"
        wait_for(
            "prometheus ready",
            lambda: urllib.request.urlopen(f"{base}/-/ready", timeout=2).status == 200,
            30,
            proc,
            log,
        )
        # Prometheus applies its targets some seconds after it is ready; the run takes a few seconds
        # of wall time and must not end before the first scrape. A scrape of the (not yet served)
        # port, failed or not, marks the target's health other than "unknown".
        wait_for("prometheus scraping its target", lambda: _target_scraped(base), 60, proc, log)
        yield base, metrics_port


@pytest.fixture(scope="module")
def scraped_run(prometheus, tmp_path_factory):
    """The city through MQTT with its metrics scraped; the controller's process is still serving
    them (lingering) when this yields, and is stopped after the module."""
    base, metrics_port = prometheus
    work = tmp_path_factory.mktemp("scraped_run")
    config, inter = city_with_one_refused(work)
    out, log, stdout = work / "out", work / "simulate.log", work / "simulate.stdout"
    cmd = simulate_command(
        CITY,
        out,
        "webster",
        config=config,
        sumo_args=("--end", str(END_S)),
        options=(
            "--intersections",
            str(inter),
            "--via-mqtt",
            "--metrics-port",
            str(metrics_port),
            "--metrics-linger-s",
            "240",
        ),
    )
    t0 = time.monotonic()
    with Stopped(within_s=20) as procs:  # a simulate that ignores SIGTERM fails the module's teardown, with its log
        with open(log, "wb") as err, open(stdout, "wb") as so:
            proc = procs.add("simulate (lingering)", subprocess.Popen(cmd, cwd=work, stdout=so, stderr=err), log)
        summary = wait_for(
            "simulate wrote summary.json",
            lambda: (out / "summary.json").exists() and json.loads((out / "summary.json").read_text()),
            200,
            proc,
            log,
        )
        run_s = time.monotonic() - t0

        def final_scraped():
            r = api(base, "/api/v1/query", query="max(tsc_service_time_seconds)")["result"]
            return r and float(r[0]["value"][1]) >= END_S - 1

        wait_for("prometheus scraped the end of the run", final_scraped, 30, proc, log)
        time.sleep(2.5)  # a couple more scrapes of the final state
        # The tests query at the last scrape that succeeded: on a loaded machine a later scrape may
        # time out (250 ms), and Prometheus then marks every series stale from that moment on.
        (samples,) = api(base, "/api/v1/query", query="tsc_service_time_seconds[5m]")["result"]
        at = samples["values"][-1][0]
        yield {"base": base, "at": at, "summary": summary, "stdout": stdout, "log": log, "run_s": run_s, "proc": proc}


def city_with_one_refused(work: Path) -> tuple[Path, Path]:
    """work/config.toml (the bundled config, with a Webster period short enough for plans to change in 600 s,
    metrics every 2 s) and work/intersections (the city's, REFUSED's phase EDITED[0] made EDITED[1])."""
    config = work / "config.toml"
    config.write_text(tomli_w.dumps({"webster": {"period_s": 60.0}, "metrics": {"update_s": 2.0}}))
    inter = work / "intersections"
    shutil.copytree(CITY_JUNCTIONS, inter)
    edited = inter / f"{REFUSED}.toml"
    text = edited.read_text()
    assert text.count(f'state = "{EDITED[0]}"') == 1
    edited.write_text(text.replace(f'state = "{EDITED[0]}"', f'state = "{EDITED[1]}"'))
    return config, inter


def panels(dashboard: dict):
    for p in dashboard.get("panels", []):
        yield p
        yield from p.get("panels", [])  # collapsed rows


def substitute(expr: str, variables: dict[str, str]) -> str:
    def one(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in variables:
            raise KeyError(f"unknown variable ${name} in {expr!r}")
        return variables[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", one, expr)


def label_values(base: str, query: str) -> list[str]:
    m = re.fullmatch(r"\s*label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)\s*", query)
    assert m, f"unsupported variable query {query!r}"
    return api(base, f"/api/v1/label/{m.group(2)}/values", **{"match[]": m.group(1)})


def may_be_nan(expr: str) -> bool:
    """The query is one of MAY_BE_NAN, with a label selector at most (no arithmetic on it), or a
    quantile of a histogram (NaN while nothing was observed in the window: the twin validated no
    plan in this run; the series exists, so the metric is exported)."""
    quantile = r"\s*histogram_quantile\([^()]*\(le\)\s*\(increase\((\w+)_bucket\[\w+\]\)\)\)\s*"
    m = re.fullmatch(quantile, expr)
    if m:
        return m.group(1) == "tsc_twin_run_duration_seconds"
    return any(re.fullmatch(rf"\s*{name}(\{{[^}}]*\}})?\s*", expr) for name in MAY_BE_NAN)


def test_every_dashboard_query_returns_data(scraped_run):
    base = scraped_run["base"]
    assert DASHBOARDS, "no dashboards under grafana/dashboards"
    junction_ids = sorted(p.stem for p in CITY_JUNCTIONS.glob("*.toml"))
    checked, failures = 0, []
    for path in DASHBOARDS:
        dash = json.loads(path.read_text())
        variables = dict(BUILTINS, datasource="tsc-prometheus")
        for var in dash.get("templating", {}).get("list", []):
            if var["type"] != "query":
                continue
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            values = label_values(base, query)
            if var["name"] == "junction":  # every junction of the city is there
                assert values == junction_ids, f"{path.name}: ${var['name']} ({query}) -> {values}"
            assert values, f"{path.name}: variable ${var['name']} ({query}) has no values"
            variables[var["name"]] = values[0]
        for panel in panels(dash):
            for target in panel.get("targets", []):
                expr = substitute(target["expr"], variables)
                result = instant(scraped_run, expr)
                values = [float(r["value"][1]) for r in result] if isinstance(result, list) else [float(result[1])]
                checked += 1
                if values and may_be_nan(expr):
                    continue  # the series exists; NaN means n/a
                if not any(math.isfinite(v) for v in values):
                    failures.append(
                        f'{dash["title"]} / panel "{panel["title"]}" ({target["refId"]}): {expr} -> '
                        f"{values if values else 'no data'}"
                    )
    assert checked >= 40, f"only {checked} queries found in the dashboards"
    assert not failures, "queries without data:\n" + "\n".join(failures)


def test_gains_are_estimated_not_constant_and_match_the_run_report(scraped_run):
    summary = scraped_run["summary"]
    changes = instant(scraped_run, "changes(tsc_network_delay_gain_ratio[10m])")
    n_changes = float(changes[0]["value"][1]) if changes else 0.0
    assert n_changes >= 3, f"the delay gain changed {n_changes:.0f} times during the run"
    last = summary["online_gains"]["last"]
    for metric, key in (
        ("tsc_network_delay_gain_ratio", "delay_gain"),
        ("tsc_network_throughput_gain_ratio", "throughput_gain"),
        ("tsc_network_delay_seconds", "delay_s"),
        ("tsc_network_measured_delay_seconds", "measured_delay_s"),
    ):
        got = float(instant(scraped_run, metric)[0]["value"][1])
        if last[key] is None:  # undefined (n/a): NaN on the gauge
            assert math.isnan(got), metric
        else:
            assert got == pytest.approx(last[key], rel=1e-9, abs=1e-12), metric
    speed = float(instant(scraped_run, "tsc_network_approach_speed_meters_per_second")[0]["value"][1])
    assert speed * 3.6 == pytest.approx(last["speed_kmh"], rel=1e-9)
    # Simulated time: the service clock ran 600 s in a fraction of that of wall time.
    assert scraped_run["run_s"] < END_S / 3
    stdout = scraped_run["stdout"].read_text()
    assert "delay gain" in stdout and "webster" in stdout.splitlines()[-1], stdout


def test_a_junction_refused_at_start_is_seen_through_prometheus(scraped_run):
    """J11, refused at start (named in the log), reads mode refused = 1 and the other modes 0
    through Prometheus, the log's reason on tsc_junction_refused_info; it is the only one."""

    def query(expr: str) -> list[dict]:
        return instant(scraped_run, expr)

    modes = {r["metric"]["mode"]: float(r["value"][1]) for r in query(f'tsc_junction_mode{{junction="{REFUSED}"}}')}
    assert modes == {"adaptive": 0, "fallback": 0, "manual": 0, "fixed": 0, "refused": 1, "failed": 0}
    assert float(query('sum(tsc_junction_mode{mode="refused"})')[0]["value"][1]) == 1
    (info,) = query("tsc_junction_refused_info")
    assert info["metric"]["junction"] == REFUSED and float(info["value"][1]) == 1
    why = info["metric"]["reason"]
    assert f"{REFUSED}.toml: phases[0].state" in why and EDITED[1] in why
    assert f"junction={REFUSED} cannot be served: {why}: it stays on its own program" in scraped_run["log"].read_text()
