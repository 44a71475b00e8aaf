"""Sequencer: runs the commands by starting the engines in order (the schedule of the core).

After reset the deltas are cleared (busy; the host may load weights meanwhile).  A TRAIN or
INFER command is taken only when a whole sample is in (``frames_ready``); the cycle it is taken
the input banks swap (``swap``; ``bank``, which is ``compute_bank``, flips at the end of that
cycle: no engine reads an input bank in the cycle it is started, and a command is taken only
when the stream is stalled, so no port needs the new bank earlier, and the bank selection is a
register, not the command decode, which was the critical path behind the memories' address
multiplexers) and the frame ingest starts filling the other
bank with the next sample while this one computes.  The sample is, per time step ``t``: input events (event engine, source
0), for the RSNN and ``t > 0`` recurrent events (source 1), the hidden neuron pass, hidden-spike
events (source 2), the output neuron pass; then the error pass; TRAIN continues with the
feedback and the delta engine.  UPDATE runs the update engine.  Each engine reports ``done`` in
its last cycle and the next one starts the cycle after (:mod:`.walk`), so the cycle count of a
command is the sum of the engines' (:func:`intsnn.hw.cycles.expected_cycles`) plus one final
cycle that lowers ``busy``.

Error modes and losses (TRAIN only; INFER keeps the schedule above): in Feedback mode the output
neuron pass of every step ``t >= soft_error_start`` is followed by the error-neuron pass
(:mod:`.error_neurons`), preceded, with the random loss, by a run of the loss-noise unit for the
step (:mod:`.loss_noise`); with the random loss in the Direct and Final modes the loss-noise unit
runs once, just before the error pass.

Golden twin: the schedule is what :mod:`intsnn.hw.cycles` counts; the order of the passes is
that of one time step of :func:`intsnn.golden.reference.forward`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import host_protocol as hp
from .config import check_config
from .event_engine import SRC_INPUT, SRC_RECURRENT, SRC_SPIKES
from .walk import ControlSignature

__all__ = ["Sequencer"]


class Sequencer(wiring.Component):
    """The command FSM.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`

    Members
    -------
    command_valid, command : In, a COMMAND write (acted on only when idle).
    frames_ready : In, the sample's frames are in.
    busy, done : Out (see :mod:`.host_protocol`).  idle : Out, no command and no clear running.  host_access : Out, weights, counts and LABEL are accessible.
    train : Out, the running sample is a TRAIN.  t : Out, the time step.
    cycles, samples : Out, the CYCLES and SAMPLES registers.
    clear_frames : Out, the filled sample was taken (``swap``) or dropped (CLEAR_FRAMES).
    clear_errors : Out, CLEAR_FRAMES: clear the stream's error bits too.
    swap : Out, a TRAIN/INFER is taken this cycle.  bank : Out, the input bank of the running
    (or last) sample.  compute_bank : Out, the bank the engines read (= ``bank``).
    events, hidden, output, error, feedback, deltas, update, noise, error_neurons :
    ``Out(ControlSignature())`` (the last two only start in the modes that have the engines).
    updated : Out, an UPDATE finished (one cycle).
    event_src : Out, the event engine's source (with its ``start``).
    update_clear : Out, the update engine only clears (with its ``start``).
    """

    def __init__(self, *, config):
        self._config = check_config(config)
        engines = ("events", "hidden", "output", "error", "feedback", "deltas", "update",
                   "noise", "error_neurons")
        super().__init__({
            "command_valid": In(1), "command": In(4), "frames_ready": In(1),
            "busy": Out(1, init=1), "done": Out(1), "idle": Out(1), "host_access": Out(1),
            "train": Out(1), "t": Out(range(config.net.timesteps)),
            "cycles": Out(32), "samples": Out(32), "clear_frames": Out(1),
            "clear_errors": Out(1), "swap": Out(1), "bank": Out(1), "compute_bank": Out(1),
            **{name: Out(ControlSignature()) for name in engines},
            "event_src": Out(2), "update_clear": Out(1), "updated": Out(1)})

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        hw = self._config
        cfg = hw.net
        T, rsnn = cfg.timesteps, cfg.arch == "rsnn"
        feedback = hw.error_neuron_steps > 0     # error-neuron passes during the sample
        noise = hw.noise_runs > 0                # (Feedback mode: only with error-neuron steps)
        src = Signal(2)   # source of the running event pass

        def events(source):
            m.d.comb += [self.events.start.eq(1), self.event_src.eq(source)]
            m.d.sync += src.eq(source)
            m.next = "EVENTS"

        def start(engine, state):
            m.d.comb += getattr(self, engine).start.eq(1)
            m.next = state

        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        m.d.comb += self.compute_bank.eq(self.bank)

        with m.FSM(name="seq"):
            with m.State("RESET"):  # clear the delta accumulators
                m.d.comb += [self.update_clear.eq(1), self.host_access.eq(1)]
                start("update", "CLEARING")
            with m.State("CLEARING"):
                m.d.comb += self.host_access.eq(1)
                with m.If(self.update.done):
                    m.d.sync += self.busy.eq(0)
                    m.next = "IDLE"
            with m.State("IDLE"):
                m.d.comb += [self.idle.eq(1), self.host_access.eq(1)]
                with m.If(self.command_valid):
                    with m.Switch(self.command):
                        with m.Case(hp.CMD_TRAIN, hp.CMD_INFER):
                            with m.If(self.frames_ready):
                                m.d.comb += [self.swap.eq(1), self.clear_frames.eq(1)]
                                m.d.sync += self.bank.eq(~self.bank)
                                m.d.sync += [self.train.eq(self.command == hp.CMD_TRAIN),
                                             self.t.eq(0), self.busy.eq(1), self.done.eq(0),
                                             self.cycles.eq(0)]
                                events(SRC_INPUT)
                        with m.Case(hp.CMD_UPDATE):
                            m.d.sync += [self.busy.eq(1), self.done.eq(0), self.cycles.eq(0)]
                            start("update", "UPDATE")
                        with m.Case(hp.CMD_CLEAR_FRAMES):
                            m.d.comb += [self.clear_frames.eq(1), self.clear_errors.eq(1)]
            with m.State("EVENTS"):
                with m.If(self.events.done):
                    if rsnn:
                        with m.If((src == SRC_INPUT) & (self.t != 0)):
                            events(SRC_RECURRENT)
                        with m.Elif(src == SRC_SPIKES):
                            start("output", "OUTPUT")
                        with m.Else():
                            start("hidden", "HIDDEN")
                    else:
                        with m.If(src == SRC_SPIKES):
                            start("output", "OUTPUT")
                        with m.Else():
                            start("hidden", "HIDDEN")
            with m.State("HIDDEN"):
                with m.If(self.hidden.done):
                    events(SRC_SPIKES)
            def next_step():
                with m.If(self.t == T - 1):
                    if noise and cfg.error_mode != "feedback":
                        with m.If(self.train):
                            start("noise", "NOISE")
                        with m.Else():
                            start("error", "ERROR")
                    else:
                        start("error", "ERROR")
                with m.Else():
                    m.d.sync += self.t.eq(self.t + 1)
                    events(SRC_INPUT)

            with m.State("OUTPUT"):
                with m.If(self.output.done):
                    if feedback:
                        with m.If(self.train & (self.t >= cfg.soft_error_start)):
                            if noise:
                                start("noise", "NOISE")
                            else:
                                start("error_neurons", "ERROR_NEURONS")
                        with m.Else():
                            next_step()
                    else:
                        next_step()
            if noise:
                with m.State("NOISE"):
                    with m.If(self.noise.done):
                        if feedback:
                            start("error_neurons", "ERROR_NEURONS")
                        else:
                            start("error", "ERROR")
            if feedback:
                with m.State("ERROR_NEURONS"):
                    with m.If(self.error_neurons.done):
                        next_step()
            with m.State("ERROR"):
                with m.If(self.error.done):
                    with m.If(self.train):
                        start("feedback", "FEEDBACK")
                    with m.Else():
                        m.next = "SAMPLE_DONE"
            with m.State("FEEDBACK"):
                with m.If(self.feedback.done):
                    start("deltas", "DELTAS")
            with m.State("DELTAS"):
                with m.If(self.deltas.done):
                    m.next = "SAMPLE_DONE"
            with m.State("SAMPLE_DONE"):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                with m.If(self.train):
                    m.d.sync += self.samples.eq(self.samples + 1)
                m.next = "IDLE"
            with m.State("UPDATE"):
                with m.If(self.update.done):
                    m.next = "UPDATE_DONE"
            with m.State("UPDATE_DONE"):
                m.d.comb += self.updated.eq(1)
                m.d.sync += [self.busy.eq(0), self.done.eq(1), self.samples.eq(0)]
                m.next = "IDLE"
        return m
