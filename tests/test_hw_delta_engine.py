"""DeltaEngine against its golden twin: one sample's eq. 3.17 term (``SampleRecord.delta_*`` of
``IntSNN.run_sample``) added to random batch accumulators, from that sample's pseudo-gradient,
trace and feedback histories; and the schedule's cycles (Amaranth simulator)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.golden.model import IntSNN  # noqa: E402
from intsnn.hw import cycles as hw_cycles  # noqa: E402
from intsnn.hw.bench import Rig, from_words, run_engine, simulate, small_net, to_words, \
    words  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.delta_engine import DeltaEngine  # noqa: E402


def history_words(h, lanes):
    """(T, n) -> slot-major words (words, T, lanes)."""
    return np.moveaxis(to_words(h, lanes), 0, 1)


def ref_deltas(rec, d_hidden, d_output):
    """Golden twin: ``Delta += v_fb * T_corr`` for the sample (``run_sample``'s summand)."""
    return d_hidden + rec.delta_hidden, d_output + rec.delta_output


def rtl_deltas(hw: HwConfig, rec, d_hidden, d_output, seed=0):
    """The accumulators after one pass over ``rec``'s histories, and the pass's cycles.  The
    padding lanes of ``vfb_hidden`` (never written in the core) hold garbage."""
    cfg, L = hw.net, hw.lanes
    s = rec.steps
    rng = np.random.default_rng(seed)
    vfb = to_words(rec.vfb_hidden, L)
    vfb.reshape(-1)[cfg.n_hidden:] = rng.integers(1, 100, vfb.size - cfg.n_hidden)
    init = {"pg_hidden": history_words(s["pg_hidden"], L),
            "pg_output": history_words(s["pg_output"], L),
            "trace_hidden": history_words(s["pre_hidden"], L),
            "trace_output": history_words(s["pre_output"], L),
            "error": to_words(rec.vfb_output, L), "vfb_hidden": vfb,
            "delta_hidden": to_words(np.asarray(d_hidden).T, L).reshape(-1, L),
            "delta_output": to_words(np.asarray(d_output).T, L).reshape(-1, L)}
    dut = DeltaEngine(config=hw)
    rig = Rig(dut, init)
    out = {}

    async def tb(ctx):
        out["cycles"] = await run_engine(ctx, dut)
        dh = np.asarray(words(ctx, rig.rams["delta_hidden"])).reshape(cfg.n_in, -1, L)
        do = np.asarray(words(ctx, rig.rams["delta_output"])).reshape(cfg.n_hidden, -1, L)
        out["hidden"] = from_words(dh, cfg.n_hidden).T
        out["output"] = from_words(do, cfg.n_out).T

    simulate(rig, tb)
    return out


@pytest.mark.parametrize("arch,lanes,input_bits,n_in,n_hidden,n_out",
                         [("snn", 1, 1, 12, 8, 4), ("rsnn", 4, 8, 11, 7, 3),
                          ("snn", 8, 1, 20, 9, 5)])
def test_deltas_match_golden(arch, lanes, input_bits, n_in, n_hidden, n_out):
    cfg = small_net(arch, input_bits=input_bits, n_in=n_in, n_hidden=n_hidden, n_out=n_out,
                    timesteps=5)
    hw = HwConfig(net=cfg, lanes=lanes)
    rng = np.random.default_rng(lanes)
    x = rng.integers(0, cfg.in_max + 1, (cfg.timesteps, n_in)) * (rng.random((5, n_in)) < 0.5)
    net = IntSNN(cfg, seed=lanes)
    rec = net.run_sample(x, label=1)
    assert rec.delta_hidden.any() and rec.delta_output.any()  # the sample has work to do
    # earlier samples of the batch: anything up to B - 1 samples' worth, per layer (the
    # layers' accumulators have their own widths, HwConfig.delta_*_bits)
    b1 = cfg.batch_size - 1
    bound_h = b1 * cfg.vfb_hidden_max * cfg.hidden_corr_max
    bound_o = b1 * cfg.vfb_output_max * cfg.output_corr_max
    d_h = rng.integers(-bound_h, bound_h, (n_hidden, n_in))
    d_o = rng.integers(-bound_o, bound_o, (n_out, n_hidden))
    got = rtl_deltas(hw, rec, d_h, d_o)
    want_h, want_o = ref_deltas(rec, d_h, d_o)
    np.testing.assert_array_equal(got["hidden"], want_h)
    np.testing.assert_array_equal(got["output"], want_o)
    # the delta part of the cycle formula: total train - infer - feedback
    s = rec.steps
    args = (cfg, lanes, x, s["v_hidden"], s["s_hidden"], s["pg_hidden"], s["pg_output"],
            rec.vfb_output, rec.vfb_hidden)
    delta_cycles = (hw_cycles.expected_cycles(*args) - hw_cycles.expected_cycles(*args, False)
                    - n_hidden * hw.OW - hw.FEEDBACK_LATENCY)
    assert got["cycles"] == delta_cycles


@pytest.mark.parametrize("arch,lanes,clip_order", [("snn", 4, "shift_then_clip"),
                                                   ("rsnn", 2, "clip_then_shift")])
def test_saturating_deltas_match_golden(arch, lanes, clip_order):
    """NetConfig.delta_sat_bits: the accumulators saturate after the sample's term exactly as
    :func:`intsnn.golden.ops.batch_delta` (accumulators near both rails, so both are hit)."""
    from intsnn.golden import ops
    base = small_net(arch, input_bits=1, n_in=13, n_hidden=7, n_out=3, timesteps=5,
                     clip_order=clip_order).replace(clip=3)
    n = max(base.delta_lossless_bits(k) for k in ("hidden", "output"))
    cfg = base.replace(delta_sat_bits=n)
    assert cfg.delta_saturates("hidden") and cfg.delta_saturates("output")
    hw = HwConfig(net=cfg, lanes=lanes)
    assert (hw.delta_hidden_bits, hw.delta_output_bits) == (n, n)
    assert hw.memories["delta_hidden"].bits == n
    rng = np.random.default_rng(11)
    x = rng.integers(0, 2, (cfg.timesteps, cfg.n_in)) * (rng.random((5, cfg.n_in)) < 0.6)
    rec = IntSNN(cfg, seed=3).run_sample(x, label=1)
    lo, hi = cfg.delta_range("hidden")
    # the registers near both rails (and in between): terms push some over
    d_h = rng.choice([lo, lo + 1, -1, 0, 1, hi - 1, hi], (cfg.n_hidden, cfg.n_in))
    d_o = rng.choice([lo, lo + 1, 0, hi - 1, hi], (cfg.n_out, cfg.n_hidden))
    got = rtl_deltas(hw, rec, d_h, d_o)
    want_h = ops.batch_delta(cfg, "hidden", np.stack([d_h, rec.delta_hidden]))
    want_o = ops.batch_delta(cfg, "output", np.stack([d_o, rec.delta_output]))
    # the rails were hit: the exact sum leaves the register's range
    assert ((d_h + rec.delta_hidden > hi) | (d_h + rec.delta_hidden < lo)).any()
    assert ((d_o + rec.delta_output > hi) | (d_o + rec.delta_output < lo)).any()
    np.testing.assert_array_equal(got["hidden"], want_h)
    np.testing.assert_array_equal(got["output"], want_o)
