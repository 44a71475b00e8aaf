"""Integer-only rate coding of images (thesis 3.4.1) and counter-based integer randomness.

Rate coding: "for every time step generating a random image and comparing each value with the
pixel intensity; only the pixel values higher than their corresponding random values were
considered as spikes".  Here the random value of pixel ``p`` of sample ``i`` at step ``t`` in
epoch ``e`` is a byte ``r`` in 0..255 taken from a counter-based hash of
``(seed, epoch, i, t, p // 8)`` (byte ``p % 8`` of the 64-bit hash, little-endian), and the
spike is ``pixel > r``, so ``P(spike) = pixel / 256`` exactly: pixel 0 never spikes, pixel 255
spikes with probability 255/256.

Because every random value is a pure function of its coordinates (no sequential generator
state), a sample gets the same spikes whatever batch it is in, in whatever order, and the hardware
or any other language can reproduce them.  Only numpy ``uint64`` integer operations are used.

The hash is :func:`intsnn.golden.counter_hash.counter_hash` (one definition, shared with the
golden model's random loss; its docstring gives the equations).
"""

from __future__ import annotations

import numpy as np

from ..golden.counter_hash import counter_hash

__all__ = ["RATE_STREAM", "counter_hash", "integer_uniform", "rate_encode"]

#: Stream tag mixed in by :func:`rate_encode` ("RATE"), separating it from other users.
RATE_STREAM = 0x52415445


def integer_uniform(seed: int, *keys, n: int, lo: int, hi: int) -> np.ndarray:
    """Seeded uniform integers in ``[lo, hi)`` from :func:`counter_hash` (integer-only).

    Value ``j`` is derived from ``counter_hash(seed, *keys, j)``: its high 32 bits ``u`` give
    ``lo + (u * (hi - lo)) >> 32``.  Exact (unbiased) when ``hi - lo`` is a power of two,
    otherwise biased by at most ``(hi - lo) / 2**32`` per value.

    Parameters
    ----------
    seed : int
    *keys : int or integer array_like
        Identify the stream (e.g. epoch, sample index); broadcast against each other.
    n : int
        Values per key combination (last axis).
    lo, hi : int
        Half-open range; ``1 <= hi - lo <= 2**32``.

    Returns
    -------
    numpy.ndarray
        int64 array of shape ``broadcast(keys).shape + (n,)``.

    Raises
    ------
    ValueError
        If ``n < 0`` or the range is empty or wider than 2**32.
    """
    n, lo, hi = int(n), int(lo), int(hi)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    span = hi - lo
    if not 1 <= span <= 1 << 32:
        raise ValueError(f"need 1 <= hi - lo <= 2**32, got lo={lo}, hi={hi}")
    shape = np.broadcast_shapes(*(np.shape(k) for k in keys)) if keys else ()
    ks = [np.reshape(np.asarray(k), np.shape(k) + (1,)) for k in keys]
    h = counter_hash(seed, *ks, np.arange(n, dtype=np.uint64))
    h = np.broadcast_to(h, shape + (n,)) >> np.uint64(32)
    return (h * np.uint64(span) >> np.uint64(32)).astype(np.int64) + lo


def rate_encode(images_u8: np.ndarray, timesteps: int, seed: int, epoch: int,
                indices) -> np.ndarray:
    """Rate-code uint8 images into binary spike trains (thesis 3.4.1), integer-only.

    Parameters
    ----------
    images_u8 : numpy.ndarray
        uint8, shape (N, D) (D = 784 for MNIST), pixel intensities 0..255.
    timesteps : int
        T >= 1.
    seed : int
        Run seed (>= 0).
    epoch : int
        Epoch number (>= 0): a new random image every epoch.
    indices : array_like of int
        Shape (N,): the dataset index of each row (>= 0).  The spikes of a row depend only on
        ``(seed, epoch, index)``, never on the rest of the batch.

    Returns
    -------
    numpy.ndarray
        uint8, shape (N, T, D), values in {0, 1}: ``1`` where ``pixel > r`` for the row's
        random byte ``r`` (see module docstring).

    Raises
    ------
    ValueError
        Wrong dtype/shape, ``timesteps < 1``, negative seed/epoch/index, or an ``indices``
        length other than N.
    """
    images = np.asarray(images_u8)
    if images.dtype != np.uint8:
        raise ValueError(f"rate_encode needs uint8 images (0..255), got dtype {images.dtype}")
    if images.ndim != 2:
        raise ValueError(f"rate_encode needs images of shape (N, D), got {images.shape}; "
                         "reshape e.g. (N, 28, 28) to (N, 784)")
    if int(timesteps) != timesteps or timesteps < 1:
        raise ValueError(f"timesteps must be an integer >= 1, got {timesteps!r}")
    for name, v in (("seed", seed), ("epoch", epoch)):
        if int(v) != v or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    idx = np.asarray(indices)
    n, d = images.shape
    if idx.shape != (n,) or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"indices must be {n} integers (one per image), got shape {idx.shape} "
                         f"dtype {idx.dtype}")
    if n and idx.min() < 0:
        raise ValueError("indices must be non-negative dataset indices")
    t = int(timesteps)
    blocks = (d + 7) // 8
    h = counter_hash(int(seed), RATE_STREAM, int(epoch),
                     idx.astype(np.uint64).reshape(n, 1, 1),
                     np.arange(t, dtype=np.uint64).reshape(1, t, 1),
                     np.arange(blocks, dtype=np.uint64).reshape(1, 1, blocks))
    h = np.broadcast_to(h, (n, t, blocks))
    r = np.ascontiguousarray(h, dtype="<u8").view(np.uint8).reshape(n, t, blocks * 8)[:, :, :d]
    return np.greater(images[:, None, :], r).view(np.uint8)
