"""Feedback against its golden twin: ``e @ B_Q(W_out)`` of ``reference.error_signals`` (Direct
mode), with garbage in the padding lanes it must ignore (Amaranth simulator)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.golden import ops  # noqa: E402
from intsnn.golden.init import init_weights  # noqa: E402
from intsnn.hw.bench import Rig, from_words, load, run_engine, simulate, small_net, to_words, \
    words  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.feedback import Feedback  # noqa: E402


def ref_feedback(hw: HwConfig, w_output, e):
    """Golden twin: ``v_fb_hid = e @ B_Q(W_out)`` (eq. 3.16)."""
    return np.asarray(e) @ ops.quantize(w_output, hw.net)


def rtl_feedback(hw: HwConfig, w_output, cases):
    """One pass per error vector: ``(vfb_hidden, cycles)``."""
    cfg, L = hw.net, hw.lanes
    rng = np.random.default_rng(1)
    ww = to_words(np.asarray(w_output).T, L)                    # [h][o-word][lane]
    pad = cfg.n_out % L
    if pad:  # output lanes beyond n_out: never loaded over the bus
        ww[:, -1, pad:] = rng.integers(cfg.shadow_min, cfg.shadow_max + 1, ww[:, -1, pad:].shape)
    dut = Feedback(config=hw)
    rig = Rig(dut, {"w_output": ww.reshape(-1, L)})
    results = []

    async def tb(ctx):
        for e in cases:
            load(ctx, rig.rams["error"], to_words(e, L))
            cycles = await run_engine(ctx, dut)
            results.append((from_words(words(ctx, rig.rams["vfb_hidden"]), cfg.n_hidden),
                            cycles))

    simulate(rig, tb)
    return results


@pytest.mark.parametrize("S,Q,lanes,n_hidden,n_out", [(16, 8, 1, 8, 4), (8, 4, 4, 7, 3),
                                                      (16, 12, 4, 5, 10)])
def test_feedback_matches_golden(S, Q, lanes, n_hidden, n_out):
    cfg = small_net(S=S, Q=Q, n_hidden=n_hidden, n_out=n_out)
    hw = HwConfig(net=cfg, lanes=lanes)
    w = init_weights(cfg, seed=lanes).output
    lo, hi = cfg.error_range
    rng = np.random.default_rng(S + lanes)
    cases = [np.full(n_out, hi), np.full(n_out, lo), rng.integers(lo, hi + 1, n_out),
             np.zeros(n_out, np.int64)]
    for e, (got, cycles) in zip(cases, rtl_feedback(hw, w, cases)):
        np.testing.assert_array_equal(got, ref_feedback(hw, w, e))
        assert cycles == n_hidden * hw.OW + hw.FEEDBACK_LATENCY
