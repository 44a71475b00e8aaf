"""Event engine: the synaptic currents of one time step, event by event (eqs. 3.2, 3.23).

A pass scans the words of a *source* memory and, for every non-zero element ``i`` with value
``v``, adds ``w[i, :] * v`` to the destination accumulators, ``lanes`` neurons per cycle:

=====  ======================  =====================  ==========  ===================
src    source (words)          weights                value       accumulators
=====  ======================  =====================  ==========  ===================
0      frame ``x(t)`` (IW)     ``B_Q(W_hid)``         ``x_i``     ``acc_hidden`` (HW)
1      ``B16(V(t-1))`` (HW)    ``W_rec`` (RSNN)       ``B16_i``   ``acc_hidden`` (HW)
2      hidden spikes (HW)      ``B_Q(W_out)``         1           ``acc_output`` (OW)
=====  ======================  =====================  ==========  ===================

``B_Q`` (eq. 3.24) is the top ``Q`` bits of the stored ``S``-bit shadow weight: a bit slice.

Schedule (``intsnn.hw.cycles``): one cycle to read the first source word, then one cycle per
source word; a word with events costs one more cycle, and each event one cycle per destination
word.  The next source word is read while the current one is scanned (prefetch), so zero
elements cost nothing.  The accumulate stage runs one cycle after the reads
(:attr:`~intsnn.hw.config.HwConfig.EVENT_LATENCY`); the accumulators are read transparently, so
back-to-back updates of one word (one destination word) see each other.

Golden twin: the current terms of :func:`intsnn.golden.reference.forward`
(``x(t) @ B_Q(W_hid).T``, ``B16(V(t-1)) @ W_rec.T``, ``s(t) @ B_Q(W_out).T``).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In

from .lanes import pack
from .config import check_config
from .ram import MemoryClient
from .trees import lowest_set
from .walk import ControlSignature, zero_enables

__all__ = ["EventEngine", "SRC_INPUT", "SRC_RECURRENT", "SRC_SPIKES"]

SRC_INPUT, SRC_RECURRENT, SRC_SPIKES = 0, 1, 2


class EventEngine(MemoryClient):
    """Event-driven accumulation of one source into the accumulators.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`

    Members
    -------
    control : ``In(ControlSignature())``; ``src`` (In, 2 bits) is sampled with ``start``.
    t : ``In(range(T))``, selects the frame of source 0.
    frames_r, spikes_r, b16_r (RSNN): the sources.  w_hidden_r, w_output_r, w_recurrent_r
    (RSNN): the weights.  acc_hidden_r/_w, acc_output_r/_w: the accumulators.
    """

    def __init__(self, *, config):
        config = check_config(config)
        rsnn = config.net.arch == "rsnn"
        ports = {"frames_r": ("frames", "r"), "spikes_r": ("spikes_hidden", "r"),
                 "w_hidden_r": ("w_hidden", "r"), "w_output_r": ("w_output", "r"),
                 "acc_hidden_r": ("acc_hidden", "r"), "acc_hidden_w": ("acc_hidden", "w"),
                 "acc_output_r": ("acc_output", "r"), "acc_output_w": ("acc_output", "w")}
        if rsnn:
            ports.update(b16_r=("b16_hidden", "r"), w_recurrent_r=("w_recurrent", "r"))
        super().__init__(config=config, ports=ports, members={
            "control": In(ControlSignature()), "src": In(2),
            "t": In(range(config.net.timesteps))})

    def elaborate(self, platform):  # noqa: C901 - one scan/accumulate loop
        m = Module()
        hw, cfg = self.config, self.config.net
        L, IW, HW, OW = hw.lanes, hw.IW, hw.HW, hw.OW
        QS = cfg.quant_shift
        rsnn = cfg.arch == "rsnn"
        zero_enables(m, *self.port_list("r"), *self.port_list("w"))

        src = Signal(2)
        sw = Signal(range(max(2, IW, HW)))      # source word
        sw_ok = Signal()                        # its data is on the read port
        used = Signal(L)                        # its lanes already accumulated
        ev_i = Signal(range(max(2, cfg.n_in, cfg.n_hidden)))   # presynaptic index of the event
        ev_v = Signal(signed(hw.event_value_bits))
        dw = Signal(range(max(2, HW, OW)))      # destination word

        # the source word on the read ports, its non-zero lanes and their values
        nonzero, value = [], []
        for j in range(L):
            x, s = self.frames_r.data[j], self.spikes_r.data[j]
            q = self.b16_r.data[j] if rsnn else Const(0, 1)
            nonzero.append(Mux(src == SRC_INPUT, x != 0, Mux(src == SRC_RECURRENT, q != 0, s)))
            value.append(Mux(src == SRC_INPUT, x, Mux(src == SRC_RECURRENT, q, 1)))
        values = data.ArrayLayout(signed(hw.event_value_bits), L)(
            pack(m, value, signed(hw.event_value_bits), "value"))
        pending = Signal(L)
        m.d.comb += pending.eq(Cat(nonzero) & ~used)
        found, lane = lowest_set(m, pending, "event_lane")
        src_words = Mux(src == SRC_INPUT, IW, HW)
        dst_words = Mux(src == SRC_SPIKES, OW, HW)
        base = Mux(src == SRC_INPUT, self.t * IW, 0)

        def read_source(word):
            for port, s in ((self.frames_r, SRC_INPUT), (self.spikes_r, SRC_SPIKES)) + (
                    ((self.b16_r, SRC_RECURRENT),) if rsnn else ()):
                m.d.comb += [port.en.eq(src == s), port.addr.eq(word + (base if s == SRC_INPUT
                                                                          else 0))]

        def on_start():  # in every state: a start (re)starts a pass
            with m.If(self.control.start):
                m.d.sync += [src.eq(self.src), sw.eq(0), sw_ok.eq(0), used.eq(0)]
                m.next = "SCAN"

        def take_event():
            m.d.sync += [ev_i.eq(sw * L + lane), ev_v.eq(values[lane]),
                         used.eq(used | (Const(1, L) << lane))]

        # accumulate stage (EVENT_LATENCY = 1 cycle after the reads)
        p_valid, p_dw, p_v, p_src = Signal(), Signal.like(dw), Signal.like(ev_v), Signal(2)
        m.d.sync += p_valid.eq(0)
        done = Signal()
        with m.FSM(name="events"):
            with m.State("IDLE"):
                on_start()
            with m.State("SCAN"):
                # read the next word now when this cycle moves on to it (prefetch)
                advance = sw_ok & ~found & (sw != src_words - 1)
                read_source(Mux(advance, sw + 1, sw))
                m.d.sync += sw_ok.eq(1)
                with m.If(sw_ok & found):
                    take_event()
                    m.d.sync += dw.eq(0)
                    m.next = "ACC"
                with m.Elif(sw_ok):
                    m.d.sync += used.eq(0)
                    with m.If(sw == src_words - 1):
                        m.d.comb += done.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += sw.eq(sw + 1)
                on_start()
            with m.State("ACC"):
                read_source(sw)
                for port, s, stride in (
                        (self.w_hidden_r, SRC_INPUT, HW), (self.w_output_r, SRC_SPIKES, OW)) + (
                        ((self.w_recurrent_r, SRC_RECURRENT, HW),) if rsnn else ()):
                    m.d.comb += [port.en.eq(src == s), port.addr.eq(ev_i * stride + dw)]
                m.d.comb += [self.acc_hidden_r.en.eq(src != SRC_SPIKES),
                             self.acc_output_r.en.eq(src == SRC_SPIKES),
                             self.acc_hidden_r.addr.eq(dw), self.acc_output_r.addr.eq(dw)]
                m.d.sync += [p_valid.eq(1), p_dw.eq(dw), p_v.eq(ev_v), p_src.eq(src)]
                with m.If(dw == dst_words - 1):
                    m.d.sync += dw.eq(0)
                    with m.If(found):
                        take_event()
                    with m.Else():
                        m.next = "SCAN"
                with m.Else():
                    m.d.sync += dw.eq(dw + 1)
                on_start()

        acc_o = pack(m, [self.acc_output_r.data[j] + (self.w_output_r.data[j] >> QS)
                         for j in range(L)], signed(hw.acc_output_bits), "acc_o")
        acc_h = []
        for j in range(L):
            w = self.w_hidden_r.data[j] >> QS
            if rsnn:
                w = Mux(p_src == SRC_RECURRENT, self.w_recurrent_r.data[j], w)
            acc_h.append(self.acc_hidden_r.data[j] + w * p_v)
        acc_h = pack(m, acc_h, signed(hw.acc_hidden_bits), "acc_h")
        with m.If(p_valid):
            with m.If(p_src == SRC_SPIKES):
                m.d.comb += [self.acc_output_w.en.eq(1), self.acc_output_w.addr.eq(p_dw),
                             self.acc_output_w.data.eq(acc_o)]
            with m.Else():
                m.d.comb += [self.acc_hidden_w.en.eq(1), self.acc_hidden_w.addr.eq(p_dw),
                             self.acc_hidden_w.data.eq(acc_h)]

        # the last accumulation lands in the pass's final scan cycle; a deeper accumulate
        # pipeline drains for the extra cycles before the pass reports done
        for _ in range(hw.EVENT_LATENCY - 1):
            delayed = Signal()
            m.d.sync += delayed.eq(done)
            done = delayed
        m.d.comb += self.control.done.eq(done)
        return m
