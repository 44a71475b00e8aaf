# amaranth: UnusedElaboratable=no
"""LossNoise against its golden twin ``loss_rng_bits``: the counter-hash noise of eq. 3.8 for
every output, over seeds (64-bit ones too), updates, batch positions and time steps (Amaranth
simulator)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.golden.model import loss_rng_bits  # noqa: E402
from intsnn.hw.bench import Rig, from_words, run_engine, simulate, small_net, words  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.loss_noise import LossNoise  # noqa: E402


def ref_noise(hw: HwConfig, seed, update, position, t):
    """Golden twin: the noise of every output (of step ``t`` in Feedback mode)."""
    bits = loss_rng_bits(hw.net, seed, update, [position])[0]
    return bits[t] if hw.net.error_mode == "feedback" else bits


def rtl_noise(hw: HwConfig, cases):
    """One run per case ``(seed, update, position, t)``: ``(noise (O,), cycles)``."""
    dut = LossNoise(config=hw)
    rig = Rig(dut)
    out = []

    async def tb(ctx):
        for seed, update, position, t in cases:
            cycles = await run_engine(ctx, dut, seed=seed % (1 << 64), update=update,
                                      position=position, t=t)
            out.append((from_words(words(ctx, rig.rams["loss_noise"]), hw.net.n_out), cycles))

    simulate(rig, tb)
    return out


@pytest.mark.parametrize("mode,lanes,n_out", [("direct", 1, 4), ("final", 4, 10),
                                              ("feedback", 8, 3)])
def test_noise_matches_golden(mode, lanes, n_out):
    net = small_net(n_out=n_out, timesteps=6).replace(loss="random", error_mode=mode,
                                                      soft_error_start=2)
    hw = HwConfig(net=net, lanes=lanes)
    cases = [(0, 0, 0, 2), (1, 0, 1, 3), (12345, 7, 2, 5), ((1 << 64) - 1, 3, 0, 4),
             (0xDEADBEEF12345678, 1000, 127, 2)]
    got = rtl_noise(hw, cases)
    seen = set()
    for case, (noise, cycles) in zip(cases, got):
        want = ref_noise(hw, *case)
        np.testing.assert_array_equal(noise, want, err_msg=str(case))
        assert cycles == hw.noise_cycles
        seen |= set(want.tolist())
    assert seen == {-1, 0, 1}   # all three values drawn: the comparison saw each


def test_noise_needs_random_loss():
    with pytest.raises(ValueError, match=r"LossNoise needs loss='random', not 'standard'"):
        LossNoise(config=HwConfig(net=small_net(), lanes=2))
