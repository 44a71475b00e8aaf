"""The CSNN core's activity counters: what its lanes do for one sample, and the golden count.

The CSNN twin of :mod:`intsnn.hw.activity` (which covers the dense core).  The counts follow the
CSNN schedule (docs/architecture.md, "CSNN"; lanes over filters, ``FW = F / P`` words per
position, hidden index position-major):

* **conv scatter** (event engine, :class:`~intsnn.hw.conv_source.ConvScatter`): every input event
  at a pixel inside some window costs one word operation per (position, tap) pair of the pixel
  and filter word: ``FW * P`` lanes per pair;
* the hidden spikes scatter to the output layer as in the dense core (``OW * P`` per spike);
* the neuron passes, the error, the feedback ``B_Q(W_out)^T e`` and the output layer's deferred
  delta as in the dense core;
* **patch walk** (delta engine, :class:`~intsnn.hw.kernel_delta.PatchWalk`, eq. 3.22): every
  hidden word (one position, ``P`` filters) with a pseudo-gradient and a non-zero feedback walks
  its ``k*k`` taps, one word of ``P`` kernel-delta lanes per tap;
* **kernel update** (UPDATE, once per batch): every kernel word and every output weight word.

:func:`cycles_from_activity` rebuilds the CYCLES register (:func:`intsnn.hw.cycles.
expected_cycles`) from these counters, so a co-simulation that checks CYCLES pins them to the
RTL.  :func:`golden_activity` counts the golden model's event-driven operations of the same
sample by phase (the layout of :func:`intsnn.golden.activity.sample_activity`, which covers
the dense archs only), for the Table 3.3 energy of :mod:`intsnn.hw.energy`.
"""

from __future__ import annotations

import numpy as np

from ..golden import activity as ga
from ..golden.activity import count_layer_update, count_op
from ..golden.config import NetConfig, bits_signed
from ..golden.fast_csnn import ConvGeometry, position_major
from .activity import cycles_from_activity as _dense_cycles
from .config import HwConfig
from .conv_geometry import pairs_per_pixel
from .cycles import _active_groups, _events

__all__ = ["KINDS", "csnn_activity", "cycles_from_activity", "useful_lane_ops", "hw_counts",
           "golden_activity", "update_activity", "sample_entry"]

#: Lane-op kinds of the CSNN core: conv scatter (input events), hidden-spike events, neuron
#: updates, error-neuron updates (Feedback mode), feedback MACs, the output layer's delta MACs
#: and the patch walk's kernel-delta MACs.
KINDS = ("conv_scatter", "acc_spike", "neuron", "error_neuron", "feedback_mac",
         "delta_mac_output", "patch_walk")


def _check(cfg: NetConfig) -> None:
    if cfg.arch != "csnn":
        raise ValueError(f"csnn_activity counts arch 'csnn', got {cfg.arch!r} "
                         f"(intsnn.hw.activity counts the dense archs)")


def _view(cfg: NetConfig, rec):
    """(windowed input events (T, I), pairs per pixel, and the hidden spikes, pseudo-gradients
    and feedback in the core's position-major order)."""
    s, F = rec.steps, cfg.conv_filters
    pairs = pairs_per_pixel(cfg)
    x = np.where(pairs > 0, np.asarray(s["in_spikes"]), 0)
    return (x, pairs, position_major(np.asarray(s["s_hidden"]), F),
            position_major(np.asarray(s["pg_hidden"]), F),
            position_major(np.asarray(rec.vfb_hidden), F))


def csnn_activity(cfg: NetConfig, lanes: int, rec, train: bool = True) -> dict:
    """Lane ops by kind (:data:`KINDS`) and the schedule's word counts, for one sample.

    Word counts: ``event_words`` (words containing an event, one cycle each beyond the scan),
    ``active_groups_output``/``active_groups_hidden`` (delta groups with work; a hidden group
    is one position's filter word), ``noise_cycles`` (the random loss's noise unit).
    """
    _check(cfg)
    hw = HwConfig(net=cfg, lanes=lanes)
    P, FW, HW, OW = lanes, hw.FW, hw.HW, hw.OW
    T, H = cfg.timesteps, cfg.n_hidden
    x, pairs, s_h, pg_h, vfb_h = _view(cfg, rec)
    out = dict.fromkeys(KINDS, 0)
    out.update(event_words=0, active_groups_output=0, active_groups_hidden=0, noise_cycles=0)
    for t in range(T):
        zw, _ = _events(x[t], P)
        out["event_words"] += zw
        out["conv_scatter"] += FW * P * int(pairs[x[t] != 0].sum())
        zw, nz = _events(s_h[t], P)
        out["event_words"] += zw
        out["acc_spike"] += nz * OW * P
    out["neuron"] = T * (HW + OW) * P
    if train:
        s = rec.steps
        out["feedback_mac"] = H * OW * P
        out["error_neuron"] = hw.error_neuron_steps * OW * P
        out["noise_cycles"] = hw.noise_runs * hw.noise_cycles
        go = int(_active_groups(s["pg_output"], rec.vfb_output, P).sum())
        gh = int(_active_groups(pg_h, vfb_h, P).sum())
        out["active_groups_output"], out["active_groups_hidden"] = go, gh
        out["delta_mac_output"] = go * H * P
        out["patch_walk"] = gh * hw.hidden_pre * P
    return out


def _as_dense(act: dict) -> dict:
    """The counters under :mod:`intsnn.hw.activity`'s kind names: the two cores' schedules
    cost the same per lane op (a conv-scatter word is one event-engine cycle, a patch-walk tap
    one delta-engine cycle)."""
    return {**act, "acc_input": act["conv_scatter"], "acc_recurrent": 0,
            "delta_mac": act["delta_mac_output"] + act["patch_walk"]}


def cycles_from_activity(cfg: NetConfig, lanes: int, act: dict, train: bool = True) -> int:
    """The sample's cycle count from its counters (= :func:`intsnn.hw.cycles.expected_cycles`).

    The dense rebuild (:func:`intsnn.hw.activity.cycles_from_activity`) with the conv scatter
    in the place of the input accumulation and the patch walk's taps in the hidden delta
    groups' pre-synaptic loop.
    """
    _check(cfg)
    return _dense_cycles(cfg, lanes, _as_dense(act), train)


def useful_lane_ops(cfg: NetConfig, rec, train: bool = True) -> dict:
    """The golden model's count of each :data:`KINDS` (lanes with real work)."""
    _check(cfg)
    s = rec.steps
    T, H, O, F = cfg.timesteps, cfg.n_hidden, cfg.n_out, cfg.conv_filters
    x = np.asarray(s["in_spikes"])
    pairs = pairs_per_pixel(cfg)
    out = dict.fromkeys(KINDS, 0)
    out["conv_scatter"] = F * int(((x != 0) * pairs).sum())
    out["acc_spike"] = int(np.count_nonzero(s["s_hidden"])) * O
    out["neuron"] = T * (H + O)
    if train:
        out["feedback_mac"] = int(np.count_nonzero(rec.vfb_output)) * H
        out["error_neuron"] = HwConfig(net=cfg, lanes=1).error_neuron_steps * O
        out["delta_mac_output"] = _pairs(s["pg_output"], s["pre_output"], rec.vfb_output)[0]
        out["patch_walk"] = _kernel_pairs(cfg, rec)[0]
    return out


def _pairs(pg, pre, fb) -> tuple[int, int]:
    """(synapses with a co-active step and a non-zero feedback, sum of their co-active steps):
    the deferred delta's multiplications and correlation terms (dense layer)."""
    k = (np.asarray(pg) != 0).astype(np.int64).T @ (np.asarray(pre) != 0).astype(np.int64)
    k = k[np.asarray(fb) != 0]
    return int(np.count_nonzero(k)), int(k.sum())


def _kernel_pairs(cfg: NetConfig, rec) -> tuple[int, int]:
    """The same for eq. 3.22: (hidden neuron (f, p), tap) with a co-active step of its
    pseudo-gradient and the pixel under the tap, and a non-zero feedback."""
    s, F = rec.steps, cfg.conv_filters
    geo = ConvGeometry.of(cfg)
    pg = (np.asarray(s["pg_hidden"]) != 0).astype(np.int64)          # (T, F*npos), f-major
    pre = (np.asarray(s["pre_hidden"]) != 0).astype(np.int64)        # (T, I)
    npos = geo.patch_pixel.shape[0]
    pg = pg.reshape(-1, F, npos)
    patch = pre[:, geo.patch_pixel]                                   # (T, npos, k*k)
    k = np.einsum("tfp,tpk->fpk", pg, patch)                          # co-active steps
    fb = np.asarray(rec.vfb_hidden).reshape(F, npos) != 0
    k = k[fb]
    return int(np.count_nonzero(k)), int(k.sum())


def hw_counts(cfg: NetConfig, lanes: int, act: dict) -> dict:
    """The lane ops of :func:`csnn_activity` as operation counts (``add14``, ``mul8``, ...)
    for :func:`intsnn.golden.activity.energy_pj`: every lane of a word operation does it, idle
    or not; a delta lane adds its ``T`` correlation terms with ``T - 1`` adders.  Traces, the
    counts and the error have no lane model (:func:`golden_activity` counts them)."""
    _check(cfg)
    w = cfg.widths()
    hw = HwConfig(net=cfg, lanes=lanes)
    Q, vh, vo = cfg.inference_bits, w["hidden_voltage"], w["output_voltage"]
    out = {}
    count_op(out, "add", vh, act["conv_scatter"])
    if cfg.input_bits > 1:
        count_op(out, "mul", (Q, cfg.input_bits), act["conv_scatter"])
    count_op(out, "add", vo, act["acc_spike"])
    for n, bits in ((hw.HW, vh), (hw.OW, vo)):
        count_op(out, "shift", bits, cfg.timesteps * n * lanes)
        count_op(out, "cmp", bits, cfg.timesteps * n * lanes * 3)
    vbo = bits_signed(-cfg.vfb_output_max, cfg.vfb_output_max)
    count_op(out, "mul", (Q, vbo), act["feedback_mac"])
    count_op(out, "add", w["hidden_vfb"], act["feedback_mac"])
    for n, cb, vb, dw in ((act["delta_mac_output"], w["output_corr_trace"], vbo,
                           hw.delta_output_bits),
                          (act["patch_walk"], w["hidden_corr_trace"], w["hidden_vfb"],
                           hw.delta_hidden_bits)):
        count_op(out, "add", cb, n * (cfg.timesteps - 1))
        count_op(out, "mul", (cb, vb), n)
        count_op(out, "add", dw, n)
    return out


def golden_activity(cfg: NetConfig, rec, train: bool = True) -> dict:
    """The golden model's operations of one CSNN sample by phase
    (:data:`intsnn.golden.activity.PHASES`, the layout of ``sample_activity``).

    ``forward``: per input event, one ``add`` (and a ``B_Q`` read) per (position, tap) pair of
    its pixel and filter; the output layer and the neuron updates as in the dense count.
    ``delta``: the output layer as in the dense count; the kernel (eq. 3.22) per (hidden
    neuron, tap) with a co-active step and a non-zero feedback, into the kernel-delta register
    (:attr:`HwConfig.delta_hidden_bits`, the positions factor included).  ``traces``, ``error``
    and ``feedback`` depend on the pixel traces, the output layer and the loss only; they are
    :func:`intsnn.golden.activity.sample_activity`'s of the dense network with the same
    observables (checked: the widths they use are the CSNN's).
    """
    _check(cfg)
    w = cfg.widths()
    dense = cfg.replace(arch="snn")
    wd = dense.widths()
    for key in ("hidden_pre_trace", "output_pre_trace", "spike_count", "error", "hidden_vfb",
                "inference_weight"):
        assert wd[key] == w[key], key  # the phases taken from the dense count use these
    phases = ga.sample_activity(dense, rec, train)
    s = rec.steps
    T, H, O, F = cfg.timesteps, cfg.n_hidden, cfg.n_out, cfg.conv_filters
    Q, vh, vo = cfg.inference_bits, w["hidden_voltage"], w["output_voltage"]
    x = np.asarray(s["in_spikes"])
    n_conv = F * int(((x != 0) * pairs_per_pixel(cfg)).sum())
    nsh = int(np.count_nonzero(s["s_hidden"]))
    fw = {"read_bits": 0, "write_bits": 0}
    count_op(fw, "add", vh, n_conv)
    if cfg.input_bits > 1:
        count_op(fw, "mul", (Q, cfg.input_bits), n_conv)
    fw["read_bits"] += n_conv * Q
    count_op(fw, "add", vo, nsh * O)
    fw["read_bits"] += nsh * O * Q
    for n, bits in ((H, vh), (O, vo)):
        count_op(fw, "shift", bits, T * n)
        count_op(fw, "cmp", bits, T * n * 3)
        fw["read_bits"] += T * n * bits
        fw["write_bits"] += T * n * (bits + 2)
    de = {"read_bits": 0, "write_bits": 0}
    if train:
        hw = HwConfig(net=cfg, lanes=1)
        vbo = bits_signed(-cfg.vfb_output_max, cfg.vfb_output_max)
        for (npairs, ksum), cb, vb, dw in (
                (_pairs(s["pg_output"], s["pre_output"], rec.vfb_output),
                 w["output_corr_trace"], vbo, hw.delta_output_bits),
                (_kernel_pairs(cfg, rec), w["hidden_corr_trace"], w["hidden_vfb"],
                 hw.delta_hidden_bits)):
            count_op(de, "add", cb, ksum - npairs)
            count_op(de, "mul", (cb, vb), npairs)
            count_op(de, "add", dw, npairs)
            de["read_bits"] += npairs * dw
            de["write_bits"] += npairs * dw
    return {**phases, "forward": fw, "delta": de}


def update_activity(cfg: NetConfig) -> dict:
    """Operations of one UPDATE (eqs. 3.18 + 3.27): the kernel (``F * k*k`` weights) and the
    output layer, each weight once, with its layer's delta width."""
    _check(cfg)
    hw = HwConfig(net=cfg, lanes=1)
    S = cfg.shadow_bits
    up = {"read_bits": 0, "write_bits": 0}
    for p, n, dw in ((cfg.hidden, cfg.conv_filters * cfg.conv_kernel ** 2, hw.delta_hidden_bits),
                     (cfg.output, cfg.n_out * cfg.n_hidden, hw.delta_output_bits)):
        count_layer_update(up, n, dw, S, cfg.lr_rounding != "floor", p.wd_shift is not None)
    return up


def sample_entry(cfg: NetConfig, lanes: int, rec) -> dict:
    """What :func:`intsnn.hw.energy.energy_report` needs of one CSNN training sample."""
    return {"golden": golden_activity(cfg, rec), "lane": csnn_activity(cfg, lanes, rec),
            "useful": useful_lane_ops(cfg, rec)}
