"""A permitted turn's discharge from the flow it gives way to ([estimation] `permitted_gap_acceptance`).

A movement a phase serves permitted only (a yielding 'g' link) discharges through the gaps of the streams it gives
way to. With the key off every policy plans it at a constant share of its saturation flow (`[max_pressure]
permitted_sat_ratio`, `[schedule] permitted_sat_ratio`). With it on, that share follows the opposing flow, by the
gap-acceptance model of the Highway Capacity Manual's permitted left turn (HCM 2010, chapter 31, after Harders and
Siegloch): per lane, through an opposing flow v_o (veh/s) with critical gap t_c and follow-up time t_f,

    s_p = v_o exp(-v_o t_c) / (1 - exp(-v_o t_f))      (veh/s; 1 / t_f with v_o = 0)

capped at the lane's saturation flow. v_o is what the loops measure (Estimate.flow_pcu_h, PCU taken as vehicles) of
the movements it gives way to by the network's right of way (Movement.yields_to, SUMO's <request response>, written
by import-net) that the phase serves too; a stream the phase holds red opposes nothing. Where that is not known
the constant is kept: a movement without `yields_to` (a file from before import-net wrote it), one that gives way
only to what no loop counts (`yields_to` empty: a right turn over a crossing's walkers), or one with an opposing
movement no working loop measures (Estimate.blind).

Example: a left turn on one lane of 1,800 PCU/h against 600 veh/h (v_o = 1/6 veh/s), t_c 4.5 s, t_f 2.5 s:
s_p = 0.1667 x 0.472 / 0.341 = 0.231 veh/s = 832 veh/h, a share of 0.46; against 1,250 veh/h, 452 veh/h (0.25);
against none, 1,440 veh/h (0.8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.core.estimation import Estimate, Layout


@dataclass(frozen=True)
class YieldFoes:
    """Per junction, whom each permitted movement gives way to in each phase; derived once from the model."""

    foes: np.ndarray  # (phases, movements, movements) 1.0 where the phase serves m permitted and f, m gives way to f
    known: np.ndarray  # (phases, movements) bool: served permitted with a `yields_to` naming some movement

    @staticmethod
    def build(layout: Layout) -> YieldFoes:
        ms = layout.junction.movements
        index = {m.id: i for i, m in enumerate(ms)}
        gives = np.zeros((len(ms), len(ms)), dtype=bool)
        for i, m in enumerate(ms):
            gives[i, [index[f] for f in m.yields_to or ()]] = True
        permitted = layout.serves & ~layout.protected
        foes = permitted[:, :, None] & gives[None, :, :] & layout.serves[:, None, :]
        named = np.asarray(gives.any(axis=1), dtype=bool)
        return YieldFoes(foes.astype(float), permitted & named[None, :])


def gap_rate_veh_s(opposing_veh_s: np.ndarray, critical_gap_s: float, follow_up_s: float) -> np.ndarray:
    """Per lane, what a yielding stream passes through an opposing flow (HCM's permitted left, see the module)."""
    v = np.maximum(opposing_veh_s, 1e-9)
    out: np.ndarray = v * np.exp(-v * critical_gap_s) / -np.expm1(-v * follow_up_s)
    return out


def opposing_flow_pcu_h(est: Estimate) -> np.ndarray:
    """(movements,) the flow each stream opposes a yielding one with: its saturation flow while a queue stands at
    its stop line (it discharges at that rate until the queue is gone: HCM's g_q, in which a permitted left
    passes nobody), its arrival flow once none does."""
    out: np.ndarray = np.where(est.queue_pcu >= 1.0, est.sat_flow_pcu_h * (1.0 - est.block), est.flow_pcu_h)
    return out


def permitted_service(layout: Layout, est: Estimate, foes: YieldFoes, service: np.ndarray) -> np.ndarray:
    """(phases, movements) `service` (1 protected, the constant share permitted, 0 not served) with each permitted
    share the gap-acceptance model knows (YieldFoes.known, its opposing movements all measured) replaced by
    s_p x the movement's lanes / its learnt saturation flow, at most 1."""
    p = layout.params
    opposing = foes.foes @ (opposing_flow_pcu_h(est) / 3600.0)
    measured = foes.foes @ est.blind.astype(float) == 0.0
    lanes = layout.lane_share.sum(axis=1)
    rate = gap_rate_veh_s(opposing, p.permitted_critical_gap_s, p.permitted_follow_up_s) * lanes
    share = np.minimum(rate * 3600.0 / np.maximum(est.sat_flow_pcu_h, 1.0), 1.0)
    out: np.ndarray = np.where(foes.known & measured, share, service)
    return out
