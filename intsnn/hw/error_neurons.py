"""Error-neuron pass: the Feedback mode's error neurons, one step (eqs. 3.9-3.14).

In Feedback mode the error of the counts so far drives a positive and a negative
integrate-and-fire error neuron per output at every step ``t >= soft_error_start``, and their
spike difference is integrated into ``v_fb_out``.  The sequencer runs this pass after the output
neuron pass of those steps (TRAIN only): for each output word read the counts (already including
step ``t``), the error neurons' state and (random loss) the step's noise; one cycle later
(:attr:`~intsnn.hw.config.HwConfig.ERROR_NEURON_LATENCY`) the ``lanes``
:class:`~intsnn.hw.units.ErrorUnit`\\ s give the step's error ``e`` and the
:class:`~intsnn.hw.units.ErrorNeuronUnit`\\ s the new voltages and ``ds = s+ - s-``; the word is
written back with ``vfb <- vfb + ds``.  At ``t == soft_error_start`` the stored state is ignored
(the neurons start from rest, ``vfb`` from 0), so nothing needs clearing between samples.  The
error pass copies ``vfb`` to the ``error`` memory at the end of the sample.

State word (one per output word): per lane the :func:`state_layout` struct ``v_pos, v_neg``
(:attr:`~intsnn.hw.config.HwConfig.error_neuron_bits`, cannot overflow) and ``vfb``
(:attr:`~intsnn.hw.config.HwConfig.vfb_output_bits`).

Golden twin: the Feedback branch of :func:`intsnn.golden.reference.error_signals`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In

from .config import check_config
from .lanes import pack
from .ram import MemoryClient
from .units import ErrorNeuronUnit, ErrorUnit
from .walk import ControlSignature, WordWalker, zero_enables

__all__ = ["ErrorNeuronPass", "state_layout", "state_bits", "state_fields"]


def state_layout(hw) -> data.StructLayout:
    """One output's error-neuron state, as stored in a lane of ``error_neurons``."""
    return data.StructLayout({"v_pos": signed(hw.error_neuron_bits),
                              "v_neg": signed(hw.error_neuron_bits),
                              "vfb": signed(hw.vfb_output_bits)})


def state_bits(hw, v_pos: int, v_neg: int, vfb: int) -> int:
    """The bits of one lane of ``error_neurons`` holding that state (testbenches)."""
    eb, fb = hw.error_neuron_bits, hw.vfb_output_bits
    return ((v_pos % (1 << eb)) | (v_neg % (1 << eb)) << eb) | (vfb % (1 << fb)) << (2 * eb)


def state_fields(hw, bits: int) -> tuple[int, int, int]:
    """``(v_pos, v_neg, vfb)`` of one lane of ``error_neurons`` (testbenches)."""
    def signed_field(lo, n):
        v = (bits >> lo) & ((1 << n) - 1)
        return v - (1 << n) if v >> (n - 1) else v
    eb, fb = hw.error_neuron_bits, hw.vfb_output_bits
    return signed_field(0, eb), signed_field(eb, eb), signed_field(2 * eb, fb)


class ErrorNeuronPass(MemoryClient):
    """One Feedback-mode step of every output's error neurons.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig` with ``error_mode="feedback"`` and
        ``soft_error_start < timesteps``.

    Members
    -------
    control : ``In(ControlSignature())``.  label : In, the sample's label.  t : In, the step.
    counts_r, state_r, state_w, noise_r (``loss="random"``): the memories.
    """

    def __init__(self, *, config):
        config = check_config(config)
        if not config.error_neuron_steps:
            raise ValueError(f"ErrorNeuronPass needs error_mode='feedback' with "
                             f"soft_error_start < timesteps, not error_mode="
                             f"{config.net.error_mode!r}, soft_error_start="
                             f"{config.net.soft_error_start!r}")
        ports = {"counts_r": ("counts", "r"), "state_r": ("error_neurons", "r"),
                 "state_w": ("error_neurons", "w")}
        if "loss_noise" in config.memories:
            ports["noise_r"] = ("loss_noise", "r")
        super().__init__(config=config, ports=ports, members={
            "control": In(ControlSignature()), "label": In(range(max(2, config.net.n_out))),
            "t": In(range(max(2, config.net.timesteps)))})

    def elaborate(self, platform):
        m = Module()
        hw, cfg = self.config, self.config.net
        L, lg, O = hw.lanes, hw.lane_bits, cfg.n_out
        layout = state_layout(hw)
        m.submodules.walk = walk = WordWalker(count=hw.OW, drain=hw.ERROR_NEURON_LATENCY)
        m.d.comb += [walk.start.eq(self.control.start), self.control.done.eq(walk.done)]
        zero_enables(m, self.state_w)
        for port in self.port_list("r"):
            m.d.comb += [port.en.eq(walk.active), port.addr.eq(walk.k)]

        valid, k = Signal(), Signal.like(walk.k)
        m.d.sync += [valid.eq(walk.active), k.eq(walk.k)]
        first = Signal()
        m.d.comb += first.eq(self.t == cfg.soft_error_start)
        last_word = k == hw.OW - 1
        states = []
        for j in range(L):
            m.submodules[f"error{j}"] = u = ErrorUnit(net=cfg)
            m.submodules[f"neurons{j}"] = n = ErrorNeuronUnit(net=cfg, bits=hw.error_neuron_bits)
            o = Cat(Const(j, lg), k) if lg else k
            real = ~last_word if O % L and j >= O % L else Const(1)
            m.d.comb += [u.count.eq(self.counts_r.data[j]), u.is_label.eq(o == self.label),
                         u.valid.eq(real)]
            if "noise_r" in self.memory_ports:
                m.d.comb += u.noise.eq(self.noise_r.data[j])
            old = layout(self.state_r.data[j])
            m.d.comb += [n.v_pos.eq(old.v_pos), n.v_neg.eq(old.v_neg), n.first.eq(first),
                         n.e.eq(u.e)]
            vfb = Signal(signed(hw.vfb_output_bits), name=f"vfb{j}")
            m.d.comb += vfb.eq(Mux(first, 0, old.vfb) + n.ds)
            states.append(Cat(n.v_pos_next, n.v_neg_next, vfb))
        word = pack(m, states, unsigned(layout.size), "state")
        with m.If(valid):
            m.d.comb += [self.state_w.en.eq(1), self.state_w.addr.eq(k),
                         self.state_w.data.eq(word)]
        return m
