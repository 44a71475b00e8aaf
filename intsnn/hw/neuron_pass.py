"""Neuron pass: one LIF step of every neuron of a layer, ``lanes`` neurons per cycle.

For each word ``k`` of the layer: read the accumulator ``(V_s(t-1) >> beta) + currents`` (and the
trace or count word); the next cycle registers the read data; the one after registers what the
``lanes`` :class:`~intsnn.hw.units.NeuronUnit`\\ s give: the spike (eq. 2.2 on V saturated by
eq. 3.2), the pseudo-gradient (eq. 3.3) and the next accumulator ``V_s(t) >> beta`` after the hard
reset (0 at the last step, so the next sample starts clean); the third cycle
(:attr:`~intsnn.hw.config.HwConfig.NEURON_LATENCY` = 3 after the read) writes back, with:

* hidden layer: the spikes of the step (the next event pass reads them), slot ``t`` of the
  pseudo-gradient history, slot ``t`` of the hidden-spike trace history (eq. 3.4:
  ``P(t) = P(t-1) >> beta + s(t)``), and, for the RSNN, ``B16 = V >> rec_shift`` (eq. 3.23);
* output layer: slot ``t`` of the pseudo-gradient history and the spike counts.

Padding lanes of the last word (``n % lanes`` != 0) have no loaded weights: their spikes,
pseudo-gradients, B16 and next accumulators are forced to 0.
Golden twin: :func:`intsnn.golden.reference.forward`
(one step of it), lane by lane the ``ops`` functions of :class:`~intsnn.hw.units.NeuronUnit`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib.wiring import In

from .lanes import pack, replicate_slots, slot_of_lane
from .config import check_config
from .ram import MemoryClient
from .units import NeuronUnit, check_layer
from .walk import ControlSignature, WordWalker, zero_enables

__all__ = ["NeuronPass"]


class NeuronPass(MemoryClient):
    """The neuron pass of one layer (``HW`` or ``OW`` words, then a drain cycle).

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`
    layer : ``"hidden"`` or ``"output"``

    Members
    -------
    control : ``In(ControlSignature())``
    t : ``In(range(T))``, the time step (its slot in the histories; the last one resets).
    acc_r, acc_w : the layer's accumulators.  pg_w : its pseudo-gradient history.
    Hidden: spikes_w, trace_r, trace_w (hidden-spike trace history), b16_w (RSNN).
    Output: counts_r, counts_w.
    """

    def __init__(self, *, config, layer):
        config = check_config(config)
        self._layer = check_layer(layer)
        ports = {"acc_r": (f"acc_{layer}", "r"), "acc_w": (f"acc_{layer}", "w"),
                 "pg_w": (f"pg_{layer}", "w")}
        if layer == "hidden":
            ports.update(spikes_w=("spikes_hidden", "w"), trace_r=("trace_output", "r"),
                         trace_w=("trace_output", "w"))
            if config.net.arch == "rsnn":
                ports["b16_w"] = ("b16_hidden", "w")
        else:
            ports.update(counts_r=("counts", "r"), counts_w=("counts", "w"))
        super().__init__(config=config, ports=ports, members={
            "control": In(ControlSignature()), "t": In(range(config.net.timesteps))})

    @property
    def layer(self) -> str:
        return self._layer

    def elaborate(self, platform):
        m = Module()
        hw, cfg = self.config, self.config.net
        L, T = hw.lanes, cfg.timesteps
        hidden = self._layer == "hidden"
        n = cfg.n_hidden if hidden else cfg.n_out
        count = hw.HW if hidden else hw.OW

        m.submodules.walk = walk = WordWalker(count=count, drain=hw.NEURON_LATENCY)
        m.d.comb += [walk.start.eq(self.control.start), self.control.done.eq(walk.done)]
        units = [NeuronUnit(net=cfg, layer=self._layer) for _ in range(L)]
        for j, u in enumerate(units):
            m.submodules[f"lane{j}"] = u

        zero_enables(m, *self.port_list("w"))
        for r in self.port_list("r"):
            m.d.comb += [r.en.eq(walk.active), r.addr.eq(walk.k)]

        # pipeline: s1 = the read data registered, s2 = the units' results registered, s3 writes
        # (NEURON_LATENCY = 3 cycles after the read; every word once per pass: no hazard)
        assert hw.NEURON_LATENCY == 3
        v1, v2, valid = Signal(), Signal(), Signal()
        k1, k2, k = Signal.like(walk.k), Signal.like(walk.k), Signal.like(walk.k)
        m.d.sync += [v1.eq(walk.active), k1.eq(walk.k), v2.eq(v1), k2.eq(k1),
                     valid.eq(v2), k.eq(k2)]

        def delayed(value, name):  # a read word, two cycles later
            a, b = Signal.like(value, name=f"{name}_s1"), Signal.like(value, name=f"{name}_s2")
            m.d.sync += [a.eq(value), b.eq(a)]
            return b

        first, last = self.t == 0, self.t == T - 1
        prev_t = (self.t - 1)[:len(self.t)]
        slot = Const(1, T) << self.t
        last_word = k == count - 1
        acc1 = Signal.like(self.acc_r.data, name="acc_s1")
        m.d.sync += acc1.eq(self.acc_r.data)
        for j, u in enumerate(units):
            m.d.comb += [u.acc.eq(acc1[j]), u.last.eq(last)]
        # padding lanes (index >= n) of the last word: their weights are never loaded, so their
        # accumulators hold anything; nothing of theirs may leave the pass
        real = [~last_word if hw.padding_lane(n, j) else Const(1) for j in range(L)]
        pg2, spikes2 = Signal(L), Signal(L)
        acc_next2 = [Signal.like(u.acc_next, name=f"acc_next_s2_{j}") for j, u in enumerate(units)]
        q2 = [Signal.like(u.q, name=f"q_s2_{j}") for j, u in enumerate(units)]
        m.d.sync += [pg2.eq(Cat(u.pg for u in units)), spikes2.eq(Cat(u.spike for u in units))]
        m.d.sync += [a.eq(u.acc_next) for a, u in zip(acc_next2, units)]
        m.d.sync += [a.eq(u.q) for a, u in zip(q2, units)]
        pg, spikes = Signal(L), Signal(L)   # signals: each is used by several writes
        m.d.comb += [pg.eq(pg2 & Cat(real)), spikes.eq(spikes2 & Cat(real))]

        acc_next = pack(m, [Mux(real[j], acc_next2[j], 0) for j in range(L)],
                        self.acc_w.data.shape().elem_shape, "acc_next")
        # registered every cycle (outside the write condition)
        if hidden:
            trace_r = delayed(self.trace_r.data, "trace")
        else:
            counts_r = delayed(self.counts_r.data, "counts")
        with m.If(valid):
            m.d.comb += [self.acc_w.en.eq(1), self.acc_w.addr.eq(k), self.acc_w.data.eq(acc_next),
                         self.pg_w.en.eq(slot), self.pg_w.addr.eq(k),
                         self.pg_w.data.eq(replicate_slots(pg, T))]
            if hidden:
                # eq. 3.4 on the hidden spikes: P(t) = P(t-1) >> beta + s(t)
                trace = pack(m, [Mux(first, 0, slot_of_lane(trace_r, prev_t, j)
                                     >> cfg.beta_shift) + spikes[j] for j in range(L)],
                             self.trace_w.data.shape().elem_shape.elem_shape, "trace")
                m.d.comb += [self.spikes_w.en.eq(1), self.spikes_w.addr.eq(k),
                             self.spikes_w.data.eq(spikes),
                             self.trace_w.en.eq(slot), self.trace_w.addr.eq(k),
                             self.trace_w.data.eq(replicate_slots(trace, T))]
                if cfg.arch == "rsnn":
                    q = pack(m, [Mux(real[j], q2[j], 0) for j in range(L)],
                             self.b16_w.data.shape().elem_shape, "b16")
                    m.d.comb += [self.b16_w.en.eq(1), self.b16_w.addr.eq(k),
                                 self.b16_w.data.eq(q)]
            else:
                counts = pack(m, [Mux(first, 0, counts_r[j]) + spikes[j]
                                  for j in range(L)], self.counts_w.data.shape().elem_shape,
                              "count")
                m.d.comb += [self.counts_w.en.eq(1), self.counts_w.addr.eq(k),
                             self.counts_w.data.eq(counts)]
        return m
