"""Activity counts: the integer operations one sample really performs, and their energy.

The thesis prices a training iteration by its operations (Table 3.2, itemised in Tables B.3-B.4)
with per-operation energies (Table 3.3, from Horowitz, ISSCC 2014 [20] and ShiftAddNet [50]).
Tables B.3-B.4 count them *densely*, scaled by average activity coefficients (Table B.5).  Here
the same kinds of operation are counted *event by event* from one sample's golden observables
(:class:`intsnn.golden.model.SampleRecord`): an operation is counted only where the algorithm
needs it for this sample's spikes, in the deferred form the hardware uses (no per-step weight
trace; the correlation is summed from the stored traces when the deltas are formed).

What is counted (docs/algorithm.md, "Activity counts and energy"):

* ``forward`` -- per nonzero input ``x_i``: ``H`` accumulations (+ ``H`` multiplications when
  inputs have more than one bit; a binary input selects the weight); RSNN, ``t > 0``: per
  nonzero ``B16`` value ``H`` multiplications and accumulations; per hidden spike ``O``
  accumulations; per neuron and step the decay shift, the threshold compare and the two
  pseudo-gradient window compares (+ two saturation compares in RSNN, whose voltages may
  saturate).
* ``traces`` -- the presynaptic traces: a shift per nonzero trace, an add per nonzero input;
  the output spike count: an add per output spike.
* ``error`` -- ``O - 1`` argmax compares; the loss (eqs. 3.6-3.8): per output
  ``(count * alpha) >> log2 T`` (one shift when ``alpha`` is a power of two, else a
  multiplication and a shift), the label's subtraction, a zero test for the positive and random
  losses (the random loss's hashed noise is not counted); Final mode: two error neurons per output
  from rest (2 adds, 2 compares, 1 add for ``s+ - s-``); Feedback mode: the loss and the error
  neurons (+ soft-reset subtractions and the integration) at every step ``t >=
  soft_error_start``.
* ``feedback`` -- ``B_Q(W_out)^T e`` over the nonzero errors: ``H`` multiplications each and
  ``H`` additions per nonzero error after the first.
* ``delta`` -- per (post ``n``, pre ``m``) pair with a nonzero feedback and ``k >= 1`` steps
  where both the pseudo-gradient and the trace are nonzero: ``k - 1`` additions for the
  correlation, one multiplication by the feedback and one accumulation into the delta.
* ``update`` (per batch, :func:`update_activity`) -- per weight: the learning-rate shift, the
  clip (2 compares), the weight decay shift, the subtractions, the saturation (2 compares), plus
  an add per rounding offset when ``lr_rounding`` is not ``floor``.

Each operation has a width class: ``8`` (all operands <= 8 bits), ``32`` (<= 32) or ``64``.
Memory traffic is counted in bits (``read_bits``/``write_bits``) but not priced: Table 3.3 has
no memory energies.
"""

from __future__ import annotations

import numpy as np

from .config import NetConfig, bits_signed

__all__ = ["OPS", "TABLE_3_3_PJ", "ENERGY_SOURCE", "PHASES", "width_class", "sample_activity",
           "update_activity", "count_layer_update", "energy_pj", "total", "add_counts", "kind_totals",
           "count_op", "thesis_table_3_2"]

#: Operation kinds (the thesis's ADD, MUL, bit-shift, CMP columns; SUB counts as ADD).
OPS = ("add", "mul", "shift", "cmp")
PHASES = ("forward", "traces", "error", "feedback", "delta")

#: Thesis Table 3.3, integer columns (pJ per operation).  The thesis gives no comparison energy
#: and calls comparisons negligible; here a comparison is priced as an addition of its width
#: (a comparator is a subtractor).  64-bit operations are extrapolated: an adder or shifter
#: twice the 32-bit one, a multiplier four times (area grows with the square of the width).
TABLE_3_3_PJ = {"add": {8: 0.03, 32: 0.1}, "mul": {8: 0.2, 32: 3.1},
                "shift": {8: 0.024, 32: 0.13}}
_SCALE_64 = {"add": 2, "cmp": 2, "shift": 2, "mul": 4}
ENERGY_SOURCE = ("thesis Table 3.3 (integer 8-/32-bit columns), which cites M. Horowitz, "
                 "'Computing's energy problem', ISSCC 2014 [20] (addition, multiplication) and "
                 "ShiftAddNet, arXiv:2010.12785 [50] (bit-shift); the thesis names no process "
                 "node (Horowitz's figures are commonly quoted for 45 nm -- not verifiable from "
                 "the reference folder). Comparisons priced as additions; 64-bit ops "
                 "extrapolated (x2 add/shift/cmp, x4 mul); memory traffic not priced")


def width_class(*bits: int) -> int:
    """The Table 3.3 column of an operation whose widest operand has ``max(bits)`` bits."""
    w = max(int(b) for b in bits)
    if w < 1:
        raise ValueError(f"operand width must be >= 1, got {w!r}")
    return 8 if w <= 8 else 32 if w <= 32 else 64


def _zero() -> dict:
    return {"read_bits": 0, "write_bits": 0}


def count_op(d: dict, op: str, bits, n) -> None:
    """Add ``n`` operations ``op`` whose widest operand has ``max(bits)`` bits to ``d``."""
    n = int(n)
    if n:
        key = f"{op}{width_class(*np.atleast_1d(bits))}"
        d[key] = d.get(key, 0) + n


def add_counts(a: dict, b: dict) -> dict:
    """Key-wise sum of two (possibly nested) count dictionaries."""
    out = dict(a)
    for k, v in b.items():
        out[k] = add_counts(out.get(k, {}), v) if isinstance(v, dict) else out.get(k, 0) + v
    return out


def total(act: dict) -> dict:
    """The phases of ``act`` summed into one count dictionary."""
    out = {}
    for v in act.values():
        out = add_counts(out, v)
    return out


def _check(cfg: NetConfig) -> None:
    if cfg.arch not in ("snn", "rsnn"):
        raise ValueError(f"activity counts cover arch 'snn' and 'rsnn', got {cfg.arch!r}")


def _fb_neuron_bits(cfg: NetConfig) -> int:
    """Width of an error neuron's voltage (eqs. 3.9-3.12): ``|v| <= T*(|e|max + threshold)``."""
    b = cfg.timesteps * (cfg.error_abs_max + cfg.fb_threshold)
    return bits_signed(-b, b)


def _loss(d: dict, cfg: NetConfig, w: dict) -> None:
    """Eqs. 3.6-3.8 on the counts, once: per output the scaling, the label's subtraction, and
    the zero test of the positive/random losses."""
    O = cfg.n_out
    if cfg.alpha & (cfg.alpha - 1) == 0:
        count_op(d, "shift", w["error"], O)
    else:
        count_op(d, "mul", w["error"], O)
        count_op(d, "shift", w["error"], O)
    count_op(d, "add", w["error"], 1)
    if cfg.loss in ("positive", "random"):
        count_op(d, "cmp", w["error"], O)


def _pairs(pg, pre, fb):
    """(pairs with k >= 1 and fb != 0, sum of k over them) for the deferred delta."""
    k = (np.asarray(pg) != 0).astype(np.int64).T @ (np.asarray(pre) != 0).astype(np.int64)
    k = k[np.asarray(fb) != 0]
    return int(np.count_nonzero(k)), int(k.sum())


def sample_activity(cfg: NetConfig, rec, train: bool = True) -> dict:
    """Operations of one sample, by phase: ``{phase: {"add8": n, "mul32": n, ...,
    "read_bits": n, "write_bits": n}}`` for :data:`PHASES` (``feedback``/``delta`` zero when
    ``train`` is false).

    Parameters
    ----------
    cfg : the network.
    rec : :class:`~intsnn.golden.model.SampleRecord` of the sample (``IntSNN.run_sample``).
    """
    _check(cfg)
    w = cfg.widths()
    s = rec.steps
    T, I, H, O = cfg.timesteps, cfg.n_in, cfg.n_hidden, cfg.n_out
    Q, S, vh, vo = cfg.inference_bits, cfg.shadow_bits, w["hidden_voltage"], w["output_voltage"]
    x = np.asarray(s["in_spikes"])
    s_h, s_o = np.asarray(s["s_hidden"]), np.asarray(s["s_output"])
    nx, nsh, nso = int(np.count_nonzero(x)), int(np.count_nonzero(s_h)), int(np.count_nonzero(s_o))

    fw = _zero()
    count_op(fw, "add", vh, nx * H)
    if cfg.input_bits > 1:
        count_op(fw, "mul", (Q, cfg.input_bits), nx * H)
    fw["read_bits"] += nx * H * Q
    if cfg.arch == "rsnn":
        v = np.asarray(s["v_hidden"])
        v_prev = v if cfg.rec_source == "pre_reset" else np.where(s_h != 0, 0, v)
        nq = int(np.count_nonzero(v_prev[:-1] >> cfg.rec_shift))
        count_op(fw, "mul", (Q, max(1, vh - cfg.rec_shift)), nq * H)
        count_op(fw, "add", vh, nq * H)
        fw["read_bits"] += nq * H * Q
    count_op(fw, "add", vo, nsh * O)
    fw["read_bits"] += nsh * O * Q
    sat = 2 if cfg.arch == "rsnn" else 0
    for n, bits in ((H, vh), (O, vo)):
        count_op(fw, "shift", bits, T * n)                     # decay V_s >> beta_hat
        count_op(fw, "cmp", bits, T * n * (3 + sat))           # spike, pg window (2), saturation
        fw["read_bits"] += T * n * bits
        fw["write_bits"] += T * n * (bits + 2)             # voltage, spike and pg bits
    tr = _zero()
    for pre, inc, bits in ((s["pre_hidden"], nx, w["hidden_pre_trace"]),
                           (s["pre_output"], nsh, w["output_pre_trace"])):
        pre = np.asarray(pre)
        count_op(tr, "shift", bits, np.count_nonzero(pre[:-1]))  # nonzero trace decays
        count_op(tr, "add", bits, inc)
        tr["write_bits"] += pre.size * bits
    count_op(tr, "add", w["spike_count"], nso)

    er = _zero()
    count_op(er, "cmp", w["spike_count"], O - 1)                # argmax
    fbn = _fb_neuron_bits(cfg)
    if cfg.error_mode == "feedback":
        # each step t >= soft_error_start: the loss on the counts so far, then per output two
        # error neurons (soft-reset subtraction, +-e, threshold compare) and v_fb += s+ - s-
        steps = max(0, T - cfg.soft_error_start)
        for _ in range(steps):
            _loss(er, cfg, w)
        count_op(er, "add", fbn, steps * O * 6)
        count_op(er, "cmp", fbn, steps * O * 2)
    else:
        _loss(er, cfg, w)
        if cfg.error_mode == "final":                         # one step from rest: no reset
            count_op(er, "add", fbn, O * 3)
            count_op(er, "cmp", fbn, O * 2)

    fb, de = _zero(), _zero()
    if train:
        ne = int(np.count_nonzero(rec.vfb_output))
        vb = bits_signed(-cfg.vfb_output_max, cfg.vfb_output_max)
        count_op(fb, "mul", (Q, vb), ne * H)
        count_op(fb, "add", w["hidden_vfb"], max(ne - 1, 0) * H)
        fb["read_bits"] += ne * H * Q
        dw = w["delta_accumulator"]
        for pg, pre, fbv, cb, vb in (
                (s["pg_output"], s["pre_output"], rec.vfb_output, w["output_corr_trace"],
                 bits_signed(-cfg.vfb_output_max, cfg.vfb_output_max)),
                (s["pg_hidden"], s["pre_hidden"], rec.vfb_hidden, w["hidden_corr_trace"],
                 w["hidden_vfb"])):
            npairs, ksum = _pairs(pg, pre, fbv)
            count_op(de, "add", cb, ksum - npairs)
            count_op(de, "mul", (cb, vb), npairs)
            count_op(de, "add", dw, npairs)
            de["read_bits"] += npairs * dw
            de["write_bits"] += npairs * dw
    return {"forward": fw, "traces": tr, "error": er, "feedback": fb, "delta": de}


def update_activity(cfg: NetConfig) -> dict:
    """Operations of one weight update (eqs. 3.18 + 3.27 on both layers), once per batch."""
    _check(cfg)
    dw, S = cfg.widths()["delta_accumulator"], cfg.shadow_bits
    up = _zero()
    for p, nl in ((cfg.hidden, cfg.n_hidden * cfg.n_in), (cfg.output, cfg.n_out * cfg.n_hidden)):
        count_layer_update(up, nl, dw, S, cfg.lr_rounding != "floor", p.wd_shift is not None)
    return up


def count_layer_update(up: dict, n: int, dw: int, S: int, rounding: bool, decay: bool) -> None:
    """Add to ``up`` the update of ``n`` weights of one layer: the ``dw``-bit delta's rounding,
    shift and clip, the optional decay and the saturating step on the ``S``-bit shadow weight,
    and the traffic (weight and delta read, both written: the delta is cleared)."""
    count_op(up, "add", dw, n * rounding)                      # rounding offset
    count_op(up, "shift", dw, n)                               # learning-rate shift
    count_op(up, "cmp", dw, 2 * n)                             # clip to +-Delta_max
    if decay:
        count_op(up, "add", S, n * rounding)
        count_op(up, "shift", S, n)
        count_op(up, "add", S, n)
    count_op(up, "add", S, n)                                  # W - step
    count_op(up, "cmp", S + 1, 2 * n)                          # saturate to S bits
    up["read_bits"] += n * (S + dw)
    up["write_bits"] += n * (S + dw)


def energy_pj(counts: dict, width: int | None = None) -> float:
    """Energy of a count dictionary with :data:`TABLE_3_3_PJ` (memory traffic not priced).

    ``width`` (8 or 32) prices every operation at that column whatever its width class -- the
    thesis's own comparison prices all integer operations at 8 bits.
    """
    if width not in (None, 8, 32):
        raise ValueError(f"width must be None, 8 or 32, got {width!r}")
    e = 0.0
    for key, n in counts.items():
        op = key.rstrip("0123456789")
        if op not in OPS:
            continue
        wc = width or int(key[len(op):])
        base = TABLE_3_3_PJ["add" if op == "cmp" else op]
        e += n * (base[wc] if wc in base else base[32] * _SCALE_64[op])
    return e


def kind_totals(counts: dict) -> dict:
    """Counts of each kind of :data:`OPS`, all widths together."""
    return {k: sum(v for key, v in counts.items() if key.rstrip("0123456789") == k) for k in OPS}


def thesis_table_3_2() -> dict:
    """Thesis Table 3.2, integer-only rows (RSNN, SHD, I=175 H=256 O=20 B=128), one training
    iteration, with its energy at the 8-bit and 32-bit prices of Table 3.3."""
    rows = {"Hidden - FW": (116_180_812, 115_730_022), "Output - FW": (2_475_459, 2_328_535),
            "Error Calculation": (2_688, 2_560), "Output - Update": (12_780, 12_800),
            "Hidden - Update": (126_976, 127_488), "Total Operations": (118_798_715,
                                                                        118_201_405)}
    out = {}
    for name, (add, mul) in rows.items():
        out[name] = {"add": add, "mul": mul,
                     "energy_uj_8bit": round(energy_pj({"add8": add, "mul8": mul}) / 1e6, 3),
                     "energy_uj_32bit": round(energy_pj({"add32": add, "mul32": mul}) / 1e6, 3)}
    return out
