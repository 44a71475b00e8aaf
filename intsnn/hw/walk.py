"""The start/done handshake between the sequencer and the engines, and the word walk.

Chaining rule (what keeps the schedule cycle-exact): an engine asserts ``done`` combinationally
in its last cycle; the sequencer raises the next engine's ``start`` in that same cycle; the next
engine registers ``start`` and does its first cycle of work in the following cycle.  No cycle is
lost between engines, and none overlap.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ControlSignature", "WordWalker", "zero_enables"]


class ControlSignature(wiring.Signature):
    """``start`` (a one-cycle pulse) and ``done`` (a one-cycle pulse in the engine's last cycle),
    from the sequencer's side; an engine has ``control: In(ControlSignature())``."""

    def __init__(self):
        super().__init__({"start": Out(1), "done": In(1)})


class WordWalker(wiring.Component):
    """Walk ``k = 0 .. count-1``, one word per cycle, then drain for ``drain`` cycles.

    The cycle after ``start``, ``active`` is high for ``count`` cycles with ``k`` counting up
    (``last`` on the final one); ``done`` pulses in the last cycle of the drain (in the last
    active cycle when ``drain == 0``).  A ``start`` while walking restarts the walk.

    Parameters
    ----------
    count : int
        Words to walk (>= 1).
    drain : int
        Cycles after the last word (the pipeline latency of the engine's write stage).
    """

    def __init__(self, *, count, drain=0):
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise TypeError(f"count must be a positive integer, not {count!r}")
        if not isinstance(drain, int) or isinstance(drain, bool) or drain < 0:
            raise TypeError(f"drain must be a non-negative integer, not {drain!r}")
        self._count, self._drain = count, drain
        super().__init__({"start": In(1), "active": Out(1), "k": Out(range(count)),
                          "last": Out(1), "done": Out(1)})

    @property
    def count(self) -> int:
        return self._count

    @property
    def drain(self) -> int:
        return self._drain

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.last.eq(self.active & (self.k == self._count - 1))
        with m.If(self.active):
            m.d.sync += self.k.eq(self.k + 1)
            with m.If(self.last):
                m.d.sync += [self.k.eq(0), self.active.eq(0)]
        if self._drain == 0:
            m.d.comb += self.done.eq(self.last)
        else:
            # drain[i] is high i+1 cycles after the last word
            drain = Signal(self._drain)
            m.d.sync += drain.eq((drain << 1) | self.last)
            m.d.comb += self.done.eq(drain[-1])
        with m.If(self.start):
            m.d.sync += [self.k.eq(0), self.active.eq(1)]
        return m


def zero_enables(m: Module, *ports) -> None:
    """Hold the read/write enables of memory client ports low unless assigned later.

    ``lib.memory``'s read-port ``en`` resets to 1, so an engine that reads only in some cycles
    must drive it low in the others (a client with ``en`` high claims the shared port).
    """
    for p in ports:
        m.d.comb += p.en.eq(0)
