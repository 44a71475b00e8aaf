"""Feedback: the hidden layer's feedback voltage ``v_fb_hid = B_Q(W_out)^T e`` (eq. 3.16).

For each hidden neuron ``h`` and output word ``k2`` (``n_hidden * OW`` cycles, in the order of
the ``w_output`` memory ``[h][o-word]``, so its address is a counter): read ``W_out[., h]`` of
the word's ``lanes`` outputs and the word's errors; register them, then their lane products;
:attr:`~intsnn.hw.config.HwConfig.FEEDBACK_LATENCY` = 4 cycles after the read (latency 2: W_out is
deep, banked with registered bank outputs) a balanced adder
tree gives the word's ``sum_o B_Q(W_out[o, h]) * e[o]``, accumulated over the output words and
written, after the last one, into lane ``h % lanes`` of ``vfb_hidden`` word ``h / lanes``.
Padding outputs are left out (their weights are never loaded); the padding lanes of
``vfb_hidden`` are never written.

Golden twin: ``e @ B_Q(W_out)`` in :func:`intsnn.golden.reference.error_signals` (Direct mode).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib.wiring import In

from .config import check_config
from .ram import MemoryClient
from .trees import adder_tree
from .walk import ControlSignature, WordWalker, zero_enables

__all__ = ["Feedback"]


class Feedback(MemoryClient):
    """``vfb_hidden = B_Q(W_out)^T e``, one (hidden neuron, output word) pair per cycle.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`

    Members
    -------
    control : ``In(ControlSignature())``.  w_output_r, error_r, vfb_w : the memories.
    """

    def __init__(self, *, config):
        config = check_config(config)
        super().__init__(config=config, ports={
            "w_output_r": ("w_output", "r"), "error_r": ("error", "r"),
            "vfb_w": ("vfb_hidden", "w")}, members={"control": In(ControlSignature())},
            latency={"w_output_r": 2, "error_r": 2})   # W_out is deep (banked)

    def elaborate(self, platform):
        m = Module()
        hw, cfg = self.config, self.config.net
        L, lg, H, OW = hw.lanes, hw.lane_bits, cfg.n_hidden, hw.OW
        vfb_bits = cfg.widths()["hidden_vfb"]
        m.submodules.walk = walk = WordWalker(count=H * OW, drain=hw.FEEDBACK_LATENCY)
        m.d.comb += [walk.start.eq(self.control.start), self.control.done.eq(walk.done)]
        zero_enables(m, self.vfb_w)

        h, k2 = Signal(range(max(2, H))), Signal(range(max(2, OW)))
        with m.If(walk.active):
            m.d.sync += k2.eq(k2 + 1)
            with m.If(k2 == OW - 1):
                m.d.sync += [k2.eq(0), h.eq(h + 1)]
        with m.If(self.control.start):
            m.d.sync += [h.eq(0), k2.eq(0)]
        m.d.comb += [self.w_output_r.en.eq(walk.active), self.w_output_r.addr.eq(walk.k),
                     self.error_r.en.eq(walk.active), self.error_r.addr.eq(k2)]

        # FEEDBACK_LATENCY = 4: the read words (latency 2) registered, then the lane products
        # registered, then this word's dot product, accumulated over the words (and written at
        # the last)
        assert hw.FEEDBACK_LATENCY == 4
        v0, v1, v2, valid = Signal(), Signal(), Signal(), Signal()
        h0, h1, h2, p_h = Signal.like(h), Signal.like(h), Signal.like(h), Signal.like(h)
        k0, k1, k2b, p_k2 = Signal.like(k2), Signal.like(k2), Signal.like(k2), Signal.like(k2)
        m.d.sync += [v0.eq(walk.active), h0.eq(h), k0.eq(k2), v1.eq(v0), h1.eq(h0), k1.eq(k0),
                     v2.eq(v1), h2.eq(h1), k2b.eq(k1), valid.eq(v2), p_h.eq(h2), p_k2.eq(k2b)]
        w1 = [Signal(signed(cfg.inference_bits), name=f"w_s1_{j}") for j in range(L)]
        e1 = [Signal.like(self.error_r.data[j], name=f"e_s1_{j}") for j in range(L)]
        prod = [Signal(signed(cfg.inference_bits + len(e1[j])), name=f"prod{j}")
                for j in range(L)]
        m.d.sync += [w1[j].eq(self.w_output_r.data[j] >> cfg.quant_shift) for j in range(L)]
        m.d.sync += [e1[j].eq(self.error_r.data[j]) for j in range(L)]
        # padding outputs (e = 0, weights never loaded) are left out of the sum
        m.d.sync += [prod[j].eq(Mux(k2b == OW - 1, 0, w1[j] * e1[j])
                                if hw.padding_lane(cfg.n_out, j) else w1[j] * e1[j])
                     for j in range(L)]
        dot = adder_tree(prod)
        partial, total = Signal(signed(vfb_bits + 1)), Signal(signed(vfb_bits + 1))
        m.d.comb += total.eq(Mux(p_k2 == 0, 0, partial) + dot)   # a signal: used L + 1 times
        with m.If(valid):
            m.d.sync += partial.eq(total)
            with m.If(p_k2 == OW - 1):
                m.d.comb += [self.vfb_w.en.eq(Const(1, L) << (p_h[:lg] if lg else 0)),
                             self.vfb_w.addr.eq(p_h >> lg),
                             self.vfb_w.data.eq(Cat(*[total[:vfb_bits]] * L))]
        return m
