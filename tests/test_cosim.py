"""Co-simulation of the generated core against the golden model (cocotb, Verilator and Icarus).

The cocotb bench is ``intsnn/sim/benches/cosim_bench.py`` (not collected by pytest); these tests run
the whole ``intsnn cosim`` flow (``intsnn.sim.cosim.cosimulate``) on real samples of the
embedded subsets with small hidden layers, so the default run stays within a few minutes on 2
cores.  Builds are cached in ``build/cosim`` (keyed by config, lanes and generator source).
"""

import json
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from intsnn.hw import host_protocol as hp
from intsnn.sim import tb
from intsnn.sim.cosim import CosimInterrupted, CosimOptions, cosimulate
from intsnn.sw.cli import main

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "cosim"


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


@pytest.mark.parametrize("exp,act,index,n", [(5, 6, [0], 1), (7, 7, None, 0),
                                           ([1, 2, 3], [1, 0, 0], [1], 2),
                                           ([[1, 2]], [[1, 2]], None, 0)])
def test_mismatch_record_scalars_and_arrays(exp, act, index, n):
    """A differing scalar (prediction, CYCLES) is a mismatch like a differing array entry."""
    from intsnn.hw.scoreboard import mismatch_record
    rec = mismatch_record("train", 3, "cycles", exp, act)
    if index is None:
        assert rec is None
    else:
        assert (rec["index"], rec["n_differ"], rec["signal"]) == (index, n, "cycles")
        assert rec["expected"] == np.ravel(exp)[index[0]]


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
    # the same cocotb run is test_native.py's mnist-snn case (compared with the native harness);
    # the report's checks here run on Verilator in the shd-rsnn case
    pytest.param("verilator", "mnist-snn", 16, 8, 16, 8, 4, 4,
                 marks=[pytest.mark.verilator, pytest.mark.slow], id="verilator-mnist-snn-16-8"),
    pytest.param("verilator", "shd-rsnn", 8, 4, 16, 8, 4, 3,
                 marks=pytest.mark.verilator, id="verilator-shd-rsnn-8-4"),
    # mnist-snn on a second simulator: Icarus runs shd-rsnn here, and rate-coded MNIST input in
    # test_cosim_csnn.py; S/Q 8/4 is the Verilator shd-rsnn case's
    pytest.param("icarus", "mnist-snn", 8, 4, 8, 3, 2, 2,
                 marks=[pytest.mark.icarus, pytest.mark.slow], id="icarus-mnist-snn-8-4"),
    pytest.param("icarus", "shd-rsnn", 16, 8, 8, 4, 2, 3,
                 marks=pytest.mark.icarus, id="icarus-shd-rsnn-16-8"),
    pytest.param("verilator", "shd-snn", 16, 8, 32, 24, 16, 8,
                 marks=[pytest.mark.verilator, pytest.mark.slow], id="verilator-shd-snn-16-8"),
    pytest.param("verilator", "mnist-snn", 8, 4, 100, 32, 16, 16,
                 marks=[pytest.mark.verilator, pytest.mark.slow], id="verilator-mnist-full-8-4"),
    pytest.param("icarus", "shd-snn", 8, 4, 16, 6, 3, 3,
                 marks=[pytest.mark.icarus, pytest.mark.slow], id="icarus-shd-snn-8-4"),
]


MODE_CASES = [
    # sim, preset, S, Q, n_hidden, train, test, batch, error mode, loss, clip order
    pytest.param("icarus", "shd-rsnn", 16, 8, 8, 4, 2, 3, "feedback", "random", None,
                 marks=pytest.mark.icarus, id="icarus-shd-rsnn-feedback-random"),
    pytest.param("verilator", "mnist-snn", 16, 8, 16, 8, 4, 4, "final", "positive",
                 "clip_then_shift", marks=[pytest.mark.verilator, pytest.mark.slow],
                 id="verilator-mnist-snn-final-positive-clip"),
]


@pytest.mark.parametrize("sim,preset,S,Q,n_hidden,n_train,n_test,batch,mode,loss,order",
                         MODE_CASES)
def test_cosim_error_modes_and_losses(tmp_path, sim, preset, S, Q, n_hidden, n_train, n_test,
                                      batch, mode, loss, order):
    over = {"n_hidden": n_hidden, "error_mode": mode, "loss": loss}
    if order:
        over["clip_order"] = order
    o = _opts(tmp_path, sim=sim, preset=preset, shadow_bits=S, inference_bits=Q,
              train_samples=n_train, test_samples=n_test, batch_size=batch, overrides=over)
    r = cosimulate(o)
    assert r["mismatches"] == [] and r["status"] == "match", r["diagnosis"]
    assert r["checked"]["updates"] == -(-n_train // batch)
    assert (r["config"]["error_mode"], r["config"]["loss"]) == (mode, loss)
    # the activity counters (error neurons and loss noise included) rebuild every CYCLES register
    assert r["energy"]["counters_check"]["cycles_register_equal"] == n_train


@pytest.mark.icarus
def test_cosim_wishbone_and_slow_stream(tmp_path):
    """The core generated with --bus wishbone (registers over Wishbone, CMD waits for the done
    interrupt), its next sample streaming in with 30 idle cycles after each beat: counts,
    predictions, cycles and weights match, and the double-buffered cycles of every sample equal
    cycles.overlap_cycles on both sides of its max (the stream dominates while a next sample
    streams; the compute, the last sample of each phase)."""
    from intsnn.hw import cycles
    o = _opts(tmp_path, sim="icarus", preset="shd-snn", shadow_bits=16, inference_bits=8,
              train_samples=3, test_samples=2, batch_size=2, overrides={"n_hidden": 8},
              bus="wishbone", stream_gap=30)
    r = cosimulate(o)
    assert r["mismatches"] == [] and r["status"] == "match", r["diagnosis"]
    assert r["checked"]["updates"] == 2 and r["interfaces"] == {"bus": "wishbone",
                                                                "stream_gap": 30}
    ov, cyc = r["cycles"]["overlap"], r["cycles"]["per_train_sample"]
    beats = ov["beats_per_sample"]
    assert ov["overlapped_train"]["max"] == cycles.overlap_cycles(0, beats, 30) > cyc["max"] + 6
    # the last sample of the phase streams nothing after it: compute-bound (checked exactly,
    # sample by sample, by the bench: a difference would be a mismatch)
    assert cyc["min"] + 6 <= ov["overlapped_train"]["min"] <= cyc["max"] + 6


@pytest.mark.parametrize("sim,preset,S,Q,n_hidden,n_train,n_test,batch", CASES)
def test_cosim_matches_golden(tmp_path, sim, preset, S, Q, n_hidden, n_train, n_test, batch):
    o = _opts(tmp_path, sim=sim, preset=preset, shadow_bits=S, inference_bits=Q,
              train_samples=n_train, test_samples=n_test, batch_size=batch,
              overrides={"n_hidden": n_hidden, "lr_rounding": "floor"})  # hardware: floor
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
    # the activity counters rebuild every sample's CYCLES register read from the hardware, and
    # count the same synaptic events as the golden model (lane ops = events x padded width)
    en = r["energy"]
    assert en["counters_check"] == {"samples": n_train, "cycles_register_equal": n_train,
                                    "cycles_register_checked": n_train}
    lanes = r["lanes"]
    lane, use = en["hw_lane_ops_per_sample"], en["hw_useful_lane_ops_per_sample"]
    assert lane["acc_spike"] * r["config"]["n_out"] == pytest.approx(
        use["acc_spike"] * lanes * -(-r["config"]["n_out"] // lanes))
    assert en["golden_pj_per_sample"]["total_min"] > 0
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["config"]["n_hidden"] == n_hidden and saved["simulator"]["name"] == sim


@pytest.mark.verilator
def test_injected_fault_is_found_and_diagnosed(tmp_path):
    """A wrong output weight written into the hardware: the first divergence is named, and the
    cocotb test itself fails (after writing its results)."""
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
    xml = Path(r["hardware"]["build_dir"]) / "results.cosim_bench.xml"
    failures = [f.get("message") for f in ElementTree.parse(xml).getroot().iter("failure")]
    assert len(failures) == 1 and "mismatch(es) with the golden model" in failures[0]


# ---------------------------------------------------------------------- bad input
def _cli(tmp_path, *extra, sim="icarus", preset="mnist-snn"):
    return main(["cosim", "--preset", preset, "--sim", sim, "--train-samples", "2",
                 "--test-samples", "1", "--batch-size", "2", "--n-hidden", "8",
                 "--build-dir", str(BUILD), "--out", str(tmp_path / "out"), *extra])


@pytest.mark.icarus
def test_missing_data_file_and_the_old_report(tmp_path, capsys):
    """A failed run moves the previous report aside: it cannot pass for this run's."""
    empty = tmp_path / "nodata"
    empty.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "report.json").write_text('{"status": "match"}')
    assert _cli(tmp_path, "--data-dir", str(empty)) == 2
    err = capsys.readouterr().err
    assert "error" in err and "mnist" in err.lower()
    assert not (tmp_path / "out" / "report.json").exists()
    assert (tmp_path / "out" / "report.previous.json").read_text() == '{"status": "match"}'


@pytest.mark.icarus
def test_reused_verilog_for_another_config(tmp_path, capsys):
    from intsnn.golden.config import preset
    from intsnn.hw.generate import generate
    hw = tmp_path / "hw"
    generate(preset("mnist-snn", n_hidden=4, batch_size=2), 4, hw)
    assert _cli(tmp_path, "--hw-dir", str(hw), "--lanes", "4") == 2
    err = capsys.readouterr().err
    assert "generated for another configuration" in err and "n_hidden" in err
    assert not (tmp_path / "out" / "report.json").exists()
    generate(preset("mnist-snn", n_hidden=8, batch_size=2, n_out=12), 4, hw)
    assert _cli(tmp_path, "--hw-dir", str(hw), "--lanes", "4") == 2
    err = capsys.readouterr().err
    assert "n_out: hardware 12 != requested 10" in err and "--n-out 10" in err
    (hw / "manifest.json").write_text('{"config": ')
    assert _cli(tmp_path, "--hw-dir", str(hw), "--lanes", "4") == 2
    assert f"{hw / 'manifest.json'} is not a readable manifest" in capsys.readouterr().err


@pytest.mark.parametrize("sim", [pytest.param("icarus", marks=pytest.mark.icarus),
                                 pytest.param("verilator", marks=pytest.mark.verilator)])
def test_simulator_build_failure(tmp_path, capsys, sim):
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


# ---------------------------------------------------------------------- outputs and resume
@pytest.mark.parametrize("where", ["--out is a file", "--out <file>/sub", "--out unwritable",
                                   "--build-dir is a file", "--build-dir unwritable"])
def test_unwritable_outputs_fail_before_any_work(tmp_path, capsys, monkeypatch, where):
    f = tmp_path / "f"
    f.write_text("")
    opt, kind = where.split(" ", 1)
    bad = {"is a file": f, "<file>/sub": f / "sub", "unwritable": "/sys/intsnn-out"}[kind]
    monkeypatch.setattr("intsnn.sim.cosim.find_simulator", lambda *a: pytest.fail("worked"))
    argv = ["cosim", "--preset", "mnist-snn", "--out", str(tmp_path / "o")]
    argv += [opt, str(bad)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"intsnn cosim: error: cannot write to {opt} "
                                                   f"{bad}: ")


# the random loss: a resumed run must also restore the noise keys (UPDATES)
RESUME = dict(sim="verilator", preset="mnist-snn", shadow_bits=16, inference_bits=8,
              train_samples=8, test_samples=4, batch_size=4,
              overrides={"n_hidden": 16, "loss": "random"})


def _same_run(a, b):
    for key in ("status", "mismatch_count", "checked", "accuracy", "per_sample"):
        assert a[key] == b[key], key
    for key in ("per_train_sample", "per_inference_sample", "per_update", "total_simulated"):
        assert a["cycles"][key] == b["cycles"][key], key


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The RESUME co-simulation run once without a stop."""
    return cosimulate(_opts(tmp_path_factory.mktemp("full"), **RESUME))


@pytest.mark.verilator
@pytest.mark.parametrize("stops, position", [(1, {"phase": "train", "next": 4}),
                                             (3, {"phase": "test", "next": 1})],
                         ids=["in-training", "in-testing"])
def test_cosim_resume_is_bit_exact(tmp_path, stops, position, uninterrupted, monkeypatch):
    """Stopped after a checkpoint and run again, the co-simulation ends exactly as one that was
    never stopped: every prediction, count, cycle count and the total simulated cycles.  The
    output folder is relative (as `intsnn demo`'s runs/demo): the bench, which runs in the
    simulator's build folder, must still write the checkpoint into it."""
    full = uninterrupted
    monkeypatch.chdir(tmp_path)
    o = _opts(tmp_path / "b", checkpoint_every_s=0, stop_after_checkpoints=stops, **RESUME)
    o.out = "b/out"
    with pytest.raises(CosimInterrupted):
        cosimulate(o)
    out = tmp_path / "b" / "out"
    assert (out / "cosim-checkpoint.npz").is_file() and not (out / "report.json").exists()
    o.stop_after_checkpoints = None
    resumed = cosimulate(o)
    assert resumed["resume"]["resumed_from"] == position and resumed["resume"]["sessions"] == 2
    _same_run(full, resumed)
    assert not (out / "cosim-checkpoint.npz").exists()  # finished: nothing left to resume
    if position["phase"] == "train":  # once: a checkpoint of another run is refused
        o.seed = 1
        o.stop_after_checkpoints = 1
        with pytest.raises(CosimInterrupted):
            cosimulate(o)
        o.seed = 0
        with pytest.raises(ValueError, match=r"cosim-checkpoint.npz belongs to another "
                                             r"co-simulation \(different data, seed\)"):
            cosimulate(o)


@pytest.mark.verilator
def test_a_finished_run_survives_a_failing_report_write(tmp_path, monkeypatch):
    from intsnn.sim import cosim
    from intsnn.sw.outputs import OutputError
    real = cosim.outputs.write_json

    def no_space(path, *a, **k):
        if Path(path).name == "report.json":
            raise OSError(28, "No space left on device")
        return real(path, *a, **k)

    monkeypatch.setattr(cosim.outputs, "write_json", no_space)
    with pytest.raises(OutputError, match=r"cannot write .*report.json \(No space left on "
                                          r"device\); the finished run's report is in ") as ei:
        cosimulate(_opts(tmp_path, **RESUME))
    rescued = json.loads(Path(str(ei.value).rsplit(" ", 1)[-1]).read_text())
    assert rescued["status"] == "match" and rescued["checked"]["train_samples"] == 8


def test_demo_uses_the_embedded_subset_whatever_intsnn_data_says(tmp_path, monkeypatch, capsys):
    from intsnn.sim import cli
    from intsnn.sim.cosim import load_samples
    monkeypatch.setenv("INTSNN_DATA", str(tmp_path))  # an empty folder: real files would fail
    seen = {}

    def fake(o):
        seen["o"] = o
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cosimulate", fake)
    assert main(["demo", "--out", str(tmp_path / "d")]) == 130
    out = capsys.readouterr().out
    assert "embedded real MNIST subset" in out and "$INTSNN_DATA is ignored" in out
    o = seen["o"]
    o.train_samples, o.test_samples = 4, 2
    meta = load_samples(o)[-1]
    assert meta["source"] == "embedded" and meta["data_dir"] is None


@pytest.mark.slow
@pytest.mark.verilator
def test_ctrl_c_during_cosim_then_the_same_command_resumes(tmp_path):
    """A real SIGINT to the process group (what a terminal sends), mid-run."""
    import os
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "intsnn.sw.cli", "cosim", "--preset", "mnist-snn",
            "--train-samples", "48", "--test-samples", "8", "--batch-size", "4", "--n-hidden",
            "16", "--checkpoint-every", "0", "--build-dir", str(BUILD), "--out", str(out)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True,  # SIGINT as a terminal sends it, not ignored
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for _ in range(3000):
        if (out / "cosim-checkpoint.npz").is_file() or p.poll() is not None:
            break
        time.sleep(0.1)
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 130, err
    assert err.strip().splitlines()[-1] == ("intsnn cosim: interrupted; resume with the same "
                                            "command")
    assert "Traceback" not in err and not (out / "report.json").exists()
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    resumed = json.loads((out / "report.json").read_text())
    assert resumed["resume"]["sessions"] == 2
    full = cosimulate(_opts(tmp_path / "full", sim="verilator", preset="mnist-snn",
                            train_samples=48, test_samples=8, batch_size=4,
                            overrides={"n_hidden": 16}))
    _same_run(full, resumed)


@pytest.mark.parametrize("argv, message", [
    (["--n-hidden", "0"], "argument --n-hidden: must be >= 1, got 0"),
    (["--train-samples", "0"], "argument --train-samples: must be >= 1, got 0"),
    (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["--data-dir", ""], "argument --data-dir: is empty"),
    (["--checkpoint-every", "-1"], "argument --checkpoint-every: must be a finite number >= 0"),
])
def test_cosim_arguments_that_used_to_be_ignored(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as ei:
        main(["cosim", "--preset", "mnist-snn", "--out", str(tmp_path / "o"), *argv])
    assert ei.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("sim,n_hidden,n_train,batch,threshold", [
    pytest.param("verilator", 16, 8, 4, 50, marks=pytest.mark.verilator,
                 id="verilator-mnist-snn-16-8-sat6"),
    pytest.param("icarus", 8, 4, 2, 30, marks=[pytest.mark.icarus, pytest.mark.slow],
                 id="icarus-mnist-snn-16-8-sat6")])
def test_cosim_saturating_deltas(tmp_path, sim, n_hidden, n_train, batch, threshold):
    """NetConfig.delta_sat_bits on real MNIST samples: both layers' 6-bit batch delta registers
    saturate (clip_then_shift with clip 16: what the update can use fits 6 bits; a hidden
    threshold low enough for the few hidden neurons to spike, so the output layer learns), and
    the hardware equals the golden model on every observable, weights after every update
    included."""
    from intsnn.golden import ops
    from intsnn.golden.config import LayerParams
    from intsnn.golden.model import IntSNN
    from intsnn.sim.cosim import load_samples
    over = {"n_hidden": n_hidden, "lr_rounding": "floor", "clip_order": "clip_then_shift",
            "clip": 16, "hidden": LayerParams(threshold, 2 * threshold, 12), "delta_sat_bits": 6}
    o = _opts(tmp_path, sim=sim, preset="mnist-snn", train_samples=n_train, test_samples=2,
              batch_size=batch, overrides=over)
    cfg, xtr, ytr, *_ = load_samples(o)
    assert cfg.delta_saturates("hidden") and cfg.delta_saturates("output")
    # the rails are hit in both layers: the saturated batch deltas differ from the exact sums
    net, hits = IntSNN(cfg, o.seed), np.zeros(2, np.int64)
    for s in range(0, n_train, batch):
        recs = [net.run_sample(xtr[j], int(ytr[j]), position=j - s) for j in range(s, s + batch)]
        d = net.batch_deltas(xtr[s:s + batch], ytr[s:s + batch])
        for k, (layer, key) in enumerate((("hidden", "delta_hidden"), ("output", "delta_output"))):
            terms = np.stack([getattr(r, key) for r in recs])
            np.testing.assert_array_equal(ops.batch_delta(cfg, layer, terms), d[k])
            hits[k] += np.count_nonzero(terms.sum(axis=0) != d[k])
        net.update(*d[:2])
    assert (hits > 0).all(), hits
    r = cosimulate(o)
    assert r["mismatches"] == [] and r["status"] == "match", r["diagnosis"]
    assert r["checked"]["updates"] == n_train // batch
    assert r["config"]["delta_sat_bits"] == 6
