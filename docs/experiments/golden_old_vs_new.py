"""The golden fast path before and after issue 11, one thread each, batch-interleaved in one
process on the comparison workloads of ``python -m intsnn.sw.bench --compare``.

``NUMBA_NUM_THREADS=1 python docs/experiments/golden_old_vs_new.py --data-dir ../shared/data
[--rev ddd0042]``: the old ``intsnn/golden/fast.py`` is taken from git revision ``--rev`` and
imported beside the new one (same config, init and reference modules).  Prints wall-clock and
thread-CPU seconds of the training steps (forward + error + eq. 3.17 + update) of each version.
"""

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from intsnn.golden import fast, reference as ref
from intsnn.golden.model import IntSNN
from intsnn.sw.bench import WORKLOADS, _batches, _load
from intsnn.sw.train import encode


def load_old(rev: str):
    src = subprocess.run(["git", "show", f"{rev}:intsnn/golden/fast.py"], check=True,
                         capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout
    path = Path(tempfile.mkdtemp()) / "fast_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("intsnn.golden.fast_old", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--rev", default="ddd0042")
    a = ap.parse_args()
    old = load_old(a.rev)
    fast.set_threads(1)
    for name, (limit, epochs) in WORKLOADS.items():
        cfg, data = _load(name, a.data_dir, limit)
        m_old, m_new = IntSNN(cfg, 0, fast=False), IntSNN(cfg, 0)

        def step_old(x, y):
            ff = old.forward_fast(cfg, m_old.weights, x)
            _, vo, vh = ref.error_signals(cfg, m_old.weights, ff.counts, ff.s_output, y)
            m_old.update(*old.deltas_fast(ff, vo, vh))

        steps = {"old": step_old, "new": m_new.train_batch}
        x0 = encode(cfg, data, np.arange(8), 0, 0)
        for f in steps.values():
            f(x0, data.y[:8])  # compile
        wall, cpu = dict.fromkeys(steps, 0.0), dict.fromkeys(steps, 0.0)
        for k, (epoch, rows) in enumerate(_batches(cfg, data, epochs, 0)):
            x, y = encode(cfg, data, rows, 0, epoch), data.y[rows]
            for name_ in (("old", "new") if k % 2 == 0 else ("new", "old")):
                t0, c0 = time.perf_counter(), time.thread_time()
                steps[name_](x, y)
                wall[name_] += time.perf_counter() - t0
                cpu[name_] += time.thread_time() - c0
        same = np.array_equal(m_old.weights.hidden, m_new.weights.hidden)
        print(f"{name}: old {wall['old']:.2f} s wall / {cpu['old']:.2f} s cpu, new "
              f"{wall['new']:.2f} s / {cpu['new']:.2f} s: new/old {wall['new'] / wall['old']:.2f}"
              f" (cpu {cpu['new'] / cpu['old']:.2f}); identical weights {same}")


if __name__ == "__main__":
    main()
