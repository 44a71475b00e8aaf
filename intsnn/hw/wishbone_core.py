"""The core with a Wishbone register interface: ``intsnn generate --bus wishbone``.

:class:`WishboneCore` is :class:`~intsnn.hw.core.IntSNNCore` behind a
:class:`~intsnn.hw.wishbone.WishboneBridge`: the registers, weights and counts over Wishbone B4
classic (``wb__*``), the frames over the core's AXI4-Stream input (``frames__*``), and the done
interrupt ``irq``.  The register map is the host protocol's (:mod:`.host_protocol`) plus the
adapter's IRQ_ENABLE / IRQ_PENDING (:mod:`.wishbone_protocol`).  Nothing inside the core changes:
the bridge issues the core's host-bus requests one at a time.

Golden twin: the core's (``IntSNN``, :mod:`.cycles`) and ``wishbone_protocol.ref_wishbone``; the
co-simulation (``intsnn cosim --bus wishbone``) runs the same comparisons as over the host bus.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import check_config
from .core import IntSNNCore
from .frame_ingest import frame_signature
from .wishbone import WishboneBridge, WishboneSignature

__all__ = ["WishboneCore", "BUSES"]

#: The register interfaces ``intsnn generate --bus`` offers.
BUSES = ("host", "wishbone")


class WishboneCore(wiring.Component):
    """Integer LIF (R)SNN training core with Wishbone registers and a done interrupt.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`

    Members
    -------
    wb : ``In(WishboneSignature())``, registers, weights and counts.
    frames : ``In(frame_signature(config))``, the AXI4-Stream input of the samples.
    irq : Out, a command finished (IRQ_PENDING & IRQ_ENABLE, held until cleared).
    busy, done : Out, as the core's.
    """

    def __init__(self, *, config):
        self._config = check_config(config)
        super().__init__({"wb": In(WishboneSignature()), "frames": In(frame_signature(config)),
                          "irq": Out(1), "busy": Out(1), "done": Out(1)})
        self._core = IntSNNCore(config=self._config)

    @property
    def config(self):
        return self._config

    @property
    def core(self) -> IntSNNCore:
        return self._core

    @property
    def rams(self) -> dict:
        return self._core.rams

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self._core
        m.submodules.wishbone = bridge = WishboneBridge()
        wiring.connect(m, wiring.flipped(self.wb), bridge.wb)
        wiring.connect(m, bridge.bus, core.bus)
        wiring.connect(m, wiring.flipped(self.frames), core.frames)
        m.d.comb += [bridge.done.eq(core.done), self.irq.eq(bridge.irq),
                     self.busy.eq(core.busy), self.done.eq(core.done)]
        return m
