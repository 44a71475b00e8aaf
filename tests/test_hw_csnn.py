"""The CSNN core against the golden IntSNN, bit for bit (Amaranth simulator): counts,
predictions, exact cycles per sample, the kernel and output weights after the update."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.golden.model import IntSNN  # noqa: E402
from intsnn.hw import cycles  # noqa: E402
from intsnn.hw.bench import rtl_train, small_net  # noqa: E402


def csnn(side, k, s, f, **kw):
    n = (side - k) // s + 1
    base = small_net(n_in=side * side, n_hidden=f * n * n, **kw)
    return base.replace(arch="csnn", image_side=side, conv_kernel=k, conv_stride=s,
                        conv_filters=f)


def check_csnn(cfg, lanes, seed=0, n=3, density=0.4):
    net = IntSNN(cfg, seed=seed)
    w0 = net.weights.copy()
    rng = np.random.default_rng(seed + 100)
    x = rng.integers(0, cfg.in_max + 1, size=(n, cfg.timesteps, cfg.n_in))
    x *= rng.random(x.shape) < density
    labels = rng.integers(0, cfg.n_out, n)
    exp_cyc = [cycles.from_record(cfg, lanes, net.run_sample(x[s], int(labels[s])))[0]
               for s in range(n)]
    r = rtl_train(cfg, lanes, w0, x, labels, batch_size=n, loss_seed=seed)
    dh, do, counts = net.batch_deltas(x, labels)
    np.testing.assert_array_equal(r.counts, counts)
    np.testing.assert_array_equal(r.predictions, np.argmax(counts, axis=1))
    net.update(dh, do)
    np.testing.assert_array_equal(r.weights.hidden, net.weights.hidden)
    np.testing.assert_array_equal(r.weights.output, net.weights.output)
    np.testing.assert_array_equal(r.cycles, exp_cyc)
    assert r.update_cycles == [cycles.expected_update_cycles(cfg, lanes)]
    assert (dh != 0).any() and (w0.hidden != net.weights.hidden).any()
    assert (w0.output != net.weights.output).any()
    return r


@pytest.mark.parametrize("side,k,s,f,lanes", [
    (9, 3, 2, 2, 2),     # FW = 1: consecutive kernel-delta groups share every delta word
    pytest.param(8, 3, 2, 4, 2, marks=pytest.mark.slow),    # FW = 2
    pytest.param(7, 3, 1, 4, 1, marks=pytest.mark.slow)])   # stride 1, one lane
def test_csnn_core(side, k, s, f, lanes):
    check_csnn(csnn(side, k, s, f), lanes, seed=side + lanes)
