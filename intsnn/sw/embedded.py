"""The small real subsets shipped with the package (built by :mod:`intsnn.sw.make_subset`).

* ``mnist``: 1,000 train / 200 val / 500 test real MNIST images (class-balanced; train and val
  drawn from the thesis train and val splits of the training file).
* ``shd``: 500 train / 250 test real ``fsdd_lauscher`` samples (spoken digits in SHD's format,
  not SHD itself), already framed as (N, 10, 175) uint8 counts; the test part includes the
  unseen speaker.

They return exactly what :func:`intsnn.sw.mnist.load_mnist` and :func:`intsnn.sw.shd.load_shd`
return, so callers need not care where the data came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["EMBEDDED_FILES", "embedded_path", "embedded_meta", "load_embedded"]

_DATA = Path(__file__).resolve().parent / "data"
EMBEDDED_FILES = {"mnist": "mnist_subset.npz", "shd": "fsdd_subset.npz"}
_ALIASES = {"mnist": "mnist", "shd": "shd", "fsdd": "shd", "fsdd_lauscher": "shd"}
_SPLITS = {"mnist": ("train", "val", "test"), "shd": ("train", "test")}


def _kind(kind: str) -> str:
    k = _ALIASES.get(str(kind).lower())
    if k is None:
        raise ValueError(f"embedded kind must be 'mnist' or 'shd', got {kind!r}")
    return k


def embedded_path(kind: str) -> Path:
    """Path of the embedded ``.npz`` of ``kind`` (``"mnist"`` or ``"shd"``).

    Raises
    ------
    FileNotFoundError
        If the file is missing (rebuild with ``python -m intsnn.sw.make_subset``).
    """
    p = _DATA / EMBEDDED_FILES[_kind(kind)]
    if not p.is_file():
        raise FileNotFoundError(f"embedded subset {p} is missing; rebuild it with "
                                "`python -m intsnn.sw.make_subset --data-dir <real data>`")
    return p


def _check_split(kind: str, split: str) -> None:
    if split not in _SPLITS[kind]:
        raise ValueError(f"embedded {kind} split must be one of {_SPLITS[kind]}, got {split!r}")


def embedded_meta(kind: str, split: str) -> dict:
    """Metadata of an embedded split (source ``"embedded"``, source indices, ...).

    Parameters
    ----------
    kind : {"mnist", "shd"}
    split : str
        ``train``/``val``/``test`` for mnist, ``train``/``test`` for shd.

    Returns
    -------
    dict
        For mnist: ``dataset``, ``split``, ``source``, ``path``, ``n_classes``, ``indices``.
        For shd additionally the framing parameters (``frames``, ``groups``, ``input_bits``,
        ``framing``), ``name``, ``speaker``, ``filename``, ``label_names``, ``saturated``
        (0: the stored counts are exact), ``file_max_count`` (largest count in the whole source
        file); :func:`load_embedded` adds ``max_count`` (largest count in the subset).
    """
    kind = _kind(kind)
    _check_split(kind, split)
    path = embedded_path(kind)
    with np.load(path, allow_pickle=False) as z:
        meta = {"dataset": kind, "split": split, "source": "embedded", "path": str(path),
                "indices": z[f"{split}_indices"], "description": str(z["description"]),
                "license": str(z["license"])}
        if kind == "mnist":
            meta["n_classes"] = 10
            return meta
        meta.update(name=str(z["name"]), n_classes=int(z["n_classes"]),
                    frames=int(z["frames"]), groups=int(z["groups"]),
                    input_bits=int(z["input_bits"]), framing=str(z["framing"]),
                    speaker=z[f"{split}_speaker"], label_names=z["label_names"].tolist(),
                    saturated=0, file_max_count=int(z[f"{split}_file_max_count"]))
        if f"{split}_filename" in z.files:
            meta["filename"] = z[f"{split}_filename"]
    return meta


def load_embedded(kind: str, split: str):
    """Load an embedded real subset.

    Parameters
    ----------
    kind : {"mnist", "shd"}
        ``"fsdd"`` / ``"fsdd_lauscher"`` are accepted for ``"shd"``.
    split : str
        ``train``/``val``/``test`` for mnist (its own small val set), ``train``/``test`` for shd.

    Returns
    -------
    tuple
        mnist: ``(images uint8 (N, 784), labels int64 (N,))`` like
        :func:`~intsnn.sw.mnist.load_mnist`; shd: ``(counts uint8 (N, 10, 175), labels int64
        (N,), meta)`` like :func:`~intsnn.sw.shd.load_shd`.
    """
    kind = _kind(kind)
    _check_split(kind, split)
    with np.load(embedded_path(kind), allow_pickle=False) as z:
        if kind == "mnist":
            return z[f"{split}_images"], z[f"{split}_labels"].astype(np.int64)
        x, y = z[f"{split}_frames"], z[f"{split}_labels"].astype(np.int64)
    meta = embedded_meta(kind, split)
    meta["max_count"] = int(x.max()) if x.size else 0
    return x, y, meta
