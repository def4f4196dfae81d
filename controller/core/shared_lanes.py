"""Shared lanes: one queue, however many movements use the lane. Pure.

The junction model splits a lane used by k movements (through, left and U-turn on one lane)
into k movements, and the estimator splits the lane's counts equally between them
(estimation.py): each gets 1/k of the lane's queue, and its saturation flow in the model is
the lane's divided by k (estimation.Layout.build rebuilds the lane's from it). A policy that
weighs movements by rate x queue (Varaiya's pressure, s_m x_m) then sees

    sum over the k movements of (S / k) x (Q / k) = S x Q / k

for a lane that discharges at S with Q waiting: a lane shared by three movements counts a third
of a lane of its own with the same queue and the same discharge. A lane is one first-in first-out
queue (its head blocks whatever turn it wants), so its vehicles wait as long as those of a lane of
their own. `lane_weight` gives, per movement, the factor k_m that restores the lane's figure:
k_m s_m x_m summed over the movements a phase serves on the lane is S x Q x (share of the lane's
movements served).

Example: lane E_0 used by E_L, E_T, E_R (k = 3), S = 1800 PCU/h, Q = 9 PCU: each movement has
s = 600, x = 3, s x = 1800 PCU^2/h; times k = 3: 5400 each, 16200 for the three, = S x Q.
"""

from __future__ import annotations

import numpy as np

from controller.core.estimation import Layout


def lane_weight(layout: Layout) -> np.ndarray:
    """(movements,) k_m >= 1: the number of movements sharing the movement's lanes (harmonic
    mean over its lanes when they differ: k_m x lane share summed over its lanes = its number
    of lanes); 1 for a movement on lanes of its own or without a lane in the model."""
    share = np.asarray(layout.lane_share, dtype=float)
    uses = share > 0
    n_lanes = uses.sum(axis=1)
    total = share.sum(axis=1)
    return np.where(n_lanes > 0, n_lanes / np.where(total > 0, total, 1.0), 1.0)
