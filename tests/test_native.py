"""The native Verilator harness (``--sim verilator-native``) against the cocotb bench.

Both run the same programs of ``intsnn/sim/benches/cosim_bench.py`` on the same ``tb_top``; the
training co-simulation must give the same result, bit for bit: every sample's counts,
prediction and cycle count, every weight after every update (checked against golden inside the
bench), and the same total of simulated clock cycles.
"""

from pathlib import Path

import pytest

from intsnn.sim.cosim import CosimOptions, cosimulate

BUILD = Path(__file__).resolve().parents[1] / "build" / "cosim"  # shared with test_cosim.py

pytestmark = pytest.mark.verilator


def _run(tmp_path, sim, **kw):
    o = CosimOptions(sim=sim, out=str(tmp_path / sim), build_root=str(BUILD), quiet=True,
                     seed=0, **kw)
    return cosimulate(o)


@pytest.mark.parametrize("kw", [
    # test_cosim.py's Verilator mnist-snn case: its cocotb build is reused
    pytest.param(dict(preset="mnist-snn", train_samples=8, test_samples=4, batch_size=4,
                      overrides={"n_hidden": 16}), id="mnist-snn"),
    pytest.param(dict(preset="shd-rsnn", train_samples=8, test_samples=4, batch_size=3,
                      shadow_bits=8, inference_bits=4,
                      overrides={"n_hidden": 16, "lr_rounding": "floor"}),
                 id="shd-rsnn", marks=pytest.mark.slow),
])
def test_native_harness_is_bit_exact_with_cocotb(tmp_path, kw):
    a = _run(tmp_path, "verilator", **kw)
    b = _run(tmp_path, "verilator-native", **kw)
    assert a["status"] == b["status"] == "match"
    assert b["checked"] == a["checked"] and b["checked"]["updates"] >= 2
    assert b["per_sample"] == a["per_sample"]
    assert b["cycles"]["total_simulated"] == a["cycles"]["total_simulated"]
    assert b["programs"] == a["programs"]
    assert b["simulator"]["cocotb"] is None


def test_native_waves_are_refused_in_one_line(tmp_path):
    with pytest.raises(ValueError, match="--waves needs --sim verilator or icarus"):
        _run(tmp_path, "verilator-native", preset="mnist-snn", waves=True)


def test_overlap_check_finds_a_wrong_count(tmp_path, monkeypatch):
    """The double-buffered cycle check can fail: with a formula one cycle off, the bench (run
    in this process by the native harness) stops at the first sample with an overlap_cycles
    mismatch, after counts, prediction and CYCLES matched."""
    from intsnn.hw import cycles
    right = cycles.overlap_cycles
    monkeypatch.setattr(cycles, "overlap_cycles", lambda *a, **k: right(*a, **k) + 1)
    r = _run(tmp_path, "verilator-native", preset="mnist-snn", train_samples=2, test_samples=0,
             batch_size=2, overrides={"n_hidden": 16})
    assert r["status"] == "mismatch" and r["mismatch_count"] == 1
    m = r["mismatches"][0]
    assert (m["phase"], m["sample"], m["signal"]) == ("train", 0, "overlap_cycles")
    assert m["actual"] == m["expected"] - 1 and "double-buffered" in r["diagnosis"]["note"]
