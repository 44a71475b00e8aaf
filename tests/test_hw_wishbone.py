# amaranth: UnusedElaboratable=no
"""Wishbone adapter vs its golden twin (``wishbone_protocol.ref_wishbone``): replies, their
cycles, the host-bus requests and ``irq`` per cycle, over a list of cases with a host-bus
stand-in; then the adapter on a real small core (Amaranth simulator)."""

from __future__ import annotations

import pytest

pytest.importorskip("amaranth")

from amaranth.hdl import Module  # noqa: E402
from amaranth.lib import wiring  # noqa: E402
from amaranth.sim import Simulator  # noqa: E402

from intsnn.hw import host_protocol as hp  # noqa: E402
from intsnn.hw import wishbone_protocol as wp  # noqa: E402
from intsnn.hw.bench import simulate, small_net  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.core import IntSNNCore  # noqa: E402
from intsnn.hw.wishbone import WishboneBridge  # noqa: E402
from intsnn.hw.wishbone_protocol import Transfer  # noqa: E402

ENABLE = hp.addr(wp.REGION_WISHBONE, 0, wp.REG_IRQ_ENABLE)
PENDING = hp.addr(wp.REGION_WISHBONE, 0, wp.REG_IRQ_PENDING)


def bus_word(a: int) -> int:
    """What the stand-in returns for an address never written (every byte differs)."""
    return (a * 0x9E3779B1 + 0x1234567) & 0xFFFFFFFF


def pulse(at: int, width: int = 1, n: int = 0) -> list:
    return [int(at <= c < at + width) for c in range(max(n, at + width + 1))]


CASES = {
    "write-then-read": ([Transfer(hp.addr(2, 3, 5), True, 0xDEADBEEF),
                         Transfer(hp.addr(2, 3, 5)), Transfer(hp.addr(3, 1, 2))], []),
    "back-to-back": ([Transfer(a, we, a ^ 0x5A5A) for a, we in
                      ((0x10, True), (0x11, True), (0x10, False), (0x11, False), (0x12, False),
                       (0x12, True), (0x12, False))], []),
    "stalls-stb-low": ([Transfer(0x20, True, 7, gap=3), Transfer(0x20, gap=1),
                        Transfer(0x21, gap=5, release=True), Transfer(ENABLE, True, 1, gap=2),
                        Transfer(ENABLE, gap=4)], []),
    "refused": ([Transfer(0x30, True, 9, sel=0b0111), Transfer(0x30),
                 Transfer(0x31, sel=0b1000), Transfer(hp.addr(wp.REGION_WISHBONE, 0, 2), True, 1),
                 Transfer(hp.addr(wp.REGION_WISHBONE, 1, wp.REG_IRQ_ENABLE), True, 1),
                 Transfer(ENABLE), Transfer(ENABLE, True, 1, sel=0)], []),
    "irq-set-enable-clear": ([Transfer(PENDING, gap=6), Transfer(ENABLE, True, 1),
                              Transfer(PENDING), Transfer(PENDING, True, 0),
                              Transfer(PENDING, True, 1, gap=1), Transfer(PENDING, gap=8),
                              Transfer(PENDING, True, 1, gap=2), Transfer(ENABLE, True, 0),
                              Transfer(PENDING, gap=3)],
                             pulse(2, 3) + [0] * 12 + [1, 1, 0, 0, 1, 0]),
    # a done edge in the cycle of a clear: the set wins
    "irq-set-wins-over-clear": ([Transfer(ENABLE, True, 1), Transfer(PENDING, True, 1, gap=3),
                                 Transfer(PENDING)], pulse(5, 2, 10)),
}


def rtl_wishbone(transfers, done, mem: dict, cycles: int) -> wp.WishboneTrace:
    """Run the adapter for ``cycles`` (at least until every transfer is answered) with a
    host-bus stand-in keeping the protocol's latencies; return the plain trace."""
    dut = WishboneBridge()
    replies, requests, irq = [], [], []
    levels = list(done) or [0]

    async def tb(ctx):
        wb, bus = dut.wb, dut.bus
        queue = list(transfers)
        gap = queue[0].gap if queue else 0
        answer = {}         # cycle -> read data on the stand-in's r_data
        c = 0
        while c < cycles or queue:
            ctx.set(dut.done, levels[min(c, len(levels) - 1)])
            ctx.set(bus.r_valid, c in answer)
            ctx.set(bus.r_data, answer.get(c, 0))
            tr = queue[0] if queue else None
            active = tr is not None and gap == 0
            ctx.set(wb.stb, active)
            ctx.set(wb.cyc, tr is not None and (active or not tr.release))
            if tr is not None:
                ctx.set(wb.adr, tr.addr)
                ctx.set(wb.we, tr.we)
                ctx.set(wb.dat_w, tr.data)
                ctx.set(wb.sel, tr.sel)
            irq.append(ctx.get(dut.irq))
            if ctx.get(bus.w_en):
                a, d = ctx.get(bus.addr), ctx.get(bus.w_data)
                requests.append((c, "w", a, d))
                mem[a] = d
            if ctx.get(bus.r_en):
                a = ctx.get(bus.addr)
                requests.append((c, "r", a, None))
                answer[c + hp.READ_LATENCY] = mem.get(a, bus_word(a))
            ack, err = ctx.get(wb.ack), ctx.get(wb.err)
            assert not (ack and err), f"ack and err together in cycle {c}"
            if ack or err:
                replies.append((c, "ack" if ack else "err",
                                ctx.get(wb.dat_r) if ack and not tr.we else None))
                queue.pop(0)
                gap = queue[0].gap if queue else 0
            elif not active and tr is not None:
                gap -= 1
            await ctx.tick()
            c += 1
            assert c < cycles + 100 * (len(transfers) + 1), "no reply"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return wp.WishboneTrace(replies, requests, irq)


@pytest.mark.parametrize("name", list(CASES))
def test_wishbone_matches_golden_twin(name):
    transfers, done = CASES[name]
    ref_mem = {}
    ref = wp.ref_wishbone(transfers, done, lambda a: ref_mem.get(a, bus_word(a)),
                          ref_mem.__setitem__)
    rtl = rtl_wishbone(transfers, done, {}, len(ref.irq))
    assert rtl.replies == ref.replies
    assert rtl.requests == ref.requests
    assert rtl.irq == ref.irq


def test_golden_twin_timing():
    """The twin's own numbers, from the protocol constants (guards both against a shared slip)."""
    ref = wp.ref_wishbone([Transfer(0, True, 1), Transfer(0), Transfer(ENABLE, gap=2),
                           Transfer(1, sel=3)], [], lambda a: 5, lambda a, d: None)
    w, r = hp.WRITE_LATENCY, hp.READ_LATENCY
    loc = wp.LOCAL_LATENCY
    assert ref.replies == [(w, "ack", None), (w + 1 + r, "ack", 5),
                           (w + r + 4 + loc, "ack", 0), (w + r + loc + 5 + loc, "err", None)]
    assert ref.requests == [(0, "w", 0, 1), (w + 1, "r", 0, None)]


def test_transfer_rejects_bad_fields():
    with pytest.raises(ValueError, match=r"sel must fit 4 bits, got 16"):
        Transfer(0, sel=16)
    with pytest.raises(ValueError, match=r"gap must be >= 0, got -1"):
        Transfer(0, gap=-1)


def test_wishbone_on_a_real_core():
    """Weights and LABEL through Wishbone into a small core, an UPDATE command, and the done
    interrupt it raises (enabled, read, cleared)."""
    net = small_net(n_hidden=4, n_out=2, n_in=4, timesteps=2, batch_size=1)
    hw = HwConfig(net=net, lanes=1)
    top = Module()
    top.submodules.core = core = IntSNNCore(config=hw)
    top.submodules.wb = dut = WishboneBridge()
    wiring.connect(top, dut.bus, core.bus)
    top.d.comb += dut.done.eq(core.done)
    seen = {}

    async def transfer(ctx, addr, data=None):
        wb = dut.wb
        ctx.set(wb.adr, addr)
        ctx.set(wb.we, data is not None)
        ctx.set(wb.dat_w, 0 if data is None else data)
        ctx.set(wb.sel, wp.FULL_SEL)
        ctx.set(wb.cyc, 1)
        ctx.set(wb.stb, 1)
        cycles = 0
        while not ctx.get(wb.ack):
            assert not ctx.get(wb.err)
            await ctx.tick()
            cycles += 1
        value = ctx.get(wb.dat_r)
        await ctx.tick()
        ctx.set(wb.stb, 0)
        ctx.set(wb.cyc, 0)
        return value, cycles

    async def tb(ctx):
        while ctx.get(core.busy):       # the delta clear after reset
            await ctx.tick()
        seen["w"] = await transfer(ctx, hp.addr(hp.REGION_W_HIDDEN, 1, 2), hp.to_word(-5))
        seen["r"] = await transfer(ctx, hp.addr(hp.REGION_W_HIDDEN, 1, 2))
        await transfer(ctx, hp.addr(hp.REGION_CTRL, 0, hp.REG_LABEL), 1)
        seen["label"] = (await transfer(ctx, hp.addr(hp.REGION_CTRL, 0, hp.REG_LABEL)))[0]
        await transfer(ctx, ENABLE, 1)
        seen["irq_before"] = ctx.get(dut.irq)
        await transfer(ctx, hp.addr(hp.REGION_CTRL, 0, hp.REG_COMMAND), hp.CMD_UPDATE)
        waited = 0
        while not ctx.get(dut.irq):
            await ctx.tick()
            waited += 1
            assert waited < 10_000, "no interrupt"
        seen["status"] = (await transfer(ctx, hp.addr(hp.REGION_CTRL, 0, hp.REG_STATUS)))[0]
        seen["pending"] = (await transfer(ctx, PENDING))[0]
        await transfer(ctx, PENDING, 1)
        seen["after_clear"] = (ctx.get(dut.irq), (await transfer(ctx, PENDING))[0])

    simulate(top, tb)
    assert seen["w"] == (0, hp.WRITE_LATENCY)
    assert (hp.to_signed(seen["r"][0]), seen["r"][1]) == (-5, hp.READ_LATENCY)
    assert seen["label"] == 1
    assert seen["irq_before"] == 0
    assert seen["status"] == hp.STATUS_DONE
    assert seen["pending"] == 1
    assert seen["after_clear"] == (0, 0)


def rtl_initiator(requests, seed=0):
    """Issue host-bus ``requests`` (``(write, addr, data)``, each after the previous one's
    completion: a write 2 cycles after its request, a read at ``r_valid``) to a
    WishboneInitiator in front of a Wishbone target model (a dict; ``ack`` after 0-3 wait
    cycles, ``err`` for region 14).  Returns the transfers the target saw, the read results and
    the ``error`` flag."""
    import random

    from intsnn.hw.wishbone import WishboneInitiator
    dut = WishboneInitiator()
    rng = random.Random(seed)
    seen, results, mem = [], [], {}

    async def target(ctx):
        wait, answered = None, False
        async for _clk, _rst, cyc, stb, we, adr, dat in ctx.tick().sample(
                dut.wb.cyc, dut.wb.stb, dut.wb.we, dut.wb.adr, dut.wb.dat_w):
            ctx.set(dut.wb.ack, 0)
            ctx.set(dut.wb.err, 0)
            if answered or not (cyc and stb):   # the ack/err cycle ends the transfer
                answered = False
                continue
            if wait is None:
                wait = rng.randrange(4)
            if wait:
                wait -= 1
                continue
            wait, answered = None, True
            seen.append((bool(we), adr, dat if we else None))
            if adr >> hp.REGION_SHIFT == 14:
                ctx.set(dut.wb.err, 1)
            else:
                ctx.set(dut.wb.ack, 1)
                if we:
                    mem[adr] = dat
                else:
                    ctx.set(dut.wb.dat_r, mem.get(adr, bus_word(adr)))

    async def host(ctx):
        for write, addr, data in requests:
            ctx.set(dut.bus.addr, addr)
            ctx.set(dut.bus.w_data, data)
            ctx.set(dut.bus.w_en if write else dut.bus.r_en, 1)
            await ctx.tick()
            ctx.set(dut.bus.w_en, 0)
            ctx.set(dut.bus.r_en, 0)
            if write:
                await ctx.tick().until(~dut.wb.cyc)
            else:
                await ctx.tick().until(dut.bus.r_valid)
                results.append(ctx.get(dut.bus.r_data))
        await ctx.tick().repeat(3)
        results.append(("error", ctx.get(dut.error)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(target)
    sim.add_testbench(host)
    sim.run()
    return seen, results


def ref_initiator(requests):
    """Golden twin: every request once, in order; reads return what was written last (or the
    stand-in's word), 0 on ``err`` (region 14), which sets ``error``."""
    mem, seen, results, error = {}, [], [], False
    for write, addr, data in requests:
        seen.append((write, addr, data if write else None))
        bad = addr >> hp.REGION_SHIFT == 14
        error |= bad
        if write:
            if not bad:
                mem[addr] = data
        else:
            results.append(0 if bad else mem.get(addr, bus_word(addr)))
    return seen, results + [("error", int(error))]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_initiator_matches_ref(seed):
    reqs = [(True, hp.addr(2, 1, 3), 0xCAFE0001), (False, hp.addr(2, 1, 3), 0),
            (False, hp.addr(3, 0, 7), 0), (True, hp.addr(0, 0, 2), 5),
            (False, hp.addr(0, 0, 2), 0), (True, hp.addr(2, 1, 3), 0xFFFFFFFF),
            (False, hp.addr(2, 1, 3), 0)]
    if seed == 2:   # a refused transfer: data 0, sticky error
        reqs += [(False, hp.addr(14, 0, 1), 0), (True, hp.addr(14, 0, 1), 3)]
    assert rtl_initiator(reqs, seed) == ref_initiator(reqs)
