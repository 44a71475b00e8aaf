"""The one configuration shared by the golden model, the hardware generator and the benches.

Every integer parameter of the algorithm (thesis ch. 3, Table D.2) lives in :class:`NetConfig`;
every register width the hardware needs is a *derived* property of it, computed from a worst-case
bound so that the register provably cannot overflow (or, for the voltage, saturates exactly as the
golden model does).  Bad combinations raise :class:`ValueError` naming the parameter.

See ``docs/algorithm.md`` for the equation-by-equation specification.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace

__all__ = [
    "LayerParams", "NetConfig", "PRESETS", "DEFAULT_HEADROOM", "LATER_FIELDS", "LR_ROUNDINGS",
    "preset", "bits_signed", "bits_unsigned", "floor_log2", "trace_bound",
]

ARCHS = ("snn", "rsnn", "csnn")
ERROR_MODES = ("direct", "final", "feedback")
LOSSES = ("standard", "positive", "random")
CLIP_ORDERS = ("shift_then_clip", "clip_then_shift")
LR_ROUNDINGS = ("floor", "nearest", "dither")
REC_SOURCES = ("pre_reset", "post_reset")


def bits_unsigned(max_value: int) -> int:
    """Bits needed to hold every integer in ``[0, max_value]``."""
    return max(1, int(max_value).bit_length())


def bits_signed(lo: int, hi: int) -> int:
    """Bits of a two's-complement register holding every integer in ``[lo, hi]``."""
    n = 1
    while not (-(1 << (n - 1)) <= lo and hi <= (1 << (n - 1)) - 1):
        n += 1
    return n


def floor_log2(x: int) -> int:
    """``floor(log2(x))`` for a positive integer (eq. 3.6's ``log2(t_s)``)."""
    if x < 1:
        raise ValueError(f"floor_log2 needs a positive integer, got {x!r}")
    return int(x).bit_length() - 1


def trace_bound(inc_max: int, shift: int) -> int:
    """Largest value of ``x <- (x >> shift) + inc`` with ``0 <= inc <= inc_max`` (eq. 3.4).

    The iteration is monotone, so the fixed point reached from ``inc_max`` is the bound.
    """
    if shift < 1:
        raise ValueError("trace decay needs beta_shift >= 1 to stay bounded")
    x = 0
    while True:
        nxt = (x >> shift) + inc_max
        if nxt == x:
            return x
        x = nxt


@dataclass(frozen=True)
class LayerParams:
    """Per-layer integer parameters (Table D.2).

    Parameters
    ----------
    threshold : V_th of eq. 2.2 (spike when V > V_th).
    window : Grad_win of eq. 3.3 (pseudo-gradient 1 when |V - V_th| < Grad_win).
    lr_shift : eta-hat of eq. 3.18; the learning rate is 2**-lr_shift.
    wd_shift : rho-hat of eq. 3.18; ``None`` means no weight decay (Table D.2's "0").
    """

    threshold: int
    window: int
    lr_shift: int
    wd_shift: int | None = None

    def __post_init__(self):
        for name in ("threshold", "window", "lr_shift"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name} must be an int, got {v!r}")
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {self.threshold!r}")
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window!r}")
        if not 0 <= self.lr_shift <= 40:
            raise ValueError(f"lr_shift must be in 0..40, got {self.lr_shift!r}")
        if self.wd_shift is not None and not 1 <= self.wd_shift <= 40:
            raise ValueError(f"wd_shift must be None or in 1..40, got {self.wd_shift!r}")


@dataclass(frozen=True)
class NetConfig:
    """Integer network and training configuration (one hidden layer + output layer).

    Parameters
    ----------
    arch : ``"snn"``, ``"rsnn"`` (fixed random recurrent weights, eq. 3.23) or ``"csnn"``
        (5x5 conv hidden layer, eqs. 3.19-3.22).
    n_in, n_hidden, n_out : layer sizes. For ``csnn`` ``n_in`` is H*W of a 1-channel image and
        ``n_hidden`` is derived (``conv_filters * out_h * out_w``).
    timesteps : T, the number of time steps of a sample (t_s of eq. 3.6).
    beta_shift : beta-hat of eq. 3.1 (beta = 2**-beta_shift).
    input_bits : inputs are unsigned counts in ``[0, 2**input_bits - 1]`` (1 = binary spikes).
    hidden, output : :class:`LayerParams`.
    alpha : loss precision of eq. 3.6.
    clip : Delta_max of eq. 3.27.
    shadow_bits, inference_bits : S and Q of the mixed precision (eq. 3.24).
    init_bits : the initial weights span the ``init_bits``-bit range (eqs. 3.25-3.26; the
        thesis's "weight initialization bits", section 3.2.3); ``None`` means ``shadow_bits``.
        Fewer bits leave the shadow weights room to grow before they saturate (see
        :func:`preset` and docs/algorithm.md, "Headroom").
    batch_size : B of eq. 3.17 (samples summed before one weight update).
    rec_shift : the B16 of eq. 3.23 is ``V >> rec_shift`` (RSNN only; see docs/algorithm.md).
    rec_source : which voltage of the previous step feeds B16: ``"pre_reset"`` (eq. 3.23's
        ``V(t-1)``, default) or ``"post_reset"`` (``V_s(t-1)``).
    voltage_bits : width of the saturating voltage registers; ``None`` derives the width from the
        worst-case bound (then saturation provably never happens; impossible for RSNN, which
        needs an explicit width).
    error_mode, loss : error propagation (3.9-3.16) and loss variant (3.6-3.8).
    clip_order : ``"shift_then_clip"`` (default, see docs) or ``"clip_then_shift"`` (literal).
    lr_rounding : how eq. 3.18's shifts (``Delta >> eta_hat`` and the decay ``W >> rho_hat``)
        round: ``"floor"`` (the thesis's arithmetic shift, default), ``"nearest"`` (half up) or
        ``"dither"`` (a hashed offset per update and synapse, unbiased;
        :func:`~intsnn.golden.ops.round_offset`).  The hardware implements ``"floor"`` only.
        :func:`preset` takes ``"dither"`` for shadow weights narrower than 16 bits
        (docs/algorithm.md, "Rounding of the learning-rate shift").
    delta_sat_bits : ``None`` (default): every batch delta accumulator is exact (its width is
        the worst-case bound, :meth:`delta_exact_bits`).  An int ``n``: a layer whose exact
        width exceeds ``n`` keeps its batch delta in an ``n``-bit register that saturates to
        the signed range after each sample's term is added, in sample order
        (:meth:`delta_bits`; docs/algorithm.md, "Saturating delta accumulators").  ``n`` must
        be at least the width the layer's clipped update can use
        (:meth:`delta_lossless_bits`).  SNN/RSNN only.
    soft_error_start : Feedback mode: time steps before the error neurons start integrating.
    fb_threshold : threshold of the Feedback/Final error neurons (3.11-3.12).
    conv_* : CSNN geometry.
    """

    arch: str = "snn"
    n_in: int = 784
    n_hidden: int = 100
    n_out: int = 10
    timesteps: int = 20
    beta_shift: int = 1
    input_bits: int = 1
    hidden: LayerParams = field(default_factory=lambda: LayerParams(500, 1000, 12, None))
    output: LayerParams = field(default_factory=lambda: LayerParams(2000, 4000, 1, None))
    alpha: int = 128
    clip: int = 2048
    shadow_bits: int = 16
    inference_bits: int = 8
    init_bits: int | None = None
    batch_size: int = 128
    rec_shift: int = 11
    rec_source: str = "pre_reset"
    voltage_bits: int | None = None
    error_mode: str = "direct"
    loss: str = "standard"
    clip_order: str = "shift_then_clip"
    lr_rounding: str = "floor"
    delta_sat_bits: int | None = None
    soft_error_start: int = 5
    fb_threshold: int = 64
    conv_kernel: int = 5
    conv_filters: int = 32
    conv_stride: int = 2
    image_side: int = 28

    # ------------------------------------------------------------------ validation
    def __post_init__(self):
        ints = ("n_in", "n_hidden", "n_out", "timesteps", "beta_shift", "input_bits", "alpha",
                "clip", "shadow_bits", "inference_bits", "batch_size", "rec_shift",
                "soft_error_start", "fb_threshold", "conv_kernel", "conv_filters",
                "conv_stride", "image_side")
        for name in ints:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name} must be an int, got {v!r}")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.error_mode not in ERROR_MODES:
            raise ValueError(f"error_mode must be one of {ERROR_MODES}, got {self.error_mode!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.rec_source not in REC_SOURCES:
            raise ValueError(f"rec_source must be one of {REC_SOURCES}, got {self.rec_source!r}")
        if self.clip_order not in CLIP_ORDERS:
            raise ValueError(f"clip_order must be one of {CLIP_ORDERS}, got {self.clip_order!r}")
        if self.lr_rounding not in LR_ROUNDINGS:
            raise ValueError(f"lr_rounding must be one of {LR_ROUNDINGS}, "
                             f"got {self.lr_rounding!r}")
        for name in ("n_in", "n_hidden", "n_out", "timesteps", "batch_size", "alpha", "clip",
                     "input_bits", "fb_threshold"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.n_out < 2:
            raise ValueError(f"n_out must be >= 2 (a classifier), got {self.n_out!r}")
        if self.input_bits > 16:
            raise ValueError(f"input_bits must be <= 16, got {self.input_bits!r}")
        if not 1 <= self.beta_shift <= 16:
            raise ValueError(f"beta_shift must be in 1..16 (beta = 2**-beta_shift; beta = 1 "
                             f"leaves voltages and traces unbounded), got {self.beta_shift!r}")
        if not 8 <= self.shadow_bits <= 16:
            raise ValueError(f"shadow_bits must be in 8..16, got {self.shadow_bits!r}")
        if not 2 <= self.inference_bits <= self.shadow_bits:
            raise ValueError(f"inference_bits must be in 2..shadow_bits ({self.shadow_bits}), "
                             f"got {self.inference_bits!r}")
        if self.init_bits is not None and (
                not isinstance(self.init_bits, int) or isinstance(self.init_bits, bool)
                or not 2 <= self.init_bits <= self.shadow_bits):
            raise ValueError(f"init_bits must be None or in 2..shadow_bits ({self.shadow_bits}), "
                             f"got {self.init_bits!r}")
        if self.clip > (1 << (self.shadow_bits - 1)) - 1:
            raise ValueError(f"clip must fit a shadow weight (<= {(1 << (self.shadow_bits - 1)) - 1}"
                             f"), got {self.clip!r}")
        if not 0 <= self.rec_shift <= 40:
            raise ValueError(f"rec_shift must be in 0..40, got {self.rec_shift!r}")
        if self.soft_error_start < 0:
            raise ValueError(f"soft_error_start must be >= 0, got {self.soft_error_start!r}")
        if self.arch == "csnn":
            if self.conv_kernel < 1 or self.conv_stride < 1 or self.conv_filters < 1:
                raise ValueError("conv_kernel, conv_stride and conv_filters must be >= 1")
            if self.conv_kernel > self.image_side:
                raise ValueError(f"conv_kernel {self.conv_kernel} exceeds image_side "
                                 f"{self.image_side}")
            if self.n_in != self.image_side ** 2:
                raise ValueError(f"n_in must be image_side**2 = {self.image_side ** 2} for csnn, "
                                 f"got {self.n_in!r}")
            if self.n_hidden != self.conv_filters * self.conv_out_side ** 2:
                raise ValueError(f"n_hidden must be conv_filters*conv_out_side**2 = "
                                 f"{self.conv_filters * self.conv_out_side ** 2} for csnn, "
                                 f"got {self.n_hidden!r}")
        if self.voltage_bits is None:
            if self.arch == "rsnn":
                raise ValueError("voltage_bits must be given for rsnn: the recurrent term has no "
                                 "finite worst-case bound, so the voltage saturates")
        else:
            if not isinstance(self.voltage_bits, int) or not 8 <= self.voltage_bits <= 48:
                raise ValueError(f"voltage_bits must be in 8..48, got {self.voltage_bits!r}")
            need = bits_signed(-self.output.window - self.output.threshold,
                               max(self.output.threshold, self.hidden.threshold) + max(
                                   self.output.window, self.hidden.window))
            if self.voltage_bits < need:
                raise ValueError(f"voltage_bits={self.voltage_bits} cannot hold the thresholds "
                                 f"and windows (needs >= {need})")
        if self.delta_sat_bits is not None:
            self._check_delta_sat()
        if self.delta_batch_max >= (1 << 62):
            raise ValueError("batch_size too large: the batch delta could overflow 63 bits "
                             f"(bound {self.delta_batch_max})")

    # ------------------------------------------------------------------ derived values
    @property
    def conv_out_side(self) -> int:
        return (self.image_side - self.conv_kernel) // self.conv_stride + 1

    @property
    def log2_t(self) -> int:
        """``floor(log2(t_s))`` of eq. 3.6."""
        return floor_log2(self.timesteps)

    @property
    def in_max(self) -> int:
        return (1 << self.input_bits) - 1

    @property
    def shadow_min(self) -> int:
        return -(1 << (self.shadow_bits - 1))

    @property
    def shadow_max(self) -> int:
        return (1 << (self.shadow_bits - 1)) - 1

    @property
    def init_range_bits(self) -> int:
        """Bits spanned by the initial weights (``init_bits``, default ``shadow_bits``)."""
        return self.shadow_bits if self.init_bits is None else self.init_bits

    @property
    def quant_shift(self) -> int:
        """``B_Q(w) = w >> (S - Q)`` (eq. 3.24)."""
        return self.shadow_bits - self.inference_bits

    @property
    def w_abs_max(self) -> int:
        """Largest |inference weight|: ``2**(Q-1)`` (the most negative Q-bit value)."""
        return 1 << (self.inference_bits - 1)

    @property
    def fan_in_hidden(self) -> int:
        return self.conv_kernel ** 2 if self.arch == "csnn" else self.n_in

    @property
    def hidden_ff_max(self) -> int:
        """Bound on |W s| of the hidden layer (eq. 3.2's input term)."""
        return self.fan_in_hidden * self.in_max * self.w_abs_max

    @property
    def output_ff_max(self) -> int:
        return self.n_hidden * self.w_abs_max

    def _voltage_range(self, current_max: int, threshold: int) -> tuple[int, int]:
        # V(t) = (V_s(t-1) >> b) + I, V_s <= threshold after the hard reset, I in [-I, I].
        hi = (threshold >> self.beta_shift) + current_max
        lo = 0
        while True:  # monotone iteration to the floor-shift fixed point
            nxt = (lo >> self.beta_shift) - current_max
            if nxt == lo:
                break
            lo = nxt
        return lo, hi

    @property
    def hidden_voltage_bits(self) -> int:
        if self.voltage_bits is not None:
            return self.voltage_bits
        lo, hi = self._voltage_range(self.hidden_ff_max, self.hidden.threshold)
        return bits_signed(lo, hi)

    @property
    def output_voltage_bits(self) -> int:
        if self.voltage_bits is not None:
            return self.voltage_bits
        lo, hi = self._voltage_range(self.output_ff_max, self.output.threshold)
        return bits_signed(lo, hi)

    @property
    def hidden_trace_max(self) -> int:
        """Bound of the presynaptic trace of the hidden layer (eq. 3.4, input counts)."""
        return trace_bound(self.in_max, self.beta_shift)

    @property
    def output_trace_max(self) -> int:
        """Bound of the presynaptic trace of the output layer (binary hidden spikes)."""
        return trace_bound(1, self.beta_shift)

    @property
    def hidden_corr_max(self) -> int:
        """Bound of the weight (correlation) trace, eq. 3.5: T * T_pre_max."""
        return self.timesteps * self.hidden_trace_max

    @property
    def output_corr_max(self) -> int:
        return self.timesteps * self.output_trace_max

    @property
    def count_bits(self) -> int:
        return bits_unsigned(self.timesteps)

    @property
    def error_range(self) -> tuple[int, int]:
        """Range of the eq. 3.6 error: ``(count*alpha) >> log2T - y*alpha``."""
        lo = -self.alpha
        hi = (self.timesteps * self.alpha) >> self.log2_t
        if self.loss != "standard":
            lo, hi = min(lo, -1), max(hi, 1)
        return lo, hi

    @property
    def error_abs_max(self) -> int:
        lo, hi = self.error_range
        return max(-lo, hi)

    @property
    def vfb_hidden_max(self) -> int:
        """Bound of |W_out^T e| (eq. 3.16)."""
        if self.error_mode == "direct":
            e = self.error_abs_max
        else:  # error-neuron spikes integrated over the sample: |v_fb_out| <= T
            e = self.timesteps
        return self.n_out * self.w_abs_max * e

    @property
    def vfb_output_max(self) -> int:
        return self.error_abs_max if self.error_mode == "direct" else self.timesteps

    @property
    def delta_sample_max(self) -> int:
        """Bound of one sample's |v_fb * T_corr| over both layers (eq. 3.17 summand)."""
        out = self.vfb_output_max * self.output_corr_max
        hid = self.vfb_hidden_max * self.hidden_corr_max
        if self.arch == "csnn":
            hid *= self.conv_out_side ** 2  # eq. 3.22 sums over positions too
        return max(out, hid)

    @property
    def delta_batch_max(self) -> int:
        return self.batch_size * self.delta_sample_max

    def _layer(self, layer: str) -> LayerParams:
        if layer not in ("hidden", "output"):
            raise ValueError(f"layer must be 'hidden' or 'output', not {layer!r}")
        return self.hidden if layer == "hidden" else self.output

    def delta_exact_bits(self, layer: str) -> int:
        """Width of an exact batch delta accumulator of ``layer``: eq. 3.17 summed over the
        batch, ``|Delta| <= B * vfb_max * corr_max`` with the layer's own bounds (the hidden
        layer's ``vfb_hidden_max * hidden_corr_max``, CSNN times the positions; the output
        layer's ``vfb_output_max * output_corr_max``)."""
        self._layer(layer)
        if layer == "hidden":
            per = self.vfb_hidden_max * self.hidden_corr_max
            if self.arch == "csnn":
                per *= self.conv_out_side ** 2
        else:
            per = self.vfb_output_max * self.output_corr_max
        bound = self.batch_size * per
        return bits_signed(-bound, bound)

    def delta_lossless_bits(self, layer: str) -> int:
        """Narrowest delta register whose saturation the clipped update of eq. 3.18 cannot see.

        ``shift_then_clip``: ``step = clip((Delta + u) >> eta_hat, C)`` is ``+-C`` for every
        ``|Delta| >= C * 2**eta_hat`` (any rounding offset ``0 <= u < 2**eta_hat``), so a
        register holding ``[-C * 2**eta_hat, C * 2**eta_hat]`` gives the same step for the
        saturated sum as for the exact one.  ``clip_then_shift``: the clip comes first, so
        ``[-C, C]`` is enough."""
        lr = self._layer(layer).lr_shift
        c = self.clip << lr if self.clip_order == "shift_then_clip" else self.clip
        return bits_signed(-c, c)

    def delta_saturates(self, layer: str) -> bool:
        """``layer``'s batch delta is a saturating register (``delta_sat_bits`` narrower than
        its exact width)."""
        return (self.delta_sat_bits is not None
                and self.delta_exact_bits(layer) > self.delta_sat_bits)

    def delta_bits(self, layer: str) -> int:
        """Width of ``layer``'s batch delta register: the exact width, or ``delta_sat_bits``
        where that is narrower (then it saturates, :meth:`delta_saturates`)."""
        exact = self.delta_exact_bits(layer)
        return exact if self.delta_sat_bits is None else min(exact, self.delta_sat_bits)

    def delta_range(self, layer: str) -> tuple[int, int]:
        """The two's-complement range of :meth:`delta_bits` (the saturation rails)."""
        n = self.delta_bits(layer)
        return -(1 << (n - 1)), (1 << (n - 1)) - 1

    def _check_delta_sat(self):
        n = self.delta_sat_bits
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"delta_sat_bits must be None or an int, got {n!r}")
        if not 2 <= n <= 62:
            raise ValueError(f"delta_sat_bits must be None or in 2..62, got {n!r}")
        if self.arch == "csnn":
            raise ValueError("delta_sat_bits is not supported for arch 'csnn' (its kernel delta, "
                             "eq. 3.22, also sums over positions; SNN/RSNN only): use None")
        for layer in ("hidden", "output"):
            need = self.delta_lossless_bits(layer)
            if self.delta_saturates(layer) and n < need:
                p = self._layer(layer)
                raise ValueError(
                    f"delta_sat_bits={n} is below the {need} bits the {layer} layer's clipped "
                    f"update can use (clip {self.clip}, lr_shift {p.lr_shift}, "
                    f"{self.clip_order}): use >= {need}")

    def widths(self) -> dict[str, int]:
        """Register widths (bits) derived from the bounds above; used by the hardware."""
        return {
            "input": self.input_bits,
            "shadow_weight": self.shadow_bits,
            "inference_weight": self.inference_bits,
            "hidden_voltage": self.hidden_voltage_bits,
            "output_voltage": self.output_voltage_bits,
            "hidden_pre_trace": bits_unsigned(self.hidden_trace_max),
            "output_pre_trace": bits_unsigned(self.output_trace_max),
            "hidden_corr_trace": bits_unsigned(self.hidden_corr_max),
            "output_corr_trace": bits_unsigned(self.output_corr_max),
            "spike_count": self.count_bits,
            "error": bits_signed(*self.error_range),
            "hidden_vfb": bits_signed(-self.vfb_hidden_max, self.vfb_hidden_max),
            "delta_accumulator": max(self.delta_bits("hidden"), self.delta_bits("output")),
        }

    def replace(self, **changes) -> "NetConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def canonical_dict(self) -> dict:
        """:meth:`to_dict` without the fields of :data:`LATER_FIELDS` that hold the value
        reproducing the behaviour from before the field existed: what a run's fingerprint is
        computed from, so that runs recorded before a field was added stay valid."""
        d = self.to_dict()
        for k, v in LATER_FIELDS.items():
            if d.get(k) == v:
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "NetConfig":
        d = dict(d)
        for k in ("hidden", "output"):
            if isinstance(d.get(k), dict):
                d[k] = LayerParams(**d[k])
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}")
        return cls(**d)


#: Fields added after runs were first recorded -> the value that behaves as before the field
#: existed (see :meth:`NetConfig.canonical_dict`).
LATER_FIELDS = {"lr_rounding": "floor", "delta_sat_bits": None}


# ---------------------------------------------------------------------- presets (Table D.2)
# Learning rates 2**-k become lr_shift=k; rate 0.5 -> 1, rate 1 -> 0; decay 0 -> None.
_BASE = {
    "mnist-snn": NetConfig(
        arch="snn", n_in=784, n_hidden=100, n_out=10, timesteps=20, input_bits=1,
        hidden=LayerParams(500, 1000, 12, None), output=LayerParams(2000, 4000, 1, None),
        alpha=128, clip=2048),
    "mnist-csnn": NetConfig(
        arch="csnn", n_in=784, n_hidden=32 * 12 * 12, n_out=10, timesteps=20, input_bits=1,
        hidden=LayerParams(250, 500, 15, None), output=LayerParams(250, 500, 0, 12),
        alpha=32, clip=2048),  # output decay 2**-12: not in Table D.2 (docs/algorithm.md)
    "shd-snn": NetConfig(
        arch="snn", n_in=175, n_hidden=256, n_out=20, timesteps=10, input_bits=8,
        hidden=LayerParams(250, 500, 14, 12), output=LayerParams(2000, 4000, 0, 12),
        alpha=128, clip=512),
    "shd-rsnn": NetConfig(
        arch="rsnn", n_in=175, n_hidden=256, n_out=20, timesteps=10, input_bits=8,
        hidden=LayerParams(2000, 4000, 12, 12), output=LayerParams(1600, 1600, 1, 12),
        alpha=128, clip=256, rec_shift=11, voltage_bits=24),
}
PRESETS = tuple(_BASE)


def _scale(v: int, k: int) -> int:
    return v << k if k >= 0 else v >> -k


#: Bits of headroom each preset leaves between its initial weights and the S-bit rails
#: (docs/algorithm.md, "Headroom"; measured in docs/results.md).
DEFAULT_HEADROOM = {"mnist-snn": 1, "mnist-csnn": 0, "shd-snn": 1, "shd-rsnn": 1}


def preset(name: str, shadow_bits: int = 16, inference_bits: int = 8, *,
           headroom: int | None = None, **overrides) -> NetConfig:
    """A Table D.2 configuration on an MP S-Q datapath with ``headroom`` bits of growth room.

    Scaling rule (docs/algorithm.md, "Other precisions" and "Headroom"): the hyper-parameters
    of Table D.2 (MP 16-8) are rescaled to the *effective* precision ``S-h``/``Q-h`` with
    ``q = Q - h - 8`` and ``s = S - h - 16``: inference weights scale by 2**q, so thresholds,
    windows and (RSNN) ``rec_shift`` follow them (``threshold << q``, ``window << q``,
    ``rec_shift + q``); shadow weights scale by 2**s, so the clip scales by 2**s and the
    learning-rate shifts move by ``-s`` (output) and ``q - s`` (hidden, whose feedback voltage
    carries a factor 2**q from the transposed inference weights).  The initial weights span
    ``S - h`` bits (``init_bits``), so the weights can grow by a factor 2**h before the S-bit
    rails, as the thesis's (unsaturated) weights did.  ``headroom=None`` takes
    :data:`DEFAULT_HEADROOM`; ``headroom=0`` is Table D.2 read literally.

    Rounding (docs/algorithm.md, "Rounding of the learning-rate shift"): the thesis's floor
    (``lr_rounding="floor"``) on its 16-bit shadow weights; ``"dither"`` for ``S < 16``, where
    the rescaled learning rates make most updates smaller than one shadow LSB and the floor's
    bias of -1/2 LSB per update would drive every weight up.
    """
    if name not in _BASE:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    h = DEFAULT_HEADROOM[name] if headroom is None else headroom
    if not isinstance(h, int) or isinstance(h, bool) or not 0 <= h <= 6:
        raise ValueError(f"headroom must be an int in 0..6, got {headroom!r}")
    base = _BASE[name]
    changes = dict(shadow_bits=shadow_bits, inference_bits=inference_bits)
    if not 8 <= shadow_bits <= 16 or not 2 <= inference_bits <= shadow_bits:
        base.replace(**changes)  # raises with the parameter's name
    if inference_bits - h < 2:
        raise ValueError(f"headroom={h} leaves fewer than 2 effective inference bits "
                         f"(inference_bits={inference_bits})")
    q, s = inference_bits - h - 8, shadow_bits - h - 16

    def layer(p: LayerParams, extra: int) -> LayerParams:
        return LayerParams(max(1, _scale(p.threshold, q)), max(1, _scale(p.window, q)),
                           max(0, p.lr_shift + extra - s), p.wd_shift)

    if (q, s) != (0, 0):
        changes.update(
            hidden=layer(base.hidden, q), output=layer(base.output, 0),
            clip=max(1, _scale(base.clip, s)),
            rec_shift=max(0, base.rec_shift + q))
        if base.voltage_bits is not None:
            changes["voltage_bits"] = base.voltage_bits + max(0, q)
    if h:
        changes["init_bits"] = shadow_bits - h
    changes["lr_rounding"] = "floor" if shadow_bits == 16 else "dither"
    changes.update(overrides)
    return base.replace(**changes)
