"""Spiking Heidelberg Digits layout reader and the thesis' frame binning (thesis 3.4.2).

Any ``<name>_train.h5`` / ``<name>_test.h5`` pair with SHD's HDF5 layout is read:

* ``spikes/times``  (N,) variable-length float16, spike times in seconds;
* ``spikes/units``  (N,) variable-length uint16, channel 0..699;
* ``labels``        (N,) integer class;
* ``extra/speaker`` (N,) optional, kept in the returned ``meta``.

Framing (thesis: "the spike events are aggregated into 10 uniform time frames per sample, with
each frame summing the spike counts for every channel ... the 700 channels are further grouped
into sets of 4"): **per sample**, frames are uniform over ``[0, t_max]`` with ``t_max`` that
sample's last spike time.  Times are cast float16 -> float32 first and the frame of a spike is
``min(floor(t / t_max * frames), frames - 1)`` computed in float32 (so the last spike lands in the
last frame); a sample whose ``t_max`` is 0 puts every spike in frame 0.  Channel ``u`` goes to
group ``u // groups``.  Counts are integers (not clipped to 1) saturated at
``2**input_bits - 1``; ``meta["saturated"]`` says how many (sample, frame, group) cells hit the
cap and ``meta["max_count"]`` is the largest count before saturation.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .datadir import candidate_dirs, find_file, how_to_get, resolve_data_dir

__all__ = ["N_CHANNELS", "SHD_SPLITS", "FRAMING_RULE", "find_shd", "read_shd_file",
           "frame_spikes", "load_shd"]

#: Cochlea channels of the SHD layout.
N_CHANNELS = 700
SHD_SPLITS = ("train", "test")
FRAMING_RULE = ("per-sample uniform frames over [0, last spike time]; "
                "frame = min(floor(float32(t) / t_max * frames), frames - 1); t_max = 0 -> frame 0")


def find_shd(data_dir: str | os.PathLike, name: str | None = None) -> tuple[str, Path, Path]:
    """Locate a ``<name>_train.h5`` + ``<name>_test.h5`` pair in ``data_dir`` or a subfolder.

    Parameters
    ----------
    data_dir : str or os.PathLike
        Root folder (searched with its immediate subfolders).
    name : str, optional
        Data set name (``"shd"``, ``"fsdd_lauscher"``, ...).  ``None`` prefers ``shd``, else the
        single other pair found.

    Returns
    -------
    name : str
    train_path, test_path : pathlib.Path
        Both files sit in the same folder.

    Raises
    ------
    FileNotFoundError
        No (complete) pair; the message says where it looked and how to get SHD.
    ValueError
        Several non-``shd`` pairs and no ``name`` to choose between them.
    """
    if name is not None:
        train = find_file(data_dir, f"{name}_train.h5", "shd")
        test = train.with_name(f"{name}_test.h5")
        if not test.is_file():
            test = find_file(data_dir, f"{name}_test.h5", "shd")
        return name, train, test
    pairs: dict[str, tuple[Path, Path]] = {}
    lonely: list[str] = []
    dirs = candidate_dirs(data_dir)
    for d in dirs:
        for train in sorted(d.glob("*_train.h5")):
            nm = train.name[: -len("_train.h5")]
            test = d / f"{nm}_test.h5"
            if test.is_file():
                pairs.setdefault(nm, (train, test))
            else:
                lonely.append(str(train))
    if "shd" in pairs:
        return ("shd",) + pairs["shd"]
    if len(pairs) == 1:
        nm = next(iter(pairs))
        return (nm,) + pairs[nm]
    if len(pairs) > 1:
        raise ValueError(f"several SHD-format data sets in {data_dir}: {sorted(pairs)}; "
                         "pass name= to choose one")
    extra = f" (found {', '.join(lonely)} without its _test.h5)" if lonely else ""
    raise FileNotFoundError(
        f"no <name>_train.h5 + <name>_test.h5 pair found{extra}; searched: "
        f"{', '.join(str(d) for d in dirs)}. {how_to_get('shd')}")


def read_shd_file(path: str | os.PathLike) -> dict:
    """Read and validate one SHD-layout HDF5 file (raw events, no binning).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict
        ``times`` float32 (S,) all spikes concatenated, ``units`` int64 (S,),
        ``lengths`` int64 (N,) spikes per sample, ``labels`` int64 (N,), ``speaker`` int64 (N,)
        or None, ``label_names`` list of str or None (from ``extra/keys``).

    Raises
    ------
    FileNotFoundError
        Missing file.
    ValueError
        Not HDF5, missing dataset, lengths that disagree, units outside 0..699, negative,
        non-finite or negative times, negative labels, no samples.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SHD file {str(path)!r} does not exist")
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from exc
    with fh:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in fh or not isinstance(fh[key], h5py.Dataset):
                raise ValueError(f"{path}: missing dataset {key!r} (SHD layout needs "
                                 "spikes/times, spikes/units and labels)")
        times_v, units_v = fh["spikes/times"][()], fh["spikes/units"][()]
        labels = np.asarray(fh["labels"][()])
        speaker = (np.asarray(fh["extra/speaker"][()]).astype(np.int64)
                   if "extra/speaker" in fh else None)
        names = ([k.decode() if isinstance(k, bytes) else str(k) for k in fh["extra/keys"][()]]
                 if "extra/keys" in fh else None)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: labels must be a 1-d integer dataset, got shape "
                         f"{labels.shape} dtype {labels.dtype}")
    n = len(labels)
    if len(times_v) != n or len(units_v) != n:
        raise ValueError(f"{path}: lengths disagree: spikes/times has {len(times_v)} samples, "
                         f"spikes/units {len(units_v)}, labels {n}")
    if speaker is not None and speaker.shape != (n,):
        raise ValueError(f"{path}: extra/speaker has shape {speaker.shape}, expected ({n},)")
    if n == 0:
        raise ValueError(f"{path}: the file holds no samples")
    lengths = np.fromiter((np.size(t) for t in times_v), dtype=np.int64, count=n)
    ulen = np.fromiter((np.size(u) for u in units_v), dtype=np.int64, count=n)
    bad = np.flatnonzero(lengths != ulen)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{path}: sample {i} has {lengths[i]} spike times but {ulen[i]} units "
                         f"({bad.size} samples disagree)")
    times = np.concatenate([np.ravel(t) for t in times_v]).astype(np.float32)
    units = np.concatenate([np.ravel(u) for u in units_v]).astype(np.int64)
    if units.size and (units.min() < 0 or units.max() >= N_CHANNELS):
        j = int(np.flatnonzero((units < 0) | (units >= N_CHANNELS))[0])
        i = int(np.searchsorted(np.cumsum(lengths), j, side="right"))
        raise ValueError(f"{path}: unit {int(units[j])} in sample {i} is outside 0..{N_CHANNELS - 1}")
    if times.size and not (np.isfinite(times).all() and times.min() >= 0):
        raise ValueError(f"{path}: spike times must be finite and >= 0")
    if labels.min() < 0:
        raise ValueError(f"{path}: negative label {int(labels.min())}")
    return {"times": times, "units": units, "lengths": lengths,
            "labels": labels.astype(np.int64), "speaker": speaker, "label_names": names}


def frame_spikes(times: np.ndarray, units: np.ndarray, lengths: np.ndarray, frames: int = 10,
                 groups: int = 4, input_bits: int = 8) -> tuple[np.ndarray, dict]:
    """Bin concatenated spike events into per-sample frame counts (see module docstring).

    Parameters
    ----------
    times : numpy.ndarray
        float32 (S,) spike times of all samples, concatenated.
    units : numpy.ndarray
        int (S,) channels 0..699.
    lengths : numpy.ndarray
        int (N,) spikes per sample (sums to S).
    frames : int
        Time frames per sample (thesis: 10).
    groups : int
        Adjacent channels summed together (thesis: 4); must divide 700.
    input_bits : int
        Counts saturate at ``2**input_bits - 1`` (1..16).

    Returns
    -------
    counts : numpy.ndarray
        (N, frames, 700 // groups), uint8 if ``input_bits <= 8`` else uint16.
    stats : dict
        ``saturated`` (cells that hit the cap), ``max_count`` (before saturation),
        ``t_max`` float32 (N,) last spike time per sample.
    """
    frames, groups, input_bits = int(frames), int(groups), int(input_bits)
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if groups < 1 or N_CHANNELS % groups:
        raise ValueError(f"groups must divide {N_CHANNELS}, got {groups}")
    if not 1 <= input_bits <= 16:
        raise ValueError(f"input_bits must be in 1..16, got {input_bits}")
    lengths = np.asarray(lengths, dtype=np.int64)
    times = np.asarray(times, dtype=np.float32)
    n, n_groups = lengths.size, N_CHANNELS // groups
    if times.shape != (int(lengths.sum()),) or np.shape(units) != times.shape:
        raise ValueError("times and units must both hold sum(lengths) events")
    t_max = np.zeros(n, dtype=np.float32)
    nonempty = lengths > 0
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    if times.size:
        t_max[nonempty] = np.maximum.reduceat(times, starts[nonempty])
    denom = np.repeat(np.where(t_max > 0, t_max, np.float32(1)), lengths)
    frame = np.floor(times / denom * np.float32(frames)).astype(np.int64)
    np.minimum(frame, frames - 1, out=frame)
    sample = np.repeat(np.arange(n, dtype=np.int64), lengths)
    flat = (sample * frames + frame) * n_groups + np.asarray(units, dtype=np.int64) // groups
    counts = np.bincount(flat, minlength=n * frames * n_groups).reshape(n, frames, n_groups)
    cap = (1 << input_bits) - 1
    max_count = int(counts.max()) if counts.size else 0
    saturated = int(np.count_nonzero(counts > cap))
    np.minimum(counts, cap, out=counts)
    out = counts.astype(np.uint8 if input_bits <= 8 else np.uint16)
    return out, {"saturated": saturated, "max_count": max_count, "t_max": t_max}


def load_shd(data_dir: str | os.PathLike | None, split: str, name: str | None = None,
             frames: int = 10, groups: int = 4,
             input_bits: int = 8) -> tuple[np.ndarray, np.ndarray, dict]:
    """Load one split of an SHD-format data set as frame counts (thesis 3.4.2).

    Parameters
    ----------
    data_dir : str, os.PathLike or None
        Folder holding the pair (or a parent of it); ``None`` uses ``$INTSNN_DATA``.
    split : {"train", "test"}
        SHD has no validation split.
    name : str, optional
        Data set name; see :func:`find_shd`.
    frames, groups, input_bits : int
        See :func:`frame_spikes`.

    Returns
    -------
    counts : numpy.ndarray
        (N, frames, 700 // groups) uint8 (uint16 if ``input_bits > 8``) spike counts.
    labels : numpy.ndarray
        int64 (N,), 0..n_classes-1.
    meta : dict
        ``name``, ``split``, ``path``, ``n_classes`` (max label + 1), ``frames``, ``groups``,
        ``input_bits``, ``framing``, ``saturated``, ``max_count``, ``t_max``, ``n_spikes``,
        ``indices`` (0..N-1), ``speaker`` (if in the file), ``label_names`` (if in the file).

    Raises
    ------
    ValueError
        Bad split or parameters, an invalid file, or labels not covering 0..max.
    FileNotFoundError
        No data directory or no pair in it.
    """
    if split not in SHD_SPLITS:
        raise ValueError(f"SHD split must be one of {SHD_SPLITS}, got {split!r} "
                         "(SHD-format data sets have no validation split)")
    root = resolve_data_dir(data_dir)
    if root is None:
        raise FileNotFoundError("no SHD data directory: pass data_dir or set INTSNN_DATA "
                                "(or use intsnn.sw.embedded.load_embedded('shd', split))")
    name, train_path, test_path = find_shd(root, name)
    path = train_path if split == "train" else test_path
    raw = read_shd_file(path)
    labels = raw["labels"]
    n_classes = int(labels.max()) + 1
    missing = np.setdiff1d(np.arange(n_classes), labels)
    if missing.size:
        raise ValueError(f"{path}: labels must cover 0..{n_classes - 1}, but classes "
                         f"{missing.tolist()} never occur")
    counts, stats = frame_spikes(raw["times"], raw["units"], raw["lengths"], frames, groups,
                                 input_bits)
    meta = {"dataset": "shd", "name": name, "split": split, "path": str(path),
            "n_classes": n_classes, "frames": int(frames), "groups": int(groups),
            "input_bits": int(input_bits), "framing": FRAMING_RULE, **stats,
            "n_spikes": raw["lengths"], "indices": np.arange(len(labels), dtype=np.int64)}
    if raw["speaker"] is not None:
        meta["speaker"] = raw["speaker"]
    if raw["label_names"] is not None:
        meta["label_names"] = raw["label_names"]
    return counts, labels, meta
