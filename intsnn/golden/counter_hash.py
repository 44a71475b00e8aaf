"""Counter-based integer hash: seeded randomness as a pure function of its coordinates.

Used by the golden model for the random additive loss (eq. 3.8, :func:`intsnn.golden.model.
loss_rng_bits`) and by the MNIST rate coder (:mod:`intsnn.sw.encoding`).  Every value depends only
on ``(seed, *keys)``, never on a generator's state, so a sample gets the same random numbers in
any batch and any order, and hardware can reproduce them with a few multipliers and no state.

The hash is a chain of splitmix64 finalisers (all arithmetic modulo 2**64)::

    G = 0x9E3779B97F4A7C15
    mix(z): z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
            z ^= z >> 31
    h = mix(seed + G);  for each key k: h = mix((h ^ k) + G)

Keys and seed are taken modulo 2**64 (negative values in two's complement).  Only numpy
``uint64`` integer operations are used.
"""

from __future__ import annotations

import numpy as np

__all__ = ["counter_hash"]

_G = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MASK = (1 << 64) - 1


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, in place on a uint64 array (wrapping arithmetic)."""
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def _as_key(k) -> np.ndarray:
    a = np.asarray(k)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.integer) or a.dtype == bool):
        if a.ndim == 0 and isinstance(k, int):
            return np.array(k & _MASK, dtype=np.uint64)
        raise ValueError(f"hash keys must be integers or integer arrays, got dtype {a.dtype}")
    return a.astype(np.uint64)  # two's complement wrap for negative values


def counter_hash(seed: int, *keys) -> np.ndarray:
    """Counter-based 64-bit hash of ``(seed, *keys)``: a pure function, no generator state.

    Parameters
    ----------
    seed : int
        Taken modulo 2**64.
    *keys : int or integer array_like
        Broadcast against each other; each is taken modulo 2**64.

    Returns
    -------
    numpy.ndarray
        uint64 array of the broadcast shape of the keys (at least 1-d).

    Examples
    --------
    >>> counter_hash(1, 2, [3, 4]).shape
    (2,)
    """
    h = np.atleast_1d(_as_key(seed).astype(np.uint64, copy=True)) + _G
    _mix(h)
    for k in keys:
        h = h ^ _as_key(k)
        h += _G
        _mix(h)
    return h
