# amaranth: UnusedElaboratable=no
"""ErrorNeuronPass against its golden twin, the Feedback branch of ``reference.error_signals``:
the error neurons of every output step by step from ``soft_error_start`` to the end of a sample,
over random output spike trains, labels and random-loss noise (Amaranth simulator)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.golden import ops  # noqa: E402
from intsnn.golden.reference import _error_neurons  # noqa: E402
from intsnn.hw.bench import Rig, load, run_engine, simulate, small_net, to_words, \
    words  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.error_neurons import ErrorNeuronPass, state_fields  # noqa: E402


def ref_steps(hw: HwConfig, s_output, label, noise):
    """Golden twin: ``(v_pos, v_neg, vfb)`` of every output after each step ``t >=
    soft_error_start`` (the loop of ``error_signals``, state kept)."""
    cfg = hw.net
    running = np.cumsum(s_output, axis=0)
    z = np.zeros(cfg.n_out, np.int64)
    state, vfb, out = (z, z, z, z), z, []
    for t in range(cfg.soft_error_start, cfg.timesteps):
        bits = noise[t][None] if cfg.loss == "random" else None
        e = ops.prediction_error(running[t][None], np.array([label]), cfg, bits)[0]
        state, ds = _error_neurons(cfg, state, e)
        vfb = vfb + ds
        out.append(np.stack([state[0], state[1], vfb]))
    return out


def rtl_steps(hw: HwConfig, cases):
    """Per case ``(s_output (T, O), label, noise (T, O))``: the state after each step and the
    pass's cycles.  The state memory starts with random bits (the first step ignores it)."""
    cfg, L, O = hw.net, hw.lanes, hw.net.n_out
    dut = ErrorNeuronPass(config=hw)
    rig = Rig(dut)
    out = []

    async def tb(ctx):
        for s_output, label, noise in cases:
            running = np.cumsum(s_output, axis=0)
            steps, cyc = [], set()
            for t in range(cfg.soft_error_start, cfg.timesteps):
                load(ctx, rig.rams["counts"], to_words(running[t], L))
                if "loss_noise" in rig.rams:
                    load(ctx, rig.rams["loss_noise"], to_words(noise[t], L))
                cyc.add(await run_engine(ctx, dut, label=label, t=t))
                lanes = [state_fields(hw, v) for w in words(ctx, rig.rams["error_neurons"])
                         for v in w][:O]
                steps.append(np.array(lanes).T)
            out.append((steps, cyc))

    simulate(rig, tb)
    return out


@pytest.mark.parametrize("lanes,n_out,loss,start,th", [
    (1, 3, "standard", 0, 1), (4, 10, "random", 2, 5), (2, 5, "positive", 1, 64)])
def test_error_neurons_match_golden(lanes, n_out, loss, start, th):
    net = small_net(n_out=n_out, timesteps=7).replace(
        error_mode="feedback", loss=loss, soft_error_start=start, fb_threshold=th, alpha=12)
    hw = HwConfig(net=net, lanes=lanes)
    rng = np.random.default_rng(lanes)
    T = net.timesteps
    cases = [(rng.integers(0, 2, (T, n_out)) * (rng.random((T, n_out)) < p),
              int(rng.integers(0, n_out)), rng.integers(-1, 2, (T, n_out)))
             for p in (0.0, 0.3, 0.9, 1.0)]
    spikes = set()
    for case, (steps, cyc) in zip(cases, rtl_steps(hw, cases)):
        want = ref_steps(hw, *case)
        assert len(steps) == len(want) == T - start
        for t, (a, b) in enumerate(zip(steps, want)):
            np.testing.assert_array_equal(a, b, err_msg=f"step {start + t} of {case}")
        spikes |= set(want[-1][2].tolist())
        assert cyc == {hw.OW + hw.ERROR_NEURON_LATENCY}
    assert len(spikes) >= 2   # the neurons spiked: vfb took several values


def test_error_neurons_need_a_feedback_step():
    net = small_net().replace(error_mode="feedback", soft_error_start=4)   # T = 4
    with pytest.raises(ValueError, match=r"ErrorNeuronPass needs error_mode='feedback' with "
                                         r"soft_error_start < timesteps"):
        ErrorNeuronPass(config=HwConfig(net=net, lanes=2))
