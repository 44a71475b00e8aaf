"""Host protocol of the intsnn training core: addresses, commands and beat packing.

Pure Python (no amaranth import), so software and cocotb benches can use it.  The protocol is
described in ``docs/architecture.md`` ("Host interface").

Bus (synchronous, one clock domain, all signals sampled on the rising edge)
--------------------------------------------------------------------------
``bus__addr`` (32), ``bus__w_data`` (32), ``bus__w_en``, ``bus__r_en`` are driven by the host;
``bus__r_data`` (32), ``bus__r_valid`` by the core.  The core registers the bus on entry.  A
write is requested by holding ``w_en`` high for one cycle; it lands :data:`WRITE_LATENCY` cycles
later (a COMMAND reaches the sequencer one cycle after ``w_en``: ``busy`` is high
:data:`WRITE_LATENCY` cycles after it).  A read is requested by holding ``r_en`` high for one
cycle; ``r_valid`` is high exactly :data:`READ_LATENCY` cycles later, together with ``r_data``.
Requests may follow each other every cycle; they are served in order.  Signed quantities are
returned sign-extended to 32 bits; writes use the low bits.  Weights, counts and LABEL may only
be accessed while ``busy`` is low, or during the clear after reset.

After reset the core clears its delta memories: ``busy`` is high for the cycles of an UPDATE
(:func:`intsnn.hw.cycles.expected_update_cycles`).  Weights may be loaded and the first sample
streamed meanwhile; commands are ignored until it ends.

Address = ``region << 28 | row << 14 | col`` (see :func:`addr`).

Input stream: AXI4-Stream (``frames__tdata``, ``frames__tvalid``, ``frames__tready``, ``frames__tlast``)
------------------------------------------------------------------------------------------------------
One sample is ``T`` frames; a frame is ``ceil(n_in / lanes)`` beats; beat ``k`` of frame ``t``
carries inputs ``x[t, k*lanes + j]`` for ``j < lanes`` in bits ``[j*input_bits, (j+1)*input_bits)``
of ``tdata`` (zero padding after ``n_in``); ``tlast`` is high on the sample's last beat
(``T*ceil(n_in/lanes) - 1``) and only there.  :func:`pack_frames` builds the beats.  A beat
transfers on a clock edge where ``tvalid`` and ``tready`` are both high, one per cycle at most.
The input memories are double-buffered: ``tready`` is high whenever the bank being filled does
not hold a whole sample, also while a command computes on the other bank.  When a whole sample
is in, STATUS.frames_ready is set; a TRAIN or INFER command takes it (and is ignored until
frames_ready), swapping the banks, so the next sample can stream in at once.  A ``tlast`` too
early (STATUS bit 3) or missing on the last beat (bit 4, and the beats up to the next ``tlast``
are dropped) discards the sample; the bits stay set until CLEAR_FRAMES.

Random loss: before training write the seed (SEED_LO, SEED_HI) and, unless it starts at 0,
UPDATES; the core draws the noise of the golden model's ``IntSNN(cfg, seed)`` for update
UPDATES and batch position SAMPLES (:mod:`intsnn.hw.loss_noise`).

Typical sequence (per sample): stream the beats (the first sample; later ones streamed during
the previous command); write LABEL; write COMMAND=TRAIN; stream the next sample's beats; wait
for ``busy`` low (or STATUS.done, or the Wishbone interrupt); read PREDICTION / COUNTS / CYCLES.
After ``B`` samples write COMMAND=UPDATE and wait for ``busy`` low.
"""

from __future__ import annotations

from .config import words

__all__ = [
    "WRITE_LATENCY", "READ_LATENCY",
    "ADDR_BITS", "DATA_BITS", "REGION_SHIFT", "ROW_SHIFT", "COL_BITS",
    "REGION_CTRL", "REGION_COUNTS", "REGION_W_HIDDEN", "REGION_W_OUTPUT", "REGION_W_RECURRENT",
    "REG_COMMAND", "REG_STATUS", "REG_LABEL", "REG_PREDICTION", "REG_CYCLES", "REG_SAMPLES",
    "REG_SEED_LO", "REG_SEED_HI", "REG_UPDATES",
    "CMD_TRAIN", "CMD_INFER", "CMD_UPDATE", "CMD_CLEAR_FRAMES",
    "STATUS_BUSY", "STATUS_DONE", "STATUS_FRAMES_READY", "STATUS_SHORT_SAMPLE",
    "STATUS_LONG_SAMPLE",
    "addr", "hidden_weight_shape", "beats_per_frame", "pack_frames", "to_signed", "to_word",
]

#: Cycles from ``w_en`` until the write has landed (and a COMMAND shows in ``busy``).
WRITE_LATENCY = 2
#: Cycles from ``r_en`` to ``r_valid`` (bus registered, address registered, memory read).
READ_LATENCY = 3

ADDR_BITS = 32
DATA_BITS = 32
REGION_SHIFT = 28
ROW_SHIFT = 14
COL_BITS = 14

# regions (address bits 28..31)
REGION_CTRL = 0          #: control/status registers, row 0, col = register number
REGION_COUNTS = 1        #: output spike counts, col = output neuron (read only)
REGION_W_HIDDEN = 2      #: hidden shadow weights W_hid[h, i]: row = h, col = i (S bits, signed);
#: CSNN: the kernel K[f, tap], row = f, col = tap (:func:`hidden_weight_shape`)
REGION_W_OUTPUT = 3      #: output shadow weights W_out[o, h]: row = o, col = h (S bits, signed);
#: CSNN: col = the core's position-major hidden index p*F + f
REGION_W_RECURRENT = 4   #: recurrent weights W_rec[h, j]: row = h, col = j (Q bits, signed; rsnn)

# registers of REGION_CTRL (col)
REG_COMMAND = 0      #: W: start a command (CMD_*); ignored while busy
REG_STATUS = 1       #: R: bits busy, done, frames_ready, short sample, long sample (STATUS_*)
REG_LABEL = 2        #: RW: label of the next TRAIN sample
REG_PREDICTION = 3   #: R: argmax of the counts of the last sample (lowest index on ties)
REG_CYCLES = 4       #: R: clock cycles of the last command (start to done, low 32 bits)
REG_SAMPLES = 5      #: R: TRAIN samples accumulated since the last UPDATE (the batch position
#: of the next sample: a key of the random-loss noise)
REG_SEED_LO = 6      #: RW: bits 0..31 of the random-loss seed (``IntSNN(seed=...)``)
REG_SEED_HI = 7      #: RW: bits 32..63 of the random-loss seed
REG_UPDATES = 8      #: RW: UPDATE commands so far (the update key of the random-loss noise;
#: +1 at the end of each UPDATE; write it to start or resume at another update)

CMD_TRAIN = 1        #: forward + error + delta accumulation of the streamed sample
CMD_INFER = 2        #: forward only (counts and prediction)
CMD_UPDATE = 3       #: batch weight update from the accumulated deltas; clears them
CMD_CLEAR_FRAMES = 4  #: drop the sample being streamed (or streamed); clear the stream errors

STATUS_BUSY = 1 << 0
STATUS_DONE = 1 << 1
STATUS_FRAMES_READY = 1 << 2
STATUS_SHORT_SAMPLE = 1 << 3   #: a sample ended (tlast) before T*IW beats: it was discarded
STATUS_LONG_SAMPLE = 1 << 4    #: beat T*IW-1 came without tlast: discarded up to the next tlast


def addr(region: int, row: int = 0, col: int = 0) -> int:
    """Bus address of element ``(row, col)`` of ``region``."""
    if not 0 <= region < 16:
        raise ValueError(f"region must be in 0..15, got {region!r}")
    if not 0 <= row < (1 << (REGION_SHIFT - ROW_SHIFT)):
        raise ValueError(f"row must be in 0..{(1 << (REGION_SHIFT - ROW_SHIFT)) - 1}, got {row!r}")
    if not 0 <= col < (1 << COL_BITS):
        raise ValueError(f"col must be in 0..{(1 << COL_BITS) - 1}, got {col!r}")
    return (region << REGION_SHIFT) | (row << ROW_SHIFT) | col


def hidden_weight_shape(cfg) -> tuple[int, int]:
    """(rows, cols) of W_HIDDEN: ``(n_hidden, n_in)``, or the CSNN's kernel ``(conv_filters,
    conv_kernel**2)`` (row = filter, col = tap ``kr*k + kc``).  The CSNN's W_OUTPUT column is
    the core's position-major hidden index ``p*conv_filters + f``
    (:func:`intsnn.hw.conv_geometry.hidden_order` maps it to the golden model's index)."""
    if cfg.arch == "csnn":
        return cfg.conv_filters, cfg.conv_kernel ** 2
    return cfg.n_hidden, cfg.n_in


def beats_per_frame(n_in: int, lanes: int) -> int:
    """Stream beats per time step: ``ceil(n_in / lanes)`` (:func:`intsnn.hw.config.words`)."""
    return words(n_in, lanes)


def pack_frames(x, input_bits: int, lanes: int) -> list[int]:
    """Beats (ints of ``lanes*input_bits`` bits) for one sample ``x`` of shape (T, n_in)."""
    beats = []
    mask = (1 << input_bits) - 1
    for frame in x:
        frame = [int(v) for v in frame]
        for v in frame:
            if not 0 <= v <= mask:
                raise ValueError(f"input {v!r} does not fit input_bits={input_bits}")
        for k in range(beats_per_frame(len(frame), lanes)):
            word = 0
            for j, v in enumerate(frame[k * lanes:(k + 1) * lanes]):
                word |= v << (j * input_bits)
            beats.append(word)
    return beats


def to_word(value: int) -> int:
    """A signed value as a 32-bit bus word."""
    return int(value) & ((1 << DATA_BITS) - 1)


def to_signed(word: int, bits: int = DATA_BITS) -> int:
    """Interpret the low ``bits`` of a bus word as two's complement."""
    word = int(word) & ((1 << bits) - 1)
    return word - (1 << bits) if word >> (bits - 1) else word
