"""A double-buffered (ping-pong) memory: two banks, one computed on, one filled.

Double buffering of the input (issue 9 item 3): the ``frames`` and ``trace_hidden`` memories
(``MemorySpec.banks == 2``) are two banks each.  The *compute* clients (the event engine and the
delta engine) use bank ``bank``; the *fill* clients (the frame ingest) use the other one, so the
next sample streams in while the current one computes, and the sequencer flips ``bank`` when a
command takes the filled sample.  Each bank is an ordinary one-read, one-write memory (so the
generator emits it as ``intsnn_ram``/``intsnn_lutram`` and its kind follows the depth of one
bank, as before); a side's clients share its ports by priority, as in :class:`~.ram.Ram`.

``bank`` may change in any cycle: a read returns the bank that was selected when it was issued
(the data multiplexer uses the registered selection), a write goes to the bank of its cycle.

Golden twin: two lists of words, the bank index selecting which one a client sees
(``tests/test_hw_blocks.py``).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, MemoryData, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .config import MemorySpec
from .ram import _check_names, _first, memory_attrs, ram_shape, read_latencies, read_signature, \
    write_signature

__all__ = ["BankedRam"]


class BankedRam(wiring.Component):
    """Two banks of ``spec``; compute clients on bank ``bank``, fill clients on the other.

    Parameters
    ----------
    spec : :class:`~intsnn.hw.config.MemorySpec` (``banks == 2``; ``depth`` is one bank's)
    readers, writers : sequence of str
        Client names, highest priority first.
    fill : sequence of str
        The names (among ``readers``/``writers``) of the fill side.
    latency : dict, optional
        Reader name -> read latency, 1 (default) or 2 (the latency-1 data registered, as
        :class:`~.ram.Ram`'s; these memories are one block deep, so nothing is banked by depth).

    Members
    -------
    bank : In, the compute side's bank.
    r_<reader>, w_<writer> : as :class:`~.ram.Ram`'s, with one bank's address range.

    Attributes
    ----------
    banks : tuple of two :class:`~amaranth.hdl.MemoryData`, the contents.
    """

    def __init__(self, *, spec, readers=(), writers=(), fill=(), latency=None):
        if not isinstance(spec, MemorySpec):
            raise TypeError(f"spec must be a MemorySpec, not {spec!r}")
        if spec.banks != 2:
            raise ValueError(f"a BankedRam needs spec.banks == 2, not {spec.banks!r}")
        self._spec = spec
        self._readers = _check_names("reader", readers)
        self._writers = _check_names("writer", writers)
        self._fill = frozenset(_check_names("fill", fill))
        unknown = self._fill - set(self._readers) - set(self._writers)
        if unknown:
            raise ValueError(f"fill clients {sorted(unknown)!r} are neither readers nor writers")
        self._latency = read_latencies(latency, self._readers)
        shape, self._granularity = ram_shape(spec)
        members = {"bank": In(1)}
        members.update({f"r_{n}": Out(read_signature(spec)) for n in self._readers})
        members.update({f"w_{n}": Out(write_signature(spec)) for n in self._writers})
        super().__init__(members)
        self._banks = tuple(MemoryData(shape=shape, depth=spec.depth, init=[]) for _ in range(2))

    @property
    def spec(self) -> MemorySpec:
        return self._spec

    @property
    def banks(self) -> tuple:
        return self._banks

    def elaborate(self, platform):
        m = Module()
        spec = self._spec
        attrs = memory_attrs(spec)
        sides = {}
        for fill in (False, True):
            sides[fill] = ([getattr(self, f"r_{n}") for n in self._readers
                            if (n in self._fill) == fill],
                           [getattr(self, f"w_{n}") for n in self._writers
                            if (n in self._fill) == fill])
        bank_q = Signal()     # the bank the compute side read in the previous cycle
        m.d.sync += bank_q.eq(self.bank)
        rdata = []
        for b in range(2):
            m.submodules[f"bank{b}"] = mem = Memory(data=self._banks[b], attrs=attrs)
            wp = mem.write_port(granularity=self._granularity)
            rp = mem.read_port()
            rdata.append(rp.data.as_value())
            compute = self.bank == b
            (cr, cw), (fr, fw) = sides[False], sides[True]

            def side(clients, value, default):
                return value(clients) if clients else default

            r_en = [side(c, lambda c: Cat(x.en for x in c).any(), Const(0)) for c in (cr, fr)]
            r_addr = [side(c, lambda c: _first(c, lambda x: x.en, "addr"), Const(0))
                      for c in (cr, fr)]
            m.d.comb += [rp.en.eq(Mux(compute, *r_en)), rp.addr.eq(Mux(compute, *r_addr))]
            for field in ("en", "addr", "data"):
                v = [side(c, lambda c: _first(c, lambda x: x.en.any(), field),
                          Const(0, len(getattr(wp, field).as_value()
                                       if field == "data" else getattr(wp, field))))
                     for c in (cw, fw)]
                m.d.comb += getattr(wp, field).eq(Mux(compute, *v))
        for fill in (False, True):
            data1 = Mux(bank_q, rdata[0], rdata[1]) if fill else Mux(bank_q, rdata[1], rdata[0])
            for c in sides[fill][0]:
                name = next(n for n in self._readers if getattr(self, f"r_{n}") is c)
                if self._latency[name] == 2:
                    data2 = Signal.like(c.data, name=f"data2_{name}")
                    m.d.sync += data2.eq(data1)
                    m.d.comb += c.data.eq(data2)
                else:
                    m.d.comb += c.data.eq(data1)
        return m
