"""The hardware's activity counters: what the RTL's lanes do for one sample.

The core has no counter registers; these counts follow its schedule (docs/architecture.md,
"Schedule"), word by word, from the sample's golden observables -- the same quantities the
exact cycle formula uses, and :func:`cycles_from_activity` rebuilds
:func:`intsnn.hw.cycles.expected_cycles` from them, so every co-simulation that checks the CYCLES
register against the formula also pins these counters to the RTL.

A *lane op* is one lane of a ``P``-lane word operation.  Lanes without work (padding beyond
``n``, lanes of an active delta group whose neuron has no pseudo-gradient or no feedback, zero
terms of the correlation adder tree) still switch, so the lane ops are at least the golden
model's event-driven operations (:mod:`intsnn.golden.activity`); :func:`useful_lane_ops` gives the
golden count of each kind, which the tests compare.
"""

from __future__ import annotations

import numpy as np

from ..golden.activity import count_op
from ..golden.config import NetConfig, bits_signed
from .config import HwConfig
from .cycles import _active_groups, _events, _recurrent_inputs

__all__ = ["hw_activity", "cycles_from_activity", "useful_lane_ops", "hw_counts", "KINDS"]

#: Lane-op kinds: synaptic accumulations (input, recurrent, hidden-spike events), neuron
#: updates, error-neuron updates (Feedback mode), feedback and delta multiply-accumulates.
KINDS = ("acc_input", "acc_recurrent", "acc_spike", "neuron", "error_neuron", "feedback_mac",
         "delta_mac")


def hw_activity(cfg: NetConfig, lanes: int, rec, train: bool = True) -> dict:
    """Lane ops by kind (:data:`KINDS`) and the word counts of the schedule, for one sample.

    Word counts: ``event_words`` (words containing an event, each costing one cycle beyond the
    scan), ``active_groups_output``/``active_groups_hidden`` (delta groups with work);
    ``noise_cycles``: cycles of the random loss's noise unit (not priced).
    """
    hw = HwConfig(net=cfg, lanes=lanes)
    P, IW, HW, OW = lanes, hw.IW, hw.HW, hw.OW
    T, I, H = cfg.timesteps, cfg.n_in, cfg.n_hidden
    s = rec.steps
    out = dict.fromkeys(KINDS, 0)
    out.update(event_words=0, active_groups_output=0, active_groups_hidden=0, noise_cycles=0)
    for t in range(T):
        zw, nz = _events(s["in_spikes"][t], P)
        out["event_words"] += zw
        out["acc_input"] += nz * HW * P
        if cfg.arch == "rsnn" and t > 0:
            zw, nz = _events(_recurrent_inputs(cfg, s["v_hidden"], s["s_hidden"], t), P)
            out["event_words"] += zw
            out["acc_recurrent"] += nz * HW * P
        zw, nz = _events(s["s_hidden"][t], P)
        out["event_words"] += zw
        out["acc_spike"] += nz * OW * P
    out["neuron"] = T * (HW + OW) * P
    if train:
        out["feedback_mac"] = H * OW * P
        out["error_neuron"] = hw.error_neuron_steps * OW * P
        out["noise_cycles"] = hw.noise_runs * hw.noise_cycles
        go = int(_active_groups(s["pg_output"], rec.vfb_output, P).sum())
        gh = int(_active_groups(s["pg_hidden"], rec.vfb_hidden, P).sum())
        out["active_groups_output"], out["active_groups_hidden"] = go, gh
        out["delta_mac"] = (go * H + gh * I) * P
    return out


def cycles_from_activity(cfg: NetConfig, lanes: int, act: dict, train: bool = True) -> int:
    """The sample's cycle count from its activity counters (= ``cycles.expected_cycles``).

    Cycles = fixed scans and latencies + one cycle per event word + one cycle per lane op of an
    event / ``P`` + the delta groups' work.
    """
    hw = HwConfig(net=cfg, lanes=lanes)
    P, IW, HW, OW = lanes, hw.IW, hw.HW, hw.OW
    T, I, H = cfg.timesteps, cfg.n_in, cfg.n_hidden
    rd = hw.event_overhead   # an event pass: start + accumulate drain
    rec_steps = T - 1 if cfg.arch == "rsnn" else 0
    cyc = T * (rd + IW + HW + hw.NEURON_LATENCY + rd + HW + OW + hw.NEURON_LATENCY)
    cyc += rec_steps * (rd + HW)
    cyc += act["event_words"]
    cyc += (act["acc_input"] + act["acc_recurrent"] + act["acc_spike"]) // P
    cyc += OW + hw.ERROR_LATENCY + 1
    if not train:
        return cyc
    cyc += act["feedback_mac"] // P + hw.FEEDBACK_LATENCY
    cyc += act["error_neuron"] // P + hw.error_neuron_steps * hw.ERROR_NEURON_LATENCY
    cyc += act["noise_cycles"]
    cyc += hw.GROUP_CYCLES * (OW + HW)
    cyc += act["delta_mac"] // P
    cyc += (hw.DELTA_LATENCY - 1) * (act["active_groups_output"] + act["active_groups_hidden"])
    return cyc


def useful_lane_ops(cfg: NetConfig, rec, train: bool = True) -> dict:
    """The golden model's count of each :data:`KINDS` (lanes with real work): what the lane ops
    reduce to with one lane per neuron and no idle lanes."""
    s = rec.steps
    T, H, O = cfg.timesteps, cfg.n_hidden, cfg.n_out
    out = dict.fromkeys(KINDS, 0)
    out["acc_input"] = int(np.count_nonzero(s["in_spikes"])) * H
    if cfg.arch == "rsnn":
        out["acc_recurrent"] = H * sum(
            int(np.count_nonzero(_recurrent_inputs(cfg, s["v_hidden"], s["s_hidden"], t)))
            for t in range(1, T))
    out["acc_spike"] = int(np.count_nonzero(s["s_hidden"])) * O
    out["neuron"] = T * (H + O)
    if train:
        out["feedback_mac"] = int(np.count_nonzero(rec.vfb_output)) * H
        out["error_neuron"] = HwConfig(net=cfg, lanes=1).error_neuron_steps * O
        pairs = 0
        for pg, pre, fb in ((s["pg_output"], s["pre_output"], rec.vfb_output),
                            (s["pg_hidden"], s["pre_hidden"], rec.vfb_hidden)):
            k = (np.asarray(pg) != 0).astype(np.int64).T @ (np.asarray(pre) != 0).astype(np.int64)
            pairs += int(np.count_nonzero(k[np.asarray(fb) != 0]))
        out["delta_mac"] = pairs
    return out


def hw_counts(cfg: NetConfig, lanes: int, act: dict) -> dict:
    """The lane ops of :func:`hw_activity` as operation counts (``add32``, ``mul8``, ...) for
    :func:`intsnn.golden.activity.energy_pj`, with the widths the golden count uses: every lane
    of a word operation does the operation, idle or not; a delta lane adds its ``T`` correlation
    terms with ``T - 1`` adders (the masked tree).  The presynaptic traces, the spike counts and
    the error (with the error neurons) have no lane model: :func:`intsnn.hw.energy.energy_report` adds them as the golden
    model counts them."""
    w = cfg.widths()
    Q, vh, vo = cfg.inference_bits, w["hidden_voltage"], w["output_voltage"]
    hw = HwConfig(net=cfg, lanes=lanes)
    out = {}
    count_op(out, "add", vh, act["acc_input"] + act["acc_recurrent"])
    if cfg.input_bits > 1:
        count_op(out, "mul", (Q, cfg.input_bits), act["acc_input"])
    count_op(out, "mul", (Q, max(1, vh - cfg.rec_shift)), act["acc_recurrent"])
    count_op(out, "add", vo, act["acc_spike"])
    sat = 2 if cfg.arch == "rsnn" else 0
    for n, bits in ((hw.HW, vh), (hw.OW, vo)):
        count_op(out, "shift", bits, cfg.timesteps * n * lanes)
        count_op(out, "cmp", bits, cfg.timesteps * n * lanes * (3 + sat))
    vbo = bits_signed(-cfg.vfb_output_max, cfg.vfb_output_max)
    count_op(out, "mul", (Q, vbo), act["feedback_mac"])
    count_op(out, "add", w["hidden_vfb"], act["feedback_mac"])
    if act["delta_mac"]:
        n_out = act["active_groups_output"] * cfg.n_hidden * lanes
        for n, cb, vb in ((n_out, w["output_corr_trace"], vbo),
                          (act["delta_mac"] - n_out, w["hidden_corr_trace"], w["hidden_vfb"])):
            count_op(out, "add", cb, n * (cfg.timesteps - 1))
            count_op(out, "mul", (cb, vb), n)
            count_op(out, "add", w["delta_accumulator"], n)
    return out
