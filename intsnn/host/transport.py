"""Byte transports: a serial port (pyserial), or any object with ``write``/``read``.

The protocol client (:class:`intsnn.host.link.BoardLink`) only needs ``write(bytes)`` and
``read(n) -> bytes``; the board co-simulation passes a transport whose bytes go through a UART
model on the simulated pins (``intsnn/sim/benches/board_bench.py``), so the driver that runs
there is the one that talks to a board.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Transport", "SerialTransport", "TransportError"]


class TransportError(RuntimeError):
    """The link to the board failed (port missing, timeout)."""


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or raise :class:`TransportError`."""


class SerialTransport:
    """A serial port at ``baud`` 8N1 (pyserial), ``timeout`` seconds per read.

    Parameters
    ----------
    port : str
        E.g. ``/dev/ttyUSB0``.
    baud : int
    timeout : float
        Longest wait for the bytes of one read (a command waits for the core, so this bounds
        the longest command too).
    """

    def __init__(self, *, port: str, baud: int, timeout: float = 10.0):
        try:
            import serial
        except ImportError:
            raise TransportError("the host driver needs pyserial: pip install "
                                 "'intsnn[fpga]'") from None
        try:
            self._port = serial.Serial(port, baudrate=baud, bytesize=8, parity="N", stopbits=1,
                                       timeout=timeout)
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"cannot open serial port {port!r}: {exc}") from None
        self._timeout = timeout
        self.name = port

    def write(self, data: bytes) -> None:
        self._port.write(data)

    def read(self, n: int) -> bytes:
        data = self._port.read(n)
        if len(data) != n:
            raise TransportError(f"the board answered {len(data)} of {n} bytes within "
                                 f"{self._timeout:g} s on {self.name} (wrong baud or bitstream, "
                                 f"or the board was reset?)")
        return data

    def close(self) -> None:
        self._port.close()
