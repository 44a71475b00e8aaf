"""argparse value types: a bad value fails while parsing, with argparse naming the option.

``--seed -1`` gives ``intsnn train: error: argument --seed: must be >= 0, got -1`` instead of an
error from deep inside the encoder, and a zero that ``x or default`` would silently replace
(``--n-hidden 0``) never reaches the code.
"""

from __future__ import annotations

import argparse

__all__ = ["HelpFormatter", "positive_int", "nonneg_int", "nonneg_float", "int_in",
           "data_dir_arg"]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows every default; a ``None``/``False`` default is left to the help text,
    which says what it means (``default: the preset's``) instead of printing ``None``."""

    def _get_help_string(self, action):
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1."""
    v = _int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def nonneg_int(text: str) -> int:
    """An integer >= 0."""
    v = _int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def nonneg_float(text: str) -> float:
    """A finite number >= 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return v


def int_in(lo: int, hi: int):
    """An integer in ``lo..hi`` (both included)."""

    def parse(text: str) -> int:
        v = _int(text)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be in {lo}..{hi}, got {v}")
        return v

    parse.__name__ = f"integer {lo}..{hi}"
    return parse


def data_dir_arg(text: str) -> str:
    """A data folder name; an empty string is an error, not "use the default"."""
    if text.strip() == "":
        raise argparse.ArgumentTypeError("is empty: name a folder, or leave the option out "
                                         "to use $INTSNN_DATA or the embedded subset")
    return text
