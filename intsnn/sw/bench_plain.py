"""The plain numpy peer of ``python -m intsnn.sw.bench --compare``: an independent,
straightforward numpy implementation of the integer training rule (issue 11).

Written from ``docs/algorithm.md`` as a competent numpy user would write it, not derived from the
golden model's code (it shares only the weight initialisation and the random-loss noise, which
are data, not computation):

* vectorised over the batch, one time step at a time; every current is a matrix product over
  the whole batch: the input currents of all steps in one product before the loop (they do not
  depend on the state), the RSNN recurrent term ``B16(V(t-1)) @ W_rec.T`` and the output current
  ``s_hid(t) @ B_Q(W_out).T`` once per step;
* the eq. 3.5 weight traces in deferred form: the pseudo-gradients and presynaptic traces of
  every step are recorded and eq. 3.17 is one product over ``(b, t)`` at the end,
  ``Delta = (v_fb * pg)^T @ T_pre`` with both as ``(B*T, .)`` matrices (a (B, H, I) trace updated
  every step costs ``B*H*I`` operations per step, this ``B*H*I*T`` multiply-adds once, in BLAS);
* the state (voltages, traces, counts, weights) in int64 numpy arrays.

**Exact float products.**  numpy multiplies integer matrices with its own loop; float matrices go
to BLAS, many times faster.  A float product of integer matrices is exact when every value it
forms is an integer the float holds exactly: each intermediate value of ``(A @ B)[m, n]`` is a
product ``A[m, k] B[k, n]`` or a partial sum of such products (in whatever order and blocking the
BLAS uses, with or without fused multiply-add), so its magnitude is at most
``sum_k |A[m, k]| |B[k, n]|``, and every integer of magnitude up to ``2**24`` (float32) or
``2**53`` (float64) is a float of that type.  :func:`exact_dtype` takes float32 or float64 when
the configuration's worst-case bound of that sum allows and int64 otherwise:

==========================  ==================================================================
product                     bound of ``sum_k |A[m, k]| |B[k, n]|``
==========================  ==================================================================
input current               ``n_in * in_max * 2**(Q-1)`` (``NetConfig.hidden_ff_max``)
recurrent current           ``n_hidden * 2**(Q-1) * max(1, 2**(Vbits-1-rec_shift))`` (``|B16|``)
output current              ``n_hidden * 2**(Q-1)`` (``NetConfig.output_ff_max``)
feedback ``e @ B_Q(W_out)`` ``NetConfig.vfb_hidden_max``
eq. 3.17, each layer        ``B * max|v_fb| * T * max T_pre`` (``B * vfb_max * corr_max``)
==========================  ==================================================================

``mnist-snn``: input 100,352 and output 12,800 (float32), deltas below 2**29 (float64);
``shd-rsnn``: input 5.7 M (float32), recurrent 2**28 (float64), deltas below 2**37 (float64).
"""

from __future__ import annotations

import ctypes

import numpy as np

from ..golden.config import NetConfig
from ..golden.init import init_weights
from ..golden.model import loss_rng_bits

__all__ = ["PlainNumpy", "exact_dtype", "matmul_bounds", "blas_threads"]


def exact_dtype(bound: int):
    """The fastest type whose matrix product is exact when ``sum_k |a_k b_k| <= bound``."""
    if bound <= 1 << 24:
        return np.float32
    if bound <= 1 << 53:
        return np.float64
    return np.int64


def matmul_bounds(cfg: NetConfig, batch: int) -> dict[str, int]:
    """Worst-case ``sum_k |A[m, k]| |B[k, n]|`` of each product of :class:`PlainNumpy` (module
    docstring)."""
    b16_max = 1 << max(0, cfg.hidden_voltage_bits - 1 - cfg.rec_shift)
    return {
        "input": cfg.hidden_ff_max,
        "recurrent": cfg.n_hidden * cfg.w_abs_max * b16_max,
        "output": cfg.output_ff_max,
        "feedback": cfg.vfb_hidden_max,
        "delta_hidden": batch * cfg.vfb_hidden_max * cfg.hidden_corr_max,
        "delta_output": batch * cfg.vfb_output_max * cfg.output_corr_max,
    }


def _matmul(a, b, dtype) -> np.ndarray:
    """``a @ b`` of integer matrices in ``dtype`` (exact by :func:`matmul_bounds`), as int64."""
    return np.matmul(a.astype(dtype, copy=False), b.astype(dtype, copy=False)).astype(np.int64)


class PlainNumpy:
    """The integer rule in plain numpy (module docstring); SNN and RSNN, every error mode and loss.

    Parameters
    ----------
    cfg : the shared configuration (``arch`` ``"snn"`` or ``"rsnn"``).
    seed : initial weights (:func:`intsnn.golden.init.init_weights`) and random-loss noise, as
        the golden model, so that both train the same network.
    """

    def __init__(self, cfg: NetConfig, seed: int = 0):
        if cfg.arch not in ("snn", "rsnn"):
            raise ValueError(f"the plain numpy peer implements arch 'snn' and 'rsnn', not "
                             f"{cfg.arch!r}")
        if cfg.lr_rounding != "floor":  # the thesis's shift; the benchmark runs MP 16-8
            raise ValueError(f"the plain numpy peer implements lr_rounding 'floor', not "
                             f"{cfg.lr_rounding!r}")
        self.cfg, self.seed, self.updates = cfg, seed, 0
        w = init_weights(cfg, seed)
        self.w_hidden, self.w_output, self.w_rec = w.hidden, w.output, w.recurrent
        self._types = {k: exact_dtype(v) for k, v in matmul_bounds(cfg, cfg.batch_size).items()}
        self._vbits = (cfg.hidden_voltage_bits, cfg.output_voltage_bits)  # derived: slow-ish

    # ------------------------------------------------------------------ one batch
    def deltas(self, x, y):
        """Forward pass, error and eq. 3.17 of a batch ``x`` (B, T, n_in): ``(d_hidden (H, I),
        d_output (O, H), counts (B, O))``."""
        cfg, ty = self.cfg, self._types
        x = np.asarray(x)
        bsz, T, n_in = x.shape
        if (T, n_in) != (cfg.timesteps, cfg.n_in):
            raise ValueError(f"x must have shape (B, {cfg.timesteps}, {cfg.n_in}), got {x.shape}")
        if bsz > cfg.batch_size:  # the delta bounds are for at most batch_size samples
            ty = {k: exact_dtype(v) for k, v in matmul_bounds(cfg, bsz).items()}
        H, O, beta = cfg.n_hidden, cfg.n_out, cfg.beta_shift
        wq_h = self.w_hidden >> cfg.quant_shift                            # eq. 3.24
        wq_o = self.w_output >> cfg.quant_shift
        vh_lo, vh_hi = -(1 << (self._vbits[0] - 1)), (1 << (self._vbits[0] - 1)) - 1
        vo_lo, vo_hi = -(1 << (self._vbits[1] - 1)), (1 << (self._vbits[1] - 1)) - 1
        th_h, win_h, th_o, win_o = (cfg.hidden.threshold, cfg.hidden.window, cfg.output.threshold,
                                    cfg.output.window)

        # eq. 3.2's W x(t) for every step at once
        cur_in = _matmul(x.reshape(bsz * T, n_in), wq_h.T, ty["input"]).reshape(bsz, T, H)
        w_rec_t = self.w_rec.T.astype(ty["recurrent"]) if cfg.arch == "rsnn" else None
        wq_o_t = wq_o.T.astype(ty["output"])
        v_h = np.zeros((bsz, H), np.int64)      # V(t-1), pre-reset
        vs_h = np.zeros((bsz, H), np.int64)     # V_s(t-1), post-reset
        vs_o = np.zeros((bsz, O), np.int64)
        pre_h = np.zeros((bsz, n_in), np.int64)
        pre_o = np.zeros((bsz, H), np.int64)
        # the history eq. 3.17 needs, in the type of its product
        pg_h_hist = np.zeros((bsz, T, H), np.int64)
        pre_h_hist = np.zeros((bsz, T, n_in), ty["delta_hidden"])
        pg_o_hist = np.zeros((bsz, T, O), np.int64)
        pre_o_hist = np.zeros((bsz, T, H), ty["delta_output"])
        s_out = np.zeros((bsz, T, O), np.int64)
        for t in range(T):
            cur = cur_in[:, t]
            if cfg.arch == "rsnn":                                          # eq. 3.23
                src = v_h if cfg.rec_source == "pre_reset" else vs_h
                cur = cur + _matmul(src >> cfg.rec_shift, w_rec_t, ty["recurrent"])
            v_h = np.clip((vs_h >> beta) + cur, vh_lo, vh_hi)                # eq. 3.2
            s_h = v_h > th_h                                                # eq. 2.2
            pg_h_hist[:, t] = np.abs(v_h - th_h) < win_h                    # eq. 3.3
            vs_h = np.where(s_h, 0, v_h)                                    # hard reset
            pre_h = (pre_h >> beta) + x[:, t]                               # eq. 3.4
            pre_h_hist[:, t] = pre_h
            v_o = np.clip((vs_o >> beta) + _matmul(s_h, wq_o_t, ty["output"]), vo_lo, vo_hi)
            s_o = v_o > th_o
            s_out[:, t] = s_o
            pg_o_hist[:, t] = np.abs(v_o - th_o) < win_o
            vs_o = np.where(s_o, 0, v_o)
            pre_o = (pre_o >> beta) + s_h
            pre_o_hist[:, t] = pre_o
        counts = s_out.sum(axis=1)

        vfb_o = self._feedback(counts, s_out, np.asarray(y, np.int64))     # eqs. 3.6-3.16
        vfb_h = _matmul(vfb_o, wq_o, ty["feedback"])
        # eq. 3.17 with eq. 3.5 substituted: sum_{b,t} v_fb[b,h] pg[b,t,h] T_pre[b,t,i]
        g_h = (pg_h_hist * vfb_h[:, None, :]).reshape(bsz * T, H)
        g_o = (pg_o_hist * vfb_o[:, None, :]).reshape(bsz * T, O)
        d_h = _matmul(g_h.T, pre_h_hist.reshape(bsz * T, n_in), ty["delta_hidden"])
        d_o = _matmul(g_o.T, pre_o_hist.reshape(bsz * T, H), ty["delta_output"])
        return d_h, d_o, counts

    def _error(self, counts, y, noise):
        """Eqs. 3.6-3.8: ``(count * alpha) >> log2 T - onehot(y) * alpha``, zeros replaced."""
        cfg = self.cfg
        e = (counts * cfg.alpha) >> cfg.log2_t
        e[np.arange(len(y)), y] -= cfg.alpha
        if cfg.loss == "positive":
            e[e == 0] = 1
        elif cfg.loss == "random":
            e = np.where(e == 0, noise, e)
        return e

    def _feedback(self, counts, s_out, y):
        """``v_fb`` of the output layer (Direct: e; Final and Feedback: the error neurons)."""
        cfg = self.cfg
        noise = loss_rng_bits(cfg, self.seed, self.updates, np.arange(len(y)))
        th = cfg.fb_threshold
        if cfg.error_mode == "direct":
            return self._error(counts, y, noise)
        if cfg.error_mode == "final":
            e = self._error(counts, y, noise)
            return (e > th).astype(np.int64) - (-e > th)
        running = np.cumsum(s_out, axis=1)
        v_pos = np.zeros_like(counts)
        v_neg = np.zeros_like(counts)
        s_pos = np.zeros_like(counts)
        s_neg = np.zeros_like(counts)
        vfb = np.zeros_like(counts)
        for t in range(cfg.soft_error_start, cfg.timesteps):
            e = self._error(running[:, t], y, None if noise is None else noise[:, t])
            v_pos = v_pos - th * s_pos + e
            v_neg = v_neg - th * s_neg - e
            s_pos = (v_pos > th).astype(np.int64)
            s_neg = (v_neg > th).astype(np.int64)
            vfb += s_pos - s_neg
        return vfb

    def _update(self, w, d, layer):
        """Eqs. 3.18 + 3.27 on shadow weights."""
        cfg = self.cfg
        if cfg.clip_order == "shift_then_clip":
            step = np.clip(d >> layer.lr_shift, -cfg.clip, cfg.clip)
        else:
            step = np.clip(d, -cfg.clip, cfg.clip) >> layer.lr_shift
        if layer.wd_shift is not None:
            step = step + (w >> layer.wd_shift)
        return np.clip(w - step, cfg.shadow_min, cfg.shadow_max)

    def train_batch(self, x, y) -> np.ndarray:
        """One training iteration; returns the predictions (argmax of the counts)."""
        d_h, d_o, counts = self.deltas(x, y)
        self.w_hidden = self._update(self.w_hidden, d_h, self.cfg.hidden)
        self.w_output = self._update(self.w_output, d_o, self.cfg.output)
        self.updates += 1
        return np.argmax(counts, axis=1)


def blas_threads(n: int | None = None) -> int | None:
    """Set (``n``) and return the thread count of the OpenBLAS that numpy loaded.

    The peers are timed on one thread each; OpenBLAS would take every core.  The library is
    found in this process's memory map and called through ctypes (what ``threadpoolctl`` does).
    Returns ``None`` when no OpenBLAS is loaded (another BLAS, or not Linux).
    """
    try:
        with open("/proc/self/maps") as f:
            paths = {ln.split()[-1] for ln in f if "openblas" in ln.lower() and ".so" in ln}
    except OSError:
        return None
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is None or put is None:
                    continue
                if n is not None:
                    put(int(n))
                return int(get())
    return None
