"""Integer weight initialisation (thesis section 3.2.1, eqs. 3.25-3.26), integer arithmetic only.

The thesis draws Kaiming-uniform floats (bound ``1/sqrt(fan_in)`` per layer), takes the global
maximum |w| over the layers, and quantises every layer with ``step = 2*global_max/(2**S - 2)`` and
``round(w/step)`` so that the layer with the largest bound spans ``[-(2**(n-1)-1), 2**(n-1)-1]``
with ``n`` the "weight initialization bits" (``NetConfig.init_bits``; the thesis uses the shadow
bit width S, the presets leave headroom, see docs/algorithm.md).
We draw the quantised values directly: layer ``l`` is uniform over the integers in
``[-L_l, L_l]`` with ``L_l = floor(M * sqrt(f_min / f_l))``, ``M = 2**(n-1) - 1``, ``f_l`` its
fan-in and ``f_min`` the smallest fan-in (computed with ``math.isqrt``).  This is the same
distribution up to the rounding of the step, needs no float, and is reproducible from the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import NetConfig
from .ops import ITYPE, quantize

__all__ = ["Weights", "init_weights", "layer_limits"]


@dataclass
class Weights:
    """Shadow weights of the two trained layers and the fixed recurrent weights.

    Members
    -------
    hidden : (n_hidden, n_in) shadow weights, or (filters, k*k) for the CSNN kernel.
    output : (n_out, n_hidden) shadow weights.
    recurrent : (n_hidden, n_hidden) fixed random weights at inference precision Q (RSNN), else
        None.  They are never trained (section 3.1.3, random recurrent feedback).
    """

    hidden: np.ndarray
    output: np.ndarray
    recurrent: np.ndarray | None = None

    def inference(self, cfg: NetConfig) -> tuple[np.ndarray, np.ndarray]:
        """``(B_Q(hidden), B_Q(output))`` of eq. 3.24."""
        return quantize(self.hidden, cfg), quantize(self.output, cfg)

    def copy(self) -> "Weights":
        return Weights(self.hidden.copy(), self.output.copy(),
                       None if self.recurrent is None else self.recurrent.copy())

    def as_dict(self, cfg: NetConfig) -> dict[str, np.ndarray]:
        qh, qo = self.inference(cfg)
        d = {"hidden_shadow": self.hidden, "output_shadow": self.output,
             "hidden_inference": qh, "output_inference": qo}
        if self.recurrent is not None:
            d["recurrent"] = self.recurrent
        return d

    @classmethod
    def from_dict(cls, d) -> "Weights":
        rec = d["recurrent"] if "recurrent" in d else None
        return cls(np.asarray(d["hidden_shadow"], ITYPE), np.asarray(d["output_shadow"], ITYPE),
                   None if rec is None else np.asarray(rec, ITYPE))


def layer_limits(cfg: NetConfig) -> dict[str, int]:
    """The integer bound ``L_l`` of every initialised layer."""
    fans = {"hidden": cfg.fan_in_hidden, "output": cfg.n_hidden}
    if cfg.arch == "rsnn":
        fans["recurrent"] = cfg.n_hidden
    f_min = min(fans.values())
    m = (1 << (cfg.init_range_bits - 1)) - 1
    return {k: math.isqrt(m * m * f_min // f) for k, f in fans.items()}


def init_weights(cfg: NetConfig, seed: int) -> Weights:
    """Seeded integer initialisation of all layers (eqs. 3.25-3.26, see module docstring)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    lim = layer_limits(cfg)
    if cfg.arch == "csnn":
        hshape = (cfg.conv_filters, cfg.conv_kernel ** 2)
    else:
        hshape = (cfg.n_hidden, cfg.n_in)
    hidden = rng.integers(-lim["hidden"], lim["hidden"] + 1, size=hshape, dtype=ITYPE)
    output = rng.integers(-lim["output"], lim["output"] + 1, size=(cfg.n_out, cfg.n_hidden),
                          dtype=ITYPE)
    rec = None
    if cfg.arch == "rsnn":
        # Drawn at shadow precision like the others, then fixed at inference precision.
        shadow = rng.integers(-lim["recurrent"], lim["recurrent"] + 1,
                              size=(cfg.n_hidden, cfg.n_hidden), dtype=ITYPE)
        rec = quantize(shadow, cfg)
    return Weights(hidden, output, rec)
