"""The plain numpy peer of ``bench --compare`` (``intsnn/sw/bench_plain.py``) is an honest peer:
bit-exact with the golden model on SNN and RSNN in every error mode and loss, with float BLAS
products only where the documented bound proves them exact, and int64 where it does not."""

import numpy as np
import pytest

from intsnn.golden.config import LayerParams, NetConfig, preset
from intsnn.golden.model import IntSNN
from intsnn.sw.bench_plain import PlainNumpy, blas_threads, exact_dtype, matmul_bounds

CASES = [("snn", "direct", "standard", "pre_reset"), ("rsnn", "direct", "standard", "pre_reset"),
         ("rsnn", "direct", "positive", "post_reset"), ("snn", "final", "random", "pre_reset"),
         ("rsnn", "feedback", "random", "pre_reset"), ("snn", "feedback", "standard", "pre_reset")]


@pytest.mark.parametrize("arch,mode,loss,source", CASES)
def test_plain_numpy_equals_golden(arch, mode, loss, source):
    cfg = preset("shd-rsnn" if arch == "rsnn" else "shd-snn", n_out=4, n_hidden=24,
                 batch_size=9, error_mode=mode, loss=loss, rec_source=source,
                 soft_error_start=3, clip_order="clip_then_shift" if loss == "positive"
                 else "shift_then_clip")
    golden, plain = IntSNN(cfg, 3), PlainNumpy(cfg, 3)
    rng = np.random.default_rng(1)
    for _ in range(3):  # the updates change weights, predictions and the random-loss noise
        shape = (9, cfg.timesteps, cfg.n_in)
        x = rng.integers(0, 60, shape) * (rng.random(shape) < 0.4)
        y = rng.integers(0, cfg.n_out, 9)
        want = golden.batch_deltas(x, y)
        got = plain.deltas(x, y)
        assert want[0].any() and want[1].any()
        for u, v in zip(got, want):
            np.testing.assert_array_equal(u, v)
        golden.update(*want[:2])
        np.testing.assert_array_equal(plain.train_batch(x, y), np.argmax(want[2], axis=1))
    np.testing.assert_array_equal(plain.w_hidden, golden.weights.hidden)
    np.testing.assert_array_equal(plain.w_output, golden.weights.output)


def test_products_are_float_only_where_the_bound_proves_them_exact():
    assert exact_dtype(1 << 24) == np.float32 and exact_dtype((1 << 24) + 1) == np.float64
    assert exact_dtype(1 << 53) == np.float64 and exact_dtype((1 << 53) + 1) == np.int64
    mn = matmul_bounds(preset("mnist-snn"), 128)
    assert mn["input"] == 784 * 128 and mn["output"] == 100 * 128  # float32
    rs = matmul_bounds(preset("shd-rsnn", n_out=10), 128)
    assert rs["recurrent"] == 256 * 128 * (1 << 13)  # 24-bit voltage >> 10: float64
    assert exact_dtype(rs["delta_hidden"]) == np.float64
    # a recurrent term beyond 2**53 is multiplied in int64, and still exact
    cfg = NetConfig(arch="rsnn", n_in=5, n_hidden=6, n_out=3, timesteps=4, input_bits=8,
                    hidden=LayerParams(1 << 40, 1 << 41, 20), output=LayerParams(8, 9, 1),
                    voltage_bits=48, rec_shift=0, batch_size=5, inference_bits=16)
    assert exact_dtype(matmul_bounds(cfg, 5)["recurrent"]) == np.int64
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (5, 4, 5))
    y = rng.integers(0, 3, 5)
    for u, v in zip(PlainNumpy(cfg, 0).deltas(x, y), IntSNN(cfg, 0).batch_deltas(x, y)):
        np.testing.assert_array_equal(u, v)


def test_blas_threads_can_be_set_and_restored():
    saved = blas_threads()
    if saved is None:
        pytest.skip("numpy's BLAS is not OpenBLAS")
    assert blas_threads(1) == 1
    assert blas_threads(saved) == saved
