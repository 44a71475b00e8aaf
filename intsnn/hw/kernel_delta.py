"""The CSNN's kernel-delta walk: eq. 3.22 as the delta engine's group loop.

For hidden word ``g = p*FW + fg`` (filters ``fg*P ..`` of output position ``p``) the sample adds
``v_fb[f, p] * sum_t pg[t, f, p] * T_pre[t, pix(p, tap)]`` to the kernel delta ``Delta[f, tap]``
for every tap: the correlation of the position's pseudo-gradients with its patch of the input
trace, summed over positions because every group adds into the same ``K**2 * FW`` kernel-delta
words (eq. 3.22's sum over height and width).  The delta engine's dense loop does the same with
``n_in`` pre-synaptic indices and a delta word per (index, group); :class:`PatchWalk` replaces
those two addresses: the pixel ``pix(p, tap) = (r*s + kr)*side + c*s + kc`` and the delta word
``tap*FW + fg``, from counters (no multiplier): the position's top-left pixel moves by ``s``
per position and by ``s*side - (n-1)*s`` per row of positions; within a group the pixel moves
by 1 per tap and by ``side - k + 1`` per kernel row; the delta word by ``FW`` per tap.

Hazards: a group writes ``K**2`` distinct words; two groups write the same words, but the delta
engine's next group reads its first word only after the previous group's last write has landed
(2 group cycles + the drain), so no forwarding is needed (``tests/test_hw_conv.py`` and the
core tests check it with ``FW = 1``, where consecutive groups share every word).

Golden twin: :func:`intsnn.hw.conv_geometry.patch_list` (the golden model's ``patch_pixel``).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import check_config

__all__ = ["PatchWalk"]


class PatchWalk(wiring.Component):
    """Pixel and kernel-delta word of every tap of the current hidden word (group).

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig` with ``net.arch == "csnn"``.

    Members
    -------
    reset : In, the group becomes 0 (next cycle).  next_group : In, the group advances by one.
    begin : In, restart the tap walk of the current group (tap 0 next cycle).  step : In, the
        next tap.  pixel : Out, ``pix(p, tap)``.  addr : Out, ``tap*FW + fg``.  last : Out, the
        current tap is the last (``k*k - 1``).  Priority: reset, then next_group, for the group;
        begin, then step, for the taps.
    """

    def __init__(self, *, config):
        hw = check_config(config)
        if hw.net.arch != "csnn":
            raise ValueError(f"PatchWalk needs arch 'csnn', not {hw.net.arch!r}")
        self._config = hw
        super().__init__({
            "reset": In(1), "next_group": In(1), "begin": In(1), "step": In(1),
            "pixel": Out(range(max(2, hw.net.n_in))),
            "addr": Out(range(max(2, hw.w_hidden_words))), "last": Out(1)})

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        hw, cfg = self._config, self._config.net
        FW = hw.FW
        side, k, s, n = cfg.image_side, cfg.conv_kernel, cfg.conv_stride, cfg.conv_out_side

        # the group: filter word fg of position (r, c); base = top-left pixel of the window
        fg = Signal(range(max(2, FW)))
        c = Signal(range(max(2, n)))
        base = Signal(range(max(2, cfg.n_in)))
        with m.If(self.reset):
            m.d.sync += [fg.eq(0), c.eq(0), base.eq(0)]
        with m.Elif(self.next_group):
            with m.If(fg != FW - 1):
                m.d.sync += fg.eq(fg + 1)
            with m.Else():
                m.d.sync += fg.eq(0)
                with m.If(c != n - 1):
                    m.d.sync += [c.eq(c + 1), base.eq(base + s)]
                with m.Else():
                    m.d.sync += [c.eq(0), base.eq(base + s * side - (n - 1) * s)]

        # the taps: kernel column kc, the pixel and the delta word
        kc = Signal(range(max(2, k)))
        tap = Signal(range(max(2, k * k)))
        pix = Signal.like(self.pixel)
        addr = Signal.like(self.addr)
        m.d.comb += [self.pixel.eq(pix), self.addr.eq(addr), self.last.eq(tap == k * k - 1)]
        with m.If(self.begin):
            m.d.sync += [kc.eq(0), tap.eq(0), pix.eq(base), addr.eq(fg)]
        with m.Elif(self.step):
            m.d.sync += [tap.eq(tap + 1), addr.eq(addr + FW)]
            with m.If(kc != k - 1):
                m.d.sync += [kc.eq(kc + 1), pix.eq(pix + 1)]
            with m.Else():
                m.d.sync += [kc.eq(0), pix.eq(pix + side - (k - 1))]
        return m
