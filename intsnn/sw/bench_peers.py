"""The implementations ``python -m intsnn.sw.bench --compare`` times against each other.

* ``golden``: :class:`~intsnn.golden.model.IntSNN` on the fast kernels (trace mode ``auto``),
  on one thread (``golden-1t``) or two (``golden-2t``).
* ``plain-numpy``: :class:`~intsnn.sw.bench_plain.PlainNumpy`, an independent, straightforward
  numpy implementation of the same integer rule as a competent numpy user writes it: vectorised
  over the batch, one time step at a time, every current a matrix product over the batch (BLAS
  in float32/float64 where a documented bound proves the product exact), eq. 3.17 as one
  product over ``(b, t)`` at the end.  The baseline of issue 11's ratio.  BLAS runs on one
  thread during the comparison (:func:`~intsnn.sw.bench_plain.blas_threads`).
* ``reference``: :mod:`intsnn.golden.reference` (``IntSNN(fast=False)``), the per-timestep
  specification the fast kernels are tested against: it keeps the eq. 3.5 trace per synapse as
  (B, H, I) int64 arrays and records every observable, written for clarity, not speed.  A
  secondary peer (the baseline of the first comparison, docs/results.md).
* ``torch-float``: the same network and online rule in float32 torch (dense matrix products,
  per-synapse float traces), one thread; only when torch is importable.  It does not give the
  integer results: it tells what a float framework costs for the same work.

The integer peers train the same network from the same initial weights; the benchmark checks
that they end with identical weights.
"""

from __future__ import annotations

import numpy as np

from ..golden import fast
from ..golden.config import NetConfig
from ..golden.init import Weights
from ..golden.model import IntSNN
from .bench_plain import PlainNumpy

__all__ = ["PEERS", "Peer", "GoldenPeer", "PlainNumpyPeer", "ReferencePeer", "TorchFloatPeer",
           "check_peer_names", "make_peers"]

PEERS = ("golden-1t", "golden-2t", "plain-numpy", "reference", "torch-float")


class Peer:
    """One implementation: ``step(x, y)`` trains on a batch; ``weights()`` for the check."""

    name = "peer"
    exact = True

    def step(self, x, y) -> None:
        raise NotImplementedError

    def weights(self):
        return None


class GoldenPeer(Peer):
    def __init__(self, cfg: NetConfig, seed: int, threads: int, trace_mode: str = "auto"):
        self.name = f"golden-{threads}t"
        self.threads = threads
        self.model = IntSNN(cfg, seed, trace_mode=trace_mode)

    def step(self, x, y):
        saved = fast.get_threads()
        fast.set_threads(self.threads)
        try:
            self.model.train_batch(x, y)
        finally:
            fast.set_threads(saved)

    def weights(self):
        return self.model.weights


class PlainNumpyPeer(Peer):
    name = "plain-numpy"

    def __init__(self, cfg: NetConfig, seed: int):
        self.plain = PlainNumpy(cfg, seed)

    def step(self, x, y):
        self.plain.train_batch(x, y)

    def weights(self):
        return Weights(self.plain.w_hidden, self.plain.w_output, self.plain.w_rec)


class ReferencePeer(Peer):
    name = "reference"

    def __init__(self, cfg: NetConfig, seed: int):
        self.model = IntSNN(cfg, seed, fast=False)

    def step(self, x, y):
        self.model.train_batch(x, y)

    def weights(self):
        return self.model.weights


class TorchFloatPeer(Peer):
    """float32 twin of the rule (eqs. 3.2-3.5, Direct error 3.6/3.15-3.17, update 3.18)."""

    name = "torch-float"
    exact = False

    def __init__(self, cfg: NetConfig, seed: int):
        import torch

        torch.set_num_threads(1)
        self.torch, self.cfg = torch, cfg
        w = IntSNN(cfg, seed, fast=False).weights
        scale = float(1 << cfg.quant_shift)
        self.w_h = torch.tensor(w.hidden / scale, dtype=torch.float32)
        self.w_o = torch.tensor(w.output / scale, dtype=torch.float32)
        self.w_r = (torch.tensor(w.recurrent, dtype=torch.float32)
                    if w.recurrent is not None else None)

    def step(self, x, y):
        th, cfg = self.torch, self.cfg
        x = th.from_numpy(np.asarray(x, np.float32))
        b, beta = x.shape[0], 0.5 ** cfg.beta_shift
        hp, op = cfg.hidden, cfg.output
        v_h = th.zeros(b, cfg.n_hidden)
        vs_h, vs_o = th.zeros(b, cfg.n_hidden), th.zeros(b, cfg.n_out)
        pre_h, pre_o = th.zeros(b, cfg.n_in), th.zeros(b, cfg.n_hidden)
        corr_h = th.zeros(b, cfg.n_hidden, cfg.n_in)
        corr_o = th.zeros(b, cfg.n_out, cfg.n_hidden)
        counts = th.zeros(b, cfg.n_out)
        for t in range(cfg.timesteps):
            cur = x[:, t] @ self.w_h.T
            if self.w_r is not None:
                cur = cur + (v_h / 2.0 ** cfg.rec_shift) @ self.w_r.T
            v_h = vs_h * beta + cur
            s_h = (v_h > hp.threshold).float()
            pg_h = ((v_h - hp.threshold).abs() < hp.window).float()
            vs_h = v_h * (1 - s_h)
            pre_h = pre_h * beta + x[:, t]
            corr_h += pg_h[:, :, None] * pre_h[:, None, :]
            v_o = vs_o * beta + s_h @ self.w_o.T
            s_o = (v_o > op.threshold).float()
            pg_o = ((v_o - op.threshold).abs() < op.window).float()
            vs_o = v_o * (1 - s_o)
            pre_o = pre_o * beta + s_h
            corr_o += pg_o[:, :, None] * pre_o[:, None, :]
            counts += s_o
        onehot = th.nn.functional.one_hot(th.from_numpy(np.asarray(y)), cfg.n_out).float()
        e = counts * cfg.alpha / cfg.timesteps - onehot * cfg.alpha
        vfb_h = e @ self.w_o
        d_h = th.einsum("bh,bhi->hi", vfb_h, corr_h)
        d_o = th.einsum("bo,boh->oh", e, corr_o)
        shadow = float(1 << cfg.quant_shift)
        for w, d, p in ((self.w_h, d_h, hp), (self.w_o, d_o, op)):
            step = (d * 2.0 ** -p.lr_shift).clamp(-cfg.clip, cfg.clip) / shadow
            w -= step


def check_peer_names(names) -> None:
    """Raise ValueError naming the first unknown peer of ``names`` (before any work)."""
    for n in names:
        if n not in PEERS and not (n.startswith("golden-") and n.endswith("t")
                                   and n[7:-1].isdigit() and int(n[7:-1]) >= 1):
            raise ValueError(f"unknown peer {n!r}; choose from {', '.join(PEERS)}")


def make_peers(cfg: NetConfig, seed: int, names) -> list[Peer]:
    """The peers called ``names`` (:data:`PEERS`: ``golden-<n>t`` for n threads,
    ``plain-numpy``, ``reference``, ``torch-float``); ``torch-float`` is left out with a note
    when torch cannot be imported."""
    check_peer_names(names)
    peers = []
    for n in names:
        if n.startswith("golden-") and n.endswith("t") and n[7:-1].isdigit():
            peers.append(GoldenPeer(cfg, seed, int(n[7:-1])))
        elif n == "plain-numpy":
            peers.append(PlainNumpyPeer(cfg, seed))
        elif n == "reference":
            peers.append(ReferencePeer(cfg, seed))
        elif n == "torch-float":
            try:
                peers.append(TorchFloatPeer(cfg, seed))
            except ImportError:
                print("torch-float: torch is not importable, skipped")
    return peers
