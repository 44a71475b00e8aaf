"""FrameIngest against its golden twin: ``host_protocol.pack_frames`` (the frame words) and
``ops.pre_trace`` over the frames (the trace history), with idle cycles from the producer and
back-pressure from the core (Amaranth simulator)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.golden import ops  # noqa: E402
from intsnn.hw import host_protocol as hp  # noqa: E402
from intsnn.hw.bench import Rig, from_words, simulate, small_net, words  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.frame_ingest import FrameIngest  # noqa: E402


def ref_ingest(hw: HwConfig, x):
    """Golden twin: the beats of the sample and ``P(t) = P(t-1) >> beta + x(t)`` (eq. 3.4)."""
    cfg = hw.net
    trace, hist = np.zeros(cfg.n_in, np.int64), []
    for t in range(cfg.timesteps):
        trace = ops.pre_trace(trace, x[t], cfg.beta_shift)
        hist.append(trace)
    return hp.pack_frames(x, cfg.input_bits, hw.lanes), np.array(hist)


def rtl_ingest(hw: HwConfig, samples, idle=0.0, stall=0.0, seed=0):
    """Stream each sample (the producer idles with probability ``idle`` before a beat; the core
    is busy, so not ready, with probability ``stall`` per cycle), then clear.  Per sample: the
    frame memory's words, the trace history (T, n_in), ``frames_ready`` after the last beat,
    and the cycles from the first accepted beat to the last, both included."""
    cfg, L = hw.net, hw.lanes
    dut = FrameIngest(config=hw)
    rig = Rig(dut)
    rng = np.random.default_rng(seed)
    results = []

    async def tb(ctx):
        cycle = 0

        async def tick():
            nonlocal cycle
            await ctx.tick()
            cycle += 1

        for x in samples:
            accepted = []
            for b in hp.pack_frames(x, cfg.input_bits, L):
                while rng.random() < idle:
                    ctx.set(dut.frames.valid, 0)
                    await tick()
                ctx.set(dut.frames.payload.as_value(), b)
                ctx.set(dut.frames.valid, 1)
                while True:
                    ctx.set(dut.enable, int(rng.random() >= stall))
                    transfer = ctx.get(dut.frames.ready)
                    await tick()
                    if transfer:
                        accepted.append(cycle)
                        break
            ctx.set(dut.frames.valid, 0)
            frames = words(ctx, rig.rams["frames"])
            hist = np.asarray(words(ctx, rig.rams["trace_hidden"]))     # (IW, T, L)
            results.append((frames, from_words(np.moveaxis(hist, 1, 0), cfg.n_in),
                            ctx.get(dut.frames_ready), accepted[-1] - accepted[0] + 1))
            ctx.set(dut.clear, 1)
            await tick()
            ctx.set(dut.clear, 0)

    simulate(rig, tb)
    return results


def sample(hw, rng):
    cfg = hw.net
    x = rng.integers(0, cfg.in_max + 1, (cfg.timesteps, cfg.n_in))
    return x * (rng.random(x.shape) < 0.6)


@pytest.mark.parametrize("lanes,input_bits,n_in", [(1, 1, 5), (4, 8, 11), (8, 3, 8)])
def test_ingest_matches_golden_with_idle_and_backpressure(lanes, input_bits, n_in):
    hw = HwConfig(net=small_net(input_bits=input_bits, n_in=n_in, timesteps=4), lanes=lanes)
    rng = np.random.default_rng(lanes)
    samples = [sample(hw, rng) for _ in range(2)]
    for x, (frames, hist, ready, _) in zip(samples, rtl_ingest(hw, samples, idle=0.3,
                                                              stall=0.3)):
        beats, want_hist = ref_ingest(hw, x)
        got = [sum(v << (j * input_bits) for j, v in enumerate(w)) for w in frames]
        assert got == beats
        np.testing.assert_array_equal(hist, want_hist)
        assert ready == 1


def test_stream_rate():
    """With a beat always offered and the core idle, a beat is taken every other cycle: the
    ``stream_cycles`` that :mod:`intsnn.hw.cycles` charges (2 per beat)."""
    from intsnn.hw.cycles import stream_cycles
    hw = HwConfig(net=small_net(input_bits=2, n_in=9, timesteps=3), lanes=4)
    x = np.random.default_rng(0).integers(0, 4, (3, 9))
    (frames, hist, ready, span), = rtl_ingest(hw, [x])
    assert ready == 1 and span == 2 * hw.stream_beats - 1
    assert stream_cycles(hw.net, hw.lanes) == 2 * hw.stream_beats
