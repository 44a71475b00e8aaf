"""Saturating batch delta registers (``NetConfig.delta_sat_bits``; docs/algorithm.md,
"Saturating delta accumulators"): the bound, the validation, the reference against the fast path
with the rails actually hit, and ``None`` unchanged."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from intsnn.golden import fast, ops
from intsnn.golden import reference as ref
from intsnn.golden.config import LATER_FIELDS, LayerParams, NetConfig, preset
from intsnn.golden.model import IntSNN

eq = np.testing.assert_array_equal
QUICK = settings(max_examples=20, deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def test_preset_widths_and_bounds():
    cfg = preset("mnist-snn")      # headroom 1: clip 1024, hidden 2**-12, output 2**-2
    assert [cfg.delta_exact_bits(k) for k in ("hidden", "output")] == [30, 20]
    # 1024 << 12 = 2**22 needs 24 signed bits, 1024 << 2 = 2**12 needs 14
    assert [cfg.delta_lossless_bits(k) for k in ("hidden", "output")] == [24, 14]
    sat = cfg.replace(delta_sat_bits=24)
    assert (sat.delta_bits("hidden"), sat.delta_bits("output")) == (24, 20)
    assert (sat.delta_saturates("hidden"), sat.delta_saturates("output")) == (True, False)
    assert sat.delta_range("hidden") == (-(1 << 23), (1 << 23) - 1)
    assert sat.widths()["delta_accumulator"] == 24 and cfg.widths()["delta_accumulator"] == 30
    lit = cfg.replace(clip_order="clip_then_shift")   # the clip comes first: [-1024, 1024]
    assert lit.delta_lossless_bits("hidden") == lit.delta_lossless_bits("output") == 12


def test_fingerprint_of_none_is_unchanged():
    assert LATER_FIELDS["delta_sat_bits"] is None
    cfg = preset("mnist-snn")
    assert "delta_sat_bits" not in cfg.canonical_dict()
    assert cfg.replace(delta_sat_bits=24).canonical_dict()["delta_sat_bits"] == 24
    assert NetConfig.from_dict(cfg.replace(delta_sat_bits=24).to_dict()).delta_sat_bits == 24


@pytest.mark.parametrize("kw,err,msg", [
    (dict(delta_sat_bits=23), ValueError,
     r"^delta_sat_bits=23 is below the 24 bits the hidden layer's clipped update can use"),
    (dict(delta_sat_bits=1), ValueError, r"^delta_sat_bits must be None or in 2\.\.62, got 1$"),
    (dict(delta_sat_bits=63), ValueError, r"^delta_sat_bits must be None or in 2\.\.62"),
    (dict(delta_sat_bits=24.0), TypeError, r"^delta_sat_bits must be None or an int, got 24\.0$"),
    (dict(delta_sat_bits=True), TypeError, r"^delta_sat_bits must be None or an int"),
])
def test_bad_values_name_the_parameter(kw, err, msg):
    with pytest.raises(err, match=msg):
        preset("mnist-snn", **kw)


def test_csnn_and_online_are_refused():
    with pytest.raises(ValueError, match=r"^delta_sat_bits is not supported for arch 'csnn'"):
        preset("mnist-csnn", delta_sat_bits=40)
    cfg = preset("mnist-snn", delta_sat_bits=24)
    with pytest.raises(ValueError, match=r"^trace_mode 'online' does not support delta_sat_bits"):
        IntSNN(cfg, 0, trace_mode="online")
    assert fast.plan(cfg, 128, "auto").mode == "deferred"
    # a width at or above the exact one never saturates: allowed, and no register saturates
    wide = preset("mnist-snn", delta_sat_bits=30)
    assert not wide.delta_saturates("hidden") and not wide.delta_saturates("output")


def test_batch_delta_saturates_in_sample_order():
    cfg = NetConfig(n_in=1, n_hidden=1, n_out=2, timesteps=1, batch_size=3, clip=3,
                    hidden=LayerParams(1, 1, 0), output=LayerParams(1, 1, 0), delta_sat_bits=4)
    assert cfg.delta_saturates("hidden") and cfg.delta_range("hidden") == (-8, 7)
    terms = np.array([[[5]], [[5]], [[-3]]])
    # 5, sat(10) = 7, 7 - 3 = 4; the exact sum is 7 and the reverse order gives -3+5+5 -> 7
    eq(ops.batch_delta(cfg, "hidden", terms), [[4]])
    eq(ops.batch_delta(cfg, "hidden", terms[::-1]), [[7]])
    eq(ops.batch_delta(cfg, "hidden", -terms), [[-5]])  # -5, sat(-10) = -8, -8 + 3
    eq(ops.batch_delta(cfg.replace(delta_sat_bits=None), "hidden", terms), [[7]])


@pytest.mark.parametrize("order", ["shift_then_clip", "clip_then_shift"])
@pytest.mark.parametrize("rounding", ["floor", "nearest", "dither"])
def test_lossless_width_is_tight(order, rounding):
    """Saturating the *final* sum to delta_lossless_bits never changes the update; one bit
    fewer does (the bound is the narrowest)."""
    cfg = NetConfig(n_in=64, n_hidden=64, n_out=2, clip=100, clip_order=order,
                    lr_rounding=rounding, hidden=LayerParams(10, 20, 5),
                    output=LayerParams(10, 20, 0))
    n = cfg.delta_lossless_bits("hidden")
    assert n == (13 if order == "shift_then_clip" else 8)   # 100 << 5 = 3200; 100
    rng = np.random.default_rng(0)
    w = rng.integers(-1000, 1000, (64, 64))
    d = rng.integers(-(1 << 20), 1 << 20, (64, 64))
    d.flat[:6] = [100 << 5, -(100 << 5), (100 << 5) + 31, 100, -100, 101]
    u = ops.round_offset(cfg, 5, 3, 7, 0, w.shape)

    def new_w(delta):
        return ops.weight_update(w, delta, 5, None, cfg, u)

    eq(new_w(ops.saturate(d, n)), new_w(d))
    assert (new_w(ops.saturate(d, n - 1)) != new_w(d)).any()


@st.composite
def sat_cases(draw):
    """Small SNN/RSNN configurations whose lossless widths are small, with delta_sat_bits at
    or a little above the narrowest allowed width, so the rails are hit."""
    arch = draw(st.sampled_from(["snn", "rsnn"]))
    t = draw(st.integers(1, 8))
    ib = draw(st.integers(1, 4))
    hidden = LayerParams(draw(st.integers(0, 40)), draw(st.integers(1, 60)),
                         draw(st.integers(0, 3)), draw(st.one_of(st.none(), st.integers(1, 8))))
    output = LayerParams(draw(st.integers(0, 40)), draw(st.integers(1, 60)),
                         draw(st.integers(0, 3)))
    kw = dict(arch=arch, n_in=draw(st.integers(1, 40)), n_hidden=draw(st.integers(1, 12)),
              n_out=draw(st.integers(2, 4)), timesteps=t, input_bits=ib, hidden=hidden,
              output=output, alpha=draw(st.integers(1, 64)), clip=draw(st.integers(1, 12)),
              shadow_bits=12, inference_bits=draw(st.integers(4, 8)),
              batch_size=draw(st.integers(1, 40)), rec_shift=3,
              voltage_bits=24 if arch == "rsnn" else None,
              error_mode=draw(st.sampled_from(["direct", "final", "feedback"])),
              loss=draw(st.sampled_from(["standard", "positive", "random"])),
              clip_order=draw(st.sampled_from(["shift_then_clip", "clip_then_shift"])),
              soft_error_start=draw(st.integers(0, t)),
              lr_rounding=draw(st.sampled_from(["floor", "dither"])))
    try:
        base = NetConfig(**kw)
        need = max(base.delta_lossless_bits(k) for k in ("hidden", "output"))
        cfg = base.replace(delta_sat_bits=need + draw(st.integers(0, 2)))
    except ValueError:
        assume(False)
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    shape = (cfg.batch_size, t, cfg.n_in)
    x = rng.integers(0, cfg.in_max + 1, shape) * (rng.random(shape) < 0.5)
    return cfg, seed, x, rng.integers(0, cfg.n_out, cfg.batch_size), draw(st.sampled_from([1, 2]))


HITS = []


def check_sat(case):
    cfg, seed, x, y, threads = case
    saved = fast.get_threads()
    fast.set_threads(threads)
    try:
        r, f = IntSNN(cfg, seed, fast=False), IntSNN(cfg, seed, trace_mode="auto")
        exact = IntSNN(cfg.replace(delta_sat_bits=None), seed, fast=False)
        for step in range(2):
            want, got = r.batch_deltas(x, y), f.batch_deltas(x, y)
            for u, v in zip(got, want):
                eq(u, v)
            for layer, d in zip(("hidden", "output"), want[:2]):
                lo, hi = cfg.delta_range(layer)
                assert lo <= d.min(initial=0) and d.max(initial=0) <= hi
            if step == 0:
                ex = exact.batch_deltas(x, y)
                HITS.append(any((u != v).any() for u, v in zip(want[:2], ex[:2])))
            r.update(*want[:2])
            f.update(*got[:2])
        eq(f.weights.hidden, r.weights.hidden)
        eq(f.weights.output, r.weights.output)
    finally:
        fast.set_threads(saved)


@QUICK
@given(sat_cases())
def test_fast_equals_reference_with_saturation(case):
    check_sat(case)


def test_saturation_was_hit_and_fixed_case():
    # a fixed case whose batch delta certainly differs from the exact one
    rng = np.random.default_rng(3)
    cfg = NetConfig(n_in=40, n_hidden=8, n_out=3, timesteps=6, input_bits=2,
                    hidden=LayerParams(6, 20, 0), output=LayerParams(5, 20, 0), alpha=32,
                    clip=2, shadow_bits=12, inference_bits=6, batch_size=37, delta_sat_bits=3)
    x = rng.integers(0, 4, (37, 6, 40)) * (rng.random((37, 6, 40)) < 0.5)
    y = rng.integers(0, 3, 37)
    for threads in (1, 2):
        check_sat((cfg, 1, x, y, threads))
    assert HITS[-1] and HITS[-2]
    # and the exact path is untouched: a saturation width at the exact width equals None
    wide = cfg.replace(delta_sat_bits=max(cfg.delta_exact_bits(k) for k in ("hidden", "output")))
    for u, v in zip(IntSNN(wide, 1).batch_deltas(x, y),
                    IntSNN(cfg.replace(delta_sat_bits=None), 1).batch_deltas(x, y)):
        eq(u, v)


def test_reference_deltas_none_is_the_plain_sum():
    rng = np.random.default_rng(5)
    cfg = NetConfig(n_in=9, n_hidden=5, n_out=3, timesteps=4, batch_size=6)
    w = IntSNN(cfg, 0).weights
    x = rng.integers(0, 2, (6, 4, 9))
    f = ref.forward(cfg, w, x)
    _, vo, vh = ref.error_signals(cfg, w, f.counts, f.s_output, rng.integers(0, 3, 6))
    dh, do = ref.deltas(cfg, f, vo, vh)
    eq(dh, np.einsum("bh,bhi->hi", vh, f.corr_hidden))
    eq(do, np.einsum("bo,boh->oh", vo, f.corr_output))


def test_sample_records_add_up_through_the_saturating_register():
    """run_sample's per-sample terms are exact; batch_delta over them, in batch order, is the
    batch delta (what the hardware accumulates sample by sample)."""
    rng = np.random.default_rng(4)
    cfg = NetConfig(n_in=30, n_hidden=6, n_out=3, timesteps=5, input_bits=1,
                    hidden=LayerParams(3, 10, 0), output=LayerParams(3, 10, 0), alpha=16,
                    clip=2, shadow_bits=10, inference_bits=6, batch_size=9, delta_sat_bits=3)
    x = rng.integers(0, 2, (9, 5, 30))
    y = rng.integers(0, 3, 9)
    net = IntSNN(cfg, 2)
    recs = [net.run_sample(x[b], int(y[b]), position=b) for b in range(9)]
    dh, do, _ = net.batch_deltas(x, y)
    eq(ops.batch_delta(cfg, "hidden", np.stack([r.delta_hidden for r in recs])), dh)
    eq(ops.batch_delta(cfg, "output", np.stack([r.delta_output for r in recs])), do)
    assert (sum(r.delta_hidden for r in recs) != dh).any()   # the rails were hit
