"""Golden-model cost of saturating delta registers: one mnist-snn training batch (B = 128, one
thread), exact (``trace_mode="auto"``: online) against ``delta_sat_bits=24`` (deferred + the
saturating kernel), and exact in deferred mode, interleaved batch by batch on the same batches; prints the median times
and their ratio.  Not part of the package.

    NUMBA_NUM_THREADS=1 python docs/experiments/delta_sat_speed.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from intsnn.golden import fast
from intsnn.golden.config import preset
from intsnn.golden.model import IntSNN
from intsnn.sw.train import encode, load_data

ap = argparse.ArgumentParser()
ap.add_argument("--data-dir", required=True)
ap.add_argument("--batches", type=int, default=40)
a = ap.parse_args()
fast.set_threads(1)
exact, sat = preset("mnist-snn"), preset("mnist-snn", delta_sat_bits=24)
nets = {"exact (online)": IntSNN(exact, 0), "delta_sat_bits=24 (deferred)": IntSNN(sat, 0),
        "exact (deferred)": IntSNN(exact, 0, trace_mode="deferred")}
data = load_data("mnist-snn", "train", a.data_dir)
times = {k: [] for k in nets}
for k in range(a.batches + 2):                     # the first two compile and warm up
    rows = np.arange(k * 128, (k + 1) * 128)
    x, y = encode(exact, data, rows, 0, 0), data.y[rows]
    for name, net in (list(nets.items()) if k % 2 else reversed(nets.items())):
        t0 = time.perf_counter()
        net.train_batch(x, y)
        if k >= 2:
            times[name].append(time.perf_counter() - t0)
med = {k: float(np.median(v)) for k, v in times.items()}
for k, v in med.items():
    print(f"{k:32s} {1e3 * v:7.2f} ms per batch (median of {len(times[k])})")
e, s, d = med.values()
print(f"ratio saturating / exact online: {s / e:.2f}, / exact deferred: {s / d:.2f}")
eq = all(np.array_equal(getattr(nets['exact (online)'].weights, w),
                        getattr(nets['delta_sat_bits=24 (deferred)'].weights, w))
         for w in ("hidden", "output"))
print(f"weights equal after {a.batches + 2} batches: {eq}")
