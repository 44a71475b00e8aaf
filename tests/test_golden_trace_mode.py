"""The trace mode end to end: ``intsnn train --trace-mode`` changes how the golden model computes,
never what (same weights); the kernels' thread pool survives a fork."""

import numpy as np

from intsnn.golden.config import preset
from intsnn.golden.init import init_weights
from intsnn.sw.cli import main


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


def test_kernels_work_in_a_forked_child_after_threads_ran():
    import multiprocessing as mp

    from intsnn.golden import fast
    cfg = preset("mnist-snn", n_hidden=8, batch_size=40)
    x = (np.random.default_rng(0).random((40, 20, 784)) < 0.1).astype(np.uint8)
    saved = fast.get_threads()
    fast.set_threads(2)
    try:
        want = fast.forward_fast(cfg, init_weights(cfg, 0), x).counts
        with mp.get_context("fork").Pool(1) as pool:
            got = pool.apply_async(_counts_in_child, (cfg, x)).get(timeout=120)
    finally:
        fast.set_threads(saved)
    np.testing.assert_array_equal(got, want)


def _counts_in_child(cfg, x):
    from intsnn.golden import fast
    return fast.forward_fast(cfg, init_weights(cfg, 0), x).counts
