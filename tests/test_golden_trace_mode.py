"""The trace mode end to end: ``intsnn train --trace-mode`` changes how the golden model computes,
never what (same weights), and the comparison benchmark's peers agree bit for bit."""

import numpy as np

from intsnn.sw.bench import dense_ops, memory_table
from intsnn.sw.bench_peers import make_peers
from intsnn.sw.cli import main
from intsnn.golden.config import preset


def test_train_trace_modes_give_identical_weights(tmp_path, monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    w = {}
    for mode in ("online", "deferred"):
        out = tmp_path / mode
        assert main(["train", "--preset", "shd-rsnn", "--epochs", "1", "--train-limit", "48",
                     "--test-limit", "16", "--batch-size", "16", "--quiet", "--trace-mode", mode,
                     "--out", str(out)]) == 0
        w[mode] = np.load(out / "weights.npz")
    for k in ("hidden_shadow", "output_shadow"):
        np.testing.assert_array_equal(w["online"][k], w["deferred"][k])


def test_bench_peers_agree_and_ops_are_counted():
    cfg = preset("shd-rsnn", n_out=10, n_hidden=24, batch_size=8)
    peers = make_peers(cfg, 0, ["golden-1t", "golden-2t", "plain-numpy"])
    rng = np.random.default_rng(0)
    for _ in range(2):
        x = rng.integers(0, 6, (8, cfg.timesteps, cfg.n_in)) * (rng.random((8, 10, 175)) < .4)
        y = rng.integers(0, 10, 8)
        for p in peers:
            p.step(x, y)
    for p in peers[:2]:
        np.testing.assert_array_equal(p.weights().hidden, peers[2].weights().hidden)
    # T (I H + H H + H O) forward + T (I H + H O) traces + (I H + H O) deltas
    ih, ho, hh = 175 * 24, 24 * 10, 24 * 24
    assert dense_ops(cfg) == 10 * (ih + hh + ho) + 10 * (ih + ho) + ih + ho
    t = memory_table([{"preset": "p", "timesteps": [10], "peak_mb": {
        "online": {"10": 1.0}, "deferred": {"10": 2.0}, "plain-numpy": {}}}], {"p": {"10": 3.5}})
    assert t.splitlines()[-1] == "| p | 10 | 1.0 | 2.0 | - | 3.5 |"


def test_kernels_work_in_a_forked_child_after_threads_ran():
    import multiprocessing as mp

    from intsnn.golden import fast
    cfg = preset("mnist-snn", n_hidden=8, batch_size=40)
    x = (np.random.default_rng(0).random((40, 20, 784)) < 0.1).astype(np.uint8)
    saved = fast.get_threads()
    fast.set_threads(2)
    try:
        want = fast.forward_fast(cfg, make_peers(cfg, 0, ["plain-numpy"])[0].weights(), x).counts
        with mp.get_context("fork").Pool(1) as pool:
            got = pool.apply_async(_counts_in_child, (cfg, x)).get(timeout=120)
    finally:
        fast.set_threads(saved)
    np.testing.assert_array_equal(got, want)


def _counts_in_child(cfg, x):
    from intsnn.golden import fast
    from intsnn.golden.init import init_weights
    return fast.forward_fast(cfg, init_weights(cfg, 0), x).counts


def test_bench_refuses_an_unwritable_output_before_any_work(tmp_path, capsys):
    from intsnn.sw.bench import main as bench_main
    f = tmp_path / "file"
    f.write_text("")
    assert bench_main(["--compare", "--data-dir", str(tmp_path / "nodata"),
                       "--out-dir", str(f)]) == 2
    err = capsys.readouterr().err
    assert "--out-dir" in err and "not a folder" in err and len(err.strip().splitlines()) == 1
