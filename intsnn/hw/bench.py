"""Drive the core and its components in Amaranth's simulator.

The ``rtl_*`` half of the golden-vs-RTL pattern: :func:`rtl_train` takes plain numpy data
(weights, samples, labels) and returns plain numpy data (counts, predictions, weights, cycles),
so tests compare it with :class:`intsnn.golden.model.IntSNN` directly.  :class:`Rig` puts one
engine between the memories it names, so a component test loads memories, starts the engine and
reads the memories back (:func:`run_engine`, :func:`words`), again as plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import data, wiring
from amaranth.sim import Simulator

from ..golden.config import LayerParams, NetConfig
from ..golden.init import Weights
from . import host_protocol as hp
from .config import HwConfig, words as word_count
from .conv_geometry import hidden_order
from .core import IntSNNCore
from .ram import Ram

__all__ = ["RtlResult", "rtl_train", "Host", "scramble", "Rig", "simulate", "run_engine",
           "words", "load", "to_words", "from_words", "small_net", "check_batch_against_golden"]


def small_net(arch="snn", S=16, Q=8, input_bits=1, clip_order="shift_then_clip", n_in=12,
              n_hidden=8, n_out=4, timesteps=4, batch_size=3) -> NetConfig:
    """A small config whose thresholds follow Q so that neurons actually spike and learn."""
    q = Q - 8
    sc = (lambda v: v << q) if q >= 0 else (lambda v: max(1, v >> -q))
    kw = dict(arch=arch, n_in=n_in, n_hidden=n_hidden, n_out=n_out, timesteps=timesteps,
              batch_size=batch_size, input_bits=input_bits, shadow_bits=S, inference_bits=Q,
              hidden=(LayerParams(sc(40), sc(120), 3, None) if input_bits == 1
                      else LayerParams(sc(4000), sc(8000), 3, None)),
              output=LayerParams(sc(30), sc(60), 1, 5), alpha=16,
              clip=min(700, (1 << (S - 1)) - 1), clip_order=clip_order)
    if arch == "rsnn":
        kw.update(voltage_bits=max(16, 16 + q), rec_shift=max(0, 3 + q))
    return NetConfig(**kw)


class Rig(Elaboratable):
    """An engine (a :class:`~intsnn.hw.ram.MemoryClient`) with one :class:`Ram` per memory it
    names, as its only client; ``init`` gives memories their contents (nested lists of lanes /
    slots per word), the others start with random bits (:func:`scramble`)."""

    def __init__(self, engine, init: dict | None = None, seed: int = 0):
        self.engine = engine
        self._groups = {}
        for member, (mem, kind) in engine.memory_ports.items():
            self._groups.setdefault(mem, {})[kind] = member
        self.rams = {mem: Ram(spec=engine.config.memories[mem],
                              readers=["dut"] if "r" in kinds else [],
                              writers=["dut"] if "w" in kinds else [],
                              latency={"dut": engine.read_latency[kinds["r"]]}
                              if "r" in kinds else None)
                     for mem, kinds in self._groups.items()}
        init = dict(init or {})
        unknown = set(init) - set(self.rams)
        if unknown:
            raise ValueError(f"the engine uses no memory {sorted(unknown)!r}")
        rng = np.random.default_rng(seed)
        for mem, ram in self.rams.items():
            if mem in init:
                ram.data.init = np.asarray(init[mem]).tolist()
            else:
                _random_fill(ram, rng)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.engine
        for mem, ram in self.rams.items():
            m.submodules[mem] = ram
            for kind, member in self._groups[mem].items():
                wiring.connect(m, getattr(ram, f"{kind}_dut"), getattr(self.engine, member))
        return m


_FLUSH = max(HwConfig.DELTA_LATENCY, HwConfig.UPDATE_LATENCY, HwConfig.EVENT_LATENCY) + 1


def simulate(dut, testbench) -> None:
    """Run ``testbench(ctx)`` on ``dut`` with a clock."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


async def run_engine(ctx, engine, **inputs) -> int:
    """Set ``inputs`` (member name -> value), pulse ``control.start`` and wait for
    ``control.done``; return the engine's cycles (start cycle excluded, done cycle included:
    what the sequencer's schedule charges for it)."""
    for name, value in inputs.items():
        ctx.set(getattr(engine, name), value)
    ctx.set(engine.control.start, 1)
    await ctx.tick()
    ctx.set(engine.control.start, 0)
    cycles = 1
    while not ctx.get(engine.control.done):
        await ctx.tick()
        cycles += 1
    for _ in range(_FLUSH):  # writes still in the pipeline land (the sequencer overlaps them)
        await ctx.tick()
    return cycles


def words(ctx, ram) -> list:
    """The contents of ``ram`` as nested lists (word -> [slot ->] lane)."""
    def unpack(c):
        return [unpack(e) if isinstance(e, data.Const) else int(e) for e in c]
    return [unpack(ctx.get(ram.data[i])) for i in range(ram.spec.depth)]


def load(ctx, ram, contents) -> None:
    """Write ``contents`` (nested lists, as :func:`words` returns them) into ``ram``."""
    for i, w in enumerate(contents):
        ctx.set(ram.data[i], np.asarray(w).tolist())


def to_words(a, lanes: int):
    """Per-element values (..., n) -> words (..., words, lanes), zero-padded; a history
    (T, n) becomes slot-major words with ``np.moveaxis(to_words(a), 0, 1)``."""
    a = np.asarray(a)
    n = a.shape[-1]
    out = np.zeros(a.shape[:-1] + (word_count(n, lanes) * lanes,), np.int64)
    out[..., :n] = a
    return out.reshape(a.shape[:-1] + (-1, lanes))


def from_words(w, n: int):
    """Words (..., words, lanes) -> the first ``n`` elements (..., n)."""
    w = np.asarray(w)
    return w.reshape(w.shape[:-2] + (-1,))[..., :n]


def _random_fill(ram, rng) -> None:
    width = ram.spec.width
    for contents in getattr(ram, "banks", None) or (ram.data,):   # a BankedRam: both banks
        contents.init = [data.Const(contents.shape, int.from_bytes(
            rng.bytes(-(-width // 8)), "little") & ((1 << width) - 1))
            for _ in range(ram.spec.depth)]


def scramble(core: IntSNNCore, seed: int = 0) -> None:
    """Fill every memory that needs no initial contents with random bits (as a real RAM after
    power-up); a design that reads such a word before writing it then fails the comparison
    with the golden model instead of passing on the simulator's zeros."""
    rng = np.random.default_rng(seed)
    for ram in core.rams.values():
        if not ram.spec.init:
            _random_fill(ram, rng)


class Host:
    """Bus and stream helpers for an async Amaranth testbench ``ctx``."""

    def __init__(self, ctx, dut: IntSNNCore):
        self.ctx, self.dut = ctx, dut

    async def write(self, address: int, value: int):
        ctx, bus = self.ctx, self.dut.bus
        ctx.set(bus.addr, address)
        ctx.set(bus.w_data, hp.to_word(value))
        ctx.set(bus.w_en, 1)
        await ctx.tick()
        ctx.set(bus.w_en, 0)
        await ctx.tick().repeat(hp.WRITE_LATENCY - 1)   # landed (a COMMAND: busy is up)

    async def read(self, address: int, signed_bits: int | None = None) -> int:
        ctx, bus = self.ctx, self.dut.bus
        ctx.set(bus.addr, address)
        ctx.set(bus.r_en, 1)
        await ctx.tick()
        ctx.set(bus.r_en, 0)
        await ctx.tick().repeat(hp.READ_LATENCY - 1)
        assert ctx.get(bus.r_valid)
        v = ctx.get(bus.r_data)
        return hp.to_signed(v, signed_bits) if signed_bits else v

    async def stream(self, beats):
        """One sample's beats at full rate, ``tlast`` on the last one."""
        ctx, fr = self.ctx, self.dut.frames
        beats = list(beats)
        for i, b in enumerate(beats):
            ctx.set(fr.tdata.as_value(), b)
            ctx.set(fr.tlast, i == len(beats) - 1)
            ctx.set(fr.tvalid, 1)
            await ctx.tick().until(fr.tready)
        ctx.set(fr.tvalid, 0)

    async def command(self, cmd: int) -> int:
        await self.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_COMMAND), cmd)
        await self.ctx.tick().until(self.dut.busy == 0)
        return await self.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_CYCLES))

    async def set_loss_keys(self, seed: int, update: int = 0):
        """Write the random loss's seed (64 bits) and update counter."""
        seed %= 1 << 64
        await self.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_SEED_LO), seed & 0xFFFFFFFF)
        await self.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_SEED_HI), seed >> 32)
        await self.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_UPDATES), update)

    async def load_weights(self, cfg: NetConfig, w: Weights):
        for (h, i), v in np.ndenumerate(w.hidden):
            await self.write(hp.addr(hp.REGION_W_HIDDEN, h, i), int(v))
        # the W_OUTPUT column is the core's hidden index (position-major for csnn)
        for (o, h), v in np.ndenumerate(np.asarray(w.output)[:, hidden_order(cfg)]):
            await self.write(hp.addr(hp.REGION_W_OUTPUT, o, h), int(v))
        if cfg.arch == "rsnn":
            for (h, j), v in np.ndenumerate(w.recurrent):
                await self.write(hp.addr(hp.REGION_W_RECURRENT, h, j), int(v))

    async def read_weights(self, cfg: NetConfig) -> Weights:
        S, Q = cfg.shadow_bits, cfg.inference_bits
        H, O = cfg.n_hidden, cfg.n_out
        wh = np.zeros(hp.hidden_weight_shape(cfg), np.int64)
        wo = np.zeros((O, H), np.int64)
        for (h, i), _ in np.ndenumerate(wh):
            wh[h, i] = await self.read(hp.addr(hp.REGION_W_HIDDEN, h, i), S)
        order = hidden_order(cfg)
        for o in range(O):
            for h in range(H):
                wo[o, order[h]] = await self.read(hp.addr(hp.REGION_W_OUTPUT, o, h), S)
        rec = None
        if cfg.arch == "rsnn":
            rec = np.zeros((H, H), np.int64)
            for h in range(H):
                for j in range(H):
                    rec[h, j] = await self.read(hp.addr(hp.REGION_W_RECURRENT, h, j), Q)
        return Weights(wh, wo, rec)


@dataclass
class RtlResult:
    """Plain data from one RTL run: per sample counts (N, O), predictions (N,), cycles (N,);
    ``update_cycles`` per batch update; ``weights`` read back at the end."""

    counts: np.ndarray
    predictions: np.ndarray
    cycles: np.ndarray
    update_cycles: list = field(default_factory=list)
    weights: Weights | None = None


def rtl_train(cfg: NetConfig, lanes: int, weights: Weights, x, labels, *, train: bool = True,
              batch_size: int | None = None, read_back: bool = True,
              seed: int = 0, loss_seed: int = 0, first_update: int = 0) -> RtlResult:
    """Run samples ``x`` (N, T, n_in) through the core, each sample streamed while the one
    before computes (double buffering); update after every ``batch_size``
    training samples (default ``cfg.batch_size``; a trailing partial batch is not applied).
    The memories without initial contents start with random bits (:func:`scramble`, from
    ``seed``).  With ``loss="random"`` the host writes ``loss_seed`` (the golden model's
    ``IntSNN(seed=...)``) and ``first_update`` (its ``updates``) into SEED and UPDATES."""
    dut = IntSNNCore(config=HwConfig(net=cfg, lanes=lanes))
    scramble(dut, seed)
    x = np.asarray(x)
    n = x.shape[0]
    bs = batch_size or cfg.batch_size
    res = RtlResult(np.zeros((n, cfg.n_out), np.int64), np.zeros(n, np.int64),
                    np.zeros(n, np.int64))

    async def tb(ctx):
        host = Host(ctx, dut)
        await host.load_weights(cfg, weights)
        if cfg.loss == "random":
            await host.set_loss_keys(loss_seed, first_update)
        if n:
            await host.stream(hp.pack_frames(x[0], cfg.input_bits, lanes))
        for s in range(n):
            await host.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_LABEL), int(labels[s]))
            await host.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_COMMAND),
                             hp.CMD_TRAIN if train else hp.CMD_INFER)
            if s + 1 < n:   # double buffering: the next sample streams in while this computes
                await host.stream(hp.pack_frames(x[s + 1], cfg.input_bits, lanes))
            await ctx.tick().until(dut.busy == 0)
            res.cycles[s] = await host.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_CYCLES))
            res.predictions[s] = await host.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_PREDICTION))
            for o in range(cfg.n_out):
                res.counts[s, o] = await host.read(hp.addr(hp.REGION_COUNTS, 0, o))
            if train and (s + 1) % bs == 0:
                res.update_cycles.append(await host.command(hp.CMD_UPDATE))
        if read_back:
            res.weights = await host.read_weights(cfg)

    simulate(dut, tb)
    return res


def check_batch_against_golden(cfg: NetConfig, lanes: int, *, seed: int = 0, n: int = 3,
                               density: float = 0.4):
    """One batch of ``n`` random samples through the core and through
    :class:`~intsnn.golden.model.IntSNN`: asserts equal counts, predictions, exact cycles per
    sample (``cycles.from_record``, with each sample's batch position for the random loss),
    update cycles and every weight layer after the update, and that the update changed both
    layers (else the comparison proves little).  Returns ``(RtlResult, batch hidden delta)``."""
    from ..golden.model import IntSNN
    from . import cycles

    net = IntSNN(cfg, seed=seed)
    w0 = net.weights.copy()
    rng = np.random.default_rng(seed + 100)
    x = rng.integers(0, cfg.in_max + 1, size=(n, cfg.timesteps, cfg.n_in))
    x *= rng.random(x.shape) < density
    labels = rng.integers(0, cfg.n_out, n)
    exp_cyc = [cycles.from_record(cfg, lanes, net.run_sample(x[s], int(labels[s]),
                                                             position=s))[0]
               for s in range(n)]
    r = rtl_train(cfg, lanes, w0, x, labels, batch_size=n, loss_seed=seed)
    dh, do, counts = net.batch_deltas(x, labels)
    np.testing.assert_array_equal(r.counts, counts)
    np.testing.assert_array_equal(r.predictions, np.argmax(counts, axis=1))
    net.update(dh, do)
    np.testing.assert_array_equal(r.weights.hidden, net.weights.hidden)
    np.testing.assert_array_equal(r.weights.output, net.weights.output)
    if cfg.arch == "rsnn":
        np.testing.assert_array_equal(r.weights.recurrent, net.weights.recurrent)
    np.testing.assert_array_equal(r.cycles, exp_cyc)
    assert r.update_cycles == [cycles.expected_update_cycles(cfg, lanes)]
    assert (w0.hidden != net.weights.hidden).any() and (w0.output != net.weights.output).any()
    return r, dh
