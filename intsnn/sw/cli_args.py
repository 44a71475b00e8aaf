"""Command-line options that several ``intsnn`` commands share, each defined once.

``intsnn train``, ``generate``, ``cosim``, ``demo``, ``baseline``, ``sweep`` and ``export`` take
the same data folder, limits, batch size, seed, precision and mode options; their type, default
and help live here so that a fix (a checked value type, a clearer help text) reaches every
command.  :func:`add_common_args` adds them by name, in the order given; a command whose option
means something narrower changes only that option's ``help``/``default``/``required``/
``choices``/``nargs`` (``intsnn sweep``'s limits are per run)::

    add_common_args(p, "data_dir", "epochs", "train_limit", epochs={"default": 50})

Bottom layer of the command lines: it imports only :mod:`intsnn.sw.argtypes` (value types that
fail while parsing, naming the option), so the golden, hardware, simulation, sweep, baseline
and host commands may all use it.
"""

from __future__ import annotations

import argparse

from .argtypes import data_dir_arg, int_in, nonneg_int, positive_int

__all__ = ["COMMON", "PRECISION", "MODES", "DATA", "add_common_args"]

#: ``name -> (flag, argparse keywords)`` of every shared option.
COMMON: dict[str, tuple[str, dict]] = {
    "preset": ("--preset", dict(required=True, help="network and hyper-parameters")),
    "data_dir": ("--data-dir", dict(
        type=data_dir_arg, default=None,
        help="folder with the MNIST IDX files or a <name>_train.h5 + <name>_test.h5 pair "
             "(default: $INTSNN_DATA, else the embedded real subset)")),
    "data_name": ("--data-name", dict(
        default=None, help="which SHD-format pair to use when the data folder holds several, "
                           "e.g. fsdd_lauscher (default: shd, else the only pair)")),
    "epochs": ("--epochs", dict(type=positive_int, default=1, help="total epochs")),
    "train_limit": ("--train-limit", dict(
        type=positive_int, default=None,
        help="use this many training samples, spread over the split (default: all)")),
    "test_limit": ("--test-limit", dict(
        type=positive_int, default=None,
        help="use this many validation/test samples (default: all)")),
    "batch_size": ("--batch-size", dict(
        type=positive_int, default=None,
        help="samples per weight update (default: the preset's)")),
    "seed": ("--seed", dict(
        type=nonneg_int, default=0,
        help="seed of the initial weights, shuffling and rate coding (>= 0)")),
    "lanes": ("--lanes", dict(type=positive_int, default=4, help="synapses per cycle")),
    # precision (thesis Table D.2; docs/algorithm.md)
    "shadow_bits": ("--shadow-bits", dict(type=int_in(8, 16), default=16,
                                          help="S, shadow weight bits (8..16)")),
    "inference_bits": ("--inference-bits", dict(type=int_in(2, 16), default=8,
                                                help="Q, inference weight bits (2..S)")),
    "headroom": ("--headroom", dict(
        type=int_in(0, 6), default=None,
        help="bits (0..6) between the initial weights and the S-bit rails, with the "
             "hyper-parameters rescaled to match (default: the preset's, 1; 0 = Table D.2 read "
             "literally; see docs/algorithm.md 'Headroom')")),
    "lr_rounding": ("--lr-rounding", dict(
        choices=("floor", "nearest", "dither"), default=None,
        help="rounding of eq. 3.18's learning-rate and decay shifts (default: the preset's: "
             "floor at 16-bit shadow weights, dither below; the hardware implements floor "
             "only; docs/algorithm.md)")),
    "delta_sat_bits": ("--delta-sat-bits", dict(
        type=int_in(2, 62), default=None,
        help="batch delta registers of at most this many bits, saturating after each sample's "
             "term (default: exact widths; at least the width the clipped update can use; "
             "docs/algorithm.md 'Saturating delta accumulators')")),
    # error mode, loss and clip order (eqs. 3.6-3.16, 3.27): golden model and hardware
    "error": ("--error", dict(choices=("direct", "final", "feedback"), default=None,
                              help="error mode (default: the preset's, direct)")),
    "loss": ("--loss", dict(choices=("standard", "positive", "random"), default=None,
                            help="loss (default: the preset's, standard)")),
    "clip_order": ("--clip-order", dict(
        choices=("shift_then_clip", "clip_then_shift"), default=None,
        help="order of the update's shift and clip (default: the preset's)")),
    "rec_source": ("--rec-source", dict(
        choices=("pre_reset", "post_reset"), default=None,
        help="RSNN: the voltage of the previous step that feeds B16 (default: the preset's)")),
    # runs and their outputs
    "build_dir": ("--build-dir", dict(
        default=None, help="cache of generated Verilog and simulator builds (default: "
                           "$INTSNN_BUILD_DIR, else build/cosim)")),
    "no_resume": ("--no-resume", dict(
        action="store_true", help="start over even if OUT holds a checkpoint of this run")),
    "quiet": ("--quiet", dict(action="store_true", help="no progress bars")),
    "out": ("--out", dict(required=True, help="output folder")),
}

#: The precision options (S, Q, headroom, rounding, delta saturation), in help order.
PRECISION = ("shadow_bits", "inference_bits", "headroom", "lr_rounding", "delta_sat_bits")
#: The error mode, loss and clip-order options, in help order.
MODES = ("error", "loss", "clip_order", "rec_source")
#: The data folder and, for SHD-format folders holding several pairs, which pair.
DATA = ("data_dir", "data_name")

#: The keywords a command may change (never ``type``: one value check per option).
_CHANGEABLE = {"help", "default", "required", "choices", "nargs", "metavar"}


def add_common_args(parser: argparse.ArgumentParser, *names: str, **changes: dict) -> None:
    """Add the shared options ``names`` (keys of :data:`COMMON`) to ``parser``, in that order.

    Parameters
    ----------
    parser : argparse.ArgumentParser or argument group
        Where the options go.
    *names : str
        Keys of :data:`COMMON`.
    **changes : dict
        ``name={"help": ..., "default": ...}``: keywords of that option that differ for this
        command (only ``help``, ``default``, ``required``, ``choices``, ``nargs``, ``metavar``).

    Raises
    ------
    ValueError
        An unknown name, a change for an option not added, or a keyword that may not change.
    """
    unknown = [n for n in names if n not in COMMON]
    if unknown:
        raise ValueError(f"no shared option {unknown[0]!r}; choose from {', '.join(COMMON)}")
    stray = [n for n in changes if n not in names]
    if stray:
        raise ValueError(f"changes for {stray[0]!r}, which is not among the options added")
    for name in names:
        flag, spec = COMMON[name]
        change = changes.get(name, {})
        bad = sorted(set(change) - _CHANGEABLE)
        if bad:
            raise ValueError(f"{flag}: {bad[0]!r} cannot change (only "
                             f"{', '.join(sorted(_CHANGEABLE))})")
        parser.add_argument(flag, **{**spec, **change})
