"""How every ``intsnn`` entry point ends: a result, one line of error, or one line on Ctrl-C.

:func:`run_command` wraps the body of a command.  Bad input and output problems print
``<prog>: error: <one line>`` and return 2; Ctrl-C prints ``<prog>: interrupted`` (with
``; resume with the same command`` for commands that checkpoint) and returns 130, the status a
shell gives a process stopped by SIGINT.  No traceback reaches the user for either; programming
errors still raise.  Outputs are written atomically (:mod:`intsnn.sw.outputs`), so an interrupted
command leaves no partial file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from .outputs import OutputError

__all__ = ["run_command", "one_line", "USER_ERRORS", "EXIT_ERROR", "EXIT_INTERRUPTED",
           "RESUME_HINT"]

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
RESUME_HINT = "resume with the same command"

#: Exceptions that mean "the input or the environment is wrong" (message for the user).
USER_ERRORS: tuple[type[BaseException], ...] = (OutputError, ValueError, TypeError, OSError)


def one_line(exc: BaseException) -> str:
    """The exception's message on one line (continuation lines joined with ``; ``)."""
    text = str(exc).strip() or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return "; ".join(lines)


def run_command(prog: str, body: Callable[[], int], *, resumable: bool = False,
                errors: tuple[type[BaseException], ...] = ()) -> int:
    """Run ``body()`` and turn user errors and Ctrl-C into one line on stderr.

    Parameters
    ----------
    prog : str
        Shown in front of the message, e.g. ``"intsnn train"``.
    body : callable
        Returns the exit status.
    resumable : bool
        The command checkpoints: Ctrl-C says ``resume with the same command``.
    errors : tuple of exception types
        Further exceptions that are user errors for this command (e.g. a missing simulator).
    """
    try:
        return body()
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted" + (f"; {RESUME_HINT}" if resumable else ""),
              file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except (*USER_ERRORS, *errors) as exc:
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr, flush=True)
        return EXIT_ERROR
