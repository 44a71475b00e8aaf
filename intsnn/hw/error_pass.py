"""Error pass: the output error (eq. 3.6) and the prediction (argmax of the counts).

For each output word: read the spike counts; one cycle later
(:attr:`~intsnn.hw.config.HwConfig.ERROR_LATENCY`) the ``lanes``
:class:`~intsnn.hw.units.ErrorUnit`\\ s give ``e = (count * alpha) >> floor(log2 T) -
[o == label] * alpha`` (the Direct mode's ``v_fb_out``), written to ``error``, and a balanced
argmax tree (:func:`~intsnn.hw.trees.argmax_tree`) folds the word into the running maximum:
strictly greater wins, so the lowest index wins ties, as ``numpy.argmax`` in the golden model.

Golden twin: ``ops.prediction_error`` (standard loss) and ``argmax(counts)``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib.wiring import In, Out

from .config import check_config
from .ram import MemoryClient
from .trees import argmax_tree
from .units import ErrorUnit
from .walk import ControlSignature, WordWalker, zero_enables

__all__ = ["ErrorPass"]


class ErrorPass(MemoryClient):
    """Error and argmax over the ``OW`` count words.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`

    Members
    -------
    control : ``In(ControlSignature())``.
    label : In, the sample's label.  prediction : Out, the argmax (valid after ``done``).
    counts_r, error_w : the memories.
    """

    def __init__(self, *, config):
        config = check_config(config)
        o = range(max(2, config.net.n_out))
        super().__init__(config=config, ports={"counts_r": ("counts", "r"),
                                               "error_w": ("error", "w")},
                         members={"control": In(ControlSignature()), "label": In(o),
                                  "prediction": Out(o)})

    def elaborate(self, platform):
        m = Module()
        hw, cfg = self.config, self.config.net
        L, lg, O = hw.lanes, hw.lane_bits, cfg.n_out
        m.submodules.walk = walk = WordWalker(count=hw.OW, drain=hw.ERROR_LATENCY)
        m.d.comb += [walk.start.eq(self.control.start), self.control.done.eq(walk.done)]
        zero_enables(m, self.error_w)
        m.d.comb += [self.counts_r.en.eq(walk.active), self.counts_r.addr.eq(walk.k)]

        valid, k = Signal(), Signal.like(walk.k)
        m.d.sync += [valid.eq(walk.active), k.eq(walk.k)]
        last_word = k == hw.OW - 1
        leaves, units = [], []
        for j in range(L):
            m.submodules[f"lane{j}"] = u = ErrorUnit(net=cfg)
            units.append(u)
            o = Cat(Const(j, lg), k) if lg else k       # output index k*L + j
            real = ~last_word if O % L and j >= O % L else Const(1)   # not a padding lane
            count = self.counts_r.data[j]
            m.d.comb += [u.count.eq(count), u.is_label.eq(o == self.label), u.valid.eq(real)]
            leaves.append((real, count, o))
        word_found, word_best, word_index = argmax_tree(m, leaves, "argmax")

        # running maximum over the words so far (the earlier words win ties)
        found, best = Signal(), Signal.like(word_best)
        f, b, p = argmax_tree(m, [(found, best, self.prediction),
                                  (word_found, word_best, word_index)], "running")
        with m.If(self.control.start):
            m.d.sync += found.eq(0)
        with m.If(valid):
            m.d.sync += [found.eq(f), best.eq(b), self.prediction.eq(p)]
            m.d.comb += [self.error_w.en.eq(1), self.error_w.addr.eq(k),
                         self.error_w.data.eq(Cat(u.e for u in units))]
        return m
