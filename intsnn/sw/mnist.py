"""MNIST from the four standard IDX files, with the thesis' 50,000 / 10,000 / 10,000 split.

The IDX format (LeCun's distribution, torchvision's ``MNIST/raw``): a big-endian header
``0x00 0x00 <type> <ndim>`` followed by ``ndim`` big-endian uint32 dimensions and the raw data.
MNIST images are type 0x08 (uint8) with 3 dims (magic 2051), labels type 0x08 with 1 dim
(magic 2049).  Files may be gzipped (detected from the content, not the name).

Split (thesis 3.4.1: "10,000 images extracted from the training set have been used for
validation"): **train = the first 50,000 images of the training file, val = its last 10,000
(indices 50,000-59,999), test = the 10,000 of the test file.**  Deterministic, no shuffling.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from .datadir import find_file, resolve_data_dir

__all__ = [
    "IDX_IMAGES_MAGIC", "IDX_LABELS_MAGIC", "MNIST_FILES", "MNIST_VAL_SIZE", "SPLITS",
    "read_idx", "read_idx_images", "read_idx_labels", "read_mnist_pair",
    "mnist_split_indices", "load_mnist", "load_mnist_indexed",
]

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
#: Number of training-file images held out as validation (the LAST ones).
MNIST_VAL_SIZE = 10_000
SPLITS = ("train", "val", "test")
#: (images, labels) file names per source file; the plain (un-gzipped) names are also accepted.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
           0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(2)
    try:
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip stream ({exc})") from exc


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read one IDX file (gzipped or plain) into a native-endian array.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    expected_magic : int, optional
        Required magic number (e.g. 2051 for images, 2049 for labels).

    Returns
    -------
    numpy.ndarray
        Shape given by the header's dimensions.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        On a wrong magic number, unknown type code, or a length that disagrees with the header
        (truncated file or trailing bytes); the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {str(path)!r} does not exist")
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: file too short for an IDX header ({len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"{path}: bad IDX magic number {magic} (0x{magic:08x}), expected "
                         f"{expected_magic} (0x{expected_magic:08x}); not an MNIST "
                         f"{'image' if expected_magic == IDX_IMAGES_MAGIC else 'label'} file?")
    if data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise ValueError(f"{path}: bad IDX magic number {magic} (0x{magic:08x})")
    dtype, ndim = _DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes, need {header})")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(f"{path}: file {what}: {len(data)} bytes after decompression, but the "
                         f"header dims {dims} need {expected}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Read an MNIST image file: magic 2051, shape (N, 28, 28), uint8.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    numpy.ndarray
        uint8 array of shape (N, 28, 28).

    Raises
    ------
    ValueError
        Wrong magic, image size other than 28x28, or bad length.
    """
    arr = read_idx(path, IDX_IMAGES_MAGIC)
    if arr.shape[1:] != (28, 28):
        raise ValueError(f"{path}: images are {arr.shape[1:]}, MNIST needs 28x28")
    return arr


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Read an MNIST label file: magic 2049, values 0..9.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    numpy.ndarray
        int64 array of shape (N,).

    Raises
    ------
    ValueError
        Wrong magic, bad length, or a label outside 0..9.
    """
    arr = read_idx(path, IDX_LABELS_MAGIC).astype(np.int64)
    bad = np.flatnonzero((arr < 0) | (arr > 9))
    if bad.size:
        raise ValueError(f"{path}: label {int(arr[bad[0]])} at index {int(bad[0])} is out of "
                         f"range 0..9 ({bad.size} bad labels)")
    return arr


def read_mnist_pair(images_path: str | os.PathLike,
                    labels_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read an image file and its label file and check that their counts match.

    Parameters
    ----------
    images_path, labels_path : str or os.PathLike

    Returns
    -------
    images : numpy.ndarray
        uint8, shape (N, 784).
    labels : numpy.ndarray
        int64, shape (N,).

    Raises
    ------
    ValueError
        If either file is invalid or the counts differ.
    """
    images = read_idx_images(images_path)
    labels = read_idx_labels(labels_path)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"image/label count mismatch: {images_path} has {images.shape[0]} "
                         f"images but {labels_path} has {labels.shape[0]} labels")
    return images.reshape(images.shape[0], 784), labels


def mnist_split_indices(split: str, n_source: int) -> np.ndarray:
    """Indices into the source file (training file for train/val, test file for test).

    Parameters
    ----------
    split : {"train", "val", "test"}
    n_source : int
        Number of samples in the source file (60,000 / 10,000 for the real files).

    Returns
    -------
    numpy.ndarray
        int64 indices: train ``0 .. n-10000-1``, val the last 10,000, test all.
    """
    if split not in SPLITS:
        raise ValueError(f"MNIST split must be one of {SPLITS}, got {split!r}")
    if split == "test":
        return np.arange(n_source, dtype=np.int64)
    if n_source <= MNIST_VAL_SIZE:
        raise ValueError(f"the MNIST training file has {n_source} images; the thesis split "
                         f"needs more than {MNIST_VAL_SIZE} (the last {MNIST_VAL_SIZE} are val)")
    cut = n_source - MNIST_VAL_SIZE
    return np.arange(cut, n_source) if split == "val" else np.arange(cut, dtype=np.int64)


def load_mnist(data_dir: str | os.PathLike | None,
               split: str) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of MNIST from the IDX files in ``data_dir``.

    Split rule (thesis 3.4.1): ``train`` = images 0-49,999 of the training file, ``val`` = its
    LAST 10,000 (50,000-59,999), ``test`` = the whole test file.  Nothing is cached on disk.

    Parameters
    ----------
    data_dir : str, os.PathLike or None
        Folder holding the IDX files (or a parent of it); ``None`` uses ``$INTSNN_DATA``.
    split : {"train", "val", "test"}

    Returns
    -------
    images : numpy.ndarray
        uint8, shape (N, 784), values 0..255.
    labels : numpy.ndarray
        int64, shape (N,), values 0..9.

    Raises
    ------
    ValueError
        Unknown split or invalid files.
    FileNotFoundError
        No data directory, or the files are not in it (the message says how to get them).
    """
    images, labels, _ = load_mnist_indexed(data_dir, split)
    return images, labels


def load_mnist_indexed(data_dir: str | os.PathLike | None,
                       split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`load_mnist` plus the indices of the returned samples in their source file.

    Returns
    -------
    images, labels : numpy.ndarray
        As :func:`load_mnist`.
    indices : numpy.ndarray
        int64 positions in the training file (train, val) or the test file (test).
    """
    if split not in SPLITS:
        raise ValueError(f"MNIST split must be one of {SPLITS}, got {split!r}")
    root = resolve_data_dir(data_dir)
    if root is None:
        raise FileNotFoundError("no MNIST data directory: pass data_dir or set INTSNN_DATA "
                                "(or use intsnn.sw.embedded.load_embedded('mnist', split))")
    source = "test" if split == "test" else "train"
    img_name, lab_name = MNIST_FILES[source]
    img_path = find_file(root, (img_name, img_name[:-3]), "mnist")
    lab_path = find_file(root, (lab_name, lab_name[:-3]), "mnist")
    images, labels = read_mnist_pair(img_path, lab_path)
    idx = mnist_split_indices(split, images.shape[0])
    if split == "test":
        return images, labels, idx
    lo, hi = int(idx[0]), int(idx[-1]) + 1
    return images[lo:hi].copy(), labels[lo:hi].copy(), idx
