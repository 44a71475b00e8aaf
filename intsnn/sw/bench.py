"""Training-speed benchmark of the golden model (prints figures; not a timed test).

``python -m intsnn.sw.bench --data-dir ../shared/data [--repeats 3] [--json out.json]``

* ``mnist-snn``: one training epoch over the 50,000-image training split, T = 20, batch 128,
  rate coding included.
* ``shd-rsnn``: one training epoch of 8,156 samples (the size of SHD's training set).  Without the
  real SHD files the SHD-format spoken digits found in the data directory are repeated to 8,156
  samples (the work per sample is what matters).

The numba kernels are compiled by a warm-up batch before timing.  Each figure is the median of
``--repeats`` epochs; peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import numpy as np

from .train import encode, load_data, make_config
from ..golden.model import IntSNN

__all__ = ["bench_epoch", "main"]

SHD_TRAIN_SIZE = 8156


def bench_epoch(preset_name: str, data, n_samples: int, repeats: int, seed: int = 0) -> dict:
    cfg = make_config(preset_name, int(data.meta["n_classes"]))
    model = IntSNN(cfg, seed)
    n_src = len(data.y)
    rows_all = np.arange(n_samples) % n_src
    model.train_batch(encode(cfg, data, rows_all[:cfg.batch_size], seed, 0),
                      data.y[rows_all[:cfg.batch_size]])  # warm-up: JIT compilation
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        for s in range(0, n_samples, cfg.batch_size):
            rows = rows_all[s:s + cfg.batch_size]
            model.train_batch(encode(cfg, data, rows, seed, r), data.y[rows])
        times.append(time.perf_counter() - t0)
    return {"preset": preset_name, "samples": n_samples, "epoch_seconds": times,
            "median_seconds": statistics.median(times),
            "samples_per_second": n_samples / statistics.median(times),
            "fast_path": model.fast}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    results = []
    mn = load_data("mnist-snn", "train", a.data_dir)
    results.append(bench_epoch("mnist-snn", mn, len(mn.y), a.repeats))
    del mn
    sh = load_data("shd-rsnn", "train", a.data_dir)
    results.append(bench_epoch("shd-rsnn", sh, SHD_TRAIN_SIZE, a.repeats))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"{'preset':10s} {'samples':>8s} {'median s':>9s} {'samples/s':>10s}  runs")
    for r in results:
        runs = ", ".join(f"{t:.2f}" for t in r["epoch_seconds"])
        print(f"{r['preset']:10s} {r['samples']:8d} {r['median_seconds']:9.2f} "
              f"{r['samples_per_second']:10.0f}  [{runs}]")
    print(f"peak memory {peak:.0f} MB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"results": results, "peak_memory_mb": peak}, f, indent=1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
