"""FrameIngest against its golden twins: ``ref_ingest`` (``host_protocol.pack_frames`` and
``ops.pre_trace`` over the frames) and ``ref_stream_check`` (the end-of-sample rule), with idle
cycles from the producer, short and long samples, and the full-rate stream (Amaranth
simulator)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.hw import host_protocol as hp  # noqa: E402
from intsnn.hw.bench import Rig, from_words, simulate, small_net, words  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.frame_ingest import FrameIngest, ref_ingest, ref_stream_check  # noqa: E402


def rtl_ingest(hw: HwConfig, streams, idle=0.0, seed=0):
    """Drive each stream (a list of ``(beat, tlast)``; the producer idles with probability
    ``idle`` before a beat); after each: the frame memory's words, the trace history
    (T, n_in), ``frames_ready``, the error bits, and the cycles from the first accepted beat to
    the last, both included; then clear (with the errors)."""
    cfg = hw.net
    dut = FrameIngest(config=hw)
    rig = Rig(dut)
    rng = np.random.default_rng(seed)
    results = []

    async def tb(ctx):
        cycle = 0
        for stream in streams:
            accepted = []
            for b, last in stream:
                while rng.random() < idle:
                    ctx.set(dut.frames.tvalid, 0)
                    await ctx.tick()
                    cycle += 1
                ctx.set(dut.frames.tdata.as_value(), b)
                ctx.set(dut.frames.tlast, last)
                ctx.set(dut.frames.tvalid, 1)
                while True:
                    transfer = ctx.get(dut.frames.tready)
                    await ctx.tick()
                    cycle += 1
                    if transfer:
                        accepted.append(cycle)
                        break
            ctx.set(dut.frames.tvalid, 0)
            frames = words(ctx, rig.rams["frames"])
            hist = np.asarray(words(ctx, rig.rams["trace_hidden"]))     # (IW, T, L)
            results.append({"frames": frames,
                            "trace": from_words(np.moveaxis(hist, 1, 0), cfg.n_in),
                            "ready": ctx.get(dut.frames_ready),
                            "short": ctx.get(dut.error_short), "long": ctx.get(dut.error_long),
                            "span": accepted[-1] - accepted[0] + 1 if accepted else 0})
            ctx.set(dut.clear, 1)
            ctx.set(dut.clear_errors, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            ctx.set(dut.clear_errors, 0)

    simulate(rig, tb)
    return results


def sample(hw, rng):
    cfg = hw.net
    x = rng.integers(0, cfg.in_max + 1, (cfg.timesteps, cfg.n_in))
    return x * (rng.random(x.shape) < 0.6)


def framed(beats):
    return [(b, int(i == len(beats) - 1)) for i, b in enumerate(beats)]


@pytest.mark.parametrize("lanes,input_bits,n_in", [(1, 1, 5), (4, 8, 11), (8, 3, 8),
                                                   (4, 2, 3)])
def test_ingest_matches_golden_with_idle_producer(lanes, input_bits, n_in):
    hw = HwConfig(net=small_net(input_bits=input_bits, n_in=n_in, timesteps=4), lanes=lanes)
    rng = np.random.default_rng(lanes)
    samples = [sample(hw, rng) for _ in range(2)]
    streams = [framed(ref_ingest(hw, x)[0]) for x in samples]
    for x, got in zip(samples, rtl_ingest(hw, streams, idle=0.3)):
        beats, want_hist = ref_ingest(hw, x)
        assert [sum(v << (j * input_bits) for j, v in enumerate(w))
                for w in got["frames"]] == beats
        np.testing.assert_array_equal(got["trace"], want_hist)
        assert (got["ready"], got["short"], got["long"]) == (1, 0, 0)


@pytest.mark.parametrize("lanes,n_in", [(4, 9), (4, 3)])   # IW = 3, and IW = 1 (held trace)
def test_full_rate(lanes, n_in):
    """With a beat always offered, one beat transfers per cycle: ``T*IW`` cycles a sample."""
    hw = HwConfig(net=small_net(input_bits=2, n_in=n_in, timesteps=3), lanes=lanes)
    x = np.random.default_rng(0).integers(0, 4, (3, n_in))
    beats, want_hist = ref_ingest(hw, x)
    got, = rtl_ingest(hw, [framed(beats)])
    assert got["ready"] == 1 and got["span"] == hw.stream_beats
    np.testing.assert_array_equal(got["trace"], want_hist)


# (case name, tlast positions as offsets into a stream of whole samples)
def _cases(n):
    good = [0] * (n - 1) + [1]
    return {
        "short": [0] * (n - 2) + [1] + good,                # tlast one beat early, then a sample
        "long": [0] * n + [0, 0, 1] + good,                  # no tlast on the last beat
        "long_then_short": [0] * n + [1] + [0, 1] + good,    # dropped to tlast, short, good
        "good": good,
    }


@pytest.mark.parametrize("case", ["short", "long", "long_then_short", "good"])
def test_end_of_sample_errors(case):
    """A short or long sample sets its error bit and is discarded; the following whole sample
    is ingested exactly (and only it is reported ready)."""
    hw = HwConfig(net=small_net(input_bits=2, n_in=6, timesteps=2), lanes=4)
    n = hw.stream_beats
    lasts = _cases(n)[case]
    x = np.random.default_rng(1).integers(0, 4, (2, 6))
    beats, want_hist = ref_ingest(hw, x)
    ref = ref_stream_check(n, lasts)
    assert ref["samples"][-1] == len(lasts) - n           # the twin keeps the final sample
    stream = [(beats[(i - ref["samples"][-1]) % n] if i >= ref["samples"][-1] else 0b1111, last)
              for i, last in enumerate(lasts)]
    got, = rtl_ingest(hw, [stream], idle=0.2, seed=3)
    assert (got["short"], got["long"]) == (int(ref["short"]), int(ref["long"]))
    assert got["ready"] == 1
    np.testing.assert_array_equal(got["trace"], want_hist)


def test_ref_stream_check_rule():
    assert ref_stream_check(3, [0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1]) == {
        "samples": [0, 10], "short": True, "long": True}
