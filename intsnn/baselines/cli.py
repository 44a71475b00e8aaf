"""The ``intsnn baseline`` subcommand (parser and runner, kept out of ``intsnn/sw/cli.py``)."""

from __future__ import annotations

from ..sw.argtypes import positive_int
from ..sw.cli_args import add_common_args
from . import METHODS

__all__ = ["add_parser", "run"]


def add_parser(sub, presets) -> None:
    b = sub.add_parser("baseline", help="train a float baseline (FP32 online rule or BPTT; "
                                        "needs the torch extra)")
    b.add_argument("--method", required=True, choices=METHODS,
                   help="fp32-online: the thesis's FP32 online rule (torch); bptt: surrogate-"
                        "gradient BPTT with spikingjelly LIF neurons")
    add_common_args(b, "preset", "data_dir", "epochs", "train_limit", "test_limit",
                    "batch_size", "seed", "error", preset={"choices": presets},
                    error={"help": "fp32-online error propagation (default feedback, thesis "
                                   "section 4.2)"})
    b.add_argument("--trace-mode", choices=("deferred", "online"), default="deferred",
                   help="fp32-online: evaluate the weight trace after the pass (fast) or "
                        "accumulate it every step (memory independent of T)")
    b.add_argument("--threads", type=positive_int, default=None,
                   help="torch threads (default: torch's)")
    add_common_args(b, "no_resume", "quiet", "out")
    b.set_defaults(run=run)


def run(a) -> int:
    from ..sw.command import run_command

    def body() -> int:
        from ..sw.train import summary_table
        from .run import run_baseline
        m = run_baseline(a.method, a.preset, a.out, a.data_dir, a.epochs, a.train_limit,
                         a.test_limit, a.batch_size, a.seed, a.error, resume=not a.no_resume,
                         progress=not a.quiet, trace_mode=a.trace_mode, threads=a.threads)
        print(summary_table(m))
        print(f"wrote {a.out}/metrics.json and {a.out}/weights.npz")
        return 0
    return run_command("intsnn baseline", body, resumable=True, errors=(ImportError,))
