"""HostBus against its golden twin, the host protocol: every weight and count lands in (and is
read from) the word and lane ``host_protocol`` and ``HwConfig`` say; registers and commands;
nothing is written while access is disabled (Amaranth simulator)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from intsnn.golden.init import init_weights  # noqa: E402
from intsnn.hw import host_protocol as hp  # noqa: E402
from intsnn.hw.bench import Host, Rig, from_words, load, simulate, small_net, to_words, \
    words  # noqa: E402
from intsnn.hw.config import HwConfig  # noqa: E402
from intsnn.hw.host_bus import HostBus  # noqa: E402


def ref_memory_word(hw: HwConfig, region: int, row: int, col: int):
    """Golden twin: the memory, word and lane of ``addr(region, row, col)``."""
    L = hw.lanes
    if region == hp.REGION_COUNTS:
        return "counts", col // L, col % L
    name, stride = {hp.REGION_W_HIDDEN: ("w_hidden", hw.HW), hp.REGION_W_OUTPUT:
                    ("w_output", hw.OW), hp.REGION_W_RECURRENT: ("w_recurrent", hw.HW)}[region]
    return name, col * stride + row // L, row % L


@pytest.mark.parametrize("arch,lanes", [("snn", 1), ("rsnn", 4)])
def test_host_bus_follows_the_protocol(arch, lanes):
    cfg = small_net(arch, S=8, Q=4, n_hidden=7, n_out=3)
    hw = HwConfig(net=cfg, lanes=lanes)
    w = init_weights(cfg, seed=1)
    regions = [(hp.REGION_W_HIDDEN, w.hidden, cfg.shadow_bits),
               (hp.REGION_W_OUTPUT, w.output, cfg.shadow_bits)]
    if arch == "rsnn":
        regions.append((hp.REGION_W_RECURRENT, w.recurrent, cfg.inference_bits))
    counts = np.arange(cfg.n_out) + 1
    dut = HostBus(config=hw)
    rig = Rig(dut)
    seen = {}

    async def tb(ctx):
        host = Host(ctx, dut)
        ctx.set(dut.enable, 1)
        load(ctx, rig.rams["counts"], to_words(counts, lanes))
        for region, a, _ in regions:
            for (r, c), v in np.ndenumerate(a):
                await host.write(hp.addr(region, r, c), int(v))
        seen["readback"] = [[[await host.read(hp.addr(region, r, c), bits)
                              for c in range(a.shape[1])] for r in range(a.shape[0])]
                            for region, a, bits in regions]
        seen["memories"] = {name: words(ctx, ram) for name, ram in rig.rams.items()}
        seen["counts"] = [await host.read(hp.addr(hp.REGION_COUNTS, 0, o))
                          for o in range(cfg.n_out)]
        # registers
        for sig, v in ((dut.busy, 1), (dut.done, 0), (dut.frames_ready, 1), (dut.prediction, 2),
                       (dut.cycles, 123456), (dut.samples, 7)):
            ctx.set(sig, v)
        await host.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_LABEL), 2)
        await host.set_loss_keys(0xFEDCBA9876543210, 41)
        ctx.set(dut.update_done, 1)     # an UPDATE finished: UPDATES counts up
        await ctx.tick()
        ctx.set(dut.update_done, 0)
        seen["keys"] = (ctx.get(dut.seed), ctx.get(dut.updates))
        seen["regs"] = [await host.read(hp.addr(hp.REGION_CTRL, 0, reg)) for reg in (
            hp.REG_STATUS, hp.REG_LABEL, hp.REG_PREDICTION, hp.REG_CYCLES, hp.REG_SAMPLES,
            hp.REG_SEED_LO, hp.REG_SEED_HI, hp.REG_UPDATES)]
        # a COMMAND write is a one-cycle strobe with the code, the cycle after w_en
        ctx.set(dut.bus.addr, hp.addr(hp.REGION_CTRL, 0, hp.REG_COMMAND))
        ctx.set(dut.bus.w_data, hp.CMD_UPDATE)
        ctx.set(dut.bus.w_en, 1)
        seen["command_before"] = ctx.get(dut.command_valid)
        await ctx.tick()
        ctx.set(dut.bus.w_en, 0)
        seen["command"] = (ctx.get(dut.command_valid), ctx.get(dut.command))
        await ctx.tick()
        seen["command_after"] = ctx.get(dut.command_valid)
        # access disabled (a command runs): no weight or LABEL write
        ctx.set(dut.enable, 0)
        await host.write(hp.addr(hp.REGION_W_OUTPUT, 0, 0), 5)
        await host.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_LABEL), 1)
        seen["disabled"] = (words(ctx, rig.rams["w_output"]) == seen["memories"]["w_output"],
                            await host.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_LABEL)))

    simulate(rig, tb)
    mems = seen["memories"]
    for (region, a, bits), back in zip(regions, seen["readback"]):
        np.testing.assert_array_equal(back, a)          # read back, sign-extended
        for (r, c), v in np.ndenumerate(a):
            name, word, lane = ref_memory_word(hw, region, r, c)
            assert mems[name][word][lane] == v, (name, r, c)
    np.testing.assert_array_equal(seen["counts"], counts)
    assert from_words(mems["counts"], cfg.n_out).tolist() == counts.tolist()
    assert seen["keys"] == (0xFEDCBA9876543210, 42)
    assert seen["regs"] == [hp.STATUS_BUSY | hp.STATUS_FRAMES_READY, 2, 2, 123456, 7,
                            0x76543210, 0xFEDCBA98, 42]
    assert seen["command"] == (1, hp.CMD_UPDATE) and seen["command_after"] == 0
    assert seen["command_before"] == 0
    assert seen["disabled"] == (True, 2)
