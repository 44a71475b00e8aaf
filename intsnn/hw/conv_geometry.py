"""The CSNN's address maps as the hardware walks them (pure Python: the golden twins).

The core stores the CSNN's hidden layer **position-major**: hidden word ``p*FW + fg`` holds the
filters ``fg*P .. fg*P + P-1`` of output position ``p`` (``FW = conv_filters / P``), i.e. the
hardware index of hidden neuron ``(f, p)`` is ``hq = p*F + f`` (the reference's index is
``h = f*n*n + p``; :func:`hidden_order`).  The kernel memory (``w_hidden``) and its delta hold
``K[f, tap]`` in word ``tap*FW + f/P``, lane ``f % P``.

* :func:`scatter_list`: the (accumulator word, kernel word) pairs an input event at a pixel
  visits in the event engine (eq. 3.19 as a scatter), in order.
* :func:`patch_list`: the (pixel, kernel-delta word) pairs of one hidden word's group in the
  delta engine (eq. 3.22: the correlation of a position's pseudo-gradients with its patch).
* :func:`axis_table`: the per-coordinate table both RTL walkers start from.

Everything here is derived from :class:`intsnn.golden.fast_csnn.ConvGeometry` (the golden
model's own maps) or checked against it (``tests/test_hw_conv.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..golden.config import NetConfig
from ..golden.fast_csnn import ConvGeometry

__all__ = ["AxisEntry", "axis_table", "hidden_order", "covered_pixels", "pairs_per_pixel",
           "scatter_list", "patch_list"]


class AxisEntry(NamedTuple):
    """Windows along one axis that hold image coordinate ``y``: output rows ``first ..
    first+count-1`` (ascending), the kernel row under ``y`` in the first being ``k_first``
    (``k_first - j*stride`` in the ``j``-th)."""

    first: int
    count: int
    k_first: int


def axis_table(cfg: NetConfig) -> list[AxisEntry]:
    """:class:`AxisEntry` of every coordinate ``0 .. image_side-1`` (padding 0)."""
    k, s, n = cfg.conv_kernel, cfg.conv_stride, cfg.conv_out_side
    out = []
    for y in range(cfg.image_side):
        first = max(0, -(-(y - k + 1) // s))
        last = min(n - 1, y // s)
        count = max(0, last - first + 1)
        out.append(AxisEntry(first if count else 0, count, y - first * s if count else 0))
    return out


def hidden_order(cfg: NetConfig) -> np.ndarray:
    """``order[hq]`` = the reference's hidden index held at hardware index ``hq``.

    Identity for snn/rsnn; for csnn ``hq = p*F + f`` holds ``h = f*n*n + p``.  The host
    protocol's W_OUTPUT column is ``hq`` (docs/architecture.md, "CSNN").
    """
    if cfg.arch != "csnn":
        return np.arange(cfg.n_hidden)
    npos, nf = cfg.conv_out_side ** 2, cfg.conv_filters
    hq = np.arange(cfg.n_hidden)
    return (hq % nf) * npos + hq // nf


def pairs_per_pixel(cfg: NetConfig) -> np.ndarray:
    """(n_in,) number of (position, tap) pairs of each pixel (0 outside every window)."""
    return np.diff(ConvGeometry.of(cfg).pixel_ptr)


def covered_pixels(cfg: NetConfig) -> np.ndarray:
    """(n_in,) bool: the pixel lies in some window (its events reach a neuron)."""
    return pairs_per_pixel(cfg) > 0


def scatter_list(cfg: NetConfig, lanes: int, pixel: int) -> list[tuple[int, int]]:
    """The event engine's (acc word, kernel word) sequence for an input event at ``pixel``.

    For each (position, tap) pair of the pixel, positions ascending (the golden map's order),
    the ``FW`` filter words: ``(p*FW + fg, tap*FW + fg)``.
    """
    geo = ConvGeometry.of(cfg)
    fw = cfg.conv_filters // lanes
    out = []
    for j in range(geo.pixel_ptr[pixel], geo.pixel_ptr[pixel + 1]):
        p, tap = int(geo.pixel_pos[j]), int(geo.pixel_tap[j])
        out.extend((p * fw + fg, tap * fw + fg) for fg in range(fw))
    return out


def patch_list(cfg: NetConfig, lanes: int, group: int) -> list[tuple[int, int]]:
    """The delta engine's (pixel, kernel-delta word) sequence for hidden word ``group``:
    ``(pix(p, tap), tap*FW + fg)`` for every tap, with ``group = p*FW + fg``."""
    geo = ConvGeometry.of(cfg)
    fw = cfg.conv_filters // lanes
    p, fg = divmod(group, fw)
    return [(int(geo.patch_pixel[p, tap]), tap * fw + fg)
            for tap in range(cfg.conv_kernel ** 2)]
