"""Speed of the native Verilator harness against the cocotb bench, measured interleaved.

``python -m intsnn.sim.bench_native --preset mnist-snn --out docs/results/native-vs-cocotb.json``
runs the same training co-simulation (:func:`intsnn.sim.cosim.cosimulate`) alternately with
``--sim verilator`` (cocotb) and ``--sim verilator-native``, ``rounds`` times each, on one
build of the core (built before the first timed round), and prints each backend's simulated
cycles per second (simulated clock cycles over the bench's wall time: simulator and Python
together, simulator start-up excluded; and over the time blocked in the simulator only) and the
ratios of the medians.  It also checks that every
round of both gave the same per-sample results (the bench compares each with golden).  Timings on
a shared machine are noisy: only the ratio of interleaved runs means something.  Nothing is
asserted about speed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ..sw import outputs
from .cosim import HW_PRESETS, CosimOptions, cosimulate
from .native import NATIVE

__all__ = ["measure", "main"]

BACKENDS = ("verilator", NATIVE)


def measure(preset: str, rounds: int = 3, train_samples: int = 16, test_samples: int = 8,
            batch_size: int = 8, lanes: int = 4, n_hidden: int | None = None,
            data_dir=None, build_root=None) -> dict:
    """Interleaved runs of both backends; returns per-run figures and the median ratio."""
    over = {} if n_hidden is None else {"n_hidden": n_hidden}
    runs = {b: [] for b in BACKENDS}
    reference = None
    with tempfile.TemporaryDirectory(prefix="intsnn-bench-native-") as tmp:
        def one(backend, tag):
            o = CosimOptions(preset=preset, sim=backend, train_samples=train_samples,
                             test_samples=test_samples, batch_size=batch_size, lanes=lanes,
                             overrides=over, data_dir=data_dir, out=f"{tmp}/{backend}-{tag}",
                             build_root=build_root, quiet=True)
            return cosimulate(o)

        for b in BACKENDS:  # builds (cached afterwards), not timed
            one(b, "warm")
        for k in range(rounds):
            for b in BACKENDS:
                r = one(b, k)
                if r["status"] != "match":
                    raise RuntimeError(f"{b} round {k}: status {r['status']}")
                reference = reference or r["per_sample"]
                t = r["time"]
                runs[b].append({"round": k, "cycles": r["cycles"]["total_simulated"],
                                "bench_wall_s": t["bench_wall_s"],
                                "sim_blocked_s": t["sim_blocked_s"],
                                "sim_cycles_per_s": t["sim_cycles_per_s"],
                                "sim_cycles_per_s_blocked": t["sim_cycles_per_s_blocked"],
                                "same_results": r["per_sample"] == reference})
    med = {b: statistics.median(x["sim_cycles_per_s"] for x in runs[b]) for b in BACKENDS}
    blk = {b: statistics.median(x["sim_cycles_per_s_blocked"] for x in runs[b]) for b in BACKENDS}
    return {"preset": preset, "lanes": lanes, "n_hidden": n_hidden, "rounds": rounds,
            "train_samples": train_samples, "test_samples": test_samples,
            "batch_size": batch_size, "runs": runs, "median_sim_cycles_per_s": med,
            "ratio_native_over_cocotb": med[NATIVE] / med["verilator"],
            "median_sim_cycles_per_s_blocked": blk,
            "ratio_native_over_cocotb_blocked": blk[NATIVE] / blk["verilator"],
            "all_results_equal": all(x["same_results"] for b in BACKENDS for x in runs[b]),
            "method": __doc__.split("\n\n")[1].replace("\n", " ")}


def table(r: dict) -> str:
    lines = [f"{r['preset']} (lanes {r['lanes']}, n_hidden {r['n_hidden'] or 'preset'}), "
             f"{r['train_samples']} train + {r['test_samples']} test samples, B "
             f"{r['batch_size']}, {r['rounds']} interleaved rounds",
             "backend            simulated cycles/s (median)   per round"]
    for b in BACKENDS:
        per = ", ".join(f"{x['sim_cycles_per_s']:,.0f}" for x in r["runs"][b])
        lines.append(f"{b:<18} {r['median_sim_cycles_per_s'][b]:>14,.0f}                {per}")
    lines.append(f"ratio native / cocotb: {r['ratio_native_over_cocotb']:.2f}x (simulator and "
                 f"Python); {r['ratio_native_over_cocotb_blocked']:.2f}x counting only the time "
                 f"blocked in the simulator; identical results in every round: "
                 f"{r['all_results_equal']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m intsnn.sim.bench_native",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", choices=HW_PRESETS, default="mnist-snn")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--train-samples", type=int, default=16)
    ap.add_argument("--test-samples", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lanes", type=int, default=4)
    ap.add_argument("--n-hidden", type=int, default=None)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--build-dir", default=None)
    ap.add_argument("--out", default=None, help="JSON file for the results")
    a = ap.parse_args(argv)
    if a.out:
        outputs.check_out_file(a.out)
    t0 = time.perf_counter()
    r = measure(a.preset, a.rounds, a.train_samples, a.test_samples, a.batch_size, a.lanes,
                a.n_hidden, a.data_dir, a.build_dir)
    r["wall_s"] = time.perf_counter() - t0
    print(table(r))
    if a.out:
        outputs.write_json(a.out, r)
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
