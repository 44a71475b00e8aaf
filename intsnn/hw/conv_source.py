"""The CSNN's convolutional event source: the patch addressing of eq. 3.19 as a scatter.

An input event at pixel ``(row, col)`` adds ``x * B_Q(K)[:, tap]`` to the ``F`` accumulators
of every output position ``p`` whose window holds the pixel, ``tap`` being the pixel's place in
that window: at most ``ceil(k/s)**2`` (position, tap) pairs (9 for 5x5 kernels at stride 2),
each ``FW = F/P`` words of ``P`` filters.  :class:`ConvScatter` generates that sequence of
(accumulator word, kernel word) addresses for the event engine, one pair of words per cycle,
from counters only: the first window along each axis and the number of windows come from a
``side``-entry table per axis (:func:`~intsnn.hw.conv_geometry.axis_table`), and stepping to the
next window adds a constant to each address (``n*FW`` / ``FW`` to the accumulator word,
``-s*k*FW`` / ``-s*FW`` to the kernel word).

It also tracks the pixel coordinates of the source word being scanned (``P`` pixels per word,
row-major), so the event's pixel needs no division, and reports which lanes of that word lie in
some window (``covered``): the last row and column of a 28x28 image at k=5, s=2 lie in none, and
their events are skipped (they still feed the presynaptic trace, which no window reads).

Golden twin: :func:`intsnn.hw.conv_geometry.scatter_list` and
:func:`~intsnn.hw.conv_geometry.covered_pixels` (from the golden model's ``ConvGeometry``).
"""

from __future__ import annotations

from amaranth.hdl import Array, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import check_config
from .conv_geometry import AxisEntry, axis_table, covered_pixels

__all__ = ["ConvScatter"]


class ConvScatter(wiring.Component):
    """Pixel cursor and (position, tap) address walker of the CSNN's input events.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig` with ``net.arch == "csnn"``.

    Members
    -------
    restart : In, the cursor moves to source word 0 (next cycle).  advance : In, to the next
        word.  covered : Out(P), the lanes of the cursor's word that lie in some window.
    load : In, start the address list of the event at lane ``lane`` of the cursor's word (must
        be covered); the first pair is on ``acc_word``/``w_word`` the next cycle.  step : In,
        move to the next pair (``load`` wins).  acc_word, w_word : Out, the hidden accumulator
        word ``p*FW + fg`` and the kernel word ``tap*FW + fg``.  last : Out, this is the event's
        last pair.
    """

    def __init__(self, *, config):
        hw = check_config(config)
        if hw.net.arch != "csnn":
            raise ValueError(f"ConvScatter needs arch 'csnn', not {hw.net.arch!r}")
        self._config = hw
        cfg = hw.net
        super().__init__({
            "restart": In(1), "advance": In(1), "covered": Out(hw.lanes),
            "lane": In(range(hw.lanes)), "load": In(1), "step": In(1),
            "acc_word": Out(range(max(2, hw.HW))), "w_word": Out(range(max(2, hw.w_hidden_words))),
            "last": Out(1)})

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        hw, cfg = self._config, self._config.net
        L, FW, IW = hw.lanes, hw.FW, hw.IW
        side, k, s, n = cfg.image_side, cfg.conv_kernel, cfg.conv_stride, cfg.conv_out_side

        # cursor: (y0, x0) of lane 0 of the scanned word, and the word's index
        y0, x0 = Signal(range(side + L // side + 2)), Signal(range(side))
        word = Signal(range(max(2, IW)))
        dy, dx = divmod(L, side)
        with m.If(self.restart):
            m.d.sync += [y0.eq(0), x0.eq(0), word.eq(0)]
        with m.Elif(self.advance):
            xs = x0 + dx
            m.d.sync += [word.eq(word + 1), x0.eq(Mux(xs >= side, xs - side, xs)),
                         y0.eq(y0 + dy + (xs >= side))]
        cov = covered_pixels(cfg)
        masks = [sum(int(cov[w * L + j]) << j for j in range(L) if w * L + j < cfg.n_in)
                 for w in range(IW)]
        m.d.comb += self.covered.eq(Array(Const(v, L) for v in masks)[word])

        # the event's pixel: lane j is (y0 + j // side, x0 + j % side), wrapped once
        xs = x0 + Array(Const(j % side) for j in range(L))[self.lane]
        wrap = xs >= side
        row = y0 + Array(Const(j // side) for j in range(L))[self.lane] + wrap
        col = Mux(wrap, xs - side, xs)
        # per-axis tables, padded past the image so padding lanes index a zero entry
        tab = axis_table(cfg)
        depth = side + L // side + 3
        tab = tab + [AxisEntry(0, 0, 0)] * (depth - len(tab))

        def table(vals):
            return Array(Const(v) for v in vals)

        r_acc = table(e.first * n * FW for e in tab)[row]
        r_w = table(e.k_first * k * FW for e in tab)[row]
        r_n = table(max(0, e.count - 1) for e in tab)[row]
        c_acc = table(e.first * FW for e in tab)[col]
        c_w = table(e.k_first * FW for e in tab)[col]
        c_n = table(max(0, e.count - 1) for e in tab)[col]

        # walker registers: row part, column part (and its start, for the next row), filter word
        ra, rw = Signal(range(max(2, hw.HW))), Signal(range(max(2, hw.w_hidden_words)))
        ca, cw = Signal(range(max(2, hw.HW))), Signal(range(max(2, hw.w_hidden_words)))
        ca0, cw0 = Signal.like(ca), Signal.like(cw)
        rleft, cleft, cn0 = Signal(range(n + 1)), Signal(range(n + 1)), Signal(range(n + 1))
        fg = Signal(range(max(2, FW)))
        m.d.comb += [self.acc_word.eq(ra + ca + fg), self.w_word.eq(rw + cw + fg),
                     self.last.eq((fg == FW - 1) & (cleft == 0) & (rleft == 0))]
        with m.If(self.load):
            m.d.sync += [ra.eq(r_acc), rw.eq(r_w), rleft.eq(r_n), ca.eq(c_acc), cw.eq(c_w),
                         ca0.eq(c_acc), cw0.eq(c_w), cleft.eq(c_n), cn0.eq(c_n), fg.eq(0)]
        with m.Elif(self.step):
            with m.If(fg != FW - 1):
                m.d.sync += fg.eq(fg + 1)
            with m.Else():
                m.d.sync += fg.eq(0)
                with m.If(cleft != 0):     # next window to the right: tap column - s
                    m.d.sync += [ca.eq(ca + FW), cw.eq(cw - s * FW), cleft.eq(cleft - 1)]
                with m.Else():             # next window row: tap row - s, columns again
                    m.d.sync += [ca.eq(ca0), cw.eq(cw0), cleft.eq(cn0), ra.eq(ra + n * FW),
                                 rw.eq(rw - s * k * FW), rleft.eq(rleft - 1)]
        return m
