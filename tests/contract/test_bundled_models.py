"""The bundled city's junction models (intersections/city, used by `make demo` and the live
demo) are what import-net writes today for the city's network: a model kept from an older
importer runs the demo on data the benchmarks never see (it once lacked the exit edges the
do-no-harm spill rule reads, and showed webster at 1.9x the city's plan)."""

from __future__ import annotations

from pathlib import Path

from controller.config import load_config
from controller.junctions import load_intersections
from sim.netimport import import_net

ROOT = Path(__file__).resolve().parents[2]
CITY_NET = ROOT / "sim" / "scenarios" / "city" / "city.net.xml"
BUNDLED = ROOT / "intersections" / "city"


def test_the_bundled_city_models_are_the_importers(tmp_path):
    import_net(CITY_NET, tmp_path, load_config(ROOT / "config.toml"))
    fresh = sorted(p.name for p in tmp_path.glob("*.toml"))
    assert fresh == sorted(p.name for p in BUNDLED.glob("*.toml"))
    stale = [name for name in fresh if (tmp_path / name).read_text() != (BUNDLED / name).read_text()]
    assert not stale, (
        f"intersections/city differs from import-net's output for {', '.join(stale)}: re-import with "
        "`python run_controller.py import-net sim/scenarios/city/city.net.xml --out intersections/city`"
    )
    assert len(load_intersections(BUNDLED)) == len(fresh)  # and they load
