"""Drive :class:`~intsnn.hw.core.IntSNNCore` in Amaranth's simulator through its host protocol.

The ``rtl_*`` half of the golden-vs-RTL pattern: :func:`rtl_train` takes plain numpy data
(weights, samples, labels) and returns plain numpy data (counts, predictions, weights, cycles),
so tests compare it with :class:`intsnn.golden.model.IntSNN` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from amaranth.lib import data
from amaranth.sim import Simulator

from ..golden.config import NetConfig
from ..golden.init import Weights
from . import host_protocol as hp
from .config import HwConfig
from .core import IntSNNCore

__all__ = ["RtlResult", "rtl_train", "Host", "scramble"]


def scramble(core: IntSNNCore, seed: int = 0) -> None:
    """Fill every memory that needs no initial contents with random bits (as a real RAM after
    power-up); a design that reads such a word before writing it then fails the comparison
    with the golden model instead of passing on the simulator's zeros."""
    rng = np.random.default_rng(seed)
    for ram in core.rams.values():
        if not ram.spec.init:
            width = ram.spec.width
            ram.data.init = [data.Const(ram.data.shape, int.from_bytes(
                rng.bytes(-(-width // 8)), "little") & ((1 << width) - 1))
                for _ in range(ram.spec.depth)]


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

    async def read(self, address: int, signed_bits: int | None = None) -> int:
        ctx, bus = self.ctx, self.dut.bus
        ctx.set(bus.addr, address)
        ctx.set(bus.r_en, 1)
        await ctx.tick()
        ctx.set(bus.r_en, 0)
        assert ctx.get(bus.r_valid)
        v = ctx.get(bus.r_data)
        return hp.to_signed(v, signed_bits) if signed_bits else v

    async def stream(self, beats):
        ctx, fr = self.ctx, self.dut.frames
        for b in beats:
            ctx.set(fr.payload.as_value(), b)
            ctx.set(fr.valid, 1)
            await ctx.tick().until(fr.ready)
        ctx.set(fr.valid, 0)

    async def command(self, cmd: int) -> int:
        await self.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_COMMAND), cmd)
        await self.ctx.tick().until(self.dut.busy == 0)
        return await self.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_CYCLES))

    async def load_weights(self, cfg: NetConfig, w: Weights):
        for (h, i), v in np.ndenumerate(w.hidden):
            await self.write(hp.addr(hp.REGION_W_HIDDEN, h, i), int(v))
        for (o, h), v in np.ndenumerate(w.output):
            await self.write(hp.addr(hp.REGION_W_OUTPUT, o, h), int(v))
        if cfg.arch == "rsnn":
            for (h, j), v in np.ndenumerate(w.recurrent):
                await self.write(hp.addr(hp.REGION_W_RECURRENT, h, j), int(v))

    async def read_weights(self, cfg: NetConfig) -> Weights:
        S, Q = cfg.shadow_bits, cfg.inference_bits
        H, I, O = cfg.n_hidden, cfg.n_in, cfg.n_out
        wh = np.zeros((H, I), np.int64)
        wo = np.zeros((O, H), np.int64)
        for h in range(H):
            for i in range(I):
                wh[h, i] = await self.read(hp.addr(hp.REGION_W_HIDDEN, h, i), S)
        for o in range(O):
            for h in range(H):
                wo[o, h] = await self.read(hp.addr(hp.REGION_W_OUTPUT, o, h), S)
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
              seed: int = 0) -> RtlResult:
    """Run samples ``x`` (N, T, n_in) through the core; update after every ``batch_size``
    training samples (default ``cfg.batch_size``; a trailing partial batch is not applied).
    The memories without initial contents start with random bits (:func:`scramble`)."""
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
        for s in range(n):
            await host.stream(hp.pack_frames(x[s], cfg.input_bits, lanes))
            await host.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_LABEL), int(labels[s]))
            res.cycles[s] = await host.command(hp.CMD_TRAIN if train else hp.CMD_INFER)
            res.predictions[s] = await host.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_PREDICTION))
            for o in range(cfg.n_out):
                res.counts[s, o] = await host.read(hp.addr(hp.REGION_COUNTS, 0, o))
            if train and (s + 1) % bs == 0:
                res.update_cycles.append(await host.command(hp.CMD_UPDATE))
        if read_back:
            res.weights = await host.read_weights(cfg)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return res
