"""Loss noise: the random additive loss's noise (eq. 3.8), drawn as the golden model draws it.

The golden model's noise for output ``o`` of the sample at batch position ``p`` of update ``k``
(and, in Feedback mode, time step ``t``) is ``((h >> 32) * 3 >> 32) - 1`` with
``h = counter_hash(seed, LOSS_STREAM, k, p, [t,] o)`` (:func:`intsnn.golden.model.loss_rng_bits`),
a chain of splitmix64 finalisers ``h <- mix((h ^ key) + G)`` (:mod:`intsnn.golden.counter_hash`).
This unit evaluates one finaliser per cycle: first the key prefix (``seed``, then the stream tag,
``update``, ``position`` and ``t``) into a 64-bit register, then one output per cycle, written
into lane ``o % lanes`` of word ``o / lanes`` of the ``loss_noise`` memory, which the error units
read.  ``noise_cycles = NOISE_PREFIX (+1 in Feedback mode) + n_out`` cycles per run; no state
survives a run, so the numbers depend on the coordinates only, as in the golden model.

Where the coordinates come from: ``seed`` is the SEED_LO/SEED_HI registers the host writes,
``update`` the UPDATES register (counts UPDATE commands; the host may write it, e.g. to resume),
``position`` the SAMPLES register (TRAIN samples since the last UPDATE), ``t`` the sequencer's
time step (:mod:`.host_protocol`).

A finaliser is two 64 x 64-bit multiplications (low halves) in series: one cycle in simulation;
a design closing timing at a high clock would split it over pipeline stages (``NOISE_PREFIX``
and :func:`intsnn.hw.cycles.expected_cycles` would follow).

Golden twin: :func:`intsnn.golden.model.loss_rng_bits` (``tests/test_hw_loss_noise.py``).
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib.wiring import In

from ..golden.model import LOSS_STREAM
from .config import check_config
from .ram import MemoryClient
from .walk import ControlSignature, WordWalker, zero_enables

__all__ = ["LossNoise", "splitmix64"]

_G = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def splitmix64(m: Module, z, name: str = "mix"):
    """The splitmix64 finaliser of a 64-bit value (arithmetic modulo 2**64), as a signal."""
    a = Signal(64, name=f"{name}_a")
    b = Signal(64, name=f"{name}_b")
    out = Signal(64, name=f"{name}_out")
    m.d.comb += [a.eq(((z ^ (z >> 30)) * _M1)[:64]),
                 b.eq(((a ^ (a >> 27)) * _M2)[:64]),
                 out.eq(b ^ (b >> 31))]
    return out


class LossNoise(MemoryClient):
    """Writes the noise of every output for the running sample (and step) into ``loss_noise``.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig` with ``loss="random"``.

    Members
    -------
    control : ``In(ControlSignature())``.
    seed : In(64).  update, position : In(32).  t : In, the time step (Feedback mode key).
    noise_w : the ``loss_noise`` memory.
    """

    def __init__(self, *, config):
        config = check_config(config)
        if config.net.loss != "random":
            raise ValueError(f"LossNoise needs loss='random', not {config.net.loss!r}")
        super().__init__(config=config, ports={"noise_w": ("loss_noise", "w")}, members={
            "control": In(ControlSignature()), "seed": In(64), "update": In(32),
            "position": In(32), "t": In(range(max(2, config.net.timesteps)))})

    def elaborate(self, platform):
        m = Module()
        hw, cfg = self.config, self.config.net
        L, lg = hw.lanes, hw.lane_bits
        prefix = hw.noise_cycles - cfg.n_out
        m.submodules.walk = walk = WordWalker(count=hw.noise_cycles)
        m.d.comb += [walk.start.eq(self.control.start), self.control.done.eq(walk.done)]
        zero_enables(m, self.noise_w)

        keys = [LOSS_STREAM, self.update, self.position]
        if cfg.error_mode == "feedback":
            keys.append(self.t)
        h = Signal(64)                       # the hash of the key prefix so far
        o = Signal(range(max(2, cfg.n_out)))  # the output of this cycle (after the prefix)
        key = Signal(64)
        with m.Switch(walk.k):
            for i, k in enumerate(keys, start=1):
                with m.Case(i):
                    m.d.comb += key.eq(k)
            with m.Default():
                m.d.comb += key.eq(o)
        x = Signal(64)
        m.d.comb += x.eq(Mux(walk.k == 0, self.seed, h ^ key) + _G)   # modulo 2**64
        z = splitmix64(m, x)
        # ((z >> 32) * 3) >> 32 is 0, 1 or 2: the top two bits of a 34-bit product
        draw = Signal(signed(2))   # (not "noise": the engine instance is named so)
        m.d.comb += draw.eq((z[32:] * 3)[32:34] - 1)

        with m.If(self.control.start):
            m.d.sync += o.eq(0)
        with m.If(walk.active):
            with m.If(walk.k < prefix):
                m.d.sync += h.eq(z)
            with m.Else():
                m.d.sync += o.eq(o + 1)
                m.d.comb += [self.noise_w.en.eq(Const(1, L) << (o[:lg] if lg else 0)),
                             self.noise_w.addr.eq(o >> lg),
                             self.noise_w.data.eq(draw.replicate(L))]
        return m
