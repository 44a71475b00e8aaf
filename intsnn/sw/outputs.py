"""Output files of every command: checked before the work, written atomically, one run per folder.

Every ``intsnn`` command (and every ``python -m intsnn...`` script) follows three rules:

1. **Check first.**  :func:`check_out_dir` / :func:`check_out_file` run before any work and raise
   :class:`OutputError` (one line naming the option and the path) for an existing file given as a
   folder, ``<file>/sub``, a read-only or unwritable place.  They prove writability by creating
   and removing a probe file, because ``os.access`` says yes to root on a read-only bind mount.
2. **Write atomically.**  :func:`write_json`, :func:`write_text`, :func:`save_npz` and the
   :func:`atomic_path` context manager write a temporary file in the target folder and rename it
   over the target, so a reader (or a resumed run) sees the old file or the new one, never half
   of one; an interrupted write leaves nothing behind.  ``fsync=True`` (the default) flushes the
   file and the folder entry, so a checkpoint survives a power cut.
3. **One run per folder.**  :func:`run_lock` takes an exclusive ``flock`` on ``<folder>/.intsnn.lock``
   for the duration of a run; a second run into the same folder fails at once with the pid of
   the first.  The lock dies with its process, so a killed run never leaves the folder locked.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OutputError", "check_out_dir", "check_out_file", "atomic_path", "write_json",
           "write_text", "write_bytes", "save_npz", "run_lock", "supersede", "LOCK_NAME"]

#: Lock file of :func:`run_lock` inside an output folder.
LOCK_NAME = ".intsnn.lock"

# Temporary files are created 0600 by mkstemp; the renamed result gets the usual mode instead.
_UMASK = os.umask(0)
os.umask(_UMASK)


class OutputError(Exception):
    """An output cannot be written; ``str(exc)`` is one line naming the option and the path."""


def _why(exc: OSError) -> str:
    if isinstance(exc, FileExistsError) or exc.errno == errno.EEXIST:
        return "a file of that name exists"
    if isinstance(exc, NotADirectoryError) or exc.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a folder"
    return (exc.strerror or str(exc)).rstrip(".").lower()


def _label(option: str | None, path: Path) -> str:
    return f"{option} {path}" if option else str(path)


def check_out_dir(path: str | os.PathLike, option: str | None = "--out") -> Path:
    """Create the output folder ``path`` if needed and prove that files can be written in it.

    Parameters
    ----------
    path : str or os.PathLike
        The folder.
    option : str, optional
        The command-line option that named it (used in the message), e.g. ``"--build-dir"``.

    Returns
    -------
    pathlib.Path
        The folder (``~`` expanded).

    Raises
    ------
    OutputError
        One line: ``cannot write to --out PATH: <reason>``.
    """
    p = Path(path).expanduser()
    if str(path) == "":
        raise OutputError(f"{option or 'output folder'} is empty: name a folder")
    if p.exists() and not p.is_dir():
        raise OutputError(f"cannot write to {_label(option, p)}: it is a file, not a folder")
    for up in p.parents:
        if up.exists():
            if not up.is_dir():
                raise OutputError(f"cannot write to {_label(option, p)}: {up} is a file, "
                                  "not a folder")
            break
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".intsnn-probe-", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write to {_label(option, p)}: {_why(exc)}") from None
    return p


def check_out_file(path: str | os.PathLike, option: str | None = "--out") -> Path:
    """Check that the file ``path`` can be (re)written atomically: its folder is created if
    needed and must accept new files; ``path`` itself must not be a folder.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputError
        One line naming ``option`` and ``path``.
    """
    p = Path(path).expanduser()
    if str(path) == "":
        raise OutputError(f"{option or 'output file'} is empty: name a file")
    if p.is_dir():
        raise OutputError(f"cannot write to {_label(option, p)}: it is a folder, not a file")
    try:
        check_out_dir(p.parent, None)
    except OutputError as exc:
        why = str(exc).split(": ", 1)[-1].replace("it is a file", f"{p.parent} is a file")
        raise OutputError(f"cannot write to {_label(option, p)}: {why}") from None
    return p


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    The temporary name keeps ``path``'s suffix last (``.report.json.1a2b.tmp.json``), so writers
    that pick a format from the extension (``savefig``, ``np.savez``) behave.  On any exception,
    including ``KeyboardInterrupt``, the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix,
                                    dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)
        if fsync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if fsync:
            _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, fsync: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode(), fsync)


def _jsonable(o: Any):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (Path, os.PathLike)):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def write_json(path: str | os.PathLike, obj: Any, fsync: bool = True, indent: int | None = 1,
               default=None) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (numpy scalars and arrays become numbers and
    lists, paths strings; ``default`` handles anything else, as in ``json.dumps``)."""

    def conv(o):
        try:
            return _jsonable(o)
        except TypeError:
            if default is None:
                raise
            return default(o)

    return write_text(path, json.dumps(obj, indent=indent, default=conv) + "\n", fsync)


def save_npz(path: str | os.PathLike, fsync: bool = True, compressed: bool = False,
             **arrays) -> Path:
    """``np.savez`` (or ``savez_compressed``) to ``path`` atomically."""
    save = np.savez_compressed if compressed else np.savez
    with atomic_path(path, fsync) as tmp:
        with open(tmp, "wb") as fh:
            save(fh, **arrays)
    return Path(path)


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, option: str | None = "--out") -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (which must exist) for the duration of a run.

    Raises
    ------
    OutputError
        Another process holds the lock: one line with its pid.
    """
    folder = Path(folder)
    lock = folder / LOCK_NAME
    try:
        fh = open(lock, "a+")
    except OSError as exc:
        raise OutputError(f"cannot write to {_label(option, folder)}: {_why(exc)}") from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            pid = fh.read().strip() or "?"
            raise OutputError(f"{_label(option, folder)} is in use by another intsnn run "
                              f"(pid {pid}); wait for it to finish or choose another "
                              f"{option or 'folder'}") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield folder
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def supersede(path: str | os.PathLike) -> Path | None:
    """Move an existing result ``path`` aside to ``<stem>.previous<suffix>`` (replacing an older
    one), so that a run that fails cannot leave the last run's result looking like its own.

    Returns
    -------
    pathlib.Path or None
        Where the old file went, or ``None`` if there was none.
    """
    path = Path(path)
    if not path.is_file():
        return None
    prev = path.with_name(f"{path.stem}.previous{path.suffix}")
    os.replace(path, prev)
    return prev
