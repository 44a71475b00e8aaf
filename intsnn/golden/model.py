"""The golden model as an object: weights + the training step (forward, error, update).

``IntSNN`` is what the training CLI and the hardware benches drive.  ``train_batch`` uses the
fast kernels (``fast.py`` for SNN/RSNN, online or deferred weight traces; ``fast_csnn.py`` for
CSNN) or, with ``fast=False``, the reference; all are bit-exact (tested).  ``run_sample`` returns
every observable of one sample, step by step, for the benches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import reference as ref
from .config import NetConfig
from .counter_hash import counter_hash
from .fast import (HAVE_NUMBA, TRACE_MODES, apply_update_fast, deltas_fast, forward_fast,
                   online_deltas, plan)
from .fast_csnn import deltas_csnn_fast, forward_csnn_fast
from .init import Weights, init_weights
from .ops import ITYPE, as_int

__all__ = ["IntSNN", "SampleRecord", "LOSS_STREAM", "loss_rng_bits"]

#: Stream tag of the random-loss noise ("LOSS"), separating it from the rate coder's stream.
LOSS_STREAM = 0x4C4F5353


def loss_rng_bits(cfg: NetConfig, seed: int, update: int, positions) -> np.ndarray | None:
    """Seeded integer noise in {-1, 0, 1} for the random additive loss (eq. 3.8).

    The value for output ``o`` of the sample at position ``p`` of the batch of update ``k``
    (and, in Feedback mode, time step ``t``) is ``((h >> 32) * 3 >> 32) - 1`` with
    ``h = counter_hash(seed, LOSS_STREAM, k, p, [t,] o)`` (docs/algorithm.md, eq. 3.8): a pure
    function of those coordinates, so a sample draws the same noise alone or in its batch.

    Parameters
    ----------
    positions : int or array_like of int
        Positions of the samples in their batch (``range(B)`` for a whole batch).

    Returns
    -------
    numpy.ndarray or None
        int64 ``(len(positions), O)``, or ``(len(positions), T, O)`` in Feedback mode; ``None``
        unless ``cfg.loss == "random"``.
    """
    if cfg.loss != "random":
        return None
    pos = np.atleast_1d(np.asarray(positions, np.int64))
    keys = [pos.reshape(-1, 1)]
    if cfg.error_mode == "feedback":
        keys = [pos.reshape(-1, 1, 1), np.arange(cfg.timesteps, dtype=np.int64).reshape(1, -1, 1)]
    h = counter_hash(seed, LOSS_STREAM, update, *keys, np.arange(cfg.n_out, dtype=np.int64))
    return ((h >> np.uint64(32)) * np.uint64(3) >> np.uint64(32)).astype(ITYPE) - 1


@dataclass
class SampleRecord:
    """Every observable of one sample (B=1 squeezed), for step-by-step comparison.

    ``steps``: dict of (T, ...) arrays: in_spikes, v_hidden (pre-reset), s_hidden, pg_hidden,
    pre_hidden, v_output, s_output, pg_output, pre_output.  ``corr_hidden`` (H, I) and
    ``corr_output`` (O, H) at the end; ``counts``, ``prediction``, ``error``, ``vfb_output``,
    ``vfb_hidden``; ``delta_hidden``/``delta_output``: this sample's eq. 3.17 summand (exact;
    :func:`intsnn.golden.ops.batch_delta` over a batch's records gives :meth:`IntSNN.batch_deltas`,
    also with saturating registers).
    """

    steps: dict
    corr_hidden: np.ndarray
    corr_output: np.ndarray
    counts: np.ndarray
    prediction: int
    error: np.ndarray
    vfb_output: np.ndarray
    vfb_hidden: np.ndarray
    delta_hidden: np.ndarray
    delta_output: np.ndarray


class IntSNN:
    """Integer SNN/RSNN/CSNN trained online with the integer-only rule.

    Parameters
    ----------
    cfg : the shared :class:`NetConfig`.
    seed : seeds the weight initialisation and the random loss.
    weights : start from these instead of a fresh initialisation.
    fast : use the numba kernels where available (bit-exact with the reference).
    trace_mode : how the fast path evaluates the weight update (bit-identical results):
        ``"online"`` keeps the eq. 3.5 trace per synapse and stores no time history (memory
        independent of T), ``"deferred"`` records the per-step traces and sums them after the
        pass, ``"auto"`` (default) takes the one that needs less memory for each batch
        (:func:`intsnn.golden.fast.plan`).  Not part of :class:`NetConfig`: it changes how the
        golden model computes, never what.
    """

    def __init__(self, cfg: NetConfig, seed: int = 0, weights: Weights | None = None,
                 fast: bool = True, trace_mode: str = "auto"):
        if trace_mode not in TRACE_MODES:
            raise ValueError(f"trace_mode must be one of {TRACE_MODES}, got {trace_mode!r}")
        if trace_mode == "online" and cfg.delta_sat_bits is not None:
            plan(cfg, cfg.batch_size, trace_mode)  # raises: the online form sums samples first
        self.cfg = cfg
        self.seed = int(seed)
        self.weights = weights.copy() if weights is not None else init_weights(cfg, seed)
        self.fast = fast and HAVE_NUMBA
        self.trace_mode = trace_mode
        self.updates = 0
        self._check_weights()

    def _check_weights(self):
        cfg, w = self.cfg, self.weights
        hshape = ((cfg.conv_filters, cfg.conv_kernel ** 2) if cfg.arch == "csnn"
                  else (cfg.n_hidden, cfg.n_in))
        for name, a, shape in (("hidden", w.hidden, hshape),
                               ("output", w.output, (cfg.n_out, cfg.n_hidden))):
            a = as_int(a)
            if a.shape != shape:
                raise ValueError(f"{name} weights must have shape {shape}, got {a.shape}")
            if a.size and (a.min() < cfg.shadow_min or a.max() > cfg.shadow_max):
                raise ValueError(f"{name} shadow weights exceed {cfg.shadow_bits} bits")
        if cfg.arch == "rsnn":
            if w.recurrent is None or w.recurrent.shape != (cfg.n_hidden, cfg.n_hidden):
                raise ValueError("rsnn needs recurrent weights of shape (n_hidden, n_hidden)")
            lim = 1 << (cfg.inference_bits - 1)
            if w.recurrent.min() < -lim or w.recurrent.max() >= lim:
                raise ValueError(f"recurrent weights exceed {cfg.inference_bits} bits")

    # ------------------------------------------------------------------ inference
    def predict(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Forward pass only: ``(counts (B,O), prediction (B,))``."""
        if self.fast:
            if self.cfg.arch == "csnn":
                ff = forward_csnn_fast(self.cfg, self.weights, x)
            else:
                ff = forward_fast(self.cfg, self.weights, x, record=False)
        else:
            ff = ref.forward(self.cfg, self.weights, x)
        return ff.counts, ff.prediction

    # ------------------------------------------------------------------ training
    def batch_deltas(self, x, labels, step: int | None = None):
        """Forward + error + eq. 3.17 for one batch. Returns (d_hidden, d_output, counts)."""
        cfg = self.cfg
        labels = as_int(labels)
        x = np.asarray(x)
        if labels.shape != (x.shape[0],):
            raise ValueError(f"labels must have shape ({x.shape[0]},), got {labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= cfg.n_out):
            raise ValueError(f"labels must be in 0..{cfg.n_out - 1}")
        bits = loss_rng_bits(cfg, self.seed, self.updates if step is None else step,
                             np.arange(x.shape[0]))
        if (self.fast and cfg.arch != "csnn"
                and plan(cfg, x.shape[0], self.trace_mode).mode == "online"):
            return online_deltas(cfg, self.weights, x, labels, bits)
        if self.fast:
            ff = (forward_csnn_fast(cfg, self.weights, x) if cfg.arch == "csnn"
                  else forward_fast(cfg, self.weights, x))
            _, vo, vh = ref.error_signals(cfg, self.weights, ff.counts, ff.s_output, labels, bits)
            if cfg.arch == "csnn":
                dh, do = deltas_csnn_fast(ff, vo, vh)
            else:
                dh, do = deltas_fast(ff, vo, vh, cfg)
        else:
            ff = ref.forward(cfg, self.weights, x)
            _, vo, vh = ref.error_signals(cfg, self.weights, ff.counts, ff.s_output, labels, bits)
            dh, do = ref.deltas(cfg, ff, vo, vh)
        return dh, do, ff.counts

    def update(self, d_hidden, d_output):
        """Eq. 3.18 (+3.27) on the shadow weights; the inference weights follow (eq. 3.24)."""
        update = apply_update_fast if self.fast else ref.apply_update
        self.weights = update(self.cfg, self.weights, d_hidden, d_output, self.seed,
                              self.updates)
        self.updates += 1

    def train_batch(self, x, labels) -> np.ndarray:
        """One training iteration over a batch; returns the batch's predictions."""
        dh, do, counts = self.batch_deltas(x, labels)
        self.update(dh, do)
        return np.argmax(counts, axis=1)

    # ------------------------------------------------------------------ benches
    def run_sample(self, x, label: int, *, position: int = 0,
                   update: int | None = None) -> SampleRecord:
        """All observables of one sample ``x`` (T, n_in) with the current weights.

        ``position`` (its place in the batch) and ``update`` (default: the next update,
        ``self.updates``) select the random-loss noise, so that with ``loss="random"`` the
        records of the samples of a batch add up to :meth:`batch_deltas` of that batch.
        """
        cfg = self.cfg
        xb = as_int(x)[None]
        lab = np.array([label], ITYPE)
        f = ref.forward(cfg, self.weights, xb, record=True)
        bits = loss_rng_bits(cfg, self.seed, self.updates if update is None else update,
                             [position])
        e, vo, vh = ref.error_signals(cfg, self.weights, f.counts, f.s_output, lab, bits)
        # the sample's own term, exact: a saturating batch register (delta_sat_bits) acts
        # only where the terms are added up (batch_deltas; ops.batch_delta over the records)
        dh, do = ref.deltas(cfg.replace(delta_sat_bits=None), f, vo, vh)
        return SampleRecord({k: v[0] for k, v in f.record.items()}, f.corr_hidden[0],
                            f.corr_output[0], f.counts[0], int(f.prediction[0]), e[0], vo[0],
                            vh[0], dh, do)
