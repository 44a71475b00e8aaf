"""Byte protocol of the UART bridge (:class:`intsnn.hw.uart_bridge.UartBridge`).

Pure Python (no amaranth import): the host driver (:mod:`intsnn.host`) speaks it, and
:func:`ref_bridge` is the bridge's golden twin.  Described in ``docs/architecture.md`` ("UART
bridge").

Every command is an 8-byte header ``op, w, n[2], addr[4]`` (little-endian) and a payload; the
bridge answers every command, last with one status byte:

====  ===========  ===========================================================================
op    name         meaning
====  ===========  ===========================================================================
'W'   WRITE        payload ``n`` words of ``w`` bytes (1..4, sign-extended to 32 bits): bus
                   writes to ``addr, addr+1, ...`` (``+1`` steps the column)
'R'   READ         bus reads of ``addr, addr+1, ...``; reply ``n`` words of their low ``w``
                   bytes
'F'   FRAMES       payload ``n`` beats of :func:`beat_bytes` bytes (``w`` is ignored): pushed
                   to the frame stream in order; each waits for ``ready`` (send beats only while
                   the core is idle, so the bridge never stalls longer than a byte time)
'C'   COMMAND      bus write of ``n`` (low 4 bits) to COMMAND, then wait until ``busy`` is low
'I'   IDENTIFY     reply ``0x69 0x73 lanes input_bits`` ("is": intsnn)
====  ===========  ===========================================================================

A WRITE or READ with ``w`` outside 1..4 is refused like an unknown ``op`` (``bad_op``, no
payload read).  Status byte: ``0xA0 | bad_op << 4 | framing_error << 3 | overrun << 2 | done << 1 | busy``
(bits 5..7 = ``0b101`` mark it; overrun and framing error are sticky until reset: a byte was
lost or garbled and the session cannot be trusted).
"""

from __future__ import annotations

import struct
__all__ = ["OP_WRITE", "OP_READ", "OP_FRAMES", "OP_COMMAND", "OP_IDENTIFY", "HEADER_BYTES",
           "MAX_BURST", "STATUS_BUSY", "STATUS_DONE", "STATUS_OVERRUN", "STATUS_FRAMING",
           "STATUS_BAD_OP", "STATUS_MARK", "STATUS_MARK_MASK", "IDENTITY", "beat_bytes",
           "header", "write", "read", "frames", "command", "identify", "uart_bits",
           "ref_bridge"]

OP_WRITE, OP_READ, OP_FRAMES, OP_COMMAND, OP_IDENTIFY = (ord(c) for c in "WRFCI")
HEADER_BYTES = 8
MAX_BURST = 0xFFFF
STATUS_BUSY, STATUS_DONE, STATUS_OVERRUN, STATUS_FRAMING, STATUS_BAD_OP = (1 << i for i in
                                                                           range(5))
STATUS_MARK, STATUS_MARK_MASK = 0xA0, 0xE0
IDENTITY = (0x69, 0x73)


def beat_bytes(lanes: int, input_bits: int) -> int:
    """Bytes of one frame beat on the wire: ``ceil(lanes * input_bits / 8)``."""
    return -(-lanes * input_bits // 8)


def header(op: int, w: int, n: int, addr: int) -> bytes:
    if not 0 <= n <= MAX_BURST:
        raise ValueError(f"burst length must be in 0..{MAX_BURST}, got {n!r}")
    if not 0 <= w <= 255:
        raise ValueError(f"word width must be in 0..255 bytes, got {w!r}")
    return struct.pack("<BBHI", op, w, n, addr & 0xFFFFFFFF)


def _check_w(w: int):
    if w not in (1, 2, 3, 4):
        raise ValueError(f"bus word width must be 1..4 bytes, got {w!r}")


def write(addr: int, values, w: int = 4) -> bytes:
    """WRITE of ``values`` (signed or unsigned ints that fit ``w`` bytes) from ``addr``."""
    _check_w(w)
    lo, hi = -(1 << (8 * w - 1)), (1 << (8 * w)) - 1
    body = bytearray()
    for v in values:
        v = int(v)
        if not lo <= v <= hi:
            raise ValueError(f"value {v!r} does not fit {w} byte(s)")
        body += (v & ((1 << (8 * w)) - 1)).to_bytes(w, "little")
    return header(OP_WRITE, w, len(values), addr) + bytes(body)


def read(addr: int, n: int, w: int = 4) -> bytes:
    _check_w(w)
    return header(OP_READ, w, n, addr)


def frames(beats, pb: int) -> bytes:
    """FRAMES of packed beats (:func:`intsnn.hw.host_protocol.pack_frames`), ``pb`` bytes
    each."""
    return header(OP_FRAMES, pb, len(beats), 0) + b"".join(int(b).to_bytes(pb, "little")
                                                           for b in beats)


def command(cmd: int) -> bytes:
    return header(OP_COMMAND, 0, cmd, 0)


def identify() -> bytes:
    return header(OP_IDENTIFY, 0, 0, 0)


def uart_bits(byte: int) -> list[int]:
    """Line levels of one 8N1 frame: start (0), 8 data bits LSB first, stop (1)."""
    return [0] + [(byte >> i) & 1 for i in range(8)] + [1]


def _sext(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def ref_bridge(stream: bytes, read_word, lanes: int, input_bits: int, busy=0, done=1):
    """Golden twin of the bridge: (bus/stream transactions, reply bytes) for a byte stream.

    ``read_word(addr)`` gives the bus's read data.  Transactions: ``("w", addr, data)``,
    ``("r", addr)``, ``("beat", value)``, ``("cmd", code)`` in order; ``busy``/``done`` are the
    core's flags as the status bytes report them (the core is idle when they are sampled).
    """
    tr, reply, pos = [], bytearray(), 0
    pb = beat_bytes(lanes, input_bits)
    while pos + HEADER_BYTES <= len(stream):
        op, w, n, addr = struct.unpack_from("<BBHI", stream, pos)
        pos += HEADER_BYTES
        bad = 0
        if op in (OP_WRITE, OP_READ) and not 1 <= w <= 4:
            bad = STATUS_BAD_OP  # refused whole: no payload is read, nothing is sent
        elif op == OP_WRITE:
            for k in range(n):
                v = int.from_bytes(stream[pos:pos + w], "little")
                pos += w
                tr.append(("w", (addr + k) & 0xFFFFFFFF, _sext(v, 8 * w) & 0xFFFFFFFF))
        elif op == OP_READ:
            for k in range(n):
                a = (addr + k) & 0xFFFFFFFF
                tr.append(("r", a))
                reply += (read_word(a) & ((1 << (8 * w)) - 1)).to_bytes(w, "little")
        elif op == OP_FRAMES:
            for _ in range(n):
                v = int.from_bytes(stream[pos:pos + pb], "little")
                pos += pb
                tr.append(("beat", v & ((1 << (lanes * input_bits)) - 1)))
        elif op == OP_COMMAND:
            tr.append(("cmd", n & 0xF))
        elif op == OP_IDENTIFY:
            reply += bytes([*IDENTITY, lanes, input_bits])
        else:
            bad = STATUS_BAD_OP
        reply.append(STATUS_MARK | bad | (STATUS_DONE if done else 0) |
                     (STATUS_BUSY if busy else 0))
    return tr, bytes(reply)

