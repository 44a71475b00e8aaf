"""Integer primitives of the algorithm, one function per equation of thesis chapter 3.

All functions take and return integer numpy arrays (int64 unless stated).  Right shifts are
arithmetic (``>>`` on signed integers, i.e. floor division by a power of two, also for negative
numbers) -- the behaviour of a two's-complement barrel shifter and of ``torch.bitwise_right_shift``.
See ``docs/algorithm.md`` for the decisions behind each function.
"""

from __future__ import annotations

import numpy as np

from .config import NetConfig
from .counter_hash import counter_hash

__all__ = [
    "ITYPE", "as_int", "saturate", "lif_voltage", "spike", "pseudo_grad", "hard_reset",
    "pre_trace", "corr_trace", "b16", "quantize", "prediction_error", "clip", "round_offset",
    "weight_update", "LR_ROUND_KEY", "WEYL", "batch_delta",
]

ITYPE = np.int64
#: Hash key of the learning-rate dither ("LRND"; docs/algorithm.md, "Rounding of the
#: learning-rate shift").
LR_ROUND_KEY = 0x4C524E44
#: The Weyl increment of the dither is the top ``k`` bits of this constant (2**64 / golden ratio).
WEYL = 0x9E3779B97F4A7C15


def as_int(a) -> np.ndarray:
    """Return ``a`` as an int64 array, refusing anything that is not already integral."""
    a = np.asarray(a)
    if a.dtype.kind not in "iub":
        raise TypeError(f"integer array expected on the integer path, got dtype {a.dtype}")
    return a.astype(ITYPE, copy=False)


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Clamp to the two's-complement range of ``bits`` bits."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(x, lo, hi)


def lif_voltage(v_reset_prev, current, beta_shift: int, bits: int) -> np.ndarray:
    """Eq. 3.2: ``V(t) = V_s(t-1) >> beta_hat + W s(t)`` (+ recurrent term, eq. 3.23).

    ``current`` is the full synaptic input of this step; the result saturates at ``bits``.
    """
    return saturate((v_reset_prev >> beta_shift) + current, bits)


def spike(v, threshold: int) -> np.ndarray:
    """Eq. 2.2: ``s = V > V_th`` (strictly greater), as int64 0/1."""
    return (v > threshold).astype(ITYPE)


def pseudo_grad(v, threshold: int, window: int) -> np.ndarray:
    """Eq. 3.3: rectangular pseudo-gradient ``|V - V_th| < Grad_win``, on the pre-reset V."""
    return (np.abs(v - threshold) < window).astype(ITYPE)


def hard_reset(v, s) -> np.ndarray:
    """Hard reset of section 2.1: ``V_s = 0`` where the neuron spiked, else ``V``."""
    return np.where(s != 0, 0, v)


def pre_trace(trace, inp, beta_shift: int) -> np.ndarray:
    """Eq. 3.4: ``T_pre = T_pre >> beta_hat + s(t)`` (inputs may be counts)."""
    return (trace >> beta_shift) + inp


def corr_trace(corr, pg, trace) -> np.ndarray:
    """Eq. 3.5: ``T_corr += T_pre * pg`` as an outer product (..., post, pre)."""
    return corr + pg[..., :, None] * trace[..., None, :]


def b16(v, rec_shift: int) -> np.ndarray:
    """Eq. 3.23's ``B_16(V)``: the voltage quantised for the recurrent weights, ``V >> rec_shift``."""
    return v >> rec_shift


def quantize(w_shadow, cfg: NetConfig) -> np.ndarray:
    """Eq. 3.24: inference weights ``B_Q(W_shadow) = W_shadow >> (S - Q)`` (keeps the top Q bits)."""
    return w_shadow >> cfg.quant_shift


def prediction_error(counts, labels, cfg: NetConfig, rng_bits=None) -> np.ndarray:
    """Eqs. 3.6-3.8: ``e = (count * alpha) >> floor(log2 T) - onehot(y) * alpha``.

    ``counts``: (B, O) output spike counts; ``labels``: (B,).  For the ``positive`` (3.7) and
    ``random`` (3.8) losses the *zero* error entries are replaced by ``1`` or by ``rng_bits``
    (integers in {-1, 0, 1}, shape (B, O), supplied by the caller's seeded integer PRNG).
    """
    counts = as_int(counts)
    onehot = np.zeros_like(counts)
    onehot[np.arange(counts.shape[0]), as_int(labels)] = 1
    e = ((counts * cfg.alpha) >> cfg.log2_t) - onehot * cfg.alpha
    if cfg.loss == "positive":
        e = np.where(e == 0, 1, e)
    elif cfg.loss == "random":
        if rng_bits is None:
            raise ValueError("loss='random' needs rng_bits")
        e = np.where(e == 0, as_int(rng_bits), e)
    return e


def batch_delta(cfg: NetConfig, layer: str, terms) -> np.ndarray:
    """Eq. 3.17's batch sum of the per-sample terms ``terms`` (B, ...) into ``layer``'s delta
    register.

    Exact (``sum_b``) unless ``cfg.delta_saturates(layer)``; then the register saturates to
    ``cfg.delta_range(layer)`` after each sample's term is added, in sample order:
    ``D <- sat(D + term[b])`` for ``b = 0 .. B-1`` from ``D = 0`` (docs/algorithm.md,
    "Saturating delta accumulators").
    """
    terms = as_int(terms)
    if not cfg.delta_saturates(layer):
        return terms.sum(axis=0)
    lo, hi = cfg.delta_range(layer)
    d = np.zeros(terms.shape[1:], ITYPE)
    for term in terms:
        d = np.clip(d + term, lo, hi)
    return d


def clip(d, bound: int) -> np.ndarray:
    """Eq. 3.27: clamp to ``[-Delta_max, Delta_max]``."""
    return np.clip(d, -bound, bound)


def round_offset(cfg: NetConfig, shift: int, seed: int, update: int, stream: int,
                 shape) -> np.ndarray:
    """The offset ``u`` added before a right shift of eq. 3.18 (``(x + u) >> shift``).

    ``cfg.lr_rounding`` decides, with ``0 <= u < 2**shift``: ``floor`` ``u = 0`` (the thesis's
    arithmetic shift); ``nearest`` ``u = 2**(shift-1)`` (half up); ``dither``
    ``u[i] = (U + i * phi) mod 2**shift`` for the synapse at flat (row-major ``(post, pre)``)
    index ``i`` of the layer, with ``U = H(seed, LRND, update, stream) >> (64 - shift)`` and
    ``phi = (WEYL >> (64 - shift)) | 1`` (odd).  Over the update counter ``u`` is uniform for
    every synapse, so ``E[(x + u) >> shift] = x / 2**shift`` exactly (unbiased), and within one
    update the offsets of the synapses are spread evenly over ``[0, 2**shift)``.
    ``stream``: 0 hidden learning rate, 1 output learning rate, 2 hidden decay, 3 output decay.
    ``update`` is the number of updates applied before this one.  Returns int64 ``shape``.
    """
    k = int(shift)
    if k == 0 or cfg.lr_rounding == "floor":
        return np.zeros(shape, ITYPE)
    if cfg.lr_rounding == "nearest":
        return np.full(shape, 1 << (k - 1), ITYPE)
    mask = np.uint64((1 << k) - 1)
    base = counter_hash(seed, LR_ROUND_KEY, update, stream)[0] >> np.uint64(64 - k)
    phi = np.uint64((WEYL >> (64 - k)) | 1)
    i = np.arange(int(np.prod(shape)), dtype=np.uint64)
    return ((base + i * phi) & mask).astype(ITYPE).reshape(shape)


def weight_update(w_shadow, delta, lr_shift: int, wd_shift, cfg: NetConfig,
                  offset=0, decay_offset=0) -> np.ndarray:
    """Eqs. 3.18 + 3.27: ``W <- sat_S(W - step(Delta) - decay(W))``.

    ``step`` is ``clip((Delta + offset) >> eta_hat)`` (``clip_order='shift_then_clip'``, the
    default) or the literal order ``(clip(Delta) + offset) >> eta_hat``; ``decay`` is
    ``(W + decay_offset) >> rho_hat``, skipped when ``wd_shift`` is None.  The offsets are the
    rounding offsets of :func:`round_offset` (0: the floor of the thesis's shifts).  The new
    shadow weight saturates to S bits.
    """
    w = as_int(w_shadow)
    d = as_int(delta)
    u = as_int(offset)
    if cfg.clip_order == "shift_then_clip":
        step = clip((d + u) >> lr_shift, cfg.clip)
    else:
        step = (clip(d, cfg.clip) + u) >> lr_shift
    decay = ((w + as_int(decay_offset)) >> wd_shift) if wd_shift is not None else 0
    return np.clip(w - step - decay, cfg.shadow_min, cfg.shadow_max)
