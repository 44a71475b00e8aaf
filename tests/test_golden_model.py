"""The golden model end to end: an independent scalar implementation, the fast kernels, the three
error modes and losses, mixed precisions, determinism."""

import numpy as np
import pytest

from intsnn.golden import reference as ref
from intsnn.golden.config import LayerParams, NetConfig, preset
from intsnn.golden.fast import HAVE_NUMBA, deltas_fast, forward_fast
from intsnn.golden.init import init_weights, layer_limits
from intsnn.golden.model import LOSS_STREAM, IntSNN, loss_rng_bits

eq = np.testing.assert_array_equal


def small_cfg(arch="snn", **kw):
    base = dict(arch=arch, n_in=7, n_hidden=6, n_out=3, timesteps=5, input_bits=3,
                hidden=LayerParams(40, 60, 3, None), output=LayerParams(30, 50, 1, 4),
                alpha=16, clip=300, shadow_bits=12, inference_bits=8, batch_size=4,
                rec_shift=3)
    if arch == "rsnn":
        base["voltage_bits"] = 14
    base.update(kw)
    return NetConfig(**base)


def rand_x(cfg, b, rng, density=0.4):
    x = rng.integers(0, cfg.in_max + 1, (b, cfg.timesteps, cfg.n_in))
    return x * (rng.random(x.shape) < density)


def scalar_forward(cfg, w, x):
    """Pure-Python loops, written from docs/algorithm.md independently of reference.py."""
    qs = cfg.shadow_bits - cfg.inference_bits
    wh = [[int(v) >> qs for v in row] for row in w.hidden]
    wo = [[int(v) >> qs for v in row] for row in w.output]
    H, O, I = cfg.n_hidden, cfg.n_out, cfg.n_in

    def sat(v, bits):
        return max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, v))

    out = []
    for sample in x:
        vs_h, vprev, vs_o = [0] * H, [0] * H, [0] * O
        pre_h, pre_o = [0] * I, [0] * H
        corr_h = [[0] * I for _ in range(H)]
        corr_o = [[0] * H for _ in range(O)]
        counts = [0] * O
        for t in range(cfg.timesteps):
            xt = [int(v) for v in sample[t]]
            v_h, s_h, pg_h = [0] * H, [0] * H, [0] * H
            vs_prev = list(vs_h)
            for h in range(H):
                cur = sum(wh[h][i] * xt[i] for i in range(I))
                if cfg.arch == "rsnn":
                    src = vprev if cfg.rec_source == "pre_reset" else vs_prev
                    cur += sum(int(w.recurrent[h][j]) * (src[j] >> cfg.rec_shift)
                               for j in range(H))
                v = sat((vs_h[h] >> cfg.beta_shift) + cur, cfg.hidden_voltage_bits)
                v_h[h] = v
                s_h[h] = int(v > cfg.hidden.threshold)
                pg_h[h] = int(abs(v - cfg.hidden.threshold) < cfg.hidden.window)
                vs_h[h] = 0 if s_h[h] else v
            vprev = v_h
            pre_h = [(pre_h[i] >> cfg.beta_shift) + xt[i] for i in range(I)]
            for h in range(H):
                for i in range(I):
                    corr_h[h][i] += pg_h[h] * pre_h[i]
            pg_o = [0] * O
            for o in range(O):
                v = sat((vs_o[o] >> cfg.beta_shift) + sum(wo[o][h] * s_h[h] for h in range(H)),
                        cfg.output_voltage_bits)
                s = int(v > cfg.output.threshold)
                pg_o[o] = int(abs(v - cfg.output.threshold) < cfg.output.window)
                vs_o[o] = 0 if s else v
                counts[o] += s
            pre_o = [(pre_o[h] >> cfg.beta_shift) + s_h[h] for h in range(H)]
            for o in range(O):
                for h in range(H):
                    corr_o[o][h] += pg_o[o] * pre_o[h]
        out.append((counts, corr_h, corr_o))
    return out


@pytest.mark.parametrize("arch,source", [("snn", "pre_reset"), ("rsnn", "pre_reset"),
                                         ("rsnn", "post_reset")])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_matches_independent_scalar_model(arch, source, seed):
    rng = np.random.default_rng(seed)
    cfg = small_cfg(arch, rec_source=source)
    w = init_weights(cfg, seed)
    x = rand_x(cfg, 3, rng)
    f = ref.forward(cfg, w, x)
    for b, (counts, ch, co) in enumerate(scalar_forward(cfg, w, x)):
        eq(f.counts[b], counts)
        eq(f.corr_hidden[b], ch)
        eq(f.corr_output[b], co)


def test_hand_computed_two_neuron_step():
    # n_in=2, H=2, O=2, T=2, S=Q=8 (B_Q is the identity), beta_shift=1.
    cfg = NetConfig(n_in=2, n_hidden=2, n_out=2, timesteps=2, input_bits=1, shadow_bits=8,
                    inference_bits=8, hidden=LayerParams(5, 4, 0), output=LayerParams(2, 3, 0),
                    alpha=8, clip=100, batch_size=1)
    w = init_weights(cfg, 0)
    w.hidden[:] = [[6, -2], [3, 3]]
    w.output[:] = [[4, 0], [-1, 2]]
    x = np.array([[[1, 0], [1, 1]]])
    f = ref.forward(cfg, w, x, record=True)
    r = f.record
    # t=0: V_h = [6, 3] -> s = [1, 0]; pg: |6-5|<4, |3-5|<4 -> [1, 1]
    # t=1: V_h = [0>>1 + 4, 3>>1 + 6] = [4, 7] -> s = [0, 1]; pg = [1, 1]
    eq(r["v_hidden"][0], [[6, 3], [4, 7]])
    eq(r["s_hidden"][0], [[1, 0], [0, 1]])
    # output t=0: input s_h=[1,0]: V_o = [4, -1] -> s=[1,0]; pg |4-2|<3, |-1-2|<3 -> [1,0]
    # output t=1: input [0,1]: V_o = [0 + 0, (-1>>1) + 2] = [0, 1] -> s=[0,0]; pg [1,1]
    eq(r["v_output"][0], [[4, -1], [0, 1]])
    eq(f.counts[0], [1, 0])
    # traces: pre_h t0 = [1,0], t1 = [0+1, 0+1] = [1,1]; corr_h = [[2,1],[2,1]]
    eq(f.corr_hidden[0], [[2, 1], [2, 1]])
    # pre_o t0 = [1,0]; t1 = [0, 1]; corr_o = pg_o(t0) x [1,0] + pg_o(t1) x [0,1]
    eq(f.corr_output[0], [[1, 1], [0, 1]])
    # error, label 1: (count*8) >> 1 - onehot*8 = [4, -8]; v_fb_hid = W_out^T e = [24, -16]
    e, vo, vh = ref.error_signals(cfg, w, f.counts, f.s_output, np.array([1]))
    eq(e[0], [4, -8])
    eq(vh[0], [4 * 4 + (-1) * (-8), 0 * 4 + 2 * (-8)])
    dh, do = ref.deltas(cfg, f, vo, vh)
    eq(do, [[4, 4], [0, -8]])
    eq(dh, [[48, 24], [-32, -16]])
    new = ref.apply_update(cfg, w, dh, do)
    eq(new.output, [[0, -4], [-1, 10]])
    eq(new.hidden, [[-42, -26], [35, 19]])


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
def test_fast_path_on_preset_shapes_with_saturation():
    rng = np.random.default_rng(3)
    cfg = preset("shd-rsnn", n_out=10, rec_shift=4, voltage_bits=18, n_hidden=40)
    m = IntSNN(cfg, 1)
    x = rng.integers(0, 40, (4, cfg.timesteps, cfg.n_in))
    f = ref.forward(cfg, m.weights, x, record=True)
    assert np.abs(f.record["v_hidden"]).max() == (1 << 17)  # saturation is exercised
    ff = forward_fast(cfg, m.weights, x)
    eq(ff.counts, f.counts)
    y = rng.integers(0, 10, 4)
    _, vo, vh = ref.error_signals(cfg, m.weights, f.counts, f.s_output, y)
    for u, v in zip(deltas_fast(ff, vo, vh), ref.deltas(cfg, f, vo, vh)):
        eq(u, v)


@pytest.mark.parametrize("mode", ["direct", "feedback"])
def test_run_sample_records_add_up_to_the_batch_delta_with_random_loss(mode):
    # issue 7: the noise of sample b of update k is the same alone or in its batch
    cfg = small_cfg("rsnn", loss="random", error_mode=mode, soft_error_start=1, alpha=4)
    m = IntSNN(cfg, 3)
    rng = np.random.default_rng(5)
    x, y = rand_x(cfg, 6, rng), rng.integers(0, cfg.n_out, 6)
    m.update(*m.batch_deltas(x, y)[:2])  # the noise depends on the update number too
    dh, do, _ = m.batch_deltas(x, y)
    recs = [m.run_sample(x[b], int(y[b]), position=b) for b in range(6)]
    eq(sum(r.delta_hidden for r in recs), dh)
    eq(sum(r.delta_output for r in recs), do)
    # the noise really acts: another position draws other values
    other = m.run_sample(x[0], int(y[0]), position=1)
    assert not np.array_equal(other.error, recs[0].error)


def _splitmix_chain(seed, *keys):
    """The counter hash of docs/algorithm.md, in Python integers (independent of numpy)."""
    m64, g = (1 << 64) - 1, 0x9E3779B97F4A7C15

    def mix(z):
        z ^= z >> 30
        z = (z * 0xBF58476D1CE4E5B9) & m64
        z ^= z >> 27
        z = (z * 0x94D049BB133111EB) & m64
        return z ^ (z >> 31)

    h = mix((seed + g) & m64)
    for k in keys:
        h = mix(((h ^ (k & m64)) + g) & m64)
    return h


def test_random_loss_noise_is_the_documented_counter_hash():
    cfg = small_cfg(loss="random")
    bits = loss_rng_bits(cfg, 9, 4, [0, 2])
    want = [[(((_splitmix_chain(9, LOSS_STREAM, 4, p, o) >> 32) * 3) >> 32) - 1
             for o in range(cfg.n_out)] for p in (0, 2)]
    eq(bits, want)
    fb = loss_rng_bits(cfg.replace(error_mode="feedback"), 9, 4, [1])
    assert fb.shape == (1, cfg.timesteps, cfg.n_out)
    assert fb[0, 3, 2] == (((_splitmix_chain(9, LOSS_STREAM, 4, 1, 3, 2) >> 32) * 3) >> 32) - 1
    many = loss_rng_bits(cfg.replace(n_out=1000), 0, 0, range(30))
    assert set(np.unique(many)) == {-1, 0, 1}
    assert loss_rng_bits(cfg.replace(loss="standard"), 9, 4, [0]) is None


def test_error_modes_direct_final_feedback_by_hand():
    cfg = NetConfig(n_in=2, n_hidden=2, n_out=2, timesteps=4, alpha=64, fb_threshold=32,
                    soft_error_start=1)
    w = init_weights(cfg, 0)
    w.output[:] = [[256, -256], [512, 0]]  # B_Q (>> 8) = [[1, -1], [2, 0]]
    counts = np.array([[4, 0]])
    s_out = np.array([[[1, 0], [1, 0], [1, 0], [1, 0]]])
    y = np.array([1])
    # Direct: e = (count*64) >> 2 - onehot*64 = [64, -64]
    e, vo, vh = ref.error_signals(cfg, w, counts, s_out, y)
    eq(e, [[64, -64]]); eq(vo, [[64, -64]]); eq(vh, [[64 - 128, -64]])
    # Final: error neurons from rest: v_pos = e, v_neg = -e; spikes where > 32
    e, vo, vh = ref.error_signals(cfg.replace(error_mode="final"), w, counts, s_out, y)
    eq(vo, [[1, -1]]); eq(vh, [[1 - 2, -1]])
    # Feedback from t=1: running counts [2,0],[3,0],[4,0] -> e0 = [32,-64],[48,-64],[64,-64]
    # neuron 0: v_pos 32 (no spike), 80 (spike), 80-32+64=112 (spike) -> vfb 2
    # neuron 1: v_neg 64 (spike), 64-32+64=96 (spike), 96-32+64=128 (spike) -> vfb -3
    e, vo, vh = ref.error_signals(cfg.replace(error_mode="feedback"), w, counts, s_out, y)
    eq(vo, [[2, -3]]); eq(vh, [[2 - 6, -2]])


def test_init_is_integer_deterministic_and_scaled():
    cfg = preset("mnist-snn", headroom=0)
    a, b, c = init_weights(cfg, 5), init_weights(cfg, 5), init_weights(cfg, 6)
    eq(a.hidden, b.hidden)
    assert not np.array_equal(a.hidden, c.hidden)
    lim = layer_limits(cfg)
    assert lim["output"] == 32767  # smallest fan-in spans the full 16-bit range
    assert lim["hidden"] == 11702  # 32767 * sqrt(100/784)
    assert a.hidden.dtype.kind == "i" and np.abs(a.hidden).max() <= lim["hidden"]
    assert a.output.min() < -30000 and a.output.max() > 30000
    # headroom 2: the initial weights span 14 bits
    lim2 = layer_limits(preset("mnist-snn", headroom=2))
    assert lim2 == {"output": 8191, "hidden": 2925}  # 8191 * sqrt(100/784)


def test_training_is_deterministic_for_a_seed():
    cfg = small_cfg("rsnn", loss="random")
    rng = np.random.default_rng(0)
    xs = [rand_x(cfg, 4, rng) for _ in range(3)]
    ys = [rng.integers(0, 3, 4) for _ in range(3)]
    runs = []
    for _ in range(2):
        m = IntSNN(cfg, 11)
        for x, y in zip(xs, ys):
            m.train_batch(x, y)
        runs.append(m.weights)
    eq(runs[0].hidden, runs[1].hidden)
    eq(runs[0].output, runs[1].output)


@pytest.mark.parametrize("s,q", [(16, 4), (16, 8), (16, 12), (16, 16), (8, 4), (8, 8)])
def test_mixed_precision_configs_train_and_stay_in_range(s, q):
    cfg = preset("mnist-snn", s, q, n_hidden=12, batch_size=8)
    m = IntSNN(cfg, 0)
    rng = np.random.default_rng(1)
    for _ in range(3):
        m.train_batch((rng.random((8, 20, 784)) < 0.15).astype(np.int16), rng.integers(0, 10, 8))
    for w in (m.weights.hidden, m.weights.output):
        assert w.min() >= -(1 << (s - 1)) and w.max() < (1 << (s - 1))
    qh, qo = m.weights.inference(cfg)
    assert qh.min() >= -(1 << (q - 1)) and qh.max() < (1 << (q - 1))


def test_csnn_reference_runs_and_updates_kernels():
    cfg = preset("mnist-csnn", batch_size=2)
    m = IntSNN(cfg, 0, fast=False)  # the fast path: tests/test_golden_csnn.py
    assert not m.fast
    rng = np.random.default_rng(0)
    x = (rng.random((2, 20, 784)) < 0.2).astype(np.int16)
    before = m.weights.hidden.copy()
    m.train_batch(x, np.array([3, 4]))
    assert m.weights.hidden.shape == (32, 25)
    assert not np.array_equal(before, m.weights.hidden)


def test_bad_inputs_are_refused():
    cfg = small_cfg()
    m = IntSNN(cfg, 0)
    with pytest.raises(ValueError, match="shape"):
        m.predict(np.zeros((2, 3, 7), np.int16))
    with pytest.raises(ValueError, match="inputs must be in"):
        m.predict(np.full((1, 5, 7), 8, np.int16))
    with pytest.raises(TypeError, match="integer"):
        m.predict(np.zeros((1, 5, 7)))
    with pytest.raises(ValueError, match="labels"):
        m.batch_deltas(np.zeros((2, 5, 7), np.int16), np.array([0, 3]))
