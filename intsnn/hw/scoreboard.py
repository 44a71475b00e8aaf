"""The record of one hardware-vs-golden mismatch, shared by every bench and the board driver.

The cocotb co-simulation bench (``intsnn.sim.benches.cosim_bench``) and the host driver's
session (``intsnn.host.session``) compare the same observables the same way and write the same
report entries; this is the one place that says what an entry holds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_REPORTED", "mismatch_record"]

MAX_REPORTED = 20  # differing entries listed per mismatch


def mismatch_record(phase, sample, signal, expected, actual, update=None) -> dict | None:
    """The report entry for ``expected`` vs ``actual`` (equal shapes), or None if they agree.

    The entry names the phase, sample, update and signal, the first differing index with both
    values, how many entries differ, and the first :data:`MAX_REPORTED` of them.
    """
    # at least 1-D: np.argwhere of a 0-d array has shape (1, 0), size 0, so a differing scalar
    # (a prediction, a CYCLES register) would pass unseen
    exp, act = np.atleast_1d(expected), np.atleast_1d(actual)
    bad = np.argwhere(exp != act)
    if bad.size == 0:
        return None
    entries = [{"index": [int(v) for v in ix], "expected": int(exp[tuple(ix)]),
                "actual": int(act[tuple(ix)])} for ix in bad[:MAX_REPORTED]]
    return {"phase": phase, "sample": sample, "update": update, "signal": signal,
            "index": entries[0]["index"], "expected": entries[0]["expected"],
            "actual": entries[0]["actual"], "n_differ": int(len(bad)), "entries": entries}
