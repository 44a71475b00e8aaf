"""Error pass: the output feedback voltage ``v_fb_out`` (eqs. 3.6-3.14) and the prediction.

For each output word: read the spike counts (and the word's random-loss noise, and in Feedback
mode the error neurons' state); one cycle later (:attr:`~intsnn.hw.config.HwConfig.
ERROR_LATENCY`) the ``lanes`` :class:`~intsnn.hw.units.ErrorUnit`\\ s give the loss's
``e = (count * alpha) >> floor(log2 T) - [o == label] * alpha`` (zero entries replaced for the
positive and random losses), and ``v_fb_out`` is written to ``error``:

* Direct: ``e`` (eq. 3.15);
* Final: ``s+ - s-`` of the error neurons after one step from rest driven by ``e``
  (:class:`~intsnn.hw.units.ErrorNeuronUnit` with ``first``; eqs. 3.9-3.14);
* Feedback: the spikes the error neurons integrated during the sample (the ``vfb`` field of
  ``error_neurons``, :mod:`.error_neurons`; 0 when ``soft_error_start >= T``).

A balanced argmax tree (:func:`~intsnn.hw.trees.argmax_tree`) folds the word into the running
maximum: strictly greater wins, so the lowest index wins ties, as ``numpy.argmax`` in the golden
model.

Golden twin: :func:`intsnn.golden.reference.error_signals` (``v_fb_out``) and
``argmax(counts)``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, signed
from amaranth.lib.wiring import In, Out

from .config import check_config
from .error_neurons import state_layout
from .lanes import pack
from .ram import MemoryClient
from .trees import argmax_tree
from .units import ErrorNeuronUnit, ErrorUnit
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
    counts_r, error_w : the memories; noise_r (``loss="random"``), state_r (Feedback mode).
    """

    def __init__(self, *, config):
        config = check_config(config)
        o = range(max(2, config.net.n_out))
        ports = {"counts_r": ("counts", "r"), "error_w": ("error", "w")}
        if "loss_noise" in config.memories:
            ports["noise_r"] = ("loss_noise", "r")
        if "error_neurons" in config.memories:
            ports["state_r"] = ("error_neurons", "r")
        super().__init__(config=config, ports=ports,
                         members={"control": In(ControlSignature()), "label": In(o),
                                  "prediction": Out(o)})

    def elaborate(self, platform):
        m = Module()
        hw, cfg = self.config, self.config.net
        L, lg, O = hw.lanes, hw.lane_bits, cfg.n_out
        m.submodules.walk = walk = WordWalker(count=hw.OW, drain=hw.ERROR_LATENCY)
        m.d.comb += [walk.start.eq(self.control.start), self.control.done.eq(walk.done)]
        zero_enables(m, self.error_w)
        for port in self.port_list("r"):
            m.d.comb += [port.en.eq(walk.active), port.addr.eq(walk.k)]

        valid, k = Signal(), Signal.like(walk.k)
        m.d.sync += [valid.eq(walk.active), k.eq(walk.k)]
        last_word = k == hw.OW - 1
        leaves, vfb = [], []
        for j in range(L):
            m.submodules[f"lane{j}"] = u = ErrorUnit(net=cfg)
            o = Cat(Const(j, lg), k) if lg else k       # output index k*L + j
            real = ~last_word if O % L and j >= O % L else Const(1)   # not a padding lane
            count = self.counts_r.data[j]
            m.d.comb += [u.count.eq(count), u.is_label.eq(o == self.label), u.valid.eq(real)]
            if "noise_r" in self.memory_ports:
                m.d.comb += u.noise.eq(self.noise_r.data[j])
            leaves.append((real, count, o))
            if cfg.error_mode == "direct":
                vfb.append(u.e)
            elif cfg.error_mode == "final":
                m.submodules[f"neurons{j}"] = n = ErrorNeuronUnit(net=cfg,
                                                                  bits=hw.error_neuron_bits)
                m.d.comb += [n.first.eq(1), n.e.eq(u.e)]
                vfb.append(n.ds)
            elif hw.error_neuron_steps:
                vfb.append(state_layout(hw)(self.state_r.data[j]).vfb)
            else:   # no error-neuron step: nothing was integrated
                vfb.append(0)
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
                         self.error_w.data.eq(pack(m, vfb, signed(hw.vfb_output_bits),
                                                   "vfb"))]
        return m
