"""Phase rules shared by the policies."""

from __future__ import annotations

import numpy as np

from controller.core.estimation import Layout


def primary_phases(layout: Layout, *, protected_first: bool) -> np.ndarray:
    """Per movement, the phase its demand is charged to: among the phases serving it, the one
    with the longest base green (ties: the lowest index); with `protected_first`, a phase serving
    it protected ('G' only) before any serving it permitted. Every movement must be served by
    some phase (the junction model guarantees it)."""
    j = layout.junction
    out = np.zeros(len(j.movements), dtype=int)
    for i in range(len(j.movements)):
        serving = [k for k in range(len(j.phases)) if layout.serves[k, i]]
        if protected_first:
            out[i] = max(serving, key=lambda k: (layout.protected[k, i], j.phases[k].base_green_s, -k))
        else:
            out[i] = max(serving, key=lambda k: (j.phases[k].base_green_s, -k))
    return out
