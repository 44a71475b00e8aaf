"""Training memory against the number of time steps T: BPTT vs the online rule (float).

``python -m intsnn.baselines.memory [--preset shd-rsnn] [--timesteps 10 30 100 300 1000]
[--json docs/results/memory-vs-t-bptt.json]``

The thesis's memory claim (Table 3.1: the online rule needs no per-step history) has only been
computed on paper.  This measures one training iteration (forward + backward or update, batch
B of the preset) of the preset's network, for each T, each in a fresh subprocess:

* ``saved_for_backward_mb`` (BPTT): the bytes of every tensor autograd keeps for the backward
  pass (``torch.autograd.graph.saved_tensors_hooks``, unique storages): the history BPTT must
  store, exact and independent of the allocator;
* ``peak_rss_increase_mb``: the process's peak resident memory during the iteration minus its
  resident memory just before it (Linux ``VmHWM`` after resetting it through
  ``/proc/self/clear_refs``), for BPTT and for the FP32 online rule in both trace modes
  (``online``: the weight trace accumulated every step; ``deferred``: per-step
  pseudo-gradients and traces kept and reduced after the pass).

Inputs are seeded Bernoulli spikes (probability 0.1 per input and step): memory does not depend
on the values.  The integer rule's column is ``python -m intsnn.sw.bench --compare``'s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

__all__ = ["measure", "main"]

_CHILD = r"""
import json, sys, gc
import numpy as np
from intsnn.baselines import require_torch
torch = require_torch("memory measurement", spikingjelly=True)
torch.set_num_threads(1)
from intsnn.baselines.hparams import float_params
from intsnn.sw.train import make_config
method, preset, T, n_out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cfg = make_config(preset, n_out, timesteps=T)
fp = float_params(preset)
rng = np.random.default_rng(0)
x = (rng.random((cfg.batch_size, T, cfg.n_in)) < 0.1).astype(np.uint8)
y = rng.integers(0, cfg.n_out, cfg.batch_size)

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024.0

saved = None
if method == "bptt":
    from intsnn.baselines.bptt import BPTTSNN
    m = BPTTSNN(cfg, fp, 0)
    seen = {}
    def pack(t):
        try:
            key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        except Exception:
            key = (id(t), t.numel() * t.element_size())
        seen[key] = key[1]
        return t
    gc.collect(); base = rss("VmRSS")
    open("/proc/self/clear_refs", "w").write("5")
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        m.train_batch(x, y)
    saved = sum(seen.values()) / 2**20
else:
    from intsnn.baselines.online import FloatOnlineSNN
    m = FloatOnlineSNN(cfg, fp, 0, trace_mode=method.split(":")[1])
    gc.collect(); base = rss("VmRSS")
    open("/proc/self/clear_refs", "w").write("5")
    m.train_batch(x, y)
peak = rss("VmHWM")
print(json.dumps({"peak_rss_increase_mb": round(peak - base, 2),
                  "saved_for_backward_mb": None if saved is None else round(saved, 2)}))
"""


def measure(method: str, preset: str, timesteps: int, n_out: int) -> dict:
    """One measurement in a fresh Python process (so earlier runs leave no cached memory)."""
    r = subprocess.run([sys.executable, "-c", _CHILD, method, preset, str(timesteps),
                        str(n_out)], capture_output=True, text=True, check=False)
    if r.returncode:
        raise RuntimeError(f"{method} T={timesteps} failed: {r.stderr.strip()[-500:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="shd-rsnn")
    ap.add_argument("--n-out", type=int, default=20, help="classes (Table 3.1: SHD, 20)")
    ap.add_argument("--timesteps", type=int, nargs="+", default=[10, 30, 100, 300, 1000])
    ap.add_argument("--methods", nargs="+",
                    default=["bptt", "fp32-online:online", "fp32-online:deferred"])
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    from tqdm import tqdm

    from ..sw.train import make_config
    cfg = make_config(a.preset, a.n_out)
    rows = []
    for t in tqdm(a.timesteps, desc="T"):
        row = {"timesteps": t}
        for m in a.methods:
            row[m] = measure(m, a.preset, t, a.n_out)
        rows.append(row)
        tqdm.write(json.dumps(row))
    result = {
        "what": "memory of one training iteration vs T (float32, torch CPU)",
        "preset": a.preset, "batch": cfg.batch_size, "n_in": cfg.n_in,
        "n_hidden": cfg.n_hidden, "n_out": a.n_out, "input": "Bernoulli spikes p=0.1",
        "rows": rows,
        "thesis_table_3_1_bytes": {"MP 16-8 total": 16_093_386, "FP32 total": 43_628_054,
                                   "note": "on paper, T-independent (B=128, I=175, H=256, O=20)"},
    }
    head = f"{'T':>6s} " + " ".join(f"{m:>26s}" for m in a.methods)
    print(head)
    for r in rows:
        cells = []
        for m in a.methods:
            v = r[m]
            s = f"{v['peak_rss_increase_mb']:.1f} MB"
            if v["saved_for_backward_mb"] is not None:
                s += f" (saved {v['saved_for_backward_mb']:.1f})"
            cells.append(f"{s:>26s}")
        print(f"{r['timesteps']:6d} " + " ".join(cells))
    if a.json:
        from ..sw.outputs import write_json
        write_json(Path(a.json), result)
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
