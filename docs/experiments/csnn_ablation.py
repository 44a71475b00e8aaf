"""Why the CSNN's accuracy falls after ~15 epochs: the ablation of docs/results.md ("MNIST CSNN").

Not part of the package.  Each variant trains ``mnist-csnn`` (MP 16-8, Direct, batch 128) for
``--epochs`` epochs with one seed through ``intsnn.sw.train.train`` (validation and test
accuracy after every epoch; decisions are taken on the validation split only).  Variants that
are not configurations (a frozen kernel) replace a golden-model function for the duration of
the run.  Runs are resumable: each lives in ``OUT_ROOT/<variant>-s<seed>``.

    python docs/experiments/csnn_ablation.py --data-dir ../shared/data --epochs 20 \\
        --out-root /work/runs/csnn/ablation --json docs/results/csnn-ablation.json [variant ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path

import intsnn.golden.reference as ref
from intsnn.golden.config import LayerParams, preset
from intsnn.golden.init import Weights
from intsnn.sw.train import train

_BASE = preset("mnist-csnn", headroom=0)


def _apply_update_kernel_frozen(cfg, w, d_hid, d_out):
    """Eq. 3.18 on the output layer only: the kernel keeps its initial (random) values."""
    new = _APPLY_UPDATE(cfg, w, d_hid, d_out)
    return Weights(w.hidden.copy(), new.output, new.recurrent)


_APPLY_UPDATE = ref.apply_update


def _layer(p: LayerParams, **kw) -> LayerParams:
    return LayerParams(**{**p.__dict__, **kw})


#: Table D.2's output layer: no weight decay (the preset adds 2**-12, docs/algorithm.md).
_D2_OUT = _layer(_BASE.output, wd_shift=None)

#: name -> (description, train() keyword overrides, golden functions replaced during the run)
VARIANTS = {
    "literal": ("Table D.2 read literally (headroom 0)", {"headroom": 0, "output": _D2_OUT}, {}),
    "headroom-1": ("headroom 1 (Table D.2 rescaled, weights on 15 bits)",
                   {"headroom": 1,
                    "output": _layer(preset("mnist-csnn", headroom=1).output, wd_shift=None)},
                   {}),
    "kernel-frozen": ("headroom 0, the kernel never updated (random conv features)",
                      {"headroom": 0, "output": _D2_OUT},
                      {"apply_update": _apply_update_kernel_frozen}),
    "clip-then-shift": ("headroom 0, eq. 3.27 before 3.18 (kernel steps in {-1, 0})",
                        {"headroom": 0, "clip_order": "clip_then_shift", "output": _D2_OUT}, {}),
    "hidden-lr-17": ("headroom 0, kernel learning rate 2**-17 (Table D.2: 2**-15)",
                     {"headroom": 0, "hidden": _layer(_BASE.hidden, lr_shift=17),
                      "output": _D2_OUT}, {}),
    "output-decay-12": ("headroom 0, output weight decay 2**-12 (Table D.2: none; the preset)",
                        {"headroom": 0}, {}),
    "output-lr-half": ("headroom 0, output learning rate 0.5 (Table D.2: 1; MNIST SNN: 0.5)",
                       {"headroom": 0, "output": _layer(_D2_OUT, lr_shift=1)}, {}),
}


@contextlib.contextmanager
def _replaced(funcs: dict):
    saved = ref.apply_update
    try:
        if "apply_update" in funcs:
            ref.apply_update = funcs["apply_update"]
        yield
    finally:
        ref.apply_update = saved


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS),
                    metavar="variant", help=f"any of {', '.join(VARIANTS)} (default: all)")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-root", required=True, help="run folders (outside git)")
    ap.add_argument("--json", default=None, help="merge the results into this file")
    a = ap.parse_args(argv)
    if a.json and not os.access(os.path.dirname(os.path.abspath(a.json)), os.W_OK):
        raise SystemExit(f"cannot write {a.json}")
    results = {}
    if a.json and Path(a.json).exists():
        with open(a.json) as f:
            results = json.load(f)
    for name in a.variants:
        desc, overrides, funcs = VARIANTS[name]
        out = Path(a.out_root) / f"{name}-s{a.seed}"
        with _replaced(funcs):
            m = train("mnist-csnn", out, a.data_dir, epochs=a.epochs, seed=a.seed, **overrides)
        hist = m["history"]
        results[f"{name}-s{a.seed}"] = {
            "variant": name, "description": desc, "seed": a.seed, "epochs": a.epochs,
            "command_overrides": {k: str(v) for k, v in overrides.items()},
            "val_acc": [h["val_acc"] for h in hist], "test_acc": [h["test_acc"] for h in hist],
            "train_acc": [h["train_acc"] for h in hist]}
        val = [h["val_acc"] for h in hist]
        best = max(range(len(val)), key=val.__getitem__)
        print(f"{name}: val best {100 * val[best]:.2f} % (epoch {best + 1}), final "
              f"{100 * val[-1]:.2f} %; train final {100 * hist[-1]['train_acc']:.2f} %",
              flush=True)
        if a.json:
            tmp = a.json + ".tmp"
            with open(tmp, "w") as f:
                json.dump(results, f, indent=1)
            os.replace(tmp, a.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
