"""A live service compiles webster's floors' loop at its start (controller/live.py warm_up,
webster_net.compile_raise_rows), for the very argument types a network pass gives it: its first
re-plan tick then compiles nothing (numba, about a second: in a 60 s bench run that tick's plans
were the whole p99; T, session 50). Each case in a fresh process: numba's compiled forms are per
process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# a pass's call after the warm-up: random indices padded as PaddedIndex.build pads them, owed seconds
# and bounds as raised_floors_all's callers give them; prints the signatures compiled before and after it
CASE = """
import numpy as np
from controller.core.policies import webster_net as w
from controller.live import warm_up
warm_up(POLICY)
compiled = w._compiled_raise_rows()
before = len(compiled.signatures)
rng = np.random.default_rng(7)
rows = tuple(tuple(sorted(rng.choice(4, size=rng.integers(1, 4), replace=False).tolist())) for _ in range(5))
counting, counting_on = w._padded(rows)
serving, serving_on = w._padded(tuple(r[::-1] for r in rows))
pad = w.PaddedIndex(counting, counting_on, serving, serving_on, np.array([False] * 5))
owed = rng.uniform(-5, 30, size=(3, 5))
got = w.raised_floors_all(pad, owed, np.argsort(-owed, axis=1), np.full((3, 4), 5.0), np.full((3, 4), 60.0))
print(before, len(compiled.signatures))
"""


def compiled_before_and_after(policy: str) -> list[int]:
    code = CASE.replace("POLICY", repr(policy))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return [int(x) for x in out.stdout.split()]


def test_a_webster_service_compiles_at_its_start_what_its_first_pass_calls():
    assert compiled_before_and_after("webster") == [1, 1]  # compiled at the start, nothing more at the pass


def test_another_policy_compiles_nothing_at_its_start():
    assert compiled_before_and_after("adaptive") == [0, 1]  # (its first floors-together call would compile)
