"""step._TickLog.mark and undo: what was logged after the mark, in every list and new_plans, is
dropped, and what was logged before it is kept (a junction whose decision raised: Core.step)."""

from __future__ import annotations

from controller.core.step import _TickLog


def test_undo_drops_what_every_list_got_after_the_mark_and_keeps_the_rest():
    log = _TickLog()
    lists = log._lists()
    for k, x in enumerate(lists):  # a different length in each list before the mark
        x.extend([("before", k)] * (k + 1))
    log.new_plans = 3
    mark = log.mark()
    assert mark == (3, *(k + 1 for k in range(len(lists))))
    for k, x in enumerate(lists):
        x.extend([("after", k)] * (2 * k + 1))
    log.new_plans = 9
    log.undo(mark)
    assert log.new_plans == 3
    assert [list(x) for x in log._lists()] == [[("before", k)] * (k + 1) for k in range(len(lists))]
    assert len(lists) == 7  # commands, refusals, clips, stale, fixed, mode_changes, failed
