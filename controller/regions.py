"""Regions: several controller instances share a city's junctions (issue 12, docs/deployment.md).

A region is a set of junctions one instance owns: it subscribes to their detector, status and
override topics only and is the only one to send them plans. It also reads, from the feed, the
junctions up to `halo_hops` neighbour links beyond its border (its halo): their estimates are what
a coordinating policy needs of the neighbourhood (controller/core/network.py), and it never sends
them anything. Instances share nothing but the broker.

Regions come from config.toml [regions]: `named` (region -> junction ids) or `count` (an
automatic partition of the junction graph, the TOMLs' upstream/downstream links). The partition
orders the junctions, connected component by component, along the Fiedler vector of the
component's graph Laplacian (spectral ordering: Fiedler 1973; Pothen, Simon & Liou 1990), which
keeps neighbours close and runs across the graph's narrowest direction, and cuts the order into
`count` runs of equal size (±1): balanced, and few links cross a cut (a straight cut across a
grid). Deterministic: the same junctions give the same regions on every machine.

    plan = plan_regions(cfg, junctions)            # ConfigError naming the file and the field
    region = plan.region("r1")                     # owned and halo junction ids
    plan.successor("r1", alive={"r0", "r1"})       # who takes r1 over when its instance is gone

Failover: each instance publishes a retained heartbeat with a Last Will (docs/mqtt.md). The
instance of region r is `{service.instance}-{r}`. When it is "offline" or silent for `lease_s`,
the first live region after r in the plan's order takes r over (controller/takeover.py), and
hands it back when r's instance is online again.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from controller.config import Config
from controller.errors import ConfigError
from controller.model import Intersection

if TYPE_CHECKING:  # scipy is imported where a partition is computed: 0.2-0.3 s of a start without regions
    from scipy.sparse import csr_matrix

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Region:
    """One instance's share: the junctions it commands, and those it only reads (its halo)."""

    name: str
    owned: tuple[str, ...]
    halo: tuple[str, ...] = ()

    @property
    def watched(self) -> tuple[str, ...]:
        """Every junction whose feed the instance reads: owned first, then the halo."""
        return self.owned + self.halo


@dataclass(frozen=True)
class RegionPlan:
    regions: tuple[Region, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.regions)

    def region(self, name: str, source: str = "<defaults>") -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise ConfigError(source, "regions", f"no region {name!r} (known: {', '.join(self.names) or 'none'})")

    def owner_of(self) -> dict[str, str]:
        """Junction id -> name of the region that owns it."""
        return {j: r.name for r in self.regions for j in r.owned}

    def successor(self, name: str, alive: Collection[str]) -> str | None:
        """The region whose instance takes `name` over: the first one after it, in the plan's
        order (cyclic), whose instance is alive; None when no other is."""
        names = self.names
        k = names.index(name)
        for step in range(1, len(names)):
            cand = names[(k + step) % len(names)]
            if cand in alive:
                return cand
        return None


def region_instance(cfg: Config, region: str) -> str:
    """The instance name (heartbeat topic level) of the instance that owns `region` (no '.': a
    RabbitMQ topic permission would not match it as one level)."""
    return f"{cfg.service.instance}-{region}"


def neighbours(junctions: Mapping[str, Intersection]) -> dict[str, set[str]]:
    """Undirected neighbour links between the given junctions (upstream or downstream of
    either side in the TOMLs); links to junctions not given are left out."""
    out: dict[str, set[str]] = {j: set() for j in junctions}
    for jid, j in junctions.items():
        for other in (*j.upstream, *j.downstream):
            if other in out and other != jid:
                out[jid].add(other)
                out[other].add(jid)
    return out


def partition(junctions: Mapping[str, Intersection], count: int) -> list[tuple[str, ...]]:
    """`count` runs of equal size (±1) of the reverse Cuthill-McKee order of the junction graph
    (ties by junction id); fewer when there are fewer junctions than `count`."""
    ids = sorted(junctions)
    if not ids:
        return []
    from scipy.sparse import csr_matrix

    index = {j: k for k, j in enumerate(ids)}
    nbrs = neighbours(junctions)
    rows = [index[a] for a in ids for b in sorted(nbrs[a])]
    cols = [index[b] for a in ids for b in sorted(nbrs[a])]
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), len(ids)))
    order = [ids[k] for k in spectral_order(graph)]
    count = min(count, len(ids))
    bounds = [round(k * len(ids) / count) for k in range(count + 1)]
    return [tuple(sorted(order[bounds[k] : bounds[k + 1]])) for k in range(count)]


def spectral_order(graph: csr_matrix) -> list[int]:
    """Node indices, component after component (largest first, ties by lowest index), each
    component sorted along its Fiedler vector (ties by index; the sign fixed so that its lowest
    index comes first). A component whose eigenvector cannot be computed keeps the reverse
    Cuthill-McKee order."""
    from scipy.sparse.csgraph import connected_components

    n_comp, labels = connected_components(graph, directed=False)
    members = [np.flatnonzero(labels == c) for c in range(n_comp)]
    members.sort(key=lambda m: (-len(m), int(m[0])))
    order: list[int] = []
    for m in members:
        order += [int(m[k]) for k in _fiedler_order(graph[m][:, m])] if len(m) > 2 else [int(k) for k in m]
    return order


def _fiedler_order(sub: csr_matrix) -> np.ndarray:
    from scipy.sparse.csgraph import laplacian, reverse_cuthill_mckee
    from scipy.sparse.linalg import eigsh

    n = sub.shape[0]
    lap = laplacian(sub.astype(float))
    try:
        if n <= 400:
            vals, vecs = np.linalg.eigh(lap.toarray())
        else:  # shift-invert around a small negative shift: L + 0.01 I is positive definite
            vals, vecs = eigsh(lap.tocsc(), k=3, sigma=-0.01, which="LM", v0=np.linspace(1.0, 2.0, n))
            vals, vecs = vals[np.argsort(vals)], vecs[:, np.argsort(vals)]
        fiedler = np.round(_fiedler_vector(vals[:3], vecs[:, :3]), 9)
    except Exception:  # ARPACK did not converge: a banded order is still a fair one
        banded: np.ndarray = reverse_cuthill_mckee(sub, symmetric_mode=True)
        return banded
    if fiedler[0] > fiedler[-1] or (fiedler[0] == fiedler[-1] and fiedler[0] > 0):
        fiedler = -fiedler
    return np.lexsort((np.arange(n), fiedler))


def _fiedler_vector(vals: np.ndarray, vecs: np.ndarray) -> np.ndarray:
    """The eigenvector of the second-smallest eigenvalue (ascending `vals`, columns of `vecs`).
    Where that eigenvalue is repeated (a square grid's two axes), any vector of its eigenspace is
    one, and which one a solver returns changes between scipy and LAPACK versions: take the
    projection of a fixed ramp over the node indices onto that eigenspace instead."""
    tol = 1e-6 * max(abs(float(vals[1])), 1e-9)
    same = [k for k in range(1, len(vals)) if abs(float(vals[k] - vals[1])) <= tol]
    if len(same) == 1:
        second: np.ndarray = vecs[:, 1]
        return second
    space = vecs[:, same]
    ramp = np.linspace(1.0, 2.0, space.shape[0])
    v = space @ (space.T @ (ramp - ramp.mean()))
    unit: np.ndarray = v / max(float(np.linalg.norm(v)), 1e-300)
    return unit


def halo(owned: Iterable[str], nbrs: Mapping[str, set[str]], hops: int) -> tuple[str, ...]:
    """Junctions within `hops` neighbour links of `owned`, not owned themselves (sorted)."""
    own = set(owned)
    seen, frontier = set(own), set(own)
    for _ in range(hops):
        frontier = {n for j in frontier for n in nbrs.get(j, ())} - seen
        seen |= frontier
    return tuple(sorted(seen - own))


def cut_links(plan: RegionPlan, junctions: Mapping[str, Intersection]) -> int:
    """Neighbour links whose two ends lie in different regions."""
    owner = plan.owner_of()
    nbrs = neighbours(junctions)
    return sum(1 for a in nbrs for b in nbrs[a] if a < b and owner.get(a) != owner.get(b))


def _named(cfg: Config, junctions: Mapping[str, Intersection]) -> list[tuple[str, tuple[str, ...]]]:
    """[regions] named, checked: names of letters, digits, '_' and '-', lists of known junction ids, no
    junction in two regions. Junctions in no region are an error too: nobody would run them."""
    seen: dict[str, str] = {}
    out = []
    for name, ids in cfg.regions.named.items():
        field = f"regions.named.{name}"
        if not _NAME.fullmatch(name):
            raise ConfigError(cfg.source, field, "a region name is letters, digits, '_' and '-' (it names an instance)")
        if not isinstance(ids, list) or not ids or not all(isinstance(j, str) for j in ids):
            raise ConfigError(cfg.source, field, f"must be a non-empty list of junction ids, got {ids!r}")
        unknown = sorted(set(ids) - set(junctions))
        if unknown:
            raise ConfigError(cfg.source, field, f"unknown junctions {', '.join(unknown[:5])} (not in the TOMLs)")
        for j in ids:
            if j in seen and seen[j] != name:
                raise ConfigError(cfg.source, field, f"junction {j} is already in region {seen[j]!r}")
            seen[j] = name
        out.append((name, tuple(dict.fromkeys(ids))))
    left = sorted(set(junctions) - set(seen))
    if left:
        raise ConfigError(cfg.source, "regions.named", f"junctions in no region: {', '.join(left[:5])}")
    return out


def plan_regions(cfg: Config, junctions: Mapping[str, Intersection]) -> RegionPlan:
    """The regions of config.toml [regions] over `junctions`: `named` when given, else `count`
    automatic ones named r0, r1, ...; one region "all" when neither is set."""
    r = cfg.regions
    if r.named:
        parts = _named(cfg, junctions)
    elif r.count > 0:
        parts = [(f"r{k}", ids) for k, ids in enumerate(partition(junctions, r.count))]
    else:
        parts = [("all", tuple(sorted(junctions)))]
    nbrs = neighbours(junctions)
    return RegionPlan(tuple(Region(name, ids, halo(ids, nbrs, r.halo_hops)) for name, ids in parts))


def select(
    cfg: Config, junctions: Mapping[str, Intersection], name: str
) -> tuple[Config, dict[str, Intersection], frozenset[str]]:
    """For `run --region NAME`: the config with this region's instance name, the junctions the
    instance reads (owned and halo), and the owned ones."""
    region = plan_regions(cfg, junctions).region(name, cfg.source)
    cfg = replace(cfg, service=replace(cfg.service, instance=region_instance(cfg, name)))
    return cfg, {j: junctions[j] for j in region.watched}, frozenset(region.owned)


def main(argv: list[str] | None = None) -> int:
    """`python -m controller.regions [--config config.toml] [--count N]`: the regions of the
    configured junctions, with their sizes, halos and the links cut."""
    import argparse

    from controller.config import load_config
    from controller.junctions import load_intersections
    from controller.live import resolve_intersections

    p = argparse.ArgumentParser(prog="python -m controller.regions", description=(main.__doc__ or "").split("\n")[0])
    p.add_argument("--config", default="config.toml")
    p.add_argument("--count", type=int, default=None, help="instead of [regions] count (and named)")
    a = p.parse_args(argv)
    cfg = load_config(a.config)
    if a.count is not None:
        cfg = replace(cfg, regions=replace(cfg.regions, count=a.count, named={}))
    junctions = load_intersections(resolve_intersections(cfg))
    plan = plan_regions(cfg, junctions)
    for r in plan.regions:
        print(f"{r.name:<12} instance={region_instance(cfg, r.name):<20} owned={len(r.owned):<6} halo={len(r.halo)}")
        print(f"  {' '.join(r.owned)}")
    print(f"{len(junctions)} junctions, {len(plan.regions)} regions, {cut_links(plan, junctions)} links cut")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
