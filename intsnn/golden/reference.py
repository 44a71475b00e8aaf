"""The straightforward per-timestep golden model (the specification in executable form).

One forward pass over a batch, time step by time step, exactly in the order of
``docs/algorithm.md`` ("One time step"), optionally recording every observable.  Slow but
obviously right; :mod:`intsnn.golden.fast` is checked against it bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import ops
from .config import NetConfig
from .init import Weights
from .ops import ITYPE, as_int

__all__ = ["Forward", "forward", "error_signals", "deltas", "apply_update", "unfold"]


def unfold(img: np.ndarray, cfg: NetConfig) -> np.ndarray:
    """Eq. 3.19's ``unfold``: (B, side*side) -> (B, P, k*k) patches, stride ``conv_stride``."""
    b = img.shape[0]
    side, k, st, n = cfg.image_side, cfg.conv_kernel, cfg.conv_stride, cfg.conv_out_side
    x = img.reshape(b, side, side)
    out = np.empty((b, n * n, k * k), dtype=img.dtype)
    for r in range(n):
        for c in range(n):
            out[:, r * n + c, :] = x[:, r * st:r * st + k, c * st:c * st + k].reshape(b, k * k)
    return out


@dataclass
class Forward:
    """Result of a forward pass over a batch.

    Members
    -------
    counts : (B, O) output spike counts.  prediction : (B,) argmax (lowest index on ties).
    corr_hidden : (B, H, I) weight trace of eq. 3.5 -- or (B, F, P, k*k) for CSNN (eq. 3.20).
    corr_output : (B, O, H).
    record : per-timestep observables when ``record=True``: arrays of shape (B, T, ...) under
        the keys ``in_spikes, v_hidden, s_hidden, pg_hidden, pre_hidden, v_output, s_output,
        pg_output, pre_output``.
    s_output : (B, T, O) output spikes of every step (the Feedback error neurons read them).
    """

    counts: np.ndarray
    prediction: np.ndarray
    corr_hidden: np.ndarray
    corr_output: np.ndarray
    s_output: np.ndarray
    record: dict = field(default_factory=dict)


def _error_neurons(cfg: NetConfig, state, e):
    """Eqs. 3.9-3.13: a positive and a negative integrate-and-fire error neuron per output.

    ``state = (v_pos, v_neg, s_pos, s_neg)``; soft reset by the threshold (docs/algorithm.md).
    Returns the new state and ``s_pos - s_neg``.
    """
    v_pos, v_neg, s_pos, s_neg = state
    th = cfg.fb_threshold
    v_pos = v_pos - th * s_pos + e
    v_neg = v_neg - th * s_neg - e
    s_pos = (v_pos > th).astype(ITYPE)
    s_neg = (v_neg > th).astype(ITYPE)
    return (v_pos, v_neg, s_pos, s_neg), s_pos - s_neg


def forward(cfg: NetConfig, w: Weights, x, record: bool = False) -> Forward:
    """Run a batch ``x`` of shape (B, T, n_in) through the network, eq. by eq.

    The error neurons of the Feedback mode do not act on the network, so they are evaluated
    afterwards from ``s_output`` (:func:`error_signals`).
    """
    x = as_int(x)
    if x.ndim != 3 or x.shape[1:] != (cfg.timesteps, cfg.n_in):
        raise ValueError(f"x must have shape (B, {cfg.timesteps}, {cfg.n_in}), got {x.shape}")
    if x.min(initial=0) < 0 or x.max(initial=0) > cfg.in_max:
        raise ValueError(f"inputs must be in 0..{cfg.in_max} (input_bits={cfg.input_bits})")
    bsz = x.shape[0]
    qh, qo = w.inference(cfg)
    hp, op = cfg.hidden, cfg.output
    H, O = cfg.n_hidden, cfg.n_out
    conv = cfg.arch == "csnn"

    v_h = np.zeros((bsz, H), ITYPE)          # pre-reset voltage V(t-1) (feeds B16 in RSNN)
    vs_h = np.zeros((bsz, H), ITYPE)         # post-reset voltage V_s(t-1)
    vs_o = np.zeros((bsz, O), ITYPE)
    pre_h = np.zeros((bsz, cfg.n_in), ITYPE)
    pre_o = np.zeros((bsz, H), ITYPE)
    if conv:
        npos, kk = cfg.conv_out_side ** 2, cfg.conv_kernel ** 2
        corr_h = np.zeros((bsz, cfg.conv_filters, npos, kk), ITYPE)
    else:
        corr_h = np.zeros((bsz, H, cfg.n_in), ITYPE)
    corr_o = np.zeros((bsz, O, H), ITYPE)
    counts = np.zeros((bsz, O), ITYPE)
    rec = {k: [] for k in ("in_spikes", "v_hidden", "s_hidden", "pg_hidden", "pre_hidden",
                           "v_output", "s_output", "pg_output", "pre_output")} if record else {}

    s_out = np.zeros((bsz, cfg.timesteps, O), ITYPE)

    for t in range(cfg.timesteps):
        xt = x[:, t, :]
        # ---- hidden layer: eq. 3.2 (+3.23), 2.2, 3.3, reset
        if conv:
            patches = unfold(xt, cfg)                                  # (B, P, kk)
            cur = np.einsum("bpk,fk->bfp", patches, qh).reshape(bsz, H)
        else:
            cur = xt @ qh.T
        if cfg.arch == "rsnn":
            v_prev = v_h if cfg.rec_source == "pre_reset" else vs_h
            cur = cur + ops.b16(v_prev, cfg.rec_shift) @ w.recurrent.T
        v_h = ops.lif_voltage(vs_h, cur, cfg.beta_shift, cfg.hidden_voltage_bits)
        s_h = ops.spike(v_h, hp.threshold)
        pg_h = ops.pseudo_grad(v_h, hp.threshold, hp.window)
        vs_h = ops.hard_reset(v_h, s_h)
        # ---- hidden traces: eq. 3.4 then 3.5 (3.19-3.20 for CSNN)
        pre_h = ops.pre_trace(pre_h, xt, cfg.beta_shift)
        if conv:
            pg4 = pg_h.reshape(bsz, cfg.conv_filters, npos)
            corr_h += pg4[:, :, :, None] * unfold(pre_h, cfg)[:, None, :, :]
        else:
            corr_h = ops.corr_trace(corr_h, pg_h, pre_h)
        # ---- output layer
        v_o = ops.lif_voltage(vs_o, s_h @ qo.T, cfg.beta_shift, cfg.output_voltage_bits)
        s_o = ops.spike(v_o, op.threshold)
        pg_o = ops.pseudo_grad(v_o, op.threshold, op.window)
        vs_o = ops.hard_reset(v_o, s_o)
        pre_o = ops.pre_trace(pre_o, s_h, cfg.beta_shift)
        corr_o = ops.corr_trace(corr_o, pg_o, pre_o)
        counts += s_o
        s_out[:, t] = s_o
        if record:
            for k, v in (("in_spikes", xt), ("v_hidden", v_h), ("s_hidden", s_h),
                         ("pg_hidden", pg_h), ("pre_hidden", pre_h), ("v_output", v_o),
                         ("s_output", s_o), ("pg_output", pg_o), ("pre_output", pre_o)):
                rec[k].append(v)

    record_arrays = {k: np.stack(v, axis=1) for k, v in rec.items() if v}
    return Forward(counts, np.argmax(counts, axis=1), corr_h, corr_o, s_out, record_arrays)


def error_signals(cfg: NetConfig, w: Weights, counts, s_output, labels, rng_bits=None):
    """Error and feedback voltages at the end of the sample.

    Direct (eqs. 3.6, 3.15, 3.16): ``v_fb_out = e``, ``v_fb_hid = B_Q(W_out)^T e``.
    Final: ``e`` passes once through the error neurons from rest (3.9-3.12), then 3.13-3.14.
    Feedback: from step ``soft_error_start`` on, the error of the counts so far drives the error
    neurons every step and their spikes are integrated (3.9-3.14).
    ``rng_bits`` (random loss): (B, O) integers in {-1,0,1}, or (B, T, O) in Feedback mode.
    Returns ``(error, vfb_output, vfb_hidden)``, each (B, .); ``error`` is that of the last step.
    """
    _, qo = w.inference(cfg)
    counts = as_int(counts)
    if cfg.error_mode == "feedback":
        s_output = as_int(s_output)
        z = np.zeros_like(counts)
        state, vfb_o = (z, z, z, z), z.copy()
        running = np.cumsum(s_output, axis=1)
        e = z
        for t in range(cfg.soft_error_start, cfg.timesteps):
            bits = None if rng_bits is None else rng_bits[:, t]
            e = ops.prediction_error(running[:, t], labels, cfg, bits)
            state, ds = _error_neurons(cfg, state, e)
            vfb_o = vfb_o + ds
        return e, vfb_o, vfb_o @ qo
    e = ops.prediction_error(counts, labels, cfg, rng_bits)
    if cfg.error_mode == "direct":
        return e, e, e @ qo
    z = np.zeros_like(e)
    _, ds = _error_neurons(cfg, (z, z, z, z), e)
    return e, ds, ds @ qo


def deltas(cfg: NetConfig, fwd: Forward, vfb_output, vfb_hidden):
    """Eq. 3.17 (3.22 for CSNN): batch-summed ``Delta = sum_b v_fb * T_corr`` of both layers.

    With ``cfg.delta_sat_bits`` a layer's sum saturates after each sample's term, in sample
    order (:func:`~intsnn.golden.ops.batch_delta`)."""
    if cfg.arch == "csnn":
        vf = vfb_hidden.reshape(vfb_hidden.shape[0], cfg.conv_filters, -1)
        d_hid = np.einsum("bfp,bfpk->fk", vf, fwd.corr_hidden)
        return d_hid, np.einsum("bo,boh->oh", vfb_output, fwd.corr_output)
    if cfg.delta_sat_bits is None:
        return (np.einsum("bh,bhi->hi", vfb_hidden, fwd.corr_hidden),
                np.einsum("bo,boh->oh", vfb_output, fwd.corr_output))
    return (ops.batch_delta(cfg, "hidden", as_int(vfb_hidden)[:, :, None] * fwd.corr_hidden),
            ops.batch_delta(cfg, "output", as_int(vfb_output)[:, :, None] * fwd.corr_output))


def apply_update(cfg: NetConfig, w: Weights, d_hid, d_out, seed: int = 0,
                 update: int = 0) -> Weights:
    """Eq. 3.18 with the clip of 3.27 on both trained layers; the recurrent weights stay fixed.

    ``seed`` and ``update`` (the number of updates applied before this one) key the rounding
    offsets of ``cfg.lr_rounding = "dither"`` (:func:`~intsnn.golden.ops.round_offset`).
    """
    new = []
    for layer, (wl, d, p) in enumerate(((w.hidden, d_hid, cfg.hidden),
                                        (w.output, d_out, cfg.output))):
        shape = np.shape(wl)
        u = ops.round_offset(cfg, p.lr_shift, seed, update, layer, shape)
        ud = 0 if p.wd_shift is None else ops.round_offset(cfg, p.wd_shift, seed, update,
                                                           2 + layer, shape)
        new.append(ops.weight_update(wl, d, p.lr_shift, p.wd_shift, cfg, u, ud))
    return Weights(new[0], new[1], w.recurrent)
