"""The twin's pure parts (sim/twin.py): counts projected over the horizon, plans as SUMO
programs, and that it reads nothing of the field simulation."""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config
from controller.errors import AdapterError
from controller.model import CycleWish
from sim.twin import plan_phases, projected_counts, write_plans
from tests.junction_fixtures import two_phase

ROOT = Path(__file__).resolve().parents[2]


def test_counts_are_projected_flat_without_drift():
    out = projected_counts({"L1": (7, 0, 1, 0, 0)}, window_s=300.0, horizon_s=900.0)
    per = out["L1"]
    assert per.shape == (15, 5)
    assert per[:, 0].sum() == 21 and per[:, 2].sum() == 3  # the window's rate times the horizon
    assert set(per[:, 0]) <= {1, 2}  # spread evenly, interval by interval


def test_counts_of_the_wrong_shape_or_an_empty_window_are_refused():
    with pytest.raises(ValueError, match="L1.*one per class"):
        projected_counts({"L1": (7, 0)}, 300.0, 900.0)
    with pytest.raises(ValueError, match="window_s"):
        projected_counts({"L1": (7, 0, 0, 0, 0)}, 0.0, 900.0)


def test_a_plan_becomes_greens_yellows_and_all_reds():
    j = two_phase()  # yellow 3 s, all-red 2 s
    phases = plan_phases(j, CycleWish((0, 1), (30.0, 25.0)))
    assert phases == [("GrGr", 30.0), ("yryr", 3.0), ("rrrr", 2.0), ("rGrG", 25.0), ("ryry", 3.0), ("rrrr", 2.0)]


def test_the_program_file_names_the_junction_and_its_offset(tmp_path):
    j = two_phase()
    path = write_plans(tmp_path / "p.add.xml", {"J": j}, {"J": CycleWish((1, 0), (20.0, 30.0), 12.0)})
    (tl,) = ET.parse(path).getroot()
    assert (tl.get("id"), tl.get("programID"), tl.get("offset")) == ("J", "twin", "12")
    assert [p.get("duration") for p in tl] == ["20", "3", "2", "30", "3", "2"]
    with pytest.raises(AdapterError, match="K.*not in the region"):
        write_plans(tmp_path / "q.add.xml", {"J": j}, {"K": CycleWish((0, 1), (20.0, 30.0))})


def test_the_twin_never_reads_the_field():
    tree = ast.parse((ROOT / "sim" / "twin.py").read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not names & {"traci", "libsumo", "sim.field", "sim.field_live", "sim.simulate"}, names


def test_the_request_covers_the_junction_and_its_neighbours_with_their_recent_counts():
    from controller.model import VEHICLE_CLASSES, DetectorReading, Snapshot
    from controller.validation import RecentCounts
    from sim.twin import RequestMaker
    from tests.junction_fixtures import two_phase_as

    k = two_phase_as("K")
    j = two_phase()
    recent = RecentCounts(300.0, VEHICLE_CLASSES)
    for t in (10.0, 200.0, 400.0):
        recent.add(
            Snapshot(
                "J",
                t,
                1.0,
                (
                    DetectorReading("N_stop", (("car", 2), ("bus", 1)), 0.2, 5.0),
                    DetectorReading("KN_stop", (("car", 9),), 0.2, 5.0),
                ),
            )
        )
    maker = RequestMaker("net.xml", {"J": j, "K": k}, recent, 300.0, "/tmp/w", horizon_s=600.0)
    req = maker(j, CycleWish((0, 1), (20.0, 30.0)), None, {"eN_0": 3.0}, 400.0)
    assert [r.id for r in req.junctions] == ["J"]  # no neighbours declared
    assert req.counts == {"N_stop": (4, 2, 0, 0, 0)}  # 200 s and 400 s: within (100, 400]
    assert req.incumbent == {} and req.candidate == {"J": CycleWish((0, 1), (20.0, 30.0))}
    assert (req.horizon_s, req.queues_pcu) == (600.0, {"eN_0": 3.0})
    assert req.vehicle_spacing_m == Config().detectors.vehicle_spacing_m  # [detectors] default, not a copy


def test_the_region_is_the_junction_then_its_neighbours_once_each_and_their_loops_count():
    from controller.model import VEHICLE_CLASSES, DetectorReading, Snapshot
    from controller.validation import RecentCounts
    from sim.twin import RequestMaker, region_counts, region_of
    from tests.junction_fixtures import two_phase_as

    j = two_phase_as("J", upstream=["K", "Z"], downstream=["K", "L"])  # Z: not in the model
    k, l_ = two_phase_as("K", downstream=["J"]), two_phase_as("L")
    junctions = {"L": l_, "K": k, "J": j}
    assert [r.id for r in region_of(junctions, "J")] == ["J", "K", "L"]
    assert [r.id for r in region_of(junctions, "K")] == ["K", "J"]
    recent = RecentCounts(300.0, VEHICLE_CLASSES)
    loops = ("JN_stop", "KN_stop", "LE_adv", "QN_stop")  # Q: outside every region
    recent.add(Snapshot("J", 50.0, 1.0, tuple(DetectorReading(d, (("car", 1),), 0.1, 5.0) for d in loops)))
    assert sorted(region_counts(recent, region_of(junctions, "K"), 60.0)) == ["JN_stop", "KN_stop"]
    maker = RequestMaker("net.xml", junctions, recent, 300.0, "/tmp/w", vehicle_spacing_m=6.0)
    req = maker(j, CycleWish((0, 1), (20.0, 30.0)), None, {}, 60.0)
    assert sorted(req.counts) == ["JN_stop", "KN_stop", "LE_adv"] and req.vehicle_spacing_m == 6.0


def test_route_weights_meet_the_counts_and_prefer_routes_through_several_counted_edges():
    from sim.twin import RouteSet, route_weights, whole_vehicles

    # counted edges a, b; the long route a->x->b explains both counts at once
    routes = RouteSet.build([["a", "x", "b"], ["a", "y"], ["z", "b"], ["q"]], ["a", "b"])
    assert routes.routes == (("a", "x", "b"), ("a", "y"), ("z", "b"))  # "q" passes no counted edge
    w = route_weights(routes.incidence, np.array([30.0, 20.0]))
    assert routes.incidence @ w == pytest.approx([30.0, 20.0])
    n = whole_vehicles(w)
    assert n.sum() == 30 and (routes.incidence @ n).tolist() == [30.0, 20.0]
    assert (route_weights(routes.incidence, np.zeros(2)) == 0).all()


def test_whole_vehicles_keep_the_total_by_largest_remainder():
    from sim.twin import whole_vehicles

    assert whole_vehicles(np.array([0.4, 0.4, 0.4, 2.0])).tolist() == [1, 0, 0, 2]  # 3.2 -> 3
    assert whole_vehicles(np.array([1.6, 0.7, 0.7])).tolist() == [1, 1, 1]  # remainders .7, .7 win over .6


def test_the_demand_departs_evenly_over_the_horizon_on_its_routes(tmp_path):
    from sim.twin import RouteSet, write_demand

    routes = RouteSet.build([["a", "b"], ["c"]], ["a", "c"])
    used = write_demand(tmp_path / "d.rou.xml", routes, {"car": np.array([3, 0]), "bus": np.array([0, 1])}, 900.0, 1)
    root = ET.parse(tmp_path / "d.rou.xml").getroot()
    assert {r.get("id"): r.get("edges") for r in root.iter("route")} == {"r0": "a b", "r1": "c"}
    cars = [v for v in root.iter("vehicle") if v.get("type") == "tsc_car"]
    departs = [float(v.get("depart")) for v in cars]
    assert len(cars) == 3 and all(v.get("route") == "r0" for v in cars)
    assert np.diff(departs) == pytest.approx([300.0, 300.0], abs=0.1) and 0 <= departs[0] < 300
    assert [v.get("type") for v in root.iter("vehicle")].count("tsc_bus") == 1
    all_departs = [float(v.get("depart")) for v in root.iter("vehicle")]
    assert all_departs == sorted(all_departs)  # SUMO loads route files in departure order
    assert sorted(map(tuple, used)) == [("a", "b")] * 3 + [("c",)]


def test_vehicles_en_route_start_where_free_flow_took_them_and_not_inside_a_seeded_queue(tmp_path):
    from sim.twin import EnRoute, RouteSet, write_demand

    # edges of 100 m at 10 m/s: 10 s each; edge "b" has 30 m of seeded queue at its stop line
    en = EnRoute({"a": (100.0, 10.0), "b": (100.0, 10.0)}, {"b": 30.0}, 7.5)
    assert en.place(("a", "b"), 4.0) == (0, 40.0)
    assert en.place(("a", "b"), 13.0) == (1, 30.0)
    assert en.place(("a", "b"), 17.0) is None  # 70 m into b: in the queue's 30 m (+ one vehicle)
    assert en.place(("a", "b"), 25.0) is None  # past the route's end
    routes = RouteSet.build([["a", "b"]], ["a"])
    write_demand(tmp_path / "d.rou.xml", routes, {"car": np.array([90])}, 900.0, 1, en)  # one every 10 s
    early = [v for v in ET.parse(tmp_path / "d.rou.xml").getroot().iter("vehicle") if "early" in v.get("id")]
    assert 1 <= len(early) <= 2  # 20 s of route, minus the queue's stretch
    assert all(v.get("depart") == "0" and float(v.get("departPos")) < 70 for v in early)


def test_nnls_fits_as_well_as_scipys():
    from scipy.optimize import nnls as scipy_nnls

    from sim.twin import nnls

    rng = np.random.default_rng(3)
    for _ in range(50):
        m, n = rng.integers(1, 30), rng.integers(1, 80)
        a = (rng.random((m, n)) < 0.2) * rng.integers(1, 3, (m, n)).astype(float)
        b = rng.random(m) * 50
        x, (y, _) = nnls(a, b), scipy_nnls(a, b, maxiter=50 * n)
        assert (x >= 0).all()
        assert np.linalg.norm(a @ x - b) <= np.linalg.norm(a @ y - b) + 1e-6
    # the unconstrained solution (-1, 1) is negative: the constrained one lies on x0 = 0
    assert nnls(np.array([[1.0, 1.0], [0.0, 1.0]]), np.array([0.0, 1.0])) == pytest.approx([0.0, 0.5], abs=1e-9)


def test_quality_instants_are_checked_with_a_clear_error():
    from sim.twin_quality import QualityRequest, check

    def req(at, horizon=900.0):
        return QualityRequest(Path("x.sumocfg"), Path("out"), at, horizon)

    check(req((900.0, 1800.0)))
    for at, msg in (((), "at least one"), ((100.0,), "one window"), ((900.0, 1500.0), "at least the horizon")):
        with pytest.raises(ValueError, match=msg):
            check(req(at))
    with pytest.raises(ValueError, match="horizon"):
        check(req((900.0,), horizon=0.0))


def test_quality_statistics_and_window_counts():
    import pyarrow as pa

    from controller.model import VEHICLE_CLASSES
    from sim.twin_quality import stats, window_counts

    out = stats([(100.0, 200.0), (300.0, 400.0), (500.0, 500.0)])
    assert out["pearson_r"] == pytest.approx(0.982, abs=1e-3)
    assert (out["mean_abs_error_veh_s"], out["relative_error"], out["total_ratio"]) == (66.7, 0.182, 0.818)
    det = pa.table(
        {
            "t_s": [100.0, 250.0, 400.0, 401.0],
            "detector": ["L1", "L1", "L1", "L2"],
            **{c: [1, 2, 4, 8] if c == "car" else [0, 1, 0, 0] for c in VEHICLE_CLASSES},
        }
    )
    assert window_counts(det, 400.0, 300.0) == {"L1": (6, 1, 1, 1, 1)}  # (100, 400]: 250 s and 400 s
