"""`webster`'s re-plans of a region's due junctions as arrays (NetWebster.decide_all; issue 12).

Contract: `DuePlans.of(policy, layouts, answers)` is None unless the policy is WebsterPolicy itself
with the keys this planner covers at their defaults (`covers`: keep_offsets, hold_short_phases,
city_split, slack_to_city, short_keeps_city, keep_green_residual_pcu, divide_after_periods,
coordinated_retime, platoon_fit off); `plans.plan(dues, estimates, flows, now_s)` then gives, per due
junction it plans, the (state, wish) WebsterPolicy.replan_steps gives it, to the last bit, and leaves
the others (returned as left) to replan_steps: a junction whose floor index counts 8 phases or more for
a movement, or whose flows are not of its movements' length, and one whose cycle term divides by zero
or is not finite (the reference raises there).

The junctions of one floor index and phase count are planned together, each step of
common_cycle_steps, cycle_and_needs_steps, webster_greens_steps and demand_split_steps as
(junctions, movements) or (junctions, phases) arrays: the per-junction scalars (the reference cycle,
the intergreens, the lost time, the minimum cycle, the green bounds, the saturation flows, the
storages, the credit's seconds) kept per junction at construction and gathered per tick; each
elementwise operation as the reference does it, in its order; Python's min and max as np.where of the
same comparison; its sums of a few floats as columns added in order; the floors raised as
raised_floors_all raises them (compiled, the reference's bits), the spare as spare_split_rows. An
oversaturated lone junction (`lone_cycle_max_s`) takes lone_cycle_s' cycle, junction by junction, and
its capacity needs from the equal-saturation search, the group's searches answered together
(FloorAnswers: saturation_needs_all).

Example: `plans = DuePlans.of(policy, layouts, FloorAnswers())`; per tick, given the due junctions
(position, the state replan_due gave) and their flows (period_flows_all), `done, left =
plans.plan(dues, estimates, flows, now_s)`: `done[i]` is junction i's (state, wish), `left` the dues
for replan_steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.policies import webster_net
from controller.core.policies.webster import (
    SaturationAsk,
    WebsterPolicy,
    WebsterState,
    _charged_phases,
    _cycle_intergreens_s,
    _cycle_terms_s,
    _fresh_state,
    _green_range_s,
    floor_index,
    lone_cycle_s,
    oversaturated,
    period_flow_pcu_h,
    reference_cycle_s,
    spare_shares,
)
from controller.core.policies.webster_net import FloorAnswers, PaddedIndex, spare_split_rows
from controller.model import CycleWish


def covers(policy: WebsterPolicy) -> bool:
    """The policy is WebsterPolicy itself with every key whose rule this planner does not compute off
    (module docstring); fit_capacity, credit_unopposed, lone_cycle_max_s, the period and the
    residual queue as they are."""
    p = policy.params
    return (
        type(policy) is WebsterPolicy
        and not p.keep_offsets
        and not p.hold_short_phases
        and not p.city_split
        and not p.slack_to_city
        and not p.short_keeps_city
        and p.keep_green_residual_pcu <= 0
        and p.divide_after_periods <= 1
        and not p.coordinated_retime
        and not p.platoon_fit
    )


@dataclass(frozen=True)
class Group:
    """The junctions of one floor index and phase count: per junction (row) what its plans read of its
    layout alone, stacked."""

    members: np.ndarray  # (rows,) the junctions' positions in the pass
    pad: PaddedIndex
    sat_pcu_h: np.ndarray  # (rows, movements) the layouts' saturation flows
    storage_pcu: np.ndarray  # (rows, movements)
    transition_s: np.ndarray  # (rows, movements) the credit's unopposed seconds (0 without credit_unopposed)
    charged: np.ndarray  # (rows, movements) int: flow_ratio_sum's phase of each movement (_charged_phases)
    lo: np.ndarray  # (rows, phases) minimum greens
    hi: np.ndarray  # (rows, phases) maximum greens (at least the minimum)
    share: np.ndarray  # (rows, phases) the spare's proportions (spare_shares)
    ref_s: np.ndarray  # (rows,) the reference cycle
    intergreens_s: np.ndarray  # (rows,) one cycle's intergreens (_cycle_intergreens_s)
    lost_s: np.ndarray  # (rows,) common_cycle_steps' L: per phase the larger of the lost time and its intergreen
    least_s: np.ndarray  # (rows,) the minimum greens with the intergreens (_cycle_terms_s)
    cycle_min_s: np.ndarray  # (rows,) the junction's minimum cycle

    @staticmethod
    def build(members: list[int], pad: PaddedIndex, layouts: Sequence[Layout], policy: WebsterPolicy) -> Group:
        lays = [layouts[i] for i in members]
        lost = policy.params.lost_time_per_phase_s
        credit = policy.params.credit_unopposed
        n_mov = len(lays[0].junction.movements)
        zero = np.zeros(n_mov)
        terms = [lay.derived(_cycle_terms_s) for lay in lays]
        return Group(
            members=np.array(members, dtype=np.intp),
            pad=pad,
            sat_pcu_h=np.array([lay.sat_flow_pcu_h for lay in lays], dtype=float),
            storage_pcu=np.array([lay.storage_pcu for lay in lays], dtype=float),
            transition_s=np.array([policy._credit(lay).transition_s if credit else zero for lay in lays], dtype=float),
            charged=np.array([lay.derived(_charged_phases) for lay in lays], dtype=np.intp),
            lo=np.array([lay.derived(_green_range_s)[0] for lay in lays], dtype=float),
            hi=np.array([lay.derived(_green_range_s)[1] for lay in lays], dtype=float),
            share=np.array([spare_shares(lay, policy.params.spare_above_minimum) for lay in lays], dtype=float),
            ref_s=np.array([reference_cycle_s(lay) for lay in lays], dtype=float),
            intergreens_s=np.array([lay.derived(_cycle_intergreens_s) for lay in lays], dtype=float),
            lost_s=np.array([sum(max(lost, i_s) for i_s in ig) for ig, _ in terms], dtype=float),
            least_s=np.array([least for _, least in terms], dtype=float),
            cycle_min_s=np.array([lay.junction.cycle_min_s for lay in lays], dtype=float),
        )


class DuePlans:
    """replan_steps for many due junctions at once (module docstring)."""

    def __init__(self, policy: WebsterPolicy, layouts: Sequence[Layout], answers: FloorAnswers) -> None:
        self.policy = policy
        self._layouts = tuple(layouts)
        p = policy.params
        self._credit = p.credit_unopposed
        self._lone_s = p.lone_cycle_max_s
        self._answers = answers
        # per junction: (its group's number, its row there), or None: planned by replan_steps
        self._row: list[tuple[int, int] | None] = [None] * len(self._layouts)
        self._lone = [not (lay.junction.upstream or lay.junction.downstream) for lay in self._layouts]
        keyed: dict[tuple[int, int], tuple[PaddedIndex, list[int]]] = {}
        for i, lay in enumerate(self._layouts):
            credit = policy._credit(lay) if self._credit else None
            canon, pad = answers._padded(floor_index(lay, credit))
            if pad is None or len(lay.sat_flow_pcu_h) != len(canon.always):
                continue
            keyed.setdefault((id(canon), len(lay.junction.phases)), (pad, []))[1].append(i)
        self._groups: list[Group] = []
        for pad, members in keyed.values():
            for r, i in enumerate(members):
                self._row[i] = (len(self._groups), r)
            self._groups.append(Group.build(members, pad, self._layouts, policy))

    @staticmethod
    def of(policy: WebsterPolicy, layouts: Sequence[Layout], answers: FloorAnswers) -> DuePlans | None:
        """The planner of `layouts`' re-plans, or None where the policy's keys are not all covered (covers)."""
        return DuePlans(policy, layouts, answers) if covers(policy) else None

    def plan(
        self,
        dues: Sequence[tuple[int, WebsterState]],
        estimates: Sequence[Estimate],
        flows: Sequence[np.ndarray | None],
        now_s: float,
    ) -> tuple[dict[int, tuple[WebsterState, CycleWish]], list[int]]:
        """({position: (state, wish)} of the dues planned here, the indices into `dues` left to
        replan_steps); `flows`: per due, period_flows_all's (None: computed here as replan_steps does)."""
        p = self.policy.params
        rq = p.residual_queue_pcu
        by_group: dict[int, list[tuple[int, int, np.ndarray, bool, bool]]] = {}
        left: list[int] = []
        for d, ((i, state), flow) in enumerate(zip(dues, flows)):
            at = self._row[i]
            if at is None:
                left.append(d)
                continue
            lay = self._layouts[i]
            if flow is None:
                flow = period_flow_pcu_h(lay, state, estimates[i], now_s - state.period_start_s)
            if flow.shape != (len(lay.sat_flow_pcu_h),):
                left.append(d)
                continue
            over = self._lone_s > 0 and self._lone[i] and oversaturated(state, lay, rq)
            full = state.cut or _any_short(state, len(lay.junction.phases), rq) or over
            by_group.setdefault(at[0], []).append((d, at[1], flow, full, over))
        done: dict[int, tuple[WebsterState, CycleWish]] = {}
        for g, rows in by_group.items():
            self._plan_group(self._groups[g], rows, dues, estimates, now_s, done, left)
        return done, left

    def _plan_group(
        self,
        group: Group,
        rows: list[tuple[int, int, np.ndarray, bool, bool]],
        dues: Sequence[tuple[int, WebsterState]],
        estimates: Sequence[Estimate],
        now_s: float,
        done: dict[int, tuple[WebsterState, CycleWish]],
        left: list[int],
    ) -> None:
        """Plan `rows` (index into dues, row in `group`, flows, full cycle, oversaturated and lone) of one
        group into `done`; a row whose cycle term the reference could not compute into `left`."""
        at = np.array([row[1] for row in rows], dtype=np.intp)
        flow = np.array([row[2] for row in rows], dtype=float)
        full = np.array([row[3] for row in rows], dtype=bool)
        k, ok = self._divisor(group, at, flow, full)
        cycle_s = np.where(full, group.ref_s[at], group.ref_s[at] / k)
        lone = [n for n, row in enumerate(rows) if row[4]]
        searched = self._lone_needs(cycle_s, [(self._layouts[dues[rows[n][0]][0]], rows[n][2]) for n in lone], lone)
        greens = self._greens(group, at, flow, cycle_s, lone, searched)
        divided = (cycle_s < group.ref_s[at] - 1e-6).tolist()
        for n, (d, *_) in enumerate(rows):
            if not ok[n]:
                left.append(d)
                continue
            i, state = dues[d]
            shown = tuple(greens[n].tolist())
            fresh = _fresh_state(state, estimates[i], now_s, shown, (), divided[n], (), None, False)
            j = self._layouts[i].junction
            done[i] = (fresh, CycleWish(tuple(range(len(shown))), shown, j.base_offset_s))

    def _lone_needs(
        self, cycle_s: np.ndarray, lone: list[tuple[Layout, np.ndarray]], at: list[int]
    ) -> list[np.ndarray]:
        """Per oversaturated lone row (its layout and flows; `at`: its place in `cycle_s`), its capacity
        needs from the equal-saturation search at lone_cycle_s' cycle, which goes into `cycle_s` (the
        rows' searches answered together, FloorAnswers.answer: saturation_needs_all)."""
        p = self.policy.params
        asks: list[SaturationAsk] = []
        for n, (lay, q) in zip(at, lone):
            c_s = lone_cycle_s(lay, q, float(cycle_s[n]), p.max_flow_ratio, self._lone_s)
            cycle_s[n] = c_s
            credit = self.policy._credit(lay) if self._credit else None
            asks.append(SaturationAsk(lay, q, c_s, p.lost_time_per_phase_s, p.max_flow_ratio, credit))
        return self._answers.answer(asks) if asks else []

    def _divisor(
        self, group: Group, at: np.ndarray, flow: np.ndarray, full: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """((rows,) common_cycle_steps' k: the reference cycle divided by it; 1 where `full`, (rows,)
        whether the reference computes it: 1 - Y not 0 and C / C0 finite)."""
        p = self.policy.params
        rows, phases = len(at), group.lo.shape[1]
        largest = np.zeros(rows * phases)  # each phase's max(initial=0.0), its movements in order
        charged = group.charged[at] + (np.arange(rows) * phases)[:, None]
        np.maximum.at(largest, charged, flow / group.sat_pcu_h[at])
        largest = largest.reshape(rows, phases)
        y = np.zeros(rows)  # Python's sum of the phases' maxima, in order
        for c in range(phases):
            y = y + largest[:, c]
        max_y = p.max_flow_ratio
        total_y = np.where(max_y < y, max_y, y)  # min(Y, max_flow_ratio)
        free = 1.0 - total_y
        ok = (free != 0) | full
        with np.errstate(divide="ignore", invalid="ignore"):
            c0_s = (1.5 * group.lost_s[at] + 5.0) / free
            for bound in (group.cycle_min_s[at], group.least_s[at], np.full(rows, 1e-9)):
                c0_s = np.where(bound > c0_s, bound, c0_s)  # max(C0, ...): the first of equals kept
            whole = np.floor_divide(group.ref_s[at], c0_s)
        ok &= np.isfinite(whole) | full
        k = np.where(full | ~ok, 1, np.maximum(np.where(ok, whole, 1.0).astype(np.int64), 1))
        if p.fit_capacity:
            self._fit_capacity(group, at, flow, k)
        return k, ok

    def _fit_capacity(self, group: Group, at: np.ndarray, flow: np.ndarray, k: np.ndarray) -> None:
        """capacity_fits_steps' loop on `k` (rows,), in place: each row with k > 1 whose capacity
        greens at C / k, raised from the minimum greens, do not fit C / k's green time steps k down,
        rows in step, until it fits or k is 1."""
        live = np.flatnonzero(k > 1)
        while len(live):
            cycle_s = group.ref_s[at[live]] / k[live]
            capacity_s, _ = self._needs(group, at[live], flow[live], cycle_s)
            floors = self._floors(group, at[live], capacity_s)
            fits = floors.sum(axis=1) <= cycle_s - group.intergreens_s[at[live]] + 1e-9
            k[live[~fits]] -= 1
            live = live[~fits & (k[live] > 1)]

    def _needs(
        self, group: Group, at: np.ndarray, flow: np.ndarray, cycle_s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(capacity, storage) movement_needs_s of each row at its `cycle_s` (rows,), to the bit
        (webster_net.movement_needs_all's operations)."""
        p = self.policy.params
        c = cycle_s[:, None]
        q_pcu_s = flow / 3600.0
        has = q_pcu_s > 0
        capacity_s = np.where(has, c * flow / group.sat_pcu_h[at] / p.max_flow_ratio + p.lost_time_per_phase_s, 0)
        storage_s = np.where(has, c - group.storage_pcu[at] / np.maximum(q_pcu_s, 1e-12), 0.0)
        return np.maximum(capacity_s, 0.0), np.maximum(storage_s, 0.0)

    def _floors(self, group: Group, at: np.ndarray, needs_s: np.ndarray) -> np.ndarray:
        """(rows, phases) green_floors_s of each row's `needs_s` from its minimum greens (owed_needs_s,
        raised_floors_all)."""
        owed_s = np.maximum(needs_s - group.transition_s[at], 0.0) if self._credit else needs_s
        order = np.argsort(-owed_s, axis=1)
        return webster_net.raised_floors_all(group.pad, owed_s, order, group.lo[at], group.hi[at])  # (as the pass's)

    def _greens(
        self,
        group: Group,
        at: np.ndarray,
        flow: np.ndarray,
        cycle_s: np.ndarray,
        lone: list[int],
        searched: list[np.ndarray],
    ) -> np.ndarray:
        """(rows, phases) webster_greens_steps' greens at `cycle_s`: demand_split_steps' floors from the
        capacity and storage needs (the `lone` rows' capacity needs `searched`), from the capacity needs
        alone where those do not fit the green time, scaled down above the minimum greens where these
        do not either; the spare split."""
        capacity_s, storage_s = self._needs(group, at, flow, cycle_s)
        for n, needs_s in zip(lone, searched):
            capacity_s[n] = needs_s
        total_s = cycle_s - group.intergreens_s[at]
        total_s = np.where(total_s < 0.0, 0.0, total_s)  # max(total, 0.0)
        floors = self._floors(group, at, np.maximum(capacity_s, storage_s))
        over = floors.sum(axis=1) > total_s
        if over.any():
            floors[over] = self._floors(group, at[over], capacity_s[over])
        lo = group.lo[at]
        lo_sum, floors_sum = lo.sum(axis=1), floors.sum(axis=1)
        scaled = (floors_sum > total_s) & (floors_sum > lo_sum)
        if scaled.any():
            room_s = total_s[scaled] - lo_sum[scaled]
            scale = np.where(room_s < 0.0, 0.0, room_s) / (floors_sum[scaled] - lo_sum[scaled])
            floors[scaled] = lo[scaled] + (floors[scaled] - lo[scaled]) * scale[:, None]
        return spare_split_rows(floors, group.hi[at], group.share[at], total_s)


def _any_short(state: WebsterState, n_phases: int, residual_queue_pcu: float) -> bool:
    """short_phases(state, n_phases, residual_queue_pcu).any(), its comparisons in Python."""
    ends, residual = state.green_ends, state.residual_pcu
    short = False
    for k in range(n_phases):  # every phase, as short_phases reads them
        if len(ends) > k and ends[k] != 0 and residual[k] / ends[k] >= residual_queue_pcu:
            short = True
    return short
