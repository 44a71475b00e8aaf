"""Hyper-parameters of the float baselines (thesis Table D.3 and section 4.2), without torch.

The integer :class:`~intsnn.golden.config.NetConfig` of a preset gives the network's structure
(architecture, sizes, T, batch size, CSNN geometry); :class:`FloatParams` gives the float values
that replace Table D.2's integers.  Every choice the thesis leaves open is a *decision* in
``docs/algorithm.md``, "Float baselines".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["FloatLayer", "FloatParams", "FLOAT_PRESETS", "float_params"]


@dataclass(frozen=True)
class FloatLayer:
    """Float threshold, pseudo-gradient window and learning rate of one layer (Table D.3)."""

    threshold: float
    window: float
    lr: float

    def __post_init__(self):
        for name in ("threshold", "window", "lr"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
                raise ValueError(f"{name} must be a positive number, got {v!r}")


@dataclass(frozen=True)
class FloatParams:
    """Float hyper-parameters of a preset.

    Parameters
    ----------
    hidden, output : :class:`FloatLayer` (Table D.3).
    beta : voltage and trace decay (Table D.3; 1 means no leak: an integrate-and-fire neuron).
    error_mode : error propagation of the FP32 online rule (section 4.2: ``"feedback"``).
    fb_threshold : threshold of the float error neurons (Feedback/Final); the float error
        ``softmax(counts) - onehot`` spans [-1, 1], so 0.5 is the integer model's alpha/2.
    optimizer : ``"adam"`` or ``"sgd"`` (applied to the rule's batch-mean update).
    surrogate_alpha : BPTT only: sharpness of spikingjelly's ``ATan`` surrogate.
    """

    hidden: FloatLayer
    output: FloatLayer
    beta: float
    error_mode: str = "feedback"
    fb_threshold: float = 0.5
    optimizer: str = "adam"
    surrogate_alpha: float = 2.0

    def __post_init__(self):
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {self.beta!r}")
        if self.error_mode not in ("direct", "final", "feedback"):
            raise ValueError(f"error_mode must be direct, final or feedback, got "
                             f"{self.error_mode!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if not self.fb_threshold > 0:
            raise ValueError(f"fb_threshold must be > 0, got {self.fb_threshold!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FloatParams":
        d = dict(d)
        for k in ("hidden", "output"):
            if isinstance(d.get(k), dict):
                d[k] = FloatLayer(**d[k])
        return cls(**d)

    def replace(self, **changes) -> "FloatParams":
        return dataclasses.replace(self, **changes)


#: Table D.3 (FP32), per preset: (threshold, window, learning rate) of each layer, and beta.
FLOAT_PRESETS = {
    "mnist-snn": FloatParams(FloatLayer(0.3, 0.3, 0.001), FloatLayer(0.3, 0.6, 0.001), 1.0),
    "shd-snn": FloatParams(FloatLayer(0.3, 0.6, 0.001), FloatLayer(0.3, 0.6, 0.003), 1.0),
    "mnist-csnn": FloatParams(FloatLayer(0.5, 0.5, 0.001), FloatLayer(1.5, 1.5, 0.001), 0.5),
    "shd-rsnn": FloatParams(FloatLayer(2.0, 4.0, 0.001), FloatLayer(1.0, 1.0, 0.003), 0.5),
}


def float_params(preset: str, **overrides) -> FloatParams:
    """Table D.3's parameters of ``preset`` with ``overrides`` (e.g. ``error_mode="direct"``)."""
    if preset not in FLOAT_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(FLOAT_PRESETS)}")
    return FLOAT_PRESETS[preset].replace(**overrides)
