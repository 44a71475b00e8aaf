"""Co-simulation of the generated core against the golden model (cocotb, Verilator and Icarus).

The cocotb bench is ``intsnn/sim/benches/cosim_bench.py`` (not collected by pytest); these tests run
the whole ``intsnn cosim`` flow (``intsnn.sim.cosim.cosimulate``) on real samples of the
embedded subsets with small hidden layers, so the default run stays within a few minutes on 2
cores.  Builds are cached in ``build/cosim`` (keyed by config, lanes and generator source).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from intsnn.hw import host_protocol as hp
from intsnn.sim import tb
from intsnn.sim.cosim import CosimOptions, cosimulate
from intsnn.sim.tools import SimulatorNotFound, find_simulator
from intsnn.sw.cli import main

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "cosim"


def _need(sim):
    try:
        find_simulator(sim)
    except SimulatorNotFound as e:
        pytest.skip(str(e))


def _opts(tmp_path, **kw):
    base = dict(train_samples=6, test_samples=3, batch_size=3, seed=0, out=str(tmp_path / "out"),
                build_root=str(BUILD), quiet=True)
    base.update(kw)
    return CosimOptions(**base)


# ---------------------------------------------------------------------- no simulator needed
@pytest.mark.parametrize("input_bits,lanes,n", [(1, 4, 784), (8, 4, 175), (8, 16, 175),
                                                 (1, 1, 10), (3, 8, 33), (8, 64, 175)])
def test_pack_beats_matches_host_protocol(input_bits, lanes, n):
    x = np.random.default_rng(lanes).integers(0, 1 << input_bits, size=(4, n))
    assert tb.pack_beats(x, input_bits, lanes) == hp.pack_frames(x, input_bits, lanes)


def test_program_text_and_output_parsing():
    p = tb.Program(lanes=4, input_bits=8)
    p.stream([0x01020304])
    p.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_LABEL), -1)
    p.command(hp.CMD_TRAIN)
    p.read2d(hp.REGION_W_OUTPUT, 2, 3)
    p.end()
    lines = p.text().split()
    assert len(lines) == 5 and len(set(map(len, lines))) == 1
    assert int(lines[0], 16) >> (32 + p.dw) == tb.OP_STREAM
    assert int(lines[1], 16) & 0xFFFFFFFF == 0xFFFFFFFF
    assert p.reads == 6
    words = tb.parse_output(b"0000002a\nffffffff\n")
    assert words.tolist() == [42, 0xFFFFFFFF]
    with pytest.raises(ValueError, match="non-hex"):
        tb.parse_output(b"xxxxxxxx\n")


# ---------------------------------------------------------------------- co-simulation
CASES = [
    # sim, preset, S, Q, n_hidden, train, test, batch
    pytest.param("verilator", "mnist-snn", 16, 8, 16, 8, 4, 4,
                 marks=pytest.mark.verilator, id="verilator-mnist-snn-16-8"),
    pytest.param("verilator", "shd-rsnn", 8, 4, 16, 8, 4, 3,
                 marks=pytest.mark.verilator, id="verilator-shd-rsnn-8-4"),
    pytest.param("icarus", "mnist-snn", 8, 4, 8, 3, 2, 2,
                 marks=pytest.mark.icarus, id="icarus-mnist-snn-8-4"),
    pytest.param("icarus", "shd-rsnn", 16, 8, 8, 4, 2, 3,
                 marks=pytest.mark.icarus, id="icarus-shd-rsnn-16-8"),
    pytest.param("verilator", "shd-snn", 16, 8, 32, 24, 16, 8,
                 marks=[pytest.mark.verilator, pytest.mark.slow], id="verilator-shd-snn-16-8"),
    pytest.param("verilator", "mnist-snn", 8, 4, 100, 32, 16, 16,
                 marks=[pytest.mark.verilator, pytest.mark.slow], id="verilator-mnist-full-8-4"),
    pytest.param("icarus", "shd-snn", 8, 4, 16, 6, 3, 3,
                 marks=[pytest.mark.icarus, pytest.mark.slow], id="icarus-shd-snn-8-4"),
]


@pytest.mark.parametrize("sim,preset,S,Q,n_hidden,n_train,n_test,batch", CASES)
def test_cosim_matches_golden(tmp_path, sim, preset, S, Q, n_hidden, n_train, n_test, batch):
    _need(sim)
    o = _opts(tmp_path, sim=sim, preset=preset, shadow_bits=S, inference_bits=Q,
              train_samples=n_train, test_samples=n_test, batch_size=batch,
              overrides={"n_hidden": n_hidden})
    r = cosimulate(o)
    assert r["mismatches"] == [] and r["status"] == "match", r["diagnosis"]
    assert r["checked"]["train_samples"] == n_train and r["checked"]["test_samples"] == n_test
    assert r["checked"]["updates"] == -(-n_train // batch)  # incl. the final partial batch
    assert r["accuracy"]["test"]["hardware"] == r["accuracy"]["test"]["golden"]
    assert r["cycles"]["per_train_sample"]["min"] > 0
    # every sample's cycle count was compared with the analytic formula (mismatches == [])
    assert r["cycles"]["work_per_train_sample"]["n"] == n_train
    assert 1 <= r["cycles"]["ratio_to_work"]["of_sums"] <= r["cycles"]["ratio_to_work"]["max"]
    assert r["cycles"]["total_simulated"] > 0 and 0 <= r["time"]["python_share"] < 1
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["config"]["n_hidden"] == n_hidden and saved["simulator"]["name"] == sim


@pytest.mark.verilator
def test_injected_fault_is_found_and_diagnosed(tmp_path):
    """A wrong output weight written into the hardware: the first divergence is named."""
    _need("verilator")
    o = _opts(tmp_path, sim="verilator", preset="mnist-snn", train_samples=8, test_samples=4,
              batch_size=4, overrides={"n_hidden": 16},
              inject={"region": hp.REGION_W_OUTPUT, "row": 3, "col": 5, "value": 32767})
    r = cosimulate(o)
    assert r["status"] == "mismatch" and r["mismatch_count"] >= 1
    m, d = r["mismatches"][0], r["diagnosis"]
    assert m["signal"] in ("counts", "prediction", "w_output_shadow")
    assert d["sample"] == m["sample"] and d["expected"] != d["actual"]
    if m["signal"] == "w_output_shadow":
        assert m["index"] == [3, 5] and m["actual"] != m["expected"]
    else:
        assert d["timestep"] is not None and "neuron" in d and d["golden_counts"]
    assert (tmp_path / "out" / "report.json").is_file()


# ---------------------------------------------------------------------- bad input
def _cli(tmp_path, *extra, sim="icarus", preset="mnist-snn"):
    return main(["cosim", "--preset", preset, "--sim", sim, "--train-samples", "2",
                 "--test-samples", "1", "--batch-size", "2", "--n-hidden", "8",
                 "--build-dir", str(BUILD), "--out", str(tmp_path / "out"), *extra])


def test_missing_data_file(tmp_path, capsys):
    _need("icarus")
    empty = tmp_path / "nodata"
    empty.mkdir()
    assert _cli(tmp_path, "--data-dir", str(empty)) == 2
    err = capsys.readouterr().err
    assert "error" in err and "mnist" in err.lower()
    assert not (tmp_path / "out" / "report.json").exists()


def test_reused_verilog_for_another_config(tmp_path, capsys):
    _need("icarus")
    from intsnn.golden.config import preset
    from intsnn.hw.generate import generate
    hw = tmp_path / "hw"
    generate(preset("mnist-snn", n_hidden=4, batch_size=2), 4, hw)
    assert _cli(tmp_path, "--hw-dir", str(hw), "--lanes", "4") == 2
    err = capsys.readouterr().err
    assert "generated for another configuration" in err and "n_hidden" in err
    assert not (tmp_path / "out" / "report.json").exists()


@pytest.mark.parametrize("sim", [pytest.param("icarus", marks=pytest.mark.icarus),
                                 pytest.param("verilator", marks=pytest.mark.verilator)])
def test_simulator_build_failure(tmp_path, capsys, sim):
    _need(sim)
    from intsnn.golden.config import preset
    from intsnn.hw.generate import generate
    hw = tmp_path / "hw"
    vpath, man = generate(preset("mnist-snn", n_hidden=8, batch_size=2), 4, hw)
    text = vpath.read_text()
    vpath.write_text(text.replace("endmodule", "endmodule garbage (", 1))
    assert _cli(tmp_path, "--hw-dir", str(hw), "--lanes", "4", sim=sim) == 2
    err = capsys.readouterr().err
    assert f"{sim} build of tb_top failed" in err
    assert not (tmp_path / "out" / "report.json").exists()


def test_missing_simulator_is_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert _cli(tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "apt-get install -y iverilog" in err
    assert not (tmp_path / "out" / "report.json").exists()


def test_diagnosis_of_a_count_mismatch_names_neuron_and_step():
    """No simulator: a fabricated count mismatch is explained from golden ``run_sample``."""
    from intsnn.sim.cosim import CosimOptions, diagnose, golden_trajectory, load_samples
    o = CosimOptions(preset="shd-rsnn", train_samples=16, test_samples=2, batch_size=4)
    cfg, xtr, ytr, xte, yte, _ = load_samples(o)
    g = golden_trajectory(cfg, 0, xtr, ytr, xte)
    spiking = np.flatnonzero(g["counts_train"].max(axis=1) > 0)
    assert spiking.size, "no sample with output spikes"
    s = int(spiking[-1])
    counts = g["counts_train"][s]
    o_idx = int(np.argmax(counts))
    mm = {"phase": "train", "sample": s, "update": None, "signal": "counts", "index": [o_idx],
          "expected": int(counts[o_idx]), "actual": int(counts[o_idx]) - 1, "n_differ": 1}
    d = diagnose(mm, cfg, 0, g, xtr, ytr, xte, yte)
    assert d["neuron"] == o_idx and d["golden_counts"] == counts.tolist()
    assert d["timestep"] == d["golden_spike_steps"][-1]
    assert f"output neuron {o_idx}" in d["note"]
