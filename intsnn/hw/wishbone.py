"""Wishbone adapter: a Wishbone B4 classic slave onto the core's host bus, and a done interrupt.

The register map, latencies and golden twin are :mod:`intsnn.hw.wishbone_protocol`
(``tests/test_hw_wishbone.py`` compares them over a list of cases).  One transfer at a time: a
request (``cyc & stb``) seen while idle is passed to the host bus in that same cycle (the host bus
registers it on entry), and acknowledged when the write has landed (``WRITE_LATENCY`` cycles
later) or when the host bus answers the read (``r_valid``, ``READ_LATENCY`` cycles later).  The
adapter's own registers (address region :data:`~.wishbone_protocol.REGION_WISHBONE`) answer one
cycle after the request.  Partial-word writes do not exist on the host bus, so a ``sel`` other
than all ones, or an unmapped adapter register, is refused with ``err`` (nothing is written).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import host_protocol as hp
from . import wishbone_protocol as wp
from .host_bus import BusSignature

__all__ = ["WishboneSignature", "WishboneBridge", "WishboneInitiator"]


class WishboneSignature(wiring.Signature):
    """Wishbone B4 classic, 32-bit data, 8-bit granularity, word addresses, from the
    initiator's side (member names as in amaranth-soc)."""

    def __init__(self):
        super().__init__({
            "adr": Out(hp.ADDR_BITS), "dat_w": Out(hp.DATA_BITS), "sel": Out(wp.SEL_BITS),
            "cyc": Out(1), "stb": Out(1), "we": Out(1),
            "dat_r": In(hp.DATA_BITS), "ack": In(1), "err": In(1),
        })


class WishboneBridge(wiring.Component):
    """Wishbone transfers to host-bus requests, and the done interrupt.

    Members
    -------
    wb : ``In(WishboneSignature())``, the Wishbone target.
    bus : ``Out(BusSignature())``, to the core's host bus.
    done : In, the core's ``done``; its rising edge sets IRQ_PENDING.
    irq : Out, IRQ_PENDING and IRQ_ENABLE (level, high until cleared).
    """

    def __init__(self):
        super().__init__({"wb": In(WishboneSignature()), "bus": Out(BusSignature()),
                          "done": In(1), "irq": Out(1)})

    def elaborate(self, platform):
        m = Module()
        wb = self.wb
        enable, pending, done_before = Signal(), Signal(), Signal()
        request = wb.cyc & wb.stb
        local = wb.adr[hp.REGION_SHIFT:] == wp.REGION_WISHBONE
        reg = wb.adr[:hp.COL_BITS]
        # an adapter register outside the map (row bits included) is refused
        mapped = (wb.adr[hp.COL_BITS:hp.REGION_SHIFT] == 0) & (
            (reg == wp.REG_IRQ_ENABLE) | (reg == wp.REG_IRQ_PENDING))
        full_word = wb.sel == (1 << wp.SEL_BITS) - 1

        # a done edge in the same cycle as a clear wins: no interrupt is lost
        clear = Signal()
        m.d.sync += done_before.eq(self.done)
        with m.If(self.done & ~done_before):
            m.d.sync += pending.eq(1)
        with m.Elif(clear):
            m.d.sync += pending.eq(0)
        m.d.comb += self.irq.eq(enable & pending)

        reply_err, reply_data, writing = Signal(), Signal(hp.DATA_BITS), Signal()
        assert hp.WRITE_LATENCY >= 1, "the write counter starts at WRITE_LATENCY - 1"
        wait = Signal(range(hp.WRITE_LATENCY + 1))
        with m.FSM():
            with m.State("IDLE"):
                with m.If(request):
                    with m.If(~full_word | (local & ~mapped)):
                        m.d.sync += reply_err.eq(1)
                        m.next = "LOCAL"
                    with m.Elif(local):
                        m.d.sync += [reply_err.eq(0), reply_data.eq(0)]
                        with m.Switch(reg):
                            with m.Case(wp.REG_IRQ_ENABLE):
                                m.d.sync += reply_data.eq(enable)
                                with m.If(wb.we):
                                    m.d.sync += enable.eq(wb.dat_w[0])
                            with m.Case(wp.REG_IRQ_PENDING):
                                m.d.sync += reply_data.eq(pending)
                                m.d.comb += clear.eq(wb.we & wb.dat_w[0])
                        m.next = "LOCAL"
                    with m.Else():
                        m.d.comb += [self.bus.addr.eq(wb.adr), self.bus.w_data.eq(wb.dat_w),
                                     self.bus.w_en.eq(wb.we), self.bus.r_en.eq(~wb.we)]
                        m.d.sync += [wait.eq(hp.WRITE_LATENCY - 1), writing.eq(wb.we)]
                        m.next = "BUS"
            with m.State("LOCAL"):
                m.d.comb += [wb.ack.eq(request & ~reply_err), wb.err.eq(request & reply_err),
                             wb.dat_r.eq(reply_data)]
                m.next = "IDLE"
            with m.State("BUS"):
                # a write is done when it has landed; a read when the host bus answers.  An
                # initiator that dropped cyc meanwhile gets no ack; the request still completes.
                with m.If(writing):
                    with m.If(wait == 0):
                        m.d.comb += wb.ack.eq(request)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += wait.eq(wait - 1)
                with m.Elif(self.bus.r_valid):
                    m.d.comb += [wb.ack.eq(request), wb.dat_r.eq(self.bus.r_data)]
                    m.next = "IDLE"
        return m


class WishboneInitiator(wiring.Component):
    """Host-bus requests (from the UART bridge) as Wishbone B4 classic transfers.

    One request at a time: a ``w_en``/``r_en`` seen while idle is registered and presented
    (``cyc``, ``stb``, ``sel`` all ones) until ``ack`` or ``err``; a read's data comes back
    as ``r_valid``/``r_data`` in the cycle after the ``ack`` (0 after an ``err``).  A request
    while one is outstanding, or an ``err``, sets the sticky ``error`` (the UART bridge issues
    one request and waits: it never does the former).

    Golden twin: the requests themselves, in order (``tests/test_hw_wishbone.py`` against a
    Wishbone target model with random acknowledge delays).

    Members
    -------
    bus : ``In(BusSignature())``, from the host-bus initiator.
    wb : ``Out(WishboneSignature())``, to a Wishbone target.
    error : Out, sticky.
    """

    def __init__(self):
        super().__init__({"bus": In(BusSignature()), "wb": Out(WishboneSignature()),
                          "error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        bus, wb = self.bus, self.wb
        pending, we = Signal(), Signal()
        adr, dat = Signal(hp.ADDR_BITS), Signal(hp.DATA_BITS)
        request = bus.w_en | bus.r_en
        m.d.comb += [wb.cyc.eq(pending), wb.stb.eq(pending), wb.we.eq(we), wb.adr.eq(adr),
                     wb.dat_w.eq(dat), wb.sel.eq((1 << wp.SEL_BITS) - 1)]
        m.d.sync += bus.r_valid.eq(0)
        with m.If(pending):
            with m.If(wb.ack | wb.err):
                m.d.sync += [pending.eq(0), bus.r_valid.eq(~we),
                             bus.r_data.eq(Mux(wb.err, 0, wb.dat_r))]
                with m.If(wb.err):
                    m.d.sync += self.error.eq(1)
            with m.If(request):
                m.d.sync += self.error.eq(1)
        with m.Elif(request):
            m.d.sync += [pending.eq(1), we.eq(bus.w_en), adr.eq(bus.addr),
                         dat.eq(bus.w_data)]
        return m
