"""A road that stores no vehicle is opened and closed by the lights at both its ends. Pure.

Two lights joined by a road shorter than one vehicle (`Intersection.coupled`, sim/netneighbours.py)
have no room between them: a vehicle sent into that road while the next light shows red to every
movement leaving it stops inside the first junction. There it blocks the streams that cross its
path (a permitted turner yielding to it waits too), and around a ring of such lights each
junction's box fills with vehicles waiting for the next one: a lock no light can clear
(BENCHMARKS.md, issue 9, K session 19: the corpus' rand_short_edges, lights 20, 26, 28, 56).

Reading (the network model, the lights' reported stages and the loops, never the simulator's
truth; a light with no status is not read, and a light whose detector feed is stale is read for
its stage but not its queues: core/step.py `_coupled_reading`), for a movement of junction J whose
exit edge is an approach of a light N coupled to J:
- *held* (`held_shares`): N's stage in force (or the one it is changing to) serves none of N's
  movements from that edge. For the policy's decision only, a held movement's queue and arrival
  flow are seen as not servable now (keepclear.seen_by_policy with share 1). Held or not, the
  queue waiting at J to enter the road is added to N's movements leaving it (by N's measured
  flow shares of them, equal without flow): the road stores nothing, so that queue is the one
  N's stage will serve, and N is drawn to serve it before J may send it;
- *kept open* (`keeps_open`): while J's stage serves the movement and a queue waits on it, N does
  not leave a stage serving the road for one that serves none of it (core/step.py keeps N's
  phase in force instead of the wish): what J sends would stop in J's box. Both lights decide on
  the same tick from the last statuses, so without it one may open the road as the other closes
  it. The safety gate's maximum green and maximum red still end the stage.

Example: lights 20 and 26 joined by a 0.2 m road 27; 4 PCU wait at 20 on the movement into 27,
and 26 shows the stage serving road 63 only. At 20 the movement into 27 weighs nothing; at 26 the
movements from 27 carry the 4 PCU, so 26's max-pressure weighs its stage from 27 as if they
stood on 27; once 26 serves 27, 20 weighs its queue again and sends it through both lights, and
26 keeps serving 27 while 20 sends a queue into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.keepclear import touched


@dataclass(frozen=True)
class CoupledExit:
    """One movement whose exit is a road into a coupled light: the movement's position, the
    light, and that light's movements leaving the road (bool over its movements)."""

    movement: int
    junction: str
    drains: np.ndarray  # (movements of `junction`,) bool


@dataclass(frozen=True)
class CoupledExits:
    """Per junction, its movements that exit into a coupled light's approach (built once: `build`)."""

    exits: Mapping[str, tuple[CoupledExit, ...]]
    into: Mapping[str, tuple[tuple[str, CoupledExit], ...]] = field(default_factory=dict)  # by the coupled light
    all_movements: bool = False  # [estimation] coupled_exit_all (see `opens`)

    def opens(self, serves: np.ndarray, phase: int, drains: np.ndarray) -> bool:
        """Whether the coupled light's stage `phase` (`serves`: its Layout.serves) lets the road's
        vehicles leave: any movement off it served, or with `all_movements` as many as the most any
        of its stages serves (a vehicle for a movement held red stops at once, in the box upstream;
        every one when a stage serves them all)."""
        served = serves[:, drains].sum(axis=1)
        return bool(served[phase] >= (max(int(served.max()), 1) if self.all_movements else 1))

    @staticmethod
    def build(layouts: Mapping[str, Layout], all_movements: bool = False) -> CoupledExits:
        """The coupled exits of every junction in `layouts` (the network model only: `coupled`,
        the movements' exit edges and the coupled lights' approach edges); `all_movements`: see
        `opens`."""
        approach: dict[str, tuple[str, np.ndarray]] = {}  # edge -> (junction, its movements from the edge)
        for jid, lay in layouts.items():
            edges = [m.from_edge for m in lay.junction.movements]
            for edge in dict.fromkeys(edges):
                approach[edge] = (jid, np.array([e == edge for e in edges], dtype=bool))
        exits = {}
        for jid, lay in layouts.items():
            coupled = set(lay.junction.coupled)
            out = []
            for m, mov in enumerate(lay.junction.movements):
                hit = approach.get(mov.to_edge) if mov.to_edge else None
                if hit is not None and hit[0] != jid and hit[0] in coupled:
                    out.append(CoupledExit(m, hit[0], hit[1]))
            if out:
                exits[jid] = tuple(out)
        into: dict[str, list[tuple[str, CoupledExit]]] = {}
        for jid, exs in exits.items():
            for ex in exs:
                into.setdefault(ex.junction, []).append((jid, ex))
        return CoupledExits(exits, {n: tuple(v) for n, v in into.items()}, all_movements)


def held_shares(
    ce: CoupledExits,
    layouts: Mapping[str, Layout],
    estimates: Mapping[str, Estimate],
    phases: Mapping[str, int | None],
    stale: frozenset[str] = frozenset(),
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per junction touched: (movements,) twice, as keepclear.blocked_shares: 1 for a movement
    held (its coupled light's stage `phases[N]` serves none of the road's movements; no status:
    not held), and the PCU waiting upstream to enter the road, on the coupled light's movements
    leaving it (not from a light in `stale`: its detector feed is old). Junctions untouched are
    left out."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    arrays = partial(touched, out, layouts)
    for jid, exits in ce.exits.items():
        for ex in exits:
            phase = phases.get(ex.junction)
            if phase is None:
                continue
            if not ce.opens(layouts[ex.junction].serves, phase, ex.drains):
                arrays(jid)[0][ex.movement] = 1.0
            if jid in stale:
                continue
            queue_pcu = float(estimates[jid].queue_pcu[ex.movement])
            if queue_pcu <= 0.0:
                continue
            flow = np.where(ex.drains, estimates[ex.junction].flow_pcu_h, 0.0)
            weight = flow if flow.sum() > 0 else ex.drains.astype(float)
            arrays(ex.junction)[1][:] += queue_pcu * weight / weight.sum()
    return out


def keeps_open(
    ce: CoupledExits,
    nid: str,
    cur: int,
    target: int,
    layouts: Mapping[str, Layout],
    estimates: Mapping[str, Estimate],
    phases: Mapping[str, int | None],
    stale: frozenset[str] = frozenset(),
) -> bool:
    """Whether light `nid` leaving stage `cur` for `target` would close a coupled road that a
    light upstream is sending into (its stage `phases[J]` serves the movement into the road, a
    queue waits on it; a light in `stale` is not read: its detector feed is old): what it sends
    would stop inside its junction."""
    serves = layouts[nid].serves
    for jid, ex in ce.into.get(nid, ()):
        phase = phases.get(jid)
        if jid in stale or phase is None or not layouts[jid].serves[phase][ex.movement]:
            continue
        if estimates[jid].queue_pcu[ex.movement] <= 0.0:
            continue
        if ce.opens(serves, cur, ex.drains) and not ce.opens(serves, target, ex.drains):
            return True
    return False


def merged(
    a: dict[str, tuple[np.ndarray, np.ndarray]], b: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Two readings of held exits as one: per movement the larger share, the PCU held summed."""
    out = dict(a)
    for jid, (share, held) in b.items():
        if jid in out:
            out[jid] = (np.maximum(out[jid][0], share), out[jid][1] + held)
        else:
            out[jid] = (share, held)
    return out
