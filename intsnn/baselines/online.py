"""The thesis's FP32 configuration of the online rule, in float32 with torch (section 4.2).

The same rule as the integer golden model (:mod:`intsnn.golden.reference`), equation by
equation, with every integer operation replaced by its float counterpart (``docs/algorithm.md``,
"Float baselines"):

* LIF ``V = beta * V_s + I`` (eq. 2.1, no shift), spike ``V > V_th``, hard reset, rectangular
  pseudo-gradient ``|V - V_th| < win`` on the pre-reset voltage (eq. 3.3); RSNN adds the fixed
  random ``W_rec V(t-1)`` (eq. 3.23 without ``B16``);
* float traces ``T_pre = beta * T_pre + s`` (3.4) and ``T_corr += pg T_pre`` (3.5);
* error ``softmax(counts) - onehot(y)`` (Table B.4's float error: the gradient of the
  cross-entropy with the spike counts as logits); Feedback (the FP default), Final or Direct
  propagation (3.9-3.16) with float error neurons;
* update ``G = mean_b v_fb T_corr`` (3.17 with the batch mean) fed to an optimizer, with no
  gradient clipping and no weight decay (section 4.3).

``trace_mode="deferred"`` (default) evaluates ``sum_t pg(t) T_pre(t)`` after the pass as one
matrix product (the same sum, reordered: what :mod:`intsnn.golden.fast` does); ``"online"``
accumulates ``T_corr`` every step, so its memory does not grow with T.
"""

from __future__ import annotations

import numpy as np

from ..golden.config import NetConfig
from . import require_torch
from .hparams import FloatParams

__all__ = ["FloatOnlineSNN"]


def _uniform(torch, gen, shape, fan_in):
    """Kaiming-uniform draw with bound ``1/sqrt(fan_in)`` (torch's ``nn.Linear`` default)."""
    bound = 1.0 / np.sqrt(fan_in)
    return (torch.rand(shape, generator=gen, dtype=torch.float32) * 2 - 1) * bound


class FloatOnlineSNN:
    """SNN / RSNN / CSNN trained with the float online rule.

    Parameters
    ----------
    cfg : the integer preset's :class:`~intsnn.golden.config.NetConfig` (structure only: arch,
        sizes, T, batch size, CSNN geometry).
    fp : :class:`~intsnn.baselines.hparams.FloatParams` (Table D.3).
    seed : seeds the initial weights.
    trace_mode : ``"deferred"`` or ``"online"`` (same result up to float rounding).
    """

    def __init__(self, cfg: NetConfig, fp: FloatParams, seed: int = 0,
                 trace_mode: str = "deferred"):
        torch = require_torch("the fp32-online baseline")
        if trace_mode not in ("deferred", "online"):
            raise ValueError(f"trace_mode must be 'deferred' or 'online', got {trace_mode!r}")
        self.torch, self.cfg, self.fp, self.trace_mode = torch, cfg, fp, trace_mode
        gen = torch.Generator().manual_seed(int(seed))
        if cfg.arch == "csnn":
            self.w_hidden = _uniform(torch, gen, (cfg.conv_filters, cfg.conv_kernel ** 2),
                                     cfg.conv_kernel ** 2)
        else:
            self.w_hidden = _uniform(torch, gen, (cfg.n_hidden, cfg.n_in), cfg.n_in)
        self.w_output = _uniform(torch, gen, (cfg.n_out, cfg.n_hidden), cfg.n_hidden)
        self.w_rec = (_uniform(torch, gen, (cfg.n_hidden, cfg.n_hidden), cfg.n_hidden)
                      if cfg.arch == "rsnn" else None)
        self.params = [self.w_hidden, self.w_output]
        opt = torch.optim.Adam if fp.optimizer == "adam" else torch.optim.SGD
        self.opt = opt([{"params": [self.w_hidden], "lr": fp.hidden.lr},
                        {"params": [self.w_output], "lr": fp.output.lr}])

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {"w_hidden": self.w_hidden, "w_output": self.w_output, "w_rec": self.w_rec,
                "opt": self.opt.state_dict()}

    def load_state_dict(self, s: dict):
        with self.torch.no_grad():
            self.w_hidden.copy_(s["w_hidden"])
            self.w_output.copy_(s["w_output"])
            if self.w_rec is not None:
                self.w_rec.copy_(s["w_rec"])
        self.opt.load_state_dict(s["opt"])

    def weights(self) -> dict[str, np.ndarray]:
        d = {"hidden": self.w_hidden.numpy().copy(), "output": self.w_output.numpy().copy()}
        if self.w_rec is not None:
            d["recurrent"] = self.w_rec.numpy().copy()
        return d

    # ------------------------------------------------------------------ forward
    def _hidden_current(self, xt):
        cfg, torch = self.cfg, self.torch
        if cfg.arch != "csnn":
            return xt @ self.w_hidden.T
        k, side = cfg.conv_kernel, cfg.image_side
        w = self.w_hidden.view(cfg.conv_filters, 1, k, k)
        img = xt.reshape(-1, 1, side, side)
        return torch.nn.functional.conv2d(img, w, stride=cfg.conv_stride).flatten(1)

    def _unfold(self, pre):
        """Eq. 3.19's ``unfold`` of (N, side*side) traces: (N, k*k, positions)."""
        cfg = self.cfg
        img = pre.view(-1, 1, cfg.image_side, cfg.image_side)
        return self.torch.nn.functional.unfold(img, cfg.conv_kernel, stride=cfg.conv_stride)

    def forward(self, x, train: bool = True) -> dict:
        """One pass over a batch ``x`` (B, T, n_in); returns counts and, when training, the
        per-layer material of eq. 3.17."""
        torch, cfg, fp = self.torch, self.cfg, self.fp
        # converted one step at a time: a float copy of the whole (B, T, n_in) input would be
        # the only allocation that grows with T in the online trace mode
        x = torch.as_tensor(np.asarray(x))
        b, nt = x.shape[0], cfg.timesteps
        h, o, beta = cfg.n_hidden, cfg.n_out, fp.beta
        hp, op = fp.hidden, fp.output
        v_h = torch.zeros(b, h)
        vs_h = torch.zeros(b, h)
        vs_o = torch.zeros(b, o)
        pre_h = torch.zeros(b, cfg.n_in)
        pre_o = torch.zeros(b, h)
        counts = torch.zeros(b, o)
        s_out = torch.zeros(b, nt, o)
        rec = {}
        if train:
            if self.trace_mode == "deferred":
                rec = {"pg_h": torch.zeros(b, nt, h), "pre_h": torch.zeros(b, nt, cfg.n_in),
                       "pg_o": torch.zeros(b, nt, o), "pre_o": torch.zeros(b, nt, h)}
            else:
                npos = cfg.conv_out_side ** 2
                rec = {"corr_h": (torch.zeros(b, cfg.conv_filters, npos, cfg.conv_kernel ** 2)
                                  if cfg.arch == "csnn" else torch.zeros(b, h, cfg.n_in)),
                       "corr_o": torch.zeros(b, o, h)}
        for t in range(nt):
            xt = x[:, t].to(torch.float32)
            cur = self._hidden_current(xt)
            if self.w_rec is not None:
                cur = cur + v_h @ self.w_rec.T          # eq. 3.23 on the pre-reset V(t-1)
            v_h = beta * vs_h + cur
            s_h = (v_h > hp.threshold).float()
            vs_h = v_h * (1 - s_h)
            v_o = beta * vs_o + s_h @ self.w_output.T
            s_o = (v_o > op.threshold).float()
            vs_o = v_o * (1 - s_o)
            counts += s_o
            s_out[:, t] = s_o
            if not train:
                continue
            pg_h = ((v_h - hp.threshold).abs() < hp.window).float()
            pg_o = ((v_o - op.threshold).abs() < op.window).float()
            pre_h = beta * pre_h + xt
            pre_o = beta * pre_o + s_h
            if self.trace_mode == "deferred":
                rec["pg_h"][:, t], rec["pre_h"][:, t] = pg_h, pre_h
                rec["pg_o"][:, t], rec["pre_o"][:, t] = pg_o, pre_o
            else:
                if cfg.arch == "csnn":
                    pg4 = pg_h.view(b, cfg.conv_filters, -1, 1)
                    rec["corr_h"] += pg4 * self._unfold(pre_h).transpose(1, 2)[:, None]
                else:
                    rec["corr_h"] += pg_h[:, :, None] * pre_h[:, None, :]
                rec["corr_o"] += pg_o[:, :, None] * pre_o[:, None, :]
        return {"counts": counts, "s_out": s_out, **rec}

    # ------------------------------------------------------------------ error
    def _error_neurons(self, state, e):
        v_pos, v_neg, s_pos, s_neg = state
        th = self.fp.fb_threshold
        v_pos = v_pos - th * s_pos + e
        v_neg = v_neg - th * s_neg - e
        s_pos = (v_pos > th).float()
        s_neg = (v_neg > th).float()
        return (v_pos, v_neg, s_pos, s_neg), s_pos - s_neg

    def error_signals(self, counts, s_out, labels):
        """``(v_fb_output (B,O), v_fb_hidden (B,H))`` of eqs. 3.9-3.16 with the float error."""
        torch, cfg = self.torch, self.cfg
        onehot = torch.nn.functional.one_hot(labels, cfg.n_out).float()
        mode = self.fp.error_mode
        if mode == "feedback":
            running = torch.cumsum(s_out, dim=1)
            z = torch.zeros_like(counts)
            state, vfb_o = (z, z, z, z), torch.zeros_like(counts)
            for t in range(cfg.soft_error_start, cfg.timesteps):
                e = torch.softmax(running[:, t], dim=1) - onehot
                state, ds = self._error_neurons(state, e)
                vfb_o = vfb_o + ds
        else:
            e = torch.softmax(counts, dim=1) - onehot
            if mode == "direct":
                vfb_o = e
            else:
                z = torch.zeros_like(e)
                _, vfb_o = self._error_neurons((z, z, z, z), e)
        return vfb_o, vfb_o @ self.w_output

    # ------------------------------------------------------------------ update
    def deltas(self, f: dict, vfb_o, vfb_h):
        """Eq. 3.17 (3.22 for CSNN) summed over the batch: ``(d_hidden, d_output)``."""
        torch, cfg = self.torch, self.cfg
        b, nt = vfb_o.shape[0], cfg.timesteps
        if self.trace_mode == "online":
            d_o = torch.einsum("bo,boh->oh", vfb_o, f["corr_o"])
            if cfg.arch == "csnn":
                vf = vfb_h.view(b, cfg.conv_filters, -1)
                return torch.einsum("bfp,bfpk->fk", vf, f["corr_h"]), d_o
            return torch.einsum("bh,bhi->hi", vfb_h, f["corr_h"]), d_o
        a_o = (vfb_o[:, None, :] * f["pg_o"]).reshape(b * nt, -1)
        d_o = a_o.T @ f["pre_o"].reshape(b * nt, -1)
        a_h = vfb_h[:, None, :] * f["pg_h"]                      # (B, T, H)
        if cfg.arch == "csnn":
            a_h = a_h.reshape(b * nt, cfg.conv_filters, -1)       # (BT, F, P)
            u = self._unfold(f["pre_h"].reshape(b * nt, -1))     # (BT, K, P)
            return torch.einsum("nfp,nkp->fk", a_h, u), d_o
        return a_h.reshape(b * nt, -1).T @ f["pre_h"].reshape(b * nt, -1), d_o

    def train_batch(self, x, labels) -> np.ndarray:
        """One iteration: forward, error, eq. 3.17 as a batch mean, one optimizer step."""
        torch = self.torch
        lab = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        with torch.no_grad():
            f = self.forward(x, train=True)
            vfb_o, vfb_h = self.error_signals(f["counts"], f["s_out"], lab)
            d_h, d_o = self.deltas(f, vfb_o, vfb_h)
            n = float(lab.shape[0])
            self.w_hidden.grad, self.w_output.grad = d_h / n, d_o / n
        self.opt.step()
        return torch.argmax(f["counts"], dim=1).numpy()

    def predict(self, x) -> tuple[np.ndarray, np.ndarray]:
        """``(counts (B,O), prediction (B,))``; ties go to the lowest index, as in golden."""
        with self.torch.no_grad():
            c = self.forward(x, train=False)["counts"]
        return c.numpy().astype(np.int64), self.torch.argmax(c, dim=1).numpy()
