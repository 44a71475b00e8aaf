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

A file is read, checked and binned :data:`CHUNK_SAMPLES` samples at a time
(:func:`bin_shd_file`), so memory does not grow with the number of events (SHD's training file
holds ~9 M).  Spike times far beyond the rest of their file or sample are refused
(:func:`check_spike_times`) because per-sample framing would squash such a sample into frame 0.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .datadir import candidate_dirs, find_file, how_to_get, resolve_data_dir

__all__ = ["N_CHANNELS", "SHD_SPLITS", "FRAMING_RULE", "CHUNK_SAMPLES", "OUTLIER_FACTOR",
           "find_shd", "read_shd_file", "bin_shd_file", "check_spike_times", "frame_spikes",
           "load_shd"]

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
                         "choose one with --data-name NAME (name= in Python)")
    extra = f" (found {', '.join(lonely)} without its _test.h5)" if lonely else ""
    raise FileNotFoundError(
        f"no <name>_train.h5 + <name>_test.h5 pair found{extra}; searched: "
        f"{', '.join(str(d) for d in dirs)}. {how_to_get('shd')}")


#: Samples read, checked and binned at a time: bounds the memory of :func:`load_shd`
#: (about 30 MB of temporaries for SHD's ~4,000 spikes per sample) independently of the file.
CHUNK_SAMPLES = 256
#: A sample's last spike this many times later than the file's median sample length, or than
#: the sample's own previous spike, is refused (see :func:`check_spike_times`).
OUTLIER_FACTOR = 20
#: Rule 2 of :func:`check_spike_times` applies to samples with at least this many spikes.
OUTLIER_MIN_SPIKES = 10


def _open_checked(path: Path):
    """Open ``path`` and check the layout; returns (h5py file, labels, speaker, names)."""
    import h5py

    if not path.is_file():
        raise FileNotFoundError(f"SHD file {str(path)!r} does not exist")
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from exc
    try:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in fh or not isinstance(fh[key], h5py.Dataset):
                raise ValueError(f"{path}: missing dataset {key!r} (SHD layout needs "
                                 "spikes/times, spikes/units and labels)")
        labels = np.asarray(fh["labels"][()])
        speaker = (np.asarray(fh["extra/speaker"][()]).astype(np.int64)
                   if "extra/speaker" in fh else None)
        names = ([k.decode() if isinstance(k, bytes) else str(k) for k in fh["extra/keys"][()]]
                 if "extra/keys" in fh else None)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{path}: labels must be a 1-d integer dataset, got shape "
                             f"{labels.shape} dtype {labels.dtype}")
        n = len(labels)
        nt, nu = len(fh["spikes/times"]), len(fh["spikes/units"])
        if nt != n or nu != n:
            raise ValueError(f"{path}: lengths disagree: spikes/times has {nt} samples, "
                             f"spikes/units {nu}, labels {n}")
        if speaker is not None and speaker.shape != (n,):
            raise ValueError(f"{path}: extra/speaker has shape {speaker.shape}, expected ({n},)")
        if n == 0:
            raise ValueError(f"{path}: the file holds no samples")
        if labels.min() < 0:
            raise ValueError(f"{path}: negative label {int(labels.min())}")
    except BaseException:
        fh.close()
        raise
    return fh, labels.astype(np.int64), speaker, names


def _read_chunk(fh, path: Path, i0: int, i1: int):
    """Samples ``i0..i1-1``: (times float32, units int32, lengths int64), validated."""
    times_v, units_v = fh["spikes/times"][i0:i1], fh["spikes/units"][i0:i1]
    lengths = np.fromiter((np.size(t) for t in times_v), dtype=np.int64, count=i1 - i0)
    ulen = np.fromiter((np.size(u) for u in units_v), dtype=np.int64, count=i1 - i0)
    bad = np.flatnonzero(lengths != ulen)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{path}: sample {i0 + i} has {lengths[i]} spike times but {ulen[i]} "
                         f"units")
    if lengths.sum() == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int32), lengths
    times = np.concatenate([np.ravel(t) for t in times_v]).astype(np.float32)
    units = np.concatenate([np.ravel(u) for u in units_v]).astype(np.int32)
    del times_v, units_v
    if units.min() < 0 or units.max() >= N_CHANNELS:
        j = int(np.flatnonzero((units < 0) | (units >= N_CHANNELS))[0])
        i = int(np.searchsorted(np.cumsum(lengths), j, side="right"))
        raise ValueError(f"{path}: unit {int(units[j])} in sample {i0 + i} is outside "
                         f"0..{N_CHANNELS - 1}")
    if not (np.isfinite(times).all() and times.min() >= 0):
        j = int(np.flatnonzero(~np.isfinite(times) | (times < 0))[0])
        i = int(np.searchsorted(np.cumsum(lengths), j, side="right"))
        raise ValueError(f"{path}: spike time {times[j]} in sample {i0 + i}: times must be "
                         "finite and >= 0")
    return times, units, lengths


def _last_two(times: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: the last spike time and the latest time of the *other* spikes (0 if none)."""
    n = lengths.size
    t_max, t_prev = np.zeros(n, np.float32), np.zeros(n, np.float32)
    nonempty = lengths > 0
    if not times.size:
        return t_max, t_prev
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))[nonempty]
    t_max[nonempty] = np.maximum.reduceat(times, starts)
    is_max = times == np.repeat(t_max, lengths)
    n_max = np.add.reduceat(is_max.astype(np.int64), starts)
    others = np.maximum.reduceat(np.where(is_max, np.float32(-1), times), starts)
    t_prev[nonempty] = np.where(n_max >= 2, t_max[nonempty], np.maximum(others, 0))
    return t_max, t_prev


def check_spike_times(path, t_max: np.ndarray, t_prev: np.ndarray, lengths: np.ndarray) -> None:
    """Refuse spike times far beyond the recording.

    Framing is per sample over ``[0, t_max]`` (thesis 3.4.2), so one spike far after the rest
    (a corrupt time, such as 60000 s in a 1 s recording) would squash the whole sample into the
    first frame.  Refused, naming the sample:

    1. a sample whose last spike is more than :data:`OUTLIER_FACTOR` times the median last-spike
       time of the file's non-empty samples (at least 3 of them);
    2. a sample of at least :data:`OUTLIER_MIN_SPIKES` spikes whose last spike is more than
       :data:`OUTLIER_FACTOR` times later than its previous one.

    On ``fsdd_lauscher`` the largest ratios are 5.7 (rule 1) and ~1 (rule 2).
    """
    f = OUTLIER_FACTOR
    nonempty = lengths > 0
    if np.count_nonzero(nonempty) >= 3:
        med = float(np.median(t_max[nonempty]))
        bad = np.flatnonzero(nonempty & (t_max > f * med))
        if med > 0 and bad.size:
            i = int(bad[np.argmax(t_max[bad])])
            raise ValueError(
                f"{path}: sample {i} has a spike at {float(t_max[i]):g} s, "
                f"{float(t_max[i]) / med:,.0f}x the median sample length of the file "
                f"({med:.3g} s; {bad.size} such sample(s)); framing over [0, last spike] would "
                "squash the rest of the sample into the first frame: fix or drop the sample")
    bad = np.flatnonzero((lengths >= OUTLIER_MIN_SPIKES) & (t_max > f * t_prev))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{path}: sample {i} has its last spike at {float(t_max[i]):g} s but all its other "
            f"{int(lengths[i]) - 1} spikes by {float(t_prev[i]):g} s; framing over [0, last "
            "spike] would squash them into the first frame: fix or drop the spike")


def read_shd_file(path: str | os.PathLike) -> dict:
    """Read and validate one SHD-layout HDF5 file (raw events, no binning).

    :func:`load_shd` does not call this (it bins the file a chunk at a time); it is for tools
    that need the events themselves.

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
        non-finite or negative times, spike times far beyond the recording
        (:func:`check_spike_times`), negative labels, no samples.
    """
    path = Path(path)
    fh, labels, speaker, names = _open_checked(path)
    with fh:
        parts = [_read_chunk(fh, path, i0, min(len(labels), i0 + CHUNK_SAMPLES))
                 for i0 in range(0, len(labels), CHUNK_SAMPLES)]
    times = np.concatenate([p[0] for p in parts])
    units = np.concatenate([p[1] for p in parts]).astype(np.int64)
    lengths = np.concatenate([p[2] for p in parts])
    check_spike_times(path, *_last_two(times, lengths), lengths)
    return {"times": times, "units": units, "lengths": lengths, "labels": labels,
            "speaker": speaker, "label_names": names}


def bin_shd_file(path: str | os.PathLike, frames: int = 10, groups: int = 4,
                 input_bits: int = 8, chunk: int = CHUNK_SAMPLES) -> tuple[np.ndarray, dict]:
    """Read, validate and frame one SHD-layout file ``chunk`` samples at a time.

    Gives exactly :func:`frame_spikes` of :func:`read_shd_file`'s events (framing is per sample)
    while holding only one chunk of events in memory.

    Returns
    -------
    counts : numpy.ndarray
        (N, frames, 700 // groups), uint8 if ``input_bits <= 8`` else uint16.
    info : dict
        ``labels``, ``speaker``, ``label_names``, ``lengths`` (spikes per sample) and the
        :func:`frame_spikes` statistics ``saturated``, ``max_count``, ``t_max``.
    """
    path = Path(path)
    _check_framing(frames, groups, input_bits)
    fh, labels, speaker, names = _open_checked(path)
    n = len(labels)
    counts = np.zeros((n, int(frames), N_CHANNELS // int(groups)),
                      np.uint8 if input_bits <= 8 else np.uint16)
    lengths = np.zeros(n, np.int64)
    t_max, t_prev = np.zeros(n, np.float32), np.zeros(n, np.float32)
    saturated = max_count = 0
    with fh:
        for i0 in range(0, n, int(chunk)):
            i1 = min(n, i0 + int(chunk))
            times, units, lens = _read_chunk(fh, path, i0, i1)
            c, st = frame_spikes(times, units, lens, frames, groups, input_bits)
            counts[i0:i1] = c
            lengths[i0:i1] = lens
            t_max[i0:i1], t_prev[i0:i1] = _last_two(times, lens)
            saturated += st["saturated"]
            max_count = max(max_count, st["max_count"])
    check_spike_times(path, t_max, t_prev, lengths)
    return counts, {"labels": labels, "speaker": speaker, "label_names": names,
                    "lengths": lengths, "saturated": saturated, "max_count": max_count,
                    "t_max": t_max}


def _check_framing(frames: int, groups: int, input_bits: int) -> None:
    if int(frames) < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if int(groups) < 1 or N_CHANNELS % int(groups):
        raise ValueError(f"groups must divide {N_CHANNELS}, got {groups}")
    if not 1 <= int(input_bits) <= 16:
        raise ValueError(f"input_bits must be in 1..16, got {input_bits}")


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
    _check_framing(frames, groups, input_bits)
    frames, groups, input_bits = int(frames), int(groups), int(input_bits)
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
    del denom
    np.minimum(frame, frames - 1, out=frame)
    flat = np.repeat(np.arange(n, dtype=np.int64) * frames, lengths)
    flat += frame
    del frame
    flat *= n_groups
    flat += np.asarray(units) // groups
    counts = np.bincount(flat, minlength=n * frames * n_groups).reshape(n, frames, n_groups)
    del flat
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
    counts, info = bin_shd_file(path, frames, groups, input_bits)
    labels = info["labels"]
    n_classes = int(labels.max()) + 1
    if split == "train":  # the training split defines the classes; test may lack some
        missing = np.setdiff1d(np.arange(n_classes), labels)
        if missing.size:
            raise ValueError(f"{path}: labels must cover 0..{n_classes - 1}, but classes "
                             f"{missing.tolist()} never occur")
    meta = {"dataset": "shd", "name": name, "split": split, "path": str(path),
            "n_classes": n_classes, "frames": int(frames), "groups": int(groups),
            "input_bits": int(input_bits), "framing": FRAMING_RULE,
            "saturated": info["saturated"], "max_count": info["max_count"],
            "t_max": info["t_max"], "n_spikes": info["lengths"],
            "indices": np.arange(len(labels), dtype=np.int64)}
    if info["speaker"] is not None:
        meta["speaker"] = info["speaker"]
    if info["label_names"] is not None:
        meta["label_names"] = info["label_names"]
    return counts, labels, meta
