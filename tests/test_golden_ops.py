"""Each equation block of golden/ops.py against hand-computed integer examples."""

import numpy as np
import pytest

from intsnn.golden import ops
from intsnn.golden.config import LayerParams, NetConfig, preset, trace_bound

eq = np.testing.assert_array_equal


def test_lif_voltage_shift_decay_eq_3_2():
    # (-5 >> 1) = -3 (floor), (7 >> 1) = 3, (0 >> 1) = 0
    eq(ops.lif_voltage(np.array([-5, 7, 0]), np.array([3, -2, 10]), 1, 16), [0, 1, 10])
    # saturation to 4 bits: [-8, 7]
    eq(ops.lif_voltage(np.array([0, 0]), np.array([10, -20]), 1, 4), [7, -8])


def test_spike_eq_2_2_strict():
    eq(ops.spike(np.array([5, 6, 7]), 6), [0, 0, 1])


def test_pseudo_grad_eq_3_3_open_window():
    eq(ops.pseudo_grad(np.array([0, 3, 4, 6, 8, 9, 12]), 6, 3), [0, 0, 1, 1, 1, 0, 0])


def test_hard_reset():
    eq(ops.hard_reset(np.array([9, 4, -3]), np.array([1, 0, 0])), [0, 4, -3])


def test_pre_trace_eq_3_4_counts():
    eq(ops.pre_trace(np.array([5, 1, 0]), np.array([1, 0, 2]), 1), [3, 0, 2])
    eq(ops.pre_trace(np.array([7]), np.array([0]), 2), [1])


def test_binary_trace_with_shift_one_is_last_spike():
    # floor(1/2) = 0: with binary inputs and beta = 0.5 the trace is the current input
    assert trace_bound(1, 1) == 1
    assert trace_bound(255, 1) == 509
    assert trace_bound(3, 2) == 3


def test_corr_trace_eq_3_5_outer_product():
    eq(ops.corr_trace(np.zeros((2, 2), np.int64), np.array([1, 0]), np.array([2, 3])),
       [[2, 3], [0, 0]])
    eq(ops.corr_trace(np.array([[1, 1], [1, 1]]), np.array([1, 1]), np.array([0, 4])),
       [[1, 5], [1, 5]])


def test_quantize_eq_3_24_top_bits():
    cfg = NetConfig()  # S=16, Q=8
    eq(ops.quantize(np.array([-32768, -1, 255, 256, 32767]), cfg), [-128, -1, 0, 1, 127])
    cfg12 = NetConfig(inference_bits=12)
    eq(ops.quantize(np.array([-32768, 17, 32767]), cfg12), [-2048, 1, 2047])


def test_b16_recurrent_quantiser():
    eq(ops.b16(np.array([1023, 1024, -1, -1025]), 9), [1, 2, -1, -3])


def test_prediction_error_eq_3_6():
    cfg = NetConfig(timesteps=20, alpha=128)  # floor(log2 20) = 4
    eq(ops.prediction_error(np.array([[0, 3, 20]]), np.array([2]), cfg), [[0, 24, 32]])
    cfg10 = NetConfig(timesteps=10, alpha=128)  # shift 3
    eq(ops.prediction_error(np.array([[3, 0]]), np.array([1]), cfg10), [[48, -128]])


def test_positive_and_random_loss_eq_3_7_3_8():
    cfg = NetConfig(timesteps=20, alpha=128, loss="positive")
    eq(ops.prediction_error(np.array([[0, 3, 16]]), np.array([2]), cfg), [[1, 24, 1]])
    cfg = NetConfig(timesteps=20, alpha=128, loss="random")
    bits = np.array([[-1, 1, 0]])
    eq(ops.prediction_error(np.array([[0, 3, 16]]), np.array([2]), cfg, bits), [[-1, 24, 0]])
    with pytest.raises(ValueError, match="rng_bits"):
        ops.prediction_error(np.array([[0, 1]]), np.array([0]), cfg)


def test_clip_eq_3_27():
    eq(ops.clip(np.array([-5000, -2048, 0, 2047, 9000]), 2048), [-2048, -2048, 0, 2047, 2048])


def test_weight_update_shift_then_clip_eq_3_18():
    cfg = NetConfig(clip=2048)
    w = np.array([100, -100, 0])
    d = np.array([5000, -70000, 100000])
    # d >> 4 = [312, -4375, 6250] -> clip [312, -2048, 2048]
    eq(ops.weight_update(w, d, 4, None, cfg), [-212, 1948, -2048])
    # weight decay w >> 3 = [12, -13, 0]
    eq(ops.weight_update(w, d, 4, 3, cfg), [-224, 1961, -2048])


def test_weight_update_clip_then_shift_literal():
    cfg = NetConfig(clip=2048, clip_order="clip_then_shift")
    eq(ops.weight_update(np.array([100, -100, 0]), np.array([5000, -70000, 100000]), 4, None,
                         cfg), [-28, 28, -128])
    # the known problem: with clip <= 2**lr every hidden step is in {-1, 0}
    d = np.arange(-100000, 100000, 997)
    step = np.array([0]) - ops.weight_update(np.zeros_like(d), d, 12, None, cfg)
    assert set(np.unique(step)) <= {-1, 0}


def test_shadow_weights_saturate_to_s_bits():
    cfg = NetConfig(shadow_bits=16)
    eq(ops.weight_update(np.array([32760, -32760]), np.array([-2048 << 1, 4096]), 1, None, cfg),
       [32767, -32768])
    cfg8 = NetConfig(shadow_bits=8, inference_bits=4, clip=100)
    eq(ops.weight_update(np.array([120]), np.array([-1000]), 0, None, cfg8), [127])


def test_as_int_refuses_floats():
    with pytest.raises(TypeError, match="integer array expected"):
        ops.as_int(np.array([1.0]))


@pytest.mark.parametrize("s,q", [(16, 4), (16, 8), (16, 12), (16, 16), (8, 4), (8, 8)])
def test_paper_precisions_are_valid_presets(s, q):
    for name in ("mnist-snn", "shd-snn", "shd-rsnn", "mnist-csnn"):
        cfg = preset(name, s, q)
        assert cfg.shadow_bits == s and cfg.inference_bits == q
        # without headroom, thresholds follow the inference-weight scale 2**(Q-8) and the clip
        # the shadow-weight scale 2**(S-16)
        lit, base = preset(name, s, q, headroom=0), preset(name, headroom=0)
        scaled = (base.hidden.threshold << (q - 8) if q >= 8
                  else base.hidden.threshold >> (8 - q))
        assert lit.hidden.threshold == max(1, scaled)
        assert lit.clip == (base.clip << (s - 16) if s >= 16 else max(1, base.clip >> (16 - s)))
        assert lit.init_bits is None


def test_headroom_is_the_lower_precision_rescaled_onto_the_datapath():
    # Table D.2 (MP 16-8) read literally
    lit = preset("mnist-snn", headroom=0)
    assert (lit.hidden, lit.output, lit.clip) == (LayerParams(500, 1000, 12),
                                                  LayerParams(2000, 4000, 1), 2048)
    assert lit.init_range_bits == 16
    # headroom 2: the MP 14-6 hyper-parameters on a 16-8 datapath, weights initialised on 14 bits
    hr = preset("mnist-snn", headroom=2)
    assert (hr.shadow_bits, hr.inference_bits, hr.init_bits) == (16, 8, 14)
    assert (hr.hidden, hr.output, hr.clip) == (LayerParams(125, 250, 12),
                                               LayerParams(500, 1000, 3), 512)
    for name in ("shd-snn", "shd-rsnn"):
        for h in (1, 2, 3):
            a, b = preset(name, 16, 8, headroom=h), preset(name, 16 - h, 8 - h, headroom=0)
            # the same numbers; only the rounding differs (preset() dithers below 16 bits)
            assert a.replace(shadow_bits=16 - h, inference_bits=8 - h, init_bits=None,
                             lr_rounding="dither") == b
    r = preset("shd-rsnn", headroom=2)
    assert r.rec_shift == 9 and r.voltage_bits == 24
    with pytest.raises(ValueError, match="headroom"):
        preset("mnist-snn", headroom=-1)
    with pytest.raises(ValueError, match="headroom"):
        preset("mnist-snn", 8, 2, headroom=1)


def test_config_errors_name_the_parameter():
    with pytest.raises(ValueError, match="inference_bits"):
        NetConfig(shadow_bits=8, inference_bits=12)
    with pytest.raises(ValueError, match="shadow_bits"):
        NetConfig(shadow_bits=20)
    with pytest.raises(ValueError, match="n_hidden"):
        NetConfig(n_hidden=0)
    with pytest.raises(ValueError, match="beta_shift"):
        NetConfig(beta_shift=0)
    with pytest.raises(ValueError, match="voltage_bits"):
        NetConfig(arch="rsnn")
    with pytest.raises(ValueError, match="clip"):
        NetConfig(shadow_bits=8, inference_bits=4, clip=2048)
    with pytest.raises(ValueError, match="window"):
        LayerParams(10, 0, 1)
    with pytest.raises(ValueError, match="init_bits"):
        NetConfig(init_bits=17)
    with pytest.raises(ValueError, match="unknown preset"):
        preset("cifar")
    with pytest.raises(ValueError, match="batch_size"):
        NetConfig(batch_size=1 << 50)
