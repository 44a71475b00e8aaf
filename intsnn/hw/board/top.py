"""Platform-independent board top: clock and reset, the UART bridge and the core, status LEDs.

The core is the Wishbone top (:class:`~intsnn.hw.wishbone_core.WishboneCore`): the UART bridge's
bus requests go through a :class:`~intsnn.hw.wishbone.WishboneInitiator`, so the board carries
the same standard register bus an SoC would put a soft CPU on, and the frames go straight to the
core's AXI4-Stream input.

:class:`BoardTop` is everything that goes on the FPGA except the I/O buffers: the board file
(:mod:`.ulx3s`) only connects its pins, and the board co-simulation
(``intsnn/sim/benches/board_bench.py``) drives the same ports from cocotb, so what is simulated
is what is built.  The reset button is asynchronous to the clock: a reset synchroniser
(``amaranth.lib.cdc.ResetSynchronizer``) asserts the core's reset at once and releases it on a
clock edge.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, ClockSignal, Module
from amaranth.lib import wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out

from ..config import check_config
from ..uart_bridge import UartBridge
from ..wishbone import WishboneInitiator
from ..wishbone_core import WishboneCore

__all__ = ["BoardTop", "baud_divisor", "MAX_BAUD_ERROR"]

#: Largest relative baud-rate error accepted (8N1 tolerates about 4 % between both ends).
MAX_BAUD_ERROR = 0.01


def baud_divisor(clk_hz: float, baud: int) -> int:
    """Clock cycles per UART bit for ``baud`` at ``clk_hz``; a ValueError naming ``baud`` if
    the nearest divisor misses it by more than :data:`MAX_BAUD_ERROR`."""
    if not isinstance(baud, int) or baud <= 0:
        raise ValueError(f"baud must be a positive integer, not {baud!r}")
    div = round(clk_hz / baud)
    err = abs(clk_hz / max(1, div) - baud) / baud
    if div < 4 or err > MAX_BAUD_ERROR:
        raise ValueError(f"baud {baud!r} is not reachable from a {clk_hz / 1e6:g} MHz clock "
                         f"(nearest divisor {div}, error {100 * err:.2f} %); try "
                         f"{int(clk_hz // 25)} or {int(clk_hz // 217)}")
    return div


class BoardTop(wiring.Component):
    """Core + UART bridge in a clock domain of their own.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`
    divisor : int
        Clock cycles per UART bit (:func:`baud_divisor`).

    Members
    -------
    clk : In, the core clock.  rst_in : In, asynchronous reset (a button), active high.
    uart_rx : In, from the host.  uart_tx : Out, to the host.
    led_busy, led_done, led_error : Out, the core is busy / its last command finished / the
        bridge lost or garbled a received byte, or a Wishbone transfer failed (sticky).
    """

    def __init__(self, *, config, divisor):
        self._config = check_config(config)
        self._bridge = UartBridge(config=self._config, divisor=divisor)
        super().__init__({"clk": In(1), "rst_in": In(1), "uart_rx": In(1, init=1),
                          "uart_tx": Out(1, init=1), "led_busy": Out(1), "led_done": Out(1),
                          "led_error": Out(1)})

    @property
    def config(self):
        return self._config

    @property
    def divisor(self) -> int:
        return self._bridge.divisor

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain()
        m.d.comb += ClockSignal("sync").eq(self.clk)
        m.submodules.reset_sync = ResetSynchronizer(self.rst_in, domain="sync")
        m.submodules.bridge = bridge = self._bridge
        m.submodules.wishbone = initiator = WishboneInitiator()
        m.submodules.core = core = WishboneCore(config=self._config)
        wiring.connect(m, bridge.bus, initiator.bus)
        wiring.connect(m, initiator.wb, core.wb)
        wiring.connect(m, bridge.frames, core.frames)
        m.d.comb += [bridge.rx.eq(self.uart_rx), self.uart_tx.eq(bridge.tx),
                     bridge.busy.eq(core.busy), bridge.done.eq(core.done),
                     self.led_busy.eq(core.busy), self.led_done.eq(core.done),
                     self.led_error.eq(bridge.error | initiator.error)]
        return m
