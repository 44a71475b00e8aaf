"""The intsnn training core: the engines and memories of ``docs/architecture.md``, connected.

:class:`IntSNNCore` only instantiates and connects: the host bus, frame ingest, sequencer and the
engines (event engine, neuron passes, error pass, feedback, delta engine, update engine), and one
:class:`~intsnn.hw.ram.Ram` per memory of :attr:`HwConfig.memories
<intsnn.hw.config.HwConfig.memories>`, shared by the engines that name it in their
``memory_ports``.  Everything is bit-exact with :mod:`intsnn.golden` (``tests/test_hw_core.py``)
and cycle-exact with :func:`intsnn.hw.cycles.expected_cycles`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import check_config
from .delta_engine import DeltaEngine
from .error_neurons import ErrorNeuronPass
from .error_pass import ErrorPass
from .event_engine import EventEngine
from .feedback import Feedback
from .frame_ingest import FrameIngest, frame_signature
from .host_bus import BusSignature, HostBus
from .loss_noise import LossNoise
from .neuron_pass import NeuronPass
from .banked_ram import BankedRam
from .ram import Ram
from .sequencer import Sequencer
from .update_engine import UpdateEngine

__all__ = ["IntSNNCore", "BusSignature"]


class IntSNNCore(wiring.Component):
    """Integer LIF (R)SNN training core.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`

    Members
    -------
    bus : ``In(BusSignature())``, registers, weights and counts (:mod:`.host_protocol`).
    frames : ``In(frame_signature(config))``, the AXI4-Stream input of the samples
        (``frames__tdata``, ``frames__tvalid``, ``frames__tready``, ``frames__tlast``).
    busy : Out, a command (or the clear after reset) is running.  done : Out, the last command
        has finished.
    """

    def __init__(self, *, config):
        self._config = hw = check_config(config)
        super().__init__({"bus": In(BusSignature()), "frames": In(frame_signature(config)),
                          "busy": Out(1), "done": Out(1)})
        self._sequencer = Sequencer(config=hw)
        self._engines = {
            "host": HostBus(config=hw), "ingest": FrameIngest(config=hw),
            "events": EventEngine(config=hw),
            "neuron_h": NeuronPass(config=hw, layer="hidden"),
            "neuron_o": NeuronPass(config=hw, layer="output"),
            "error": ErrorPass(config=hw), "feedback": Feedback(config=hw),
            "deltas": DeltaEngine(config=hw), "update": UpdateEngine(config=hw),
        }
        if "loss_noise" in hw.memories:
            self._engines["noise"] = LossNoise(config=hw)
        if "error_neurons" in hw.memories:
            self._engines["error_neurons"] = ErrorNeuronPass(config=hw)
        # every engine port becomes a client of the memory it names, in engine order
        self._clients = {mem: ([], []) for mem in hw.memories}
        for name, engine in self._engines.items():
            for member, (mem, kind) in engine.memory_ports.items():
                self._clients[mem][kind == "w"].append((name, member))
        # double-buffered input memories: the ingest fills one bank while the engines compute
        # on the other (hw/banked_ram.py)
        self._rams = {mem: (BankedRam(spec=hw.memories[mem], readers=[n for n, _ in readers],
                                      writers=[n for n, _ in writers], fill=("ingest",),
                                      latency={n: self._engines[n].read_latency[member]
                                               for n, member in readers})
                            if hw.memories[mem].banks == 2 else
                            Ram(spec=hw.memories[mem], readers=[n for n, _ in readers],
                                writers=[n for n, _ in writers],
                                latency={n: self._engines[n].read_latency[member]
                                         for n, member in readers}))
                      for mem, (readers, writers) in self._clients.items()}

    @property
    def config(self):
        return self._config

    @property
    def rams(self) -> dict:
        """Memory name -> its :class:`~intsnn.hw.ram.Ram` (testbenches reach the contents
        through ``ram.data``)."""
        return dict(self._rams)

    def elaborate(self, platform):
        m = Module()
        hw, engines = self._config, self._engines
        m.submodules.sequencer = seq = self._sequencer
        for name, engine in engines.items():
            m.submodules[name] = engine
        host, ingest, events = engines["host"], engines["ingest"], engines["events"]
        for mem, ram in self._rams.items():
            m.submodules[f"ram_{mem}"] = ram
            if isinstance(ram, BankedRam):
                m.d.comb += ram.bank.eq(seq.compute_bank)
            for kind, group in zip("rw", self._clients[mem]):
                for name, member in group:
                    wiring.connect(m, getattr(ram, f"{kind}_{name}"),
                                   getattr(engines[name], member))

        # control: the sequencer starts the engines
        for port, name in (("events", "events"), ("hidden", "neuron_h"), ("output", "neuron_o"),
                           ("error", "error"), ("feedback", "feedback"), ("deltas", "deltas"),
                           ("update", "update"), ("noise", "noise"),
                           ("error_neurons", "error_neurons")):
            if name in engines:
                wiring.connect(m, getattr(seq, port), engines[name].control)
        m.d.comb += [events.src.eq(seq.event_src), engines["update"].clear.eq(seq.update_clear),
                     events.t.eq(seq.t), engines["neuron_h"].t.eq(seq.t),
                     engines["neuron_o"].t.eq(seq.t)]

        # host side: bus, registers, stream
        wiring.connect(m, wiring.flipped(self.bus), host.bus)
        wiring.connect(m, wiring.flipped(self.frames), ingest.frames)
        m.d.comb += [
            seq.command_valid.eq(host.command_valid), seq.command.eq(host.command),
            seq.frames_ready.eq(ingest.frames_ready),
            host.enable.eq(seq.host_access), host.busy.eq(seq.busy), host.done.eq(seq.done),
            host.frames_ready.eq(ingest.frames_ready), host.cycles.eq(seq.cycles),
            host.stream_errors.eq(Cat(ingest.error_short, ingest.error_long)),
            host.samples.eq(seq.samples), host.prediction.eq(engines["error"].prediction),
            engines["error"].label.eq(host.label),
            ingest.clear.eq(seq.clear_frames), ingest.clear_errors.eq(seq.clear_errors),
            self.busy.eq(seq.busy), self.done.eq(seq.done), host.update_done.eq(seq.updated),
        ]
        if "noise" in engines:   # the random loss's keys (docs/architecture.md)
            noise = engines["noise"]
            m.d.comb += [noise.seed.eq(host.seed), noise.update.eq(host.updates),
                         noise.position.eq(seq.samples), noise.t.eq(seq.t)]
        if "error_neurons" in engines:
            m.d.comb += [engines["error_neurons"].label.eq(host.label),
                         engines["error_neurons"].t.eq(seq.t)]
        return m
