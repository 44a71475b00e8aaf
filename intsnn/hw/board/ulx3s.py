"""ULX3S 85F (LFE5U-85F, amaranth-boards ``ULX3S_85F_Platform``): :class:`BoardTop` on its pins.

Clock: the 25 MHz oscillator drives the core directly, without a PLL.  The core closes timing
at about 35 MHz on this device today (issue 9: unpipelined neuron passes), so a PLL to a higher
clock would only add a way to fail; once the pipelined engines reach 100 MHz an ``EHXPLLL``
goes here.  UART: the FTDI FT231X (``uart`` 0: FPGA ``rx`` M1, ``tx`` L4) at
:data:`DEFAULT_BAUD`.  Reset: the FIRE1 button (``button_fire`` 0).  LEDs 0/1/2: busy, done,
UART error.
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

from .top import BoardTop, baud_divisor

__all__ = ["Ulx3sTop", "CLOCK_HZ", "DEFAULT_BAUD", "platform"]

CLOCK_HZ = 25_000_000
#: 1 Mbaud: an exact divisor (25) of the 25 MHz clock, within the FT231X's 3 Mbaud.
DEFAULT_BAUD = 1_000_000


def platform():
    """The amaranth-boards platform (a clear error when amaranth-boards is missing)."""
    try:
        from amaranth_boards.ulx3s import ULX3S_85F_Platform
    except ImportError:
        raise RuntimeError("the ULX3S board needs amaranth-boards: pip install "
                           "'intsnn[fpga]'") from None
    return ULX3S_85F_Platform()


class Ulx3sTop(Elaboratable):
    """:class:`BoardTop` on the ULX3S pins.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`
    baud : int
        UART baud rate (the host driver must use the same).
    """

    def __init__(self, *, config, baud=DEFAULT_BAUD):
        self._top = BoardTop(config=config, divisor=baud_divisor(CLOCK_HZ, baud))

    @property
    def divisor(self) -> int:
        """Clock cycles per UART bit."""
        return self._top.divisor

    def elaborate(self, platform):
        m = Module()
        m.submodules.top = top = self._top
        def buffer(name, direction, resource, number=0):
            m.submodules[name] = buf = io.Buffer(direction, platform.request(
                resource, number, dir="-"))
            return buf

        clk = buffer("clk_buf", "i", "clk25")
        rst = buffer("rst_buf", "i", "button_fire")
        uart = platform.request("uart", 0, dir={k: "-" for k in ("rx", "tx", "rts", "dtr")})
        m.submodules.rx_buf = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx = io.Buffer("o", uart.tx)
        leds = [buffer(f"led{i}_buf", "o", "led", i) for i in range(3)]
        m.d.comb += [top.clk.eq(clk.i), top.rst_in.eq(rst.i), top.uart_rx.eq(rx.i),
                     tx.o.eq(top.uart_tx), leds[0].o.eq(top.led_busy),
                     leds[1].o.eq(top.led_done), leds[2].o.eq(top.led_error)]
        return m
