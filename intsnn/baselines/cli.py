"""The ``intsnn baseline`` subcommand (parser and runner, kept out of ``intsnn/sw/cli.py``)."""

from __future__ import annotations

from ..sw.argtypes import data_dir_arg, nonneg_int, positive_int
from . import METHODS

__all__ = ["add_parser", "run"]


def add_parser(sub, presets) -> None:
    b = sub.add_parser("baseline", help="train a float baseline (FP32 online rule or BPTT; "
                                        "needs the torch extra)")
    b.add_argument("--method", required=True, choices=METHODS,
                   help="fp32-online: the thesis's FP32 online rule (torch); bptt: surrogate-"
                        "gradient BPTT with spikingjelly LIF neurons")
    b.add_argument("--preset", required=True, choices=presets,
                   help="network and hyper-parameters")
    b.add_argument("--data-dir", type=data_dir_arg, default=None,
                   help="as for intsnn train (default: $INTSNN_DATA, else the embedded subset)")
    b.add_argument("--epochs", type=positive_int, default=1, help="total epochs")
    b.add_argument("--train-limit", type=positive_int, default=None,
                   help="use this many training samples (default: all)")
    b.add_argument("--test-limit", type=positive_int, default=None,
                   help="use this many validation/test samples (default: all)")
    b.add_argument("--batch-size", type=positive_int, default=None,
                   help="samples per weight update (default: the preset's)")
    b.add_argument("--seed", type=nonneg_int, default=0, help="seed (>= 0)")
    b.add_argument("--error", choices=("direct", "final", "feedback"), default=None,
                   help="fp32-online error propagation (default feedback, thesis section 4.2)")
    b.add_argument("--trace-mode", choices=("deferred", "online"), default="deferred",
                   help="fp32-online: evaluate the weight trace after the pass (fast) or "
                        "accumulate it every step (memory independent of T)")
    b.add_argument("--threads", type=positive_int, default=None,
                   help="torch threads (default: torch's)")
    b.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.add_argument("--out", required=True, help="output folder")
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
