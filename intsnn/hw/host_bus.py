"""Host bus: the control/status registers and the host's window on the weights and counts.

The protocol (addresses, registers, commands, timing) is :mod:`intsnn.hw.host_protocol`.  The bus
is registered on entry (stage 1: decode, COMMAND, LABEL) and the memory word address is computed
into a second register (stage 2: the access), so no path runs from the core's input pins, or
through the ``col * stride`` address product, into a block RAM.  A write lands
:data:`~intsnn.hw.host_protocol.WRITE_LATENCY` cycles after ``w_en``; a read is answered
:data:`~intsnn.hw.host_protocol.READ_LATENCY` cycles after ``r_en`` (``r_valid``), and reads and
writes may be issued back to back (they stay in order).  Registers are readable at any time,
memories (weights, counts) and LABEL only while ``enable`` (the core is idle, or clearing its
deltas after reset).  A COMMAND write is passed to the sequencer as a one-cycle ``command`` strobe
one cycle after ``w_en``; the sequencer ignores it unless idle.

A weight word holds ``lanes`` neurons (``[col][row-word]``): a write replicates the value into
every lane and enables lane ``row % lanes`` only; a read returns lane ``row % lanes`` of the
word, sign-extended.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import host_protocol as hp
from .config import check_config
from .ram import MemoryClient
from .walk import zero_enables

__all__ = ["BusSignature", "HostBus"]


class BusSignature(wiring.Signature):
    """Synchronous memory-mapped bus, from the host's side (see :mod:`.host_protocol`)."""

    def __init__(self):
        super().__init__({
            "addr": Out(hp.ADDR_BITS), "w_data": Out(hp.DATA_BITS), "w_en": Out(1),
            "r_en": Out(1), "r_data": In(hp.DATA_BITS), "r_valid": In(1),
        })


class HostBus(MemoryClient):
    """Register file and address decoder.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`

    Members
    -------
    bus : ``In(BusSignature())``.
    enable : In, memories and LABEL are accessible.
    busy, done, frames_ready, prediction, cycles, samples : In, register values.
    stream_errors : In(2), the frame ingest's short / long sample bits (STATUS bits 3, 4).
    update_done : In, an UPDATE finished (UPDATES counts up).
    label : Out, the LABEL register.  seed : Out(64), SEED_HI:SEED_LO.  updates : Out(32),
    the UPDATES register.  command_valid : Out, a COMMAND write this cycle;
    command : Out(4), its code.
    counts_r, w_hidden_r/_w, w_output_r/_w, w_recurrent_r/_w (RSNN): the memories.
    """

    def __init__(self, *, config):
        config = check_config(config)
        cfg = config.net
        ports = {"counts_r": ("counts", "r")}
        regions = ["w_hidden", "w_output"] + (["w_recurrent"] if cfg.arch == "rsnn" else [])
        for name in regions:
            ports[f"{name}_r"] = (name, "r")
            ports[f"{name}_w"] = (name, "w")
        o = range(max(2, cfg.n_out))
        super().__init__(config=config, ports=ports, members={
            "bus": In(BusSignature()), "enable": In(1),
            "busy": In(1), "done": In(1), "frames_ready": In(1), "stream_errors": In(2),
            "prediction": In(o),
            "cycles": In(32), "samples": In(32), "update_done": In(1),
            "label": Out(o), "command_valid": Out(1), "command": Out(4),
            "seed": Out(64), "updates": Out(32)})

    def elaborate(self, platform):
        m = Module()
        hw, cfg = self.config, self.config.net
        L, lg = hw.lanes, hw.lane_bits
        zero_enables(m, *self.port_list("r"), *self.port_list("w"))
        weights = {hp.REGION_W_HIDDEN: ("w_hidden", hw.FW, cfg.shadow_bits),   # FW = HW (dense)
                   hp.REGION_W_OUTPUT: ("w_output", hw.OW, cfg.shadow_bits)}
        if cfg.arch == "rsnn":
            weights[hp.REGION_W_RECURRENT] = ("w_recurrent", hw.HW, cfg.inference_bits)

        # stage 1: the bus, registered
        addr, w_data = Signal(hp.ADDR_BITS), Signal(hp.DATA_BITS)
        w_en, r_en = Signal(), Signal()
        m.d.sync += [addr.eq(self.bus.addr), w_data.eq(self.bus.w_data),
                     w_en.eq(self.bus.w_en), r_en.eq(self.bus.r_en)]
        region = addr[hp.REGION_SHIFT:]
        row = addr[hp.ROW_SHIFT:hp.REGION_SHIFT]
        col = addr[:hp.COL_BITS]
        row_lane = row[:lg] if lg else Const(0, 1)
        col_lane = col[:lg] if lg else Const(0, 1)

        # COMMAND strobe; LABEL, SEED and UPDATES only while enabled
        ctrl_write = w_en & (region == hp.REGION_CTRL)
        m.d.comb += [self.command_valid.eq(ctrl_write & (col == hp.REG_COMMAND)),
                     self.command.eq(w_data[:4])]
        with m.If(self.update_done):
            m.d.sync += self.updates.eq(self.updates + 1)
        with m.If(self.enable):
            with m.If(ctrl_write & (col == hp.REG_LABEL)):
                m.d.sync += self.label.eq(w_data)
            with m.If(ctrl_write & (col == hp.REG_SEED_LO)):
                m.d.sync += self.seed[:32].eq(w_data)
            with m.If(ctrl_write & (col == hp.REG_SEED_HI)):
                m.d.sync += self.seed[32:].eq(w_data)
            with m.If(ctrl_write & (col == hp.REG_UPDATES)):
                m.d.sync += self.updates.eq(w_data)

        # stage 2: the memory access, from registers (word address = col * stride + row / P)
        depth = max(max(hw.memories[name].depth for name, _, _ in weights.values()),
                    hw.memories["counts"].depth)
        region2, col2 = Signal(4), Signal(hp.COL_BITS)
        word2, lane2 = Signal(range(depth)), Signal(range(max(2, L)))
        w2, r2, data2 = Signal(), Signal(), Signal(hp.DATA_BITS)
        word = Mux(region == hp.REGION_COUNTS, col >> lg, row >> lg)
        for reg, (_, stride, _) in weights.items():
            word = Mux(region == reg, col * stride + (row >> lg), word)
        m.d.sync += [region2.eq(region), col2.eq(col), word2.eq(word), w2.eq(w_en),
                     r2.eq(r_en), data2.eq(w_data),
                     lane2.eq(Mux(region == hp.REGION_COUNTS, col_lane, row_lane))]
        with m.If(self.enable):
            with m.Switch(region2):
                with m.Case(hp.REGION_COUNTS):
                    m.d.comb += [self.counts_r.en.eq(r2), self.counts_r.addr.eq(word2)]
                for reg, (name, _, bits) in weights.items():
                    rd, wr = getattr(self, f"{name}_r"), getattr(self, f"{name}_w")
                    with m.Case(reg):
                        m.d.comb += [rd.en.eq(r2), rd.addr.eq(word2),
                                     wr.en.eq(Mux(w2, Const(1, L) << lane2, 0)),
                                     wr.addr.eq(word2), wr.data.eq(Cat(*[data2[:bits]] * L))]

        # stage 3: the read data, one cycle after the access
        r_region, r_reg, r_lane = Signal(4), Signal(hp.COL_BITS), Signal(range(max(2, L)))
        m.d.sync += [self.bus.r_valid.eq(r2), r_region.eq(region2), r_reg.eq(col2),
                     r_lane.eq(lane2)]
        registers = {hp.REG_STATUS: Cat(self.busy, self.done, self.frames_ready,
                                        self.stream_errors),
                     hp.REG_LABEL: self.label, hp.REG_PREDICTION: self.prediction,
                     hp.REG_CYCLES: self.cycles, hp.REG_SAMPLES: self.samples,
                     hp.REG_SEED_LO: self.seed[:32], hp.REG_SEED_HI: self.seed[32:],
                     hp.REG_UPDATES: self.updates}
        with m.Switch(r_region):
            with m.Case(hp.REGION_CTRL):
                with m.Switch(r_reg):
                    for reg, value in registers.items():
                        with m.Case(reg):
                            m.d.comb += self.bus.r_data.eq(value)
            with m.Case(hp.REGION_COUNTS):
                m.d.comb += self.bus.r_data.eq(self.counts_r.data[r_lane])
            for reg, (name, _, _) in weights.items():
                with m.Case(reg):
                    # a signed lane, sign-extended to the bus width
                    m.d.comb += self.bus.r_data.eq(getattr(self, f"{name}_r").data[r_lane])
        assert hp.READ_LATENCY == 3 and hp.WRITE_LATENCY == 2
        return m
