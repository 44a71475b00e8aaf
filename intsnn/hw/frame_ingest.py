"""Frame ingest: the AXI4-Stream input of a sample into the frame memory and the trace history.

The stream (:func:`frame_signature`) has the AXI4-Stream members ``tdata`` (``lanes`` inputs of
``input_bits``, an ``ArrayLayout``), ``tvalid``, ``tready`` and ``tlast`` (the last beat of the
sample).  Beat ``k`` of frame ``t`` carries inputs ``x[t, k*lanes + j]`` (lane ``j``,
:func:`intsnn.hw.host_protocol.pack_frames`).  Each accepted beat is written to ``frames``
(address ``t*IW + k``, a counter) and, in the same cycle, slot ``t`` of word ``k`` of the
presynaptic trace history ``P(t) = P(t-1) >> beta + x(t)`` (eq. 3.4) for the deferred delta.

**Full rate.**  Slot ``t-1`` of the word a beat needs is read one cycle ahead: the read address
is the word of the *next* beat (``k + 1`` if a beat transfers in this cycle, else ``k``), so a
beat can transfer in every cycle.  The only word written in the cycle it is read is word 0 with
``IW == 1``: then the previous trace is kept in a register instead.

**End of sample.**  ``tlast`` must be high on beat ``T*IW - 1`` and only there.  A ``tlast``
before it (short sample) or a last beat without it (long sample) sets a sticky error bit
(``error_short`` / ``error_long``) and discards the sample: after a short one the next beat is
beat 0 of a new sample; after a long one the beats are dropped up to and including the next
``tlast``.  A discarded sample never sets ``frames_ready``, so no command computes on it.

When all beats are in, ``frames_ready`` is set (``tready`` low) until ``clear`` (the sample
was taken by a command, whose banks the core then swaps, or CLEAR_FRAMES).  ``clear`` also
clears the error bits when ``clear_errors`` is high with it.

Golden twin: :func:`ref_ingest` (``ops.pre_trace`` over the frames, the ``pre_hidden`` record of
:func:`intsnn.golden.reference.forward`, and :func:`intsnn.hw.host_protocol.pack_frames`), with
:func:`ref_stream_check` for the end-of-sample rule.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .config import check_config
from .lanes import pack, replicate_slots, slot_of_lane
from .ram import MemoryClient
from .walk import zero_enables

__all__ = ["FrameIngest", "AxiStreamSignature", "frame_signature", "ref_ingest",
           "ref_stream_check"]


class AxiStreamSignature(wiring.Signature):
    """AXI4-Stream (ARM IHI 0051) subset, from the producer's side: ``tdata``, ``tvalid``,
    ``tlast`` out, ``tready`` in (no ``tkeep``/``tstrb``/``tid``/``tdest``/``tuser``: every
    beat is whole).  A beat transfers on a clock edge where ``tvalid`` and ``tready`` are both
    high; the producer must hold ``tdata``/``tlast`` while ``tvalid`` is high and ``tready``
    low."""

    def __init__(self, data_shape):
        super().__init__({"tdata": Out(data_shape), "tvalid": Out(1), "tlast": Out(1),
                          "tready": In(1)})


def frame_signature(config) -> AxiStreamSignature:
    """The input stream: a beat is ``lanes`` inputs of ``input_bits`` (an ``ArrayLayout``)."""
    return AxiStreamSignature(data.ArrayLayout(unsigned(config.net.input_bits), config.lanes))


def ref_ingest(hw, x):
    """Golden twin: the beats of sample ``x`` (T, n_in) and its trace history
    ``P(t) = P(t-1) >> beta + x(t)`` (eq. 3.4), shape (T, n_in)."""
    from ..golden import ops
    from . import host_protocol as hp
    cfg = hw.net
    trace, hist = np.zeros(cfg.n_in, np.int64), []
    for t in range(cfg.timesteps):
        trace = ops.pre_trace(trace, x[t], cfg.beta_shift)
        hist.append(trace)
    return hp.pack_frames(x, cfg.input_bits, hw.lanes), np.array(hist)


def ref_stream_check(beats: int, lasts) -> dict:
    """Golden twin of the end-of-sample rule over a sequence of beats' ``tlast`` bits.

    Returns ``{"samples": [first beat index of each complete sample], "short": bool,
    "long": bool}`` for samples of ``beats`` beats: a ``tlast`` before beat ``beats - 1`` of a
    sample discards it (short); beat ``beats - 1`` without ``tlast`` discards it and every beat
    up to the next ``tlast`` (long).
    """
    out = {"samples": [], "short": False, "long": False}
    k, first, drop = 0, 0, False
    for i, last in enumerate(lasts):
        if drop:
            if last:
                drop, k = False, 0
            continue
        if k == 0:
            first = i
        if k == beats - 1:
            if last:
                out["samples"].append(first)
            else:
                out["long"], drop = True, True
            k = 0
        elif last:
            out["short"], k = True, 0
        else:
            k += 1
    return out


class FrameIngest(MemoryClient):
    """Stream beats into ``frames`` and ``trace_hidden``, one per cycle.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`

    Members
    -------
    frames : ``In(frame_signature(config))``, the AXI4-Stream input.
    clear : In, forget the sample (next beat is beat 0 of frame 0; a long sample's remaining
        beats are still dropped).  clear_errors : In, with ``clear``: clear the error bits too.
    frames_ready : Out, a whole sample is in.
    error_short, error_long : Out, sticky: a sample was discarded for a ``tlast`` too early /
        missing.
    frames_w, trace_r, trace_w : the memories.
    """

    def __init__(self, *, config):
        config = check_config(config)
        super().__init__(config=config, ports={
            "frames_w": ("frames", "w"), "trace_r": ("trace_hidden", "r"),
            "trace_w": ("trace_hidden", "w")}, members={
            "frames": In(frame_signature(config)), "clear": In(1), "clear_errors": In(1),
            "frames_ready": Out(1), "error_short": Out(1), "error_long": Out(1)})

    def elaborate(self, platform):
        m = Module()
        hw, cfg = self.config, self.config.net
        L, T, IW = hw.lanes, cfg.timesteps, hw.IW
        zero_enables(m, self.trace_r, self.frames_w, self.trace_w)
        elem = self.trace_w.data.shape().elem_shape.elem_shape

        t = Signal(range(T + 1))        # frame of the next beat
        k = Signal(range(max(2, IW)))   # word of the next beat
        addr = Signal(range(max(2, T * IW)))
        drop = Signal()                 # dropping the rest of a long sample
        last_word = k == IW - 1
        last_beat = last_word & (t == T - 1)
        transfer = self.frames.tvalid & self.frames.tready
        m.d.comb += self.frames.tready.eq(~self.frames_ready)

        # the trace word of the next beat, read a cycle ahead (after a clear the next beat is
        # one of frame 0, which ignores it: the address does not depend on the command decode)
        k_next = Mux(transfer & ~drop, Mux(last_word, 0, k + 1), k)
        m.d.comb += [self.trace_r.en.eq(1), self.trace_r.addr.eq(k_next)]
        x = self.frames.tdata
        prev_t = (t - 1)[:len(t)]
        if IW == 1:   # word 0 is written every beat: keep the last trace in a register
            held = Signal(data.ArrayLayout(elem, L))
            prev = [held[j] for j in range(L)]
        else:
            prev = [slot_of_lane(self.trace_r.data, prev_t, j) for j in range(L)]
        trace = pack(m, [Mux(t == 0, 0, prev[j] >> cfg.beta_shift) + x[j] for j in range(L)],
                     elem, "trace")

        def restart():
            m.d.sync += [t.eq(0), k.eq(0), addr.eq(0)]

        with m.If(transfer & drop):
            with m.If(self.frames.tlast):
                m.d.sync += drop.eq(0)
        with m.Elif(transfer):
            m.d.comb += [self.frames_w.en.eq(1), self.frames_w.addr.eq(addr),
                         self.frames_w.data.eq(x),
                         self.trace_w.en.eq(Const(1, T) << t), self.trace_w.addr.eq(k),
                         self.trace_w.data.eq(replicate_slots(trace, T))]
            if IW == 1:
                m.d.sync += held.eq(trace)
            with m.If(last_beat):
                restart()
                with m.If(self.frames.tlast):
                    m.d.sync += self.frames_ready.eq(1)
                with m.Else():
                    m.d.sync += [self.error_long.eq(1), drop.eq(1)]
            with m.Elif(self.frames.tlast):
                restart()
                m.d.sync += self.error_short.eq(1)
            with m.Else():
                m.d.sync += addr.eq(addr + 1)
                with m.If(last_word):
                    m.d.sync += [k.eq(0), t.eq(t + 1)]
                with m.Else():
                    m.d.sync += k.eq(k + 1)
        with m.If(self.clear):
            restart()
            m.d.sync += self.frames_ready.eq(0)
            with m.If(self.clear_errors):
                m.d.sync += [self.error_short.eq(0), self.error_long.eq(0)]
        return m
