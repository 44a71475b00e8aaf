"""Training-speed and memory benchmarks of the golden model (prints figures; not a timed test).

``python -m intsnn.sw.bench --data-dir ../shared/data [--repeats 3] [--json out.json]``
    One training epoch of ``mnist-snn`` (50,000 images, T = 20, rate coding included) and of
    ``shd-rsnn`` (8,156 samples, the size of SHD's training set; the SHD-format samples found in
    the data directory repeated), median of ``--repeats`` epochs after a warm-up batch.

``python -m intsnn.sw.bench --compare --data-dir ../shared/data --out-dir docs/results``
    Golden (one and two threads) against the plain numpy implementation of the same rule
    (:mod:`intsnn.sw.bench_plain`), the per-timestep reference and the float torch peer when
    torch is importable (:mod:`intsnn.sw.bench_peers`), batch by batch in one process on the
    issue's workloads: ``mnist-snn`` 784-100-10, T = 20, 10,000 training images, 1 epoch;
    ``shd-rsnn`` 175-256-10, T = 10, the SHD-format training set, 3 epochs.  Then the memory of
    one training step against T (:func:`memory_vs_t`) and a profile of one golden epoch.
    Writes ``bench-compare.json``, ``memory-vs-t.json`` and ``memory-vs-t.png`` to
    ``--out-dir`` and prints the tables.

How the figures are taken: every peer trains its own copy of the network on the same batches;
within a batch the peers run one after the other, the order rotating from batch to batch, so a
change of machine load hits all peers alike; the time of a peer is the sum over its batches of
``time.perf_counter`` around its training step (encoding is shared and timed separately), and its
CPU time the sum of ``time.process_time`` (all threads of the process; one peer runs at a time),
which other jobs on a loaded machine cannot inflate.  Every peer runs on one thread (numpy's BLAS
is set to one thread) except ``golden-2t``, whose gain over ``golden-1t`` needs a second core
that nothing else uses: beside each peer the CPU that *other* processes used during its steps is
recorded (:func:`busy_cpu_seconds`, in cores), and a 2-thread figure means something only when
that is near 0 (on a shared machine, freeze the other jobs for the run).  The peers'
weights are compared at the end (the integer peers must agree bit for bit).  Memory is the
``tracemalloc`` peak of one training step (numpy allocations; the input batch is allocated before
tracing starts and not counted; numba's small per-thread kernel state is not seen).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import numpy as np
from tqdm import tqdm

from ..golden import fast
from ..golden.config import NetConfig
from ..golden.model import IntSNN
from .bench_memory import (MEMORY_T, bptt_figures, memory_table, memory_vs_t, plot_memory,
                           step_memory)
from .bench_peers import PEERS, check_peer_names, make_peers
from .bench_plain import blas_threads
from .command import run_command
from .outputs import check_out_dir, check_out_file, write_json
from .train import encode, load_data, make_config

__all__ = ["bench_epoch", "compare", "profile_epoch", "dense_ops", "second_core_check",
           "busy_cpu_seconds", "main"]

SHD_TRAIN_SIZE = 8156
#: The workloads of the comparison (issue 11): preset, training samples (None: all), epochs.
WORKLOADS = {"mnist-snn": (10_000, 1), "shd-rsnn": (None, 3)}


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
            "fast_path": model.fast, "threads": fast.get_threads()}


def dense_ops(cfg: NetConfig) -> int:
    """Synaptic operations of one training sample, counted densely (implementation-free):
    the forward products ``T (I H [+ H H] + H O)``, the eq. 3.5 trace updates ``T (I H + H O)``
    and the eq. 3.17 products ``I H + H O``."""
    ih, ho, T = cfg.n_in * cfg.n_hidden, cfg.n_hidden * cfg.n_out, cfg.timesteps
    rec = cfg.n_hidden ** 2 if cfg.arch == "rsnn" else 0
    return T * (ih + rec + ho) + T * (ih + ho) + ih + ho


def second_core_check(n: int = 2_000_000, rounds: int = 30) -> float:
    """Speed-up of an embarrassingly parallel integer loop on two threads over one (median of
    ``rounds``), in pieces of a few milliseconds like the golden kernels' parts: about 2 when a
    second core is free at once, about 1 when the machine has none to give at that time scale.
    Recorded beside every 1-vs-2-thread figure, which means nothing without it."""
    from concurrent.futures import ThreadPoolExecutor

    from numba import njit, uint64

    @njit(nogil=True, cache=False)
    def spin(k, seed):  # xorshift64: sequential, cannot be vectorised or folded
        s, acc = uint64(seed) | uint64(1), uint64(0)
        for _ in range(k):
            s ^= s << uint64(13)
            s ^= s >> uint64(7)
            s ^= s << uint64(17)
            acc += s >> uint64(60)
        return acc

    spin(10, 1)
    one, two = [], []
    with ThreadPoolExecutor(1) as pool:
        for _ in range(rounds):
            t0 = time.perf_counter()
            spin(n, 1)
            t1 = time.perf_counter()
            f = pool.submit(spin, n // 2, 2)
            spin(n // 2, 3)
            f.result()
            one.append(t1 - t0)
            two.append(time.perf_counter() - t1)
    return statistics.median(one) / statistics.median(two)


def busy_cpu_seconds(path: str = "/proc/stat") -> float | None:
    """CPU time all processes of the machine have used since boot (``/proc/stat``: user, nice,
    system, irq, softirq, steal), or None where there is no ``/proc/stat``.

    The kernel charges it per clock tick (10 ms), so the difference over a few milliseconds is
    0 or a tick; summed over hundreds of training steps it estimates the CPU the machine used
    during them.  Minus this process's own CPU time, it says whether other jobs ran while a peer
    was timed: the measurement of the 2-thread speed-up is only meaningful when they did not.
    """
    try:
        with open(path) as f:
            v = [int(t) for t in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _load(preset_name: str, data_dir, limit):
    data = load_data(preset_name, "train", data_dir, limit)
    return make_config(preset_name, int(data.meta["n_classes"])), data


def _batches(cfg: NetConfig, data, epochs: int, seed: int):
    n = len(data.y)
    for epoch in range(epochs):
        perm = np.random.Generator(np.random.PCG64([seed, epoch])).permutation(n)
        for s in range(0, n, cfg.batch_size):
            yield epoch, perm[s:s + cfg.batch_size]


def compare(preset_name: str, data_dir, peer_names=PEERS, seed: int = 0,
            progress: bool = True, rounds: int = 1) -> dict:
    """Time the peers on one workload of :data:`WORKLOADS` (see module docstring), ``rounds``
    times over (the peers keep training)."""
    limit, epochs = WORKLOADS[preset_name]
    cfg, data = _load(preset_name, data_dir, limit)
    peers = make_peers(cfg, seed, peer_names)
    saved_blas = blas_threads(1)
    try:
        warm = np.arange(min(cfg.batch_size, len(data.y)))
        for p in peers:  # JIT compilation and first-touch allocations outside the timing
            make_peers(cfg, seed, [p.name])[0].step(encode(cfg, data, warm, seed, 0),
                                                    data.y[warm])
        secs = {p.name: 0.0 for p in peers}
        cpu = {p.name: 0.0 for p in peers}
        busy = {p.name: 0.0 for p in peers}
        have_busy = busy_cpu_seconds() is not None
        t_enc, n_samples = 0.0, 0
        load0 = os.getloadavg()
        batches = list(_batches(cfg, data, epochs, seed)) * rounds
        for k, (epoch, rows) in enumerate(tqdm(batches, desc=preset_name, disable=not progress,
                                               leave=False)):
            t0 = time.perf_counter()
            x = encode(cfg, data, rows, seed, epoch)
            t_enc += time.perf_counter() - t0
            y = data.y[rows]
            n_samples += len(rows)
            for j in range(len(peers)):
                p = peers[(k + j) % len(peers)]
                b0 = busy_cpu_seconds() if have_busy else 0.0
                t0, c0 = time.perf_counter(), time.process_time()
                p.step(x, y)
                secs[p.name] += time.perf_counter() - t0
                cpu[p.name] += time.process_time() - c0
                busy[p.name] += (busy_cpu_seconds() if have_busy else 0.0) - b0
        load1 = os.getloadavg()
        x, y = encode(cfg, data, warm, seed, 0), data.y[warm]
        mem = {p.name: step_memory(lambda: p.step(x, y)) for p in peers}
    finally:
        if saved_blas is not None:
            blas_threads(saved_blas)
    agree = {}
    for base in ("plain-numpy", "reference"):
        ref = next((p for p in peers if p.name == base), None)
        for p in peers:
            if p.exact and ref is not None and p is not ref and p.name not in agree:
                a, b = p.weights(), ref.weights()
                agree[p.name] = {base: bool(np.array_equal(a.hidden, b.hidden)
                                            and np.array_equal(a.output, b.output))}
    ops = dense_ops(cfg)
    res = {}
    for p in peers:
        res[p.name] = {"seconds": secs[p.name], "cpu_seconds": cpu[p.name],
                       "samples_per_second": n_samples / secs[p.name],
                       "dense_ops_per_second": ops * n_samples / secs[p.name],
                       "step_peak_mb": mem[p.name] / 2 ** 20,
                       # other processes' CPU during this peer's steps, in cores (0: quiet)
                       "other_processes_cores": (max(0.0, busy[p.name] - cpu[p.name])
                                                 / secs[p.name] if have_busy else None),
                       "trace_mode": (p.model.trace_mode if hasattr(p, "model") and p.model.fast
                                      else None)}
    out = {"preset": preset_name, "samples": n_samples, "epochs": epochs, "rounds": rounds,
           "batch_size": cfg.batch_size, "timesteps": cfg.timesteps,
           "dense_ops_per_sample": ops, "encode_seconds": t_enc, "peers": res,
           "identical_weights": agree, "blas_threads": blas_threads(),
           "loadavg_1min_before_after": [load0[0], load1[0]]}
    for base in ("plain-numpy", "reference"):
        if base in res:
            out[f"time_ratio_to_{base.replace('-', '_')}"] = {
                n: r["seconds"] / res[base]["seconds"] for n, r in res.items()}
            out[f"cpu_ratio_to_{base.replace('-', '_')}"] = {
                n: r["cpu_seconds"] / res[base]["cpu_seconds"] for n, r in res.items()}
    if "golden-1t" in res and "golden-2t" in res:
        out["speedup_2t_over_1t"] = res["golden-1t"]["seconds"] / res["golden-2t"]["seconds"]
    return out


def profile_epoch(preset_name: str, data_dir, seed: int = 0) -> dict:
    """Where one golden epoch's time goes, single thread, per stage, for both trace modes
    (thread CPU time: the kernels run in the calling thread, so other jobs do not count).

    The online mode's single kernel does the forward pass, traces, error and delta together;
    an inference-only pass over the same batch (the same forward kernel code without any trace
    work), timed beside it and not counted in the total, splits it into forward and the rest.
    """
    from ..golden import reference as ref
    from ..golden.model import loss_rng_bits

    limit, _ = WORKLOADS[preset_name]
    cfg, data = _load(preset_name, data_dir, limit)
    saved = fast.get_threads()
    fast.set_threads(1)
    out = {}
    try:
        # the deferred delta's int32/int64 accumulators are chosen per batch: compile both first
        pre, g = np.zeros((1, 1, 1), fast.plan(cfg, 1).trace), np.zeros((1, 1, 1), np.int8)
        for dt in (np.int32, np.int64):
            fast._delta(pre, g, np.zeros((1, 1), np.int64), dt, False)
        for mode in ("deferred", "online"):
            m = IntSNN(cfg, seed, trace_mode=mode)
            m.train_batch(encode(cfg, data, np.arange(8), seed, 0), data.y[:8])
            st = dict.fromkeys(("encode", "forward", "error", "delta", "online kernel",
                                "update"), 0.0)
            t_infer = 0.0
            for epoch, rows in _batches(cfg, data, 1, seed):
                t0 = time.thread_time()
                x, y = encode(cfg, data, rows, seed, epoch), data.y[rows]
                t1 = time.thread_time()
                st["encode"] += t1 - t0
                bits = loss_rng_bits(cfg, seed, m.updates, np.arange(len(rows)))
                if mode == "online":
                    dh, do, _ = fast.online_deltas(cfg, m.weights, x, y, bits)
                    t2 = time.thread_time()
                    st["online kernel"] += t2 - t1
                    fast.forward_fast(cfg, m.weights, x, record=False)
                    t_infer += time.thread_time() - t2
                else:
                    ff = fast.forward_fast(cfg, m.weights, x)
                    t2 = time.thread_time()
                    _, vo, vh = ref.error_signals(cfg, m.weights, ff.counts, ff.s_output, y, bits)
                    t3 = time.thread_time()
                    dh, do = fast.deltas_fast(ff, vo, vh, cfg)
                    st["forward"] += t2 - t1
                    st["error"] += t3 - t2
                    st["delta"] += time.thread_time() - t3
                t4 = time.thread_time()
                m.update(dh, do)
                st["update"] += time.thread_time() - t4
            total = sum(st.values())
            out[mode] = {"seconds": total, "share": {k: v / total for k, v in st.items() if v}}
            if mode == "online":
                out[mode]["inference_pass_share_of_online_kernel"] = (
                    t_infer / st["online kernel"])
    finally:
        fast.set_threads(saved)
    return {"preset": preset_name, "samples": len(data.y), "profile": out}


def compare_table(cmp: list[dict]) -> str:
    rows = ["| workload | peer | time (s) | / plain numpy | / reference | CPU (s) | CPU / plain "
            "numpy | samples/s | dense Gop/s | step peak (MB) | other jobs (cores) |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]

    def cell(v):
        return "-" if v is None else f"{v:.3f}"

    for c in cmp:
        for n, r in c["peers"].items():
            plain = c.get("time_ratio_to_plain_numpy", {}).get(n)
            ref = c.get("time_ratio_to_reference", {}).get(n)
            cpu = c.get("cpu_ratio_to_plain_numpy", {}).get(n)
            rows.append(f"| {c['preset']} | {n} | {r['seconds']:.2f} | {cell(plain)} | "
                        f"{cell(ref)} | {r['cpu_seconds']:.2f} | {cell(cpu)} | "
                        f"{r['samples_per_second']:.0f} | "
                        f"{r['dense_ops_per_second'] / 1e9:.2f} | {r['step_peak_mb']:.1f} | "
                        f"{cell(r.get('other_processes_cores'))} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--data-dir", required=True, help="real data folder (MNIST, SHD-format)")
    ap.add_argument("--repeats", type=int, default=3, help="epochs per preset (default mode)")
    ap.add_argument("--json", default=None, help="write the default mode's results here")
    ap.add_argument("--compare", action="store_true",
                    help="golden vs plain numpy (and torch) on the issue's workloads, memory vs "
                         "T, profile")
    ap.add_argument("--out-dir", default="docs/results", help="--compare: output folder")
    ap.add_argument("--peers", default=",".join(PEERS), help="--compare: peers to time")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="--compare: workloads")
    ap.add_argument("--rounds", type=int, default=1,
                    help="--compare: run each workload this many times over")
    ap.add_argument("--memory-t", default=",".join(map(str, MEMORY_T)),
                    help="--compare: time steps of the memory table ('' to skip)")
    ap.add_argument("--threads", type=int, default=None,
                    help="default mode: kernel threads (default: all cores)")
    a = ap.parse_args(argv)
    return run_command("python -m intsnn.sw.bench",
                       lambda: _main_compare(a) if a.compare else _main_epochs(a))


def _main_epochs(a) -> int:
    if a.threads is not None:
        fast.set_threads(a.threads)
    if a.json:
        check_out_file(a.json, "--json")
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
        write_json(a.json, {"results": results, "peak_memory_mb": peak})
    return 0


def _main_compare(a) -> int:
    out_dir = check_out_dir(a.out_dir, "--out-dir")
    workloads = [w for w in a.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            raise ValueError(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    peers = [p for p in a.peers.split(",") if p]
    check_peer_names(peers)
    if a.rounds < 1:
        raise ValueError(f"--rounds must be >= 1, got {a.rounds}")
    core_check = [second_core_check()]
    cmp = [compare(w, a.data_dir, peers, rounds=a.rounds) for w in workloads]
    core_check.append(second_core_check())
    print(f"control: an embarrassingly parallel loop in ~5 ms pieces ran {core_check[0]:.2f}x / "
          f"{core_check[1]:.2f}x faster on 2 threads than on 1 (before / after the timing; "
          "about 2 means a second core was free); 'other jobs' below: the CPU other processes "
          "used while a peer was timed, in cores (/proc/stat; 0 means it had the machine)")
    print(compare_table(cmp))
    for c in cmp:
        extra = (f"; 2 threads / 1 thread: {c['speedup_2t_over_1t']:.2f}x faster"
                 if "speedup_2t_over_1t" in c else "")
        print(f"{c['preset']}: identical weights {c['identical_weights']}, "
              f"encoding {c['encode_seconds']:.2f} s, load {c['loadavg_1min_before_after']}"
              f"{extra}")
    prof = [profile_epoch(w, a.data_dir) for w in workloads]
    for p in prof:
        for mode, r in p["profile"].items():
            shares = ", ".join(f"{k} {v:.0%}" for k, v in r["share"].items())
            split = r.get("inference_pass_share_of_online_kernel")
            split = "" if split is None else (f" (an inference pass takes {split:.0%} of the "
                                              "online kernel's time)")
            print(f"profile {p['preset']} {mode}: {r['seconds']:.2f} s: {shares}{split}")
    result = {"compare": cmp, "profile": prof, "second_core_check_before_after": core_check,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
              "cores": os.cpu_count()}
    write_json(out_dir / "bench-compare.json", result)
    ts = [int(t) for t in a.memory_t.split(",") if t]
    if ts:
        mem = [memory_vs_t(w, ts) for w in workloads]
        bptt = bptt_figures(out_dir)
        write_json(out_dir / "memory-vs-t.json", {"memory_vs_t": mem, "bptt": bptt})
        print(memory_table(mem, bptt))
        plot_memory(mem, bptt, out_dir / "memory-vs-t.png")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
