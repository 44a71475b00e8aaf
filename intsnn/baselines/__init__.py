"""Float baselines of the integer rule: the thesis's FP32 online rule and surrogate-gradient BPTT.

Everything here needs the optional ``torch`` extra (torch and spikingjelly); the modules import
torch lazily so that ``import intsnn.baselines`` and the core install never need it.
:func:`require_torch` turns a missing install into one line naming the extra.
"""

from __future__ import annotations

__all__ = ["METHODS", "TORCH_HINT", "require_torch"]

#: Float training methods of ``intsnn baseline`` (``integer`` is ``intsnn train``).
METHODS = ("fp32-online", "bptt")

TORCH_HINT = ("needs the optional torch extra: pip install -e '.[torch]' && pip install "
              "--no-deps spikingjelly==2.0.0 (see the README's install section)")


def require_torch(what: str = "intsnn baseline", spikingjelly: bool = False):
    """Import and return ``torch``, or raise :class:`ImportError` with a one-line hint.

    Parameters
    ----------
    what : str
        The command or function that needs torch, named in the message.
    spikingjelly : bool
        Also require spikingjelly's neuron and surrogate modules (never its dataset module,
        which needs torchvision).
    """
    import logging
    # torch warns once per process that triton (a GPU compiler) is missing: not an error on CPU
    logging.getLogger("torch._library.triton").setLevel(logging.ERROR)
    try:
        import torch
        if spikingjelly:
            from spikingjelly.activation_based import neuron, surrogate  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{what} {TORCH_HINT} [{exc}]") from None
    return torch
