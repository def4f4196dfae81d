"""The safety gate's acyclic decision (safety.phase_target) for every junction of a tick in one pass.

Contract: `phase_targets(calls, now_s, memo)[i]` is `safety.phase_target(j, wish, view, now_s=now_s,
memo=memo)` for `calls[i] = (j, wish, view)`, bit for bit: the same phase, hold_s and clipped, or
the same refusal. The junction-by-junction function stays the reference and answers every call
this pass is not sure of.

What the pass answers itself, from the memo's derived data of each model (safety.GateMemo.static),
without calling the gate's rules junction by junction: a well-formed wish (an int phase, a finite
hold_s >= 0, a status that fits the model, a phase without conflicting greens)

- during an intergreen: the phase in force;
- else the wish, or the phase in force before its minimum green, then, when some movement is red
  in the phase in force and that phase is held, the maximum-red check answered by the plan the
  memo kept for that phase and those deadlines (safety._Found.meets, as safety._feasible asks it).

Everything else goes to the reference: a malformed wish or status (a refusal), the maximum green
reached, a switch while some movement is red (the search with the new phase first: the memo
rarely knows it), and a hold the kept plan does not answer. Example: a junction 12 s into the
green of phase 0 (minimum 5 s) wishing to hold phase 0 for 3 s, with a plan kept since the phase
began that still meets every deadline: (0, 3.0, ()) without a search.

Pure, as the rest of the core.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from controller.core.safety import DECISION_PERIOD_S, GateMemo, SignalView, phase_target
from controller.model import Intersection, PhaseWish

# safety.phase_target's answer: (phase, hold_s, clipped), or the reason of a refusal
Target = tuple[int, float, tuple[str, ...]] | str

_KEPT = ("intergreen in progress: target kept",)
_MIN_GREEN = ("min green not yet served",)


def phase_targets(
    calls: Sequence[tuple[Intersection, PhaseWish, SignalView]], now_s: float, memo: GateMemo
) -> list[Target]:
    """Per (model, wish, signal view), what safety.phase_target answers at now_s with `memo`
    (the caller's GateMemo: the pass reads it; the reference, where it answers, keeps plans in it)."""
    out: list[Target] = []
    for j, wish, view in calls:
        got = _held(j, wish, view, now_s, memo)
        out.append(got if got is not None else phase_target(j, wish, view, now_s=now_s, memo=memo))
    return out


def _held(j: Intersection, wish: PhaseWish, view: SignalView, now_s: float, memo: GateMemo) -> Target | None:
    """phase_target's answer where it needs no rule beyond the common ones (module docstring);
    None where the reference must answer."""
    p, hold, cur, n = wish.phase, wish.hold_s, view.phase, len(j.phases)
    if type(p) is not int or not 0 <= p < n or type(hold) is not float or not 0.0 <= hold < math.inf:
        return None  # a refusal, or a type the reference converts: its own checks answer
    st = memo.static(j)
    if not 0 <= cur < n or len(view.red_since_s) != st.movements or st.conflict[p] or st.unserved:
        return None
    if view.in_intergreen:
        target, clipped = cur, (_KEPT if p != cur else ())
    else:
        elapsed, min_g = view.green_elapsed_s, st.min_green_s[cur]
        target, clipped = p, ()
        if p != cur and elapsed < min_g:
            target, clipped = cur, _MIN_GREEN
        if target == cur and elapsed >= st.max_green_s[cur] and n > 1:
            return None  # maximum green: the most starved phase
        if st.red_when[cur]:
            if target != cur:
                return None  # a switch: the search with the new phase first
            known = memo.found(j, cur, None)
            if known is None or known.red != st.red_of[cur](view.red_since_s):
                return None
            if not known.meets(now_s + max(min_g - elapsed, DECISION_PERIOD_S)):
                return None
    return target, (min(float(hold), st.max_green_s[target]) if target == p else 1.0), clipped
