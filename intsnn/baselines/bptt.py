"""Surrogate-gradient BPTT of the same networks with spikingjelly's LIF neurons.

The reference the thesis compares its SHD results with (Cramer et al. 2022: SNN and RSNN trained
by BPTT with surrogate gradients).  The network is the integer rule's: one hidden layer of LIF
neurons (dense, recurrent or 5x5/stride-2 convolutional) and a spiking LIF output layer whose
spike counts give the prediction, with Table D.3's float thresholds and decay; all weights are
trained, the RSNN's recurrent weights too (recurrence from the hidden spikes of the previous
step, as in Cramer et al.).  Loss: cross-entropy with the output spike counts as logits (the
loss whose gradient is the FP32 online rule's error).  Decisions: ``docs/algorithm.md``,
"Float baselines".

SNN and CSNN run spikingjelly's multi-step neurons (``step_mode="m"``, the whole (T, B, ...)
sequence in one call); the RSNN steps single-step neurons in a loop, because its input at t
depends on its own spikes at t - 1.
"""

from __future__ import annotations

import numpy as np

from ..golden.config import NetConfig
from . import require_torch
from .hparams import FloatParams

__all__ = ["BPTTSNN", "build_network"]


def _lif(fp_layer, beta: float, alpha: float, step_mode: str):
    """spikingjelly LIF with ``V = beta V_s + I`` (``decay_input=False``, ``tau = 1/(1-beta)``),
    hard reset to 0, the reset detached from the graph; beta = 1 is the IF neuron."""
    from spikingjelly.activation_based import neuron, surrogate
    kw = dict(v_threshold=fp_layer.threshold, v_reset=0.0, detach_reset=True,
              surrogate_function=surrogate.ATan(alpha=alpha), step_mode=step_mode)
    if beta >= 1.0:
        return neuron.IFNode(**kw)
    return neuron.LIFNode(tau=1.0 / (1.0 - beta), decay_input=False, **kw)


def build_network(cfg: NetConfig, fp: FloatParams, seed: int):
    """The torch module: ``forward(x (T, B, n_in)) -> output spikes (T, B, n_out)``."""
    torch = require_torch("the bptt baseline", spikingjelly=True)
    nn = torch.nn
    from spikingjelly.activation_based import functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            rec = cfg.arch == "rsnn"
            mode = "s" if rec else "m"
            if cfg.arch == "csnn":
                self.fc_h = nn.Conv2d(1, cfg.conv_filters, cfg.conv_kernel,
                                      stride=cfg.conv_stride, bias=False)
            else:
                self.fc_h = nn.Linear(cfg.n_in, cfg.n_hidden, bias=False)
            self.rec = nn.Linear(cfg.n_hidden, cfg.n_hidden, bias=False) if rec else None
            self.lif_h = _lif(fp.hidden, fp.beta, fp.surrogate_alpha, mode)
            self.fc_o = nn.Linear(cfg.n_hidden, cfg.n_out, bias=False)
            self.lif_o = _lif(fp.output, fp.beta, fp.surrogate_alpha, mode)

        def forward(self, x):
            functional.reset_net(self)
            nt, b = x.shape[:2]
            if self.rec is None:
                if cfg.arch == "csnn":
                    side = cfg.image_side
                    cur = self.fc_h(x.reshape(nt * b, 1, side, side)).reshape(nt, b, -1)
                else:
                    cur = self.fc_h(x)
                s_h = self.lif_h(cur)
                return self.lif_o(self.fc_o(s_h))
            s_h = torch.zeros(b, cfg.n_hidden, dtype=x.dtype)
            out = []
            for t in range(nt):
                s_h = self.lif_h(self.fc_h(x[t]) + self.rec(s_h))
                out.append(self.lif_o(self.fc_o(s_h)))
            return torch.stack(out)

    torch.manual_seed(int(seed))
    return Net()


class BPTTSNN:
    """Training wrapper with the same interface as the other models (``cfg``, ``predict``,
    ``train_batch``).

    Parameters
    ----------
    cfg : the integer preset's config (structure).
    fp : float hyper-parameters (thresholds, decay; ``hidden.lr`` is Adam's learning rate).
    seed : seeds the weights (torch's default initialisation).
    """

    def __init__(self, cfg: NetConfig, fp: FloatParams, seed: int = 0):
        self.torch = require_torch("the bptt baseline", spikingjelly=True)
        self.cfg, self.fp = cfg, fp
        self.net = build_network(cfg, fp, seed)
        self.opt = self.torch.optim.Adam(self.net.parameters(), lr=fp.hidden.lr)

    def _seq(self, x):
        # (B, T, n_in) -> spikingjelly's time-major (T, B, n_in)
        t = self.torch.as_tensor(np.asarray(x), dtype=self.torch.float32)
        return t.transpose(0, 1).contiguous()

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, s: dict):
        self.net.load_state_dict(s["net"])
        self.opt.load_state_dict(s["opt"])

    def weights(self) -> dict[str, np.ndarray]:
        return {k: v.detach().numpy().copy() for k, v in self.net.state_dict().items()}

    def train_batch(self, x, labels) -> np.ndarray:
        torch = self.torch
        self.net.train()
        counts = self.net(self._seq(x)).sum(0)
        loss = torch.nn.functional.cross_entropy(
            counts, torch.as_tensor(np.asarray(labels), dtype=torch.long))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return torch.argmax(counts.detach(), dim=1).numpy()

    def predict(self, x) -> tuple[np.ndarray, np.ndarray]:
        with self.torch.no_grad():
            self.net.eval()
            c = self.net(self._seq(x)).sum(0)
        return c.numpy().astype(np.int64), self.torch.argmax(c, dim=1).numpy()
