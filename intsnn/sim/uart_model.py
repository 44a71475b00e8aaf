"""A UART on simulated pins (cocotb) and a transport over it for the host driver.

:class:`UartModel` drives the board's receive pin and decodes its transmit pin in simulated
time, bit by bit (8N1 at ``bit_ns``); :class:`SimTransport` gives it the blocking
``write``/``read`` of :class:`intsnn.host.transport.Transport`, so the unchanged host driver
runs in a ``cocotb.task.bridge`` thread against the simulated board.  To keep Python off the
simulator's back the sender waits once per run of equal bits, not once per bit.
"""

from __future__ import annotations

from cocotb.triggers import Event, FallingEdge, Timer, with_timeout
from cocotb.task import resume

from ..hw.uart_protocol import uart_bits

__all__ = ["UartModel", "SimTransport", "UartFramingError"]


class UartFramingError(AssertionError):
    """The board sent a byte with a low stop bit."""


class UartModel:
    """Host end of a UART on ``rx_pin`` (host to board) and ``tx_pin`` (board to host).

    Parameters
    ----------
    rx_pin, tx_pin : cocotb handles
    bit_ns : int
        Bit time in ns (clock period times the bridge's divisor).
    timeout_ns : int
        Longest wait for a byte of a reply (a command waits for the core).
    """

    def __init__(self, rx_pin, tx_pin, *, bit_ns: int, timeout_ns: int):
        self.rx_pin, self.tx_pin, self.bit_ns, self.timeout_ns = rx_pin, tx_pin, bit_ns, timeout_ns
        self.received = bytearray()
        self._event = Event()
        rx_pin.value = 1

    async def send(self, data: bytes) -> None:
        levels = [b for byte in data for b in uart_bits(byte)]
        i = 0
        while i < len(levels):
            j = i
            while j < len(levels) and levels[j] == levels[i]:
                j += 1
            self.rx_pin.value = levels[i]
            await Timer((j - i) * self.bit_ns, "ns")
            i = j

    async def receiver(self) -> None:
        """Decode bytes from ``tx_pin`` forever (start it with ``cocotb.start_soon``), sampling
        the middle of each bit as a UART receiver does.  (Decoding from edge times instead,
        with ``First(Edge, Timer)`` per edge, was no faster on this machine.)"""
        half = self.bit_ns // 2
        while True:
            await FallingEdge(self.tx_pin)
            await Timer(half, "ns")
            byte = 0
            for i in range(8):
                await Timer(self.bit_ns, "ns")
                byte |= int(self.tx_pin.value) << i
            await Timer(self.bit_ns, "ns")
            if not int(self.tx_pin.value):
                raise UartFramingError(f"stop bit of byte 0x{byte:02x} was low")
            self.received.append(byte)
            self._event.set()

    async def read(self, n: int) -> bytes:
        while len(self.received) < n:
            self._event.clear()
            await with_timeout(self._event.wait(), self.timeout_ns, "ns")
        data = bytes(self.received[:n])
        del self.received[:n]
        return data


class SimTransport:
    """:class:`intsnn.host.transport.Transport` over a :class:`UartModel` (call it from a
    ``cocotb.task.bridge`` thread)."""

    name = "simulated UART"

    def __init__(self, uart: UartModel):
        self._send, self._read = resume(uart.send), resume(uart.read)

    def write(self, data: bytes) -> None:
        self._send(data)

    def read(self, n: int) -> bytes:
        return self._read(n)
