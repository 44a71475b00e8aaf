"""The golden CSNN: the conv geometry, the reference's eq. 3.19 against a direct convolution, and
the fast path (``intsnn/golden/fast_csnn.py``) bit-exact with the reference on random geometries,
precisions, error modes, losses and batch sizes."""

import numpy as np
import pytest

from intsnn.golden import reference as ref
from intsnn.golden.config import LayerParams, NetConfig, preset
from intsnn.golden.fast_csnn import (HAVE_NUMBA, ConvGeometry, deltas_csnn_fast, filter_major,
                                     forward_csnn_fast, position_major)
from intsnn.golden.init import init_weights
from intsnn.golden.model import IntSNN

eq = np.testing.assert_array_equal
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")


def csnn_cfg(side=6, k=3, stride=2, filters=2, **kw):
    n = (side - k) // stride + 1
    base = dict(arch="csnn", image_side=side, conv_kernel=k, conv_stride=stride,
                conv_filters=filters, n_in=side * side, n_hidden=filters * n * n, n_out=3,
                timesteps=5, input_bits=2, hidden=LayerParams(20, 40, 3, None),
                output=LayerParams(30, 50, 1, None), alpha=16, clip=300, shadow_bits=12,
                inference_bits=8, batch_size=3, soft_error_start=1)
    base.update(kw)
    return NetConfig(**base)


def random_case(seed):
    """A random small CSNN configuration, thresholds calibrated to its currents so that both
    layers spike; error mode and loss cycle with the seed (9 seeds cover every pair).
    Returns the configuration and the seeded generator, to draw the inputs with."""
    rng = np.random.default_rng(seed)
    side = int(rng.integers(4, 10))
    k = int(rng.integers(1, min(side, 4) + 1))
    s, q = [(12, 8), (16, 8), (10, 4), (8, 8), (16, 16), (16, 4)][rng.integers(6)]
    cfg = csnn_cfg(
        side, k, int(rng.integers(1, 4)), int(rng.integers(1, 5)),
        timesteps=int(rng.integers(3, 7)), input_bits=int(rng.integers(1, 4)),
        beta_shift=int(rng.integers(1, 3)), shadow_bits=s, inference_bits=q,
        batch_size=int(rng.integers(1, 6)), n_out=int(rng.integers(2, 5)),
        alpha=[8, 16, 32][rng.integers(3)], clip=int(rng.integers(50, 1 << (s - 2))),
        error_mode=["direct", "final", "feedback"][seed % 3],
        loss=["standard", "positive", "random"][seed // 3 % 3],
        clip_order=["shift_then_clip", "clip_then_shift"][rng.integers(2)],
        soft_error_start=int(rng.integers(0, 3)))
    cfg = cfg.replace(fb_threshold=cfg.alpha // 2)  # the error neurons' scale (docs: alpha/2)
    w = init_weights(cfg, 0)
    x = rand_x(cfg, 4, rng, 0.5)
    th = []
    for layer in ("hidden", "output"):
        v = ref.forward(cfg, w, x, record=True).record[f"v_{layer}"]
        th.append(max(1, int(np.percentile(np.abs(v), 60))))
        cfg = cfg.replace(**{layer: LayerParams(th[-1], 2 * th[-1], int(rng.integers(0, 4)),
                                                [None, 5][rng.integers(2)])})
    return cfg, rng


def rand_x(cfg, b, rng, density=0.4):
    x = rng.integers(0, cfg.in_max + 1, (b, cfg.timesteps, cfg.n_in))
    return x * (rng.random(x.shape) < density)


@pytest.mark.parametrize("side,k,stride", [(28, 5, 2), (7, 3, 1), (8, 2, 3), (5, 5, 1), (9, 3, 2)])
def test_geometry_is_unfold_and_its_inverse(side, k, stride):
    cfg = csnn_cfg(side, k, stride)
    g = ConvGeometry.of(cfg)
    n = cfg.conv_out_side
    img = np.arange(side * side)[None]
    eq(g.patch_pixel, ref.unfold(img, cfg)[0])
    pairs = [sorted((int(p), int(t)) for p, t in zip(g.pixel_pos[a:b], g.pixel_tap[a:b]))
             for a, b in zip(g.pixel_ptr[:-1], g.pixel_ptr[1:])]
    for i in range(side * side):
        assert pairs[i] == sorted(zip(*(a.tolist() for a in np.nonzero(g.patch_pixel == i))))
    assert g.pixel_ptr[-1] == n * n * k * k
    if (side, k, stride) == (28, 5, 2):  # the thesis's layer: 28x28 -> 32 x 12 x 12
        assert n == 12 and cfg.replace(conv_filters=32, n_hidden=4608).n_hidden == 4608
        per_pixel = np.diff(g.pixel_ptr).reshape(28, 28)
        assert per_pixel.max() == 9  # ceil(5/2)**2 windows hold an interior pixel
        assert per_pixel[27].max() == 0 and per_pixel[:, 27].max() == 0  # (28-5) % 2 = 1


def test_layout_helpers_are_inverse():
    a = np.arange(2 * 3 * 12).reshape(2, 3, 12)
    pm = position_major(a, 4)  # 4 filters x 3 positions
    eq(pm[0, 0, :4], [0, 3, 6, 9])
    eq(filter_major(pm, 4), a)


def test_reference_conv_current_is_a_direct_convolution():
    # At t = 0 all state is zero, so V_hidden(0) is the convolution itself (no saturation: the
    # voltage width is the worst-case bound).  Written with plain loops, independent of unfold.
    rng = np.random.default_rng(4)
    cfg = csnn_cfg(9, 4, 2, 3, input_bits=3)
    w = init_weights(cfg, 2)
    x = rand_x(cfg, 2, rng)
    f = ref.forward(cfg, w, x, record=True)
    kq = w.inference(cfg)[0].reshape(3, 4, 4)
    n = cfg.conv_out_side
    for b in range(2):
        img = x[b, 0].reshape(9, 9)
        want = [[[int((kq[fi] * img[r * 2:r * 2 + 4, c * 2:c * 2 + 4]).sum()) for c in range(n)]
                 for r in range(n)] for fi in range(3)]
        eq(f.record["v_hidden"][b, 0], np.array(want).ravel())


@needs_numba
@pytest.mark.parametrize("seed", range(4))
def test_fast_forward_records_match_the_reference(seed):
    cfg, rng = random_case(100 + seed)
    w = init_weights(cfg, seed)
    x = rand_x(cfg, cfg.batch_size, rng, 0.5)
    r = ref.forward(cfg, w, x, record=True)
    ff = forward_csnn_fast(cfg, w, x)
    nf = cfg.conv_filters
    eq(ff.counts, r.counts)
    eq(ff.prediction, r.prediction)
    eq(ff.s_output, r.s_output)
    eq(filter_major(ff.pg_hidden, nf), r.record["pg_hidden"])
    eq(filter_major(ff.pre_output, nf), r.record["pre_output"])
    eq(ff.pre_hidden, r.record["pre_hidden"])
    eq(ff.pg_output, r.record["pg_output"])
    # the deferred identity: eq. 3.20's weight trace is sum_t pg * unfold(T_pre)
    pg = filter_major(ff.pg_hidden, nf).astype(np.int64).reshape(len(x), cfg.timesteps, nf, -1)
    pre = ff.pre_hidden.astype(np.int64)[:, :, ff.geometry.patch_pixel]  # (B, T, P, k*k)
    eq(np.einsum("btfp,btpk->bfpk", pg, pre), r.corr_hidden)
    # eq. 3.22 / 3.17 from the records, with feedback voltages of both signs
    vo = rng.integers(-40, 41, (len(x), cfg.n_out)) * (rng.random((len(x), cfg.n_out)) < 0.7)
    vh = rng.integers(-900, 901, (len(x), cfg.n_hidden))
    for u, v in zip(deltas_csnn_fast(ff, vo, vh), ref.deltas(cfg, r, vo, vh)):
        eq(u, v)


@needs_numba
@pytest.mark.parametrize("seed", range(16))
def test_fast_training_is_bit_exact_with_reference(seed):
    cfg, rng = random_case(seed)
    m_fast, m_ref = IntSNN(cfg, seed), IntSNN(cfg, seed, fast=False)
    assert m_fast.fast and not m_ref.fast
    for step in range(3):
        x, y = rand_x(cfg, cfg.batch_size, rng, 0.5), rng.integers(0, cfg.n_out, cfg.batch_size)
        a, b = m_fast.batch_deltas(x, y), m_ref.batch_deltas(x, y)
        for u, v in zip(a, b):  # kernel delta, output delta, counts
            eq(u, v)
        eq(m_fast.predict(x)[1], m_ref.predict(x)[1])
        m_fast.update(*a[:2])
        m_ref.update(*b[:2])
        eq(m_fast.weights.hidden, m_ref.weights.hidden)
        eq(m_fast.weights.output, m_ref.weights.output)


@needs_numba
def test_random_cases_exercise_spikes_and_updates():
    # Guards the test above against going vacuous: most cases spike and move both layers.
    spiking = moved = 0
    for seed in range(16):
        cfg, rng = random_case(seed)
        m = IntSNN(cfg, seed)
        before = m.weights.copy()
        x, y = rand_x(cfg, cfg.batch_size, rng, 0.5), rng.integers(0, cfg.n_out, cfg.batch_size)
        spiking += int(m.batch_deltas(x, y)[2].sum() > 0)
        m.train_batch(x, y)
        moved += int(not np.array_equal(before.hidden, m.weights.hidden)
                     and not np.array_equal(before.output, m.weights.output))
    assert spiking >= 8 and moved >= 8, (spiking, moved)


@needs_numba
def test_fast_path_on_the_thesis_geometry():
    # 28x28, 32 5x5 kernels, stride 2: real MNIST spikes (embedded subset), two updates.
    from intsnn.sw.train import encode, load_data
    cfg = preset("mnist-csnn", batch_size=3)
    data = load_data("mnist-csnn", "train", None, 6)
    m_fast, m_ref = IntSNN(cfg, 0), IntSNN(cfg, 0, fast=False)
    for s in (0, 3):
        rows = np.arange(s, s + 3)
        x, y = encode(cfg, data, rows, 0, 0), data.y[rows]
        a, b = m_fast.batch_deltas(x, y), m_ref.batch_deltas(x, y)
        for u, v in zip(a, b):
            eq(u, v)
        assert np.count_nonzero(a[0]) > 400  # most of the 32 x 25 kernel taps move
        m_fast.update(*a[:2])
        m_ref.update(*b[:2])
    eq(m_fast.weights.hidden, m_ref.weights.hidden)
    eq(m_fast.weights.output, m_ref.weights.output)


@needs_numba
def test_fast_csnn_refuses_bad_input():
    cfg = csnn_cfg()
    w = init_weights(cfg, 0)
    with pytest.raises(ValueError, match="arch 'csnn'"):
        forward_csnn_fast(NetConfig(), init_weights(NetConfig(), 0), np.zeros((1, 20, 784)))
    with pytest.raises(ValueError, match="shape"):
        forward_csnn_fast(cfg, w, np.zeros((1, 5, 35), np.int16))
    with pytest.raises(ValueError, match="inputs must be in"):
        forward_csnn_fast(cfg, w, np.full((1, 5, 36), 4, np.int16))
    with pytest.raises(TypeError, match="integer"):
        forward_csnn_fast(cfg, w, np.zeros((1, 5, 36)))


@needs_numba
@pytest.mark.slow
def test_fast_training_on_real_mnist_batches_is_bit_exact():
    # 8 updates of batch 128 on the preset (the reference takes ~1.5 s a batch).
    from intsnn.sw.train import encode, load_data
    cfg = preset("mnist-csnn")
    data = load_data("mnist-csnn", "train", None, None)
    m_fast, m_ref = IntSNN(cfg, 1), IntSNN(cfg, 1, fast=False)
    for s in range(0, 1000 - 128, 128):
        rows = np.arange(s, s + 128)
        x, y = encode(cfg, data, rows, 1, 0), data.y[rows]
        eq(m_fast.train_batch(x, y), m_ref.train_batch(x, y))
        eq(m_fast.weights.hidden, m_ref.weights.hidden)
        eq(m_fast.weights.output, m_ref.weights.output)
