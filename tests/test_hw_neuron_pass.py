# amaranth: UnusedElaboratable=no
"""NeuronPass against its golden twin: one LIF step of ``ops`` per neuron (Amaranth simulator)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.golden import ops  # noqa: E402
from intsnn.hw.bench import Rig, from_words, load, run_engine, simulate, small_net, to_words, \
    words  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.neuron_pass import NeuronPass  # noqa: E402


def ref_neuron_pass(hw: HwConfig, layer: str, t: int, acc, trace_prev, counts):
    """Golden twin: ``acc = V_s(t-1) >> beta + current`` (exact), so ``V = lif_voltage(0, acc)``;
    spike, pseudo-gradient, hard reset; the next accumulator ``V_s >> beta`` (0 at the last
    step), ``B16(V)``, eq. 3.4's trace of the spikes and the spike counts."""
    cfg = hw.net
    p = cfg.hidden if layer == "hidden" else cfg.output
    vb = cfg.hidden_voltage_bits if layer == "hidden" else cfg.output_voltage_bits
    last = t == cfg.timesteps - 1
    v = ops.lif_voltage(np.zeros_like(acc), acc, cfg.beta_shift, vb)
    s = ops.spike(v, p.threshold)
    out = {"spikes": s, "pg": ops.pseudo_grad(v, p.threshold, p.window),
           "acc": np.zeros_like(v) if last else ops.hard_reset(v, s) >> cfg.beta_shift,
           "b16": np.zeros_like(v) if last else ops.b16(v, cfg.rec_shift),
           "trace": ops.pre_trace(np.zeros_like(s) if t == 0 else trace_prev, s, cfg.beta_shift),
           "counts": (0 if t == 0 else counts) + s}
    return out


def rtl_neuron_pass(hw: HwConfig, layer: str, cases):
    """Run the pass once per case ``(t, acc, trace_prev, counts)``; per case the memories'
    new contents (per neuron) and the cycles from start to done."""
    cfg, L, T = hw.net, hw.lanes, hw.net.timesteps
    n = cfg.n_hidden if layer == "hidden" else cfg.n_out
    dut = NeuronPass(config=hw, layer=layer)
    rig = Rig(dut)
    r = rig.rams
    results = []

    async def tb(ctx):
        for t, acc, trace_prev, counts in cases:
            load(ctx, r[f"acc_{layer}"], to_words(acc, L))
            if layer == "hidden":
                hist = np.zeros((T, n), np.int64)
                if t > 0:
                    hist[t - 1] = trace_prev
                load(ctx, r["trace_output"], np.moveaxis(to_words(hist, L), 0, 1))
            else:
                load(ctx, r["counts"], to_words(counts, L))
            res = {"cycles": await run_engine(ctx, dut, t=t)}
            res["acc"] = from_words(words(ctx, r[f"acc_{layer}"]), n)
            res["pg"] = from_words(np.asarray(words(ctx, r[f"pg_{layer}"]))[:, t], n)
            if layer == "hidden":
                res["spikes"] = from_words(words(ctx, r["spikes_hidden"]), n)
                res["trace"] = from_words(np.asarray(words(ctx, r["trace_output"]))[:, t], n)
                if cfg.arch == "rsnn":
                    res["b16"] = from_words(words(ctx, r["b16_hidden"]), n)
            else:
                res["counts"] = from_words(words(ctx, r["counts"]), n)
            results.append(res)

    simulate(rig, tb)
    return results


def cases(hw: HwConfig, layer: str, seed: int):
    cfg = hw.net
    rng = np.random.default_rng(seed)
    n = cfg.n_hidden if layer == "hidden" else cfg.n_out
    p = cfg.hidden if layer == "hidden" else cfg.output
    bits = hw.acc_hidden_bits if layer == "hidden" else hw.acc_output_bits
    out = []
    for t in (0, 1, cfg.timesteps - 1):
        # around the threshold and window, and anywhere in the accumulator's range
        acc = np.where(rng.random(n) < 0.7,
                       rng.integers(p.threshold - 2 * p.window, p.threshold + 2 * p.window, n),
                       rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), n))
        trace_prev = rng.integers(0, cfg.output_trace_max + 1, n)
        counts = rng.integers(0, t + 1, n)
        out.append((t, acc, trace_prev, counts))
    return out


@pytest.mark.parametrize("arch,lanes,n_hidden,n_out", [("snn", 1, 8, 4), ("rsnn", 4, 7, 3),
                                                       ("snn", 8, 20, 10)])
@pytest.mark.parametrize("layer", ["hidden", "output"])
def test_neuron_pass_matches_golden(arch, lanes, n_hidden, n_out, layer):
    hw = HwConfig(net=small_net(arch, n_hidden=n_hidden, n_out=n_out, timesteps=5), lanes=lanes)
    cs = cases(hw, layer, seed=lanes + n_hidden)
    for case, got in zip(cs, rtl_neuron_pass(hw, layer, cs)):
        want = ref_neuron_pass(hw, layer, *case)
        for key, value in got.items():
            if key == "cycles":  # the pass's walk plus its drain: the latency property
                words_ = hw.HW if layer == "hidden" else hw.OW
                assert value == words_ + hw.NEURON_LATENCY
            else:
                np.testing.assert_array_equal(value, want[key], err_msg=f"{key} t={case[0]}")
    assert any(np.any(ref_neuron_pass(hw, layer, *c)["spikes"]) for c in cs)  # not all silent


def test_layer_is_checked():
    hw = HwConfig(net=small_net(), lanes=2)
    with pytest.raises(ValueError, match=r"layer must be 'hidden' or 'output', not 'outptu'"):
        NeuronPass(config=hw, layer="outptu")
    with pytest.raises(TypeError, match=r"config must be an HwConfig, not NetConfig"):
        NeuronPass(config=small_net(), layer="hidden")
