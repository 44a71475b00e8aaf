"""Cycle formula against the work the design must do (the formula itself is asserted equal to
RTL cycles in tests/test_hw_core.py and, sample by sample, in every co-simulation)."""

from __future__ import annotations

import numpy as np
import pytest

from intsnn.golden.config import LayerParams, NetConfig, preset
from intsnn.hw import cycles
from intsnn.hw.config import HwConfig


def test_within_work_on_real_samples():
    """Every preset, P = 1, 4, 16, on real embedded samples: cycles (+ the stream's) are within
    1.25 x the work for every single sample, never below it, and inference is cheaper."""
    rows = cycles.work_table(samples=6)
    assert {(r["preset"], r["lanes"]) for r in rows} == {
        (p, n) for p in ("mnist-snn", "shd-snn", "shd-rsnn") for n in (1, 4, 16)}
    for r in rows:
        assert 1.0 <= r["ratio_min"] <= r["ratio"] <= r["ratio_max"] <= 1.25, r
        assert 1.0 <= r["ratio_infer"] <= 1.25, r
        assert 0 < r["cycles_infer_mean"] < r["cycles_train_mean"], r
        assert 1.0 < r["ratio_update"] < 1.01, r


def _by_hand_cfg():
    return NetConfig(arch="rsnn", n_in=3, n_hidden=2, n_out=2, timesteps=2, voltage_bits=16,
                     rec_shift=2, hidden=LayerParams(10, 5, 1), output=LayerParams(10, 5, 1))


def test_work_by_hand():
    cfg = _by_hand_cfg()
    x = np.array([[1, 0, 2], [0, 0, 1]])                 # 3 non-zero inputs
    s_h = np.array([[1, 0], [0, 0]])                     # 1 hidden spike
    pg_h = np.array([[1, 0], [0, 0]])                    # hidden pg only in neuron 0
    pg_o = np.array([[0, 0], [1, 0]])                    # output pg only in neuron 0
    v_h = np.array([[4, 3], [8, -1]])                    # V(0) >> 2 = [1, 0]: 1 recurrent input
    e, vfb_h = np.array([0, 5]), np.array([7, 0])
    args = (x, v_h, s_h, pg_h, pg_o, e, vfb_h)
    # P = 1: HW = OW = 2 words, IW = 3; output neuron 0 has a pg but e[0] = 0: no delta work
    w = cycles.sample_work(cfg, 1, *args)
    assert w == {"synaptic_events": 3 * 2 + 1 * 2 + 1 * 2, "neuron_updates": 2 * (2 + 2),
                 "error": 2, "feedback": 2 * 2, "deferred_delta": 3, "error_neurons": 0,
                 "loss_noise": 0, "stream_beats": 2 * 3,
                 "total": 10 + 8 + 2 + 4 + 3 + 6}
    # P = 2: one word per layer, IW = 2; the output word has a pg and e != 0
    w = cycles.sample_work(cfg, 2, *args)
    assert w == {"synaptic_events": 3 + 1 + 1, "neuron_updates": 2 * 2, "error": 1,
                 "feedback": 2, "deferred_delta": 2 + 3, "error_neurons": 0, "loss_noise": 0,
                 "stream_beats": 4, "total": 21}
    assert cycles.sample_work(cfg, 2, *args, train=False)["total"] == 5 + 4 + 1 + 4


def test_cycles_by_hand():
    """The formula's terms on the by-hand sample, P = 2 (IW = 2, HW = OW = 1)."""
    cfg = _by_hand_cfg()
    x = np.array([[1, 0, 2], [0, 0, 1]])
    s_h = np.array([[1, 0], [0, 0]])
    pg_h, pg_o = np.array([[1, 0], [0, 0]]), np.array([[0, 0], [1, 0]])
    v_h = np.array([[4, 3], [8, -1]])
    e, vfb_h = np.array([0, 5]), np.array([7, 0])
    # an event pass starts in 3 cycles and drains for 3 (weights read with latency 2); a
    # neuron pass drains for 3
    E, N = 6, 3
    assert E == HwConfig(net=cfg, lanes=2).event_overhead and N == HwConfig.NEURON_LATENCY
    t0 = (E + 2 + 2 + 1 * 2) + (1 + N) + (E + 1 + 1 + 1 * 1) + (1 + N)       # 29
    t1 = (E + 2 + 1 + 1 * 1) + (E + 1 + 1 + 1 * 1) + (1 + N) + (E + 1 + 0) + (1 + N)   # 34
    infer = t0 + t1 + 1 + 1 + 1
    assert cycles.expected_cycles(cfg, 2, x, v_h, s_h, pg_h, pg_o, e, vfb_h, False) == infer
    # the feedback pipeline's drain, a delta group's drain (reads of latency 2; the add, the
    # saturation and the write each a stage)
    F, D = 4, 6
    assert F == HwConfig.FEEDBACK_LATENCY and D == HwConfig.DELTA_LATENCY - 1
    G = 4   # a delta group: read its words (latency 2), register them and the decision, branch
    assert G == HwConfig.GROUP_CYCLES
    train = infer + 2 * 1 + F + (G + (2 + D)) + (G + (3 + D))
    assert cycles.expected_cycles(cfg, 2, x, v_h, s_h, pg_h, pg_o, e, vfb_h) == train
    assert cycles.stream_cycles(cfg, 2) == 2 * 2      # T * IW beats, one per cycle
    # double buffering: the next sample's stream overlaps the command (max), plus the
    # wrapper's 5 cycles of measurement; a slow producer (gap) can dominate
    assert cycles.overlap_cycles(train, 4) == 5 + train
    assert cycles.overlap_cycles(train, 0) == 5 + train
    assert cycles.overlap_cycles(10, 4, gap=6) == 5 + 3 * 7
    assert cycles.single_buffered_cycles(train, 4) == 8 + train
    with pytest.raises(ValueError, match=r"must be >= 0, not 1, -1, 0"):
        cycles.overlap_cycles(1, -1)
    # error modes and losses add their engines to TRAIN only (O = 2, OW = 1, T = 2)
    args = (x, v_h, s_h, pg_h, pg_o, e, vfb_h)
    for mode, loss, start, extra in (
            ("final", "standard", 0, 0), ("direct", "positive", 0, 0),
            ("direct", "random", 0, 4 + 2),                  # prefix + one hash per output
            ("final", "random", 0, 4 + 2),
            ("feedback", "standard", 1, 1 * (1 + 1)),        # one step: OW + latency
            ("feedback", "standard", 0, 2 * (1 + 1)),
            ("feedback", "random", 0, 2 * ((1 + 1) + (5 + 2))),   # + the step's noise
            ("feedback", "random", 2, 0)):                  # no step: no error neurons
        c = cfg.replace(error_mode=mode, loss=loss, soft_error_start=start)
        assert cycles.expected_cycles(c, 2, *args, False) == infer, (mode, loss, start)
        assert cycles.expected_cycles(c, 2, *args) == train + extra, (mode, loss, start)


def test_update_formula():
    cfg = preset("shd-rsnn")
    assert cycles.expected_update_cycles(cfg, 4) == 175 * 64 + 256 * 5 + 5   # drain 4, done 1
    assert cycles.update_work(cfg, 4) == 175 * 64 + 256 * 5
