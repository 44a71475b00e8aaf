"""Build the small real subsets embedded in the package (``intsnn/sw/data/*.npz``) from the real data.

Run ``python -m intsnn.sw.make_subset --data-dir ../shared/data``.  Selection is deterministic
and class-balanced:

* ``mnist_subset.npz``: the first 100 images of each class from the thesis train split
  (training-file indices 0-49,999), the first 20 of each class from the val split (50,000-59,999)
  and the first 50 of each class from the test file: 1,000 / 200 / 500 uint8 images with labels
  and source indices (into the training file for train and val, into the test file for test).
* ``fsdd_subset.npz``: ``fsdd_lauscher`` framed with the thesis defaults (10 frames, groups of 4,
  8-bit counts; ``*_file_saturated`` / ``*_file_max_count`` describe the whole file): train = 10 recordings of every (speaker, digit) of the train file, evenly spread
  over the repetitions (5 x 10 x 10 = 500); test = 10 of every digit of each speaker unseen in
  train (lucas: 100) plus 3 of every (speaker, digit) of the seen speakers (150), 250 in all.

MNIST (LeCun, Cortes, Burges) is distributed under CC BY-SA 3.0; FSDD (Jakobovski et al.) and the
lauscher spikes derived from it under CC BY-SA 4.0.  Both notices are stored in the files.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from .datadir import find_file
from .outputs import check_out_dir, save_npz
from .mnist import MNIST_FILES, mnist_split_indices, read_mnist_pair
from .shd import FRAMING_RULE, load_shd

__all__ = ["DATA_DIR", "pick_per_class", "pick_spread", "build_mnist_subset",
           "build_fsdd_subset", "main"]

#: Folder of the embedded files.
DATA_DIR = Path(__file__).resolve().parent / "data"
MNIST_PER_CLASS = {"train": 100, "val": 20, "test": 50}
FSDD_TRAIN_PER_GROUP, FSDD_TEST_SEEN, FSDD_TEST_UNSEEN = 10, 3, 10


def pick_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Positions of the first ``per_class`` samples of every class, in ascending order.

    Parameters
    ----------
    labels : numpy.ndarray
        int (N,).
    per_class : int

    Returns
    -------
    numpy.ndarray
        int64 sorted positions.
    """
    out = [np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(out)).astype(np.int64)


def pick_spread(positions: np.ndarray, k: int) -> np.ndarray:
    """``k`` entries of ``positions`` evenly spread (``positions[(j * n) // k]``)."""
    n = len(positions)
    if k > n:
        raise ValueError(f"cannot pick {k} of {n} samples")
    return positions[(np.arange(k) * n) // k]


def build_mnist_subset(data_dir: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the embedded MNIST subset (see module docstring).

    Parameters
    ----------
    data_dir : str or os.PathLike
        Folder with the real IDX files.
    out : str or os.PathLike
        Output ``.npz`` path.

    Returns
    -------
    pathlib.Path
    """
    arrays = {}
    for split, k in MNIST_PER_CLASS.items():
        source = "test" if split == "test" else "train"
        paths = [find_file(data_dir, (n, n[:-3]), "mnist") for n in MNIST_FILES[source]]
        images, labels = read_mnist_pair(*paths)
        idx = mnist_split_indices(split, len(labels))
        src = idx[pick_per_class(labels[idx], k)]
        arrays[f"{split}_images"] = images[src]
        arrays[f"{split}_labels"] = labels[src].astype(np.int64)
        arrays[f"{split}_indices"] = src.astype(np.int64)
    out = Path(out)
    save_npz(
        out, compressed=True, **arrays,
        description=np.array("MNIST subset: train/val from the training file (val = its last "
                             "10,000), test from the test file; indices are into those files"),
        license=np.array("MNIST by Y. LeCun, C. Cortes, C.J.C. Burges; CC BY-SA 3.0"))
    return out


def build_fsdd_subset(data_dir: str | os.PathLike, out: str | os.PathLike,
                      name: str = "fsdd_lauscher") -> Path:
    """Write the embedded framed ``fsdd_lauscher`` subset (see module docstring).

    Parameters
    ----------
    data_dir : str or os.PathLike
        Folder with ``<name>_train.h5`` and ``<name>_test.h5``.
    out : str or os.PathLike
        Output ``.npz`` path.
    name : str
        SHD-format data set name.

    Returns
    -------
    pathlib.Path
    """
    import h5py

    arrays, seen = {}, None
    for split in ("train", "test"):
        x, y, meta = load_shd(data_dir, split, name=name, frames=10, groups=4, input_bits=8)
        spk = meta["speaker"]
        seen = set(np.unique(spk).tolist()) if split == "train" else seen
        picks = []
        for s in np.unique(spk):
            k = FSDD_TRAIN_PER_GROUP if split == "train" else (
                FSDD_TEST_SEEN if s in seen else FSDD_TEST_UNSEEN)
            for c in range(meta["n_classes"]):
                picks.append(pick_spread(np.flatnonzero((spk == s) & (y == c)), k))
        pos = np.sort(np.concatenate(picks)).astype(np.int64)
        with h5py.File(meta["path"], "r") as fh:
            fn = fh["extra/filename"][()] if "extra/filename" in fh else None
        arrays[f"{split}_frames"] = x[pos]
        arrays[f"{split}_labels"] = y[pos]
        arrays[f"{split}_speaker"] = spk[pos]
        arrays[f"{split}_indices"] = pos
        arrays[f"{split}_file_saturated"] = np.int64(meta["saturated"])
        arrays[f"{split}_file_max_count"] = np.int64(meta["max_count"])
        if fn is not None:
            arrays[f"{split}_filename"] = np.array([f.decode() for f in fn[pos]])
        arrays["label_names"] = np.array(meta.get("label_names") or [], dtype=str)
    out = Path(out)
    save_npz(
        out, compressed=True, **arrays, name=np.array(name), n_classes=np.int64(meta["n_classes"]), frames=np.int64(10),
        groups=np.int64(4), input_bits=np.int64(8), framing=np.array(FRAMING_RULE),
        description=np.array(f"{name} subset framed as (N, 10, 175) uint8 counts; indices are "
                             "into the train/test files"),
        license=np.array("derived from the Free Spoken Digit Dataset (Jakobovski et al.), "
                         "CC BY-SA 4.0; spikes by lauscher 1.0.1"))
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: rebuild both embedded subsets from ``--data-dir``."""
    from .argtypes import HelpFormatter
    from .command import run_command
    ap = argparse.ArgumentParser(prog="python -m intsnn.sw.make_subset",
                                 description=__doc__.splitlines()[0],
                                 formatter_class=HelpFormatter)
    ap.add_argument("--data-dir", required=True, help="folder with the real data (or parent)")
    ap.add_argument("--out-dir", default=str(DATA_DIR), help="where the .npz files go")
    args = ap.parse_args(argv)

    def body() -> int:
        out_dir = check_out_dir(args.out_dir, "--out-dir")
        for p in (build_mnist_subset(args.data_dir, out_dir / "mnist_subset.npz"),
                  build_fsdd_subset(args.data_dir, out_dir / "fsdd_subset.npz")):
            print(f"{p}: {p.stat().st_size} bytes")
        return 0

    return run_command("python -m intsnn.sw.make_subset", body)


if __name__ == "__main__":
    raise SystemExit(main())
