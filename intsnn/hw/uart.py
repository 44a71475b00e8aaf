"""8N1 UART receiver and transmitter with a parameterised baud divisor (clock cycles per bit).

Golden twin: :func:`intsnn.hw.uart_protocol.uart_bits` (the line levels of a byte).  The
receiver synchronises its pin with two flip-flops (it comes from another chip), samples in
the middle of each bit, and reports a byte it could not hand over (``overrun``) or a missing
stop bit (``framing_error``) with sticky flags instead of dropping them silently.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx", "MIN_DIVISOR", "check_divisor"]

#: Fewest clock cycles per bit: mid-bit sampling needs a half bit of at least 2 cycles.
MIN_DIVISOR = 4


def check_divisor(divisor) -> int:
    """``divisor`` as an int, or a ValueError/TypeError naming it."""
    if not isinstance(divisor, int) or isinstance(divisor, bool):
        raise TypeError(f"Baud divisor must be an integer, not {divisor!r}")
    if divisor < MIN_DIVISOR:
        raise ValueError(f"Baud divisor must be at least {MIN_DIVISOR} clock cycles per bit, "
                         f"not {divisor!r}")
    return divisor


class UartRx(wiring.Component):
    """Receive 8N1 bytes from ``rx``.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (``f_clk / baud``), at least :data:`MIN_DIVISOR`.

    Members
    -------
    rx : In, the pin (idle high).
    data : ``Out(stream.Signature(8))``, received bytes; one is held until taken.
    overrun : Out, sticky: a byte arrived while the previous one was still held (it is lost).
    framing_error : Out, sticky: a stop bit was low.
    """

    def __init__(self, *, divisor):
        self._divisor = check_divisor(divisor)
        super().__init__({"rx": In(1, init=1), "data": Out(stream.Signature(8)),
                          "overrun": Out(1), "framing_error": Out(1)})

    @property
    def divisor(self) -> int:
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        D = self._divisor
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(D))
        bit = Signal(range(10))
        shift = Signal(8)
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += self.data.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += [timer.eq(D // 2 - 1), bit.eq(0)]
                    m.next = "BITS"
            with m.State("BITS"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [timer.eq(D - 1), bit.eq(bit + 1)]
                    with m.If(bit == 0):          # middle of the start bit: a glitch?
                        with m.If(rx):
                            m.next = "IDLE"
                    with m.Elif(bit < 9):
                        m.d.sync += shift.eq(Cat(shift[1:], rx))
                    with m.Else():                # middle of the stop bit
                        with m.If(~rx):
                            m.d.sync += self.framing_error.eq(1)
                        with m.Else():
                            with m.If(self.data.valid & ~self.data.ready):
                                m.d.sync += self.overrun.eq(1)
                            m.d.sync += [self.data.payload.eq(shift), self.data.valid.eq(1)]
                        m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """Send 8N1 bytes on ``tx``.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least :data:`MIN_DIVISOR`.

    Members
    -------
    data : ``In(stream.Signature(8))``, bytes to send (ready while idle).
    tx : Out, the pin (idle high).
    """

    def __init__(self, *, divisor):
        self._divisor = check_divisor(divisor)
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    @property
    def divisor(self) -> int:
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        D = self._divisor
        timer = Signal(range(D))
        left = Signal(range(11))          # bits still to send, the current one included
        shift = Signal(10, init=0x3FF)
        m.d.comb += [self.data.ready.eq(left == 0), self.tx.eq(shift[0])]
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [shift.eq(Cat(0, self.data.payload, 1)), left.eq(10), timer.eq(D - 1)]
        with m.Elif(left != 0):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [shift.eq(Cat(shift[1:], 1)), left.eq(left - 1), timer.eq(D - 1)]
        return m
