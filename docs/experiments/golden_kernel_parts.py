"""Where a golden training step's time goes, part by part, for this tree's kernels or an older
revision's, beside the plain numpy peer (one thread each; thread CPU time, best of 5).

``python docs/experiments/golden_kernel_parts.py --data-dir ../shared/data [--rev a4684f8]``

Parts are told apart by running the same kernels on variants of the workload (same weights, same
8 batches of 128): an inference pass (the forward kernel without any weight-update work) against
the online training step gives "forward" and "traces + eq. 3.17"; for the RSNN, the inference
pass without the recurrent term (``arch="snn"``) gives the recurrent product; an inference pass
on all-zero inputs gives the fixed cost of a step (voltages, traces, output layer), and the rest
of the feed-forward pass is the input current.
"""

import argparse
import time

import numpy as np
from golden_old_vs_new import load_old  # this folder: the old fast.py beside the new one

from intsnn.golden import fast
from intsnn.sw.bench import WORKLOADS, _load
from intsnn.sw.bench_plain import PlainNumpy, blas_threads
from intsnn.sw.train import encode


def best_ms(f, batches, reps=5):
    f(*batches[0])  # compile
    runs = []
    for _ in range(reps):
        t0 = time.thread_time()
        for b in batches:
            f(*b)
        runs.append((time.thread_time() - t0) / len(batches) * 1e3)
    return min(runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--rev", default=None, help="time this git revision's fast.py instead")
    a = ap.parse_args()
    k = load_old(a.rev) if a.rev else fast
    k.set_threads(1)
    blas_threads(1)
    for name, (limit, _) in WORKLOADS.items():
        cfg, data = _load(name, a.data_dir, limit)
        from intsnn.golden.init import init_weights
        w = init_weights(cfg, 0)
        batches = [(encode(cfg, data, np.arange(j * 128, (j + 1) * 128), 0, 0),
                    data.y[j * 128:(j + 1) * 128]) for j in range(8)]
        t = {"online step": best_ms(lambda x, y: k.online_deltas(cfg, w, x, y), batches),
             "inference pass": best_ms(lambda x, y: k.forward_fast(cfg, w, x, record=False),
                                       batches)}
        snn = cfg.replace(arch="snn")
        t["no recurrent"] = best_ms(lambda x, y: k.forward_fast(snn, w, x, record=False),
                                    batches)
        t["zero input"] = best_ms(lambda x, y: k.forward_fast(snn, w, np.zeros_like(x),
                                                              record=False), batches)
        plain = PlainNumpy(cfg, 0)
        t["plain numpy step"] = best_ms(plain.deltas, batches)
        parts = {"traces + eq. 3.17": t["online step"] - t["inference pass"],
                 "recurrent product": t["inference pass"] - t["no recurrent"],
                 "input current": t["no recurrent"] - t["zero input"],
                 "rest of the step": t["zero input"]}
        print(f"{name} ({a.rev or 'this tree'}), ms per batch of 128: online step "
              f"{t['online step']:.2f} = " + ", ".join(f"{p} {v:.2f}" for p, v in parts.items())
              + f"; plain numpy {t['plain numpy step']:.2f} (golden/plain "
              f"{t['online step'] / t['plain numpy step']:.2f})")


if __name__ == "__main__":
    main()
