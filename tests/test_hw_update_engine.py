"""UpdateEngine against its golden twin ``reference.apply_update`` (eqs. 3.18, 3.27), and its
clear mode (Amaranth simulator)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.golden.init import Weights, init_weights  # noqa: E402
from intsnn.golden.reference import apply_update  # noqa: E402
from intsnn.hw.bench import Rig, from_words, load, run_engine, simulate, small_net, to_words, \
    words  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.update_engine import UpdateEngine  # noqa: E402


def layer_words(a, lanes):
    return to_words(np.asarray(a).T, lanes).reshape(-1, lanes)


def layer_of(ws, n_pre, n_post, lanes):
    return from_words(np.asarray(ws).reshape(n_pre, -1, lanes), n_post).T


def rtl_update(hw: HwConfig, cases):
    """One pass per case ``(weights, d_hidden, d_output, clear)``: the weights and deltas after
    it, and the cycles."""
    cfg, L = hw.net, hw.lanes
    I, H, O = cfg.n_in, cfg.n_hidden, cfg.n_out
    dut = UpdateEngine(config=hw)
    rig = Rig(dut)
    r = rig.rams
    results = []

    async def tb(ctx):
        for w, dh, do, clear in cases:
            for name, a in (("w_hidden", w.hidden), ("w_output", w.output),
                            ("delta_hidden", dh), ("delta_output", do)):
                load(ctx, r[name], layer_words(a, L))
            cycles = await run_engine(ctx, dut, clear=clear)
            results.append({
                "w_hidden": layer_of(words(ctx, r["w_hidden"]), I, H, L),
                "w_output": layer_of(words(ctx, r["w_output"]), H, O, L),
                "delta_hidden": layer_of(words(ctx, r["delta_hidden"]), I, H, L),
                "delta_output": layer_of(words(ctx, r["delta_output"]), H, O, L),
                "cycles": cycles})

    simulate(rig, tb)
    return results


@pytest.mark.parametrize("S,Q,clip_order,lanes,n_hidden,n_out",
                         [(16, 8, "shift_then_clip", 1, 8, 4), (8, 4, "clip_then_shift", 4, 7, 3)])
def test_update_matches_golden(S, Q, clip_order, lanes, n_hidden, n_out):
    cfg = small_net(S=S, Q=Q, clip_order=clip_order, n_hidden=n_hidden, n_out=n_out)
    hw = HwConfig(net=cfg, lanes=lanes)
    rng = np.random.default_rng(lanes)
    w = init_weights(cfg, seed=lanes)
    # around the clip (both signs), and anywhere in the accumulator's range
    big = min(1 << (hw.delta_hidden_bits - 1), 1 << 60)
    near = (4 * cfg.clip) << max(cfg.hidden.lr_shift, cfg.output.lr_shift)
    o_max = (1 << (hw.delta_output_bits - 1)) - 1   # the output layer's narrower accumulator
    cases = []
    for clear in (0, 1):
        dh = np.where(rng.random(w.hidden.shape) < 0.5, rng.integers(-near, near, w.hidden.shape),
                      rng.integers(-big, big, w.hidden.shape))
        do = np.clip(rng.integers(-near, near, w.output.shape), -o_max, o_max)
        cases.append((w, dh, do, clear))
    for (w0, dh, do, clear), got in zip(cases, rtl_update(hw, cases)):
        want = w0 if clear else apply_update(cfg, w0, dh, do)
        assert isinstance(want, Weights)
        np.testing.assert_array_equal(got["w_hidden"], want.hidden)
        np.testing.assert_array_equal(got["w_output"], want.output)
        assert not got["delta_hidden"].any() and not got["delta_output"].any()
        assert got["cycles"] == hw.update_words + hw.UPDATE_LATENCY - 1
    assert (apply_update(cfg, w, cases[0][1], cases[0][2]).hidden != w.hidden).any()
