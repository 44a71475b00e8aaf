"""cocotb bench: the host driver trains the simulated board top through its UART pins.

Imported by cocotb inside the simulator (:func:`intsnn.sim.board_cosim.board_cosimulate`
builds and starts it); not a pytest module.  ``sim_params()`` gives ``data`` (the npz of
:func:`intsnn.host.fpga.prepare`), ``result`` (JSON written here), ``config``, ``lanes``,
``divisor`` and ``progress`` (a one-line ``done total`` file).

The top is :class:`intsnn.hw.board.top.BoardTop` (reset synchroniser, UART bridge, core); the
bench drives only its pins: the clock, the asynchronous reset, and a UART model
(:mod:`intsnn.sim.uart_model`) on ``uart_rx``/``uart_tx``.  The host driver's own session
(:func:`intsnn.host.session.run_session`) runs unchanged in a bridge thread; the test fails
when it found a mismatch, or when the done LED does not match the core's last command.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge
from cocotb.triggers import ClockCycles, Timer
from cocotb.utils import get_sim_time

from intsnn.golden.config import NetConfig
from intsnn.host.link import BoardLink
from intsnn.host.session import run_session
from intsnn.sim.runner import sim_params
from intsnn.sim.uart_model import SimTransport, UartModel
from intsnn.sw.outputs import write_json, write_text

CLOCK_NS = 10


@cocotb.test()
async def board(dut):
    p = sim_params()
    cfg = NetConfig.from_dict(p["config"])
    d = dict(np.load(p["data"]))
    Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start()
    uart = UartModel(dut.uart_rx, dut.uart_tx, bit_ns=CLOCK_NS * int(p["divisor"]),
                     timeout_ns=CLOCK_NS * 50_000_000)
    # the reset button, pressed between clock edges (asynchronous)
    dut.rst_in.value = 1
    await Timer(33, "ns")
    dut.rst_in.value = 0
    await ClockCycles(dut.clk, 4)
    cocotb.start_soon(uart.receiver())
    link = BoardLink(SimTransport(uart), lanes=int(p["lanes"]), input_bits=cfg.input_bits)

    def progress(done, total):
        write_text(p["progress"], f"{done} {total}\n", fsync=False)

    res = await bridge(run_session)(link, d, cfg, progress)
    res["sim_time_ns"] = float(get_sim_time("ns"))
    res["leds"] = {"busy": int(dut.led_busy.value), "done": int(dut.led_done.value),
                   "error": int(dut.led_error.value)}
    write_json(p["result"], res, fsync=False, indent=None)
    assert res["leds"] == {"busy": 0, "done": 1, "error": 0}, res["leds"]
    if res["mismatches"]:
        m = res["mismatches"][0]
        raise AssertionError(f"{len(res['mismatches'])} mismatch(es) with the golden model; "
                             f"first: {m['phase']} sample {m['sample']}, {m['signal']} "
                             f"{m['index']}: expected {m['expected']}, got {m['actual']}")
