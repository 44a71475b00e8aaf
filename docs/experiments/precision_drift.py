"""Why MP 8-x fails, and what fixes it: per-epoch update statistics of ``mnist-snn``.

Not part of the package.  Trains ``mnist-snn`` on the 50,000 training images and reports, after
every epoch, the **validation** accuracy (last 10,000 training images; the test set is never
touched here) and, per layer:

* the shadow weights in units of full scale (``W / 2**(S-1)``): mean, std, fraction on a rail;
* the learning-rate step ``r = round(Delta, lr_shift)`` of every synapse whose ``Delta != 0``
  (before the clip): how many are 0, -1, +1, larger; how many are the *floor artefact* (a
  ``Delta`` in ``(-2**lr_shift, 0)``, i.e. a true step in (-1, 0), that the floor turns into a
  full -1); the bias ``sum(r) - sum(Delta / 2**lr_shift)`` per update; the clipped fraction.

A variant is a precision, a rounding of the learning-rate shift and preset overrides; the
rounding is applied by replacing ``ops.weight_update`` for the run (as saturation_ablation.py
does), so variants that the golden model does not (yet) implement can be measured.

    python docs/experiments/precision_drift.py --data-dir ../shared/data --epochs 3 \\
        --json drift-3ep.json 16-8-floor 8-8-floor 8-4-floor
    python docs/experiments/precision_drift.py --summarize drift-3ep.json ... \\
        --json docs/results/lr-rounding.json

(the runs behind docs/algorithm.md's evidence table: docs/results.md, "Table 4.3: why the floor
failed at 8 shadow bits, and the rounding").
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import intsnn.golden.ops as ops
from intsnn.golden.config import LR_ROUNDINGS, preset
from intsnn.golden.counter_hash import counter_hash
from intsnn.golden.model import IntSNN
from intsnn.sw.train import encode, evaluate, load_data


def round_shift(d: np.ndarray, k: int, mode: str, key=None) -> np.ndarray:
    """``Delta / 2**k`` rounded: ``floor`` (eq. 3.18 literal), ``nearest`` (half up),
    ``zero`` (toward zero, symmetric), ``pseudo`` (pseudo-stochastic: the low ``k // 2`` discarded
    bits, moved to the top of the discarded field, added before the shift), ``stochastic`` (``floor((d + u) / 2**k)``, ``u`` a hashed
    uniform integer in [0, 2**k); diagnostic only)."""
    if k == 0:
        return d
    if mode == "floor":
        return d >> k
    if mode == "nearest":
        return (d + (1 << (k - 1))) >> k
    if mode == "zero":
        return np.where(d < 0, -((-d) >> k), d >> k)
    if mode == "pseudo":  # NITI-style: the low half of the discarded bits as the random number
        m = k // 2
        return (d + ((d & ((1 << m) - 1)) << (k - m))) >> k
    if mode in ("shared", "weyl"):  # one hashed offset per layer and update (+ i * phi)
        u = int(counter_hash(*key)[0] >> np.uint64(64 - k))
        if mode == "shared":
            return (d + u) >> k
        phi = (0x9E3779B97F4A7C15 >> (64 - k)) | 1
        i = np.arange(d.size, dtype=np.int64).reshape(d.shape)
        return (d + ((u + i * phi) & ((1 << k) - 1))) >> k
    if mode == "stochastic":
        u = (counter_hash(*key, np.arange(d.size, dtype=np.int64)) >> np.uint64(64 - k))
        return (d + u.astype(np.int64).reshape(d.shape)) >> k
    raise ValueError(f"unknown rounding {mode!r}")


class Recorder:
    """Replaces ``ops.weight_update`` and accumulates per-layer update statistics."""

    KEYS = ("updates", "synapse_updates", "nonzero_delta", "r_le_-2", "r_-1", "r_0", "r_+1",
            "r_ge_2", "floor_artefact", "sub_lsb", "clipped", "bias_lsb", "sum_step")

    def __init__(self, cfg, rounding: str, seed: int):
        self.cfg, self.rounding, self.seed = cfg, rounding, seed
        self.hidden_shape = (cfg.n_hidden, cfg.n_in)
        self.calls = 0
        self.reset()

    def reset(self):
        self.stats = {layer: dict.fromkeys(self.KEYS, 0) for layer in ("hidden", "output")}

    def __call__(self, w, d, lr_shift, wd_shift, cfg, offset=0, decay_offset=0):
        w, d = ops.as_int(w), ops.as_int(d)
        layer = "hidden" if w.shape == self.hidden_shape else "output"
        self.calls += 1
        if self.rounding == "golden":  # the golden model's own offsets (cfg.lr_rounding)
            r = (d + ops.as_int(offset)) >> lr_shift
        else:
            r = round_shift(d, lr_shift, self.rounding,
                            key=(self.seed, self.calls, layer == "hidden"))
        step = ops.clip(r, cfg.clip)
        st = self.stats[layer]
        nz = d != 0
        st["updates"] += 1
        st["synapse_updates"] += d.size
        st["nonzero_delta"] += int(nz.sum())
        rn = r[nz]
        st["r_le_-2"] += int((rn <= -2).sum())
        st["r_-1"] += int((rn == -1).sum())
        st["r_0"] += int((rn == 0).sum())
        st["r_+1"] += int((rn == 1).sum())
        st["r_ge_2"] += int((rn >= 2).sum())
        lim = 1 << lr_shift
        st["sub_lsb"] += int((nz & (np.abs(d) < lim)).sum())
        st["floor_artefact"] += int(((d < 0) & (d > -lim) & (r == -1)).sum())
        st["clipped"] += int((np.abs(r) > cfg.clip).sum())
        st["bias_lsb"] += float(r[nz].sum() - d[nz].sum() / lim)
        st["sum_step"] += int(step.sum())
        decay = ((w + ops.as_int(decay_offset)) >> wd_shift) if wd_shift is not None else 0
        return np.clip(w - step - decay, cfg.shadow_min, cfg.shadow_max)

    def summary(self) -> dict:
        out = {}
        for layer, st in self.stats.items():
            nz = max(1, st["nonzero_delta"])
            out[layer] = {
                "nonzero_delta_frac": st["nonzero_delta"] / max(1, st["synapse_updates"]),
                "r_dist": {k[2:]: st[k] / nz for k in ("r_le_-2", "r_-1", "r_0", "r_+1",
                                                        "r_ge_2")},
                "sub_lsb_frac": st["sub_lsb"] / nz,
                "floor_artefact_frac": st["floor_artefact"] / nz,
                "floor_artefact_share_of_r_-1": st["floor_artefact"] / max(1, st["r_-1"]),
                "clipped_frac": st["clipped"] / nz,
                "bias_lsb_per_nonzero_update": st["bias_lsb"] / nz,
                "mean_step_lsb": st["sum_step"] / nz,
            }
        return out


def weight_stats(w: np.ndarray, cfg) -> dict:
    full = 1 << (cfg.shadow_bits - 1)
    return {"mean_fs": float(w.mean() / full), "std_fs": float(w.std() / full),
            "upper_rail": float(np.mean(w >= cfg.shadow_max)),
            "lower_rail": float(np.mean(w <= cfg.shadow_min))}


def parse_variant(name: str):
    """``S-Q-rounding[-hH][-lrX][-olrY][-clipC][-rMODE]``: e.g. ``8-8-nearest``,
    ``8-4-floor-lr16``; rounding ``golden`` is the golden model's own (the preset's
    ``lr_rounding``, or ``MODE`` of ``-rMODE``)."""
    parts = name.split("-")
    s, q, rounding = int(parts[0]), int(parts[1]), parts[2]
    kw, over = {}, {}
    for p in parts[3:]:
        if p.startswith("h"):
            kw["headroom"] = int(p[1:])
        elif p.startswith("olr"):
            over["output_lr"] = int(p[3:])
        elif p.startswith("lr"):
            over["hidden_lr"] = int(p[2:])
        elif p.startswith("clip"):
            over["clip"] = int(p[4:])
        elif p.startswith("r") and p[1:] in LR_ROUNDINGS:
            over["lr_rounding"] = p[1:]
        else:
            raise ValueError(f"bad variant part {p!r} in {name!r}")
    cfg = preset("mnist-snn", s, q, **kw)
    ch = {}
    if "hidden_lr" in over:
        ch["hidden"] = cfg.hidden.__class__(cfg.hidden.threshold, cfg.hidden.window,
                                            over["hidden_lr"], cfg.hidden.wd_shift)
    if "output_lr" in over:
        ch["output"] = cfg.output.__class__(cfg.output.threshold, cfg.output.window,
                                            over["output_lr"], cfg.output.wd_shift)
    for k in ("clip", "lr_rounding"):
        if k in over:
            ch[k] = over[k]
    return cfg.replace(**ch), rounding


def run(name, train_d, val_d, epochs, seed) -> dict:
    cfg, rounding = parse_variant(name)
    rec = Recorder(cfg, rounding, seed)
    saved = ops.weight_update
    ops.weight_update = rec
    model = IntSNN(cfg, seed)
    hist = [{"epoch": 0, "hidden_w": weight_stats(model.weights.hidden, cfg),
             "output_w": weight_stats(model.weights.output, cfg)}]
    t0 = time.perf_counter()
    try:
        n = len(train_d.y)
        for epoch in range(epochs):
            rec.reset()
            perm = np.random.Generator(np.random.PCG64([seed, epoch])).permutation(n)
            correct = 0
            for s in range(0, n, cfg.batch_size):
                rows = perm[s:s + cfg.batch_size]
                pred = model.train_batch(encode(cfg, train_d, rows, seed, epoch), train_d.y[rows])
                correct += int(np.count_nonzero(pred == train_d.y[rows]))
            h = {"epoch": epoch + 1, "train_acc": correct / n,
                 "val_acc": evaluate(model, val_d, seed, progress=False),
                 "hidden_w": weight_stats(model.weights.hidden, cfg),
                 "output_w": weight_stats(model.weights.output, cfg),
                 "updates": rec.summary(), "seconds": round(time.perf_counter() - t0, 1)}
            hist.append(h)
            hu, ou = h["updates"]["hidden"], h["updates"]["output"]
            print(f"{name:28s} ep {epoch + 1:2d} train {100 * h['train_acc']:.2f} "
                  f"val {100 * h['val_acc']:.2f} | hid W mean {h['hidden_w']['mean_fs']:+.3f} "
                  f"rail+ {100 * h['hidden_w']['upper_rail']:.1f}% "
                  f"artefact {100 * hu['floor_artefact_frac']:.1f}% "
                  f"sub-LSB {100 * hu['sub_lsb_frac']:.1f}% bias {hu['bias_lsb_per_nonzero_update']:+.3f} "
                  f"| out W mean {h['output_w']['mean_fs']:+.3f} "
                  f"artefact {100 * ou['floor_artefact_frac']:.1f}% "
                  f"clipped {100 * ou['clipped_frac']:.1f}% [{h['seconds']:.0f} s]", flush=True)
    finally:
        ops.weight_update = saved
    return {"variant": name, "seed": seed, "config": cfg.to_dict(), "rounding": rounding,
            "history": hist}


def summarize(paths, out) -> dict:
    """One row per (variant, seed) of this script's JSON files ``paths``: epochs, final validation
    accuracy, hidden shadow weights after the last epoch, and the hidden-update statistics of the
    first and last epochs (what docs/algorithm.md's evidence table cites)."""
    rows = []
    for path in paths:
        with open(path) as f:
            d = json.load(f)
        for r in d["results"]:
            first, last = r["history"][1], r["history"][-1]
            rows.append({
                "file": os.path.basename(path), "variant": r["variant"], "seed": r["seed"],
                "rounding": r["rounding"], "lr_rounding": r["config"].get("lr_rounding", "floor"),
                "epochs": last["epoch"], "val_acc": last["val_acc"],
                "hidden_w_mean_fs": last["hidden_w"]["mean_fs"],
                "hidden_w_upper_rail": last["hidden_w"]["upper_rail"],
                "hidden_updates_epoch1": first["updates"]["hidden"],
                "hidden_updates_last": last["updates"]["hidden"],
                "output_clipped_epoch1": first["updates"]["output"]["clipped_frac"]})
    res = {"preset": "mnist-snn", "split": "val", "source": "docs/experiments/precision_drift.py",
           "rows": rows}
    if out:
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(res, f, indent=1)
        os.replace(tmp, out)
    print("| variant | seed | epochs | val % | hidden W mean (fs) | upper rail | artefact ep1 | "
          "bias LSB/update ep1 |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        u = r["hidden_updates_epoch1"]
        print(f"| {r['variant']} | {r['seed']} | {r['epochs']} | {100 * r['val_acc']:.2f} | "
              f"{r['hidden_w_mean_fs']:+.3f} | {100 * r['hidden_w_upper_rail']:.1f} % | "
              f"{100 * u['floor_artefact_frac']:.1f} % | "
              f"{u['bias_lsb_per_nonzero_update']:+.3f} |")
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="*",
                    help="S-Q-rounding[-hH][-lrX][-olrY][-clipC][-rMODE]")
    ap.add_argument("--data-dir")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    ap.add_argument("--summarize", nargs="+", metavar="JSON",
                    help="no training: one table (and with --json one file) of these outputs")
    a = ap.parse_args(argv)
    if a.summarize:
        summarize(a.summarize, a.json)
        return 0
    if not a.variants or not a.data_dir:
        ap.error("variants and --data-dir are needed to train")
    for v in a.variants:
        parse_variant(v)  # fail before any training
    train_d = load_data("mnist-snn", "train", a.data_dir)
    val_d = load_data("mnist-snn", "val", a.data_dir)
    results = []
    for v in a.variants:
        results.append(run(v, train_d, val_d, a.epochs, a.seed))
        if a.json:  # after every variant, so a long list loses nothing
            tmp = a.json + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"preset": "mnist-snn", "split": "val", "results": results}, f,
                          indent=1)
            os.replace(tmp, a.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
