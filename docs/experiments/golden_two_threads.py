"""Does the second core help the golden training step, and where does a 2-thread step spend its
time?  Meant for a quiet machine (freeze the other jobs for its ~5 s; it prints how much CPU
other processes used meanwhile, from /proc/stat, so a disturbed run shows itself).

``python docs/experiments/golden_two_threads.py --data-dir ../shared/data``

1. The machine: four loops of a few milliseconds, each as one piece on one thread and as two
   halves on two threads (medians, rounds interleaved): a latency-bound xorshift chain (the
   ``--compare`` control), a vectorised multiply-add of four int16 rows into an int64 row in
   L1 (the shape of the kernels' inner loop), the same without the multiply, and a memory
   stream.  About 2 everywhere means two real
   cores; a vector loop near 1 would mean two hyperthreads of one core.
2. The golden step, 12 batches of 128 of each workload, 1 and 2 threads interleaved batch by
   batch: wall time of ``IntSNN.train_batch``, and within it when each kernel part started and
   ended (median over batches, from the step's start), so the serial time before and after the
   parallel parts can be read off.
3. ``--serial``: the thread CPU time of the pieces that run serially around the kernel.
"""

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit, uint64

from intsnn.golden import fast
from intsnn.golden.model import IntSNN
from intsnn.sw.bench import _batches, _load, busy_cpu_seconds
from intsnn.sw.train import encode


@njit(nogil=True, cache=True)
def _xorshift(k, o, rows):
    s, acc = uint64(k) | uint64(1), uint64(0)
    for _ in range(k * 16):
        s ^= s << uint64(13)
        s ^= s >> uint64(7)
        s ^= s << uint64(17)
        acc += s >> uint64(60)
    o[0] = acc
    return 0


@njit(nogil=True, cache=True)
def _madd(k, o, rows):
    for it in range(k):
        r0, r1, r2, r3 = rows[it & 7], rows[(it + 1) & 7], rows[(it + 2) & 7], rows[(it + 3) & 7]
        for h in range(o.shape[0]):
            o[h] += 3 * r0[h] + 5 * r1[h] + 7 * r2[h] + 9 * r3[h]
    return 0


@njit(nogil=True, cache=True)
def _add(k, o, rows):
    for it in range(k):
        r0, r1, r2, r3 = rows[it & 7], rows[(it + 1) & 7], rows[(it + 2) & 7], rows[(it + 3) & 7]
        for h in range(o.shape[0]):
            o[h] += r0[h] + r1[h] + r2[h] + r3[h]
    return 0


@njit(nogil=True, cache=True)
def _stream(k, o, a):
    s = 0
    for _ in range(k):
        for i in range(a.shape[0]):
            s += a[i]
    o[0] = s
    return 0


def machine(rounds=30):
    rows = (np.arange(8 * 256) % 300).astype(np.int16).reshape(8, 256)
    big = [np.ones(8_000_000, np.int32) for _ in range(2)]
    loops = {"xorshift (control)": (_xorshift, 200_000, None),
             "int multiply-add, L1": (_madd, 400_000, rows),
             "int add, L1": (_add, 400_000, rows), "memory stream": (_stream, 4, big)}
    outs = [np.zeros(256, np.int64), np.zeros(256, np.int64)]
    res = {k: ([], []) for k in loops}
    with ThreadPoolExecutor(1) as pool:
        for name, (f, k, data) in loops.items():  # compile
            f(2, outs[0], data[0] if isinstance(data, list) else data)
        for _ in range(rounds):
            for name, (f, k, data) in loops.items():
                d = data if isinstance(data, list) else [data, data]
                t0 = time.perf_counter()
                f(k, outs[0], d[0])
                t1 = time.perf_counter()
                fut = pool.submit(f, k // 2, outs[1], d[1])
                f(k // 2, outs[0], d[0])
                fut.result()
                res[name][0].append(t1 - t0)
                res[name][1].append(time.perf_counter() - t1)
    for name, (one, two) in res.items():
        a, b = statistics.median(one), statistics.median(two)
        print(f"  {name:22s} 1 thread {a * 1e3:6.2f} ms, 2 threads {b * 1e3:6.2f} ms: {a / b:.2f}x")


def golden(data_dir, preset, n_batches=12, reps=4):
    cfg, data = _load(preset, data_dir, 16 * 128)
    batches = [(encode(cfg, data, rows, 0, e), data.y[rows])
               for e, rows in _batches(cfg, data, 1, 0)][:n_batches]
    kernel, spans = fast._kernel, []

    def timed_kernel(*a):  # records when each part ran
        t0 = time.perf_counter()
        kernel(*a)
        spans.append((a[-2], t0, time.perf_counter()))

    fast._kernel = timed_kernel
    saved = fast.get_threads()
    out = {1: [], 2: []}
    try:
        models = {n: IntSNN(cfg, 0) for n in out}
        for rep in range(reps):
            for x, y in batches:
                for n, m in models.items():
                    fast.set_threads(n)
                    spans.clear()
                    t0 = time.perf_counter()
                    m.train_batch(x, y)
                    t1 = time.perf_counter()
                    if rep:  # the first pass compiles and allocates
                        out[n].append((t1 - t0, {p: (s - t0, e - t0) for p, s, e in spans}))
        assert np.array_equal(models[1].weights.hidden, models[2].weights.hidden)
    finally:
        fast._kernel = kernel
        fast.set_threads(saved)
    one = statistics.median(r[0] for r in out[1])
    for n, rs in out.items():
        med = statistics.median
        parts = ", ".join(f"part {p} {med(r[1][p][0] for r in rs) * 1e3:.2f}-"
                          f"{med(r[1][p][1] for r in rs) * 1e3:.2f}" for p in range(n))
        step = med(r[0] for r in rs)
        print(f"  {preset} {n} thread(s): step {step * 1e3:.2f} ms ({one / step:.2f}x); kernel "
              f"{parts} ms from the step's start")


def serial(data_dir, preset, n_batches=12, reps=20):
    """Thread CPU time (robust to load) of a 1-thread training step, of its kernel, and of the
    pieces that run serially around the kernel, each called on its own (median, microseconds)."""
    from intsnn.golden import reference as ref
    cfg, data = _load(preset, data_dir, 16 * 128)
    batches = [(encode(cfg, data, rows, 0, e), data.y[rows])
               for e, rows in _batches(cfg, data, 1, 0)][:n_batches]
    saved, kernel = fast.get_threads(), fast._kernel
    cpu = {}

    def t(name, f, *a):
        c0 = time.thread_time_ns()
        r = f(*a)
        cpu.setdefault(name, []).append((time.thread_time_ns() - c0) / 1e3)
        return r

    def timed_kernel(*a):
        t("kernel", kernel, *a)

    fast.set_threads(1)
    fast._kernel = timed_kernel
    try:
        m = IntSNN(cfg, 0)
        m.train_batch(*batches[0])
        cpu.clear()
        for _ in range(reps):
            for x, y in batches:
                t("training step", m.train_batch, x, y)
                t("plan", fast.plan, cfg, len(y))
                t("input check", fast._check_x, cfg, x)
                t("int16 weights", fast._weights, cfg, m.weights)
                dh, do, _ = fast.online_deltas(cfg, m.weights, x, y)
                t("update (one pass)", fast.apply_update_fast, cfg, m.weights, dh, do)
                t("update (reference)", ref.apply_update, cfg, m.weights, dh, do)
    finally:
        fast._kernel = kernel
        fast.set_threads(saved)
    cpu["kernel"] = cpu["kernel"][::2]  # the online_deltas call beside each step ran it too
    med = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"  {preset}: " + ", ".join(f"{k} {v:.0f}" for k, v in med.items())
          + f"; step - kernel {med['training step'] - med['kernel']:.0f} us")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--serial", action="store_true",
                    help="then the serial pieces' CPU time (needs no quiet machine)")
    a = ap.parse_args()
    b0, c0, w0 = busy_cpu_seconds(), time.process_time(), time.perf_counter()
    print("machine: one piece on one thread against two halves on two threads")
    machine()
    print("golden training step, batch of 128 (median over batches)")
    for preset in ("mnist-snn", "shd-rsnn"):
        golden(a.data_dir, preset)
    b1, c1, w1 = busy_cpu_seconds(), time.process_time(), time.perf_counter()
    if a.serial:
        print("serial pieces, 1 thread, thread CPU time (us, median)")
        for preset in ("mnist-snn", "shd-rsnn"):
            serial(a.data_dir, preset)
    if b0 is not None:
        other = max(0.0, (b1 - b0) - (c1 - c0))
        print(f"other processes used {other / (w1 - w0):.2f} cores during these {w1 - w0:.1f} s "
              f"(load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
