"""Property: the fast kernels equal the per-timestep reference bit for bit, over the whole
configuration space of the SNN and RSNN (S 8..16, Q 2..S, input bits 1..16, error modes, losses,
clip orders, learning-rate roundings, rec_source, saturating voltages, sizes, batch sizes around the chunk size), in both
trace modes and with one or two threads.

The default run draws a few dozen configurations (seconds); ``-m slow`` draws hundreds.
"""

import importlib.util

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from intsnn.golden import fast
from intsnn.golden.config import LR_ROUNDINGS, LayerParams, NetConfig, bits_signed
from intsnn.golden.model import IntSNN

pytestmark = pytest.mark.skipif(not fast.HAVE_NUMBA, reason="numba not installed")
#: The CSNN fast path (engineer "golden-csnn") is checked through the public IntSNN API once it
#: is in the tree.
HAVE_CSNN_FAST = importlib.util.find_spec("intsnn.golden.fast_csnn") is not None

eq = np.testing.assert_array_equal
# The default profile is derandomised: the same configurations (and compiled kernel variants)
# every run, so CI time is stable; the slow profile explores new ones each time.
QUICK = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
THOROUGH = settings(QUICK, max_examples=3000, derandomize=False)


@st.composite
def cases(draw, max_in=12, max_hidden=20, max_t=12, max_batch=40):
    """A valid :class:`NetConfig`, a batch of inputs and labels, and the kernels' thread count."""
    arch = draw(st.sampled_from(["snn", "rsnn"]))
    s = draw(st.integers(8, 16))
    q = draw(st.integers(2, s))
    ib = draw(st.integers(1, 16))
    t = draw(st.integers(1, max_t))

    def level(top):  # a threshold/window on a log scale up to 2**top
        return draw(st.integers(0, 1 << draw(st.integers(0, top))))

    def layer(top):
        return LayerParams(level(top), max(1, level(top)), draw(st.integers(0, 16)),
                           draw(st.one_of(st.none(), st.integers(1, 12))))

    hidden, output = layer(q + min(ib, 6)), layer(q + 3)
    need = max(8, bits_signed(-output.window - output.threshold,
                              max(output.threshold, hidden.threshold)
                              + max(output.window, hidden.window)))
    vb = draw(st.integers(need, 48)) if arch == "rsnn" else draw(
        st.one_of(st.none(), st.integers(need, 40)))  # an SNN may saturate too
    kw = dict(
        arch=arch, n_in=draw(st.integers(1, max_in)), n_hidden=draw(st.integers(1, max_hidden)),
        n_out=draw(st.integers(2, 5)), timesteps=t, beta_shift=draw(st.integers(1, 4)),
        input_bits=ib, hidden=hidden, output=output, alpha=draw(st.integers(1, 256)),
        clip=draw(st.integers(1, (1 << (s - 1)) - 1)), shadow_bits=s, inference_bits=q,
        init_bits=draw(st.one_of(st.none(), st.integers(2, s))),
        batch_size=draw(st.integers(1, max_batch)), rec_shift=draw(st.integers(0, 24)),
        rec_source=draw(st.sampled_from(["pre_reset", "post_reset"])), voltage_bits=vb,
        error_mode=draw(st.sampled_from(["direct", "final", "feedback"])),
        loss=draw(st.sampled_from(["standard", "positive", "random"])),
        clip_order=draw(st.sampled_from(["shift_then_clip", "clip_then_shift"])),
        soft_error_start=draw(st.integers(0, t)), fb_threshold=draw(st.integers(1, 200)),
        lr_rounding=draw(st.sampled_from(LR_ROUNDINGS)))
    try:
        cfg = NetConfig(**kw)
    except ValueError:
        assume(False)
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    b = cfg.batch_size
    shape = (b, t, cfg.n_in)
    x = rng.integers(0, cfg.in_max + 1, shape) * (rng.random(shape) < draw(
        st.sampled_from([0.1, 0.5, 1.0])))
    y = rng.integers(0, cfg.n_out, b)
    # the online mode's trace block: short blocks make samples fold into per-synapse traces
    return cfg, seed, x, y, draw(st.sampled_from([1, 2])), draw(st.sampled_from([2, 3, 32]))


def check_fast_equals_reference(case):
    cfg, seed, x, y, threads, block = case
    saved = fast.get_threads(), fast.TRACE_BLOCK
    fast.set_threads(threads)
    fast.TRACE_BLOCK = block
    try:
        ref = IntSNN(cfg, seed, fast=False)
        models = [IntSNN(cfg, seed, trace_mode=m) for m in ("online", "deferred")]
        for step in range(2):
            xs = x if step == 0 else x[::-1].copy()
            want = ref.batch_deltas(xs, y)
            for m in models:
                got = m.batch_deltas(xs, y)
                for u, v in zip(got, want):
                    eq(u, v)
                m.update(*got[:2])
            ref.update(*want[:2])
        for m in models:
            eq(m.weights.hidden, ref.weights.hidden)
            eq(m.weights.output, ref.weights.output)
            for u, v in zip(m.predict(x), ref.predict(x)):
                eq(u, v)
    finally:
        fast.set_threads(saved[0])
        fast.TRACE_BLOCK = saved[1]


@st.composite
def csnn_cases(draw):
    """A small valid CSNN configuration and a batch for it (geometry, precision, error, loss)."""
    side = draw(st.integers(3, 9))
    k = draw(st.integers(1, min(side, 5)))
    stride = draw(st.integers(1, 3))
    filters = draw(st.integers(1, 4))
    n = (side - k) // stride + 1
    s = draw(st.integers(8, 16))
    q = draw(st.integers(2, s))
    t = draw(st.integers(1, 6))
    top = q + 2
    lvl = [draw(st.integers(0, 1 << draw(st.integers(0, top)))) for _ in range(4)]
    try:
        cfg = NetConfig(
            arch="csnn", image_side=side, conv_kernel=k, conv_stride=stride,
            conv_filters=filters, n_in=side * side, n_hidden=filters * n * n,
            n_out=draw(st.integers(2, 4)), timesteps=t, input_bits=draw(st.integers(1, 8)),
            hidden=LayerParams(lvl[0], max(1, lvl[1]), draw(st.integers(0, 8))),
            output=LayerParams(lvl[2], max(1, lvl[3]), draw(st.integers(0, 8))),
            alpha=draw(st.integers(1, 64)), clip=draw(st.integers(1, (1 << (s - 1)) - 1)),
            shadow_bits=s, inference_bits=q, batch_size=draw(st.integers(1, 6)),
            error_mode=draw(st.sampled_from(["direct", "final", "feedback"])),
            loss=draw(st.sampled_from(["standard", "positive", "random"])),
            clip_order=draw(st.sampled_from(["shift_then_clip", "clip_then_shift"])),
            soft_error_start=draw(st.integers(0, t)),
            lr_rounding=draw(st.sampled_from(LR_ROUNDINGS)))
    except ValueError:
        assume(False)
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    shape = (cfg.batch_size, t, cfg.n_in)
    x = rng.integers(0, cfg.in_max + 1, shape) * (rng.random(shape) < 0.5)
    return cfg, seed, x, rng.integers(0, cfg.n_out, cfg.batch_size)


@pytest.mark.skipif(not HAVE_CSNN_FAST, reason="the CSNN fast path is not in this tree")
@settings(QUICK, max_examples=10)
@given(csnn_cases())
def test_csnn_fast_equals_reference_through_the_public_api(case):
    cfg, seed, x, y = case
    fast_m, ref_m = IntSNN(cfg, seed), IntSNN(cfg, seed, fast=False)
    assert fast_m.fast
    for step in range(2):
        got, want = fast_m.batch_deltas(x, y), ref_m.batch_deltas(x, y)
        for u, v in zip(got, want):
            eq(u, v)
        fast_m.update(*got[:2])
        ref_m.update(*want[:2])
    for u, v in zip(fast_m.predict(x), ref_m.predict(x)):
        eq(u, v)


@pytest.mark.parametrize("arch,mode,loss,source", [
    ("snn", "direct", "standard", "pre_reset"), ("rsnn", "direct", "standard", "pre_reset"),
    ("rsnn", "direct", "standard", "post_reset"), ("snn", "final", "standard", "pre_reset"),
    ("snn", "feedback", "standard", "pre_reset"), ("rsnn", "feedback", "random", "pre_reset"),
    ("rsnn", "feedback", "random", "post_reset"), ("snn", "direct", "positive", "pre_reset")])
def test_fast_equals_reference_on_fixed_cases(arch, mode, loss, source):
    # 16-bit input counts (>= 32768) in the second trial; 20 samples: two chunks on two threads
    rng = np.random.default_rng(7)
    for trial in range(3):
        cfg = NetConfig(arch=arch, n_in=7, n_hidden=6, n_out=3, timesteps=5,
                        input_bits=[3, 16, 1][trial], hidden=LayerParams(40, 60, 3, None),
                        output=LayerParams(30, 50, 1, 4), alpha=16, clip=300, shadow_bits=12,
                        inference_bits=[8, 12, 5][trial], batch_size=20, rec_shift=3,
                        rec_source=source, voltage_bits=40 if arch == "rsnn" else None,
                        error_mode=mode, loss=loss, soft_error_start=1,
                        lr_rounding=LR_ROUNDINGS[(trial + 2) % 3])
        shape = (20, cfg.timesteps, cfg.n_in)
        x = rng.integers(0, cfg.in_max + 1, shape) * (rng.random(shape) < 0.6)
        check_fast_equals_reference((cfg, trial, x, rng.integers(0, 3, 20), 1 + trial % 2,
                                     [32, 2, 4][trial]))


@QUICK
@given(cases())
def test_fast_equals_reference_on_random_configurations(case):
    check_fast_equals_reference(case)


@pytest.mark.slow
@THOROUGH
@given(cases(max_in=48, max_hidden=48, max_t=24, max_batch=70))
def test_fast_equals_reference_on_many_random_configurations(case):
    check_fast_equals_reference(case)


@settings(QUICK, max_examples=60)
@given(cases(), st.integers(0, 2 ** 16), st.sampled_from([1, 1 << 12, 1 << 40]))
def test_fast_weight_update_equals_reference(case, seed, span):
    """Eqs. 3.18 + 3.27 in one pass (IntSNN.update on the fast path): weights at and near both
    saturation limits, deltas small and far beyond the clip, with and without weight decay,
    every rounding of the shifts (the dither keyed by seed and update)."""
    from intsnn.golden import reference as ref
    from intsnn.golden.init import Weights
    cfg = case[0]
    rng = np.random.default_rng(seed)
    lo, hi = cfg.shadow_min, cfg.shadow_max

    def weights(shape):
        w = rng.integers(lo, hi + 1, shape)
        w.flat[:4] = [lo, hi, lo + 1, hi - 1][:w.size]
        return w

    w = Weights(weights((cfg.n_hidden, cfg.n_in)), weights((cfg.n_out, cfg.n_hidden)), None)
    dh = rng.integers(-span, span + 1, w.hidden.shape)
    do = rng.integers(-span, span + 1, w.output.shape)
    key = (seed % 5, seed % 1000)  # the model's seed, the number of updates before this one
    got, want = fast.apply_update_fast(cfg, w, dh, do, *key), ref.apply_update(cfg, w, dh, do,
                                                                              *key)
    eq(got.hidden, want.hidden)
    eq(got.output, want.output)


def test_sixteen_bit_input_counts_do_not_wrap():
    # issue 7: the fast path cast inputs to int16, so x = 40000 became negative
    cfg = NetConfig(n_in=3, n_hidden=4, n_out=2, timesteps=3, input_bits=16, batch_size=2,
                    hidden=LayerParams(1 << 20, 1 << 24, 0), output=LayerParams(5, 9, 0))
    x = np.array([[[40000, 0, 65535]] * 3, [[32768, 1, 0]] * 3])
    y = np.array([0, 1])
    want = IntSNN(cfg, 0, fast=False).batch_deltas(x, y)
    assert want[0].any()
    for mode in ("online", "deferred"):
        for u, v in zip(IntSNN(cfg, 0, trace_mode=mode).batch_deltas(x, y), want):
            eq(u, v)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int64])
def test_out_of_range_inputs_are_refused_in_every_part(dtype):
    # uint8 is the kernel's type for 2-bit inputs: the kernel range-checks it in its own pass
    # (the offending sample is in the second chunk, which the second part runs); the others are
    # checked before the cast, where 256 would wrap to 0
    cfg = NetConfig(n_in=5, n_hidden=4, n_out=2, timesteps=3, input_bits=2, batch_size=40,
                    hidden=LayerParams(3, 2, 0), output=LayerParams(3, 2, 0))
    bad = 256 if dtype == np.uint16 else cfg.in_max + 1
    x = np.ones((40, 3, 5), dtype)
    y = np.zeros(40, np.int64)
    saved = fast.get_threads()
    try:
        for threads, mode in [(1, "online"), (2, "online"), (2, "deferred")]:
            fast.set_threads(threads)
            m = IntSNN(cfg, 0, trace_mode=mode)
            before = m.weights.hidden.copy()
            x[20, 2, 4] = bad
            with pytest.raises(ValueError, match=r"inputs must be in 0\.\.3"):
                m.train_batch(x, y)
            with pytest.raises(ValueError, match="inputs must be in"):
                m.predict(x)
            eq(m.weights.hidden, before)
            assert m.updates == 0
            x[20, 2, 4] = cfg.in_max  # the largest valid input passes
            m.train_batch(x, y)
            assert m.updates == 1 and fast._check_x(cfg, x).dtype == np.uint8
    finally:
        fast.set_threads(saved)


def test_online_memory_does_not_grow_with_t_and_auto_picks_it():
    base = NetConfig(n_in=784, n_hidden=100, n_out=10, batch_size=128)
    mem = {t: fast.trace_memory(base.replace(timesteps=t), 128, parts=1)
           for t in (10, fast.TRACE_BLOCK, 100, 1000)}
    # online: bounded by what TRACE_BLOCK steps need, constant beyond
    assert mem[10]["online"] <= mem[fast.TRACE_BLOCK]["online"]
    assert mem[100]["online"] == mem[1000]["online"] < 4 << 20
    assert mem[1000]["deferred"] == 100 * mem[10]["deferred"]
    assert fast.plan(base.replace(timesteps=1000), 128).mode == "online"
    assert fast.plan(base.replace(timesteps=1000), 128, "deferred").mode == "deferred"
    # int32 registers where the bounds allow, int64 where not
    assert fast.plan(base.replace(timesteps=20), 128).acc == np.int32
    rsnn = base.replace(arch="rsnn", voltage_bits=40, rec_shift=2)
    assert fast.plan(rsnn, 128).acc == np.int64
    # deferred delta accumulators: int32 when the batch's feedback voltages prove 31 bits
    assert fast._delta_dtype(np.full((128, 100), 40), 20) == np.int32
    assert fast._delta_dtype(np.full((128, 100), 1 << 20), 20) == np.int64


def test_bad_trace_mode_and_thread_count_are_refused():
    cfg = NetConfig(n_in=3, n_hidden=4, n_out=2, timesteps=3)
    with pytest.raises(ValueError, match="trace_mode"):
        IntSNN(cfg, 0, trace_mode="lazy")
    with pytest.raises(ValueError, match="threads"):
        fast.set_threads(0)
