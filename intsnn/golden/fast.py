"""Fast, event-driven integer kernels for SNN/RSNN training (numba, integer types only).

Same arithmetic as :mod:`intsnn.golden.reference`, reorganised for speed:

* the forward pass skips zero inputs (one accumulation of a weight column per non-zero input,
  the same work the hardware does) and runs the samples of a batch in parallel;
* the weight trace of eq. 3.5 is never materialised: because the Direct/Final/Feedback error is
  known only at the end of the sample, ``sum_b v_fb[b,h] * T_corr[b,h,i]`` is evaluated as
  ``sum_{b,t} (v_fb[b,h] * pg[b,t,h]) * T_pre[b,t,i]`` from the recorded pseudo-gradients and
  presynaptic traces (integer sums are exact in any order, so the result is bit-identical).

``tests/test_golden_model.py`` checks every output against the reference on random inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import NetConfig
from .init import Weights
from .ops import ITYPE, as_int

try:  # numba is a core dependency, but keep the golden model importable without it
    from numba import njit, prange
    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

__all__ = ["HAVE_NUMBA", "FastForward", "forward_fast", "deltas_fast"]


@dataclass
class FastForward:
    """Per-timestep state the update needs, for a batch (all integer arrays).

    counts (B,O); prediction (B,); pg_hidden (B,T,H) 0/1; pre_hidden (B,T,I); pg_output (B,T,O);
    pre_output (B,T,H); s_output (B,T,O) (for the Feedback error neurons).
    """

    counts: np.ndarray
    prediction: np.ndarray
    pg_hidden: np.ndarray
    pre_hidden: np.ndarray
    pg_output: np.ndarray
    pre_output: np.ndarray
    s_output: np.ndarray


if HAVE_NUMBA:
    @njit(parallel=True, cache=True, nogil=True)
    def _forward_kernel(x, wq_h_t, wrec_t, wq_o_t, beta, th_h, win_h, th_o, win_o,
                        vlo_h, vhi_h, vlo_o, vhi_o, rec_shift, recurrent, rec_post,
                        counts, pg_h, pre_h, pg_o, pre_o, s_o):
        nb, nt, ni = x.shape
        nh = wq_h_t.shape[1]
        no = wq_o_t.shape[1]
        for b in prange(nb):
            v_h = np.zeros(nh, np.int64)       # pre-reset V(t-1)
            vs_h = np.zeros(nh, np.int64)      # post-reset V_s(t-1)
            vs_o = np.zeros(no, np.int64)
            tr_h = np.zeros(ni, np.int64)
            tr_o = np.zeros(nh, np.int64)
            cur = np.zeros(nh, np.int64)
            cur_o = np.zeros(no, np.int64)
            s_h = np.zeros(nh, np.int64)
            for t in range(nt):
                cur[:] = 0
                for i in range(ni):
                    xi = np.int64(x[b, t, i])
                    if xi != 0:
                        for h in range(nh):
                            cur[h] += xi * wq_h_t[i, h]
                if recurrent:
                    for j in range(nh):
                        q = (vs_h[j] if rec_post else v_h[j]) >> rec_shift
                        if q != 0:
                            for h in range(nh):
                                cur[h] += q * wrec_t[j, h]
                for h in range(nh):
                    v = (vs_h[h] >> beta) + cur[h]
                    v = min(max(v, vlo_h), vhi_h)
                    v_h[h] = v
                    sp = 1 if v > th_h else 0
                    s_h[h] = sp
                    pg_h[b, t, h] = 1 if abs(v - th_h) < win_h else 0
                    vs_h[h] = 0 if sp else v
                for i in range(ni):
                    tr_h[i] = (tr_h[i] >> beta) + x[b, t, i]
                    pre_h[b, t, i] = tr_h[i]
                cur_o[:] = 0
                for h in range(nh):
                    if s_h[h] != 0:
                        for o in range(no):
                            cur_o[o] += wq_o_t[h, o]
                for o in range(no):
                    v = (vs_o[o] >> beta) + cur_o[o]
                    v = min(max(v, vlo_o), vhi_o)
                    sp = 1 if v > th_o else 0
                    s_o[b, t, o] = sp
                    counts[b, o] += sp
                    pg_o[b, t, o] = 1 if abs(v - th_o) < win_o else 0
                    vs_o[o] = 0 if sp else v
                for h in range(nh):
                    tr_o[h] = (tr_o[h] >> beta) + s_h[h]
                    pre_o[b, t, h] = tr_o[h]

    @njit(parallel=True, cache=True, nogil=True)
    def _delta_kernel(pre, g, out):
        """out[i, h] = sum_{b,t} pre[b,t,i] * g[b,t,h] (skipping zero traces)."""
        nb, nt, ni = pre.shape
        nh = g.shape[2]
        for i in prange(ni):
            for b in range(nb):
                for t in range(nt):
                    p = np.int64(pre[b, t, i])
                    if p != 0:
                        for h in range(nh):
                            out[i, h] += p * g[b, t, h]


def _trace_dtype(bound: int):
    return np.int16 if bound < (1 << 15) else np.int32


def forward_fast(cfg: NetConfig, w: Weights, x) -> FastForward:
    """Batch forward pass of an SNN/RSNN (see :func:`intsnn.golden.reference.forward`)."""
    if not HAVE_NUMBA:
        raise RuntimeError("the fast path needs numba (pip install numba)")
    if cfg.arch == "csnn":
        raise ValueError("forward_fast supports arch 'snn' and 'rsnn'; use the reference for csnn")
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise TypeError(f"integer input expected, got dtype {x.dtype}")
    if x.ndim != 3 or x.shape[1:] != (cfg.timesteps, cfg.n_in):
        raise ValueError(f"x must have shape (B, {cfg.timesteps}, {cfg.n_in}), got {x.shape}")
    if x.size and (x.min() < 0 or x.max() > cfg.in_max):
        raise ValueError(f"inputs must be in 0..{cfg.in_max} (input_bits={cfg.input_bits})")
    if x.dtype != np.int16:
        x = x.astype(np.int16)
    qh, qo = w.inference(cfg)
    bsz, nt = x.shape[0], cfg.timesteps
    H, O, I = cfg.n_hidden, cfg.n_out, cfg.n_in
    counts = np.zeros((bsz, O), ITYPE)
    pg_h = np.zeros((bsz, nt, H), np.int8)
    pre_h = np.zeros((bsz, nt, I), _trace_dtype(cfg.hidden_trace_max))
    pg_o = np.zeros((bsz, nt, O), np.int8)
    pre_o = np.zeros((bsz, nt, H), _trace_dtype(cfg.output_trace_max))
    s_o = np.zeros((bsz, nt, O), np.int8)
    rec = w.recurrent if cfg.arch == "rsnn" else np.zeros((1, 1), ITYPE)
    vb_h, vb_o = cfg.hidden_voltage_bits, cfg.output_voltage_bits
    _forward_kernel(x, np.ascontiguousarray(qh.T, np.int32), np.ascontiguousarray(rec.T, np.int32),
                    np.ascontiguousarray(qo.T, np.int32), cfg.beta_shift,
                    cfg.hidden.threshold, cfg.hidden.window, cfg.output.threshold,
                    cfg.output.window, -(1 << (vb_h - 1)), (1 << (vb_h - 1)) - 1,
                    -(1 << (vb_o - 1)), (1 << (vb_o - 1)) - 1, cfg.rec_shift,
                    cfg.arch == "rsnn", cfg.rec_source == "post_reset",
                    counts, pg_h, pre_h, pg_o, pre_o, s_o)
    return FastForward(counts, np.argmax(counts, axis=1), pg_h, pre_h, pg_o, pre_o, s_o)


def _delta(pre, pg, vfb):
    g = pg.astype(ITYPE) * as_int(vfb)[:, None, :]
    out = np.zeros((pre.shape[2], g.shape[2]), ITYPE)
    _delta_kernel(pre, g, out)
    return out.T.copy()


def deltas_fast(ff: FastForward, vfb_output, vfb_hidden):
    """Eq. 3.17 for both layers, from the recorded traces (see module docstring)."""
    return _delta(ff.pre_hidden, ff.pg_hidden, vfb_hidden), _delta(ff.pre_output, ff.pg_output,
                                                                   vfb_output)
