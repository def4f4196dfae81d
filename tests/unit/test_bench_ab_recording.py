"""sim/bench_ab_parts.py recording, how the A/B scripts (bench_ab_*) record a run's calls: each
(owner, name, new) is in place for the block, and every one is put back as it stood on the way out,
also when the run raises (the scripts assigned the originals back by hand, in a `finally`)."""

from __future__ import annotations

import types

import pytest

from sim.bench_ab_parts import recording


class Kind:
    def own(self) -> str:
        return "own"


def test_patches_are_in_place_in_the_block_and_put_back_after_a_raise() -> None:
    mod = types.ModuleType("fake_module")
    mod.f = lambda: "f"
    own, f = Kind.own, mod.f
    calls: list[str] = []

    def rec_own(self: Kind) -> str:
        calls.append("own")
        return own(self)

    with pytest.raises(RuntimeError), recording((Kind, "own", rec_own), (mod, "f", lambda: "g")):
        assert Kind().own() == "own" and calls == ["own"]
        assert mod.f() == "g"
        raise RuntimeError("the run failed")
    assert Kind.own is own and mod.f is f
    assert Kind().own() == "own" and calls == ["own"]


def test_bench_ab_parts_gives_a_base_s_red_times_the_form_it_reads() -> None:
    """c67ca0b's _red_since read a mask per phase; later trees read the served positions, as this one: a base that
    gives this tree's red times on the recorded calls reads positions (the script fed masks to every base, and a
    base of a later session stopped it: "red times: mine's output differs")."""
    from controller.core.step import _red_since
    from controller.model import SignalStatus
    from sim.bench_ab_parts import _takes_positions

    served = ((0, 2), (1,))
    calls = [(served, SignalStatus("J", t, t % 2, False, 1.0, "p", 1, "policy"), (0.0, 0.0, 0.0), t) for t in (1, 2)]

    def masks(served_masks, status, prev, now_s):  # c67ca0b's form: per phase, per movement, served
        return tuple(now_s if served_masks[status.phase][i] else p for i, p in enumerate(prev))

    assert _takes_positions(_red_since, calls) and not _takes_positions(masks, calls)
