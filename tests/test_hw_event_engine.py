"""EventEngine against its golden twin: the current terms of one step of ``reference.forward``,
and the cycles of the schedule (Amaranth simulator)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.golden import ops  # noqa: E402
from intsnn.golden.init import init_weights  # noqa: E402
from intsnn.hw.bench import Rig, from_words, load, run_engine, simulate, small_net, to_words, \
    words  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.event_engine import SRC_INPUT, SRC_RECURRENT, SRC_SPIKES, EventEngine  # noqa: E402


def weight_words(w, lanes):
    """W (post, pre) -> the memory words ``[pre][post-word]``."""
    return to_words(np.asarray(w).T, lanes).reshape(-1, lanes)


def ref_events(hw: HwConfig, src: int, source, weights, acc):
    """Golden twin: ``acc + v @ W.T`` with ``W = B_Q(W_hid)``, ``W_rec`` or ``B_Q(W_out)``, and
    the schedule's cycles ``event_overhead + words + nonzero words + destination words *
    events``."""
    cfg = hw.net
    w = weights if src == SRC_RECURRENT else ops.quantize(weights, cfg)
    new = acc + np.asarray(source) @ w.T
    src_words = hw.IW if src == SRC_INPUT else hw.HW
    dst_words = hw.OW if src == SRC_SPIKES else hw.HW
    nz = to_words(np.asarray(source) != 0, hw.lanes)
    cycles = hw.event_overhead + src_words + int(nz.any(axis=1).sum()) + dst_words * int(nz.sum())
    return new, cycles


def rtl_events(hw: HwConfig, weights, cases):
    """Run one pass per case ``(src, t, source, acc)``; the destination accumulators after it
    and the cycles."""
    cfg, L = hw.net, hw.lanes
    dut = EventEngine(config=hw)
    init = {"w_hidden": weight_words(weights.hidden, L),
            "w_output": weight_words(weights.output, L)}
    if cfg.arch == "rsnn":
        init["w_recurrent"] = weight_words(weights.recurrent, L)
    rig = Rig(dut, init)
    r = rig.rams
    results = []

    async def tb(ctx):
        for src, t, source, acc in cases:
            dest = "acc_output" if src == SRC_SPIKES else "acc_hidden"
            load(ctx, r[dest], to_words(acc, L))
            if src == SRC_INPUT:
                for k, word in enumerate(to_words(source, L)):
                    ctx.set(r["frames"].data[t * hw.IW + k], word.tolist())
            else:
                load(ctx, r["b16_hidden" if src == SRC_RECURRENT else "spikes_hidden"],
                     to_words(source, L))
            cycles = await run_engine(ctx, dut, src=src, t=t)
            n = cfg.n_out if src == SRC_SPIKES else cfg.n_hidden
            results.append((from_words(words(ctx, r[dest]), n), cycles))

    simulate(rig, tb)
    return results


def cases(hw: HwConfig, seed: int):
    cfg = hw.net
    rng = np.random.default_rng(seed)
    H, O = cfg.n_hidden, cfg.n_out
    vmax = 1 << (cfg.hidden_voltage_bits - 1)
    out = []
    for t in (0, 2):
        x = rng.integers(0, cfg.in_max + 1, cfg.n_in) * (rng.random(cfg.n_in) < 0.4)
        out.append((SRC_INPUT, t, x, rng.integers(-vmax, vmax, H)))
        s = (rng.random(H) < 0.4).astype(np.int64)
        out.append((SRC_SPIKES, t, s, rng.integers(-vmax, vmax, O)))
        if cfg.arch == "rsnn":
            v = rng.integers(-vmax, vmax, H) * (rng.random(H) < 0.5)
            out.append((SRC_RECURRENT, t, ops.b16(v, cfg.rec_shift), rng.integers(-vmax, vmax, H)))
    out.append((SRC_INPUT, 1, np.zeros(cfg.n_in, np.int64), rng.integers(-vmax, vmax, H)))
    return out


@pytest.mark.parametrize("arch,lanes,input_bits,n_in,n_hidden,n_out",
                         [("snn", 1, 1, 12, 8, 4), ("rsnn", 4, 8, 11, 7, 3),
                          ("rsnn", 2, 1, 12, 1, 2)])   # one hidden word: back-to-back updates
def test_events_match_golden(arch, lanes, input_bits, n_in, n_hidden, n_out):
    cfg = small_net(arch, input_bits=input_bits, n_in=n_in, n_hidden=n_hidden, n_out=n_out)
    hw = HwConfig(net=cfg, lanes=lanes)
    weights = init_weights(cfg, seed=lanes)
    cs = cases(hw, seed=n_in + lanes)
    for (src, t, source, acc), (got, cycles) in zip(cs, rtl_events(hw, weights, cs)):
        w = {SRC_INPUT: weights.hidden, SRC_RECURRENT: weights.recurrent,
             SRC_SPIKES: weights.output}[src]
        want, want_cycles = ref_events(hw, src, source, w, acc)
        np.testing.assert_array_equal(got, want, err_msg=f"src {src} t {t}")
        assert cycles == want_cycles, (src, t)
