# amaranth: UnusedElaboratable=no
"""UART bridge vs its golden twin (``uart_protocol.ref_bridge``), bytes on the pins."""

from __future__ import annotations

import pytest

pytest.importorskip("amaranth")

from amaranth.sim import Simulator  # noqa: E402

from intsnn.golden.config import NetConfig  # noqa: E402
from intsnn.hw import host_protocol as hp  # noqa: E402
from intsnn.hw import uart_protocol as up  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.uart import UartRx, UartTx  # noqa: E402
from intsnn.hw.uart_bridge import UartBridge  # noqa: E402

DIV = 5  # odd: mid-bit sampling must not depend on an even divisor
NET = NetConfig(n_in=12, n_hidden=8, n_out=4, timesteps=4, batch_size=3, input_bits=3)
HW = HwConfig(net=NET, lanes=4)  # 12-bit beats: 2 bytes on the wire


def bus_word(a: int) -> int:
    """What the fake bus returns for address ``a`` (every byte differs)."""
    return (a * 0x9E3779B1 + 0x1234567) & 0xFFFFFFFF


# each case is a list of commands; the host sends the next one after the last one's reply
CASES = {
    "identify": [up.identify()],
    "write-sign-extend": [up.write(hp.addr(2, 3, 5), [-3, 7, -32768, 32767], w=2),
                          up.write(hp.addr(0, 0, hp.REG_LABEL), [2], w=1),
                          up.write(0x12345678, [-1, 5], w=4), up.write(hp.addr(3), [-70000], w=3)],
    "read-widths": [up.read(hp.addr(1, 0, 0), 3, w=4), up.read(hp.addr(2, 7, 9), 2, w=2),
                    up.read(0xFFFFFFFF, 2, w=1), up.read(hp.addr(3), 1, w=3)],
    "frames": [up.frames([0xABC, 0x001, 0xFFF, 0x800, 0x7FF], 2)],
    "command-and-bad-op": [up.command(hp.CMD_TRAIN), bytes([0x5A] + [0] * 7),
                           up.command(hp.CMD_UPDATE), up.read(hp.addr(0, 0, 1), 1)],
    "empty-bursts": [up.read(0, 0), up.write(4, []), up.frames([], 2)],
    "bad-word-width": [up.header(up.OP_READ, 0, 3, 8), up.header(up.OP_WRITE, 5, 1, 8),
                       up.read(8, 1, 1)],
}


def reply_len(cmd: bytes) -> int:
    return len(up.ref_bridge(cmd, bus_word, HW.lanes, NET.input_bits)[1])


def rtl_bridge(commands: list[bytes], busy_cycles: int = 7, stall: int = 3):
    """Run the bridge on ``commands`` (bytes on its rx pin, each sent after the reply to the one
    before, as the protocol requires); return (transactions, reply bytes).

    The fake core holds ``busy`` for ``busy_cycles`` after a COMMAND write and accepts a beat
    only every ``stall + 1`` cycles (back-pressure)."""
    dut = UartBridge(config=HW, divisor=DIV)
    tr, reply, lasts = [], bytearray(), []
    state = {"sent": False}
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def host(ctx):
        expected = 0
        for cmd in commands:
            for byte in cmd:
                for level in up.uart_bits(byte):
                    ctx.set(dut.rx, level)
                    await ctx.tick().repeat(DIV)
            expected += reply_len(cmd)
            while len(reply) < expected:
                await ctx.tick()
        state["sent"] = True

    async def core(ctx):
        busy, gap = 0, 0
        ctx.set(dut.done, 1)
        async for _clk, _rst, r_en, w_en, a in ctx.tick().sample(
                dut.bus.r_en, dut.bus.w_en, dut.bus.addr):
            ctx.set(dut.bus.r_valid, r_en)  # read data one cycle after r_en
            if r_en:
                ctx.set(dut.bus.r_data, bus_word(a))
            if w_en and a == hp.addr(hp.REGION_CTRL, 0, hp.REG_COMMAND):
                busy = busy_cycles
            ctx.set(dut.busy, busy > 0)
            busy = max(0, busy - 1)
            gap = (gap + 1) % (stall + 1)
            ctx.set(dut.frames.tready, gap == 0)

    async def monitor(ctx):
        async for _clk, _rst, w_en, r_en, a, d, fv, fr, fp, fl in ctx.tick().sample(
                dut.bus.w_en, dut.bus.r_en, dut.bus.addr, dut.bus.w_data,
                dut.frames.tvalid, dut.frames.tready, dut.frames.tdata.as_value(),
                dut.frames.tlast):
            if w_en:
                if a == hp.addr(hp.REGION_CTRL, 0, hp.REG_COMMAND):
                    tr.append(("cmd", d & 0xF))
                else:
                    tr.append(("w", a, d))
            if r_en:
                tr.append(("r", a))
            if fv and fr:
                tr.append(("beat", fp))
                lasts.append(fl)

    async def uart_out(ctx):
        """The host's receiver: exactly the reply bytes the twin predicts, then silence."""
        for _ in range(sum(map(reply_len, commands))):
            await ctx.tick().until(dut.tx == 0)
            await ctx.tick().repeat(DIV // 2)
            byte = 0
            for i in range(8):
                await ctx.tick().repeat(DIV)
                byte |= ctx.get(dut.tx) << i
            await ctx.tick().repeat(DIV)
            assert ctx.get(dut.tx) == 1, "stop bit low"
            reply.append(byte)
        for _ in range(12 * DIV):
            await ctx.tick()
            assert ctx.get(dut.tx) == 1, "a byte more than the twin predicts"
        assert state["sent"] and not ctx.get(dut.error)

    sim.add_process(host)
    sim.add_process(core)  # processes never keep the simulation running
    sim.add_process(monitor)
    sim.add_testbench(uart_out)
    sim.run()
    # tlast on every T*IW-th beat, counted over the whole session
    assert lasts == [int(i % HW.stream_beats == HW.stream_beats - 1) for i in range(len(lasts))]
    return tr, bytes(reply)


@pytest.mark.parametrize("name", CASES)
def test_bridge_matches_ref(name):
    exp_tr, exp_reply = up.ref_bridge(b"".join(CASES[name]), bus_word, HW.lanes, NET.input_bits)
    tr, reply = rtl_bridge(CASES[name])
    assert tr == exp_tr
    assert reply == exp_reply
    assert len(exp_reply) >= len(CASES[name])  # a status byte per command at least


def test_ref_bridge_values():
    """The twin itself, on hand-computed bytes."""
    tr, reply = up.ref_bridge(up.write(10, [-2], w=1) + up.identify(), bus_word, 4, 3)
    assert tr == [("w", 10, 0xFFFFFFFE)]
    assert reply == bytes([0xA2, 0x69, 0x73, 4, 3, 0xA2])
    tr, reply = up.ref_bridge(up.frames([0xABC], 2) + bytes([0x5A] + [0] * 7), bus_word, 4, 3)
    assert tr == [("beat", 0xABC)] and reply == bytes([0xA2, 0xB2])


@pytest.mark.parametrize("kw, msg", [
    ({"divisor": 3}, r"Baud divisor must be at least 4 clock cycles per bit, not 3"),
    ({"divisor": 8.0}, r"Baud divisor must be an integer, not 8\.0"),
])
def test_bad_divisor(kw, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        UartBridge(config=HW, **kw)
    with pytest.raises((ValueError, TypeError), match=msg):
        UartRx(**kw)
    with pytest.raises((ValueError, TypeError), match=msg):
        UartTx(**kw)


@pytest.mark.parametrize("call, msg", [
    (lambda: up.write(0, [256], w=1), r"value 256 does not fit 1 byte"),
    (lambda: up.read(0, 1, w=5), r"bus word width must be 1\.\.4 bytes, got 5"),
    (lambda: up.read(0, 70000), r"burst length must be in 0\.\.65535, got 70000"),
])
def test_bad_protocol_arguments(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()
