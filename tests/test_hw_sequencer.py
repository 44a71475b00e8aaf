"""Sequencer against its twin, the schedule: engines are stand-ins that finish after a fixed
number of cycles; the starts must come in the order of one time step of
``reference.forward`` (then error, feedback, deltas), and CYCLES must be the sum of the engines'
cycles plus the final one, as ``intsnn.hw.cycles`` adds them (Amaranth simulator)."""

from __future__ import annotations

import pytest

pytest.importorskip("amaranth")

from intsnn.hw import host_protocol as hp  # noqa: E402
from intsnn.hw.bench import simulate, small_net  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.event_engine import SRC_INPUT, SRC_RECURRENT, SRC_SPIKES  # noqa: E402
from intsnn.hw.sequencer import Sequencer  # noqa: E402

ENGINES = ("events", "hidden", "output", "error", "feedback", "deltas", "update", "noise",
           "error_neurons")
CYCLES = {"events": 3, "hidden": 2, "output": 4, "error": 2, "feedback": 5, "deltas": 6,
          "update": 7, "noise": 3, "error_neurons": 2}


def ref_schedule(hw: HwConfig, command: int):
    """The engines a command starts, in order: ``(engine, t, event source)``."""
    cfg = hw.net
    if command == hp.CMD_UPDATE:
        return [("update", None, None)]      # t: not used
    out = []
    for t in range(cfg.timesteps):
        out.append(("events", t, SRC_INPUT))
        if cfg.arch == "rsnn" and t > 0:
            out.append(("events", t, SRC_RECURRENT))
        out += [("hidden", t, None), ("events", t, SRC_SPIKES), ("output", t, None)]
        if (command == hp.CMD_TRAIN and cfg.error_mode == "feedback"
                and t >= cfg.soft_error_start):
            if cfg.loss == "random":
                out.append(("noise", t, None))
            out.append(("error_neurons", t, None))
    t = cfg.timesteps - 1
    if command == hp.CMD_TRAIN and cfg.loss == "random" and cfg.error_mode != "feedback":
        out.append(("noise", t, None))
    out.append(("error", t, None))
    if command == hp.CMD_TRAIN:
        out += [("feedback", t, None), ("deltas", t, None)]
    return out


def rtl_schedule(hw: HwConfig, commands):
    """Reset, then each command; the starts (with ``update_clear``), and per command the CYCLES
    register once ``busy`` is low."""
    seq = Sequencer(config=hw)
    starts, cycles = [], []

    async def tb(ctx):
        pending = {}          # engine -> cycles until its done
        ctx.set(seq.frames_ready, 1)

        async def step():
            for e in ENGINES:
                ctx.set(getattr(seq, e).done, int(pending.get(e) == 1))
            started = []
            for e in ENGINES:
                if ctx.get(getattr(seq, e).start):
                    pending[e] = CYCLES[e] + 1
                    started.append((e, ctx.get(seq.event_src) if e == "events" else None,
                                    ctx.get(seq.update_clear)))
            await ctx.tick()
            # the time step the engine sees in its first cycle
            starts.extend((e, ctx.get(seq.t), src, clear) for e, src, clear in started)
            for e in list(pending):
                pending[e] -= 1
                if pending[e] == 0:
                    del pending[e]

        while ctx.get(seq.busy):      # the delta clear after reset
            assert ctx.get(seq.host_access) and not ctx.get(seq.idle)
            await step()
        for command in commands:
            assert ctx.get(seq.idle) and ctx.get(seq.host_access)
            ctx.set(seq.command_valid, 1)
            ctx.set(seq.command, command)
            await step()
            ctx.set(seq.command_valid, 0)
            while ctx.get(seq.busy):
                assert not ctx.get(seq.idle)
                await step()
            cycles.append(ctx.get(seq.cycles))

    simulate(seq, tb)
    return starts, cycles


@pytest.mark.parametrize("arch,mode,loss,start", [
    ("snn", "direct", "standard", 0), ("rsnn", "direct", "standard", 0),
    ("snn", "final", "random", 0), ("snn", "feedback", "standard", 1),
    ("rsnn", "feedback", "random", 0), ("snn", "feedback", "random", 3)])
def test_schedule(arch, mode, loss, start):
    net = small_net(arch, timesteps=3).replace(error_mode=mode, loss=loss,
                                               soft_error_start=start)
    hw = HwConfig(net=net, lanes=2)
    commands = [hp.CMD_TRAIN, hp.CMD_INFER, hp.CMD_UPDATE]
    starts, cycles = rtl_schedule(hw, commands)
    assert starts[0][0] == "update" and starts[0][3] == 1   # clear the deltas after reset
    rest = starts[1:]
    for command, n in zip(commands, cycles):
        want = ref_schedule(hw, command)
        got, rest = rest[:len(want)], rest[len(want):]
        assert [(e, None if e == "update" else t, s) for e, t, s, _ in got] == want
        assert all(clear == 0 for *_, clear in got)
        assert n == sum(CYCLES[e] for e, _, _ in want) + 1
    assert rest == []
