"""ErrorPass against its golden twin: ``v_fb_out`` of ``reference.error_signals`` (Direct and
Final modes, every loss; Feedback mode: the integrated error-neuron spikes it copies) and
``argmax`` (lowest index on ties), over count vectors with ties (Amaranth simulator)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.golden import ops  # noqa: E402
from intsnn.golden.reference import _error_neurons  # noqa: E402
from intsnn.hw.bench import Rig, from_words, load, run_engine, simulate, small_net, to_words, \
    words  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.error_neurons import state_bits  # noqa: E402
from intsnn.hw.error_pass import ErrorPass  # noqa: E402


def ref_error(hw: HwConfig, counts, label, noise, vfb):
    """Golden twin: ``v_fb_out`` (eqs. 3.6-3.15) and the prediction.  ``noise``: the random
    loss's values; ``vfb``: what the error neurons integrated (Feedback mode)."""
    cfg = hw.net
    e = ops.prediction_error(np.asarray(counts)[None], np.array([label]), cfg,
                             np.asarray(noise)[None])[0]
    if cfg.error_mode == "final":
        z = np.zeros_like(e)
        _, e = _error_neurons(cfg, (z, z, z, z), e)
    elif cfg.error_mode == "feedback":
        e = np.asarray(vfb)
    return e, int(np.argmax(counts))


def rtl_error(hw: HwConfig, cases):
    """One pass per case ``(counts, label, noise, vfb)``: ``(v_fb_out, prediction, cycles)``."""
    O, L = hw.net.n_out, hw.lanes
    dut = ErrorPass(config=hw)
    rig = Rig(dut)
    results = []

    async def tb(ctx):
        rng = np.random.default_rng(0)
        for counts, label, noise, vfb in cases:
            cw = to_words(counts, L)
            cw.reshape(-1)[O:] = rng.integers(0, hw.net.timesteps + 1, cw.size - O)  # padding
            load(ctx, rig.rams["counts"], cw)
            if "loss_noise" in rig.rams:
                load(ctx, rig.rams["loss_noise"], to_words(noise, L))
            if "error_neurons" in rig.rams:
                load(ctx, rig.rams["error_neurons"], [[state_bits(hw, 0, 0, int(v)) for v in w]
                                                      for w in to_words(vfb, L)])
            cycles = await run_engine(ctx, dut, label=label)
            results.append((from_words(words(ctx, rig.rams["error"]), O),
                            ctx.get(dut.prediction), cycles))

    simulate(rig, tb)
    return results


@pytest.mark.parametrize("lanes,n_out,mode,loss", [
    (1, 4, "direct", "standard"), (4, 10, "direct", "standard"), (8, 3, "direct", "standard"),
    (4, 10, "direct", "positive"), (2, 5, "direct", "random"), (4, 6, "final", "standard"),
    (2, 5, "final", "random"), (4, 7, "feedback", "random")])
def test_error_and_argmax_match_golden(lanes, n_out, mode, loss):
    net = small_net(n_out=n_out, timesteps=6).replace(error_mode=mode, loss=loss, alpha=12,
                                                      fb_threshold=5, soft_error_start=2)
    hw = HwConfig(net=net, lanes=lanes)
    T = hw.net.timesteps
    rng = np.random.default_rng(lanes)
    cases = [np.zeros(n_out, np.int64), np.full(n_out, T),      # all tied: output 0 / at T
             np.r_[np.zeros(n_out - 1, np.int64), 3]]             # the last one
    tie = rng.integers(0, 3, n_out)
    tie[[n_out // 2, n_out - 1]] = 5                              # a tie for the maximum
    cases += [tie] + [rng.integers(0, T + 1, n_out) for _ in range(4)]
    cases = [(c, int(rng.integers(0, n_out)), rng.integers(-1, 2, n_out),
              rng.integers(-(T - 2), T - 1, n_out)) for c in cases]
    seen = set()
    for case, (e, pred, cycles) in zip(cases, rtl_error(hw, cases)):
        want_e, want_pred = ref_error(hw, *case)
        np.testing.assert_array_equal(e, want_e, err_msg=str(case))
        assert pred == want_pred, case
        assert cycles == hw.OW + hw.ERROR_LATENCY
        seen |= set(want_e.tolist())
    assert len(seen) >= 3   # several distinct feedback values compared
