"""Simulation-only wrapper ``tb_top`` around the core, and the programs it runs.

Why: driving the core's bus and stream from Python one clock edge at a time costs tens of
microseconds per edge in cocotb, which would dominate a co-simulation that reads back ~80k
weights after every update.  Instead the wrapper contains a small **bus-master / stream-driver
FSM** that executes a *program* of instructions, and Python awaits only its completion:

1. Python writes the program (one hex word per line) to ``tb_prog.hex`` in the simulator's
   working directory, sets ``prog_len`` and ``watchdog`` and changes ``go_seq``;
2. the wrapper ``$readmemh``-loads it, opens ``tb_out.hex``, executes it (one instruction per
   cycle; STREAM waits for ``frames__tready``; CMD waits for ``busy`` low), writes every bus read
   result (and every STAMP) as an 8-digit hex line, closes the file and raises ``tb_done``;
3. Python, blocked in ``await RisingEdge(dut.tb_done)``, wakes up once and parses the file.

Instruction word (``4 + 32 + DW`` bits, ``DW = max(32, lanes*input_bits)``):
``op[3:0] | addr[31:0] | data[DW-1:0]``.

====  ========  =====================================================================
op    name      meaning
====  ========  =====================================================================
0     END       wait until the background stream is done and 2 cycles (reads in flight),
                close the output file, ``tb_done = 1``
1     WRITE     bus write ``addr <- data[31:0]`` (1 cycle)
2     READ      bus read ``addr`` (1 cycle issue; the result line follows 1 cycle later)
3     STREAM    beat ``data[PW-1:0]`` on ``frames`` (``tlast`` = ``addr[0]``), held until
                accepted (after the background stream is done)
4     CMD       bus write ``addr <- data`` (the COMMAND register), then wait for ``busy`` low
5     READ2D    reads ``addr | row << 14 | col`` for ``row < data[15:0]``, ``col <
                data[31:16]``, row-major, one per cycle
6     SSTART    start the *background stream* over the next ``data`` instructions (STREAM
                beats) with ``addr`` idle cycles after each accepted beat; the program
                continues after them in the next cycle.  The background stream offers its
                beats while the program runs on (the next sample streams in while a command
                computes: double buffering)
7     SWAIT     wait until the background stream is done (its last beat accepted)
8     STAMP     write the wrapper's clock counter (low 32 bits) as a result line (1 cycle;
                use it where no read is in flight)
====  ========  =====================================================================

The watchdog (cycles per program) sets ``tb_error`` and ends the program if the core hangs;
``tb_pc`` and ``tb_status`` (CMD waiting, busy, frames ready, done) then say where.  Only the
wrapper's ports are visible to cocotb: the Verilator build drops ``--public-flat-rw``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..hw import host_protocol as hp

__all__ = ["OP_END", "OP_WRITE", "OP_READ", "OP_STREAM", "OP_CMD", "OP_READ2D", "OP_SSTART",
           "OP_SWAIT", "OP_STAMP",
           "TB_TOP", "PROG_FILE", "OUT_FILE", "tb_verilog", "Program", "ProgramRunner",
           "HardwareHang", "pack_beats", "parse_output", "data_width"]

OP_END, OP_WRITE, OP_READ, OP_STREAM, OP_CMD, OP_READ2D, OP_SSTART, OP_SWAIT, OP_STAMP = range(9)
TB_TOP = "tb_top"
PROG_FILE = "tb_prog.hex"
OUT_FILE = "tb_out.hex"


def data_width(lanes: int, input_bits: int) -> int:
    """Width of the data field of an instruction."""
    return max(32, lanes * input_bits)


# CMD waits WRITE_LATENCY cycles after its bus write before it looks at ``busy`` (a 2-bit
# counter in the wrapper).
assert 1 <= hp.WRITE_LATENCY <= 4, hp.WRITE_LATENCY


def tb_verilog(core_top: str, ports: list[dict], lanes: int, input_bits: int,
               depth: int) -> str:
    """Verilog of ``tb_top`` instantiating ``core_top`` (ports as in the generator manifest)."""
    pw = lanes * input_bits
    dw = data_width(lanes, input_bits)
    ww = 4 + 32 + dw
    names = {p["name"] for p in ports} | {"clk", "rst"}
    wishbone = "wb__cyc" in names      # intsnn generate --bus wishbone
    need = {"frames__tdata", "frames__tvalid", "frames__tready", "frames__tlast", "busy", "done"}
    need |= ({"wb__adr", "wb__dat_w", "wb__sel", "wb__cyc", "wb__stb", "wb__we", "wb__dat_r",
              "wb__ack", "wb__err", "irq"} if wishbone else
             {"bus__addr", "bus__w_data", "bus__w_en", "bus__r_en", "bus__r_data", "bus__r_valid"})
    missing = need - names
    if missing:
        raise ValueError(f"the core's ports lack {sorted(missing)} (host protocol mismatch)")
    if wishbone:
        # one Wishbone classic transfer per WRITE/READ/READ2D element, each held until ack;
        # CMD writes COMMAND, then waits for the done interrupt (the bench enables it and clears
        # IRQ_PENDING after every command)
        bus_glue = f"""
  wire ack, err, irq;
  wire wb_req = running && (op == {OP_WRITE} || op == {OP_READ} || op == {OP_READ2D} ||
                            (op == {OP_CMD} && !waiting));
  wire wb_we = op == {OP_WRITE} || op == {OP_CMD};
  wire r_valid = wb_req && ack && !wb_we;
  wire step = ack;"""
        ports_glue = """.wb__adr(bus_addr), .wb__dat_w(idata[31:0]), .wb__sel(4'hF), .wb__cyc(wb_req),
    .wb__stb(wb_req), .wb__we(wb_we), .wb__dat_r(r_data), .wb__ack(ack), .wb__err(err),
    .irq(irq),"""
        cmd_glue = """if (!waiting) begin
              if (ack) waiting <= 1'b1;
            end else if (irq) begin
              waiting <= 1'b0; pc <= pc + 32'd1;
            end"""
        err_glue = """
      end else if (wb_req && err) begin  // the adapter refused a transfer
        $fclose(fd);
        running <= 1'b0; tb_error <= 1'b1; tb_done <= 1'b1; s_active <= 1'b0;"""
    else:
        bus_glue = f"""
  wire r_valid;
  wire do_write = running && (op == {OP_WRITE} || (op == {OP_CMD} && !waiting));
  wire do_read = running && (op == {OP_READ} || op == {OP_READ2D});
  wire step = 1'b1;"""
        ports_glue = """.bus__addr(bus_addr), .bus__w_data(idata[31:0]), .bus__w_en(do_write),
    .bus__r_en(do_read), .bus__r_data(r_data), .bus__r_valid(r_valid),"""
        cmd_glue = f"""if (!waiting) begin
              waiting <= 1'b1; wcnt <= 2'd{hp.WRITE_LATENCY - 1};
            end else if (wcnt != 2'd0) begin
              wcnt <= wcnt - 2'd1;
            end else if (!busy) begin
              waiting <= 1'b0; pc <= pc + 32'd1;
            end"""
        err_glue = ""
    return f"""// Generated by intsnn.sim.tb -- simulation-only bus master around {core_top}.
// Only these ports are visible to cocotb (VPI): the Verilator build drops --public-flat-rw,
// which would keep every internal signal and slow the simulation about 6x.
module {TB_TOP}(
  input clk /*verilator public_flat_rw*/,
  input rst /*verilator public_flat_rw*/,
  input [15:0] go_seq /*verilator public_flat_rw*/,
  input [31:0] prog_len /*verilator public_flat_rw*/,
  input [63:0] watchdog /*verilator public_flat_rw*/,
  output reg tb_done /*verilator public_flat_rw*/,
  output reg tb_error /*verilator public_flat_rw*/,
  output reg [63:0] cycle_count /*verilator public_flat_rw*/,
  output [31:0] tb_pc /*verilator public_flat_rw*/,
  output [3:0] tb_status /*verilator public_flat_rw*/
);
  localparam PW = {pw};
  localparam DW = {dw};
  localparam WW = {ww};
  localparam DEPTH = {depth};
  reg [WW-1:0] prog [0:DEPTH-1];
  reg [15:0] seen_seq;
  reg running;
  reg [31:0] pc;
  reg waiting;
  reg [1:0] wcnt;
  reg [15:0] r2_row;
  reg [15:0] r2_col;
  reg [1:0] endcnt;
  reg [63:0] prog_cycles;
  reg s_active;          // background stream
  reg [31:0] s_pc;
  reg [31:0] s_end;
  reg [31:0] s_gap;
  reg [31:0] s_cnt;
  integer fd;

  wire [WW-1:0] ins = prog[pc];
  wire [3:0] op = ins[WW-1:WW-4];
  wire [31:0] iaddr = ins[DW+31:DW];
  wire [DW-1:0] idata = ins[DW-1:0];
  wire [15:0] rows = idata[15:0];
  wire [15:0] cols = idata[31:16];
  wire [WW-1:0] s_ins = prog[s_pc];
  wire s_offer = s_active && s_cnt == 32'd0;
  wire f_offer = running && op == {OP_STREAM} && !s_active;

  wire [31:0] r_data;
  wire f_ready, busy, done;{bus_glue}
  wire [31:0] addr2d = iaddr | ({{16'd0, r2_row}} << {hp.ROW_SHIFT}) | {{16'd0, r2_col}};
  wire [31:0] bus_addr = (running && op == {OP_READ2D}) ? addr2d : iaddr;

  assign tb_pc = pc;
  assign tb_status = {{op == {OP_CMD} && waiting, busy, f_ready, done}};

  {core_top} core (
    .clk(clk), .rst(rst),
    {ports_glue}
    .frames__tdata(s_active ? s_ins[PW-1:0] : idata[PW-1:0]),
    .frames__tlast(s_active ? s_ins[DW] : iaddr[0]),
    .frames__tvalid(s_offer || f_offer), .frames__tready(f_ready), .busy(busy), .done(done)
  );

  initial begin
    tb_done = 1'b0; tb_error = 1'b0; cycle_count = 64'd0; running = 1'b0; pc = 32'd0;
    seen_seq = 16'd0; waiting = 1'b0; wcnt = 2'd0; r2_row = 16'd0; r2_col = 16'd0;
    endcnt = 2'd0; prog_cycles = 64'd0; fd = 0; s_active = 1'b0; s_pc = 32'd0;
    s_end = 32'd0; s_gap = 32'd0; s_cnt = 32'd0;
  end

  always @(posedge clk) begin
    cycle_count <= cycle_count + 64'd1;
    if (running && r_valid) $fwrite(fd, "%h\\n", r_data);
    if (running && op == {OP_STAMP}) $fwrite(fd, "%h\\n", cycle_count[31:0]);
    if (s_active) begin
      if (s_cnt != 32'd0) s_cnt <= s_cnt - 32'd1;
      else if (f_ready) begin
        s_cnt <= s_gap;
        if (s_pc + 32'd1 == s_end) s_active <= 1'b0;
        else s_pc <= s_pc + 32'd1;
      end
    end
    if (rst) begin
      running <= 1'b0; waiting <= 1'b0; tb_done <= 1'b0; s_active <= 1'b0;
    end else if (!running) begin
      if (go_seq != seen_seq) begin
        seen_seq <= go_seq;
        $readmemh("{PROG_FILE}", prog, 0, prog_len - 1);
        fd = $fopen("{OUT_FILE}", "w");
        pc <= 32'd0; running <= 1'b1; tb_done <= 1'b0; tb_error <= 1'b0; waiting <= 1'b0;
        r2_row <= 16'd0; r2_col <= 16'd0; endcnt <= 2'd0; prog_cycles <= 64'd0;
      end
    end else begin
      prog_cycles <= prog_cycles + 64'd1;
      if (watchdog != 64'd0 && prog_cycles >= watchdog) begin
        $fclose(fd);
        running <= 1'b0; tb_error <= 1'b1; tb_done <= 1'b1; s_active <= 1'b0;{err_glue}
      end else begin
        case (op)
          {OP_END}: begin
            if (s_active) begin
            end else if (endcnt == 2'd2) begin
              $fclose(fd);
              running <= 1'b0; tb_done <= 1'b1;
            end else endcnt <= endcnt + 2'd1;
          end
          {OP_WRITE}, {OP_READ}: if (step) pc <= pc + 32'd1;
          {OP_STAMP}: pc <= pc + 32'd1;
          {OP_STREAM}: if (f_offer && f_ready) pc <= pc + 32'd1;
          {OP_SSTART}: begin
            if (idata[31:0] != 32'd0) begin
              s_active <= 1'b1; s_pc <= pc + 32'd1; s_end <= pc + 32'd1 + idata[31:0];
              s_gap <= iaddr; s_cnt <= 32'd0;
            end
            pc <= pc + 32'd1 + idata[31:0];
          end
          {OP_SWAIT}: if (!s_active) pc <= pc + 32'd1;
          {OP_CMD}: begin
            {cmd_glue}
          end
          {OP_READ2D}: if (step) begin
            if (r2_col + 16'd1 == cols) begin
              r2_col <= 16'd0;
              if (r2_row + 16'd1 == rows) begin
                r2_row <= 16'd0; pc <= pc + 32'd1;
              end else r2_row <= r2_row + 16'd1;
            end else r2_col <= r2_col + 16'd1;
          end
          default: begin  // unknown opcode: stop with an error
            $fclose(fd);
            running <= 1'b0; tb_error <= 1'b1; tb_done <= 1'b1;
          end
        endcase
      end
    end
  end
endmodule
"""


def pack_beats(x: np.ndarray, input_bits: int, lanes: int) -> list[int]:
    """Vectorised :func:`intsnn.hw.host_protocol.pack_frames` (same beats, same order)."""
    x = np.asarray(x)
    T, n = x.shape
    if x.size and (x.min() < 0 or x.max() > (1 << input_bits) - 1):
        raise ValueError(f"inputs do not fit input_bits={input_bits}")
    words = hp.beats_per_frame(n, lanes)
    pad = np.zeros((T, words * lanes), np.uint64)
    pad[:, :n] = x
    pad = pad.reshape(T * words, lanes)
    per = max(1, 64 // input_bits)  # lanes per 64-bit chunk
    out = None
    for c0 in range(0, lanes, per):
        chunk = np.zeros(T * words, np.uint64)
        for j in range(c0, min(lanes, c0 + per)):
            chunk |= pad[:, j] << np.uint64((j - c0) * input_bits)
        if out is None:
            out = [int(v) for v in chunk]
        else:
            sh = c0 * input_bits
            out = [o | (int(v) << sh) for o, v in zip(out, chunk)]
    return out


class Program:
    """A list of wrapper instructions; :meth:`text` gives the ``$readmemh`` file."""

    def __init__(self, lanes: int, input_bits: int):
        self.dw = data_width(lanes, input_bits)
        self.nhex = -(-(4 + 32 + self.dw) // 4)
        self.words: list[int] = []
        self.reads = 0  # result lines this program will produce

    def __len__(self):
        return len(self.words)

    def _op(self, op: int, addr: int = 0, data: int = 0):
        self.words.append((op << (32 + self.dw)) | ((addr & 0xFFFFFFFF) << self.dw) | data)

    def write(self, addr: int, value: int):
        self._op(OP_WRITE, addr, hp.to_word(value))

    def read(self, addr: int):
        self._op(OP_READ, addr)
        self.reads += 1

    def read2d(self, region: int, rows: int, cols: int):
        if not (1 <= rows < 1 << 16 and 1 <= cols < 1 << 16):
            raise ValueError(f"read2d needs 1 <= rows, cols < 65536, got {rows}, {cols}")
        self._op(OP_READ2D, hp.addr(region), rows | cols << 16)
        self.reads += rows * cols

    def stream(self, beats, background: bool = False, gap: int = 0):
        """One sample's beats, ``tlast`` on the last; in the foreground (the program waits for
        each), or in the background (SSTART, with ``gap`` idle cycles after each beat)."""
        beats = list(beats)
        if background:
            if not 0 <= gap < 1 << 32:
                raise ValueError(f"stream gap must be in 0..2**32-1, not {gap!r}")
            self._op(OP_SSTART, gap, len(beats))
        head = OP_STREAM << (32 + self.dw)
        self.words.extend(head | b for b in beats)
        if beats:
            self.words[-1] |= 1 << self.dw      # tlast: bit 0 of the address field

    def swait(self):
        self._op(OP_SWAIT)

    def stamp(self):
        self._op(OP_STAMP)
        self.reads += 1

    def command(self, cmd: int):
        self._op(OP_CMD, hp.addr(hp.REGION_CTRL, 0, hp.REG_COMMAND), cmd)

    def end(self):
        self._op(OP_END)

    def text(self) -> str:
        fmt = f"0{self.nhex}x"
        return "\n".join(format(w, fmt) for w in self.words) + "\n"


def parse_output(raw: bytes) -> np.ndarray:
    """The wrapper's output file (``%h`` lines of 8 hex digits) as uint32 words."""
    if not raw:
        return np.zeros(0, np.uint32)
    a = np.frombuffer(raw, np.uint8)
    if a.size % 9:
        raise ValueError(f"malformed wrapper output ({a.size} bytes, not 9 per line)")
    a = a.reshape(-1, 9)[:, :8]
    digits = np.where(a >= ord("a"), a - ord("a") + 10, a - ord("0")).astype(np.uint32)
    if (digits > 15).any():
        raise ValueError("wrapper output contains non-hex digits (x/z values on the bus?)")
    shifts = np.arange(28, -1, -4, dtype=np.uint32)
    return (digits << shifts).sum(axis=1, dtype=np.uint64).astype(np.uint32)


class HardwareHang(RuntimeError):
    """The wrapper's watchdog ended a program: the core did not finish it."""


class ProgramRunner:
    """Runs programs on a ``tb_top`` whose working folder is ``workdir``; sums the time spent
    waiting for the simulator.  A simulator backend supplies :meth:`execute` (start the program
    ``PROG_FILE`` holds, wait for ``tb_done``) and :meth:`cycle_count`: the cocotb bench's
    ``Driver`` through VPI, :class:`intsnn.sim.native.NativeDriver` through a pipe."""

    def __init__(self, depth: int, workdir="."):
        self.depth = depth
        self.workdir = Path(workdir)
        self.seq = 0
        self.blocked = 0.0
        self.programs = 0

    async def run(self, prog: Program, watchdog: int) -> np.ndarray:
        """Execute ``prog`` (at most ``watchdog`` cycles); return its bus read results."""
        if len(prog) > self.depth:
            raise ValueError(f"program of {len(prog)} words exceeds the wrapper depth "
                             f"{self.depth}")
        with open(self.workdir / PROG_FILE, "w") as f:
            f.write(prog.text())
        self.seq = self.seq % 0xFFFF + 1
        t0 = time.perf_counter()
        error, pc, status = await self.execute(len(prog), int(watchdog), self.seq)
        self.blocked += time.perf_counter() - t0
        self.programs += 1
        if error:
            op = prog.words[pc] >> (32 + prog.dw) if pc < len(prog) else "?"
            raise HardwareHang(f"the core did not finish a program of {len(prog)} instructions "
                               f"within {watchdog} cycles (watchdog): stuck at instruction {pc} "
                               f"(op {op}), status cmd-wait/busy/frames-ready/done = "
                               f"{status}")
        with open(self.workdir / OUT_FILE, "rb") as f:
            words = parse_output(f.read())
        if words.size != prog.reads:
            raise RuntimeError(f"expected {prog.reads} bus read results, got {words.size}")
        return words

    async def execute(self, prog_len: int, watchdog: int, seq: int) -> tuple[bool, int, str]:
        """Start the program (``prog_len`` words, ``watchdog`` cycles, sequence number ``seq``)
        and wait for ``tb_done``: ``(error, pc, status)``."""
        raise NotImplementedError

    def cycle_count(self) -> int:
        """The wrapper's free-running clock counter."""
        raise NotImplementedError
