"""ErrorPass against its golden twin: ``ops.prediction_error`` and ``argmax`` (lowest index on
ties), over count vectors with ties (Amaranth simulator)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.golden import ops  # noqa: E402
from intsnn.hw.bench import Rig, from_words, load, run_engine, simulate, small_net, to_words, \
    words  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.error_pass import ErrorPass  # noqa: E402


def ref_error(hw: HwConfig, counts, label):
    """Golden twin: eq. 3.6 (standard loss) and the prediction."""
    e = ops.prediction_error(np.asarray(counts)[None], np.array([label]), hw.net)[0]
    return e, int(np.argmax(counts))


def rtl_error(hw: HwConfig, cases):
    """One pass per case ``(counts, label)``: ``(error, prediction, cycles)``."""
    O, L = hw.net.n_out, hw.lanes
    dut = ErrorPass(config=hw)
    rig = Rig(dut)
    results = []

    async def tb(ctx):
        rng = np.random.default_rng(0)
        for counts, label in cases:
            cw = to_words(counts, L)
            cw.reshape(-1)[O:] = rng.integers(0, hw.net.timesteps + 1, cw.size - O)  # padding
            load(ctx, rig.rams["counts"], cw)
            cycles = await run_engine(ctx, dut, label=label)
            results.append((from_words(words(ctx, rig.rams["error"]), O),
                            ctx.get(dut.prediction), cycles))

    simulate(rig, tb)
    return results


@pytest.mark.parametrize("lanes,n_out", [(1, 4), (4, 10), (8, 3)])
def test_error_and_argmax_match_golden(lanes, n_out):
    hw = HwConfig(net=small_net(n_out=n_out, timesteps=6), lanes=lanes)
    T = hw.net.timesteps
    rng = np.random.default_rng(lanes)
    cases = [(np.zeros(n_out, np.int64), 0),                  # all tied: output 0
             (np.full(n_out, T), n_out - 1),                   # all tied at T
             (np.r_[np.zeros(n_out - 1, np.int64), 3], 1)]     # the last one
    tie = rng.integers(0, 3, n_out)
    tie[[n_out // 2, n_out - 1]] = 5                           # a tie for the maximum
    cases.append((tie, n_out // 2))
    cases += [(rng.integers(0, T + 1, n_out), int(rng.integers(0, n_out))) for _ in range(4)]
    for (counts, label), (e, pred, cycles) in zip(cases, rtl_error(hw, cases)):
        want_e, want_pred = ref_error(hw, counts, label)
        np.testing.assert_array_equal(e, want_e)
        assert pred == want_pred, counts
        assert cycles == hw.OW + hw.ERROR_LATENCY
