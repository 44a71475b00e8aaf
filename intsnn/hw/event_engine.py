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

Schedule (``intsnn.hw.cycles``): :attr:`~intsnn.hw.config.HwConfig.SCAN_LATENCY` cycles to
start (latch the frame base, read the first two source words), then one cycle per source word; a
word with events costs one more cycle, and each event one cycle per destination word; then
``EVENT_LATENCY - 1`` drain cycles.  The word being scanned sits in a register (``cur``) and the
read port already holds the next one, so which lane fires, and whether the scan moves on, come
from registers, never from a block-RAM output (the old prefetch decided the next read address
from the read data: RAM clock-to-out, then an encoder, back into a RAM address).  Zero elements
cost nothing.

Accumulate pipeline (:attr:`~intsnn.hw.config.HwConfig.EVENT_LATENCY` = 4): cycle ``c`` reads the
weight word (read latency 2: the weight memories are deep, banked, with registered bank
outputs); ``c+1`` reads the accumulator word (from the registered destination address);
``c+2`` registers both (the weights selected and shifted); ``c+3`` registers the product
``w * v``; ``c+4`` adds and writes.  Weight addresses come from a
counter (``sw * lanes * stride`` kept incrementally, plus a constant per lane), not a
multiplier.  Forwarding (times relative to the accumulator read, ``c+1`` above): the
accumulator word read at ``c`` misses the writes of ``c``, ``c+1`` and ``c+2`` (the read ports are not transparent: a transparent port compares the shared, muxed
read and write addresses behind the RAM, which was the critical path), so the ``c+1`` stage takes
the word written at ``c`` (a register of the last write) or at ``c+1``, and the ``c+2`` stage the
word written at ``c+2``, when the address matches, newest first: back-to-back events into one
destination word (fewer destination words than pipeline stages) accumulate exactly.

Golden twin: the current terms of :func:`intsnn.golden.reference.forward`
(``x(t) @ B_Q(W_hid).T``, ``B16(V(t-1)) @ W_rec.T``, ``s(t) @ B_Q(W_out).T``).
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In

from .lanes import pack
from .config import check_config
from .conv_source import ConvScatter
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
        # the weights are deep block memories: read latency 2 (banked, registered outputs)
        super().__init__(config=config, ports=ports, members={
            "control": In(ControlSignature()), "src": In(2),
            "t": In(range(config.net.timesteps))},
            latency={n: 2 for n in ports if n.startswith("w_")})

    def elaborate(self, platform):  # noqa: C901 - one scan/accumulate loop
        m = Module()
        hw, cfg = self.config, self.config.net
        L, IW, HW, OW = hw.lanes, hw.IW, hw.HW, hw.OW
        QS = cfg.quant_shift
        rsnn, conv = cfg.arch == "rsnn", cfg.arch == "csnn"
        vshape = signed(hw.event_value_bits)
        zero_enables(m, *self.port_list("r"), *self.port_list("w"))

        src = Signal(2)
        is_in, is_rec, is_spk = Signal(), Signal(), Signal()   # decoded src, registered
        sw = Signal(range(max(2, IW, HW)))      # source word in cur
        last_sw = Signal()                      # ... and it is the last one
        cur = Signal(data.ArrayLayout(vshape, L))   # its values
        used = Signal(L)                        # its lanes already accumulated
        src_depth = max(hw.memories["frames"].depth, HW) + 2
        ra1, ra2 = Signal(range(src_depth)), Signal(range(src_depth))  # words sw+1, sw+2
        w_depth = max(hw.w_hidden_words, cfg.n_hidden * max(OW, HW))
        sw_base = Signal(range(w_depth + L * max(HW, OW)))   # sw * lanes * stride
        wa = Signal(range(max(2, w_depth)))     # weight word of the event and destination word
        ev_v = Signal(vshape)
        dw = Signal(range(max(2, HW, OW)))      # destination word

        # the source word on the read ports (word sw+1 while scanning), as event values
        value = []
        for j in range(L):
            x, s = self.frames_r.data[j], self.spikes_r.data[j]
            q = self.b16_r.data[j] if rsnn else Const(0, 1)
            value.append(Mux(is_in, x, Mux(is_rec, q, s)))
        port_values = pack(m, value, vshape, "value")
        pending = Signal(L)
        nonzero = Cat(cur[j] != 0 for j in range(L))
        if conv:
            # CSNN input events: the (position, tap) addresses come from the ConvScatter,
            # which also masks the pixels that lie in no window (docs/architecture.md, "CSNN")
            m.submodules.scatter = scatter = ConvScatter(config=hw)
            nonzero = Mux(is_in, nonzero & scatter.covered, nonzero)
        m.d.comb += pending.eq(nonzero & ~used)
        found, lane = lowest_set(m, pending, "event_lane")
        src_words = Mux(is_in, IW, HW)
        dst_last = Mux(is_spk, OW - 1, HW - 1)
        stride = Mux(is_spk, OW, HW)
        lane_off = Mux(is_spk, Array(Const(j * OW) for j in range(L))[lane],
                       Array(Const(j * HW) for j in range(L))[lane])

        def read_source(addr):
            for port, s in ((self.frames_r, SRC_INPUT), (self.spikes_r, SRC_SPIKES)) + (
                    ((self.b16_r, SRC_RECURRENT),) if rsnn else ()):
                m.d.comb += [port.en.eq(src == s), port.addr.eq(addr)]

        def on_start():  # in every state: a start (re)starts a pass
            with m.If(self.control.start):
                m.d.sync += [src.eq(self.src), is_in.eq(self.src == SRC_INPUT),
                             is_rec.eq(self.src == SRC_RECURRENT),
                             is_spk.eq(self.src == SRC_SPIKES)]
                m.next = "PREP"

        def take_event():
            m.d.sync += [wa.eq(sw_base + lane_off), ev_v.eq(cur[lane]),
                         used.eq(used | (Const(1, L) << lane))]
            if conv:
                m.d.comb += [scatter.load.eq(is_in), scatter.lane.eq(lane)]

        # the event's destination word, weight word and last destination
        dst, w_addr, dst_end = dw, wa, dw == dst_last
        if conv:
            dst = Mux(is_in, scatter.acc_word, dw)
            w_addr = Mux(is_in, scatter.w_word, wa)
            dst_end = Mux(is_in, scatter.last, dst_end)

        # accumulate pipeline: p1 = the cycle after the reads (RAM outputs valid), p2, p3 = write
        p1_valid, p1_dw, p1_v = Signal(), Signal.like(dw), Signal.like(ev_v)
        m.d.sync += p1_valid.eq(0)
        done = Signal()
        with m.FSM(name="events"):
            with m.State("IDLE"):
                on_start()
            with m.State("PREP"):   # t is valid from here: the frame's first word
                m.d.sync += [ra1.eq(Mux(is_in, self.t * IW, 0)), sw.eq(0), sw_base.eq(0)]
                if conv:
                    m.d.comb += scatter.restart.eq(1)
                m.next = "LOAD0"
                on_start()
            with m.State("LOAD0"):
                read_source(ra1)
                m.d.sync += ra2.eq(ra1 + 1)
                m.next = "LOAD1"
                on_start()
            with m.State("LOAD1"):
                read_source(ra2)
                m.d.sync += [cur.eq(port_values), used.eq(0), ra1.eq(ra2), ra2.eq(ra2 + 1),
                             last_sw.eq(src_words == 1)]
                m.next = "SCAN"
                on_start()
            with m.State("SCAN"):
                with m.If(found):
                    read_source(ra1)
                    take_event()
                    m.d.sync += dw.eq(0)
                    m.next = "ACC"
                with m.Elif(last_sw):
                    read_source(ra1)
                    m.d.comb += done.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    # the next word is on the port: take it, and read the one after
                    read_source(ra2)
                    m.d.sync += [cur.eq(port_values), used.eq(0), sw.eq(sw + 1),
                                 sw_base.eq(sw_base + L * stride), ra1.eq(ra2),
                                 ra2.eq(ra2 + 1), last_sw.eq(sw + 2 == src_words)]
                    if conv:
                        m.d.comb += scatter.advance.eq(1)
                on_start()
            with m.State("ACC"):
                read_source(ra1)
                for port, s in ((self.w_hidden_r, SRC_INPUT), (self.w_output_r, SRC_SPIKES)) + (
                        ((self.w_recurrent_r, SRC_RECURRENT),) if rsnn else ()):
                    m.d.comb += [port.en.eq(src == s), port.addr.eq(w_addr)]
                m.d.sync += [p1_valid.eq(1), p1_dw.eq(dst), p1_v.eq(ev_v), wa.eq(wa + 1)]
                if conv:
                    m.d.comb += scatter.step.eq(1)
                with m.If(dst_end):
                    m.d.sync += dw.eq(0)
                    with m.If(found):
                        take_event()
                    with m.Else():
                        m.next = "SCAN"
                with m.Else():
                    m.d.sync += dw.eq(dw + 1)
                on_start()

        # c+1: the accumulator word is read (from the registered address; its data arrives with
        # the weights, whose read latency is 2); the stages below are as for a read at c+1
        assert hw.EVENT_LATENCY == 4
        m.d.comb += [self.acc_hidden_r.en.eq(p1_valid & ~is_spk),
                     self.acc_output_r.en.eq(p1_valid & is_spk),
                     self.acc_hidden_r.addr.eq(p1_dw), self.acc_output_r.addr.eq(p1_dw)]
        r_valid, r_dw, r_v = p1_valid, p1_dw, p1_v
        p1_valid, p1_dw, p1_v = Signal(), Signal.like(dw), Signal.like(ev_v)
        m.d.sync += [p1_valid.eq(r_valid), p1_dw.eq(r_dw), p1_v.eq(r_v)]

        aw = max(hw.acc_hidden_bits, hw.acc_output_bits)
        pw = cfg.inference_bits + hw.event_value_bits
        p2_valid, p2_dw, p2_v = Signal(), Signal.like(dw), Signal.like(ev_v)
        p3_valid, p3_dw = Signal(), Signal.like(dw)
        p2_w = [Signal(signed(cfg.inference_bits), name=f"p2_w{j}") for j in range(L)]
        p2_acc = [Signal(signed(aw), name=f"p2_acc{j}") for j in range(L)]
        p3_prod = [Signal(signed(pw), name=f"p3_prod{j}") for j in range(L)]
        p3_acc = [Signal(signed(aw), name=f"p3_acc{j}") for j in range(L)]
        new = [Signal(signed(aw), name=f"acc_new{j}") for j in range(L)]
        m.d.sync += [p2_valid.eq(p1_valid), p2_dw.eq(p1_dw), p2_v.eq(p1_v),
                     p3_valid.eq(p2_valid), p3_dw.eq(p2_dw)]
        # forwarding: a stage whose word is being written this cycle takes the written value;
        # the c+1 stage also the value written in the cycle before (wl_*: the last write)
        wl_valid, wl_dw = Signal(), Signal.like(dw)
        wl_new = [Signal(signed(aw), name=f"wl_new{j}") for j in range(L)]
        m.d.sync += [wl_valid.eq(p3_valid), wl_dw.eq(p3_dw)]
        m.d.sync += [wl_new[j].eq(new[j]) for j in range(L)]
        fwd1 = wl_valid & (wl_dw == p1_dw)
        fwd2 = p3_valid & (p3_dw == p1_dw)
        fwd3 = p3_valid & (p3_dw == p2_dw)
        for j in range(L):
            w = self.w_hidden_r.data[j] >> QS
            if rsnn:
                w = Mux(is_rec, self.w_recurrent_r.data[j], w)
            w = Mux(is_spk, self.w_output_r.data[j] >> QS, w)
            acc = Mux(is_spk, self.acc_output_r.data[j], self.acc_hidden_r.data[j])
            m.d.comb += new[j].eq(p3_acc[j] + p3_prod[j])
            m.d.sync += [p2_w[j].eq(w),
                         p2_acc[j].eq(Mux(fwd2, new[j], Mux(fwd1, wl_new[j], acc))),
                         p3_prod[j].eq(p2_w[j] * p2_v),
                         p3_acc[j].eq(Mux(fwd3, new[j], p2_acc[j]))]
        acc_h = pack(m, new, signed(hw.acc_hidden_bits), "acc_h")
        acc_o = pack(m, new, signed(hw.acc_output_bits), "acc_o")
        with m.If(p3_valid):
            with m.If(is_spk):
                m.d.comb += [self.acc_output_w.en.eq(1), self.acc_output_w.addr.eq(p3_dw),
                             self.acc_output_w.data.eq(acc_o)]
            with m.Else():
                m.d.comb += [self.acc_hidden_w.en.eq(1), self.acc_hidden_w.addr.eq(p3_dw),
                             self.acc_hidden_w.data.eq(acc_h)]

        # the last accumulation lands EVENT_LATENCY - 1 cycles after the final scan cycle
        for _ in range(hw.EVENT_LATENCY - 1):
            delayed = Signal()
            m.d.sync += delayed.eq(done)
            done = delayed
        m.d.comb += self.control.done.eq(done)
        return m
