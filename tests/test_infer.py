"""``intsnn cosim --weights``: trained weights inferred on hardware over a test split, on Ray.

Tiny real-data runs: a network trained by ``intsnn train`` on the embedded real MNIST subset
(hidden layer of 16), its test samples inferred by the generated core under the native Verilator
harness and under cocotb, sharded over 2 local Ray workers, compared sample by sample with the
golden model computed here independently.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from intsnn.golden.config import NetConfig
from intsnn.golden.init import Weights
from intsnn.golden.model import IntSNN
from intsnn.sim.infer import InferOptions, WeightsMismatch, infer, load_trained
from intsnn.sw.cli import main
from intsnn.sw.datadir import EMBEDDED
from intsnn.sw.train import EVAL_EPOCH, encode, load_data, make_config, train

BUILD = Path(__file__).resolve().parents[1] / "build" / "cosim"  # shared with test_cosim.py

# the configuration of test_cosim.py's Verilator mnist-snn case (n_hidden 16, B 4, S/Q 16/8):
# one cached build serves all three test files
N_HIDDEN, BATCH = 16, 4


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("trained")
    train("mnist-snn", out, EMBEDDED, epochs=1, train_limit=128, test_limit=32, batch_size=BATCH,
          seed=3, progress=False, n_hidden=N_HIDDEN)
    return out


def _opts(trained, tmp_path, **kw):
    base = dict(weights=str(trained / "weights.npz"), preset="mnist-snn", data_dir=EMBEDDED,
                overrides={"n_hidden": N_HIDDEN}, batch_size=BATCH, out=str(tmp_path / "out"),
                build_root=str(BUILD), quiet=True)
    base.update(kw)
    return InferOptions(**base)


def _golden_reference(trained, rows):
    """Predictions of the trained network, computed here from the files alone."""
    metrics = json.loads((trained / "metrics.json").read_text())
    cfg = NetConfig.from_dict(metrics["config"])
    with np.load(trained / "weights.npz") as z:
        w = Weights.from_dict(z)
    te = load_data("mnist-snn", "test", EMBEDDED)
    x = encode(cfg, te, np.asarray(rows), metrics["seed"], EVAL_EPOCH)
    return IntSNN(cfg, 0, weights=w).predict(x)[1], te.y[rows]


@pytest.mark.verilator
def test_ray_two_workers_native_whole_pick_matches_golden(trained, tmp_path):
    pytest.importorskip("ray")
    r = infer(_opts(trained, tmp_path, sim="verilator-native", test_samples=8, workers=2,
                    shard_size=3))
    assert r["status"] == "match" and r["mismatch_count"] == 0
    assert r["execution"]["ray"] and r["execution"]["shards"] == 3
    assert sum(r["execution"]["samples_per_worker_process"].values()) == 8
    assert r["checked"] == {"samples": 8, "of": 8, "driver_recheck": {
        "predictions_differ": 0, "counts_differ": 0, "cycles_differ": 0}}
    ps = r["per_sample"]
    assert ps["hardware_pred"] == ps["golden_pred"]
    rows = np.sort(np.random.Generator(np.random.PCG64([3, 0xC051, 1])).permutation(
        r["data"]["split_samples"])[:8])
    pred, y = _golden_reference(trained, rows)
    assert ps["hardware_pred"] == pred.tolist() and ps["label"] == y.tolist()
    assert r["accuracy"]["hardware"] == r["accuracy"]["golden"] == float(np.mean(pred == y))
    assert r["data"]["rate_coding_seed"] == 3  # the training run's seed, from metrics.json
    assert min(ps["cycles"]) > 0 and r["cycles"]["total_simulated"] > sum(ps["cycles"])
    assert json.loads((tmp_path / "out" / "report.json").read_text())["status"] == "match"


@pytest.mark.verilator
def test_cocotb_and_native_give_the_same_results_and_a_stopped_run_resumes(trained, tmp_path):
    a = infer(_opts(trained, tmp_path, sim="verilator", test_samples=4, workers=1,
                    shard_size=2, out=str(tmp_path / "cocotb")))
    b = infer(_opts(trained, tmp_path, sim="verilator-native", test_samples=4, workers=1,
                    shard_size=2, out=str(tmp_path / "native")))
    assert a["status"] == b["status"] == "match"
    assert a["per_sample"] == b["per_sample"]
    # a run that stopped after its first shard: the same command runs only the second
    (tmp_path / "native" / "shards" / "shard-0001.json").unlink()
    c = infer(_opts(trained, tmp_path, sim="verilator-native", test_samples=4, workers=1,
                    shard_size=2, out=str(tmp_path / "native")))
    assert c["per_sample"] == b["per_sample"] and c["status"] == "match"
    assert c["throughput"]["samples"] == 2
    assert (tmp_path / "native" / "report.previous.json").is_file()


def test_weights_of_another_configuration_are_refused_in_one_line(trained, tmp_path, capsys):
    cfg = make_config("mnist-snn", 10, 16, 4, BATCH, n_hidden=N_HIDDEN)
    with pytest.raises(WeightsMismatch, match=r"trained with inference_bits 8 \(this build: 4\)"):
        load_trained(trained, cfg)
    rc = main(["cosim", "--preset", "mnist-snn", "--weights", str(trained / "weights.npz"),
               "--n-hidden", "32", "--batch-size", str(BATCH), "--out", str(tmp_path / "o"),
               "--workers", "1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "n_hidden 16 (this build: 32)" in err and not (tmp_path / "o" / "report.json").exists()


def test_weights_without_their_metrics_or_broken_are_refused(trained, tmp_path):
    cfg = NetConfig.from_dict(json.loads((trained / "metrics.json").read_text())["config"])
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "weights.npz").write_bytes((trained / "weights.npz").read_bytes())
    with pytest.raises(WeightsMismatch, match="no readable metrics.json beside it"):
        load_trained(lone / "weights.npz", cfg)
    (lone / "metrics.json").write_text((trained / "metrics.json").read_text())
    with np.load(trained / "weights.npz") as z:
        d = dict(z)
    d["output_shadow"] = d["output_shadow"][:, :-1]
    np.savez(lone / "weights.npz", **d)
    with pytest.raises(WeightsMismatch, match=r"output weights must have shape \(10, 16\)"):
        load_trained(lone, cfg)
    with pytest.raises(WeightsMismatch, match="no such file"):
        load_trained(tmp_path / "nothing.npz", cfg)


@pytest.mark.parametrize("argv, message", [
    (["--weights", "w.npz", "--train-samples", "8"], "--train-samples has no effect with --weights"),
    (["--workers", "3"], "--workers has no effect without --weights"),
])
def test_options_of_the_other_mode_are_refused(tmp_path, capsys, argv, message):
    rc = main(["cosim", "--preset", "mnist-snn", "--out", str(tmp_path / "o"), *argv])
    assert rc == 2 and message in capsys.readouterr().err


@pytest.mark.icarus
def test_wishbone_core_with_a_slow_stream_infers_like_golden(tmp_path):
    """--bus and --stream-gap reach the inference mode: the Wishbone core (the configuration of
    test_cosim.py's Wishbone case, so its Verilog and Icarus build are shared) classifies with
    trained weights, the next sample streaming in with 30 idle cycles after each beat; the
    bench checks each sample's double-buffered cycles against cycles.overlap_cycles with the
    done interrupt, so a gap or bus that did not reach it would be a mismatch."""
    from intsnn.hw import cycles
    run = tmp_path / "trained"
    train("shd-snn", run, EMBEDDED, epochs=1, train_limit=12, test_limit=4, batch_size=2,
          seed=1, progress=False, n_hidden=8)
    r = infer(InferOptions(weights=str(run), preset="shd-snn", sim="icarus", data_dir=EMBEDDED,
                           test_samples=3, batch_size=2, overrides={"n_hidden": 8}, workers=1,
                           shard_size=3, out=str(tmp_path / "out"), build_root=str(BUILD),
                           quiet=True, bus="wishbone", stream_gap=30))
    assert r["status"] == "match" and r["mismatch_count"] == 0, r["mismatches"]
    assert r["interfaces"] == {"bus": "wishbone", "stream_gap": 30}
    assert json.loads((Path(r["hardware"]["verilog"]).parent / "manifest.json").read_text())[
        "bus"] == "wishbone"
    ov = r["cycles"]["overlap"]
    assert ov["stream_gap"] == 30 and ov["overlapped_test"]["n"] == 3
    # samples 0 and 1 wait for the slow stream of the next one; sample 2 streams none after it
    assert ov["overlapped_test"]["max"] == cycles.overlap_cycles(0, ov["beats_per_sample"], 30)
    assert ov["overlapped_test"]["min"] == cycles.overlap_cycles(
        r["per_sample"]["cycles"][2], 0, 30, irq=True)
