# amaranth: UnusedElaboratable=no
"""The CSNN's address walkers against their golden twins (Amaranth simulator).

* ``ConvScatter`` (the event engine's convolutional source): for every pixel of several
  geometries, the (accumulator word, kernel word) sequence of an input event equals
  ``conv_geometry.scatter_list`` (from the golden model's ``ConvGeometry``), and the cursor's
  ``covered`` lanes equal ``covered_pixels``; events are loaded back to back, as the event
  engine does (``load`` in the last ``step`` cycle).
* ``PatchWalk`` (the delta engine's kernel-delta loop): for every hidden word, the (pixel,
  kernel-delta word) sequence equals ``conv_geometry.patch_list`` (``patch_pixel``).
* ``conv_geometry`` itself against ``reference.unfold`` and the golden kernel delta.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from amaranth.sim import Simulator  # noqa: E402

from intsnn.golden import reference as ref  # noqa: E402
from intsnn.golden.fast_csnn import ConvGeometry  # noqa: E402
from intsnn.hw.bench import small_net  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.conv_geometry import (covered_pixels, hidden_order, pairs_per_pixel,  # noqa: E402
                                     patch_list, scatter_list)
from intsnn.hw.conv_source import ConvScatter  # noqa: E402
from intsnn.hw.kernel_delta import PatchWalk  # noqa: E402


def csnn(side, k, s, f, **kw):
    n = (side - k) // s + 1
    base = small_net(n_in=side * side, n_hidden=f * n * n, **kw)
    return base.replace(arch="csnn", image_side=side, conv_kernel=k, conv_stride=s,
                        conv_filters=f)


# (side, kernel, stride, filters, lanes): the preset's 28/5/2/32 geometry, odd and even
# remainders, stride 1 and stride > kernel (gaps between windows), FW = 1 and lanes > side
GEOMETRIES = [pytest.param(28, 5, 2, 32, 4, marks=pytest.mark.slow), (8, 3, 2, 4, 2),
              (9, 3, 2, 4, 4), (7, 3, 1, 2, 1), (10, 2, 3, 4, 2), (5, 3, 2, 8, 8)]


def _sim(dut, tb):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


def rtl_scatter(hw):
    """For every covered pixel in scan order: the list of (acc_word, w_word); and the
    covered mask of every word."""
    dut = ConvScatter(config=hw)
    L, IW = hw.lanes, hw.IW
    out = {"lists": {}, "covered": []}

    async def tb(ctx):
        ctx.set(dut.restart, 1)
        await ctx.tick()
        ctx.set(dut.restart, 0)
        pending = None          # the event being walked: (pixel, list so far)
        for w in range(IW):
            cov = ctx.get(dut.covered)
            out["covered"].append(cov)
            for j in range(L):
                if not (cov >> j) & 1:
                    continue
                # the previous event's remaining pairs, the new event loaded in its last cycle
                if pending is not None:
                    while not ctx.get(dut.last):
                        pending[1].append((ctx.get(dut.acc_word), ctx.get(dut.w_word)))
                        ctx.set(dut.step, 1)
                        await ctx.tick()
                    pending[1].append((ctx.get(dut.acc_word), ctx.get(dut.w_word)))
                ctx.set(dut.lane, j)
                ctx.set(dut.load, 1)
                await ctx.tick()
                ctx.set(dut.load, 0)
                ctx.set(dut.step, 0)
                pending = (w * L + j, [])
                out["lists"][w * L + j] = pending[1]
            ctx.set(dut.advance, 1)
            await ctx.tick()
            ctx.set(dut.advance, 0)
        if pending is not None:
            while not ctx.get(dut.last):
                pending[1].append((ctx.get(dut.acc_word), ctx.get(dut.w_word)))
                ctx.set(dut.step, 1)
                await ctx.tick()
            pending[1].append((ctx.get(dut.acc_word), ctx.get(dut.w_word)))

    _sim(dut, tb)
    return out


@pytest.mark.parametrize("side,k,s,f,lanes", GEOMETRIES)
def test_conv_scatter(side, k, s, f, lanes):
    hw = HwConfig(net=csnn(side, k, s, f), lanes=lanes)
    cfg = hw.net
    got = rtl_scatter(hw)
    cov = covered_pixels(cfg)
    want_cov = [sum(int(cov[w * lanes + j]) << j for j in range(lanes)
                    if w * lanes + j < cfg.n_in) for w in range(hw.IW)]
    assert got["covered"] == want_cov
    want = {i: scatter_list(cfg, lanes, i) for i in range(cfg.n_in) if cov[i]}
    assert got["lists"] == want
    assert sum(len(v) for v in want.values()) == int(pairs_per_pixel(cfg).sum()) * hw.FW


def rtl_patch_walk(hw, step_gap=0):
    """For every hidden word g in order: the (pixel, addr) of every tap; ``step_gap`` idle
    cycles between groups (the delta engine's 2 group cycles and drain)."""
    dut = PatchWalk(config=hw)
    k2 = hw.net.conv_kernel ** 2
    out = []

    async def tb(ctx):
        ctx.set(dut.reset, 1)
        await ctx.tick()
        ctx.set(dut.reset, 0)
        for g in range(hw.HW):
            if g:
                ctx.set(dut.next_group, 1)
                await ctx.tick()
                ctx.set(dut.next_group, 0)
                await ctx.tick().repeat(step_gap)
            ctx.set(dut.begin, 1)
            await ctx.tick()
            ctx.set(dut.begin, 0)
            taps = []
            for t in range(k2):
                taps.append((ctx.get(dut.pixel), ctx.get(dut.addr)))
                assert ctx.get(dut.last) == (t == k2 - 1)
                ctx.set(dut.step, 1)
                await ctx.tick()
                ctx.set(dut.step, 0)
            out.append(taps)

    _sim(dut, tb)
    return out


@pytest.mark.parametrize("side,k,s,f,lanes", GEOMETRIES)
def test_patch_walk(side, k, s, f, lanes):
    hw = HwConfig(net=csnn(side, k, s, f), lanes=lanes)
    got = rtl_patch_walk(hw, step_gap=1)
    assert got == [patch_list(hw.net, lanes, g) for g in range(hw.HW)]


def test_geometry_twins_against_golden():
    """The twins against the golden model's own definitions: unfold's patches, and eq. 3.22's
    kernel delta summed over the (pixel, word) pairs of patch_list."""
    cfg = csnn(9, 3, 2, 4)
    lanes, fw = 2, 2
    rng = np.random.default_rng(1)
    img = rng.integers(0, 5, (1, cfg.n_in))
    patches = ref.unfold(img, cfg)[0]                       # (P, k*k)
    geo = ConvGeometry.of(cfg)
    for g in range(cfg.n_hidden // lanes):
        p = g // fw
        assert [img[0, pix] for pix, _ in patch_list(cfg, lanes, g)] == list(patches[p])
    # hidden_order: hq = p*F + f holds the reference's h = f*npos + p
    order = hidden_order(cfg)
    npos = cfg.conv_out_side ** 2
    assert sorted(order) == list(range(cfg.n_hidden))
    assert all(order[p * 4 + f] == f * npos + p for p in range(npos) for f in range(4))
    # scatter_list visits exactly the (pos, tap) pairs of the golden inverse map
    for i in range(cfg.n_in):
        pairs = {(a // fw, w // fw) for a, w in scatter_list(cfg, lanes, i)}
        sl = slice(geo.pixel_ptr[i], geo.pixel_ptr[i + 1])
        assert pairs == set(zip(geo.pixel_pos[sl].tolist(), geo.pixel_tap[sl].tolist()))


def test_walkers_refuse_other_archs():
    hw = HwConfig(net=small_net(), lanes=2)
    with pytest.raises(ValueError, match="ConvScatter needs arch 'csnn'"):
        ConvScatter(config=hw)
    with pytest.raises(ValueError, match="PatchWalk needs arch 'csnn'"):
        PatchWalk(config=hw)
    with pytest.raises(ValueError, match=r"lanes=8 must divide conv_filters=4"):
        HwConfig(net=csnn(8, 3, 2, 4), lanes=8)
