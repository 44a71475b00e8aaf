"""Update engine: the batch weight update (eqs. 3.18, 3.27), and clearing the deltas.

UPDATE walks the hidden weight memory (``n_in * HW`` words; the CSNN's kernel: ``k*k * FW``)
and then the output weight memory (``n_hidden * OW`` words), one word per cycle: read the
weight and delta words; register them (so the block-RAM outputs are not in series with the
arithmetic); the ``lanes`` registered :class:`~intsnn.hw.units.UpdateUnit`\\ s give
``sat_S(W - step(Delta) - (W >> wd))`` one cycle later (the clipped step is registered between
the wide shift-and-clip and the saturating subtraction), written back with a zero delta
(:attr:`~intsnn.hw.config.HwConfig.UPDATE_LATENCY` = 5: the weight and delta memories are deep
and read with latency 2, banked with registered bank outputs, ``intsnn.hw.ram``; the new weight
is registered before it is written).

With ``clear`` (sampled with ``start``) it only writes the zero deltas and reads nothing, so the
host may load weights meanwhile: the core does this after reset, which is why the delta
memories need no initial values.

Golden twin: :func:`intsnn.golden.reference.apply_update` (``ops.weight_update`` per layer).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In

from .config import check_config
from .lanes import pack
from .ram import MemoryClient
from .units import UpdateUnit
from .walk import ControlSignature, WordWalker, zero_enables

__all__ = ["UpdateEngine"]


class UpdateEngine(MemoryClient):
    """Batch update of both trained layers (or delta clear).

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`

    Members
    -------
    control : ``In(ControlSignature())``; ``clear`` (In) is sampled with ``start``.
    w_hidden_r/_w, delta_hidden_r/_w, w_output_r/_w, delta_output_r/_w : the memories.
    """

    def __init__(self, *, config):
        config = check_config(config)
        ports = {}
        for name in ("w_hidden", "delta_hidden", "w_output", "delta_output"):
            ports[f"{name}_r"] = (name, "r")
            ports[f"{name}_w"] = (name, "w")
        # every memory it reads is deep: read latency 2 (banked, registered bank outputs)
        super().__init__(config=config, ports=ports, members={
            "control": In(ControlSignature()), "clear": In(1)},
            latency={n: 2 for n, (_, k) in ports.items() if k == "r"})

    def elaborate(self, platform):
        m = Module()
        hw, cfg = self.config, self.config.net
        L = hw.lanes
        zero_enables(m, *self.port_list("r"), *self.port_list("w"))
        clear = Signal()
        with m.If(self.control.start):
            m.d.sync += clear.eq(self.clear)

        # the hidden layer's walk, then the output layer's; the drain overlaps the
        # sequencer's last cycle, in which the final write lands
        m.submodules.walk_h = walk_h = WordWalker(count=hw.w_hidden_words)
        m.submodules.walk_o = walk_o = WordWalker(count=cfg.n_hidden * hw.OW,
                                                  drain=hw.UPDATE_LATENCY - 1)
        m.d.comb += [walk_h.start.eq(self.control.start), walk_o.start.eq(walk_h.done),
                     self.control.done.eq(walk_o.done)]
        layers = (("hidden", walk_h), ("output", walk_o))
        for name, walk in layers:
            for kind in ("w", "delta"):
                port = getattr(self, f"{kind}_{name}_r")
                m.d.comb += [port.en.eq(walk.active & ~clear), port.addr.eq(walk.k)]

        # (read latency 2) stage A: register the words read two cycles before; stage B: the
        # UpdateUnits' shifted and clipped step registered (UpdateUnit.latency = 1); stage C:
        # saturating subtract, registered; stage D: write (UPDATE_LATENCY = 5 after the read)
        assert hw.UPDATE_LATENCY == 5
        k = Signal(range(max(2, hw.update_words)))
        c_k = Signal.like(k)
        m.d.sync += c_k.eq(k)
        w_word = Signal.like(self.w_hidden_r.data)
        dbits = max(hw.delta_hidden_bits, hw.delta_output_bits)   # per-layer memory widths
        d_word = Signal(data.ArrayLayout(signed(dbits), L))
        for name, walk in layers:
            unit = [UpdateUnit(net=cfg, layer=name, registered=True) for _ in range(L)]
            r_valid, a_valid, b_valid, c_valid = Signal(), Signal(), Signal(), Signal()
            r_k, a_k = Signal.like(walk.k), Signal.like(walk.k)
            m.d.sync += [r_valid.eq(walk.active), r_k.eq(walk.k), a_valid.eq(r_valid),
                         a_k.eq(r_k), b_valid.eq(0), c_valid.eq(b_valid)]
            # the layer's delta lanes, sign-extended to the wider layer's width
            d_read = pack(m, [getattr(self, f"delta_{name}_r").data[j] for j in range(L)],
                          signed(dbits), f"delta_{name}")
            with m.If(a_valid):
                m.d.sync += [w_word.eq(getattr(self, f"w_{name}_r").data),
                             d_word.eq(d_read),
                             k.eq(a_k), b_valid.eq(1)]
            w_port, d_port = getattr(self, f"w_{name}_w"), getattr(self, f"delta_{name}_w")
            for j, u in enumerate(unit):
                m.submodules[f"{name}{j}"] = u
                m.d.comb += [u.w.eq(w_word[j]), u.delta.eq(d_word[j])]
            # stage D: the new weights registered, then written (the route to the deep
            # memory's blocks is a cycle of its own)
            d_valid, d_k = Signal(), Signal.like(k)
            w_new = Signal(len(w_port.data.as_value()), name=f"w_new_{name}")
            m.d.sync += [d_valid.eq(c_valid), d_k.eq(c_k),
                         w_new.eq(Cat(u.w_new for u in unit))]
            with m.If(d_valid):
                m.d.comb += [d_port.en.eq(1), d_port.addr.eq(d_k), d_port.data.eq(0),
                             w_port.en.eq(Mux(clear, 0, (1 << L) - 1)), w_port.addr.eq(d_k),
                             w_port.data.eq(w_new)]
        return m
