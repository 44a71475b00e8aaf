"""Fast integer kernels for SNN/RSNN training and inference (numba, integer types only).

Same arithmetic as :mod:`intsnn.golden.reference`, reorganised for speed and memory.  Integer
sums are exact in any order, so every result is bit-identical to the reference (tested on random
configurations, ``tests/test_golden_fast_property.py``).

* **Event-driven forward pass.**  Only non-zero inputs (and spikes) accumulate a weight row, the
  work the hardware does.  The samples of a batch run in *chunks* of :data:`CHUNK` samples, time
  step by time step, so the RSNN recurrent product is a small matrix product per step (each
  recurrent weight row is read once for the whole chunk) instead of a matrix-vector product per
  sample; chunks run in parallel.
* **Narrow registers.**  Voltages, currents and traces use int32 when :func:`plan` proves from
  the configuration's worst-case bounds that 31 bits suffice (int64 otherwise); the deferred
  batch-delta accumulators are int32 when the batch's feedback voltages prove it
  (:func:`_delta_dtype`; ``mnist-snn``'s static bound is 30 bits, the SHD presets' 39).
* **Two trace modes for the weight update (eq. 3.17).**

  ``"online"``: each sample keeps the per-synapse weight trace of eq. 3.5
  (``T_corr[i, h] += T_pre[i] * pg[h]``, for non-zero ``T_pre`` only) while it runs; at its end
  the error and feedback voltages are computed in the kernel (eqs. 3.6-3.16) and
  ``v_fb * T_corr`` is added to the batch delta.  No time history is stored: the memory is
  ``parts * ONLINE_CHUNK * I * H`` traces plus ``parts * I * H`` accumulators, independent of T
  (and of the batch size).

  ``"deferred"``: the pseudo-gradients and presynaptic traces of every step are recorded and the
  delta is evaluated after the pass as ``sum_{b,t} (v_fb[b,h] pg[b,t,h]) T_pre[b,t,i]``
  (the error comes from :func:`intsnn.golden.reference.error_signals`).  Memory grows with
  ``B * T``.

  ``"auto"`` (default) takes whichever needs less memory for the batch (:func:`trace_memory`).
* **Threads without spinning.**  The kernels are serial numba functions that release the GIL;
  a batch is split into parts that run on a small thread pool (:func:`set_threads`; default
  ``NUMBA_NUM_THREADS``, i.e. the cores).  Idle pool threads sleep, where OpenMP's spin and slow
  down everything else on a shared machine (``pytest -n 2``, CI); numba's own threading layer is
  not used, and serial kernels compile several times faster.  The tiny output-layer delta runs
  in the calling thread.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .config import NetConfig
from .init import Weights
from .ops import ITYPE, as_int

try:  # numba is a core dependency, but keep the golden model importable without it
    from numba import njit
    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

__all__ = ["HAVE_NUMBA", "CHUNK", "TRACE_MODES", "Plan", "plan", "trace_memory", "FastForward",
           "forward_fast", "deltas_fast", "online_deltas", "set_threads", "get_threads",
           "clear_workspace"]

#: Samples that go through a time step together (rows of the RSNN recurrent matrix product).
CHUNK = 16
#: The same in online mode, where each sample in flight holds I*H weight traces: a smaller chunk
#: keeps them in the L2 cache.
ONLINE_CHUNK = 4
_IB = 32  # inputs per block of the deferred delta kernel (one cache line of int16)
TRACE_MODES = ("auto", "deferred", "online")
_INT31 = (1 << 31) - 1
# kernel modes
_INFER, _DEFERRED, _ONLINE = 0, 1, 2
# parameter vector layout (one int64 array instead of twenty scalar arguments)
(_BETA, _TH_H, _WIN_H, _TH_O, _WIN_O, _VLO_H, _VHI_H, _VLO_O, _VHI_O, _REC_SHIFT, _RECURRENT,
 _REC_POST, _ALPHA, _LOG2T, _LOSS, _ERR, _FB_TH, _SOFT_START, _NPARAM) = range(19)
_LOSS_CODE = {"standard": 0, "positive": 1, "random": 2}
_ERR_CODE = {"direct": 0, "final": 1, "feedback": 2}


_threads = max(1, int(os.environ.get("NUMBA_NUM_THREADS", 0)) or os.cpu_count() or 1)
_pool: ThreadPoolExecutor | None = None
_workspace = threading.local()


def set_threads(n: int) -> None:
    """Run the kernels on ``n`` threads (1: in the calling thread, no pool)."""
    global _threads, _pool
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"threads must be a positive integer, got {n!r}")
    if n != _threads and _pool is not None:
        _pool.shutdown()
        _pool = None
    _threads = n


def _forget_pool() -> None:
    # a forked child inherits the pool object but not its threads: start a new one there
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)


def get_threads() -> int:
    """The number of threads the kernels use (:func:`set_threads`)."""
    return _threads


def _in_parts(fn, n_parts: int, *args) -> None:
    """``fn(*args, part, n_parts)`` for every part: part 0 in the calling thread, the others on
    the pool."""
    global _pool
    if n_parts > 1 and _pool is None:
        _pool = ThreadPoolExecutor(_threads - 1, thread_name_prefix="intsnn-golden")
    futures = [_pool.submit(fn, *args, p, n_parts) for p in range(1, n_parts)]
    try:
        fn(*args, 0, n_parts)
    finally:
        for f in futures:
            f.result()


@dataclass(frozen=True)
class Plan:
    """Register types and trace mode of one batch (see :func:`plan`).

    Members
    -------
    mode : ``"deferred"`` or ``"online"``.
    acc : dtype of voltages, currents, presynaptic traces and weights in the kernels (int32 when
        proved enough).
    trace : dtype of the recorded presynaptic-trace history (deferred mode): int16 for inputs
        of up to 8 bits, int32 above.
    corr : dtype of the per-synapse weight traces (online mode): ``acc`` when
        ``NetConfig.hidden_corr_max`` fits it, else int64.
    parts : samples are split into this many parallel parts (each with its own online traces).
    memory : estimated bytes of the trace state of each mode, ``{"deferred": .., "online": ..}``.
    """

    mode: str
    acc: type
    trace: type
    corr: type
    parts: int
    memory: dict


def _current_bound(cfg: NetConfig) -> int:
    """Largest |value| any voltage or current register takes before saturation (eq. 3.2/3.23)."""
    vb = max(cfg.hidden_voltage_bits, cfg.output_voltage_bits)
    rec = 0
    if cfg.arch == "rsnn":
        rec = cfg.n_hidden * cfg.w_abs_max * (1 << max(0, vb - 1 - cfg.rec_shift))
    cur = max(cfg.hidden_ff_max + rec, cfg.output_ff_max)
    return (1 << (vb - 1)) + cur + cfg.fb_threshold + cfg.error_abs_max * 2


def _parts(batch: int) -> int:
    chunks = -(-batch // CHUNK)
    return max(1, min(_threads, chunks))


def _dtypes(cfg: NetConfig):
    """``(acc, trace, corr)`` register types (see :class:`Plan`)."""
    acc = np.int32 if _current_bound(cfg) <= _INT31 else np.int64
    # int16 holds every trace of inputs up to 8 bits (bound 2**9 - 2 at beta_shift 1); wider
    # inputs take int32 (bound < 2**18), so that the input type decides it: one compiled variant
    # fewer per register type
    trace = np.int16 if cfg.input_bits <= 8 else np.int32
    assert max(cfg.hidden_trace_max, cfg.output_trace_max) <= np.iinfo(trace).max
    corr = np.int32 if (acc == np.int32 and max(cfg.hidden_corr_max, cfg.output_corr_max)
                        <= _INT31) else np.int64
    return acc, trace, corr


def trace_memory(cfg: NetConfig, batch: int, parts: int | None = None) -> dict:
    """Bytes of trace state each mode needs for a batch of ``batch`` samples.

    Deferred: the recorded history, ``B*T*(I + H)`` presynaptic traces and ``B*T*(H + 2 O)``
    pseudo-gradient and spike bytes, and the two ``B*T*H`` feedback-times-pseudo-gradient arrays
    of the delta (int64 at most).  Online: per part, ``min(ONLINE_CHUNK, B)`` per-synapse
    weight traces ``I*H + H*O`` and int64 delta accumulators ``I*H + H*O``; no term in T.
    """
    parts = _parts(batch) if parts is None else parts
    _, trace, corr = _dtypes(cfg)
    I, H, O, T = cfg.n_in, cfg.n_hidden, cfg.n_out, cfg.timesteps
    syn = I * H + H * O
    deferred = batch * T * ((I + H) * np.dtype(trace).itemsize + (H + 2 * O) + 2 * 8 * H)
    online = parts * syn * (min(ONLINE_CHUNK, batch) * np.dtype(corr).itemsize + 8)
    return {"deferred": deferred, "online": online}


def plan(cfg: NetConfig, batch: int, mode: str = "auto") -> Plan:
    """Choose register types and the trace mode for a batch of ``batch`` samples.

    int32 is used wherever the configuration's worst-case bounds fit 31 bits: voltages, currents
    and traces (:func:`_current_bound`) and weight traces (``NetConfig.hidden_corr_max``);
    int64 otherwise.  (The online delta accumulators are int64; the deferred ones are chosen per
    batch by :func:`_delta_dtype`.)
    ``mode="auto"`` takes the mode that needs less memory (:func:`trace_memory`).
    """
    if mode not in TRACE_MODES:
        raise ValueError(f"trace_mode must be one of {TRACE_MODES}, got {mode!r}")
    parts = _parts(batch)
    mem = trace_memory(cfg, batch, parts)
    if mode == "auto":
        mode = "online" if mem["online"] < mem["deferred"] else "deferred"
    return Plan(mode, *_dtypes(cfg), parts, mem)


@dataclass
class FastForward:
    """Per-timestep state the deferred update needs, for a batch (all integer arrays).

    counts (B,O); prediction (B,); pg_hidden (B,T,H) 0/1; pre_hidden (B,T,I); pg_output (B,T,O);
    pre_output (B,T,H); s_output (B,T,O) (for the Feedback error neurons).  After
    :func:`forward_fast` with ``record=False`` only ``counts`` and ``prediction`` are filled.
    """

    counts: np.ndarray
    prediction: np.ndarray
    pg_hidden: np.ndarray
    pre_hidden: np.ndarray
    pg_output: np.ndarray
    pre_output: np.ndarray
    s_output: np.ndarray


if HAVE_NUMBA:
    @njit(cache=True, nogil=True)
    def _nonzero(row, idx):
        """Write the positions of the non-zero entries of ``row`` to ``idx``; return their count.

        Branch-free, so the event-driven loops that follow do not pay a mispredicted branch
        per zero input (2-3x on the sparse MNIST inputs).
        """
        n = 0
        for i in range(row.shape[0]):
            idx[n] = i
            n += row[i] != 0
        return n

    @njit(cache=True, nogil=True)
    def _corr_add(pre, pg, corr, seen, idx):
        """Eq. 3.5 per synapse, ``corr[i, h] += pre[i] * pg[h]``, for the non-zero ``pre[i]``;
        ``seen[i]`` marks the rows that may be non-zero."""
        for m in range(_nonzero(pre, idx)):
            i = idx[m]
            p = pre[i]
            seen[i] = 1
            for h in range(pg.shape[0]):
                corr[i, h] += p * pg[h]

    @njit(cache=True, nogil=True)
    def _corr_flush(seen, corr, vfb, delta, idx):
        """End of a sample: ``delta[i, h] += vfb[h] * corr[i, h]`` (eq. 3.17) over the rows
        ``seen`` marks (the others are 0), and clear them for the next sample."""
        for m in range(_nonzero(seen, idx)):
            i = idx[m]
            for h in range(vfb.shape[0]):
                delta[i, h] += vfb[h] * corr[i, h]
                corr[i, h] = 0
            seen[i] = 0

    @njit(cache=True, nogil=True)
    def _error(counts, label, noise, t, prm, e):
        """Eqs. 3.6-3.8 for one sample into ``e`` (O,): ``(count*alpha) >> log2T - onehot``."""
        for o in range(e.shape[0]):
            v = ((np.int64(counts[o]) * prm[_ALPHA]) >> prm[_LOG2T]) - (
                prm[_ALPHA] if o == label else 0)
            if v == 0 and prm[_LOSS] == 1:
                v = 1
            elif v == 0 and prm[_LOSS] == 2:
                v = noise[t, o]
            e[o] = v

    @njit(cache=True, nogil=True)
    def _kernel(x, labels, noise, wq_h_t, wrec_t, wq_o_t, prm, mode, counts, s_o_h, pg_h_h,
                pre_h_h, pg_o_h, pre_o_h, corr_h, corr_o, d_h, d_o, part, n_parts):
        """Chunks ``part, part + n_parts, ...`` of a batch, step by step (module docstring).

        ``mode``: 0 inference (counts only), 1 deferred (record the history), 2 online
        (per-synapse traces, in-kernel error, deltas into ``d_h[part]``/``d_o[part]``).
        Parts write disjoint rows and their own accumulators, so they run in parallel threads.
        """
        nb, nt, ni = x.shape
        nh = wq_h_t.shape[1]
        no = wq_o_t.shape[1]
        chunk = corr_h.shape[1] if mode == _ONLINE else CHUNK
        n_chunks = (nb + chunk - 1) // chunk
        beta, rs = prm[_BETA], min(prm[_REC_SHIFT], 62)
        th_h, win_h, th_o, win_o = prm[_TH_H], prm[_WIN_H], prm[_TH_O], prm[_WIN_O]
        vlo_h, vhi_h, vlo_o, vhi_o = prm[_VLO_H], prm[_VHI_H], prm[_VLO_O], prm[_VHI_O]
        recurrent, rec_post = prm[_RECURRENT] != 0, prm[_REC_POST] != 0
        err, fb_th, soft_start = prm[_ERR], prm[_FB_TH], prm[_SOFT_START]
        acc = wq_h_t.dtype
        v_h = np.zeros((chunk, nh), acc)     # pre-reset V(t-1)
        vs_h = np.zeros((chunk, nh), acc)    # post-reset V_s(t-1)
        vs_o = np.zeros((chunk, no), acc)
        cur = np.zeros((chunk, nh), acc)
        cur_o = np.zeros((chunk, no), acc)
        q = np.zeros((nh, chunk), acc)      # B16(V(t-1)), transposed
        tr_h = np.zeros((chunk, ni), acc)
        tr_o = np.zeros((chunk, nh), acc)
        s_h = np.zeros((chunk, nh), np.int8)
        pg = np.zeros((chunk, nh), acc)
        pg_o = np.zeros((chunk, no), acc)
        # Feedback error neurons (eqs. 3.9-3.13) and the per-sample error, online mode
        fb = np.zeros((chunk, 5, no), np.int64)  # v_pos, v_neg, s_pos, s_neg, v_fb
        e = np.zeros(no, np.int64)
        vfb_h = np.zeros(nh, np.int64)
        seen_h = np.zeros((chunk, ni), np.int8)  # inputs whose trace was ever non-zero
        seen_o = np.zeros((chunk, nh), np.int8)
        idx = np.empty(max(ni, nh, chunk), np.int64)
        if mode == _ONLINE:
            d_h[part] = 0
            d_o[part] = 0
        for ck in range(part, n_chunks, n_parts):
            b0 = ck * chunk
            nc = min(chunk, nb - b0)
            v_h[:] = 0
            vs_h[:] = 0
            vs_o[:] = 0
            tr_h[:] = 0
            tr_o[:] = 0
            fb[:] = 0
            for t in range(nt):
                # ---- hidden current: eq. 3.2's W s(t), event-driven
                cur[:] = 0
                for k in range(nc):
                    xs = x[b0 + k, t]
                    for m in range(_nonzero(xs, idx)):
                        i = idx[m]
                        xi = xs[i]
                        for h in range(nh):
                            cur[k, h] += xi * wq_h_t[i, h]
                # ---- eq. 3.23: W_rec B16(V(t-1)) for the whole chunk, row by row
                if recurrent:
                    for k in range(nc):
                        for j in range(nh):
                            src = vs_h[k, j] if rec_post else v_h[k, j]
                            q[j, k] = np.int64(src) >> rs
                    # row j of W_rec^T is read once for the whole chunk (it stays in L1)
                    for j in range(nh):
                        for m in range(_nonzero(q[j, :nc], idx)):
                            k = idx[m]
                            qk = q[j, k]
                            for h in range(nh):
                                cur[k, h] += qk * wrec_t[j, h]
                # ---- eqs. 3.2, 2.2, 3.3, hard reset; eq. 3.4
                for k in range(nc):
                    for h in range(nh):
                        v = (vs_h[k, h] >> beta) + cur[k, h]
                        v = min(max(v, vlo_h), vhi_h)
                        v_h[k, h] = v
                        sp = v > th_h
                        s_h[k, h] = sp
                        pg[k, h] = abs(v - th_h) < win_h
                        vs_h[k, h] = 0 if sp else v
                    for i in range(ni):
                        tr_h[k, i] = (tr_h[k, i] >> beta) + x[b0 + k, t, i]
                # ---- output layer, binary input s_hid(t)
                cur_o[:] = 0
                for k in range(nc):
                    for m in range(_nonzero(s_h[k], idx)):
                        h = idx[m]
                        for o in range(no):
                            cur_o[k, o] += wq_o_t[h, o]
                    for o in range(no):
                        v = (vs_o[k, o] >> beta) + cur_o[k, o]
                        v = min(max(v, vlo_o), vhi_o)
                        sp = v > th_o
                        counts[b0 + k, o] += sp
                        pg_o[k, o] = abs(v - th_o) < win_o
                        vs_o[k, o] = 0 if sp else v
                        if mode == _DEFERRED:
                            s_o_h[b0 + k, t, o] = sp
                    for h in range(nh):
                        tr_o[k, h] = (tr_o[k, h] >> beta) + s_h[k, h]
                if mode == _DEFERRED:
                    for k in range(nc):
                        b = b0 + k
                        for h in range(nh):
                            pg_h_h[b, t, h] = pg[k, h]
                            pre_o_h[b, t, h] = tr_o[k, h]
                        for i in range(ni):
                            pre_h_h[b, t, i] = tr_h[k, i]
                        for o in range(no):
                            pg_o_h[b, t, o] = pg_o[k, o]
                elif mode == _ONLINE:
                    # ---- eq. 3.5 per synapse: T_corr[i, h] += T_pre[i] * pg[h]
                    for k in range(nc):
                        _corr_add(tr_h[k], pg[k], corr_h[part, k], seen_h[k], idx)
                        _corr_add(tr_o[k], pg_o[k], corr_o[part, k], seen_o[k], idx)
                        if err == 2 and t >= soft_start:
                            # Feedback: the error of the counts so far drives the neurons
                            b = b0 + k
                            _error(counts[b], labels[b], noise[b], t, prm, e)
                            for o in range(no):
                                fb[k, 0, o] += e[o] - fb_th * fb[k, 2, o]
                                fb[k, 1, o] += -e[o] - fb_th * fb[k, 3, o]
                                fb[k, 2, o] = fb[k, 0, o] > fb_th
                                fb[k, 3, o] = fb[k, 1, o] > fb_th
                                fb[k, 4, o] += fb[k, 2, o] - fb[k, 3, o]
            if mode != _ONLINE:
                continue
            # ---- end of each sample: v_fb (3.13-3.16), Delta += v_fb * T_corr (3.17)
            for k in range(nc):
                b = b0 + k
                if err == 2:
                    for o in range(no):
                        e[o] = fb[k, 4, o]
                else:
                    _error(counts[b], labels[b], noise[b], 0, prm, e)
                    if err == 1:  # Final: once through the error neurons from rest
                        for o in range(no):
                            e[o] = np.int64(e[o] > fb_th) - np.int64(-e[o] > fb_th)
                for h in range(nh):
                    s = np.int64(0)
                    for o in range(no):
                        s += np.int64(wq_o_t[h, o]) * e[o]
                    vfb_h[h] = s
                _corr_flush(seen_h[k], corr_h[part, k], vfb_h, d_h[part], idx)
                _corr_flush(seen_o[k], corr_o[part, k], e, d_o[part], idx)

    @njit(cache=True, nogil=True)
    def _delta_kernel(pre, g, out, part, n_parts):
        """``out[i, h] = sum_{b,t} pre[b,t,i] * g[b,t,h]``, skipping zero traces.

        Blocks of ``_IB`` inputs read one cache line of ``pre`` per (b, t) and keep their
        ``out`` rows in L1: the transposed access of the recorded (B, T, I) layout.  This call
        does the blocks ``part, part + n_parts, ...``.
        """
        nb, nt, ni = pre.shape
        nh = g.shape[2]
        n_blk = (ni + _IB - 1) // _IB
        idx = np.empty(_IB, np.int64)
        for blk in range(part, n_blk, n_parts):
            i0 = blk * _IB
            i1 = min(ni, i0 + _IB)
            for b in range(nb):
                for t in range(nt):
                    row = pre[b, t, i0:i1]
                    for m in range(_nonzero(row, idx)):
                        i = idx[m]
                        p = row[i]
                        for h in range(nh):
                            out[i0 + i, h] += p * g[b, t, h]



def _check_x(cfg: NetConfig, x) -> np.ndarray:
    """Validate the input batch; return it as uint8 (<= 8 input bits) or uint16, copying only
    when its dtype is another integer type."""
    if not HAVE_NUMBA:
        raise RuntimeError("the fast path needs numba (pip install numba)")
    if cfg.arch == "csnn":
        raise ValueError("the fast kernels support arch 'snn' and 'rsnn'; use the reference "
                         "for csnn")
    x = np.asarray(x)
    if x.dtype.kind not in "iub":
        raise TypeError(f"integer input expected, got dtype {x.dtype}")
    if x.ndim != 3 or x.shape[1:] != (cfg.timesteps, cfg.n_in):
        raise ValueError(f"x must have shape (B, {cfg.timesteps}, {cfg.n_in}), got {x.shape}")
    if x.size and (x.min() < 0 or x.max() > cfg.in_max):
        raise ValueError(f"inputs must be in 0..{cfg.in_max} (input_bits={cfg.input_bits})")
    # never a narrower signed type: int16 would wrap counts >= 32768 (16-bit inputs)
    want = np.uint8 if cfg.input_bits <= 8 else np.uint16
    return x if x.dtype == want else x.astype(want)


def _params(cfg: NetConfig) -> np.ndarray:
    p = np.zeros(_NPARAM, np.int64)
    vb_h, vb_o = cfg.hidden_voltage_bits, cfg.output_voltage_bits
    p[[_BETA, _TH_H, _WIN_H, _TH_O, _WIN_O]] = (cfg.beta_shift, cfg.hidden.threshold,
                                                 cfg.hidden.window, cfg.output.threshold,
                                                 cfg.output.window)
    p[[_VLO_H, _VHI_H, _VLO_O, _VHI_O]] = (-(1 << (vb_h - 1)), (1 << (vb_h - 1)) - 1,
                                           -(1 << (vb_o - 1)), (1 << (vb_o - 1)) - 1)
    p[[_REC_SHIFT, _RECURRENT, _REC_POST]] = (cfg.rec_shift, cfg.arch == "rsnn",
                                              cfg.rec_source == "post_reset")
    p[[_ALPHA, _LOG2T, _LOSS, _ERR, _FB_TH, _SOFT_START]] = (
        cfg.alpha, cfg.log2_t, _LOSS_CODE[cfg.loss], _ERR_CODE[cfg.error_mode],
        cfg.fb_threshold, cfg.soft_error_start)
    return p


def _weights(cfg: NetConfig, w: Weights, acc):
    qh, qo = w.inference(cfg)
    rec = w.recurrent if cfg.arch == "rsnn" else np.zeros((1, 1), ITYPE)
    return (np.ascontiguousarray(qh.T, acc), np.ascontiguousarray(rec.T, acc),
            np.ascontiguousarray(qo.T, acc))


def _run(cfg, w, x, mode, pl: Plan, labels=None, noise=None):
    bsz, nt = x.shape[0], cfg.timesteps
    H, O, I = cfg.n_hidden, cfg.n_out, cfg.n_in
    counts = np.zeros((bsz, O), ITYPE)
    # Unused arrays are empty, with the plan's types: all modes share one compiled kernel.
    e3 = np.zeros((0, 0, 0), np.int8)
    t0 = np.zeros((0, 0, 0), pl.trace)
    hist = {"s_o": e3, "pg_h": e3, "pre_h": t0, "pg_o": e3, "pre_o": t0}
    corr_h = corr_o = np.zeros((1, 1, 0, 0), pl.corr)
    d_h = d_o = np.zeros((0, 0, 0), np.int64)
    if mode == _DEFERRED:
        hist = {"s_o": np.zeros((bsz, nt, O), np.int8), "pg_h": np.zeros((bsz, nt, H), np.int8),
                "pre_h": np.zeros((bsz, nt, I), pl.trace),
                "pg_o": np.zeros((bsz, nt, O), np.int8),
                "pre_o": np.zeros((bsz, nt, H), pl.trace)}
    elif mode == _ONLINE:
        corr_h, corr_o, d_h, d_o = _online_buffers(pl.parts, max(1, min(ONLINE_CHUNK, bsz)),
                                                   I, H, O, pl.corr)
    if labels is None:
        labels = np.zeros(bsz, ITYPE)
    if noise is None:
        noise = np.zeros((bsz, 1, 1), np.int8)
    wh, wr, wo = _weights(cfg, w, pl.acc)
    try:
        _in_parts(_kernel, pl.parts, x, labels, noise, wh, wr, wo, _params(cfg), mode, counts,
                  hist["s_o"], hist["pg_h"], hist["pre_h"], hist["pg_o"], hist["pre_o"],
                  corr_h, corr_o, d_h, d_o)
    except BaseException:
        clear_workspace()  # the traces may be left non-zero
        raise
    return counts, hist, d_h, d_o


def _online_buffers(parts: int, chunk: int, I: int, H: int, O: int, corr):
    """The online mode's weight traces and delta accumulators, kept per calling thread.

    The kernel leaves the traces zero (each sample clears the rows it touched) and zeroes the
    accumulators itself, so they are allocated once.  Fresh buffers every batch would have both
    kernel threads fault in new pages at the same time, which serialises them.
    """
    key = (parts, chunk, I, H, O, np.dtype(corr).str)
    ws = getattr(_workspace, "online", None)
    if ws is None or ws[0] != key:
        _workspace.online = None  # free the old buffers first
        ws = (key, np.zeros((parts, chunk, I, H), corr), np.zeros((parts, chunk, H, O), corr),
              np.zeros((parts, I, H), np.int64), np.zeros((parts, H, O), np.int64))
        _workspace.online = ws
    return ws[1:]


def clear_workspace() -> None:
    """Free the calling thread's reusable online-mode buffers (:func:`_online_buffers`)."""
    _workspace.online = None


def forward_fast(cfg: NetConfig, w: Weights, x, record: bool = True) -> FastForward:
    """Batch forward pass of an SNN/RSNN (see :func:`intsnn.golden.reference.forward`).

    ``record=True`` keeps the per-timestep history the deferred update needs (memory
    ``O(B*T*(I+H))``); ``record=False`` is inference only (memory independent of T).
    """
    x = _check_x(cfg, x)
    pl = plan(cfg, x.shape[0], "deferred")
    counts, hist, _, _ = _run(cfg, w, x, _DEFERRED if record else _INFER, pl)
    return FastForward(counts, np.argmax(counts, axis=1), hist["pg_h"], hist["pre_h"],
                       hist["pg_o"], hist["pre_o"], hist["s_o"])


def _delta(pre, pg, vfb, dtype, parallel: bool):
    g = pg.astype(dtype) * as_int(vfb).astype(dtype)[:, None, :]
    out = np.zeros((pre.shape[2], g.shape[2]), dtype)
    n_blk = -(-pre.shape[2] // _IB)
    _in_parts(_delta_kernel, min(_threads, n_blk) if parallel else 1, pre, g, out)
    return out.T.astype(ITYPE)


def _delta_dtype(vfb, corr_max: int):
    """int32 when this batch provably fits: ``|Delta[h, i]| <= sum_b |v_fb[b, h]| * T_corr_max``
    (eq. 3.17 with every weight trace at its bound, ``NetConfig.hidden_corr_max``)."""
    bound = int(np.abs(as_int(vfb)).sum(axis=0).max(initial=0)) * corr_max
    return np.int32 if bound <= _INT31 else np.int64


def deltas_fast(ff: FastForward, vfb_output, vfb_hidden, cfg: NetConfig | None = None):
    """Eq. 3.17 for both layers from the recorded history (deferred form, module docstring).

    With ``cfg`` the accumulators of a layer are int32 when the batch's feedback voltages prove
    31 bits enough (:func:`_delta_dtype`), int64 otherwise.
    """
    dt_h = dt_o = np.int64
    if cfg is not None:
        dt_h = _delta_dtype(vfb_hidden, cfg.hidden_corr_max)
        dt_o = _delta_dtype(vfb_output, cfg.output_corr_max)
    return (_delta(ff.pre_hidden, ff.pg_hidden, vfb_hidden, dt_h, True),
            _delta(ff.pre_output, ff.pg_output, vfb_output, dt_o, False))


def online_deltas(cfg: NetConfig, w: Weights, x, labels, noise=None):
    """Forward pass, error and eq. 3.17 in one pass with per-synapse traces (online mode).

    ``noise``: the random-loss values (B, O) or, in Feedback mode, (B, T, O) (see
    :func:`intsnn.golden.model.loss_rng_bits`).  Returns ``(d_hidden (H,I), d_output (O,H),
    counts (B,O))``, bit-identical to the deferred form and the reference.
    """
    x = _check_x(cfg, x)
    bsz = x.shape[0]
    pl = plan(cfg, bsz, "online")
    labels = np.ascontiguousarray(as_int(labels))
    if noise is None:
        nz = np.zeros((bsz, 1, 1), np.int8)
    else:
        nz = np.asarray(noise, np.int8)
        nz = nz.reshape(bsz, 1, cfg.n_out) if nz.ndim == 2 else np.ascontiguousarray(nz)
    counts, _, d_h, d_o = _run(cfg, w, x, _ONLINE, pl, labels, nz)
    return (d_h.sum(axis=0, dtype=ITYPE).T.copy(), d_o.sum(axis=0, dtype=ITYPE).T.copy(),
            counts)
