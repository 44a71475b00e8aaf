"""Frame ingest: the input stream of a sample into the frame memory and the trace history.

Beat ``k`` of frame ``t`` carries inputs ``x[t, k*lanes + j]`` (lane ``j``,
:func:`intsnn.hw.host_protocol.pack_frames`).  Each accepted beat is written to ``frames``
(address ``t*IW + k``, a counter) and, in the same cycle, slot ``t`` of word ``k`` of the
presynaptic trace history ``P(t) = P(t-1) >> beta + x(t)`` (eq. 3.4) for the deferred delta.
The previous slot of word ``k`` is read in the cycle before, while the core is idle, so the
stream is ready every other cycle (:func:`intsnn.hw.cycles.stream_cycles`).  When all
``T*IW`` beats are in, ``frames_ready`` is set until ``clear`` (the sample was consumed, or
CLEAR_FRAMES).

Golden twin: ``ops.pre_trace`` over the frames (the ``pre_hidden`` record of
:func:`intsnn.golden.reference.forward`) and :func:`intsnn.hw.host_protocol.pack_frames`.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from .lanes import pack, replicate_slots, slot_of_lane
from .config import check_config
from .ram import MemoryClient
from .walk import zero_enables

__all__ = ["FrameIngest", "frame_signature"]


def frame_signature(config) -> stream.Signature:
    """The input stream: a beat is ``lanes`` inputs of ``input_bits`` (an ``ArrayLayout``)."""
    return stream.Signature(data.ArrayLayout(unsigned(config.net.input_bits), config.lanes))


class FrameIngest(MemoryClient):
    """Stream beats into ``frames`` and ``trace_hidden``.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`

    Members
    -------
    frames : ``In(frame_signature(config))``, the input stream.
    enable : In, the core is idle (beats are accepted only then).
    clear : In, forget the sample (next beat is beat 0 of frame 0).
    frames_ready : Out, a whole sample is in.
    frames_w, trace_r, trace_w : the memories.
    """

    def __init__(self, *, config):
        config = check_config(config)
        super().__init__(config=config, ports={
            "frames_w": ("frames", "w"), "trace_r": ("trace_hidden", "r"),
            "trace_w": ("trace_hidden", "w")}, members={
            "frames": In(frame_signature(config)), "enable": In(1), "clear": In(1),
            "frames_ready": Out(1)})

    def elaborate(self, platform):
        m = Module()
        hw, cfg = self.config, self.config.net
        L, T, IW = hw.lanes, cfg.timesteps, hw.IW
        zero_enables(m, self.trace_r, self.frames_w, self.trace_w)

        t = Signal(range(T + 1))        # frame of the next beat
        k = Signal(range(max(2, IW)))   # word of the next beat
        addr = Signal(range(max(2, T * IW)))
        # the trace word of k is on the read port: it was read in the previous cycle (the
        # core was idle) and k has not moved since
        settled = Signal()
        transfer = self.frames.valid & self.frames.ready
        m.d.sync += settled.eq(self.enable & ~transfer & ~self.clear)
        m.d.comb += self.frames.ready.eq(self.enable & ~self.frames_ready & settled)
        m.d.comb += [self.trace_r.en.eq(self.enable), self.trace_r.addr.eq(k)]

        with m.If(transfer):
            x = self.frames.payload
            prev_t = (t - 1)[:len(t)]
            trace = pack(m, [Mux(t == 0, 0, slot_of_lane(self.trace_r.data, prev_t, j)
                                 >> cfg.beta_shift) + x[j] for j in range(L)],
                         self.trace_w.data.shape().elem_shape.elem_shape, "trace")
            m.d.comb += [self.frames_w.en.eq(1), self.frames_w.addr.eq(addr),
                         self.frames_w.data.eq(x),
                         self.trace_w.en.eq(Const(1, T) << t), self.trace_w.addr.eq(k),
                         self.trace_w.data.eq(replicate_slots(trace, T))]
            m.d.sync += addr.eq(addr + 1)
            with m.If(k == IW - 1):
                m.d.sync += [k.eq(0), t.eq(t + 1)]
                with m.If(t == T - 1):
                    m.d.sync += self.frames_ready.eq(1)
            with m.Else():
                m.d.sync += k.eq(k + 1)
        with m.If(self.clear):
            m.d.sync += [t.eq(0), k.eq(0), addr.eq(0), self.frames_ready.eq(0)]
        return m
