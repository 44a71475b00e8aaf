"""One entry point for every data set: real files when a data directory is known, else the
embedded real subset.

``load_split("mnist", ...)`` returns uint8 images (rate coding happens later, per epoch, with
:func:`intsnn.sw.encoding.rate_encode`); ``load_split("shd", ...)`` returns framed spike counts.
"""

from __future__ import annotations

import os

import numpy as np

from .datadir import resolve_data_dir
from .embedded import embedded_meta, load_embedded
from .mnist import MNIST_FILES, load_mnist_indexed
from .shd import load_shd

__all__ = ["DATASETS", "load_split", "spread_indices"]

DATASETS = ("mnist", "shd")


def spread_indices(n: int, limit: int | None) -> np.ndarray:
    """Positions ``(j * n) // limit`` for ``j < limit``: a deterministic subset spread evenly
    over the file order (which for SHD-format files is sorted by speaker and class).

    Parameters
    ----------
    n : int
        Number of samples.
    limit : int or None
        Wanted count; ``None`` or ``>= n`` keeps everything.

    Returns
    -------
    numpy.ndarray
        int64 sorted positions.
    """
    if limit is not None and (int(limit) != limit or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    if limit is None or limit >= n:
        return np.arange(n, dtype=np.int64)
    return (np.arange(int(limit), dtype=np.int64) * n) // int(limit)


def _embedded_shd(split: str, frames: int, groups: int, input_bits: int):
    x, y, meta = load_embedded("shd", split)
    if (frames, groups) != (meta["frames"], meta["groups"]):
        raise ValueError(f"the embedded SHD-format subset is framed with frames={meta['frames']}, "
                         f"groups={meta['groups']}; got frames={frames}, groups={groups}. "
                         "Pass data_dir (or set INTSNN_DATA) to re-frame the real files")
    if input_bits != meta["input_bits"]:
        if not 1 <= input_bits <= 16:
            raise ValueError(f"input_bits must be in 1..16, got {input_bits}")
        cap = (1 << input_bits) - 1
        meta["saturated"] = int(np.count_nonzero(x > cap))
        x = np.minimum(x, cap).astype(np.uint8 if input_bits <= 8 else np.uint16)
        meta["input_bits"] = input_bits
    return x, y, meta


def load_split(dataset: str, split: str, data_dir: str | os.PathLike | None = None,
               limit: int | None = None, *, name: str | None = None, frames: int = 10,
               groups: int = 4, input_bits: int = 8) -> tuple[np.ndarray, np.ndarray, dict]:
    """Load one split of a data set from real files or, without a data directory, the
    embedded subset.

    Parameters
    ----------
    dataset : {"mnist", "shd"}
        ``"shd"`` means any SHD-format pair (``shd`` preferred, else e.g. ``fsdd_lauscher``).
    split : str
        mnist: ``train`` (first 50,000 of the training file), ``val`` (its last 10,000),
        ``test``; shd: ``train``, ``test``.  The embedded MNIST has its own small val set.
    data_dir : str, os.PathLike or None
        Real data folder; ``None`` uses ``$INTSNN_DATA`` and, if that is unset, the embedded
        subset; :data:`intsnn.sw.datadir.EMBEDDED` always the embedded subset.
    limit : int, optional
        Keep only ``limit`` samples, spread evenly over the split (:func:`spread_indices`).
    name : str, optional
        SHD-format data set name (see :func:`intsnn.sw.shd.find_shd`).
    frames, groups, input_bits : int
        SHD framing (thesis: 10 frames, groups of 4); see :func:`intsnn.sw.shd.frame_spikes`.

    Returns
    -------
    x : numpy.ndarray
        mnist: uint8 images (N, 784); shd: uint8 counts (N, frames, 700 // groups)
        (uint16 if ``input_bits > 8``).
    labels : numpy.ndarray
        int64 (N,).
    meta : dict
        Always ``dataset``, ``split``, ``source`` (``"files"`` or ``"embedded"``),
        ``n_classes`` and ``indices`` (positions in the source file); shd adds the framing
        parameters and statistics, ``speaker`` when known.

    Raises
    ------
    ValueError
        Unknown data set or split, bad limit, invalid files.
    FileNotFoundError
        A named data directory without the needed files.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if dataset == "mnist" and name is not None:
        raise ValueError(f"a data-set name ({name!r}, --data-name) applies to SHD-format data "
                         "only, not to MNIST")
    root = resolve_data_dir(data_dir)
    if dataset == "mnist":
        if root is None:
            x, y = load_embedded("mnist", split)
            meta = embedded_meta("mnist", split)
        else:
            x, y, idx = load_mnist_indexed(root, split)
            meta = {"dataset": "mnist", "split": split, "source": "files",
                    "data_dir": str(root), "n_classes": 10, "indices": idx,
                    "files": MNIST_FILES["test" if split == "test" else "train"]}
    else:
        if root is None:
            x, y, meta = _embedded_shd(split, int(frames), int(groups), int(input_bits))
            if name is not None and name != meta["name"]:
                raise ValueError(f"no data directory, and the embedded SHD-format subset is "
                                 f"{meta['name']!r}, not {name!r}; pass --data-dir (data_dir) "
                                 "or set INTSNN_DATA")
        else:
            x, y, meta = load_shd(root, split, name=name, frames=frames, groups=groups,
                                  input_bits=input_bits)
            meta.update(source="files", data_dir=str(root))
    meta.setdefault("n_features", int(np.prod(x.shape[1:])))
    n = len(y)
    keep = spread_indices(n, limit)
    if len(keep) < n:
        x, y = x[keep], y[keep]
        for key, val in list(meta.items()):
            if isinstance(val, np.ndarray) and val.ndim >= 1 and val.shape[0] == n:
                meta[key] = val[keep]
        meta["limit"] = int(limit)
    return x, y, meta
