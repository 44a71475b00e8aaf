"""``intsnn cosim`` and ``intsnn demo`` (called from :mod:`intsnn.sw.cli`)."""

from __future__ import annotations

import os

from ..sw.datadir import EMBEDDED, ENV_VAR
from .cosim import CosimOptions, cosimulate, summary_table

__all__ = ["run_cosim", "run_demo", "DEMO"]

#: ``intsnn demo``: mnist-snn on the embedded real subset: 16 weight updates, enough for the
#: hardware to learn visibly.  8 lanes (the presets' default is 4) halve the simulated cycles,
#: which dominate the run: about a minute on a quiet 2-core machine (docs/results.md).
DEMO = dict(preset="mnist-snn", train_samples=256, test_samples=128, batch_size=16, seed=0,
            lanes=8)


def _run(o: CosimOptions, energy_table: bool = False) -> int:
    r = cosimulate(o)
    print(summary_table(r))
    if energy_table and r.get("energy"):
        from ..hw.energy import format_energy
        print(format_energy(r["energy"], f"({r['energy']['samples']} co-simulated training "
                                         "samples)"))
    print(f"wrote {o.out}/report.json (simulator output: {r['sim_log']})")
    return 0 if r["status"] == "match" else 1


def _overrides(a) -> dict:
    """Config overrides from the command line (``make_config`` passes them to ``preset``)."""
    over = {}
    if getattr(a, "n_hidden", None) is not None:
        over["n_hidden"] = a.n_hidden
    if getattr(a, "headroom", None) is not None:
        over["headroom"] = a.headroom
    for opt, field in (("lr_rounding", "lr_rounding"), ("error", "error_mode"), ("loss", "loss"),
                       ("clip_order", "clip_order"), ("rec_source", "rec_source"),
                       ("delta_sat_bits", "delta_sat_bits")):
        if getattr(a, opt, None) is not None:
            over[field] = getattr(a, opt)
    return over


#: Options of the training co-simulation that the inference mode (--weights) has no use for.
_TRAINING_ONLY = {"train_samples": ("--train-samples", 64), "waves": ("--waves", False),
                  "no_resume": ("--no-resume", False), "checkpoint_every": ("--checkpoint-every",
                                                                            30.0)}
_INFERENCE_ONLY = {"workers": ("--workers", 2), "address": ("--address", None),
                   "shard_size": ("--shard-size", None)}


def _refuse(a, options: dict, mode: str):
    for attr, (flag, default) in options.items():
        if getattr(a, attr, default) != default:
            raise ValueError(f"{flag} has no effect {mode}")


def run_infer(a) -> int:
    from .infer import InferOptions, infer, summary_table as infer_table
    _refuse(a, {k: v for k, v in _TRAINING_ONLY.items() if k != "no_resume"},
            "with --weights (inference mode)")
    o = InferOptions(weights=a.weights, preset=a.preset, sim=a.sim, data_dir=a.data_dir,
                     data_name=a.data_name, test_samples=a.test_samples, lanes=a.lanes,
                     shadow_bits=a.shadow_bits, inference_bits=a.inference_bits,
                     batch_size=a.batch_size, overrides=_overrides(a), seed=a.seed,
                     workers=a.workers, address=a.address, shard_size=a.shard_size, out=a.out,
                     build_root=a.build_dir, hw_dir=a.hw_dir, resume=not a.no_resume,
                     bus=a.bus, stream_gap=a.stream_gap)
    r = infer(o)
    print(infer_table(r))
    print(f"wrote {o.out}/report.json")
    return 0 if r["status"] == "match" else 1


def run_cosim(a) -> int:
    if getattr(a, "weights", None) is not None:
        return run_infer(a)
    _refuse(a, _INFERENCE_ONLY, "without --weights (training mode)")
    o = CosimOptions(preset=a.preset, sim=a.sim, data_dir=a.data_dir,
                     train_samples=a.train_samples,
                     test_samples=64 if a.test_samples is None else a.test_samples,
                     batch_size=a.batch_size, lanes=a.lanes, shadow_bits=a.shadow_bits,
                     inference_bits=a.inference_bits, seed=0 if a.seed is None else a.seed,
                     waves=a.waves, out=a.out,
                     hw_dir=a.hw_dir, build_root=a.build_dir, overrides=_overrides(a),
                     data_name=a.data_name, resume=not a.no_resume,
                     checkpoint_every_s=a.checkpoint_every, bus=a.bus, stream_gap=a.stream_gap)
    return _run(o, energy_table=True)


def run_demo(a) -> int:
    o = CosimOptions(sim=a.sim, out=a.out, data_dir=EMBEDDED, build_root=a.build_dir, **DEMO)
    note = (f" (${ENV_VAR} is ignored: the demo always uses the embedded subset; use intsnn "
            f"cosim --data-dir for real files)" if os.environ.get(ENV_VAR) else "")
    print(f"intsnn demo: co-simulating {o.preset} training (lanes {o.lanes}) on "
          f"{o.train_samples} + {o.test_samples} samples of the embedded real MNIST subset "
          f"(batch {o.batch_size}) under {o.sim}{note}", flush=True)
    return _run(o)
