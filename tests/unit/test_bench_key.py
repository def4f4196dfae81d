"""sim.bench_key: the arithmetic and the verdict of the board's method on recorded summaries (the
simulations faked), its inputs refused with their reason, and its exit codes."""

from __future__ import annotations

import json
import math
import sys
import tomllib
from pathlib import Path

import pytest

from sim import bench_key as bk

ROOT = Path(__file__).resolve().parents[2]
TH = bk.Thresholds()


def test_seeds_read_as_ranges_and_lists() -> None:
    assert bk.parse_seeds("1-10") == list(range(1, 11))
    assert bk.parse_seeds("4-10") == list(range(4, 11))
    assert bk.parse_seeds("1-3,7,2") == [1, 2, 3, 7]
    for bad in ("3-1", "a", "", "1-"):
        with pytest.raises(bk.InputError, match="--seeds"):
            bk.parse_seeds(bad)


def test_ratios_median_geometric_mean_and_seeds_worse() -> None:
    off = {1: 100.0, 2: 100.0, 3: 50.0}
    on = {1: 99.0, 2: 103.0, 3: 45.0, 4: 10.0}  # seed 4 has no pair: left out
    r = bk.ratios(on, off, 0.02)
    assert r is not None
    assert r.by_seed == {1: 0.99, 2: 1.03, 3: 0.9}
    assert r.median == pytest.approx(0.99)
    assert r.gmean == pytest.approx((0.99 * 1.03 * 0.9) ** (1 / 3))
    assert r.worse == 1  # 1.03 > 1.02; 0.99 and 0.9 are not
    assert bk.ratios({1: 5.0}, {2: 5.0}, 0.02) is None


def test_a_network_passes_on_median_and_geometric_mean_and_gains_below_095() -> None:
    j = bk.judge("n", {"off": {1: 100, 2: 100, 3: 100}, "on": {1: 90, 2: 94, 3: 95}}, TH)
    assert (j.acts, j.passes, j.gains, j.needs_seeds) == (True, True, True, [])
    assert j.verdict == "pass, gain"
    j = bk.judge("n", {"off": {1: 100, 2: 100, 3: 100}, "on": {1: 99, 2: 98, 3: 97}}, TH)
    assert (j.passes, j.gains, j.verdict) == (True, False, "pass")


def test_a_median_over_101_or_a_geometric_mean_over_102_fails() -> None:
    med = bk.judge("n", {"off": dict.fromkeys(range(1, 11), 100.0), "on": dict.fromkeys(range(1, 11), 101.5)}, TH)
    assert med.r is not None and med.r.median == pytest.approx(1.015) and not med.passes
    assert med.verdict == "FAIL"
    # median 1.0 but one seed at 1.30 of ten: geometric mean 1.30 ** 0.1 = 1.0266 > 1.02
    on = {s: (130.0 if s == 5 else 100.0) for s in range(1, 11)}
    gm = bk.judge("n", {"off": dict.fromkeys(range(1, 11), 100.0), "on": on}, TH)
    assert gm.r is not None and gm.r.median == 1.0 and gm.r.gmean == pytest.approx(1.3**0.1)
    assert not gm.passes and gm.r.worse == 1


def test_a_loss_at_seeds_1_to_3_asks_for_seeds_1_to_10() -> None:
    j = bk.judge("n", {"off": {1: 100, 2: 100, 3: 100}, "on": {1: 100.5, 2: 90, 3: 90}}, TH)
    assert j.lost_at == [1] and j.needs_seeds == list(range(4, 11))
    assert j.verdict == "pass, gain; needs seeds 4-10 (lost at 1)"
    full = {"off": dict.fromkeys(range(1, 11), 100.0), "on": {s: 100.5 if s == 1 else 90.0 for s in range(1, 11)}}
    assert bk.judge("n", full, TH).needs_seeds == []


def test_the_base_digits_at_every_seed_read_no_effect_and_the_perturbation_is_judged_alike() -> None:
    d = {"off": {1: 41.6927, 2: 40.0}, "on": {1: 41.6927, 2: 40.0}, "pert": {1: 45.0, 2: 38.0}}
    j = bk.judge("city", d, TH)
    assert not j.acts and j.verdict == "no effect"
    assert j.p is not None and j.p.by_seed == {1: 45.0 / 41.6927, 2: 0.95} and j.p.worse == 1


def _j(name: str, on: list[float], seeds: int = 3) -> bk.Judgement:
    return bk.judge(name, {"off": dict.fromkeys(range(1, seeds + 1), 100.0), "on": dict(enumerate(on, 1))}, TH)


def test_the_overall_verdict() -> None:
    same = _j("same", [100.0] * 3)
    gain = _j("gain", [90.0, 92.0, 94.0])
    small = _j("small", [99.0, 99.5, 99.0])
    lost = _j("lost", [100.5, 99.0, 99.0])
    bad = _j("bad", [110.0, 108.0, 90.0])
    assert bk.overall([same, gain, small], TH, city_run=True).startswith("may be proposed on")
    assert "gains on gain" in bk.overall([same, gain, small], TH, city_run=True)
    assert bk.overall([gain], TH, city_run=False) == (
        "not decided: passes everywhere it acts, gains on gain; the bundled city not run: it must be"
    )
    assert bk.overall([gain, bad], TH, True) == "ships off: fails on bad (seeds 1-3 only: the full seeds settle it)"
    bad10 = _j("bad10", [103.0] * 10, seeds=10)
    assert bk.overall([gain, bad10], TH, True) == "ships off: fails on bad10"
    assert bk.overall([gain, lost], TH, True) == "not decided: run seeds 1-10 on lost"
    assert bk.overall([same, small], TH, True).startswith("ships off: passes where it acts, but no gain")
    assert bk.overall([same], TH, True) == "ships off: no effect on any network run"


def test_a_setting_replaces_the_value_in_place_and_keeps_the_comment() -> None:
    text = (ROOT / "config.toml").read_text()
    new = bk.with_settings(text, [("max_pressure", "wait_scale_s", "61")], "config.toml")
    changed = [(a, b) for a, b in zip(text.splitlines(), new.splitlines(), strict=True) if a != b]
    assert len(changed) == 1
    old_line, new_line = changed[0]
    assert new_line.startswith("wait_scale_s = 61 ") and new_line.index("#") == old_line.index("#")
    assert tomllib.loads(new)["max_pressure"]["wait_scale_s"] == 61
    quoted = bk.with_settings(text, [("service", "site", "x")], "c")  # a bare word for a string key is quoted
    assert tomllib.loads(quoted)["service"]["site"] == "x"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("max_pressure.no_such_key=1", "no key 'no_such_key' in \\[max_pressure\\]"),
        ("no_section.key=1", "no section \\[no_section\\]"),
        ("max_pressure.wait_scale_s=abc", "'abc' is not a TOML value"),
        ("max_pressure.wait_scale_s=true", "max_pressure.wait_scale_s: must be a finite number"),
        ("max_pressure.wait_scale_s=-3", "must be > 0"),
        ("max_pressure.wait_scale_s=60", "changes nothing"),
        ("max_pressure.wait_scale_s", "expected section.key=value"),
    ],
)
def test_a_bad_change_is_refused_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, message: str
) -> None:
    cfg = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    code = bk.main(["--set", setting, "--scenario", f"{cfg}:120", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and __import__("re").search(message, err), err
    assert not (tmp_path / "runs").exists()


def test_a_missing_scenario_or_board_line_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        bk.main(["--set", "max_pressure.wait_scale_s=61", "--scenario", "/no/such.sumocfg:120", "--out", str(tmp_path)])
        == 2
    )
    assert "no scenario file /no/such.sumocfg" in capsys.readouterr().err
    board = tmp_path / "board.txt"
    board.write_text("# name cfg end\ncity sim/scenarios/city/city.sumocfg 900 extra\n")
    assert bk.main(["--set", "max_pressure.wait_scale_s=61", "--board", str(board), "--out", str(tmp_path)]) == 2
    assert f"{board}:2: expected `name cfg end_s`" in capsys.readouterr().err


def test_a_board_file_names_its_networks_and_ends(tmp_path: Path) -> None:
    city = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    board = tmp_path / "board.txt"
    board.write_text(f"# a comment\n\ncity {city} 900\nlong {city} -  # until all arrived\n")
    got = bk.parse_scenarios([f"{city}:120.5"], board)
    assert [(s.name, s.end_s) for s in got] == [("city", 900.0), ("long", None)]  # the board's city replaces
    assert [s.name for s in bk.parse_scenarios([str(city)], None)] == ["city"]


def _fake_runs(delays: dict[tuple[str, str, int], float], failing: set[tuple[str, str, int]] = frozenset(), raised=()):
    """A run_all that writes each run's recorded summary (delay_s, junction_control), as simulate would."""
    calls: list[int] = []

    def run_all(runs, jobs, nice, say=None, every_s=600.0):
        calls.append(len(runs))
        failed = []
        for r in runs:
            key = (r.scenario.name, r.variant, r.seed)
            if key in failing:
                failed.append(r)
                continue
            control = {"J1": {"failed_ticks": 12, "failed_reason": "policy raised"}} if key in raised else {}
            r.out.mkdir(parents=True, exist_ok=True)
            (r.out / "summary.json").write_text(json.dumps({"delay_s": delays[key], "junction_control": control}))
            (r.out / "run.json").write_text(json.dumps({"command": bk._shown(r.command)}))
        return failed

    return run_all, calls


def _delays(on: list[float], pert: list[float]) -> dict[tuple[str, str, int], float]:
    d = {}
    for s in (1, 2, 3):
        d[("city", "off", s)] = 100.0
        d[("city", "on", s)] = on[s - 1]
        d[("city", "pert", s)] = pert[s - 1]
    return d


ARGS = ["--set", "max_pressure.wait_scale_s=45", "--perturb", "max_pressure.wait_scale_s=61", "--seeds", "1-3"]


def test_the_report_from_recorded_summaries_and_the_runs_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, calls = _fake_runs(_delays([90.0, 95.0, 93.0], [101.0, 104.0, 97.0]))
    monkeypatch.setattr(bk, "run_all", fake)
    cfg = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    argv = [*ARGS, "--scenario", f"{cfg}:120", "--out", str(tmp_path), "--per-seed"]
    assert bk.main(argv) == 0
    out = capsys.readouterr().out
    assert "| city | 1-3 | 0.930 | 0.926 | 0/3 | 1.010 / 1.020 | fixed (1 of 3 perturbations) | pass, gain |" in out
    assert "| city | pert | 1-3 | 1.010 | 1.006 | 1/3 | yes |" in out
    assert "| city | 2 | 100.00 | 95.00 | 0.950 | 104.00 | 1.040 |" in out
    assert "Verdict: may be proposed on: passes everywhere it acts, gains on city." in out
    assert math.isclose(0.926, (0.9 * 0.95 * 0.93) ** (1 / 3), abs_tol=5e-4)
    assert bk.main(argv) == 0 and calls == [9, 0]  # every run reused the second time
    argv[argv.index(f"{cfg}:120")] = f"{cfg}:300"
    assert bk.main(argv) == 0 and calls == [9, 0, 9]  # another end: the same folders, its command differs: run again
    configs = sorted(p.name for p in (tmp_path / "configs").iterdir())
    assert len(configs) == 3  # off, on, pert: by the hash of their text


def test_a_failed_run_or_a_decision_that_raised_fails_the_tool_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    argv = [*ARGS, "--scenario", f"{cfg}:120", "--out", str(tmp_path / "a")]
    fake, _ = _fake_runs(_delays([90.0, 95.0, 93.0], [101.0, 104.0, 97.0]), failing={("city", "on", 2)})
    monkeypatch.setattr(bk, "run_all", fake)
    assert bk.main(argv) == 1
    out = capsys.readouterr().out
    assert "Failed runs (left out of the ratios):\n- city on seed 2: " in out
    assert "| city | 1,3 |" in out
    fake, _ = _fake_runs(_delays([90.0, 95.0, 93.0], [101.0, 104.0, 97.0]), raised={("city", "pert", 3)})
    monkeypatch.setattr(bk, "run_all", fake)
    argv[-1] = str(tmp_path / "b")
    assert bk.main(argv) == 1
    captured = capsys.readouterr()
    assert "- city pert seed 3: J1 (12 ticks: policy raised)" in captured.out
    assert "1 with a decision that raised" in captured.err


def _run(tmp: Path, name: str, code: str) -> bk.Run:
    """A Run whose command is a small Python program (its folder `out` in the variable `out`)."""
    out = tmp / name / "seed1"
    sc = bk.Scenario(name, tmp / f"{name}.sumocfg", None)
    return bk.Run(
        sc, "on", 1, out, (sys.executable, "-c", f"from pathlib import Path; out = Path({str(out)!r}); {code}")
    )


def test_the_runs_go_niced_named_as_they_end_and_while_they_go(tmp_path: Path) -> None:
    ok = _run(
        tmp_path,
        "ok",
        "import os, json, time; print('[adaptive] t=900 s', flush=True); time.sleep(1.5); "
        "(out / 'summary.json').write_text(json.dumps({'delay_s': 12.5, 'nice': os.getpriority(os.PRIO_PROCESS, 0)}))",
    )
    bad = _run(tmp_path, "bad", "raise SystemExit(3)")
    silent = _run(tmp_path, "silent", "pass")  # exit 0 without a summary
    lines: list[str] = []
    failed = bk.run_all([ok, bad, silent], 3, 7, lines.append, every_s=0.5)
    assert sorted(failed, key=lambda r: r.scenario.name) == [bad, silent]  # in the order they ended: either
    assert json.loads((ok.out / "summary.json").read_text())["nice"] >= 7
    assert bk.finished(ok) and not bk.finished(bad) and not bk.finished(silent)
    ended = [line for line in lines if "running:" not in line]
    assert any(line.startswith("[") and "ok on seed 1: delay 12.50 in " in line for line in ended), lines
    assert any(f"bad on seed 1: FAILED (exit 3; {tmp_path / 'bad' / 'seed1.log'})" in line for line in ended)
    assert any("silent on seed 1: FAILED (no summary.json;" in line for line in ended)
    going = [line for line in lines if "running:" in line]
    assert going and "ok on seed 1 for 0 min: [adaptive] t=900 s" in going[-1], lines


def test_only_some_networks_of_a_board_and_the_seeds_still_asked_for(tmp_path: Path) -> None:
    city = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    board = tmp_path / "board.txt"
    board.write_text(f"a {city} 900\nb {city} 900\nc {city} 900\n")
    every = bk.parse_scenarios([], board)
    assert [s.name for s in bk.only(every, "c,a")] == ["a", "c"] and bk.only(every, None) == every
    with pytest.raises(bk.InputError, match="--only: no network d"):
        bk.only(every, "a,d")
    lost = _j("a", [100.5, 99.0, 99.0])  # lost at seed 1: seeds 4-10 asked for
    fine = _j("b", [99.0, 98.0, 99.0])
    assert bk.next_step([lost, fine]) == "--seeds 1-10 --only a"  # seeds 1-3 reused
    assert bk.next_step([fine]) == ""


# -- the floor (session 44) -------------------------------------------------------------------

# RESCO ingolstadt21, adaptive, seeds 1-10 (K, session 43: /work/out/K/s43/runs/ingolstadt21): off, on
# (head_block_s, drop form), p61 (wait_scale_s 61) and psw (switch_service_s 2.05), delay_s s/veh.
ING21 = {
    "off": [50.0324, 57.7989, 56.2697, 59.8895, 48.0597, 61.5297, 54.0316, 49.6807, 53.0468, 52.1215],
    "on": [50.0324, 61.6996, 56.2697, 59.8895, 57.4904, 65.5672, 56.5905, 54.5537, 51.5673, 49.2929],
    "p61": [48.553, 57.7885, 72.382, 52.8682, 47.9311, 54.5288, 54.8049, 49.6807, 58.9054, 52.0227],
    "psw": [51.9488, 53.3559, 54.5203, 50.9617, 49.3658, 66.3794, 83.3154, 53.1215, 54.0082, 57.6522],
}


def _by_seed(rows: dict[str, list[float]]) -> dict[str, dict[int, float]]:
    return {v: dict(enumerate(d, 1)) for v, d in rows.items()}


def test_the_floor_is_the_worst_perturbation_and_the_key_passes_within_it() -> None:
    two = bk.judge("ingolstadt21", _by_seed(ING21), TH)
    assert two.r is not None and (round(two.r.median, 3), round(two.r.gmean, 3)) == (1.024, 1.037)
    assert round(two.perts["psw"].median, 3) == 1.033 and round(two.perts["psw"].gmean, 3) == 1.050
    assert not two.floor.measured and not two.passes  # two perturbations: the fixed thresholds, FAIL
    assert two.basis(TH) == "fixed (2 of 3 perturbations)" and two.verdict == "FAIL"
    third = [d * 1.01 for d in ING21["off"]]  # a third, made up: 1.01 at every seed
    three = bk.judge("ingolstadt21", _by_seed({**ING21, "x": third}), TH)
    assert three.floor.measured and three.floor.names == ("p61", "psw", "x")
    assert three.floor.worst_median == pytest.approx(three.perts["psw"].median)
    assert three.floor.worst_gmean == pytest.approx(three.perts["psw"].gmean)
    assert three.passes and three.verdict == "pass" and three.basis(TH) == "floor of 3, wide"
    # the floor is a bound, not a pass: a key worse than the worst perturbation fails
    worse = {**ING21, "x": third, "on": [d * 1.06 for d in ING21["off"]]}
    assert not bk.judge("ingolstadt21", _by_seed(worse), TH).passes


def test_a_narrow_floor_keeps_the_fixed_thresholds_as_its_bound() -> None:
    off = dict.fromkeys(range(1, 11), 100.0)
    quiet = {f"q{k}": {s: 100.0 + (0.2 if (s + k) % 2 else -0.2) for s in range(1, 11)} for k in range(3)}
    j = bk.judge("n", {"off": off, "on": dict.fromkeys(range(1, 11), 101.5), **quiet}, TH)
    assert j.floor.measured and not j.floor.wide(TH) and j.floor.pass_bounds(TH) == (1.01, 1.02)
    assert not j.passes and j.basis(TH) == "floor of 3"


def test_a_gain_beyond_the_floor_is_below_the_best_perturbation_at_most_seeds() -> None:
    off = dict.fromkeys(range(1, 11), 100.0)
    on = dict.fromkeys(range(1, 11), 94.0)  # 0.94 at every seed: a gain by the fixed threshold
    lucky = {s: 92.0 if s <= 6 else 100.0 for s in range(1, 11)}  # a change of no meaning at 0.92 on 6 seeds
    perts = {"a": lucky, "b": dict.fromkeys(range(1, 11), 99.0), "c": dict.fromkeys(range(1, 11), 101.0)}
    fixed = bk.judge("n", {"off": off, "on": on, "a": lucky}, TH)
    assert fixed.gains and fixed.verdict == "pass, gain"  # one perturbation: the fixed 0.95
    floor = bk.judge("n", {"off": off, "on": on, **perts}, TH)
    assert floor.floor.measured and floor.floor.best_median == 0.92 and floor.passes and not floor.gains
    assert floor.verdict == "pass"  # not beyond the floor: a change of no meaning did as well
    better = bk.judge("n", {"off": off, "on": dict.fromkeys(range(1, 11), 90.0), **perts}, TH)
    assert better.gains  # below 0.92 and below every p at all ten seeds
    # a change of no meaning at 0.85 on seeds 7-10: the key's 0.90 there is not beyond the floor
    perts["b"] = {s: 100.0 if s <= 6 else 85.0 for s in range(1, 11)}
    half = {s: 91.0 if s <= 5 else 93.0 if s == 6 else 90.0 for s in range(1, 11)}  # median 0.91 <= 0.92
    j = bk.judge("n", {"off": off, "on": half, **perts}, TH)
    assert j.r is not None and j.r.median == pytest.approx(0.91) and j.floor.best_median == 0.92
    assert not j.gains  # below every p at seeds 1-5 only: not at most seeds


def test_a_perturbation_missing_a_seed_is_left_out_of_the_floor() -> None:
    rows = _by_seed({**ING21, "x": [d * 1.01 for d in ING21["off"]]})
    del rows["x"][7]
    j = bk.judge("ingolstadt21", rows, TH)
    assert j.floor.names == ("p61", "psw") and not j.floor.measured and not j.passes
    assert (
        "| ingolstadt21 | x | 1,2,3,4,5,6,8,9,10 | 1.010 | 1.010 | 0/9 | no: not at every seed judged |"
        in "\n".join(bk.floor_table([j], TH))
    )
    assert j.basis(TH) == "fixed (2 of 3 perturbations)"
    asked = bk.judge("ingolstadt21", rows, TH, ("p61", "psw", "x", "y"))
    assert asked.unrun == ("y",) and "| ingolstadt21 | y | - | - | - | - | no: not run |" in bk.floor_table([asked], TH)
    rows["x"] = dict(rows["off"])  # a perturbation that does not act there: no draw of the noise
    j = bk.judge("ingolstadt21", rows, TH)
    assert j.floor.names == ("p61", "psw") and not j.floor.measured
    assert "| ingolstadt21 | x | 1-10 | 1.000 | 1.000 | 0/10 | no: no effect (the base's digits) |" in "\n".join(
        bk.floor_table([j], TH)
    )


def test_perturbations_are_named_and_the_old_form_is_one_named_pert() -> None:
    got = bk.parse_perturbations(
        ["ws61:max_pressure.wait_scale_s=61", "max_pressure.switch_service_s=2.05", "two:a.b=1", "two:a.c=x:y"]
    )
    assert got == {
        "ws61": [("max_pressure", "wait_scale_s", "61")],
        "pert": [("max_pressure", "switch_service_s", "2.05")],
        "two": [("a", "b", "1"), ("a", "c", "x:y")],
    }
    assert bk.parse_perturbations(["service.site=a:b"]) == {"pert": [("service", "site", "a:b")]}


@pytest.mark.parametrize(
    ("perturb", "message"),
    [
        ("ws61:", "expected section.key=value"),
        ("ws61:max_pressure.wait_scale_s", "expected section.key=value"),
        ("6x:max_pressure.wait_scale_s=61", "a perturbation's name is a letter"),
        ("on:max_pressure.wait_scale_s=61", "'on' names the key's own configs"),
        ("ws61:max_pressure.nope=1", "no key 'nope' in \\[max_pressure\\]"),
        ("ws61:max_pressure.wait_scale_s=60", "--perturb ws61 changes nothing"),
    ],
)
def test_a_malformed_perturbation_is_refused_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], perturb: str, message: str
) -> None:
    cfg = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    argv = ["--set", "max_pressure.wait_scale_s=45", "--perturb", perturb, "--scenario", f"{cfg}:120"]
    assert bk.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "runs").exists()


def test_two_perturbations_of_one_config_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    argv = ["--perturb", "a:max_pressure.wait_scale_s=61", "--perturb", "b:max_pressure.wait_scale_s=61.0"]
    assert bk.main([*argv, "--scenario", f"{cfg}:120", "--out", str(tmp_path)]) == 2
    assert "--perturb b: the same config as 'a'" in capsys.readouterr().err


def test_a_tree_that_is_not_a_checkout_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    argv = ["--set", "max_pressure.wait_scale_s=45", "--scenario", f"{cfg}:120", "--out", str(tmp_path / "o")]
    assert bk.main([*argv, "--tree", str(tmp_path)]) == 2
    assert "no run_controller.py there" in capsys.readouterr().err
    (tmp_path / "run_controller.py").write_text("")
    (tmp_path / "config.toml").write_text((ROOT / "config.toml").read_text())
    assert bk.main([*argv, "--tree", str(tmp_path)]) == 2
    assert "not a git checkout" in capsys.readouterr().err
    assert not (tmp_path / "o" / "runs").exists()


def _git_tree(path: Path) -> Path:
    import subprocess

    path.mkdir()
    (path / "run_controller.py").write_text("")
    (path / "config.toml").write_text((ROOT / "config.toml").read_text())
    for cmd in (["init", "-q"], ["add", "run_controller.py", "config.toml"], ["commit", "-qm", "t"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *cmd], cwd=path, check=True)
    return path


def test_the_tree_runs_its_own_run_controller_under_its_own_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _git_tree(tmp_path / "base")
    head = bk.tree_id(tree)
    assert len(head) == 12 and "+" not in head
    (tree / "notes.txt").write_text("an untracked file")  # untracked files count in the id (R, session 43)
    assert bk.tree_id(tree).startswith(head + "+")
    (tree / "notes.txt").unlink()
    seen: list[bk.Run] = []

    def fake(runs, jobs, nice, say=None, every_s=600.0):
        seen.extend(runs)
        return []

    monkeypatch.setattr(bk, "run_all", fake)
    cfg = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    argv = ["--set", "max_pressure.wait_scale_s=45", "--scenario", f"{cfg}:120", "--seeds", "1"]
    bk.main([*argv, "--tree", str(tree), "--out", str(tmp_path / "o")])
    assert seen and all(r.command[1] == str(tree / "run_controller.py") and r.cwd == tree for r in seen)
    assert all(r.out.parts[-4] == head for r in seen)  # runs/<the tree's id>/<policy>-<hash>/<network>/seed<S>
    assert f"base {tree / 'config.toml'}" in capsys.readouterr().out


def test_judge_only_starts_no_run_and_names_the_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, calls = _fake_runs(_delays([90.0, 95.0, 93.0], [101.0, 104.0, 97.0]))
    monkeypatch.setattr(bk, "run_all", fake)
    cfg = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    argv = [*ARGS, "--scenario", f"{cfg}:120", "--out", str(tmp_path)]
    argv[argv.index("1-3")] = "1-2"
    assert bk.main(argv) == 0 and calls == [6]
    argv[argv.index("1-2")] = "1-3"
    assert bk.main([*argv, "--judge-only"]) == 1 and calls == [6]  # nothing run
    captured = capsys.readouterr()
    assert "Missing runs (--judge-only: not run; left out of the ratios):\n- city off seed 3: " in captured.out
    assert "| city | 1-2 | " in captured.out and "3 missing" in captured.err


def test_runs_made_outside_the_tool_are_imported_and_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    delays = {("city", v, s): d for v, row in ING21.items() for s, d in enumerate(row[:3], 1)}
    for (_, v, s), d in delays.items():  # another engineer's layout: <variant>/s<seed>/summary.json
        (tmp_path / "k" / v / f"s{s}").mkdir(parents=True)
        (tmp_path / "k" / v / f"s{s}" / "summary.json").write_text(json.dumps({"delay_s": d}))
    imports = tmp_path / "imports.txt"
    lines = [f"city {v} {tmp_path / 'k' / v / 's{seed}'}" for v in ("off", "p61", "psw")]
    imports.write_text("# network variant folder\n" + "\n".join(lines) + "\nelsewhere off /x/s{seed}\n")
    fake, calls = _fake_runs(delays)
    monkeypatch.setattr(bk, "run_all", fake)
    cfg = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    argv = ["--set", "max_pressure.head_block_s=6", "--scenario", f"{cfg}:120", "--seeds", "1-3"]
    argv += ["--perturb", "p61:max_pressure.wait_scale_s=61", "--perturb", "psw:max_pressure.switch_service_s=2.05"]
    assert bk.main([*argv, "--import", str(imports), "--out", str(tmp_path / "o")]) == 0
    assert calls == [3]  # only `on` ran: off and both perturbations imported
    captured = capsys.readouterr()
    assert "(0 reused, 9 imported)" in captured.err
    p61 = bk.ratios(dict(enumerate(ING21["p61"][:3], 1)), dict(enumerate(ING21["off"][:3], 1)), 0.02)
    assert p61 is not None and f"| city | p61 | 1-3 | {p61.median:.3f} | {p61.gmean:.3f} |" in captured.out
    bad = tmp_path / "bad.txt"
    bad.write_text("city nope /x/s{seed}\n")
    assert bk.main([*argv, "--import", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "variant 'nope' is none of this judgement's (off, on, p61, psw)" in capsys.readouterr().err
    bad.write_text("city off /x/s1\n")
    assert bk.main([*argv, "--import", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "with {seed} in the folder" in capsys.readouterr().err


def test_the_floor_alone_without_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    delays = {("city", v, s): d for v, row in ING21.items() for s, d in enumerate(row[:3], 1) if v != "on"}
    fake, calls = _fake_runs(delays)
    monkeypatch.setattr(bk, "run_all", fake)
    cfg = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    argv = ["--perturb", "p61:max_pressure.wait_scale_s=61", "--perturb", "psw:max_pressure.switch_service_s=2.05"]
    assert bk.main([*argv, "--scenario", f"{cfg}:120", "--out", str(tmp_path)]) == 0 and calls == [9]
    out = capsys.readouterr().out
    assert "| city | 1-3 | - | - | - | 1.010 / 1.020 | fixed (2 of 3 perturbations) | floor only |" in out
    assert "Verdict: no key: the floor only." in out


# -- the floor's edges (R, session 44: each of these survived a mutation of bench_key before) ----------------


def _rows(**by_variant: dict[int, float] | float) -> dict[str, dict[int, float]]:
    """Delays by variant and seed 1-10, off at 100 s/veh; a number stands for that delay at every seed."""
    rows = {v: d if isinstance(d, dict) else dict.fromkeys(range(1, 11), d) for v, d in by_variant.items()}
    return {"off": dict.fromkeys(range(1, 11), 100.0), **rows}


def test_a_gain_beyond_the_floor_is_still_capped_at_0_95() -> None:
    # below every perturbation at every seed and below the best one's median (0.97), but at 0.96
    j = bk.judge("n", _rows(on=96.0, a=97.0, b=98.0, c=100.5), TH)
    assert j.floor.measured and j.passes and j.floor.best_median == pytest.approx(0.97)
    assert not j.gains and j.verdict == "pass"
    assert bk.judge("n", _rows(on=94.0, a=97.0, b=98.0, c=100.5), TH).gains  # 0.94: a gain


def test_a_gain_needs_the_median_below_the_best_perturbations_median_not_only_most_seeds() -> None:
    # a change of no meaning at 0.80 on seeds 5-10 (median 0.80); the key below it at seeds 1-6 (six of ten) but
    # its median 0.94: not beyond the floor, though below 0.95 and below every p at most seeds
    a = {s: 98.0 if s <= 4 else 80.0 for s in range(1, 11)}
    on = {s: 95.0 if s <= 4 else 78.0 if s <= 6 else 94.0 for s in range(1, 11)}
    j = bk.judge("n", _rows(on=on, a=a, b=100.0 + 0.5, c=101.0), TH)
    assert j.r is not None and j.r.median == pytest.approx(0.94) and j.floor.best_median == pytest.approx(0.80)
    assert sum(j.r.by_seed[s] < j.floor.best_by_seed[s] for s in range(1, 11)) == 6
    assert not j.gains


def test_a_floor_wide_by_its_geometric_mean_alone_is_wide() -> None:
    # medians 1.005 at most; one perturbation's seed 10 at 1.35: geometric mean 1.35 ** 0.1 = 1.030
    a = {s: 135.0 if s == 10 else 100.0 for s in range(1, 11)}
    j = bk.judge("n", _rows(on={s: 125.0 if s == 10 else 100.0 for s in range(1, 11)}, a=a, b=99.5, c=100.5), TH)
    assert j.floor.measured and j.floor.worst_median == pytest.approx(1.005)
    assert j.floor.worst_gmean == pytest.approx(1.35**0.1) and j.floor.wide(TH)
    assert j.basis(TH) == "floor of 3, wide" and j.passes  # r's geometric mean 1.25 ** 0.1 = 1.023: inside


def test_the_perturbations_are_judged_at_the_seeds_of_r_only() -> None:
    # the key's run at seed 10 missing (failed): p at seeds 1-9, its seed 10 (a wild 1.50) left out of the floor
    on = dict.fromkeys(range(1, 10), 100.0)
    j = bk.judge("n", _rows(on=on, a={s: 150.0 if s == 10 else 101.0 for s in range(1, 11)}, b=99.0, c=100.5), TH)
    assert j.floor.measured and all(sorted(p.by_seed) == list(range(1, 10)) for p in j.perts.values())
    assert j.floor.worst_gmean == pytest.approx(1.01)
