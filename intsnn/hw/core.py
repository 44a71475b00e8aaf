"""The intsnn training core: an event-driven, ``lanes``-wide integer LIF training datapath.

One sequencer (an FSM) drives a lane-parallel datapath over on-chip memories; see
``docs/architecture.md`` for the schedule, the memory layout and the cycle formula
(:func:`intsnn.hw.cycles.expected_cycles`).  Everything is bit-exact with
:mod:`intsnn.golden.reference` (tests/test_hw_core.py).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..golden.config import NetConfig, bits_signed
from . import host_protocol as hp
from .units import ErrorUnit, NeuronUnit, UpdateUnit, acc_bits, b16_range

__all__ = ["BusSignature", "IntSNNCore", "check_config", "Layout"]


class BusSignature(wiring.Signature):
    """Synchronous memory-mapped bus, from the host's side (see :mod:`.host_protocol`)."""

    def __init__(self):
        super().__init__({
            "addr": Out(hp.ADDR_BITS), "w_data": Out(hp.DATA_BITS), "w_en": Out(1),
            "r_en": Out(1), "r_data": In(hp.DATA_BITS), "r_valid": In(1),
        })


def check_config(cfg: NetConfig, lanes: int) -> None:
    """Raise ``ValueError`` naming the parameter the hardware cannot implement."""
    if not isinstance(lanes, int) or isinstance(lanes, bool):
        raise TypeError(f"lanes must be an int, got {lanes!r}")
    if lanes < 1:
        raise ValueError(f"lanes must be >= 1, got {lanes!r}")
    if lanes & (lanes - 1):
        raise ValueError(f"lanes must be a power of two (lane = index bit slice), got {lanes!r}")
    if lanes > 64:
        raise ValueError(f"lanes must be <= 64, got {lanes!r}")
    if cfg.arch not in ("snn", "rsnn"):
        raise ValueError(f"arch {cfg.arch!r} is not supported in hardware (snn, rsnn)")
    if cfg.error_mode != "direct":
        raise ValueError(f"error_mode {cfg.error_mode!r} is not supported in hardware (direct)")
    if cfg.loss != "standard":
        raise ValueError(f"loss {cfg.loss!r} is not supported in hardware (standard)")
    if cfg.arch == "rsnn" and cfg.rec_source != "pre_reset":
        raise ValueError(f"rec_source {cfg.rec_source!r} is not supported in hardware "
                         f"(pre_reset)")
    if cfg.lr_rounding != "floor":
        raise ValueError(f"lr_rounding {cfg.lr_rounding!r} is not supported in hardware "
                         f"(floor); presets with shadow_bits < 16 take 'dither'")
    lim = 1 << hp.COL_BITS
    for name in ("n_in", "n_hidden", "n_out"):
        if getattr(cfg, name) > lim:
            raise ValueError(f"{name}={getattr(cfg, name)} exceeds the bus address field "
                             f"({lim})")
    if cfg.timesteps > 256:
        raise ValueError(f"timesteps={cfg.timesteps} too large: the deferred-delta unit sums "
                         f"all T steps in one cycle (<= 256)")
    w = cfg.widths()
    if w["delta_accumulator"] > 64:
        raise ValueError(f"delta_accumulator width {w['delta_accumulator']} > 64 bits "
                         f"(reduce batch_size)")
    if max(acc_bits(cfg, "hidden"), acc_bits(cfg, "output")) > 64:
        raise ValueError("voltage_bits too large: accumulator wider than 64 bits")


class Layout:
    """Word counts and memory geometry for ``(cfg, lanes)`` (pure Python, used by docs/tests).

    ``IW, HW, OW``: words of ``lanes`` inputs / hidden / output neurons (``ceil(n / lanes)``).
    ``memories``: name -> (depth, width in bits, purpose).
    """

    def __init__(self, cfg: NetConfig, lanes: int):
        check_config(cfg, lanes)
        L = lanes
        self.cfg, self.lanes = cfg, L
        self.IW = -(-cfg.n_in // L)
        self.HW = -(-cfg.n_hidden // L)
        self.OW = -(-cfg.n_out // L)
        w = cfg.widths()
        T, I, H = cfg.timesteps, cfg.n_in, cfg.n_hidden
        S, Q, D = cfg.shadow_bits, cfg.inference_bits, w["delta_accumulator"]
        qlo, qhi = b16_range(cfg)
        self.q_bits = bits_signed(qlo, qhi)
        self.acc_h_bits = acc_bits(cfg, "hidden")
        self.acc_o_bits = acc_bits(cfg, "output")
        mem = {
            "w_hidden": (I * self.HW, L * S, "static", "hidden shadow weights [i][h-word]"),
            "w_output": (H * self.OW, L * S, "static", "output shadow weights [h][o-word]"),
            "delta_hidden": (I * self.HW, L * D, "batch", "hidden delta accumulators"),
            "delta_output": (H * self.OW, L * D, "batch", "output delta accumulators"),
            "frames": (T * self.IW, L * cfg.input_bits, "sample", "input frames x[t][i-word]"),
            "pg_hidden": (self.HW, T * L, "sample", "hidden pg history [h-word] x (t, lane)"),
            "pg_output": (self.OW, T * L, "sample", "output pg history [o-word] x (t, lane)"),
            "acc_hidden": (self.HW, L * self.acc_h_bits, "sample", "hidden accumulators"),
            "acc_output": (self.OW, L * self.acc_o_bits, "sample", "output accumulators"),
            "spikes_hidden": (self.HW, L, "sample", "hidden spikes of the step"),
            "counts": (self.OW, L * cfg.count_bits, "sample", "output spike counts"),
            "error": (self.OW, L * w["error"], "sample", "error e = vfb_out"),
            "vfb_hidden": (self.HW, L * w["hidden_vfb"], "sample", "B_Q(W_out)^T e"),
        }
        if cfg.arch == "rsnn":
            mem["w_recurrent"] = (H * self.HW, L * Q, "static", "recurrent weights [j][h-word]")
            mem["b16_hidden"] = (self.HW, L * self.q_bits, "sample", "V(t-1) >> rec_shift")
        # trace histories: one bank per lane j (inputs i = word*L + j), all T steps in a word,
        # so the deferred delta reads P[0..T-1, i] in one cycle
        for j in range(L):
            mem[f"pre_hidden{j}"] = (self.IW, T * w["hidden_pre_trace"], "sample",
                                     f"presynaptic trace history P[:, i], i % P == {j}")
            mem[f"pre_output{j}"] = (self.HW, T * w["output_pre_trace"], "sample",
                                     f"hidden-spike trace history P[:, h], h % P == {j}")
        self.memories = mem

    def state_bits(self) -> dict[str, int]:
        return {k: d * w for k, (d, w, _, _) in self.memories.items()}


def _lanes(sig, width: int, n: int, signed_=False):
    out = [sig[j * width:(j + 1) * width] for j in range(n)]
    return [v.as_signed() for v in out] if signed_ else out


def _lowest(mask, n):
    """(found, index) of the lowest set bit of ``mask`` (priority encoder)."""
    idx = Const(0, max(1, ceil_log2(n)))
    for j in reversed(range(n)):
        idx = Mux(mask[j], j, idx)
    return mask.any(), idx


class IntSNNCore(wiring.Component):
    """Integer LIF (R)SNN training core.

    Parameters
    ----------
    cfg : :class:`~intsnn.golden.config.NetConfig` (arch snn/rsnn, direct error, standard loss).
    lanes : P, synapses processed per cycle (a power of two).

    Members
    -------
    bus : ``In(BusSignature())`` -- registers and weights (:mod:`.host_protocol`).
    frames : ``In(stream.Signature(lanes * input_bits))`` -- input beats of a sample.
    busy : Out, a command is running.  done : Out, the last command has finished.
    """

    def __init__(self, cfg: NetConfig, lanes: int = 1):
        try:
            self.layout = Layout(cfg, lanes)
        except (TypeError, ValueError):
            self._MustUse__silence = True  # a rejected core is not an unused elaboratable
            raise
        self._cfg, self._lanes = cfg, lanes
        super().__init__({
            "bus": In(BusSignature()),
            "frames": In(stream.Signature(lanes * cfg.input_bits)),
            "busy": Out(1), "done": Out(1),
        })

    @property
    def cfg(self):
        return self._cfg

    @property
    def lanes(self):
        return self._lanes

    def elaborate(self, platform):  # noqa: C901 - one sequencer, read top to bottom
        m = Module()
        cfg, L, lay = self._cfg, self._lanes, self.layout
        w = cfg.widths()
        T, I, H, O = cfg.timesteps, cfg.n_in, cfg.n_hidden, cfg.n_out
        IW, HW, OW = lay.IW, lay.HW, lay.OW
        S, Q, D = cfg.shadow_bits, cfg.inference_bits, w["delta_accumulator"]
        QS = cfg.quant_shift
        lg = ceil_log2(L) if L > 1 else 0
        rsnn = cfg.arch == "rsnn"
        tbh, tbo = w["hidden_pre_trace"], w["output_pre_trace"]
        cb, eb, vfbb = cfg.count_bits, w["error"], w["hidden_vfb"]
        cbh, cbo = w["hidden_corr_trace"], w["output_corr_trace"]

        # ------------------------------------------------------------ memories
        mems, rp, wp = {}, {}, {}
        transparent = {"acc_hidden", "acc_output"}
        gran = {"w_hidden": S, "w_output": S, "w_recurrent": Q, "pg_hidden": L,
                "pg_output": L, "vfb_hidden": vfbb}
        gran.update({f"pre_hidden{j}": tbh for j in range(L)})
        gran.update({f"pre_output{j}": tbo for j in range(L)})
        for name, (depth, width, _, _) in lay.memories.items():
            mem = Memory(shape=unsigned(width), depth=depth, init=[])
            m.submodules["mem_" + name] = mem
            wp[name] = mem.write_port(granularity=gran.get(name))
            rp[name] = mem.read_port(
                transparent_for=(wp[name],) if name in transparent else ())
            mems[name] = mem
            m.d.comb += wp[name].en.eq(0)

        def write(name, addr, data, en=None):
            m.d.comb += [wp[name].addr.eq(addr), wp[name].data.eq(data)]
            m.d.comb += wp[name].en.eq(-1 if en is None else en)

        def read(name, addr):
            m.d.comb += rp[name].addr.eq(addr)

        def bq(word):  # B_Q of each shadow lane: the top Q bits, a bit slice
            return [v[QS:S].as_signed() for v in _lanes(word, S, L)]

        # ------------------------------------------------------------ registers
        cmd_train = Signal()
        label = Signal(range(max(2, O)))
        prediction = Signal(range(max(2, O)))
        cycles = Signal(32)
        samples = Signal(32)
        done = Signal()
        t = Signal(range(max(2, T)))
        m.d.comb += self.done.eq(done)

        # --- input stream ingestion (idle only): frames + presynaptic trace history
        in_t = Signal(range(T + 1))
        in_k = Signal(range(max(2, IW)))
        ing_ok = Signal()
        frames_ready = Signal()
        idle = Signal()
        m.d.sync += ing_ok.eq(1)
        m.d.comb += self.frames.ready.eq(idle & ~frames_ready & ing_ok)

        # ------------------------------------------------------------ neuron / update units
        nh = [NeuronUnit(cfg, "hidden") for _ in range(L)]
        no = [NeuronUnit(cfg, "output") for _ in range(L)]
        uh = [UpdateUnit(cfg, "hidden") for _ in range(L)]
        uo = [UpdateUnit(cfg, "output") for _ in range(L)]
        eu = [ErrorUnit(cfg) for _ in range(L)]
        for j in range(L):
            m.submodules[f"neuron_h{j}"] = nh[j]
            m.submodules[f"neuron_o{j}"] = no[j]
            m.submodules[f"update_h{j}"] = uh[j]
            m.submodules[f"update_o{j}"] = uo[j]
            m.submodules[f"error{j}"] = eu[j]

        # ------------------------------------------------------------ event engine (F1, F3)
        # src 0: input words, 1: B16 words (rsnn), 2: hidden-spike words.
        src = Signal(2)
        sw = Signal(range(max(2, IW, HW)))      # source word index
        sw_ok = Signal()                        # source word data valid
        used = Signal(L)                        # lanes of the word already processed
        ev_i = Signal(range(max(2, I, H)))      # presynaptic index of the current event
        vw = max(cfg.input_bits + 1, lay.q_bits, 2)
        ev_v = Signal(signed(vw))
        dw = Signal(range(max(2, HW, OW)))      # destination word
        # pipeline stage (one cycle after the read)
        p_valid = Signal()
        p_dw = Signal.like(dw)
        p_v = Signal.like(ev_v)
        p_src = Signal.like(src)

        # source word data and its nonzero-lane mask
        x_l = _lanes(rp["frames"].data, cfg.input_bits, L)
        q_l = _lanes(rp["b16_hidden"].data, lay.q_bits, L, True) if rsnn else [Const(0)] * L
        s_l = _lanes(rp["spikes_hidden"].data, 1, L)
        src_nz = Signal(L)
        src_val = [Signal(signed(vw), name=f"src_val{j}") for j in range(L)]
        for j in range(L):
            m.d.comb += src_nz[j].eq(Mux(src == 0, x_l[j] != 0,
                                         Mux(src == 1, q_l[j] != 0, s_l[j])))
            m.d.comb += src_val[j].eq(Mux(src == 0, x_l[j], Mux(src == 1, q_l[j], 1)))
        pending = Signal(L)
        m.d.comb += pending.eq(src_nz & ~used)
        ev_found, ev_lane = _lowest(pending, L)
        src_words = Signal(range(max(2, IW, HW) + 1))
        m.d.comb += src_words.eq(Mux(src == 0, IW, HW))
        dst_words = Signal(range(max(2, HW, OW) + 1))
        m.d.comb += dst_words.eq(Mux(src == 2, OW, HW))

        # pipeline execute of the event engine: acc[dw] += B_Q(w) * v per lane
        wh_q = bq(rp["w_hidden"].data)
        wo_q = bq(rp["w_output"].data)
        wr_l = _lanes(rp["w_recurrent"].data, Q, L, True) if rsnn else [Const(0)] * L
        acch_l = _lanes(rp["acc_hidden"].data, lay.acc_h_bits, L, True)
        acco_l = _lanes(rp["acc_output"].data, lay.acc_o_bits, L, True)

        # ------------------------------------------------------------ delta engine (E3, E4)
        dl_layer = Signal()                  # 0: output layer, 1: hidden layer
        dl_g = Signal(range(max(2, OW, HW)))  # post word (group)
        dl_pre = Signal(range(max(2, I, H)))  # presynaptic index
        dl_pgw = Signal(T * L)                # pg history word of the group
        dl_vfb = [Signal(signed(max(eb, vfbb)), name=f"dl_vfb{j}") for j in range(L)]
        dl_pv = Signal()                      # pipeline: a delta word to update
        dl_ppre = Signal.like(dl_pre)

        # ------------------------------------------------------------ misc counters
        k = Signal(range(max(2, I * HW, H * OW, H, OW, HW) + 1))   # generic loop index
        k2 = Signal(range(max(2, OW)))
        p_k = Signal.like(k)
        p_k2 = Signal.like(k2)
        vfb_acc = Signal(signed(vfbb + 1))
        best = Signal(cb)
        best_found = Signal()

        # ------------------------------------------------------------ host bus (idle only)
        bus = self.bus
        region = bus.addr[hp.REGION_SHIFT:]
        row = bus.addr[hp.ROW_SHIFT:hp.REGION_SHIFT]
        col = bus.addr[:hp.COL_BITS]
        r_region = Signal(4)
        r_lane = Signal(range(max(2, L)))
        r_reg = Signal(4)
        m.d.sync += bus.r_valid.eq(bus.r_en)
        lane_of = row[:lg] if lg else Const(0, 1)
        col_lane = col[:lg] if lg else Const(0, 1)

        with m.If(bus.r_en):
            m.d.sync += [r_region.eq(region), r_reg.eq(col),
                         r_lane.eq(Mux(region == hp.REGION_COUNTS, col_lane, lane_of))]

        def lane_sel(word, width, lane, signed_=True):
            lanes = _lanes(word, width, L, signed_)
            out = lanes[0]
            for j in range(1, L):
                out = Mux(lane == j, lanes[j], out)
            return out

        status = Cat(self.busy, done, frames_ready)
        rdata = Signal(hp.DATA_BITS)
        with m.Switch(r_region):
            with m.Case(hp.REGION_CTRL):
                with m.Switch(r_reg):
                    with m.Case(hp.REG_STATUS):
                        m.d.comb += rdata.eq(status)
                    with m.Case(hp.REG_LABEL):
                        m.d.comb += rdata.eq(label)
                    with m.Case(hp.REG_PREDICTION):
                        m.d.comb += rdata.eq(prediction)
                    with m.Case(hp.REG_CYCLES):
                        m.d.comb += rdata.eq(cycles)
                    with m.Case(hp.REG_SAMPLES):
                        m.d.comb += rdata.eq(samples)
            with m.Case(hp.REGION_COUNTS):
                m.d.comb += rdata.eq(lane_sel(rp["counts"].data, cb, r_lane, False))
            with m.Case(hp.REGION_W_HIDDEN):
                m.d.comb += rdata.eq(lane_sel(rp["w_hidden"].data, S, r_lane))
            with m.Case(hp.REGION_W_OUTPUT):
                m.d.comb += rdata.eq(lane_sel(rp["w_output"].data, S, r_lane))
            if rsnn:
                with m.Case(hp.REGION_W_RECURRENT):
                    m.d.comb += rdata.eq(lane_sel(rp["w_recurrent"].data, Q, r_lane))
        m.d.comb += bus.r_data.eq(rdata)

        # ------------------------------------------------------------ the sequencer
        with m.If(self.busy):
            m.d.sync += cycles.eq(cycles + 1)

        def start_engine(source):
            m.d.sync += [src.eq(source), sw.eq(0), sw_ok.eq(0), used.eq(0)]

        # event-engine execute stage (runs whenever p_valid)
        with m.If(p_valid):
            with m.If(p_src == 2):
                new = Cat(*[(acco_l[j] + wo_q[j]).as_unsigned()[:lay.acc_o_bits]
                            for j in range(L)])
                write("acc_output", p_dw, new)
            with m.Else():
                new = []
                for j in range(L):
                    wv = Mux(p_src == 1, wr_l[j], wh_q[j])
                    new.append((acch_l[j] + wv * p_v).as_unsigned()[:lay.acc_h_bits])
                write("acc_hidden", p_dw, Cat(*new))
        m.d.sync += p_valid.eq(0)

        # delta-engine partial sums (pipeline one cycle after the reads)
        # deferred delta: corr[lane] = sum_t pg[t, lane] * P[t, pre], all T steps in one cycle
        bank = dl_ppre[:lg] if lg else Const(0, 1)
        pre_h_word = rp["pre_hidden0"].data
        pre_o_word = rp["pre_output0"].data
        for j in range(1, L):
            pre_h_word = Mux(bank == j, rp[f"pre_hidden{j}"].data, pre_h_word)
            pre_o_word = Mux(bank == j, rp[f"pre_output{j}"].data, pre_o_word)
        pre_t = [Mux(dl_layer, pre_h_word[tt * tbh:(tt + 1) * tbh],
                     pre_o_word[tt * tbo:(tt + 1) * tbo]) for tt in range(T)]
        dl_sum = [Signal(max(cbh, cbo), name=f"dl_sum{j}") for j in range(L)]
        for j in range(L):
            terms = [Mux(dl_pgw[tt * L + j], pre_t[tt], 0) for tt in range(T)]
            while len(terms) > 1:  # balanced adder tree
                terms = [terms[a] + terms[a + 1] if a + 1 < len(terms) else terms[a]
                         for a in range(0, len(terms), 2)]
            m.d.comb += dl_sum[j].eq(terms[0])
        # stage A (one cycle after the reads): register the corr sums and the old delta words,
        # so that the block-RAM output and the adder tree are not in series with the multiplier
        dl_sum_r = [Signal(max(cbh, cbo), name=f"dl_sum_r{j}") for j in range(L)]
        dl_old_r = [Signal(signed(D), name=f"dl_old_r{j}") for j in range(L)]
        dl_pv2 = Signal()
        dl_ppre2 = Signal.like(dl_pre)
        dl_g2 = Signal.like(dl_g)
        dl_layer2 = Signal()
        m.d.sync += dl_pv2.eq(0)
        with m.If(dl_pv):
            old_o = _lanes(rp["delta_output"].data, D, L, True)
            old_h = _lanes(rp["delta_hidden"].data, D, L, True)
            m.d.sync += [dl_sum_r[j].eq(dl_sum[j]) for j in range(L)]
            m.d.sync += [dl_old_r[j].eq(Mux(dl_layer, old_h[j], old_o[j])) for j in range(L)]
            m.d.sync += [dl_pv2.eq(1), dl_ppre2.eq(dl_ppre), dl_g2.eq(dl_g),
                         dl_layer2.eq(dl_layer)]
        m.d.sync += dl_pv.eq(0)
        # stage B: delta += vfb * corr.  The group's last write lands in the cycle after DW,
        # while the sequencer is already in the next group's DG (or DONE_S); dl_vfb changes
        # only at the end of DG2, and (g, layer) travel with the pipeline.
        with m.If(dl_pv2):
            new = Cat(*[(dl_old_r[j] + dl_vfb[j] * dl_sum_r[j]).as_unsigned()[:D]
                        for j in range(L)])
            with m.If(dl_layer2):
                write("delta_hidden", dl_ppre2 * HW + dl_g2, new)
            with m.Else():
                write("delta_output", dl_ppre2 * OW + dl_g2, new)

        pv_nh, pv_no, pv_err, pv_vfb, pv_uh, pv_uo = (
            Signal(name=n) for n in ("pv_nh", "pv_no", "pv_err", "pv_vfb", "pv_uh", "pv_uo"))

        def src_val_sel(lane):
            out = src_val[0]
            for j in range(1, L):
                out = Mux(lane == j, src_val[j], out)
            return out

        def engine_done():
            m.d.sync += k.eq(0)
            with m.If(src == 0):
                if rsnn:
                    with m.If(t == 0):  # B16 of the (zero) initial voltage: nothing to do
                        m.next = "F2"
                    with m.Else():
                        start_engine(1)
                else:
                    m.next = "F2"
            with m.Elif(src == 1):
                m.next = "F2"
            with m.Else():
                m.next = "F4"

        def next_group():
            with m.If(dl_g == g_words - 1):
                m.d.sync += dl_g.eq(0)
                with m.If(dl_layer == 0):
                    m.d.sync += dl_layer.eq(1)
                    m.next = "DG"
                with m.Else():
                    m.next = "DONE_S"
            with m.Else():
                m.d.sync += dl_g.eq(dl_g + 1)
                m.next = "DG"

        g_words = Mux(dl_layer, HW, OW)
        n_pre = Mux(dl_layer, I, H)

        m.d.sync += [pv_nh.eq(0), pv_no.eq(0), pv_err.eq(0), pv_vfb.eq(0), pv_uh.eq(0),
                     pv_uo.eq(0)]
        with m.FSM(name="seq"):
            with m.State("IDLE"):
                m.d.comb += idle.eq(1)
                # stream ingestion: previous trace word prefetched by in_t/in_k
                for j in range(L):
                    read(f"pre_hidden{j}", in_k)
                with m.If(self.frames.valid & self.frames.ready):
                    xs = _lanes(self.frames.payload, cfg.input_bits, L)
                    write("frames", in_t * IW + in_k, self.frames.payload)
                    for j in range(L):
                        prev = rp[f"pre_hidden{j}"].data.word_select((in_t - 1).as_unsigned(), tbh)
                        trace = (Mux(in_t == 0, 0, prev >> cfg.beta_shift) + xs[j])[:tbh]
                        write(f"pre_hidden{j}", in_k, Cat(*[trace] * T),
                              Const(1, T) << in_t)
                    m.d.sync += ing_ok.eq(0)
                    with m.If(in_k == IW - 1):
                        m.d.sync += [in_k.eq(0), in_t.eq(in_t + 1)]
                        with m.If(in_t == T - 1):
                            m.d.sync += frames_ready.eq(1)
                    with m.Else():
                        m.d.sync += in_k.eq(in_k + 1)
                # host accesses
                with m.Switch(region):
                    with m.Case(hp.REGION_COUNTS):
                        read("counts", col >> lg)
                    with m.Case(hp.REGION_W_HIDDEN):
                        a = col * HW + (row >> lg)
                        read("w_hidden", a)
                        with m.If(bus.w_en):
                            write("w_hidden", a, Cat(*[bus.w_data[:S]] * L), Const(1, L) << lane_of)
                    with m.Case(hp.REGION_W_OUTPUT):
                        a = col * OW + (row >> lg)
                        read("w_output", a)
                        with m.If(bus.w_en):
                            write("w_output", a, Cat(*[bus.w_data[:S]] * L), Const(1, L) << lane_of)
                    if rsnn:
                        with m.Case(hp.REGION_W_RECURRENT):
                            a = col * HW + (row >> lg)
                            read("w_recurrent", a)
                            with m.If(bus.w_en):
                                write("w_recurrent", a, Cat(*[bus.w_data[:Q]] * L),
                                      Const(1, L) << lane_of)
                    with m.Case(hp.REGION_CTRL):
                        with m.If(bus.w_en & (col == hp.REG_LABEL)):
                            m.d.sync += label.eq(bus.w_data)
                        with m.If(bus.w_en & (col == hp.REG_COMMAND)):
                            with m.Switch(bus.w_data[:4]):
                                with m.Case(hp.CMD_TRAIN, hp.CMD_INFER):
                                    with m.If(frames_ready):
                                        m.d.sync += [cmd_train.eq(bus.w_data[:4] == hp.CMD_TRAIN),
                                                     t.eq(0), self.busy.eq(1), done.eq(0),
                                                     cycles.eq(0)]
                                        start_engine(0)
                                        m.next = "SCAN"
                                with m.Case(hp.CMD_UPDATE):
                                    m.d.sync += [k.eq(0), self.busy.eq(1), done.eq(0),
                                                 cycles.eq(0)]
                                    m.next = "U1"
                                with m.Case(hp.CMD_CLEAR_FRAMES):
                                    m.d.sync += [in_t.eq(0), in_k.eq(0), frames_ready.eq(0)]

            # ---- F1 / F1b / F3: event-driven current accumulation
            base = Mux(src == 0, t * IW, 0)
            with m.State("SCAN"):
                # prefetch: when this cycle advances to the next word, read that word now, so
                # only the first word of a pass waits a cycle (sw_ok)
                advance = Signal()
                m.d.comb += advance.eq(sw_ok & ~ev_found & (sw != src_words - 1))
                sw_rd = Mux(advance, sw + 1, sw)
                read("frames", base + sw_rd)
                if rsnn:
                    read("b16_hidden", sw_rd)
                read("spikes_hidden", sw_rd)
                m.d.sync += sw_ok.eq(1)
                with m.If(sw_ok & ev_found):
                    m.d.sync += [ev_i.eq(sw * L + ev_lane), ev_v.eq(src_val_sel(ev_lane)),
                                 used.eq(used | (Const(1, L) << ev_lane)), dw.eq(0)]
                    m.next = "ACC"
                with m.Elif(sw_ok):
                    m.d.sync += used.eq(0)
                    with m.If(sw == src_words - 1):
                        engine_done()
                    with m.Else():
                        m.d.sync += sw.eq(sw + 1)
            with m.State("ACC"):
                read("frames", base + sw)
                if rsnn:
                    read("b16_hidden", sw)
                    read("w_recurrent", ev_i * HW + dw)
                read("spikes_hidden", sw)
                read("w_hidden", ev_i * HW + dw)
                read("w_output", ev_i * OW + dw)
                read("acc_hidden", dw)
                read("acc_output", dw)
                m.d.sync += [p_valid.eq(1), p_dw.eq(dw), p_v.eq(ev_v), p_src.eq(src)]
                with m.If(dw == dst_words - 1):
                    m.d.sync += dw.eq(0)
                    with m.If(ev_found):
                        m.d.sync += [ev_i.eq(sw * L + ev_lane), ev_v.eq(src_val_sel(ev_lane)),
                                     used.eq(used | (Const(1, L) << ev_lane))]
                    with m.Else():
                        m.next = "SCAN"
                with m.Else():
                    m.d.sync += dw.eq(dw + 1)

            # ---- F2: hidden neuron pass (HW words)
            with m.State("F2"):
                read("acc_hidden", k)
                for j in range(L):
                    read(f"pre_output{j}", k)
                m.d.sync += [pv_nh.eq(1), p_k.eq(k)]
                with m.If(k == HW - 1):
                    m.d.sync += k.eq(0)
                    m.next = "F2W"
                with m.Else():
                    m.d.sync += k.eq(k + 1)
            with m.State("F2W"):
                start_engine(2)
                m.next = "SCAN"

            # ---- F4: output neuron pass (OW words)
            with m.State("F4"):
                read("acc_output", k)
                read("counts", k)
                m.d.sync += [pv_no.eq(1), p_k.eq(k)]
                with m.If(k == OW - 1):
                    m.d.sync += k.eq(0)
                    m.next = "F4W"
                with m.Else():
                    m.d.sync += k.eq(k + 1)
            with m.State("F4W"):
                with m.If(t == T - 1):
                    m.d.sync += [k.eq(0), best.eq(0), best_found.eq(0)]
                    m.next = "E1"
                with m.Else():
                    m.d.sync += t.eq(t + 1)
                    start_engine(0)
                    m.next = "SCAN"

            # ---- E1: error + argmax (OW words)
            with m.State("E1"):
                read("counts", k)
                m.d.sync += [pv_err.eq(1), p_k.eq(k)]
                with m.If(k == OW - 1):
                    m.d.sync += k.eq(0)
                    m.next = "E1W"
                with m.Else():
                    m.d.sync += k.eq(k + 1)
            with m.State("E1W"):
                with m.If(cmd_train):
                    m.d.sync += [k.eq(0), k2.eq(0)]
                    m.next = "E2"
                with m.Else():
                    m.next = "DONE_S"

            # ---- E2: vfb_hidden[h] = sum_o B_Q(W_out[o,h]) e[o]  (H * OW cycles)
            with m.State("E2"):
                read("w_output", k * OW + k2)
                read("error", k2)
                m.d.sync += [pv_vfb.eq(1), p_k.eq(k), p_k2.eq(k2)]
                with m.If(k2 == OW - 1):
                    m.d.sync += k2.eq(0)
                    with m.If(k == H - 1):
                        m.d.sync += k.eq(0)
                        m.next = "E2W"
                    with m.Else():
                        m.d.sync += k.eq(k + 1)
                with m.Else():
                    m.d.sync += k2.eq(k2 + 1)
            with m.State("E2W"):
                m.d.sync += [dl_layer.eq(0), dl_g.eq(0)]
                m.next = "DG"

            # ---- E3 (layer 0: output) / E4 (layer 1: hidden): deferred delta accumulation
            with m.State("DG"):
                read("pg_output", dl_g)
                read("pg_hidden", dl_g)
                read("error", dl_g)
                read("vfb_hidden", dl_g)
                m.next = "DG2"
            with m.State("DG2"):
                pgw = Mux(dl_layer, rp["pg_hidden"].data, rp["pg_output"].data)
                e_l = _lanes(rp["error"].data, eb, L, True)
                v_l = _lanes(rp["vfb_hidden"].data, vfbb, L, True)
                vz = Signal()
                m.d.comb += vz.eq(Mux(dl_layer, rp["vfb_hidden"].data == 0,
                                      rp["error"].data == 0))
                m.d.sync += [dl_pgw.eq(pgw), dl_pre.eq(0)]
                m.d.sync += [dl_vfb[j].eq(Mux(dl_layer, v_l[j], e_l[j])) for j in range(L)]
                with m.If((pgw == 0) | vz):
                    next_group()
                with m.Else():
                    m.next = "DL"
            with m.State("DL"):
                # one presynaptic index per cycle: read its trace word and the delta word
                read("delta_output", dl_pre * OW + dl_g)
                read("delta_hidden", dl_pre * HW + dl_g)
                for j in range(L):
                    read(f"pre_output{j}", dl_pre >> lg)
                    read(f"pre_hidden{j}", dl_pre >> lg)
                m.d.sync += [dl_pv.eq(1), dl_ppre.eq(dl_pre)]
                with m.If(dl_pre == n_pre - 1):
                    m.next = "DW"
                with m.Else():
                    m.d.sync += dl_pre.eq(dl_pre + 1)
            with m.State("DW"):  # the last write of the group happens here
                next_group()

            # ---- U1 / U2: batch update, one word per cycle; deltas cleared
            with m.State("U1"):
                read("w_hidden", k)
                read("delta_hidden", k)
                m.d.sync += [pv_uh.eq(1), p_k.eq(k)]
                with m.If(k == I * HW - 1):
                    m.d.sync += k.eq(0)
                    m.next = "U2"
                with m.Else():
                    m.d.sync += k.eq(k + 1)
            with m.State("U2"):
                read("w_output", k)
                read("delta_output", k)
                m.d.sync += [pv_uo.eq(1), p_k.eq(k)]
                with m.If(k == H * OW - 1):
                    m.d.sync += k.eq(0)
                    m.next = "UW"
                with m.Else():
                    m.d.sync += k.eq(k + 1)
            with m.State("UW"):  # drain: the last weight is written while in DONE_U
                m.next = "DONE_U"

            with m.State("DONE_S"):
                m.d.sync += [self.busy.eq(0), done.eq(1), frames_ready.eq(0), in_t.eq(0),
                             in_k.eq(0)]
                with m.If(cmd_train):
                    m.d.sync += samples.eq(samples + 1)
                m.next = "IDLE"
            with m.State("DONE_U"):
                m.d.sync += [self.busy.eq(0), done.eq(1), samples.eq(0)]
                m.next = "IDLE"

        # ------------------------------------------------------------ execute stages
        last = t == T - 1
        with m.If(pv_nh):
            # padding lanes (h >= n_hidden) have V = 0 and may sit in the window: mask them
            pg = Cat(*[nh[j].pg & (p_k * L + j < H) for j in range(L)])
            sp = Cat(*[nh[j].spike for j in range(L)])
            for j in range(L):
                m.d.comb += [nh[j].acc.eq(acch_l[j]), nh[j].last.eq(last)]
            write("acc_hidden", p_k, Cat(*[nh[j].acc_next.as_unsigned() for j in range(L)]))
            if rsnn:
                write("b16_hidden", p_k, Cat(*[nh[j].q.as_unsigned() for j in range(L)]))
            write("pg_hidden", p_k, Cat(*[pg] * T), Const(1, T) << t)
            write("spikes_hidden", p_k, sp)
            for j in range(L):
                prev = rp[f"pre_output{j}"].data.word_select((t - 1).as_unsigned(), tbo)
                tr = (Mux(t == 0, 0, prev >> cfg.beta_shift) + sp[j])[:tbo]
                write(f"pre_output{j}", p_k, Cat(*[tr] * T), Const(1, T) << t)
        with m.If(pv_no):
            cnt = _lanes(rp["counts"].data, cb, L)
            pg = Cat(*[no[j].pg & (p_k * L + j < O) for j in range(L)])
            for j in range(L):
                m.d.comb += [no[j].acc.eq(acco_l[j]), no[j].last.eq(last)]
            write("acc_output", p_k, Cat(*[no[j].acc_next.as_unsigned() for j in range(L)]))
            write("pg_output", p_k, Cat(*[pg] * T), Const(1, T) << t)
            write("counts", p_k, Cat(*[(Mux(t == 0, 0, cnt[j]) + no[j].spike)[:cb]
                                       for j in range(L)]))
        with m.If(pv_err):
            cnt = _lanes(rp["counts"].data, cb, L)
            b, f, pr = best, best_found, prediction
            for j in range(L):
                o = p_k * L + j
                valid = o < O
                m.d.comb += [eu[j].count.eq(cnt[j]), eu[j].is_label.eq(o == label),
                             eu[j].valid.eq(valid)]
                take = valid & (~f | (cnt[j] > b))
                b, f, pr = Mux(take, cnt[j], b), f | valid, Mux(take, o, pr)
            m.d.sync += [best.eq(b), best_found.eq(f), prediction.eq(pr)]
            write("error", p_k, Cat(*[eu[j].e.as_unsigned() for j in range(L)]))
        with m.If(pv_vfb):
            e_l = _lanes(rp["error"].data, eb, L, True)
            dot = wo_q[0] * e_l[0]
            for j in range(1, L):
                dot = dot + wo_q[j] * e_l[j]
            total = Mux(p_k2 == 0, 0, vfb_acc) + dot
            m.d.sync += vfb_acc.eq(total)
            with m.If(p_k2 == OW - 1):
                write("vfb_hidden", p_k >> lg, Cat(*[total[:vfbb]] * L),
                      Const(1, L) << (p_k[:lg] if lg else 0))
        # UPDATE pipeline.  Stage A registers the weight and delta words read the cycle before,
        # so that the block-RAM outputs (and their depth multiplexers) are not in series with
        # the update arithmetic; stage B computes eqs. 3.18/3.27 and writes.
        u_w = Signal(L * S)
        u_d = Signal(L * D)
        u_k = Signal.like(p_k)
        u_h, u_o = Signal(), Signal()
        m.d.sync += [u_h.eq(0), u_o.eq(0)]
        with m.If(pv_uh):
            m.d.sync += [u_w.eq(rp["w_hidden"].data), u_d.eq(rp["delta_hidden"].data),
                         u_k.eq(p_k), u_h.eq(1)]
        with m.If(pv_uo):
            m.d.sync += [u_w.eq(rp["w_output"].data), u_d.eq(rp["delta_output"].data),
                         u_k.eq(p_k), u_o.eq(1)]
        wl, dl = _lanes(u_w, S, L, True), _lanes(u_d, D, L, True)
        for j in range(L):
            m.d.comb += [uh[j].w.eq(wl[j]), uh[j].delta.eq(dl[j]),
                         uo[j].w.eq(wl[j]), uo[j].delta.eq(dl[j])]
        with m.If(u_h):
            write("w_hidden", u_k, Cat(*[uh[j].w_new.as_unsigned() for j in range(L)]))
            write("delta_hidden", u_k, 0)
        with m.If(u_o):
            write("w_output", u_k, Cat(*[uo[j].w_new.as_unsigned() for j in range(L)]))
            write("delta_output", u_k, 0)
        return m
