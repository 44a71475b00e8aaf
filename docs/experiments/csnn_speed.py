"""Training speed of the golden CSNN: the fast path (``fast_csnn.py``) against the reference.

``python docs/experiments/csnn_speed.py --data-dir ../shared/data [--batches 6] [--json out.json]``

Both models start from the same weights and train on the same real MNIST batches (preset
``mnist-csnn``, batch 128, rate coding included), interleaved batch by batch so that the load of
a shared machine hits both alike; the weights are compared after every batch (they must be
equal).  The per-batch medians are scaled to one epoch of 50,000 images (391 batches); the ratio
is the figure to quote, the absolute times depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from intsnn.golden.model import IntSNN
from intsnn.sw.train import encode, load_data, make_config

EPOCH_BATCHES = -(-50_000 // 128)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--batches", type=int, default=6, help="timed batches (after one warm-up)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    if a.json and not os.access(os.path.dirname(os.path.abspath(a.json)), os.W_OK):
        raise SystemExit(f"cannot write {a.json}")  # fail before the work, not after
    cfg = make_config("mnist-csnn", 10)
    data = load_data("mnist-csnn", "train", a.data_dir, (a.batches + 1) * cfg.batch_size)
    fast, ref = IntSNN(cfg, 0), IntSNN(cfg, 0, fast=False)
    times = {"fast": [], "reference": []}
    for k in range(a.batches + 1):
        rows = np.arange(k * cfg.batch_size, (k + 1) * cfg.batch_size)
        x, y = encode(cfg, data, rows, 0, 0), data.y[rows]
        for name, model in (("fast", fast), ("reference", ref)):
            t0 = time.perf_counter()
            model.train_batch(x, y)
            if k:  # batch 0 compiles the numba kernels
                times[name].append(time.perf_counter() - t0)
        if not (np.array_equal(fast.weights.hidden, ref.weights.hidden)
                and np.array_equal(fast.weights.output, ref.weights.output)):
            raise SystemExit(f"fast and reference weights differ after batch {k}")
        print(f"batch {k}: fast {times['fast'][-1] if k else 0:.3f} s, reference "
              f"{times['reference'][-1] if k else 0:.3f} s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    out = {"preset": "mnist-csnn", "batch_size": cfg.batch_size, "batches": a.batches,
           "batch_seconds": times, "median_batch_seconds": med,
           "epoch_seconds_estimate": {k: v * EPOCH_BATCHES for k, v in med.items()},
           "speedup": med["reference"] / med["fast"], "cpu_count": os.cpu_count()}
    print(f"median s/batch: fast {med['fast']:.3f}, reference {med['reference']:.3f}; "
          f"one training epoch ~{out['epoch_seconds_estimate']['fast']:.0f} s vs "
          f"~{out['epoch_seconds_estimate']['reference']:.0f} s; speed-up "
          f"{out['speedup']:.1f}x (weights equal after every batch)")
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1)
        os.replace(tmp, a.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
