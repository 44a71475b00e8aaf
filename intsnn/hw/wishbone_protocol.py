"""Wishbone adapter protocol: register map, latencies, and the golden twin of
:class:`intsnn.hw.wishbone.WishboneBridge`.

Pure Python (no amaranth import).  Described in ``docs/architecture.md`` ("Wishbone adapter and
interrupt").

Wishbone B4 classic target, 32-bit data, 8-bit granularity (``sel`` 4 bits), ``adr`` is the
host-protocol word address (:func:`intsnn.hw.host_protocol.addr`).  ``sel`` must be all ones:
the host bus has no byte writes, so anything else ends in ``err`` with nothing written.  Region
:data:`REGION_WISHBONE` is the adapter's own window; every other address goes to the host bus.

Latencies, counted from the cycle the request (``cyc & stb``) is first seen with the adapter
idle: a host-bus write is acknowledged :data:`~.host_protocol.WRITE_LATENCY` cycles later (it has
landed), a host-bus read :data:`~.host_protocol.READ_LATENCY` cycles later (``dat_r`` valid with
``ack``), an adapter register or a refusal :data:`LOCAL_LATENCY` cycle later.  The next request
may be presented in the cycle after the ``ack`` (back to back).

Interrupt: IRQ_PENDING is set in the cycle after a rising edge of the core's ``done`` (a set and a
clear in one cycle: the set wins), cleared by writing 1 to its bit 0; ``irq`` =
IRQ_PENDING & IRQ_ENABLE.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import host_protocol as hp

__all__ = ["REGION_WISHBONE", "REG_IRQ_ENABLE", "REG_IRQ_PENDING", "SEL_BITS", "LOCAL_LATENCY",
           "Transfer", "WishboneTrace", "ref_wishbone"]

REGION_WISHBONE = 15   #: the adapter's own registers (address bits 28..31), row 0
REG_IRQ_ENABLE = 0     #: RW: bit 0 enables ``irq``
REG_IRQ_PENDING = 1    #: R: bit 0, ``done`` rose since the last clear; W: 1 to bit 0 clears
SEL_BITS = hp.DATA_BITS // 8
LOCAL_LATENCY = 1      #: cycles from request to ``ack``/``err`` for adapter registers/refusals
FULL_SEL = (1 << SEL_BITS) - 1


@dataclass(frozen=True)
class Transfer:
    """One Wishbone transfer, presented after ``gap`` cycles with ``stb`` low (``cyc`` low too
    if ``release``: a new bus cycle instead of a wait state in the same one)."""

    addr: int
    we: bool = False
    data: int = 0
    sel: int = FULL_SEL
    gap: int = 0
    release: bool = False

    def __post_init__(self):
        if not 0 <= self.addr < (1 << hp.ADDR_BITS):
            raise ValueError(f"addr must fit {hp.ADDR_BITS} bits, got {self.addr!r}")
        if not 0 <= self.data < (1 << hp.DATA_BITS):
            raise ValueError(f"data must fit {hp.DATA_BITS} bits, got {self.data!r}")
        if not 0 <= self.sel <= FULL_SEL:
            raise ValueError(f"sel must fit {SEL_BITS} bits, got {self.sel!r}")
        if self.gap < 0:
            raise ValueError(f"gap must be >= 0, got {self.gap!r}")


@dataclass
class WishboneTrace:
    """What a run shows: ``replies`` (cycle, "ack"/"err", read data or None), host-bus
    ``requests`` (cycle, "w"/"r", addr, write data or None) and ``irq`` per cycle."""

    replies: list
    requests: list
    irq: list


def _local(tr: Transfer) -> bool:
    return tr.addr >> hp.REGION_SHIFT == REGION_WISHBONE


def _reg(tr: Transfer) -> int:
    return tr.addr & ((1 << hp.REGION_SHIFT) - 1)


def _refused(tr: Transfer) -> bool:
    return tr.sel != FULL_SEL or (_local(tr) and _reg(tr) not in (REG_IRQ_ENABLE,
                                                                  REG_IRQ_PENDING))


def ref_wishbone(transfers, done, host_read, host_write, cycles: int = 0) -> WishboneTrace:
    """Golden twin of :class:`~intsnn.hw.wishbone.WishboneBridge`.

    Parameters
    ----------
    transfers : list of :class:`Transfer`, presented in order.
    done : list of int, the core's ``done`` per cycle (the last level holds after it).
    host_read, host_write : the host bus's register/memory semantics,
        ``host_read(addr) -> int`` and ``host_write(addr, data)``.
    cycles : int, the minimum length of the ``irq`` trace.
    """
    replies, requests, local = [], [], []
    t = 0
    for tr in transfers:
        t += tr.gap
        if _refused(tr):
            replies.append([t + LOCAL_LATENCY, "err", None])
        elif _local(tr):
            local.append((t, tr, len(replies)))
            replies.append([t + LOCAL_LATENCY, "ack", None])
        elif tr.we:
            requests.append((t, "w", tr.addr, tr.data))
            host_write(tr.addr, tr.data)
            replies.append([t + hp.WRITE_LATENCY, "ack", None])
        else:
            requests.append((t, "r", tr.addr, None))
            replies.append([t + hp.READ_LATENCY, "ack", host_read(tr.addr)])
        t = replies[-1][0] + 1
    n = max(cycles, len(done), t)
    levels = [int(v) for v in done] + [int(done[-1]) if done else 0] * (n - len(done))
    # the register file, cycle by cycle: values are those seen during cycle c
    enable, pending, irq = [0] * (n + 1), [0] * (n + 1), [0] * n
    writes = {c: tr for c, tr, _ in local if tr.we}
    for c in range(n):
        tr = writes.get(c)
        rose = levels[c] and not (levels[c - 1] if c else 0)
        clear = tr is not None and _reg(tr) == REG_IRQ_PENDING and tr.data & 1
        pending[c + 1] = 1 if rose else (0 if clear else pending[c])
        enable[c + 1] = (tr.data & 1 if tr is not None and _reg(tr) == REG_IRQ_ENABLE
                         else enable[c])
        irq[c] = enable[c] & pending[c]
    for c, tr, k in local:
        if not tr.we:
            reg = _reg(tr)
            replies[k][2] = (enable if reg == REG_IRQ_ENABLE else pending)[c]
    return WishboneTrace([tuple(r) for r in replies], requests, irq)
