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
