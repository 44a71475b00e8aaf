"""Progress for long steps: a tqdm bar where the work is countable, a heartbeat where it is not.

* :func:`bar`: tqdm with the project's defaults (stderr, cleared when done), for loops in this
  process.
* :func:`follow`: a tqdm bar for work done by *another* process (a simulator), fed by polling
  a function that returns how much is done.
* :func:`heartbeat`: for an external tool that says nothing (a compiler, yosys, nextpnr,
  Amaranth's Verilog back end): the step's name and the elapsed time, as a spinner on a terminal
  and as one line every ``interval`` seconds in a log, then ``<step>: 12.3 s`` when it ends.

All write to stderr, so that a command's results on stdout stay clean, and all are silent with
``quiet=True``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from tqdm import tqdm

__all__ = ["bar", "follow", "heartbeat", "format_seconds"]

_SPINNER = "|/-\\"


def format_seconds(s: float) -> str:
    """``8.2 s``, ``2 min 05 s``, ``1 h 02 min``."""
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def bar(iterable: Iterable | None = None, *, desc: str, total: int | None = None,
        quiet: bool = False, unit: str = "it", leave: bool = False, **kw) -> tqdm:
    """A tqdm bar on stderr (cleared when done unless ``leave``); disabled when ``quiet``.
    Written to a log instead of a terminal, it updates every 15 s instead of 10 times a second."""
    if not sys.stderr.isatty():
        kw.setdefault("mininterval", 15.0)
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, disable=quiet,
                file=sys.stderr, dynamic_ncols=True, **kw)


def _interval(stream: TextIO, interval: float | None) -> tuple[bool, float]:
    tty = bool(getattr(stream, "isatty", lambda: False)())
    return tty, (0.25 if tty else 15.0) if interval is None else interval


@contextlib.contextmanager
def heartbeat(step: str, *, quiet: bool = False, interval: float | None = None,
              status: Callable[[], str] | None = None,
              stream: TextIO | None = None) -> Iterator[None]:
    """Show that ``step`` is alive while the ``with`` body runs.

    Parameters
    ----------
    step : str
        What is running, e.g. ``"verilator build of tb_top"``.
    quiet : bool
        No output at all.
    interval : float, optional
        Seconds between updates (default: 0.25 on a terminal, 15 otherwise).
    status : callable, optional
        Returns extra text shown after the elapsed time (e.g. ``"train 40/256"``).
    stream : file, optional
        Default ``sys.stderr``.
    """
    if quiet:
        yield
        return
    out = stream or sys.stderr
    tty, every = _interval(out, interval)
    t0 = time.perf_counter()
    stop = threading.Event()

    def line(i: int) -> str:
        extra = ""
        if status is not None:
            with contextlib.suppress(Exception):  # a status reader must never kill the run
                extra = status()
        text = f"{step} ... {format_seconds(time.perf_counter() - t0)}"
        text += f"  {extra}" if extra else ""
        return f"\r{_SPINNER[i % 4]} {text}\033[K" if tty else text + "\n"

    def beat():
        i = 0
        while not stop.wait(every):
            i += 1
            out.write(line(i))
            out.flush()

    th = threading.Thread(target=beat, name=f"heartbeat: {step}", daemon=True)
    if tty:
        out.write(line(0))
        out.flush()
    th.start()
    ok = False
    try:
        yield
        ok = True
    finally:
        stop.set()
        th.join()
        took = format_seconds(time.perf_counter() - t0)
        end = f"{step}: {took}" if ok else f"{step}: stopped after {took}"
        out.write(("\r" + end + "\033[K\n") if tty else end + "\n")
        out.flush()


@contextlib.contextmanager
def follow(step: str, total: int, read: Callable[[], Any], *, quiet: bool = False,
           unit: str = "sample", interval: float = 0.5, initial: int = 0) -> Iterator[tqdm]:
    """A tqdm bar for work done elsewhere: ``read()`` returns how many units are done (or a
    ``(done, postfix_text)`` pair) and is polled every ``interval`` seconds."""
    pbar = bar(desc=step, total=total, quiet=quiet, unit=unit, initial=initial)
    stop = threading.Event()

    def poll():
        while not stop.wait(interval):
            with contextlib.suppress(Exception):
                got = read()
                done, text = got if isinstance(got, tuple) else (got, None)
                if done is not None and done != pbar.n:
                    if text:
                        pbar.set_postfix_str(text, refresh=False)
                    pbar.update(min(int(done), total) - pbar.n)  # redraws at tqdm's pace

    th = threading.Thread(target=poll, name=f"progress: {step}", daemon=True)
    th.start()
    try:
        yield pbar
    finally:
        stop.set()
        th.join()
        pbar.close()
