"""ULX3S 85F (LFE5U-85F, amaranth-boards ``ULX3S_85F_Platform``): :class:`BoardTop` on its pins.

Clock: the 25 MHz oscillator feeds an ``EHXPLLL`` (:mod:`.pll`) that makes the core clock,
:data:`DEFAULT_CLOCK_MHZ` unless asked otherwise (``intsnn build --clock-mhz``): the core places
and routes at 63-73 MHz on this device (docs/results.md, "Timing and fit"), so 50 MHz keeps a
margin; ``--clock-mhz 25`` uses the oscillator directly, without a PLL.  The core is held in
reset until the PLL reports lock.  UART: the FTDI FT231X (``uart`` 0: FPGA ``rx`` M1, ``tx``
L4) at :data:`DEFAULT_BAUD`.  Reset: the FIRE1 button (``button_fire`` 0).  LEDs 0/1/2: busy,
done, UART error.
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

from .pll import Ecp5Pll, pll_params
from .top import BoardTop, baud_divisor

__all__ = ["Ulx3sTop", "CLOCK_HZ", "DEFAULT_BAUD", "DEFAULT_CLOCK_MHZ", "platform"]

#: The board's oscillator.
CLOCK_HZ = 25_000_000
#: The core clock the PLL makes by default.
DEFAULT_CLOCK_MHZ = 50
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
    clock_mhz : int or float
        Core clock; the oscillator's 25 MHz without a PLL, else an EHXPLLL makes it.
    """

    def __init__(self, *, config, baud=DEFAULT_BAUD, clock_mhz=DEFAULT_CLOCK_MHZ):
        self._pll = (None if clock_mhz == CLOCK_HZ / 1e6
                     else Ecp5Pll(params=pll_params(CLOCK_HZ, clock_mhz)))
        self._clock_hz = CLOCK_HZ if self._pll is None else self._pll.params.out_hz
        self._top = BoardTop(config=config, divisor=baud_divisor(self._clock_hz, baud))

    @property
    def divisor(self) -> int:
        """Clock cycles per UART bit."""
        return self._top.divisor

    @property
    def clock_hz(self) -> float:
        """The core clock the board runs at."""
        return self._clock_hz

    @property
    def pll(self):
        """The :class:`~.pll.PllParams` in use, or None (the oscillator drives the core)."""
        return None if self._pll is None else self._pll.params

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
        if self._pll is None:
            m.d.comb += [top.clk.eq(clk.i), top.rst_in.eq(rst.i)]
        else:
            m.submodules.pll = pll = self._pll
            m.d.comb += [pll.clk_in.eq(clk.i), top.clk.eq(pll.clk_out),
                         top.rst_in.eq(rst.i | ~pll.locked)]
        m.d.comb += [top.uart_rx.eq(rx.i),
                     tx.o.eq(top.uart_tx), leds[0].o.eq(top.led_busy),
                     leds[1].o.eq(top.led_done), leds[2].o.eq(top.led_error)]
        return m
