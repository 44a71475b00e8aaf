"""The one hardware configuration: a :class:`NetConfig` plus the lane count, and what follows.

:class:`HwConfig` is pure Python (no Amaranth import), so the generator, the cycle model
(:mod:`.cycles`), the host protocol (:mod:`.host_protocol`) and the cocotb benches share it.  It
owns every derived hardware quantity: the word counts ``IW, HW, OW`` (``ceil(n / lanes)``, the only
place it is computed, :func:`words`), the register widths the network config does not define
(neuron accumulators, B16), the memory geometry (:attr:`HwConfig.memories`) and the pipeline
latencies the sequencer and the cycle formula read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..golden.config import NetConfig, bits_signed

__all__ = ["HwConfig", "MemorySpec", "check_config", "DEFAULT_LANES", "MAX_LANES", "MAX_TIMESTEPS",
           "ADDRESS_LIMIT", "LUTRAM_MAX_DEPTH", "DP16KD_SHAPES", "MIN_DEPTH_BANKS",
           "block_bank_depth", "words", "acc_bits", "b16_range", "delta_bits"]

#: Lane count (synapses per cycle) when none is given.
DEFAULT_LANES = 4
#: Largest lane count the generator accepts (elaboration is linear in it; docs/results.md).
MAX_LANES = 64
#: The deferred delta unit sums all T steps of a trace history word in one cycle.
MAX_TIMESTEPS = 256
#: Memories at most this deep are LUT RAM (``MemorySpec.kind``): a block RAM (DP16KD) is at
#: least 512 words deep at its widest (36 bits), so a shallow memory would leave most of every
#: block empty (the 64-word, 360-bit trace history of shd-snn took 10 of them).
LUTRAM_MAX_DEPTH = 64
#: The (depth, width) configurations of an ECP5 DP16KD block RAM (18 kbit; the 9/18/36-bit
#: ones include the parity bits), deepest first.
DP16KD_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


#: Fewest depth banks worth banking: a memory 2-3 blocks deep keeps Yosys's own mapping (its
#: depth multiplexer is one LUT level, and Yosys may map a narrow slice of it more cheaply than
#: banks of one configuration: shd-snn's 1,280 x 76-bit output deltas take 7 blocks as one
#: memory, 9 as three banks).
MIN_DEPTH_BANKS = 4


def block_bank_depth(depth: int, width: int) -> int:
    """Depth of one bank of a block memory of ``depth`` x ``width`` bits: the depth of the
    DP16KD configuration that holds the memory in the fewest blocks (``ceil(width / w) *
    ceil(depth / d)``; of equal counts the shallowest, so synthesis finds no depth cascade
    inside a bank), or ``depth`` itself (one bank) when that makes fewer than
    :data:`MIN_DEPTH_BANKS` banks.  Every bank is ``ceil(width / w)`` blocks side by side, so
    banking adds no block of that configuration (Yosys maps some whole memories 1-2 blocks
    cheaper with mixed configurations: ``docs/results.md``, "Banked deep memories")."""
    d, _ = min(DP16KD_SHAPES, key=lambda s: (-(-width // s[1]) * -(-depth // s[0]), s[0]))
    return d if -(-depth // d) >= MIN_DEPTH_BANKS else depth


#: Neurons per layer addressable over the bus (the 14-bit column field of
#: :func:`intsnn.hw.host_protocol.addr`; kept here so this module needs no import of it).
ADDRESS_LIMIT = 1 << 14


def words(n: int, lanes: int) -> int:
    """``ceil(n / lanes)``: words of ``lanes`` elements that hold ``n`` (the last one padded)."""
    return -(-n // lanes)


def b16_range(cfg: NetConfig) -> tuple[int, int]:
    """Range of ``V >> rec_shift`` for a saturated hidden voltage (eq. 3.23's B16)."""
    vb = cfg.hidden_voltage_bits
    return (-(1 << (vb - 1))) >> cfg.rec_shift, ((1 << (vb - 1)) - 1) >> cfg.rec_shift


def acc_bits(cfg: NetConfig, layer: str) -> int:
    """Width of a neuron accumulator ``(V_s >> beta) + sum of currents`` (never overflows).

    ``|V_s >> beta| <= 2**(vb-1)``; the feed-forward current is bounded by ``*_ff_max``; the
    RSNN recurrent current by ``H * 2**(Q-1) * max|V >> rec_shift|``.
    """
    if layer == "hidden":
        vb, ff = cfg.hidden_voltage_bits, cfg.hidden_ff_max
        rec = 0
        if cfg.arch == "rsnn":
            lo, hi = b16_range(cfg)
            rec = cfg.n_hidden * cfg.w_abs_max * max(-lo, hi)
    elif layer == "output":
        vb, ff, rec = cfg.output_voltage_bits, cfg.output_ff_max, 0
    else:
        raise ValueError(f"layer must be 'hidden' or 'output', not {layer!r}")
    bound = (1 << (vb - 1)) + ff + rec
    return bits_signed(-bound, bound)


def delta_bits(cfg: NetConfig, layer: str) -> int:
    """Width of a batch delta accumulator of ``layer``: :meth:`NetConfig.delta_bits`.

    Exact per layer (eq. 3.17 summed over a batch: ``|Delta| <= B * vfb_max * corr_max`` with
    the layer's own bounds; for shd-snn the output layer needs 19 bits where the shared width
    ``NetConfig.widths()["delta_accumulator"]`` is 39), or ``delta_sat_bits`` where that is
    narrower, and then the register saturates exactly as the golden model's
    (:func:`intsnn.golden.ops.batch_delta`).
    """
    return cfg.delta_bits(layer)


class MemorySpec(NamedTuple):
    """Geometry of one on-chip memory.

    A word holds ``slots`` x ``lanes`` elements of ``bits`` bits (``signed`` or not); slot-major,
    so the hardware sees it as ``ArrayLayout(ArrayLayout(elem, lanes), slots)`` when
    ``slots > 1``, else ``ArrayLayout(elem, lanes)``.

    ``write_enables``: ``"word"`` (one enable), ``"lane"`` (one per lane) or ``"slot"`` (one per
    slot).  ``init``: the contents must read as zero after configuration (otherwise every word
    is written before it is read, or loaded over the bus, or cleared after reset, and the
    generated Verilog carries no initial values).  ``transparent``: a read in the cycle of a
    write to the same word returns the new data.
    """

    depth: int
    bits: int
    lanes: int
    slots: int = 1
    signed: bool = False
    write_enables: str = "word"
    init: bool = False
    transparent: bool = False
    group: str = "sample"
    purpose: str = ""
    banks: int = 1   # 2: double-buffered (hw/banked_ram.py), ``depth`` is one bank's


    @property
    def width(self) -> int:
        return self.bits * self.lanes * self.slots

    @property
    def kind(self) -> str:
        """``"lut"`` (distributed LUT RAM) up to :data:`LUTRAM_MAX_DEPTH` words, else
        ``"block"``: what the generated Verilog asks synthesis for."""
        return "lut" if self.depth <= LUTRAM_MAX_DEPTH else "block"

    @property
    def state_bits(self) -> int:
        return self.banks * self.depth * self.width

    @property
    def bank_depth(self) -> int:
        """Words per depth bank (:func:`block_bank_depth`; LUT RAM and one-bank memories:
        ``depth``).  A reader with read latency 2 of a memory of several depth banks sees each
        bank's output registered before the bank multiplexer (:class:`intsnn.hw.ram.Ram`)."""
        return self.depth if self.kind == "lut" else block_bank_depth(self.depth, self.width)

    @property
    def depth_banks(self) -> int:
        """Number of depth banks (1: the memory is one block deep, or LUT RAM)."""
        return -(-self.depth // self.bank_depth)


def _check_int(name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, not {value!r}")


@dataclass(frozen=True, kw_only=True)
class HwConfig:
    """A network configuration as the hardware implements it with ``lanes`` lanes.

    Parameters
    ----------
    net : :class:`~intsnn.golden.config.NetConfig`
        Arch ``snn``/``rsnn`` (either ``rec_source``) or ``csnn`` (lanes over filters: ``lanes``
        must divide ``conv_filters``); every error mode (Direct, Final,
        Feedback), every loss (standard, positive, random), both clip orders; the floor of
        eq. 3.18's shifts (``lr_rounding="floor"``); exact or saturating batch delta
        registers (``delta_sat_bits``; :func:`delta_bits`).
    lanes : int
        ``P``, synapses processed per cycle: a power of two in ``1..64`` (a lane is a bit slice
        of a neuron index).

    Raises
    ------
    TypeError, ValueError
        Naming the parameter the hardware cannot implement.
    """

    net: NetConfig
    lanes: int = DEFAULT_LANES

    #: Pipeline latencies in cycles, from the cycle a word's memory read is issued to the cycle
    #: its result is written.  The engines drain for them at the end of a pass (the event, delta
    #: and update engines for one cycle less: their last write overlaps a cycle that follows
    #: anyway) and :mod:`.cycles` charges the same, so a deeper pipeline changes one number here
    #: (plus the pipeline itself, and forwarding where a word is updated back to back).
    READ_LATENCY = 1        # synchronous block-RAM read (deep memories: 2 for the engines'
    #                         pipelines, MemorySpec.depth_banks, hw/ram.py)
    NEURON_LATENCY = 3      # neuron pass: read acc -> register -> NeuronUnit, register -> write
    SCAN_LATENCY = 3        # event engine start: frame base, read word 0, read word 1
    EVENT_LATENCY = 4       # event engine: read weight (latency 2), read acc -> register ->
    #                         w*v -> add, write
    ERROR_LATENCY = 1       # error pass: read counts -> ErrorUnit + argmax -> write
    FEEDBACK_LATENCY = 4    # feedback: read W_out + e (latency 2) -> register -> products ->
    #                         tree, write
    DELTA_LATENCY = 7       # delta engine: read (latency 2) -> register (trace, old delta) -> corr ->
    #                         v_fb * corr -> add -> saturate -> write
    UPDATE_LATENCY = 5      # update engine: read (latency 2) -> register (w, delta) -> register the
    #                         clipped step -> saturating subtract, write
    ERROR_NEURON_LATENCY = 1  # error-neuron pass: read counts + state -> units -> write state
    GROUP_CYCLES = 4        # delta engine, per group: read pg + feedback (latency 2) ->
    #                         register them and the skip decision -> branch on it

    #: The loss-noise unit evaluates one splitmix64 finaliser per cycle: the per-sample key
    #: prefix (seed, stream, update, position; + time step in Feedback mode), then one output.
    NOISE_PREFIX = 4

    def __post_init__(self):
        cfg, lanes = self.net, self.lanes
        if not isinstance(cfg, NetConfig):
            raise TypeError(f"net must be a NetConfig, not {cfg!r}")
        _check_int("lanes", lanes, 1, MAX_LANES)
        if lanes & (lanes - 1):
            raise ValueError(f"lanes must be a power of two (a lane is a bit slice of a neuron "
                             f"index), not {lanes!r}")
        if cfg.arch == "csnn" and cfg.conv_filters % lanes:
            # lanes run over filters: a hidden word is P filters of one position (conv_source)
            raise ValueError(f"lanes={lanes} must divide conv_filters={cfg.conv_filters} for "
                             f"csnn (the lanes of a hidden word are filters of one position)")
        if cfg.lr_rounding != "floor":
            # the update lanes shift without an offset; docs/algorithm.md says what dither costs
            raise ValueError(f"lr_rounding {cfg.lr_rounding!r} is not supported in hardware "
                             f"(floor); presets with shadow_bits < 16 take 'dither': pass "
                             f"lr_rounding='floor' (--lr-rounding floor) for hardware")
        for name in ("n_in", "n_hidden", "n_out"):
            if getattr(cfg, name) > ADDRESS_LIMIT:
                raise ValueError(f"{name}={getattr(cfg, name)} exceeds the bus address field "
                                 f"({ADDRESS_LIMIT})")
        if cfg.timesteps > MAX_TIMESTEPS:
            raise ValueError(f"timesteps={cfg.timesteps} too large: the deferred-delta unit sums "
                             f"all T steps in one cycle (<= {MAX_TIMESTEPS})")
        if cfg.widths()["delta_accumulator"] > 64:
            raise ValueError(f"delta_accumulator width {cfg.widths()['delta_accumulator']} > 64 "
                             f"bits (reduce batch_size)")
        if max(acc_bits(cfg, "hidden"), acc_bits(cfg, "output")) > 64:
            raise ValueError("voltage_bits too large: accumulator wider than 64 bits")

    # ------------------------------------------------------------------ words
    @property
    def IW(self) -> int:
        """Words of ``lanes`` inputs: ``ceil(n_in / lanes)`` (also stream beats per frame)."""
        return words(self.net.n_in, self.lanes)

    @property
    def HW(self) -> int:
        """Words of ``lanes`` hidden neurons."""
        return words(self.net.n_hidden, self.lanes)

    @property
    def OW(self) -> int:
        """Words of ``lanes`` output neurons."""
        return words(self.net.n_out, self.lanes)

    @property
    def FW(self) -> int:
        """CSNN: words of ``lanes`` filters, ``conv_filters / lanes`` (one position's hidden
        neurons); ``HW = conv_out_side**2 * FW``.  Dense archs: ``HW``."""
        if self.net.arch == "csnn":
            return self.net.conv_filters // self.lanes
        return self.HW

    @property
    def hidden_pre(self) -> int:
        """Pre-synaptic indices of a hidden neuron: ``n_in``, or the ``conv_kernel**2`` taps of
        the CSNN's kernel."""
        return self.net.conv_kernel ** 2 if self.net.arch == "csnn" else self.net.n_in

    @property
    def w_hidden_words(self) -> int:
        """Words of the hidden weight (and delta) memory: ``n_in * HW``, or the CSNN's kernel
        memory ``conv_kernel**2 * FW`` (one kernel shared by all positions)."""
        return self.hidden_pre * self.FW

    @property
    def lane_bits(self) -> int:
        """``log2(lanes)``: the low bits of a neuron index that select its lane."""
        return self.lanes.bit_length() - 1

    def pad(self, n: int) -> int:
        """``n`` rounded up to whole words."""
        return words(n, self.lanes) * self.lanes

    def padding_lane(self, n: int, lane: int) -> bool:
        """Lane ``lane`` of the last of the words holding ``n`` elements is padding (index
        ``>= n``).  Padding lanes of weights and of the feedback are never written: the
        engines mask them where they would reach a real value."""
        return bool(n % self.lanes) and lane >= n % self.lanes

    @property
    def event_overhead(self) -> int:
        """Fixed cycles of an event pass beyond its words and events: the start
        (``SCAN_LATENCY``) and the accumulate pipeline's drain (``EVENT_LATENCY - 1``)."""
        return self.SCAN_LATENCY + self.EVENT_LATENCY - 1

    # ------------------------------------------------------------------ widths
    @property
    def acc_hidden_bits(self) -> int:
        return acc_bits(self.net, "hidden")

    @property
    def acc_output_bits(self) -> int:
        return acc_bits(self.net, "output")

    @property
    def delta_hidden_bits(self) -> int:
        return delta_bits(self.net, "hidden")

    @property
    def delta_output_bits(self) -> int:
        return delta_bits(self.net, "output")

    @property
    def b16_bits(self) -> int:
        """Width of ``V >> rec_shift`` (the RSNN's recurrent input)."""
        return bits_signed(*b16_range(self.net))

    @property
    def event_value_bits(self) -> int:
        """Signed width of an event value: an input count or a B16 value."""
        return max(self.net.input_bits + 1, self.b16_bits, 2)

    @property
    def vfb_output_bits(self) -> int:
        """Width of ``v_fb_out`` (the ``error`` memory): the eq. 3.6-3.8 error in Direct mode,
        the integrated error-neuron spikes (``|v_fb_out| <= T``) in Final/Feedback mode."""
        cfg = self.net
        if cfg.error_mode == "direct":
            return cfg.widths()["error"]
        return bits_signed(-cfg.vfb_output_max, cfg.vfb_output_max)

    @property
    def error_neuron_bits(self) -> int:
        """Width of an error neuron's voltage (eqs. 3.9-3.12, soft reset by ``fb_threshold``).

        ``v(t) = sum_{tau<=t} (+-e(tau)) - fb_threshold * (spikes before t)``, at most ``T``
        terms of each, so ``|v| <= T * (max|e| + fb_threshold)``.
        """
        cfg = self.net
        b = cfg.timesteps * (cfg.error_abs_max + cfg.fb_threshold)
        return bits_signed(-b, b)

    @property
    def noise_runs(self) -> int:
        """Runs of the loss-noise unit per TRAIN sample: 0 (no random loss), 1, or one per
        error-neuron step (Feedback mode, ``t >= soft_error_start``)."""
        cfg = self.net
        if cfg.loss != "random":
            return 0
        return self.error_neuron_steps if cfg.error_mode == "feedback" else 1

    @property
    def noise_cycles(self) -> int:
        """Cycles of one run of the loss-noise unit: the key prefix, then one per output."""
        step_key = 1 if self.net.error_mode == "feedback" else 0   # the time step
        return self.NOISE_PREFIX + step_key + self.net.n_out

    @property
    def error_neuron_steps(self) -> int:
        """Time steps with an error-neuron pass (Feedback mode): ``T - soft_error_start``."""
        cfg = self.net
        if cfg.error_mode != "feedback":
            return 0
        return max(0, cfg.timesteps - cfg.soft_error_start)

    # ------------------------------------------------------------------ memories
    @property
    def memories(self) -> dict[str, MemorySpec]:
        """Every on-chip memory by name (the generator and the docs list them from here)."""
        cfg, L = self.net, self.lanes
        w = cfg.widths()
        T, I, H = cfg.timesteps, cfg.n_in, cfg.n_hidden
        S, Q = cfg.shadow_bits, cfg.inference_bits
        IW, HW, OW = self.IW, self.HW, self.OW
        conv = cfg.arch == "csnn"
        mem = {
            "w_hidden": MemorySpec(self.w_hidden_words, S, L, signed=True, write_enables="lane",
                                   group="static", purpose=(
                                       "kernel shadow weights [tap][f-word]" if conv else
                                       "hidden shadow weights [i][h-word]")),
            "w_output": MemorySpec(H * OW, S, L, signed=True, write_enables="lane",
                                   group="static", purpose="output shadow weights [h][o-word]"),
            "delta_hidden": MemorySpec(self.w_hidden_words, self.delta_hidden_bits, L,
                                       signed=True, group="batch", purpose=(
                                           "kernel delta accumulators [tap][f-word]" if conv
                                           else "hidden delta accumulators [i][h-word]")),
            "delta_output": MemorySpec(H * OW, self.delta_output_bits, L, signed=True,
                                       group="batch",
                                       purpose="output delta accumulators [h][o-word]"),
            "frames": MemorySpec(T * IW, cfg.input_bits, L, banks=2,
                                 purpose="input frames x[t][i-word]"),
            "trace_hidden": MemorySpec(IW, w["hidden_pre_trace"], L, T, write_enables="slot",
                                       banks=2,
                                       purpose="presynaptic trace history P[t, i] [i-word]"),
            "trace_output": MemorySpec(HW, w["output_pre_trace"], L, T, write_enables="slot",
                                       purpose="hidden-spike trace history P[t, h] [h-word]"),
            "pg_hidden": MemorySpec(HW, 1, L, T, write_enables="slot",
                                    purpose="hidden pseudo-gradient history [h-word]"),
            "pg_output": MemorySpec(OW, 1, L, T, write_enables="slot",
                                    purpose="output pseudo-gradient history [o-word]"),
            "acc_hidden": MemorySpec(HW, self.acc_hidden_bits, L, signed=True, init=True,
                                     purpose="hidden accumulators"),
            "acc_output": MemorySpec(OW, self.acc_output_bits, L, signed=True, init=True,
                                     purpose="output accumulators"),
            "spikes_hidden": MemorySpec(HW, 1, L, purpose="hidden spikes of the step"),
            "counts": MemorySpec(OW, cfg.count_bits, L, init=True,
                                 purpose="output spike counts"),
            "error": MemorySpec(OW, self.vfb_output_bits, L, signed=True,
                                purpose="v_fb_out (Direct: the error e)"),
            "vfb_hidden": MemorySpec(HW, w["hidden_vfb"], L, signed=True, write_enables="lane",
                                     purpose="B_Q(W_out)^T e"),
        }
        if cfg.arch == "rsnn":
            mem["w_recurrent"] = MemorySpec(H * HW, Q, L, signed=True, write_enables="lane",
                                            group="static",
                                            purpose="recurrent weights [j][h-word]")
            mem["b16_hidden"] = MemorySpec(HW, self.b16_bits, L, signed=True,
                                           purpose="V(t-1) >> rec_shift")
        if self.noise_runs:
            mem["loss_noise"] = MemorySpec(OW, 2, L, signed=True, write_enables="lane",
                                           purpose="random-loss noise in {-1, 0, 1} (eq. 3.8)")
        if self.error_neuron_steps:
            state = 2 * self.error_neuron_bits + self.vfb_output_bits
            mem["error_neurons"] = MemorySpec(OW, state, L,
                                              purpose="error neurons (v+, v-, v_fb_out)")
        return mem

    def state_bits(self) -> dict[str, int]:
        """Bits of every memory."""
        return {k: m.state_bits for k, m in self.memories.items()}

    # ------------------------------------------------------------------ schedule constants
    @property
    def update_words(self) -> int:
        """Weight (and delta) words an UPDATE walks: ``w_hidden_words + n_hidden*OW``."""
        return self.w_hidden_words + self.net.n_hidden * self.OW

    @property
    def stream_beats(self) -> int:
        """Stream beats of one sample: ``T * IW``."""
        return self.net.timesteps * self.IW


def check_config(config) -> HwConfig:
    """``config`` if it is an :class:`HwConfig` (every component's first check)."""
    if not isinstance(config, HwConfig):
        raise TypeError(f"config must be an HwConfig, not {config!r}")
    return config
