"""freeze_heap (controller/live.py): once a process is set up, full garbage collections come
FULL_GC_AFTER_GEN1 second-generation passes apart (issue 12: a full pass per tick at 2,500
junctions per region cost ~15 % of the tick, and found nothing to collect)."""

from __future__ import annotations

import gc

from controller.live import FULL_GC_AFTER_GEN1, freeze_heap


def full_passes(containers: int) -> int:
    """Full (generation 2) collections while `containers` lists are built and kept."""
    seen = []

    def note(phase: str, info: dict) -> None:
        if phase == "stop" and info["generation"] == 2:
            seen.append(info)

    gc.callbacks.append(note)
    try:
        kept = [[k] for k in range(containers)]
    finally:
        gc.callbacks.remove(note)
    del kept
    return len(seen)


def test_full_collections_are_rare_after_freeze_heap():
    before = gc.get_threshold()
    young, middle, full = 700, 10, 10  # CPython's defaults, whatever an earlier test left set
    many = 3 * young * middle * full  # at those thresholds: about three full passes
    try:
        gc.set_threshold(young, middle, full)
        gc.freeze()
        gc.collect()  # nothing left outside the frozen heap: CPython's rule of a quarter new objects holds
        assert full_passes(many) >= 1  # the default, for comparison
        gc.unfreeze()
        freeze_heap()
        assert gc.get_threshold() == (young, middle, FULL_GC_AFTER_GEN1)
        assert full_passes(many) == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
