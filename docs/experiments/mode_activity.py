"""How much the error modes and losses of co-simulation runs were exercised (golden side).

For each ``report.json`` of ``intsnn cosim``: the same training samples, initial weights, batches
and noise keys as the run, through the golden model, counting per training sample what the new
hardware had to get right: error entries that were 0 under the standard loss at the end of the
sample (replaced by 1 or by noise), noise values drawn that were not 0 (Feedback mode: of every
error-neuron step), non-zero ``v_fb_out`` entries (for Final/Feedback the error neurons' spike
differences).  Prints a table; ``--json`` also writes it.

    python docs/experiments/mode_activity.py runs/modes/*/report.json --json docs/results/x.json
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from intsnn.golden import ops
from intsnn.golden.config import NetConfig
from intsnn.golden.model import IntSNN, loss_rng_bits
from intsnn.sim.cosim import CosimOptions, load_samples
from intsnn.sw import outputs


def activity(report: dict) -> dict:
    cfg = NetConfig.from_dict(report["config"])
    data = report["data"]
    o = CosimOptions(preset=report["preset"], data_dir=data.get("data_dir"),
                     data_name=data.get("name"), train_samples=data["train_samples"],
                     test_samples=0, batch_size=cfg.batch_size, seed=report["seed"],
                     shadow_bits=cfg.shadow_bits, inference_bits=cfg.inference_bits,
                     overrides={k: report["config"][k] for k in (
                         "n_hidden", "error_mode", "loss", "clip_order", "rec_source")})
    c2, x, y, *_ = load_samples(o)
    diff = {k for k, v in c2.to_dict().items() if report["config"].get(k, v) != v}
    assert not diff, f"the samples' config differs from the report's in {sorted(diff)}"
    net = IntSNN(cfg, report["seed"])
    B = cfg.batch_size
    zero_e = nonzero_noise = nonzero_vfb = entries = 0
    for s in range(0, len(y), B):
        for p, j in enumerate(range(s, min(s + B, len(y)))):
            rec = net.run_sample(x[j], int(y[j]), position=p)
            e_std = ops.prediction_error(rec.counts[None], np.array([y[j]]),
                                         cfg.replace(loss="standard"))[0]
            zero_e += int((e_std == 0).sum())
            if cfg.loss == "random":
                bits = loss_rng_bits(cfg, net.seed, net.updates, [p])[0]
                if cfg.error_mode == "feedback":   # the steps the error neurons run
                    bits = bits[cfg.soft_error_start:]
                nonzero_noise += int((bits != 0).sum())
            nonzero_vfb += int((rec.vfb_output != 0).sum())
            entries += cfg.n_out
        net.update(*net.batch_deltas(x[s:s + B], y[s:s + B])[:2])
    return {"run": report["preset"], "error_mode": cfg.error_mode, "loss": cfg.loss,
            "clip_order": cfg.clip_order, "rec_source": cfg.rec_source,
            "simulator": report["simulator"]["name"],
            "train_samples": len(y), "error_entries": entries,
            "zero_standard_error": zero_e, "nonzero_noise": nonzero_noise,
            "nonzero_vfb_output": nonzero_vfb}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    if a.json:
        outputs.check_out_file(a.json, "--json")
    rows = [dict(activity(json.loads(open(p).read())), report=p) for p in a.reports]
    print(f"{'run':10s} {'mode':9s} {'loss':9s} {'sim':9s} {'n':>3s} {'entries':>8s} "
          f"{'e=0 std':>8s} {'noise!=0':>8s} {'vfb!=0':>7s}")
    for r in rows:
        print(f"{r['run']:10s} {r['error_mode']:9s} {r['loss']:9s} {r['simulator']:9s} "
              f"{r['train_samples']:3d} {r['error_entries']:8d} {r['zero_standard_error']:8d} "
              f"{r['nonzero_noise']:8d} {r['nonzero_vfb_output']:7d}")
    if a.json:
        outputs.write_json(a.json, {"rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
