"""Fast, event-driven integer kernels for the CSNN (numba, integer types only).

Same arithmetic as the CSNN path of :mod:`intsnn.golden.reference` (eqs. 3.19-3.22), organised
the way a datapath would do it (docs/algorithm.md, "CSNN"):

* **Forward, eq. 3.19.**  The convolution is a *scatter*: every non-zero input pixel ``i`` (value
  ``x``) adds ``x * B_Q(K[f, tap])`` to the hidden neuron ``(f, pos)`` for each of the (position,
  kernel tap) pairs whose window holds ``i`` -- at most ``ceil(k/stride)**2`` pairs (9 for the
  thesis's 5x5 kernels at stride 2) times ``F`` filters.  Zero pixels cost nothing.  The pairs
  come from a fixed table (:class:`ConvGeometry`), the address map a hardware event engine needs.
* **Kernel delta, eqs. 3.20-3.22, deferred.**  The (B, F, P, k*k) weight trace of eq. 3.20 is
  never stored: ``Delta[f, tap] = sum_{b,p} vfb[b,f,p] * sum_t pg[b,t,f,p] * T_pre[b,t,
  pix(p, tap)]`` is evaluated at the end of the batch from the recorded pseudo-gradients and
  presynaptic traces.  Integer sums are exact in any order, so the result is bit-identical to
  the reference's ``sum_{b,p} vfb * T_corr``.
* The LIF passes, traces and the output layer are those of :mod:`intsnn.golden.fast`.

``tests/test_golden_csnn.py`` checks every output against the reference on random geometries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import NetConfig
from .fast import FastForward
from .init import Weights
from .ops import ITYPE, as_int

try:  # numba is a core dependency, but keep the golden model importable without it
    from numba import njit, prange
    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

__all__ = ["HAVE_NUMBA", "ConvGeometry", "CsnnForward", "forward_csnn_fast",
           "deltas_csnn_fast"]


@dataclass(frozen=True)
class ConvGeometry:
    """The two address maps of a stride-``s``, padding-0 convolution of a ``side x side`` image.

    Members
    -------
    patch_pixel : (P, k*k) int32: the pixel under kernel tap ``tap`` at output position ``p``
        (``p = row * n + col``, ``tap = kr * k + kc``); row ``p`` is ``unfold``'s patch ``p``.
    pixel_ptr : (I+1,) int32 and ``pixel_pos``, ``pixel_tap`` : the inverse map in CSR form:
        the (position, tap) pairs of pixel ``i`` are ``pixel_pos[j], pixel_tap[j]`` for ``j`` in
        ``pixel_ptr[i]:pixel_ptr[i+1]``, positions ascending.  Pixels outside every window (the
        last row/column when ``(side - k) % s != 0``) have none.
    """

    patch_pixel: np.ndarray
    pixel_ptr: np.ndarray
    pixel_pos: np.ndarray
    pixel_tap: np.ndarray

    @classmethod
    def of(cls, cfg: NetConfig) -> "ConvGeometry":
        side, k, st, n = cfg.image_side, cfg.conv_kernel, cfg.conv_stride, cfg.conv_out_side
        r = np.arange(n)[:, None, None, None] * st + np.arange(k)[None, None, :, None]
        c = np.arange(n)[None, :, None, None] * st + np.arange(k)[None, None, None, :]
        patch_pixel = (r * side + c).reshape(n * n, k * k).astype(np.int32)
        pix = patch_pixel.ravel()
        order = np.argsort(pix, kind="stable")  # stable: positions stay ascending per pixel
        ptr = np.zeros(side * side + 1, np.int32)
        np.cumsum(np.bincount(pix, minlength=side * side), out=ptr[1:])
        return cls(patch_pixel, ptr, (order // (k * k)).astype(np.int32),
                   (order % (k * k)).astype(np.int32))


def position_major(a: np.ndarray, n_filters: int) -> np.ndarray:
    """Reorder the last axis from the reference's filter-major ``h = f*P + p`` to ``p*F + f``."""
    lead = a.shape[:-1]
    return np.ascontiguousarray(a.reshape(*lead, n_filters, -1).swapaxes(-1, -2)).reshape(a.shape)


def filter_major(a: np.ndarray, n_filters: int) -> np.ndarray:
    """Inverse of :func:`position_major`: ``p*F + f`` back to ``h = f*P + p``."""
    lead = a.shape[:-1]
    return np.ascontiguousarray(a.reshape(*lead, -1, n_filters).swapaxes(-1, -2)).reshape(a.shape)


@dataclass
class CsnnForward(FastForward):
    """Per-timestep state the CSNN update needs, for a batch (all integer arrays).

    The hidden axis is **position-major**, ``hq = p*F + f`` (one word of ``F`` filter lanes per
    output position, the layout a lane-parallel datapath stores); :func:`filter_major` gives the
    reference's ``h = f*P + p``.

    counts (B,O); prediction (B,); pg_hidden (B,T,H) 0/1; pre_hidden (B,T,I); pg_output
    (B,T,O); pre_output (B,T,H); s_output (B,T,O) (Feedback error neurons); geometry: the
    :class:`ConvGeometry` of the pass.
    """

    geometry: ConvGeometry

    @property
    def n_filters(self) -> int:
        return self.pg_hidden.shape[2] // self.geometry.patch_pixel.shape[0]


if HAVE_NUMBA:
    @njit(cache=True, nogil=True)
    def _neuron_pass(v_s, cur, beta, th, win, vlo, vhi, spikes, pg):
        """Eqs. 3.2, 2.2, 3.3 and the hard reset over one layer; ``v_s`` becomes ``V_s(t)``."""
        for j in range(v_s.shape[0]):
            v = min(max((v_s[j] >> beta) + cur[j], vlo), vhi)
            sp = 1 if v > th else 0
            spikes[j] = sp
            pg[j] = 1 if abs(v - th) < win else 0
            v_s[j] = 0 if sp else v

    @njit(parallel=True, cache=True, nogil=True)
    def _forward_kernel(x, kq, pixel_ptr, pixel_pos, pixel_tap, wq_o_t, beta, th_h, win_h,
                        th_o, win_o, vlo_h, vhi_h, vlo_o, vhi_o,
                        counts, pg_h, pre_h, pg_o, pre_o, s_o):
        nb, nt, ni = x.shape
        nf = kq.shape[1]
        nh = pg_h.shape[2]
        no = wq_o_t.shape[1]
        for b in prange(nb):
            vs_h = np.zeros(nh, np.int64)
            vs_o = np.zeros(no, np.int64)
            tr_h = np.zeros(ni, np.int64)
            tr_o = np.zeros(nh, np.int64)
            cur = np.zeros(nh, np.int64)
            cur_o = np.zeros(no, np.int64)
            s_h = np.zeros(nh, np.int8)
            s_ot = np.zeros(no, np.int8)
            for t in range(nt):
                # eq. 3.19 as a scatter: each input event feeds the F lanes of every window
                # position that holds it, with the kernel tap it sits under
                cur[:] = 0
                for i in range(ni):
                    xi = np.int64(x[b, t, i])
                    if xi != 0:
                        for j in range(pixel_ptr[i], pixel_ptr[i + 1]):
                            # views indexed from 0 let LLVM drop numba's negative-index
                            # wrap-around test and vectorise the lane loop (2x measured)
                            base = pixel_pos[j] * nf
                            acc, kw = cur[base:base + nf], kq[pixel_tap[j]]
                            for f in range(nf):
                                acc[f] += xi * kw[f]
                _neuron_pass(vs_h, cur, beta, th_h, win_h, vlo_h, vhi_h, s_h, pg_h[b, t])
                for i in range(ni):
                    tr_h[i] = (tr_h[i] >> beta) + x[b, t, i]
                    pre_h[b, t, i] = tr_h[i]
                cur_o[:] = 0
                for h in range(nh):
                    if s_h[h] != 0:
                        for o in range(no):
                            cur_o[o] += wq_o_t[h, o]
                _neuron_pass(vs_o, cur_o, beta, th_o, win_o, vlo_o, vhi_o, s_ot, pg_o[b, t])
                for o in range(no):
                    s_o[b, t, o] = s_ot[o]
                    counts[b, o] += s_ot[o]
                for h in range(nh):
                    tr_o[h] = (tr_o[h] >> beta) + s_h[h]
                    pre_o[b, t, h] = tr_o[h]

    @njit(parallel=True, cache=True, nogil=True)
    def _kernel_delta_kernel(pg, pre, vfb, pixel_ptr, pixel_pos, pixel_tap, parts):
        """parts.sum(0)[tap, f] = sum_{b,t,p} vfb[b,pF+f] pg[b,t,pF+f] pre[b,t,pix(p,tap)].

        The forward scatter again, with ``g = vfb * pg`` in place of the kernel: every non-zero
        trace value meets the (position, tap) pairs of its pixel.  Samples are split over
        ``len(parts)`` independent accumulators (summed by the caller: exact in any order).
        """
        nb, nt, nh = pg.shape
        ni = pre.shape[2]
        nparts, _, nf = parts.shape
        for c in prange(nparts):
            acc = parts[c]
            g = np.empty(nh, np.int64)
            for b in range(c, nb, nparts):
                for t in range(nt):
                    for h in range(nh):
                        g[h] = vfb[b, h] * pg[b, t, h]
                    for i in range(ni):
                        pv = np.int64(pre[b, t, i])
                        if pv != 0:
                            for j in range(pixel_ptr[i], pixel_ptr[i + 1]):
                                base = pixel_pos[j] * nf
                                row, gp = acc[pixel_tap[j]], g[base:base + nf]
                                for f in range(nf):
                                    row[f] += pv * gp[f]

    @njit(parallel=True, cache=True, nogil=True)
    def _dense_delta_kernel(pg, pre, vfb, out):
        """out[o, h] = sum_b vfb[b,o] * sum_t pg[b,t,o] * pre[b,t,h] (eq. 3.17, deferred)."""
        nb, nt, no = pg.shape
        nh = pre.shape[2]
        block = 256
        for k in prange((nh + block - 1) // block):
            lo, hi = k * block, min(nh, (k + 1) * block)
            for b in range(nb):
                for o in range(no):
                    v = vfb[b, o]
                    if v != 0:
                        for t in range(nt):
                            if pg[b, t, o] != 0:
                                for h in range(lo, hi):
                                    out[o, h] += v * pre[b, t, h]


def _trace_dtype(bound: int):
    return np.int16 if bound < (1 << 15) else np.int32


def forward_csnn_fast(cfg: NetConfig, w: Weights, x) -> CsnnForward:
    """Batch forward pass of a CSNN (see :func:`intsnn.golden.reference.forward`)."""
    if not HAVE_NUMBA:
        raise RuntimeError("the fast path needs numba (pip install numba)")
    if cfg.arch != "csnn":
        raise ValueError(f"forward_csnn_fast needs arch 'csnn', got {cfg.arch!r}")
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise TypeError(f"integer input expected, got dtype {x.dtype}")
    if x.ndim != 3 or x.shape[1:] != (cfg.timesteps, cfg.n_in):
        raise ValueError(f"x must have shape (B, {cfg.timesteps}, {cfg.n_in}), got {x.shape}")
    if x.size and (x.min() < 0 or x.max() > cfg.in_max):
        raise ValueError(f"inputs must be in 0..{cfg.in_max} (input_bits={cfg.input_bits})")
    x = x.astype(np.int32 if cfg.input_bits > 15 else np.int16, copy=False)
    geo = ConvGeometry.of(cfg)
    qh, qo = w.inference(cfg)
    bsz, nt, H, O = x.shape[0], cfg.timesteps, cfg.n_hidden, cfg.n_out
    counts = np.zeros((bsz, O), ITYPE)
    pg_h = np.zeros((bsz, nt, H), np.int8)
    pre_h = np.zeros((bsz, nt, cfg.n_in), _trace_dtype(cfg.hidden_trace_max))
    pg_o = np.zeros((bsz, nt, O), np.int8)
    pre_o = np.zeros((bsz, nt, H), _trace_dtype(cfg.output_trace_max))
    s_o = np.zeros((bsz, nt, O), np.int8)
    vb_h, vb_o = cfg.hidden_voltage_bits, cfg.output_voltage_bits
    wq_o_t = position_major(qo, cfg.conv_filters).T.astype(np.int32, order="C")
    _forward_kernel(x, np.ascontiguousarray(qh.T, np.int32), geo.pixel_ptr, geo.pixel_pos,
                    geo.pixel_tap, wq_o_t, cfg.beta_shift,
                    cfg.hidden.threshold, cfg.hidden.window, cfg.output.threshold,
                    cfg.output.window, -(1 << (vb_h - 1)), (1 << (vb_h - 1)) - 1,
                    -(1 << (vb_o - 1)), (1 << (vb_o - 1)) - 1,
                    counts, pg_h, pre_h, pg_o, pre_o, s_o)
    return CsnnForward(counts, np.argmax(counts, axis=1), pg_h, pre_h, pg_o, pre_o, s_o, geo)


#: Independent kernel-delta accumulators (threads); the sum is exact, so any number gives the
#: same bits.
_DELTA_PARTS = 8


def deltas_csnn_fast(ff: CsnnForward, vfb_output, vfb_hidden):
    """Eq. 3.22 (kernels, summed over batch and positions) and eq. 3.17 (output layer).

    ``vfb_hidden`` (B, H) is in the reference's filter-major order.  Returns ``(d_kernel (F,
    k*k), d_output (O, H))`` exactly as :func:`intsnn.golden.reference.deltas` does.
    """
    nf, geo = ff.n_filters, ff.geometry
    vfb_h = position_major(as_int(vfb_hidden), nf)
    parts = np.zeros((min(_DELTA_PARTS, max(1, len(vfb_h))), geo.patch_pixel.shape[1], nf),
                     ITYPE)
    _kernel_delta_kernel(ff.pg_hidden, ff.pre_hidden, vfb_h, geo.pixel_ptr, geo.pixel_pos,
                         geo.pixel_tap, parts)
    d_out = np.zeros((ff.pg_output.shape[2], ff.pre_output.shape[2]), ITYPE)
    _dense_delta_kernel(ff.pg_output, ff.pre_output, as_int(vfb_output), d_out)
    return parts.sum(axis=0).T.copy(), filter_major(d_out, nf)
