# amaranth: UnusedElaboratable=no
"""Each lane unit against its golden function on random operands (Amaranth simulator).

(The first line tells Amaranth not to warn about units its constructors rejected.)"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from amaranth.sim import Simulator  # noqa: E402

from intsnn.golden import ops  # noqa: E402
from intsnn.golden.config import LayerParams, NetConfig  # noqa: E402
from intsnn.hw.config import acc_bits, delta_bits  # noqa: E402
from intsnn.golden.reference import _error_neurons  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.units import ErrorNeuronUnit, ErrorUnit, NeuronUnit, UpdateUnit  # noqa: E402

CFGS = [
    NetConfig(n_in=12, n_hidden=8, n_out=4, timesteps=4, batch_size=3,
              hidden=LayerParams(40, 120, 3), output=LayerParams(30, 60, 1, 5)),
    NetConfig(arch="rsnn", n_in=12, n_hidden=8, n_out=4, timesteps=6, batch_size=3,
              input_bits=8, voltage_bits=12, rec_shift=3, shadow_bits=8, inference_bits=4,
              clip=100, clip_order="clip_then_shift",
              hidden=LayerParams(300, 500, 33, 2), output=LayerParams(30, 60, 0, None)),
    NetConfig(arch="rsnn", n_in=12, n_hidden=8, n_out=4, timesteps=6, batch_size=3,
              voltage_bits=14, rec_shift=2, rec_source="post_reset",
              hidden=LayerParams(300, 500, 5, None), output=LayerParams(30, 60, 0, None)),
]


def run_comb(dut, cases, outs):
    """Apply each dict of inputs in ``cases``; return the list of output dicts."""
    res = []

    async def tb(ctx):
        for c in cases:
            for k, v in c.items():
                ctx.set(getattr(dut, k), v)
            await ctx.delay(1e-9)
            res.append({k: ctx.get(getattr(dut, k)) for k in outs})

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()
    return res


@pytest.mark.parametrize("cfg", CFGS)
@pytest.mark.parametrize("layer", ["hidden", "output"])
def test_neuron_unit(cfg, layer):
    rng = np.random.default_rng(1)
    aw = acc_bits(cfg, layer)
    vb = cfg.hidden_voltage_bits if layer == "hidden" else cfg.output_voltage_bits
    p = cfg.hidden if layer == "hidden" else cfg.output
    accs = np.concatenate([rng.integers(-(1 << (aw - 1)), 1 << (aw - 1), 300),
                           rng.integers(p.threshold - 2 * p.window, p.threshold + 2 * p.window,
                                        300),
                           [0, p.threshold, p.threshold + 1, (1 << (vb - 1)), -(1 << (vb - 1))]])
    lasts = rng.integers(0, 2, accs.size)
    dut = NeuronUnit(net=cfg, layer=layer)
    out = run_comb(dut, [{"acc": int(a), "last": int(l)} for a, l in zip(accs, lasts)],
                   ["v", "spike", "pg", "acc_next", "q"])
    # golden: acc = (V_s >> beta) + current, i.e. lif_voltage(0, acc)
    v = ops.lif_voltage(np.zeros_like(accs), accs, cfg.beta_shift, vb)
    s = ops.spike(v, p.threshold)
    pg = ops.pseudo_grad(v, p.threshold, p.window)
    nxt = np.where(lasts == 1, 0, ops.hard_reset(v, s) >> cfg.beta_shift)
    v_rec = ops.hard_reset(v, s) if cfg.rec_source == "post_reset" else v
    q = np.where(lasts == 1, 0, ops.b16(v_rec, cfg.rec_shift))
    for key, ref in (("v", v), ("spike", s), ("pg", pg), ("acc_next", nxt), ("q", q)):
        np.testing.assert_array_equal([o[key] for o in out], ref, err_msg=key)


@pytest.mark.parametrize("cfg", CFGS)
@pytest.mark.parametrize("layer", ["hidden", "output"])
def test_update_unit(cfg, layer):
    rng = np.random.default_rng(2)
    p = cfg.hidden if layer == "hidden" else cfg.output
    db = min(delta_bits(cfg, layer), 62)   # the layer's accumulator width
    w = rng.integers(cfg.shadow_min, cfg.shadow_max + 1, 400)
    d = np.concatenate([rng.integers(-(1 << (db - 1)), 1 << (db - 1), 200),
                        rng.integers(-4 * cfg.clip << p.lr_shift, 4 * cfg.clip << p.lr_shift,
                                     200)]) if p.lr_shift < 20 else \
        rng.integers(-(1 << (db - 1)), 1 << (db - 1), 400)
    d = np.clip(d, -(1 << (db - 1)), (1 << (db - 1)) - 1)   # a delta never exceeds its width
    dut = UpdateUnit(net=cfg, layer=layer)
    out = run_comb(dut, [{"w": int(a), "delta": int(b)} for a, b in zip(w, d)], ["w_new"])
    ref = ops.weight_update(w, d, p.lr_shift, p.wd_shift, cfg)
    np.testing.assert_array_equal([o["w_new"] for o in out], ref)


@pytest.mark.parametrize("cfg", CFGS)
def test_error_unit(cfg):
    counts = np.arange(cfg.timesteps + 1)
    cases, ref = [], []
    for c in counts:
        for lab in (0, 1):
            cases.append({"count": int(c), "is_label": lab, "valid": 1})
            ref.append(int(ops.prediction_error(np.array([[c, 0]]), np.array([1 - lab]),
                                                cfg.replace(n_out=2))[0, 0]))
    out = run_comb(ErrorUnit(net=cfg), cases, ["e"])
    np.testing.assert_array_equal([o["e"] for o in out], ref)


@pytest.mark.parametrize("loss", ["positive", "random"])
def test_error_unit_losses(loss):
    """Eqs. 3.7/3.8: only the zero errors are replaced (by 1, or by the noise)."""
    cfg = CFGS[0].replace(loss=loss, alpha=3, timesteps=8)    # (c*3) >> 3 is 0 for c < 3
    cases, ref = [], []
    for c in range(cfg.timesteps + 1):
        for lab in (0, 1):
            for noise in (-1, 0, 1):
                cases.append({"count": c, "is_label": lab, "valid": 1, "noise": noise})
                ref.append(int(ops.prediction_error(np.array([[c, 0]]), np.array([1 - lab]),
                                                    cfg.replace(n_out=2),
                                                    np.array([[noise, 0]]))[0, 0]))
    cases.append({"count": 0, "is_label": 0, "valid": 0, "noise": 1})   # padding lane
    ref.append(0)
    out = run_comb(ErrorUnit(net=cfg), cases, ["e"])
    np.testing.assert_array_equal([o["e"] for o in out], ref)
    assert 1 in ref and (loss == "positive" or -1 in ref)


@pytest.mark.parametrize("th", [1, 64])
def test_error_neuron_unit(th):
    """Eqs. 3.9-3.13 over random error sequences from rest, step by step."""
    cfg = CFGS[0].replace(fb_threshold=th, alpha=128)
    bits = HwConfig(net=cfg).error_neuron_bits
    lo, hi = cfg.error_range
    rng = np.random.default_rng(th)
    e = rng.integers(lo, hi + 1, (cfg.timesteps, 64))
    e[:, :8] = hi                      # the largest voltages the bound allows
    e[:, 8:16] = lo
    dut = ErrorNeuronUnit(net=cfg, bits=bits)
    z = np.zeros(64, np.int64)
    state, cases, ref = (z, z, z, z), [], []
    for t in range(cfg.timesteps):
        v_pos, v_neg = state[0], state[1]
        state, ds = _error_neurons(cfg, state, e[t])
        cases += [{"v_pos": int(a), "v_neg": int(b), "first": int(t == 0), "e": int(c)}
                  for a, b, c in zip(v_pos, v_neg, e[t])]
        ref += [(int(a), int(b), int(d)) for a, b, d in zip(state[0], state[1], ds)]
    out = run_comb(dut, cases, ["v_pos_next", "v_neg_next", "ds"])
    assert [(o["v_pos_next"], o["v_neg_next"], o["ds"]) for o in out] == ref
    assert {d for *_, d in ref} == {-1, 0, 1}


@pytest.mark.parametrize("unit", [NeuronUnit, UpdateUnit])
def test_layer_is_checked(unit):
    """A typo in ``layer`` is an error, not the other layer."""
    with pytest.raises(ValueError, match=r"layer must be 'hidden' or 'output', not 'hiden'"):
        unit(net=CFGS[0], layer="hiden")
    with pytest.raises(TypeError, match=r"net must be a NetConfig, not 3"):
        unit(net=3, layer="hidden")
    with pytest.raises(TypeError, match=r"positional"):
        unit(CFGS[0], "hidden")


def test_update_unit_registered_is_checked():
    with pytest.raises(TypeError, match=r"registered must be a bool, not 1"):
        UpdateUnit(net=CFGS[0], layer="hidden", registered=1)
    assert UpdateUnit(net=CFGS[0], layer="output", registered=True).latency == 1
