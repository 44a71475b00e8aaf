"""Where the real data sets live: resolving the data directory and finding files in it.

A data directory is any folder that holds the downloaded files, either directly or in one of its
immediate subfolders, so both ``../shared/data`` and ``../shared/data/mnist`` work.  When no
directory is given and ``INTSNN_DATA`` is unset, callers fall back to the small real subset that
ships with the package (:mod:`intsnn.sw.embedded`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ENV_VAR", "EMBEDDED", "resolve_data_dir", "candidate_dirs", "find_file",
           "how_to_get"]

#: Environment variable naming the default data directory.
ENV_VAR = "INTSNN_DATA"
#: Pass as ``data_dir`` to use the embedded subset whatever ``$INTSNN_DATA`` says (``intsnn demo``).
EMBEDDED = ":embedded:"

_HOW_TO_GET = {
    "mnist": (
        "MNIST needs the four standard IDX files train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz "
        "(gzipped or not) from the MNIST distribution; torchvision keeps exactly these files in "
        "<root>/MNIST/raw/ after `torchvision.datasets.MNIST(root, download=True)`."
    ),
    "shd": (
        "SHD needs shd_train.h5 and shd_test.h5 from the Zenke lab's 'Heidelberg spiking data "
        "sets' page (https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/); any "
        "<name>_train.h5 / <name>_test.h5 pair in the same HDF5 layout (spikes/times, "
        "spikes/units, labels) is read the same way, e.g. fsdd_lauscher_train.h5 / "
        "fsdd_lauscher_test.h5."
    ),
}


def how_to_get(dataset_hint: str) -> str:
    """One sentence telling a user how to obtain the files of a data set.

    Parameters
    ----------
    dataset_hint : str
        ``"mnist"`` or ``"shd"`` (case-insensitive); anything else gives a generic sentence.

    Returns
    -------
    str
    """
    return _HOW_TO_GET.get(str(dataset_hint).lower(),
                           f"Download the {dataset_hint} files into the data directory.")


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """Pick the data directory: the explicit argument, else ``$INTSNN_DATA``, else ``None``.

    Parameters
    ----------
    data_dir : str, os.PathLike or None
        Directory given by the caller.  ``None`` defers to the environment (an empty
        ``$INTSNN_DATA`` counts as unset); :data:`EMBEDDED` means the embedded subset.

    Returns
    -------
    pathlib.Path or None
        The directory, or ``None`` meaning "use the embedded real subset".

    Raises
    ------
    FileNotFoundError
        If a directory was named (argument or environment) but is not an existing folder.
    ValueError
        If ``data_dir`` is an empty string (a mistake, not a request for the default).
    """
    origin = "data_dir argument"
    if isinstance(data_dir, str) and data_dir == EMBEDDED:
        return None
    if data_dir is not None and str(data_dir).strip() == "":
        raise ValueError("the data directory is an empty string: name a folder, or pass None "
                         "to use $INTSNN_DATA or the embedded subset")
    if data_dir is None:
        env = os.environ.get(ENV_VAR, "")
        if env == "":
            return None
        data_dir, origin = env, f"environment variable {ENV_VAR}"
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"data directory {str(path)!r} (from the {origin}) does not exist or is not a folder")
    return path


def candidate_dirs(data_dir: str | os.PathLike) -> list[Path]:
    """Folders searched for data files: ``data_dir``, its immediate subfolders, ``MNIST/raw``.

    Parameters
    ----------
    data_dir : str or os.PathLike
        Root folder.

    Returns
    -------
    list of pathlib.Path
        ``data_dir`` first, then its subfolders in sorted order, then torchvision's
        ``MNIST/raw`` if present (so a torchvision root works too).
    """
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {str(root)!r} does not exist or is not a folder")
    dirs = [root] + sorted(p for p in root.iterdir() if p.is_dir())
    raw = root / "MNIST" / "raw"
    if raw.is_dir():
        dirs.append(raw)
    return dirs


def find_file(data_dir: str | os.PathLike, filename: str | Sequence[str],
              dataset_hint: str) -> Path:
    """Find a data file in ``data_dir`` or one of its immediate subfolders.

    Parameters
    ----------
    data_dir : str or os.PathLike
        Root folder (see :func:`candidate_dirs` for what is searched).
    filename : str or sequence of str
        File name, or alternative names tried in order within each folder
        (e.g. ``("x.gz", "x")``).
    dataset_hint : str
        ``"mnist"`` or ``"shd"``: selects the "how to get it" advice of the error message.

    Returns
    -------
    pathlib.Path
        The first match (folders in :func:`candidate_dirs` order).

    Raises
    ------
    FileNotFoundError
        Naming the missing file, every folder searched and how to obtain the file.
    """
    names = [filename] if isinstance(filename, (str, os.PathLike)) else list(filename)
    dirs = candidate_dirs(data_dir)
    for d in dirs:
        for name in names:
            p = d / name
            if p.is_file():
                return p
    wanted = " or ".join(repr(str(n)) for n in names)
    searched = ", ".join(str(d) for d in dirs)
    raise FileNotFoundError(
        f"{wanted} not found; searched: {searched}. {how_to_get(dataset_hint)}")
