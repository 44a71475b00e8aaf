# amaranth: UnusedElaboratable=no
"""The building blocks against plain-Python twins: the shared Ram (a dict of words), the
balanced reductions (``numpy.argmax``, the lowest set bit), the word walker (Amaranth
simulator).  (The first line tells Amaranth not to warn about components its constructors
rejected.)"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from amaranth.hdl import Module, Signal  # noqa: E402

from intsnn.hw.bench import simulate  # noqa: E402
from intsnn.hw.config import MemorySpec  # noqa: E402
from intsnn.hw.banked_ram import BankedRam  # noqa: E402
from intsnn.hw.ram import Ram  # noqa: E402
from intsnn.hw.trees import argmax_tree, lowest_set  # noqa: E402
from intsnn.hw.walk import WordWalker  # noqa: E402


def ref_ram(spec: MemorySpec, init, ops):
    """Golden twin: a list of words; per cycle ``(reads, writes)``: the read data of the first
    enabled reader (the previous contents, or the new ones when transparent), then the first
    enabled writer's enabled lanes."""
    mem = [list(w) for w in init]
    out = []
    for reads, writes in ops:
        write = next(((a, d, en) for a, d, en in writes if any(en)), None)
        if write and spec.transparent:
            a, d, en = write
            mem[a] = [d[j] if en[j] else mem[a][j] for j in range(spec.lanes)]
        addr = next((a for a, en in reads if en), None)
        out.append(None if addr is None else list(mem[addr]))
        if write and not spec.transparent:
            a, d, en = write
            mem[a] = [d[j] if en[j] else mem[a][j] for j in range(spec.lanes)]
    return out


def rtl_ram(spec: MemorySpec, init, ops):
    ram = Ram(spec=spec, readers=["a", "b"], writers=["a", "b"])
    ram.data.init = init
    out = []

    async def tb(ctx):
        for reads, writes in ops:
            for (addr, en), port in zip(reads, (ram.r_a, ram.r_b)):
                ctx.set(port.en, en)
                ctx.set(port.addr, addr)
            for (addr, d, en), port in zip(writes, (ram.w_a, ram.w_b)):
                ctx.set(port.addr, addr)
                ctx.set(port.data, d)
                ctx.set(port.en, sum(e << j for j, e in enumerate(en)))
            await ctx.tick()
            out.append([int(v) for v in ctx.get(ram.r_a.data)] if any(e for _, e in reads)
                       else None)

    simulate(ram, tb)
    return out


@pytest.mark.parametrize("transparent", [False, True])
def test_ram_matches_a_list_of_words(transparent):
    spec = MemorySpec(5, 6, 3, signed=True, write_enables="lane", transparent=transparent,
                      init=transparent)
    rng = np.random.default_rng(int(transparent))
    init = rng.integers(-32, 32, (5, 3)).tolist()
    ops = []
    for _ in range(60):
        reads = [(int(rng.integers(5)), int(rng.random() < 0.5)) for _ in range(2)]
        writes = [(int(rng.integers(5)), rng.integers(-32, 32, 3).tolist(),
                   (rng.random(3) < 0.5).astype(int).tolist() if rng.random() < 0.6
                   else [0, 0, 0]) for _ in range(2)]
        ops.append((reads, writes))
    want = ref_ram(spec, init, ops)
    assert rtl_ram(spec, init, ops) == want
    assert sum(w is not None for w in want) > 20


def ref_banked(init, ops):
    """Golden twin of a BankedRam: two lists of words; per cycle ``(bank, compute read addr,
    fill read addr, fill write (addr, data) or None)``: the compute side reads bank ``bank``,
    the fill side bank ``1 - bank`` (contents before the cycle's write)."""
    mem = [[list(w) for w in b] for b in init]
    out = []
    for bank, rc, rf, wf in ops:
        out.append((list(mem[bank][rc]), list(mem[1 - bank][rf])))
        if wf is not None:
            mem[1 - bank][wf[0]] = list(wf[1])
    return out


def rtl_banked(spec, init, ops):
    ram = BankedRam(spec=spec, readers=["c", "f"], writers=["f"], fill=["f"])
    for b in range(2):
        ram.banks[b].init = init[b]
    out = []

    async def tb(ctx):
        for bank, rc, rf, wf in ops:
            ctx.set(ram.bank, bank)
            ctx.set(ram.r_c.en, 1)
            ctx.set(ram.r_c.addr, rc)
            ctx.set(ram.r_f.en, 1)
            ctx.set(ram.r_f.addr, rf)
            ctx.set(ram.w_f.en, wf is not None)
            if wf is not None:
                ctx.set(ram.w_f.addr, wf[0])
                ctx.set(ram.w_f.data, wf[1])
            await ctx.tick()
            out.append(([int(v) for v in ctx.get(ram.r_c.data)],
                        [int(v) for v in ctx.get(ram.r_f.data)]))

    simulate(ram, tb)
    return out


def test_banked_ram_matches_two_lists():
    """The compute side sees bank ``bank`` and the fill side the other, with ``bank``
    changing in any cycle (the data of a read follows the bank of the cycle it was issued)."""
    spec = MemorySpec(4, 5, 2, banks=2)
    rng = np.random.default_rng(4)
    init = rng.integers(0, 32, (2, 4, 2)).tolist()
    ops = [(int(rng.integers(2)), int(rng.integers(4)), int(rng.integers(4)),
            (int(rng.integers(4)), rng.integers(0, 32, 2).tolist()) if rng.random() < 0.5
            else None) for _ in range(80)]
    assert rtl_banked(spec, init, ops) == ref_banked(init, ops)
    with pytest.raises(ValueError, match=r"needs spec.banks == 2, not 1"):
        BankedRam(spec=spec._replace(banks=1), readers=["c"])
    with pytest.raises(ValueError, match=r"fill clients \['x'\] are neither"):
        BankedRam(spec=spec, readers=["c"], fill=["x"])


def test_ram_arguments():
    spec = MemorySpec(4, 8, 2)
    with pytest.raises(TypeError, match=r"spec must be a MemorySpec, not 4"):
        Ram(spec=4, readers=["a"])
    with pytest.raises(ValueError, match=r"reader names must be unique, not \('a', 'a'\)"):
        Ram(spec=spec, readers=["a", "a"])
    with pytest.raises(TypeError, match=r"writer names must be identifiers, not '2x'"):
        Ram(spec=spec, writers=["2x"])
    with pytest.raises(ValueError, match=r"at least one reader or writer"):
        Ram(spec=spec)
    with pytest.raises(ValueError, match=r"slot write enables need slots > 1"):
        Ram(spec=spec._replace(write_enables="slot"), readers=["a"])


def test_argmax_and_lowest_set():
    """argmax_tree = numpy.argmax over valid leaves (lowest index on ties); lowest_set = the
    lowest set bit; both over 13 leaves (an odd, non-power-of-two tree)."""
    n = 13
    m = Module()
    valid, values, mask = Signal(n), [Signal(4, name=f"v{j}") for j in range(n)], Signal(n)
    found, best, index = argmax_tree(m, [(valid[j], values[j], j) for j in range(n)])
    any_set, lowest = lowest_set(m, mask)
    rng = np.random.default_rng(3)
    cases = [(rng.integers(0, 1 << n), rng.integers(0, 16 if k % 2 else 3, n),
              rng.integers(0, 1 << n)) for k in range(200)] + [(0, np.zeros(n, int), 0)]
    got = []

    async def tb(ctx):
        for v, vals, msk in cases:
            ctx.set(valid, int(v))
            ctx.set(mask, int(msk))
            for s, x in zip(values, vals):
                ctx.set(s, int(x))
            got.append((ctx.get(found), ctx.get(best), ctx.get(index), ctx.get(any_set),
                        ctx.get(lowest)))
            await ctx.delay(1e-9)

    sim_m = m
    from amaranth.sim import Simulator
    sim = Simulator(sim_m)
    sim.add_testbench(tb)
    sim.run()
    for (v, vals, msk), (f, b, i, a, lo) in zip(cases, got):
        ok = [(v >> j) & 1 for j in range(n)]
        assert f == any(ok)
        if any(ok):
            masked = np.where(ok, vals, -1)
            assert (i, b) == (int(np.argmax(masked)), int(masked.max()))
        assert a == (msk != 0)
        if msk:
            assert lo == (int(msk) & -int(msk)).bit_length() - 1


@pytest.mark.parametrize("count,drain", [(1, 0), (5, 0), (3, 2)])
def test_word_walker(count, drain):
    """k = 0..count-1 on consecutive cycles after start, done in the last cycle of the drain;
    a second start while draining restarts."""
    walk = WordWalker(count=count, drain=drain)
    trace = []

    async def tb(ctx):
        for _ in range(2):
            ctx.set(walk.start, 1)
            await ctx.tick()
            ctx.set(walk.start, 0)
            for _ in range(count + drain + 1):
                trace.append((ctx.get(walk.active), ctx.get(walk.k), ctx.get(walk.last),
                              ctx.get(walk.done)))
                await ctx.tick()

    simulate(walk, tb)
    one = ([(1, k, int(k == count - 1), int(drain == 0 and k == count - 1))
            for k in range(count)] + [(0, 0, 0, int(d == drain - 1)) for d in range(drain)]
           + [(0, 0, 0, 0)])
    assert trace == one + one
    with pytest.raises(TypeError, match=r"count must be a positive integer, not 0"):
        WordWalker(count=0)


def test_banked_verilog_matches_a_list_of_words(tmp_path):
    """The generated Verilog of a deep memory (5 depth banks, an ``intsnn_ram`` each, each bank's
    output registered in the fabric) against :func:`ref_ram` under Icarus: reader ``a`` with
    read latency 2 sees what the list of words gave one cycle earlier, reader ``b`` (latency
    1, the banks multiplexed directly) what it gave; lane write enables across the banks."""
    import shutil
    import subprocess

    from amaranth.back import verilog

    from intsnn.hw.ram import RAM_MODULE, RAM_VERILOG, GeneratorPlatform

    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        pytest.skip("Icarus Verilog is not installed")
    spec = MemorySpec(4200, 9, 2, signed=True, write_enables="lane")
    assert spec.bank_depth == 1024 and spec.depth_banks == 5
    ram = Ram(spec=spec, readers=["a", "b"], writers=["w"], latency={"a": 2})
    text = verilog.convert(ram, name="dut", platform=GeneratorPlatform(), emit_src=False)
    assert text.count(f"{RAM_MODULE} #(") == 5 and "bank4" in text   # one memory per bank
    rng = np.random.default_rng(7)
    # fill every word (an unwritten word reads x), then random reads and lane writes
    ops = [([(a, 0)], [(a, rng.integers(-256, 256, 2).tolist(), [1, 1])])
           for a in range(spec.depth)]
    for _ in range(400):
        a = int(rng.integers(spec.depth))
        ops.append(([(a, int(rng.random() < 0.8))],
                    [(int(rng.integers(spec.depth)), rng.integers(-256, 256, 2).tolist(),
                      (rng.random(2) < 0.5).astype(int).tolist())]))
    want = ref_ram(spec, [[0, 0]] * spec.depth, ops)
    lines = []
    for (reads, writes) in ops:
        (ra, ren), (wa, wd, wen) = reads[0], writes[0]
        word = sum((d & 0x1FF) << (9 * j) for j, d in enumerate(wd))
        lines.append(f"r_en = {ren}; r_addr = {ra}; w_addr = {wa}; w_data = {word}; "
                     f"w_en = {wen[0] | (wen[1] << 1)}; @(posedge clk); #1 "
                     f'$display("%0d %0d", a_data, b_data);')
    tb = (f"module tb; reg clk = 0; always #5 clk = ~clk;\n"
          f"reg r_en; reg [12:0] r_addr, w_addr; reg [17:0] w_data; reg [1:0] w_en;\n"
          f"wire [17:0] a_data, b_data;\n"
          f"dut d(.clk(clk), .rst(1'b0), .r_a__en(r_en), .r_a__addr(r_addr), "
          f".r_a__data(a_data), .r_b__en(1'b0), .r_b__addr(13'd0), .r_b__data(b_data), "
          f".w_w__en(w_en), .w_w__addr(w_addr), .w_w__data(w_data));\n"
          f"initial begin\n" + "\n".join(lines) + "\n$finish; end\nendmodule\n")
    (tmp_path / "t.v").write_text(text + RAM_VERILOG + tb)
    subprocess.run(["iverilog", "-g2005", "-o", "t.vvp", "t.v"], cwd=tmp_path, check=True)
    out = subprocess.run(["vvp", "-n", "t.vvp"], cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout.split("\n")

    def lanes(v):
        return [((int(v) >> (9 * j)) & 0x1FF) - (((int(v) >> (9 * j)) & 0x100) << 1)
                for j in range(2)]

    got = [line.split() for line in out if len(line.split()) == 2]
    assert len(got) == len(ops)
    last = None
    checked = 0
    for c, (a_data, b_data) in enumerate(got):
        if want[c] is not None:
            assert lanes(b_data) == want[c], c          # latency 1
            last = want[c]
        if c + 1 < len(got) and last is not None:
            assert lanes(got[c + 1][0]) == last, c       # latency 2: one cycle later, held
            checked += 1
    assert checked > 300
