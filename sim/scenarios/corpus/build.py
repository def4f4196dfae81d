"""Build the corpus (sim/scenarios/corpus/catalogue.py) into a folder, one sub-folder per network.

    python -m sim.scenarios.corpus.build --out DIR [NAME ...]

Everything is drawn from each network's seed, so a build is reproducible; nothing is committed.
`ensure_built(cache_root, name)` builds a network once per fingerprint (the corpus sources and
the SUMO version) and reuses it afterwards: the tests call it with pytest's cache folder.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sim.scenarios.common import sumo_home, write_sumocfg
from sim.scenarios.corpus.catalogue import CorpusNet, by_name
from sim.scenarios.corpus.demand import random_demand, sampled_demand

HERE = Path(__file__).resolve().parent
TAIL_S = 300  # simulated time after the demand period in the sumocfg (tests pass their own --end)


def build(net: CorpusNet, out_dir: Path) -> Path:
    """Write the scenario into out_dir (created); returns its .sumocfg."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(net.seed)
    additional = list(net.network(out_dir, net.name, net.seed))
    for step in net.extras:
        additional += step(out_dir, net.name, rng)
    make = sampled_demand if net.demand.sampled else random_demand
    end_s = net.begin_s + net.demand_s
    additional += make(out_dir / f"{net.name}.net.xml", out_dir, net.name, net.demand, net.seed, net.begin_s, end_s)
    cfg = out_dir / f"{net.name}.sumocfg"
    write_sumocfg(
        cfg, net.name, net.seed, net.seed, end_s + TAIL_S, net.begin_s, additional=",".join(additional) or None
    )
    return cfg


@functools.cache
def fingerprint() -> str:
    """Changes whenever a corpus source, the shared scenario code or SUMO's version changes."""
    h = hashlib.sha256()
    for src in [*sorted(HERE.glob("*.py")), HERE.parent / "common.py"]:
        h.update(src.read_bytes())
    version = subprocess.run([str(sumo_home() / "bin" / "sumo"), "--version"], capture_output=True, text=True)
    h.update(version.stdout.split("\n")[0].encode())
    return h.hexdigest()[:16]


def ensure_built(cache_root: Path, name: str) -> Path:
    """The .sumocfg of network `name` under cache_root/<fingerprint>/<name>/, built if missing
    (into a temporary folder first, so an interrupted build is never reused). Builds under
    another fingerprint are deleted."""
    final = cache_root / fingerprint() / name
    cfg = final / f"{name}.sumocfg"
    if cfg.exists():
        return cfg
    for stale in cache_root.glob("*"):  # builds of older sources are never read again
        if stale.is_dir() and stale.name != fingerprint():
            shutil.rmtree(stale, ignore_errors=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent) as tmp:
        build(by_name()[name], Path(tmp) / name)
        shutil.rmtree(final, ignore_errors=True)
        (Path(tmp) / name).replace(final)
    return cfg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the corpus of irregular networks.")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("names", nargs="*", help="networks to build (default: all)")
    args = p.parse_args(argv)
    known = by_name()
    for name in args.names or list(known):
        if name not in known:
            sys.exit(f"unknown corpus network {name!r}; known: {', '.join(known)}")
        cfg = build(known[name], args.out / name)
        print(f"wrote {cfg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
