"""On-chip memories shared by several engines, and how the generator emits them.

:class:`Ram` is one :class:`amaranth.lib.memory.Memory` whose shape is an
:class:`~amaranth.lib.data.ArrayLayout` of lanes (and time slots), so ``data[j]`` is lane ``j``
and the write port's enables are derived per lane or per slot by ``lib.memory``; its single read
and write ports are shared by named *clients* (one member per client, the engines connect to them
with :func:`amaranth.lib.wiring.connect`).  The schedule never lets two clients use a port in the
same cycle; a client that is not accessing holds its read ``en`` / write ``en`` low, and the first
client (in the order given) that asserts it wins.

Generation: Amaranth writes a memory's initial contents one constant bit at a time, which for
the weight and delta memories of a full network was most of the time ``intsnn generate`` took,
and writes a line per word into the Verilog.  The memories whose contents need no initial value
(:attr:`~intsnn.hw.config.MemorySpec.init` false: loaded over the bus, cleared after reset, or
written before they are read) carry the attribute :data:`NO_INIT`; the generator elaborates with
:class:`GeneratorPlatform`, whose ``get_memory`` (Amaranth's documented override of memory
lowering) instantiates :data:`RAM_VERILOG`'s ``intsnn_ram`` for them instead.  The Amaranth
simulator uses ``lib.memory`` for all memories.

Read latency 2 (issue 9, the clock): a reader may ask for its data one cycle later
(``latency={name: 2}``).  What it gets is the latency-1 data registered, so it holds as the
latency-1 data does; in the generated Verilog a block memory of several depth banks
(:attr:`~intsnn.hw.config.MemorySpec.depth_banks`) is then one ``intsnn_ram`` per bank (so
synthesis cannot merge them back into one cascade), each bank's block-RAM output registered in
the fabric next to it, and those registers multiplexed by the registered bank of the read: the
block's 5.8 ns clock-to-out and the depth multiplexer are in different cycles.  (Clearing the
unread banks' registers and ORing them, which needs no select, made Yosys's abc9 fail an
assertion on mnist-snn.)
"""

from __future__ import annotations

from amaranth.hdl import Cat, ClockSignal, Const, Instance, MemoryData, MemoryInstance, Module, \
    Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory, ReadPort, WritePort
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import MemorySpec, check_config

__all__ = ["Ram", "MemoryClient", "ram_shape", "read_signature", "write_signature",
           "client_members", "GeneratorPlatform", "RAM_VERILOG", "RAM_MODULE", "LUTRAM_MODULE",
           "LUTRAM_ATTRS", "NO_INIT", "memory_attrs", "read_latencies"]

#: Memory attribute marking contents that need no initial value.
NO_INIT = "intsnn_no_init"
#: Name of the Verilog RAM module in :data:`RAM_VERILOG` (block RAM), and of its LUT-RAM twin.
RAM_MODULE = "intsnn_ram"
LUTRAM_MODULE = "intsnn_lutram"
#: The synthesis attribute (Yosys ``memory_libmap``, also Vivado) that asks for LUT RAM.
LUTRAM_ATTRS = {"ram_style": "distributed"}


def memory_attrs(spec: MemorySpec) -> dict:
    """The attributes a memory of ``spec`` is elaborated with (:data:`NO_INIT` when it has no
    initial contents, :data:`LUTRAM_ATTRS` when it is LUT RAM)."""
    attrs = {} if spec.init else {NO_INIT: 1}
    if spec.kind == "lut":
        attrs.update(LUTRAM_ATTRS)
    return attrs


def read_latencies(latency, readers) -> dict:
    """Reader name -> read latency (1 or 2; 1 where ``latency`` names none), refusing a name
    that is not among ``readers`` or another latency."""
    latency = dict(latency or {})
    for n, lat in latency.items():
        if n not in readers:
            raise ValueError(f"latency names {n!r}, which is not a reader of {tuple(readers)!r}")
        if lat not in (1, 2):
            raise ValueError(f"read latency of {n!r} must be 1 or 2, not {lat!r}")
    return {n: latency.get(n, 1) for n in readers}


def _ram_verilog(module: str, attrs: str) -> str:
    return f"""
// {module}: an intsnn_core memory without initial contents (its words are loaded over the
// bus, cleared after reset, or written before they are read).  One synchronous read port with
// read enable, returning the contents before a write in the same cycle (not transparent), and
// one write port with EN_WIDTH enables of WIDTH/EN_WIDTH bits each: the behaviour of
// amaranth.lib.memory's ports.  Emitted by intsnn.hw.ram.GeneratorPlatform.
module {module} #(
    parameter integer ABITS = 1,
    parameter integer DEPTH = 2,
    parameter integer WIDTH = 1,
    parameter integer EN_WIDTH = 1
) (
    input  wire                clk,
    input  wire                r_en,
    input  wire [ABITS-1:0]    r_addr,
    output reg  [WIDTH-1:0]    r_data,
    input  wire [ABITS-1:0]    w_addr,
    input  wire [WIDTH-1:0]    w_data,
    input  wire [EN_WIDTH-1:0] w_en
);
    localparam integer PART = WIDTH / EN_WIDTH;
    {attrs}reg [WIDTH-1:0] mem [0:DEPTH-1];
    integer i;
    always @(posedge clk) begin
        // the outer test keeps event-driven simulators (Icarus) out of the loop on the many
        // cycles without a write; synthesis folds it into the part enables
        if (w_en != 0)
            for (i = 0; i < EN_WIDTH; i = i + 1)
                if (w_en[i]) mem[w_addr][i*PART +: PART] <= w_data[i*PART +: PART];
        if (r_en) r_data <= mem[r_addr];
    end
endmodule
"""


RAM_VERILOG = _ram_verilog(RAM_MODULE, "") + _ram_verilog(
    LUTRAM_MODULE, "(* " + ", ".join(f'{k} = "{v}"' for k, v in LUTRAM_ATTRS.items()) + " *) ")


def ram_shape(spec: MemorySpec):
    """``(shape, granularity)`` of a memory: lanes (and slots) as ``ArrayLayout``s."""
    elem = signed(spec.bits) if spec.signed else unsigned(spec.bits)
    shape = data.ArrayLayout(elem, spec.lanes)
    if spec.slots > 1:
        shape = data.ArrayLayout(shape, spec.slots)
    gran = {"word": None, "lane": 1, "slot": 1}[spec.write_enables]
    if spec.write_enables == "lane" and spec.slots > 1:
        raise ValueError(f"lane write enables need a memory without slots, not {spec!r}")
    if spec.write_enables == "slot" and spec.slots == 1:
        raise ValueError(f"slot write enables need slots > 1, not {spec!r}")
    return shape, gran


def read_signature(spec: MemorySpec) -> ReadPort.Signature:
    """Signature of a read port of the memory (a client uses ``In(read_signature(spec))``)."""
    return ReadPort.Signature(addr_width=ceil_log2(spec.depth), shape=ram_shape(spec)[0])


def write_signature(spec: MemorySpec) -> WritePort.Signature:
    """Signature of a write port of the memory (a client uses ``In(write_signature(spec))``)."""
    shape, gran = ram_shape(spec)
    return WritePort.Signature(addr_width=ceil_log2(spec.depth), shape=shape, granularity=gran)


def client_members(config, ports: dict) -> dict:
    """Signature members of an engine's memory clients.

    ``ports``: member name -> ``(memory name, "r" | "w")`` (the memory's
    :class:`~intsnn.hw.config.MemorySpec` comes from ``config.memories``).
    """
    mems = config.memories
    return {name: In(read_signature(mems[mem]) if kind == "r" else write_signature(mems[mem]))
            for name, (mem, kind) in ports.items()}


class MemoryClient(wiring.Component):
    """Base of the engines: a component that uses the core's memories through client ports.

    Parameters
    ----------
    config : :class:`~intsnn.hw.config.HwConfig`
    ports : dict
        Member name -> ``(memory name, "r" | "w")``; each becomes a member
        ``In(read_signature(...))`` / ``In(write_signature(...))``.
    members : dict
        The engine's other signature members.
    latency : dict, optional
        Read member name -> the read latency it is built for (1, the default, or 2; the
        :class:`Ram` delivers it).
    """

    def __init__(self, *, config, ports, members, latency=None):
        self._config = check_config(config)
        self._ports = dict(ports)
        self._latency = {n: 1 for n, (_, k) in self._ports.items() if k == "r"}
        for n, lat in dict(latency or {}).items():
            if n not in self._latency:
                raise ValueError(f"latency names {n!r}, which is no read port of {ports!r}")
            self._latency[n] = lat
        super().__init__({**members, **client_members(self._config, self._ports)})

    @property
    def config(self):
        return self._config

    @property
    def memory_ports(self) -> dict:
        """Member name -> ``(memory name, "r" | "w")``: what the core connects to which
        :class:`Ram`."""
        return dict(self._ports)

    @property
    def read_latency(self) -> dict:
        """Read member name -> its read latency (what the core asks the :class:`Ram` for)."""
        return dict(self._latency)

    def port_list(self, kind: str) -> list:
        """The engine's read (``"r"``) or write (``"w"``) client ports."""
        return [getattr(self, n) for n, (_, k) in self._ports.items() if k == kind]


def _check_names(kind, names):
    names = tuple(names)
    for n in names:
        if not isinstance(n, str) or not n.isidentifier():
            raise TypeError(f"{kind} names must be identifiers, not {n!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{kind} names must be unique, not {names!r}")
    return names


def _first(clients, enable, field):
    """``field`` of the first client whose ``enable`` is set (the last one by default)."""
    value = getattr(clients[-1], field)
    for c in reversed(clients[:-1]):
        value = Mux(enable(c), getattr(c, field), value)
    return value


class Ram(wiring.Component):
    """A memory with one read and one write port, each shared by named clients.

    Parameters
    ----------
    spec : :class:`~intsnn.hw.config.MemorySpec`
        Depth, lanes, slots, element width, write enables, initial contents, transparency.
    readers, writers : sequence of str
        Client names, highest priority first (at least one client).
    latency : dict, optional
        Reader name -> read latency, 1 (the default) or 2: the data of a read issued in cycle
        ``c`` is on ``data`` from cycle ``c + latency`` and holds until the next read's.

    Members
    -------
    r_<reader> : ``Out(ReadPort.Signature(...))``
        A read client: ``en``, ``addr`` in; ``data`` (the shared read data, an ``ArrayView``)
        out.  ``en`` resets to 1 (as in ``lib.memory``): a client drives it.
    w_<writer> : ``Out(WritePort.Signature(...))``
        A write client: ``en`` (one bit per lane, slot or word), ``addr``, ``data`` in.

    Attributes
    ----------
    data : :class:`~amaranth.hdl.MemoryData`
        The contents (testbenches read and write them with ``ctx.get(ram.data[i])``).
    """

    def __init__(self, *, spec, readers=(), writers=(), latency=None):
        if not isinstance(spec, MemorySpec):
            raise TypeError(f"spec must be a MemorySpec, not {spec!r}")
        if spec.depth < 1:
            raise ValueError(f"depth must be positive, not {spec.depth!r}")
        self._spec = spec
        self._readers = _check_names("reader", readers)
        self._writers = _check_names("writer", writers)
        if not self._readers and not self._writers:
            raise ValueError("a memory needs at least one reader or writer")
        self._latency = read_latencies(latency, self._readers)
        shape, self._granularity = ram_shape(spec)
        members = {f"r_{n}": Out(read_signature(spec)) for n in self._readers}
        members.update({f"w_{n}": Out(write_signature(spec)) for n in self._writers})
        super().__init__(members)
        self._data = MemoryData(shape=shape, depth=spec.depth, init=[])

    @property
    def spec(self) -> MemorySpec:
        return self._spec

    @property
    def data(self) -> MemoryData:
        return self._data

    @property
    def latency(self) -> dict:
        """Reader name -> read latency."""
        return dict(self._latency)

    def _banked(self, platform) -> bool:
        """Build one memory per depth bank (generator, a block memory without initial contents
        of several depth banks, a reader with latency 2)."""
        spec = self._spec
        return (isinstance(platform, GeneratorPlatform) and not spec.init
                and not spec.transparent and spec.depth_banks > 1
                and 2 in self._latency.values())

    def _bank_memories(self, m, shape, r_en, r_addr, w_en, w_addr, w_data):
        """The banks of :meth:`_banked`: ``(data1, data2)``, the read data with latency 1 (the
        banks' outputs multiplexed) and 2 (each bank's output registered, then multiplexed by
        the bank of the read, registered twice)."""
        spec = self._spec
        bbits = ceil_log2(spec.bank_depth)
        sel = Signal(len(r_addr) - bbits)        # the bank of the last read
        with m.If(r_en):
            m.d.sync += sel.eq(r_addr[bbits:])
        outs, regs = [], []
        for b in range(spec.depth_banks):
            depth = min(spec.bank_depth, spec.depth - b * spec.bank_depth)
            bank = Memory(shape=shape, depth=depth, init=[], attrs=memory_attrs(spec))
            m.submodules[f"bank{b}"] = bank
            wp = bank.write_port(granularity=self._granularity)
            rp = bank.read_port()
            aw = len(rp.addr)
            hit = w_addr[bbits:] == b
            m.d.comb += [rp.en.eq(r_en), rp.addr.eq(r_addr[:aw]), wp.addr.eq(w_addr[:aw]),
                         wp.data.eq(w_data), wp.en.eq(Mux(hit, w_en, 0))]
            q2 = Signal(len(rp.data.as_value()), name=f"q2_bank{b}")
            m.d.sync += q2.eq(rp.data.as_value())
            outs.append(rp.data.as_value())
            regs.append(q2)
        sel2 = Signal.like(sel)                     # the bank of the read before
        m.d.sync += sel2.eq(sel)
        data1, data2 = Signal(shape), Signal(shape)
        with m.Switch(sel):
            for b, out in enumerate(outs):
                with m.Case(b):
                    m.d.comb += data1.eq(out)
        with m.Switch(sel2):
            for b, reg in enumerate(regs):
                with m.Case(b):
                    m.d.comb += data2.eq(reg)
        return data1, data2

    def elaborate(self, platform):
        m = Module()
        spec = self._spec
        readers = [getattr(self, f"r_{n}") for n in self._readers]
        writers = [getattr(self, f"w_{n}") for n in self._writers]
        shape = ram_shape(spec)[0]
        if self._banked(platform):
            rp_en, rp_addr = Signal(), Signal(ceil_log2(spec.depth))
            wp_en = Signal(1 if self._granularity is None else shape.length)
            wp_addr, wp_data = Signal(ceil_log2(spec.depth)), Signal(shape)
            rp_data, rp_data2 = self._bank_memories(m, shape, rp_en, rp_addr, wp_en, wp_addr,
                                                    wp_data.as_value())
        else:
            m.submodules.memory = mem = Memory(data=self._data, attrs=memory_attrs(spec))
            wp = mem.write_port(granularity=self._granularity)
            rp = mem.read_port(transparent_for=(wp,) if spec.transparent else ())
            rp_en, rp_addr, rp_data = rp.en, rp.addr, rp.data
            wp_en, wp_addr, wp_data = wp.en, wp.addr, wp.data
            rp_data2 = Signal(shape)
            if 2 in self._latency.values():
                # the latency-1 data one cycle later (so it holds as that data holds)
                m.d.sync += rp_data2.eq(rp_data)
        if readers:
            m.d.comb += [rp_en.eq(Cat(c.en for c in readers).any()),
                         rp_addr.eq(_first(readers, lambda c: c.en, "addr"))]
            m.d.comb += [c.data.eq(rp_data2 if self._latency[n] == 2 else rp_data)
                         for n, c in zip(self._readers, readers)]
        else:
            m.d.comb += rp_en.eq(0)
        if writers:
            m.d.comb += [wp_en.eq(_first(writers, lambda c: c.en.any(), "en")),
                         wp_addr.eq(_first(writers, lambda c: c.en.any(), "addr")),
                         wp_data.eq(_first(writers, lambda c: c.en.any(), "data"))]
        return m


class GeneratorPlatform:
    """The platform the generator elaborates with: :data:`NO_INIT` memories become
    ``intsnn_ram`` instances (no initial values in the Verilog); the others are lowered as
    ``lib.memory`` does by default."""

    def get_memory(self, memory: Memory):
        rps, wps = memory.read_ports, memory.write_ports
        plain = (NO_INIT in memory.attrs and len(rps) == 1 and len(wps) == 1
                 and rps[0].domain == "sync" and not rps[0].transparent_for
                 and wps[0].domain == "sync")
        if not plain:
            return self._default(memory)
        rp, wp = rps[0], wps[0]
        aw = len(rp.addr)
        pad = (lambda a: a) if aw else (lambda a: Const(0, 1))  # depth 1: a 1-bit address 0
        m = Module()
        lut = all(memory.attrs.get(k) == v for k, v in LUTRAM_ATTRS.items())
        m.submodules.ram = Instance(
            LUTRAM_MODULE if lut else RAM_MODULE,
            p_ABITS=max(1, aw), p_DEPTH=memory.depth, p_WIDTH=len(rp.data.as_value()),
            p_EN_WIDTH=len(wp.en),
            i_clk=ClockSignal(wp.domain), i_r_en=rp.en, i_r_addr=pad(rp.addr),
            o_r_data=rp.data.as_value(), i_w_addr=pad(wp.addr), i_w_data=wp.data.as_value(),
            i_w_en=wp.en)
        return m

    @staticmethod
    def _default(memory: Memory):
        # the lowering of lib.memory.Memory.elaborate without a platform override
        inst = MemoryInstance(data=memory.data, attrs=memory.attrs)
        writes = {p: inst.write_port(domain=p.domain, addr=p.addr, data=p.data, en=p.en)
                  for p in memory.write_ports}
        for p in memory.read_ports:
            inst.read_port(domain=p.domain, data=p.data, addr=p.addr, en=p.en,
                           transparent_for=tuple(writes[w] for w in p.transparent_for))
        return inst
