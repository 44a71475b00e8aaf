"""Delta engine: the sample's eq. 3.17 term, added to the batch accumulators (deferred form).

The weight trace of eq. 3.5 is not kept per synapse: for a post-synaptic neuron ``n`` and a
pre-synaptic index ``p`` the sample adds ``v_fb[n] * corr[n, p]`` with
``corr[n, p] = sum_t pg[t, n] * P[t, p]`` (integer sums are exact in any order, so this equals
the eq. 3.5 trace at the end of the sample), from the pseudo-gradient history of the layer and
the pre-synaptic trace history (all ``T`` steps of a neuron in one word, so the sum over ``t`` is
a masked adder tree per lane, no cycles).

Order: the output layer (groups = output words, ``p`` = hidden neurons, ``v_fb`` = ``e``), then
the hidden layer (groups = hidden words, ``p`` = inputs, ``v_fb`` = ``vfb_hidden``).  A group
costs :attr:`~intsnn.hw.config.HwConfig.GROUP_CYCLES` = 4 cycles (read its pseudo-gradient and
feedback words, latency 2; register them and whether either is all zero; skip it if so);
otherwise one cycle per pre-synaptic index and ``DELTA_LATENCY - 1`` drain cycles.  Pipeline
(:attr:`~intsnn.hw.config.HwConfig.DELTA_LATENCY` = 7): read the delta word and the trace word
(read latency 2: the delta memories are deep, banked with registered bank outputs); register
the trace of the pre-synaptic neuron at every step and the old delta; register
``corr``; register ``v_fb * corr``; register ``delta + v_fb * corr``; register it saturated
(``delta_sat_bits``); write it.  The group's last write
lands while the next group's words are read: ``(address, layer)`` travel with the pipeline and
``v_fb`` changes only after that.  Every (p, group) word is written once per sample: no hazard.

Golden twin: :func:`intsnn.golden.fast.deltas_fast` (= :func:`intsnn.golden.reference.deltas`),
one sample: ``Delta += v_fb * T_corr``; with ``NetConfig.delta_sat_bits`` a layer whose exact
width is wider saturates after each sample's term (:func:`intsnn.golden.ops.batch_delta`).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In

from .lanes import pack
from .config import check_config
from .kernel_delta import PatchWalk
from .ram import MemoryClient, ram_shape
from .trees import adder_tree
from .walk import ControlSignature, zero_enables

__all__ = ["DeltaEngine"]


class DeltaEngine(MemoryClient):
    """Deferred delta accumulation of both layers for one sample.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`

    Members
    -------
    control : ``In(ControlSignature())``.
    pg_output_r, pg_hidden_r, error_r, vfb_r, trace_output_r, trace_hidden_r: what a sample
    left; delta_output_r/_w, delta_hidden_r/_w: the batch accumulators.
    """

    def __init__(self, *, config):
        config = check_config(config)
        super().__init__(config=config, ports={
            "pg_output_r": ("pg_output", "r"), "pg_hidden_r": ("pg_hidden", "r"),
            "error_r": ("error", "r"), "vfb_r": ("vfb_hidden", "r"),
            "trace_output_r": ("trace_output", "r"), "trace_hidden_r": ("trace_hidden", "r"),
            "delta_output_r": ("delta_output", "r"), "delta_output_w": ("delta_output", "w"),
            "delta_hidden_r": ("delta_hidden", "r"), "delta_hidden_w": ("delta_hidden", "w")},
            members={"control": In(ControlSignature())},
            # the delta memories are deep (banked, registered bank outputs): the DELTA reads
            # have latency 2
            latency={n: 2 for n in ("trace_output_r", "trace_hidden_r", "delta_output_r",
                                    "delta_hidden_r", "pg_output_r", "pg_hidden_r", "error_r",
                                    "vfb_r")})

    def elaborate(self, platform):  # noqa: C901 - one group loop
        m = Module()
        hw, cfg = self.config, self.config.net
        L, lg, T = hw.lanes, hw.lane_bits, cfg.timesteps
        I, H, HW, OW = cfg.n_in, cfg.n_hidden, hw.HW, hw.OW
        w = cfg.widths()
        zero_enables(m, *self.port_list("r"), *self.port_list("w"))

        layer = Signal()                        # 0: output layer, 1: hidden layer
        g = Signal(range(max(2, OW, HW)))       # group: post-synaptic word
        pre = Signal(range(max(2, I, H)))       # pre-synaptic index
        addr = Signal(range(max(2, hw.w_hidden_words, H * OW)))   # delta word (pre, g): a counter
        pg = Signal(ram_shape(hw.memories["pg_hidden"])[0])    # the group's pg history word
        fb = Signal(data.ArrayLayout(signed(max(hw.vfb_output_bits, w["hidden_vfb"])), L))
        groups = Mux(layer, HW, OW)
        n_pre = Mux(layer, hw.hidden_pre, H)
        conv = cfg.arch == "csnn"
        if conv:
            # eq. 3.22: a hidden group walks the k*k taps of its position's patch into the
            # shared kernel-delta words (docs/architecture.md, "CSNN")
            m.submodules.patch = patch = PatchWalk(config=hw)
            m.d.comb += patch.reset.eq(self.control.start)
        done = Signal()
        skip = Signal()                         # the group's pg or feedback word is all zero
        m.d.comb += self.control.done.eq(done)
        assert hw.GROUP_CYCLES == 4   # GROUP (read), WAIT, LOAD (register, decide), DECIDE

        def next_group():
            with m.If(g == groups - 1):
                m.d.sync += g.eq(0)
                with m.If(layer == 0):
                    m.d.sync += layer.eq(1)
                    m.next = "GROUP"
                with m.Else():
                    m.d.comb += done.eq(1)
                    m.next = "IDLE"
            with m.Else():
                m.d.sync += g.eq(g + 1)
                m.next = "GROUP"

        # stage R (one cycle after a DELTA read, latency 2), stage A (two cycles after) ...
        # stage F (seven cycles after: the write)
        assert hw.DELTA_LATENCY == 7
        drain = Signal(range(hw.DELTA_LATENCY))
        r_valid, r_pre, r_addr, r_layer = Signal(), Signal.like(pre), Signal.like(addr), Signal()
        m.d.sync += r_valid.eq(0)
        with m.FSM(name="deltas"):
            with m.State("IDLE"):
                with m.If(self.control.start):
                    m.d.sync += [layer.eq(0), g.eq(0)]
                    m.next = "GROUP"
            with m.State("GROUP"):
                for port, lay in ((self.pg_output_r, 0), (self.error_r, 0),
                                  (self.pg_hidden_r, 1), (self.vfb_r, 1)):
                    m.d.comb += [port.en.eq(layer == lay), port.addr.eq(g)]
                if conv:
                    # the walker follows g (each group passes GROUP once) and loads the group's
                    # first tap in DECIDE whether or not the group is skipped: no enable of it
                    # depends on the words just read (that path set the clock)
                    m.d.comb += patch.next_group.eq(layer & (g != 0))
                m.next = "WAIT"
            with m.State("WAIT"):   # read latency 2
                m.next = "LOAD"
            with m.State("LOAD"):
                # the group's words registered, and whether to skip it: DECIDE branches on a
                # register (the decision from the read data into every counter's enable was
                # the critical path of the CSNN)
                pg_word = Signal.like(pg.as_value(), name="pg_word")
                m.d.comb += pg_word.eq(Mux(layer, self.pg_hidden_r.data.as_value(),
                                           self.pg_output_r.data.as_value()))
                # the feedback of this group's lanes; padding lanes (never written) are 0
                lanes = []
                for j in range(L):
                    vfb, err = self.vfb_r.data[j], self.error_r.data[j]
                    if hw.padding_lane(H, j):
                        vfb = Mux(g == HW - 1, 0, vfb)
                    if hw.padding_lane(cfg.n_out, j):
                        err = Mux(g == OW - 1, 0, err)
                    lanes.append(Mux(layer, vfb, err))
                fb_now = pack(m, lanes, fb.shape().elem_shape, "fb")
                m.d.sync += [pg.eq(pg_word), pre.eq(0), addr.eq(g), fb.eq(fb_now),
                             skip.eq((pg_word == 0) | (fb_now == 0))]
                m.next = "DECIDE"
            with m.State("DECIDE"):
                if conv:
                    m.d.comb += patch.begin.eq(layer)
                with m.If(skip):
                    next_group()
                with m.Else():
                    m.next = "DELTA"
            with m.State("DELTA"):
                d_addr, p_idx = addr, pre       # the delta word and the pre-synaptic index
                if conv:
                    d_addr = Mux(layer, patch.addr, addr)
                    p_idx = Mux(layer, patch.pixel, pre)
                    m.d.comb += patch.step.eq(1)
                for port, lay in ((self.delta_output_r, 0), (self.delta_hidden_r, 1)):
                    m.d.comb += [port.en.eq(layer == lay), port.addr.eq(d_addr)]
                for port, lay in ((self.trace_output_r, 0), (self.trace_hidden_r, 1)):
                    m.d.comb += [port.en.eq(layer == lay), port.addr.eq(p_idx >> lg)]
                m.d.sync += [r_valid.eq(1), r_pre.eq(p_idx), r_addr.eq(d_addr),
                             r_layer.eq(layer)]
                with m.If(pre == n_pre - 1):
                    m.d.sync += drain.eq(hw.DELTA_LATENCY - 2)
                    m.next = "DRAIN"
                with m.Else():
                    m.d.sync += [pre.eq(pre + 1), addr.eq(addr + groups)]
            with m.State("DRAIN"):  # DELTA_LATENCY - 1: the last write overlaps the next GROUP
                with m.If(drain == 0):
                    next_group()
                with m.Else():
                    m.d.sync += drain.eq(drain - 1)

        a_valid, a_pre, a_addr, a_layer = (Signal(), Signal.like(pre), Signal.like(addr),
                                           Signal())
        m.d.sync += [a_valid.eq(r_valid), a_pre.eq(r_pre), a_addr.eq(r_addr),
                     a_layer.eq(r_layer)]
        # stage A: the read words registered: the trace of input/hidden neuron a_pre at every
        # step (lane a_pre % P of every slot) and the old delta word (sign-extended per lane)
        bank = a_pre[:lg] if lg else 0
        tb = max(w["hidden_pre_trace"], w["output_pre_trace"])
        dbits = max(hw.delta_hidden_bits, hw.delta_output_bits)   # per-layer memory widths
        trace = [Signal(tb, name=f"trace_a{tt}") for tt in range(T)]
        old_a = Signal(data.ArrayLayout(signed(dbits), L))
        b_valid, b_addr, b_layer = Signal(), Signal.like(addr), Signal()
        m.d.sync += [trace[tt].eq(Mux(a_layer, self.trace_hidden_r.data[tt][bank],
                                      self.trace_output_r.data[tt][bank])) for tt in range(T)]
        m.d.sync += [old_a.eq(pack(m, [Mux(a_layer, self.delta_hidden_r.data[j],
                                            self.delta_output_r.data[j]) for j in range(L)],
                                   signed(dbits), "old")),
                     b_valid.eq(a_valid), b_addr.eq(a_addr), b_layer.eq(a_layer)]
        # stage B: corr = sum_t pg[t, lane] * P[t, pre] (a masked adder tree per lane)
        corr_bits = max(w["hidden_corr_trace"], w["output_corr_trace"])
        corr = Signal(data.ArrayLayout(corr_bits, L))
        old_b = Signal.like(old_a)
        c_valid, c_addr, c_layer = Signal(), Signal.like(addr), Signal()
        corr_now = pack(m, [adder_tree([Mux(pg[tt][j], trace[tt], 0) for tt in range(T)])
                            for j in range(L)], corr_bits, "corr")
        m.d.sync += [corr.eq(corr_now), old_b.eq(old_a), c_valid.eq(b_valid),
                     c_addr.eq(b_addr), c_layer.eq(b_layer)]
        # stage C: the products v_fb * corr (fb changes only after the group's drain)
        fbw = len(fb[0])
        prod = [Signal(signed(fbw + corr_bits + 1), name=f"prod{j}") for j in range(L)]
        old_c = Signal.like(old_a)
        d_valid, d_addr, d_layer = Signal(), Signal.like(addr), Signal()
        m.d.sync += [prod[j].eq(fb[j] * corr[j]) for j in range(L)]
        m.d.sync += [old_c.eq(old_b), d_valid.eq(c_valid), d_addr.eq(c_addr),
                     d_layer.eq(c_layer)]
        # stage D: delta + v_fb * corr registered; stage E: exact in the layer's width where
        # HwConfig.delta_*_bits bound the sums, else saturated to it (NetConfig.delta_sat_bits,
        # golden twin intsnn.golden.ops.batch_delta: one term per synapse and sample, in order),
        # registered; stage F: written.  (The wide add, the saturation compares and the route
        # to the deep memory's blocks across the die are three cycles, not one.)
        new = [Signal(signed(max(dbits, len(prod[j])) + 1), name=f"delta{j}") for j in range(L)]
        e_valid, e_addr, e_layer = Signal(), Signal.like(addr), Signal()
        m.d.sync += [new[j].eq(old_c[j] + prod[j]) for j in range(L)]
        m.d.sync += [e_valid.eq(d_valid), e_addr.eq(d_addr), e_layer.eq(d_layer)]
        f_valid, f_addr, f_layer = Signal(), Signal.like(addr), Signal()
        m.d.sync += [f_valid.eq(e_valid), f_addr.eq(e_addr), f_layer.eq(e_layer)]
        for port, lay in ((self.delta_output_w, 0), (self.delta_hidden_w, 1)):
            name = ("output", "hidden")[lay]
            vals = new
            if cfg.delta_saturates(name):
                lo, hi = cfg.delta_range(name)
                vals = [Mux(v > hi, hi, Mux(v < lo, lo, v)) for v in new]
            f_data = Signal.like(port.data, name=f"f_data{lay}")
            m.d.sync += f_data.eq(pack(m, vals, port.data.shape().elem_shape, f"delta_{lay}"))
            with m.If(f_valid & (f_layer == lay)):
                m.d.comb += [port.en.eq(1), port.addr.eq(f_addr), port.data.eq(f_data)]
        return m
