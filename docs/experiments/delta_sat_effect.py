"""How often a saturating delta register changes the update: per-batch statistics of a preset.

Not part of the package.  Trains ``--preset`` (default ``mnist-snn``) with ``delta_sat_bits``
(default: the hidden layer's ``delta_lossless_bits``) for one epoch (the shuffle and rate coding
of ``intsnn train``'s epoch ``--epoch``) from the initial weights or from a run's
``weights.npz``, and for every batch also evaluates the *exact* batch delta on the same weights; per layer it counts the synapses whose register differs from the exact sum, and the
weights whose update (eq. 3.18 with 3.27) differs because of it, with the size of the
difference in shadow LSBs.

    python docs/experiments/delta_sat_effect.py --data-dir ../shared/data --bits 24 \\
        --json /tmp/sat-e1.json
    python docs/experiments/delta_sat_effect.py --data-dir ../shared/data --bits 24 \\
        --weights runs/mnist-snn-sat24-s0 --epoch 49 --json /tmp/sat-e50.json
    python docs/experiments/delta_sat_effect.py --data-dir ../shared/data --preset shd-rsnn \
        --json /tmp/sat-rsnn.json

(docs/results.md, "Saturating delta registers").
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from intsnn.golden import ops
from intsnn.golden.config import preset
from intsnn.golden.model import IntSNN
from intsnn.sim.infer import load_trained
from intsnn.sw.train import encode, load_data


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--preset", default="mnist-snn", choices=("mnist-snn", "shd-snn", "shd-rsnn"))
    ap.add_argument("--bits", type=int, default=None,
                    help="delta_sat_bits (default: the hidden layer's delta_lossless_bits)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epoch", type=int, default=0, help="0-based epoch of the shuffle/coding")
    ap.add_argument("--weights", default=None, help="start from this run's weights.npz")
    ap.add_argument("--batches", type=int, default=None, help="stop after this many")
    ap.add_argument("--json", required=True)
    a = ap.parse_args()
    data = load_data(a.preset, "train", a.data_dir)
    over = {"n_out": int(data.meta["n_classes"])} if a.preset.startswith("shd") else {}
    exact_cfg = preset(a.preset, **over)
    bits = exact_cfg.delta_lossless_bits("hidden") if a.bits is None else a.bits
    cfg = exact_cfg.replace(delta_sat_bits=bits)
    net = IntSNN(cfg, a.seed)
    if a.weights:
        net.weights = load_trained(a.weights, cfg)[0]
    n = len(data.y)
    perm = np.random.Generator(np.random.PCG64([a.seed, a.epoch])).permutation(n)
    tot = {k: {"synapses": 0, "register_differs": 0, "exact_beyond_rail": 0,
               "update_differs": 0, "update_diff_lsb_sum": 0, "update_diff_lsb_max": 0,
               "exact_at_clip": 0, "batches_with_a_difference": 0, "exact_abs_max": 0}
           for k in ("hidden", "output")}
    t0, nb = time.perf_counter(), 0
    for s in range(0, n, cfg.batch_size):
        if a.batches is not None and nb >= a.batches:
            break
        rows = perm[s:s + cfg.batch_size]
        x, y = encode(cfg, data, rows, a.seed, a.epoch), data.y[rows]
        dh, do, _ = net.batch_deltas(x, y)
        eh, eo, _ = IntSNN(exact_cfg, a.seed, weights=net.weights,
                           trace_mode="deferred").batch_deltas(x, y, step=net.updates)
        for layer, w, d, e in (("hidden", net.weights.hidden, dh, eh),
                               ("output", net.weights.output, do, eo)):
            p = getattr(cfg, layer)
            t = tot[layer]
            lo, hi = cfg.delta_range(layer)
            new_s = ops.weight_update(w, d, p.lr_shift, p.wd_shift, cfg)
            new_e = ops.weight_update(w, e, p.lr_shift, p.wd_shift, cfg)
            diff = np.abs(new_s - new_e)
            t["synapses"] += d.size
            t["register_differs"] += int(np.count_nonzero(d != e))
            t["exact_beyond_rail"] += int(np.count_nonzero((e < lo) | (e > hi)))
            t["update_differs"] += int(np.count_nonzero(diff))
            t["update_diff_lsb_sum"] += int(diff.sum())
            t["update_diff_lsb_max"] = max(t["update_diff_lsb_max"], int(diff.max()))
            step = e >> p.lr_shift if cfg.clip_order == "shift_then_clip" else e
            t["exact_at_clip"] += int(np.count_nonzero(np.abs(step) >= cfg.clip))
            t["batches_with_a_difference"] += int(diff.any())
            t["exact_abs_max"] = max(t["exact_abs_max"], int(np.abs(e).max()))
        net.update(dh, do)
        nb += 1
    for t in tot.values():
        t["register_differs_fraction"] = t["register_differs"] / max(1, t["synapses"])
        t["update_differs_fraction"] = t["update_differs"] / max(1, t["synapses"])
        t["exact_at_clip_fraction"] = t["exact_at_clip"] / max(1, t["synapses"])
        t["exact_abs_max_signed_bits"] = int(t["exact_abs_max"]).bit_length() + 1
    out = {"preset": a.preset, "delta_sat_bits": bits, "seed": a.seed, "epoch": a.epoch,
           "weights": a.weights, "batches": nb, "seconds": round(time.perf_counter() - t0, 1),
           "layers": tot}
    with open(a.json, "w") as f:
        json.dump(out, f, indent=2)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
