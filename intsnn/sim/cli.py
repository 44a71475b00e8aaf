"""``intsnn cosim`` and ``intsnn demo`` (called from :mod:`intsnn.sw.cli`)."""

from __future__ import annotations

import sys

from .cosim import CosimOptions, cosimulate, errors, summary_table

__all__ = ["run_cosim", "run_demo", "DEMO"]

#: ``intsnn demo``: mnist-snn on the embedded real subset, a few minutes on 2 cores.
DEMO = dict(preset="mnist-snn", train_samples=256, test_samples=128, batch_size=16, seed=0)


def _run(o: CosimOptions, name: str) -> int:
    try:
        r = cosimulate(o)
    except errors() as e:
        print(f"intsnn {name}: error: {e}", file=sys.stderr)
        return 2
    print(summary_table(r))
    print(f"wrote {o.out}/report.json")
    return 0 if r["status"] == "match" else 1


def _overrides(a) -> dict:
    """Config overrides from the command line (``make_config`` passes them to ``preset``)."""
    over = {}
    if getattr(a, "n_hidden", None):
        over["n_hidden"] = a.n_hidden
    if getattr(a, "headroom", None) is not None:
        over["headroom"] = a.headroom
    return over


def run_cosim(a) -> int:
    o = CosimOptions(preset=a.preset, sim=a.sim, data_dir=a.data_dir,
                     train_samples=a.train_samples, test_samples=a.test_samples,
                     batch_size=a.batch_size, lanes=a.lanes, shadow_bits=a.shadow_bits,
                     inference_bits=a.inference_bits, seed=a.seed, waves=a.waves, out=a.out,
                     hw_dir=getattr(a, "hw_dir", None), build_root=getattr(a, "build_dir", None),
                     overrides=_overrides(a))
    return _run(o, "cosim")


def run_demo(a) -> int:
    o = CosimOptions(sim=a.sim, out=a.out, data_dir=None, **DEMO)
    print(f"intsnn demo: co-simulating {o.preset} training on {o.train_samples} + "
          f"{o.test_samples} embedded real MNIST samples (batch {o.batch_size}) under {o.sim}")
    return _run(o, "demo")
