"""UART bridge: the byte protocol of :mod:`intsnn.hw.uart_protocol` onto the core's host bus and
frame stream.

Golden twin: :func:`intsnn.hw.uart_protocol.ref_bridge` (``tests/test_hw_uart_bridge.py``
compares them over a list of cases, with the bytes on the pins).  One command at a time: the
bridge reads the 8-byte header, then runs the command (bus writes, bus reads with their reply
bytes, beats, or COMMAND and the wait for ``busy`` low) and answers with a status byte.  It
consumes a received byte within a few cycles except while a beat waits for the stream's
``tready`` (the bank being filled already holds a whole sample).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import host_protocol as hp
from . import uart_protocol as up
from .config import check_config
from .frame_ingest import frame_signature
from .host_bus import BusSignature
from .uart import UartRx, UartTx, check_divisor

__all__ = ["UartBridge"]

#: cycles after the COMMAND write before ``busy`` is trusted (the sequencer raises it within 2
#: of the host-bus write; the board's Wishbone initiator adds 1, its register stage)
COMMAND_SETTLE = 4


class UartBridge(wiring.Component):
    """UART bytes to bus transactions and frame beats, and back.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`
    divisor : int
        Clock cycles per UART bit (``f_clk / baud``).

    Members
    -------
    rx : In, the UART receive pin.  tx : Out, the UART transmit pin.
    bus : ``Out(BusSignature())``, to the core's host bus.
    frames : ``Out(frame_signature(config))``, to the core's frame stream (AXI4-Stream; the
        bridge counts beats and raises ``tlast`` on every ``T*IW``-th).
    busy, done : In, the core's flags.
    error : Out, a received byte was lost or garbled (sticky).
    """

    def __init__(self, *, config, divisor):
        self._config = check_config(config)
        self._divisor = check_divisor(divisor)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1),
                          "bus": Out(BusSignature()), "frames": Out(frame_signature(config)),
                          "busy": In(1), "done": In(1), "error": Out(1)})

    @property
    def config(self):
        return self._config

    @property
    def divisor(self) -> int:
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        hw = self._config
        pw = hw.lanes * hw.net.input_bits
        pb = up.beat_bytes(hw.lanes, hw.net.input_bits)
        m.submodules.urx = urx = UartRx(divisor=self._divisor)
        m.submodules.utx = utx = UartTx(divisor=self._divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx),
                     self.error.eq(urx.overrun | urx.framing_error)]
        rxd, txd = urx.data, utx.data

        hdr = Signal(8 * up.HEADER_BYTES)
        op, w, n, addr = hdr[:8], hdr[8:16], hdr[16:32], hdr[32:64]
        idx = Signal(range(max(up.HEADER_BYTES, pb) + 1))  # byte of the header, word or beat
        left = Signal(16)                          # words or beats still to do
        word = Signal(max(32, 8 * pb))             # word or beat being assembled / sent
        # beat of the sample: the byte protocol sends a sample in bursts, so the bridge counts
        # the sample's T*IW beats itself and raises tlast on the last
        beat = Signal(range(max(2, hw.stream_beats)))
        a = Signal(32)                             # current bus address
        settle = Signal(range(COMMAND_SETTLE + 1))
        bad = Signal()
        status = Cat(self.busy, self.done, urx.overrun, urx.framing_error, bad,
                     Const(up.STATUS_MARK >> 5, 3))
        ident = Cat(Const(up.IDENTITY[0], 8), Const(up.IDENTITY[1], 8),
                    Const(hw.lanes, 8), Const(hw.net.input_bits, 8))
        # sign extension of a w-byte word to the bus width
        sext = Signal(32)
        with m.Switch(w):
            for k in (1, 2, 3):
                with m.Case(k):
                    m.d.comb += sext.eq(word[:8 * k].as_signed())
            with m.Default():
                m.d.comb += sext.eq(word[:32])

        # the stream's outputs are registers (tdata is the beat register itself): no path runs
        # from the bridge's state decode into the core's frame ingest, which on a full preset
        # sits across the die (docs/results.md, "Bitstream")
        tvalid, tlast = Signal(), Signal()
        m.d.comb += [self.frames.tvalid.eq(tvalid), self.frames.tlast.eq(tlast),
                     self.frames.tdata.eq(word[:pw])]

        with m.FSM():
            with m.State("HEADER"):
                m.d.comb += rxd.ready.eq(1)
                with m.If(rxd.valid):
                    m.d.sync += [hdr.word_select(idx, 8).eq(rxd.payload), idx.eq(idx + 1)]
                    with m.If(idx == up.HEADER_BYTES - 1):
                        m.d.sync += idx.eq(0)
                        m.next = "DISPATCH"
            with m.State("DISPATCH"):
                m.d.sync += [left.eq(n), a.eq(addr), idx.eq(0), bad.eq(0)]
                with m.Switch(op):
                    with m.Case(up.OP_WRITE, up.OP_READ):
                        with m.If((w == 0) | (w > 4)):  # no word width: refuse the command
                            m.d.sync += bad.eq(1)
                            m.next = "STATUS"
                        with m.Elif(op == up.OP_WRITE):
                            m.next = "BYTES"
                        with m.Else():
                            m.next = "R_ISSUE"
                    with m.Case(up.OP_FRAMES):
                        m.next = "BYTES"
                    with m.Case(up.OP_COMMAND):
                        m.d.comb += [self.bus.addr.eq(hp.addr(hp.REGION_CTRL, 0,
                                                              hp.REG_COMMAND)),
                                     self.bus.w_data.eq(n[:4]), self.bus.w_en.eq(1)]
                        m.d.sync += settle.eq(COMMAND_SETTLE)
                        m.next = "C_WAIT"
                    with m.Case(up.OP_IDENTIFY):
                        m.d.sync += [word.eq(ident), w.eq(4), left.eq(1)]
                        m.next = "R_SEND"
                    with m.Default():
                        m.d.sync += bad.eq(1)
                        m.next = "STATUS"

            # WRITE and FRAMES: collect a word of w bytes (a beat of pb bytes) into ``word``,
            # then write it on the bus (push it on the stream); ``left`` words (beats) to go
            with m.State("BYTES"):
                frames = op == up.OP_FRAMES
                with m.If(left == 0):
                    m.next = "STATUS"
                with m.Else():
                    m.d.comb += rxd.ready.eq(1)
                    with m.If(rxd.valid):
                        m.d.sync += [word.word_select(idx, 8).eq(rxd.payload), idx.eq(idx + 1)]
                        with m.If(idx + 1 == Mux(frames, pb, w)):
                            with m.If(frames):
                                m.d.sync += [tvalid.eq(1),
                                             tlast.eq(beat == hw.stream_beats - 1)]
                                m.next = "F_PUSH"
                            with m.Else():
                                m.next = "W_BUS"
            with m.State("W_BUS"):
                m.d.comb += [self.bus.addr.eq(a), self.bus.w_data.eq(sext),
                             self.bus.w_en.eq(1)]
                m.d.sync += [a.eq(a + 1), left.eq(left - 1), idx.eq(0), word.eq(0)]
                m.next = "BYTES"

            # READ: one bus read, then its low w bytes out of the UART
            with m.State("R_ISSUE"):
                with m.If(left == 0):
                    m.next = "STATUS"
                with m.Else():
                    m.d.comb += [self.bus.addr.eq(a), self.bus.r_en.eq(1)]
                    m.next = "R_WAIT"
            with m.State("R_WAIT"):
                with m.If(self.bus.r_valid):
                    m.d.sync += [word.eq(self.bus.r_data), idx.eq(0)]
                    m.next = "R_SEND"
            with m.State("R_SEND"):
                m.d.comb += [txd.valid.eq(1), txd.payload.eq(word.word_select(idx, 8))]
                with m.If(txd.ready):
                    m.d.sync += idx.eq(idx + 1)
                    with m.If(idx + 1 == w):
                        m.d.sync += [a.eq(a + 1), left.eq(left - 1)]
                        m.next = "R_ISSUE"

            # FRAMES: hold the beat on the stream until taken
            with m.State("F_PUSH"):
                with m.If(self.frames.tready):
                    m.d.sync += [tvalid.eq(0), left.eq(left - 1), idx.eq(0),
                                 beat.eq(Mux(beat == hw.stream_beats - 1, 0, beat + 1))]
                    m.next = "BYTES"

            # COMMAND: the write happened in DISPATCH; wait for the core
            with m.State("C_WAIT"):
                with m.If(settle != 0):
                    m.d.sync += settle.eq(settle - 1)
                with m.Elif(~self.busy):
                    m.next = "STATUS"

            with m.State("STATUS"):
                m.d.comb += [txd.valid.eq(1), txd.payload.eq(status)]
                with m.If(txd.ready):
                    m.d.sync += idx.eq(0)
                    m.next = "HEADER"
        return m
