"""Protocol client of the UART bridge (:mod:`intsnn.hw.uart_protocol`) over a transport.

Every command waits for its reply (the bridge requires it) and checks the status byte: a lost
or garbled byte on the link stops the session with :class:`LinkError` rather than letting it
produce wrong numbers.
"""

from __future__ import annotations

from ..hw import host_protocol as hp
from ..hw import uart_protocol as up

__all__ = ["BoardLink", "LinkError"]


class LinkError(RuntimeError):
    """The bridge reported an error, or answered something that is not the protocol."""


class BoardLink:
    """Host side of the bridge.

    Parameters
    ----------
    transport : :class:`intsnn.host.transport.Transport`
    lanes, input_bits : int
        Of the design on the board (checked by :meth:`identify`).
    """

    def __init__(self, transport, *, lanes: int, input_bits: int):
        self._t = transport
        self.lanes, self.input_bits = lanes, input_bits
        self.pb = up.beat_bytes(lanes, input_bits)
        self.bytes_sent = self.bytes_received = 0

    def _do(self, cmd: bytes, reply: int) -> tuple[bytes, int]:
        self._t.write(cmd)
        data = self._t.read(reply + 1)
        self.bytes_sent += len(cmd)
        self.bytes_received += len(data)
        status = data[-1]
        if status & up.STATUS_MARK_MASK != up.STATUS_MARK:
            raise LinkError(f"expected a status byte, got 0x{status:02x} (link out of step)")
        for bit, what in ((up.STATUS_OVERRUN, "lost a received byte (overrun)"),
                          (up.STATUS_FRAMING, "received a garbled byte (framing error)"),
                          (up.STATUS_BAD_OP, f"did not know command 0x{cmd[0]:02x}")):
            if status & bit:
                raise LinkError(f"the bridge {what}; reset the board")
        return data[:-1], status

    def identify(self) -> None:
        ident, _ = self._do(up.identify(), 4)
        want = bytes([*up.IDENTITY, self.lanes, self.input_bits])
        if ident != want:
            raise LinkError(f"the board identifies as {ident.hex()}, expected {want.hex()} "
                            f"(an intsnn core with lanes {self.lanes}, input_bits "
                            f"{self.input_bits}): wrong bitstream or options")

    def write(self, addr: int, values, w: int = 4) -> None:
        values = list(values)
        for s in range(0, len(values), up.MAX_BURST):
            self._do(up.write(addr + s, values[s:s + up.MAX_BURST], w), 0)

    def read(self, addr: int, n: int, w: int = 4, signed: bool = False) -> list[int]:
        out = []
        for s in range(0, n, up.MAX_BURST):
            k = min(up.MAX_BURST, n - s)
            data, _ = self._do(up.read(addr + s, k, w), k * w)
            for j in range(k):
                v = int.from_bytes(data[j * w:(j + 1) * w], "little")
                out.append(hp.to_signed(v, 8 * w) if signed else v)
        return out

    def frames(self, beats) -> None:
        beats = list(beats)
        for s in range(0, len(beats), up.MAX_BURST):
            self._do(up.frames(beats[s:s + up.MAX_BURST], self.pb), 0)

    def command(self, cmd: int) -> int:
        """Start ``cmd`` and wait for the core to finish it; the status byte."""
        return self._do(up.command(cmd), 0)[1]

    def wait_idle(self, tries: int = 1000) -> None:
        """Poll STATUS until ``busy`` is low (the clear after reset)."""
        for _ in range(tries):
            if not self.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_STATUS), 1)[0] & hp.STATUS_BUSY:
                return
        raise LinkError(f"the core stayed busy for {tries} status reads")
