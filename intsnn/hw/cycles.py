"""Cycle counts of the training core, and the work it must do (checked exactly against RTL).

* :func:`expected_cycles`: the exact cycle count of a TRAIN or INFER command, from the COMMAND
  write to ``busy`` low (the CYCLES register), from the sample's golden observables.  Every
  co-simulation and ``tests/test_hw_core.py`` compare it with the hardware, sample by sample.
* :func:`stream_cycles`: the cycles the input stream of a sample occupies the stream port (one
  beat per cycle, AXI4-Stream, full rate).  The input memories are double-buffered, so the
  stream of sample n+1 overlaps the computation of sample n: :func:`overlap_cycles` is the
  exact ``max(compute, stream)`` of one sample, checked per sample in every co-simulation.
* :func:`sample_work`: the work the design must do for the sample, in word operations of
  ``lanes`` lanes (one per cycle at best): every synaptic event's fan-out, every neuron update,
  the error, the feedback ``B_Q(W_out)^T e``, the deferred delta work (one word per pre-synaptic
  index for every post-synaptic word with a pseudo-gradient and a non-zero feedback), and the
  stream beats.  ``max(expected_cycles, stream_cycles) / work`` is the design's overhead factor:
  the cost of scanning words without events, pipeline drains and skipped-group checks (the
  stream's own port works in parallel, so its beats are work the core does not wait for).  UPDATE is compared with its own work, one word per weight word.

See ``docs/architecture.md`` ("Schedule and cycle formula", "Cycles against the work").
"""

from __future__ import annotations

import numpy as np

from ..golden.config import NetConfig
from ..golden.fast_csnn import position_major
from .config import HwConfig, words
from .conv_geometry import pairs_per_pixel

__all__ = ["expected_cycles", "expected_update_cycles", "stream_cycles", "overlap_cycles",
           "single_buffered_cycles", "sample_work",
           "update_work", "from_record", "work_table", "CYCLE_FORMULA", "UPDATE_FORMULA",
           "WORK_DEFINITION"]

_L = HwConfig
_E = _L.SCAN_LATENCY + _L.EVENT_LATENCY - 1   # HwConfig.event_overhead
CYCLE_FORMULA = (
    f"sum_t [ {_E} + IW + nzw_x(t) + HW*nnz_x(t)                    # input events\n"
    f"      + (rsnn and t>0) * ({_E} + HW + nzw_q(t) + HW*nnz_q(t))   "
    f"# recurrent events\n"
    f"      + HW + {_L.NEURON_LATENCY}                                            "
    f"# hidden neuron pass\n"
    f"      + {_E} + HW + nzw_s(t) + OW*nspk_h(t)                  "
    f"# hidden-spike events\n"
    f"      + OW + {_L.NEURON_LATENCY} ]                                          "
    f"# output neuron pass\n"
    f"+ OW + {_L.ERROR_LATENCY} (error/argmax) + 1 (done)\n"
    f"+ train * [ H*OW + {_L.FEEDBACK_LATENCY} (feedback)\n"
    f"          + (T - soft_error_start) * (OW + {_L.ERROR_NEURON_LATENCY})   "
    f"# Feedback mode: error neurons\n"
    f"          + runs * ({_L.NOISE_PREFIX} + feedback + O)          "
    f"# random loss: runs = 1, or T - soft_error_start in Feedback mode\n"
    f"          + sum_{{o-words g}} ({_L.GROUP_CYCLES} + act(g) * (H + {_L.DELTA_LATENCY - 1}))\n"
    f"          + sum_{{h-words g}} ({_L.GROUP_CYCLES} + act(g) * (I + {_L.DELTA_LATENCY - 1})) ]\n"
    "IW,HW,OW = ceil(n/P); nnz = nonzero values; nzw = words with a nonzero value;\n"
    "CSNN: HW*nnz_x(t) -> FW * (position, tap) pairs of the nonzero pixels (FW = F/P; pixels\n"
    "in no window are no events), I -> k*k (taps), hidden words in position-major order;\n"
    "act(g) = some pseudo-gradient in word g at some step and the word's feedback\n"
    "(v_fb_out or vfb_hidden) is not all zero; T - soft_error_start counts only when > 0")
UPDATE_FORMULA = (f"n_in*HW (CSNN: k*k*FW) + n_hidden*OW + {_L.UPDATE_LATENCY - 1} (drain) "
                  f"+ 1 (done)")
WORK_DEFINITION = (
    "word operations of P lanes: sum_t [HW*nnz_x(t) + (rsnn, t>0) HW*nnz_q(t) + OW*nspk_h(t)] "
    "(synaptic events) + T*(HW + OW) (neuron updates) + OW (error) + train * [H*OW (feedback "
    "B_Q(W_out)^T e) + sum over post-synaptic words with a pseudo-gradient and a non-zero "
    "feedback of the pre-synaptic count (deferred delta) + (T - soft_error_start)*OW (Feedback "
    "mode's error neurons) + one hash per cycle of the loss-noise unit (random loss)] + T*IW "
    "(stream beats); compared with "
    "max(the CYCLES register, the stream's cycles (1 per beat)): the stream overlaps the "
    "computation (double-buffered input)")


def _pad(a: np.ndarray, lanes: int) -> np.ndarray:
    """(..., n) -> (..., words, lanes) with zero padding."""
    n = a.shape[-1]
    out = np.zeros(a.shape[:-1] + (words(n, lanes) * lanes,), a.dtype)
    out[..., :n] = a
    return out.reshape(a.shape[:-1] + (-1, lanes))


def _events(a: np.ndarray, lanes: int):
    """(#words with a nonzero entry, #nonzero entries) of a 1-D vector."""
    p = _pad(np.asarray(a) != 0, lanes)
    return int(p.any(axis=-1).sum()), int(p.sum())


def _active_groups(pg, fb, lanes: int) -> np.ndarray:
    """Post-synaptic words with a pseudo-gradient at some step and a non-zero feedback."""
    anyw = _pad(np.asarray(pg) != 0, lanes).any(axis=-1).any(axis=0)
    fbw = _pad(np.asarray(fb) != 0, lanes).any(axis=-1)
    return anyw & fbw


def _recurrent_inputs(cfg: NetConfig, v_hidden, s_hidden, t: int):
    """B16 of step ``t``: ``V(t-1) >> rec_shift``, or ``V_s(t-1)`` (0 where the neuron spiked)
    for ``rec_source="post_reset"``."""
    v = np.asarray(v_hidden[t - 1])
    if cfg.rec_source == "post_reset":
        v = np.where(np.asarray(s_hidden[t - 1]) != 0, 0, v)
    return v >> cfg.rec_shift


def _conv_view(cfg: NetConfig, x, s_hidden, pg_hidden, vfb_hidden):
    """CSNN: the hidden observables in the core's position-major order (``hq = p*F + f``), and
    the input events as the event engine sees them: only pixels inside some window, each
    weighted by its (position, tap) pairs.  Returns ``(x_events, pairs, s, pg, vfb)``; dense
    archs: ``x`` unchanged and one pair per input."""
    if cfg.arch != "csnn":
        return x, None, s_hidden, pg_hidden, vfb_hidden
    pairs = pairs_per_pixel(cfg)
    f = cfg.conv_filters
    vfb = None if vfb_hidden is None else position_major(np.asarray(vfb_hidden), f)
    return (np.where(pairs > 0, np.asarray(x), 0), pairs, position_major(np.asarray(s_hidden), f),
            position_major(np.asarray(pg_hidden), f), vfb)


def _input_fanout(hw: HwConfig, pairs, xt) -> int:
    """Destination words of the input events of one step: ``HW`` per event (dense) or ``FW``
    per (position, tap) pair of each event (CSNN)."""
    if pairs is None:
        return hw.HW * int(np.count_nonzero(xt))
    return hw.FW * int(pairs[np.asarray(xt) != 0].sum())


def expected_cycles(cfg: NetConfig, lanes: int, x, v_hidden, s_hidden, pg_hidden, pg_output,
                    vfb_output, vfb_hidden, train: bool = True) -> int:
    """Cycles of one TRAIN (or INFER) sample from its observables (golden ``run_sample``).

    ``x`` (T, I); ``v_hidden``/``s_hidden``/``pg_hidden`` (T, H); ``pg_output`` (T, O);
    ``vfb_output`` (O,) = ``v_fb_out`` (``e`` in Direct mode); ``vfb_hidden`` (H,).  The error
    mode and loss add their engines' fixed cycles (:attr:`HwConfig.error_neuron_steps`,
    :attr:`HwConfig.noise_runs`) to TRAIN only.
    """
    hw = HwConfig(net=cfg, lanes=lanes)
    IW, HW, OW = hw.IW, hw.HW, hw.OW
    T, I, H = cfg.timesteps, hw.hidden_pre, cfg.n_hidden
    rd = hw.event_overhead
    x, pairs, s_hidden, pg_hidden, vfb_hidden = _conv_view(cfg, x, s_hidden, pg_hidden,
                                                           vfb_hidden)
    cyc = 0
    for t in range(T):
        zw, _ = _events(x[t], lanes)
        cyc += rd + IW + zw + _input_fanout(hw, pairs, x[t])
        if cfg.arch == "rsnn" and t > 0:
            zw, nz = _events(_recurrent_inputs(cfg, v_hidden, s_hidden, t), lanes)
            cyc += rd + HW + zw + HW * nz
        cyc += HW + hw.NEURON_LATENCY
        zw, nz = _events(s_hidden[t], lanes)
        cyc += rd + HW + zw + OW * nz
        cyc += OW + hw.NEURON_LATENCY
    cyc += OW + hw.ERROR_LATENCY + 1
    if not train:
        return cyc
    cyc += H * OW + hw.FEEDBACK_LATENCY
    cyc += hw.error_neuron_steps * (OW + hw.ERROR_NEURON_LATENCY)
    cyc += hw.noise_runs * hw.noise_cycles
    for pg, fb, npre in ((pg_output, vfb_output, H), (pg_hidden, vfb_hidden, I)):
        act = _active_groups(pg, fb, lanes)
        cyc += hw.GROUP_CYCLES * act.size + (npre + hw.DELTA_LATENCY - 1) * int(act.sum())
    return cyc


def expected_update_cycles(cfg: NetConfig, lanes: int) -> int:
    """Cycles of one UPDATE command (and of the delta clear after reset)."""
    hw = HwConfig(net=cfg, lanes=lanes)
    return hw.update_words + hw.UPDATE_LATENCY - 1 + 1


def stream_cycles(cfg: NetConfig, lanes: int) -> int:
    """Cycles the input stream of one sample occupies the stream port: 1 per beat (full rate;
    the stream overlaps the computation of the previous sample, :func:`overlap_cycles`)."""
    return HwConfig(net=cfg, lanes=lanes).stream_beats


#: Cycles of the co-simulation wrapper's measurement around a command (``intsnn.sim.tb``:
#: STAMP, CMD's bus write, the host bus's register stage, ..., SWAIT, STAMP; see
#: :func:`overlap_cycles`).
OVERLAP_OVERHEAD = 5


def overlap_cycles(compute: int, beats: int, gap: int = 0, irq: bool = False) -> int:
    """Cycles of one double-buffered sample: the command and the next sample's stream.

    What the co-simulation wrapper measures (``intsnn.sim.tb``, STAMP to STAMP) around a
    TRAIN/INFER of ``compute`` cycles (:func:`expected_cycles`, the CYCLES register) while
    the next sample's ``beats`` beats (0: none) are offered from before the command, with
    ``gap`` idle cycles after each accepted beat::

        OVERLAP_OVERHEAD + max(compute + irq, (beats - 1) * (gap + 1))      (beats > 0)
        OVERLAP_OVERHEAD + compute + irq                                     (beats = 0)

    Why: the STAMP is cycle 0; the COMMAND write is on the bus in cycle 1 (``w_en``); the host
    bus registers it, so the sequencer takes it in cycle 2 and swaps the banks, and ``busy``
    is high from cycle 3 for ``compute`` cycles; the ingest's ``tready`` rises in cycle 3 (the
    bank it fills was emptied by the swap), so beat ``i`` transfers in cycle ``3 + i*(gap+1)``
    and the stream is done in cycle ``4 + (beats-1)*(gap+1)``; the wrapper's CMD sees ``busy``
    low in cycle ``3 + compute`` and its SWAIT passes in cycle ``4 + max(compute, (beats-1) *
    (gap+1))``; the closing STAMP is the cycle after.  Over Wishbone (``irq``: the wrapper
    waits for the done interrupt, which rises the cycle after ``busy`` falls) the command side
    is one cycle longer; the write's ``ack`` comes when it has landed, so the rest is the same.

    At full rate (``gap = 0``) the stream is always hidden: the event engine scans all ``IW``
    input words at every step, so ``compute > T*IW = beats``.  Without double buffering (this
    core before issue 9's interfaces) a sample cost :func:`single_buffered_cycles`.
    """
    if beats < 0 or gap < 0 or compute < 0:
        raise ValueError(f"compute, beats and gap must be >= 0, not {compute!r}, {beats!r}, "
                         f"{gap!r}")
    stream = (beats - 1) * (gap + 1) if beats else 0
    return OVERLAP_OVERHEAD + max(compute + int(irq), stream)


def single_buffered_cycles(compute: int, beats: int) -> int:
    """The same sample on the earlier single-buffered core: its stream of ``beats`` beats
    (accepted every other cycle, only while the core was idle) before the command, then the
    command: ``2*beats + compute`` (+ the same host overhead)."""
    return 2 * beats + compute


def sample_work(cfg: NetConfig, lanes: int, x, v_hidden, s_hidden, pg_hidden, pg_output,
                vfb_output, vfb_hidden, train: bool = True) -> dict:
    """The work of one sample in word operations (:data:`WORK_DEFINITION`), by kind, and
    ``"total"``."""
    hw = HwConfig(net=cfg, lanes=lanes)
    IW, HW, OW = hw.IW, hw.HW, hw.OW
    T, I, H = cfg.timesteps, hw.hidden_pre, cfg.n_hidden
    x, pairs, s_hidden, pg_hidden, vfb_hidden = _conv_view(cfg, x, s_hidden, pg_hidden,
                                                           vfb_hidden)
    events = 0
    for t in range(T):
        events += _input_fanout(hw, pairs, x[t]) + np.count_nonzero(s_hidden[t]) * OW
        if cfg.arch == "rsnn" and t > 0:
            events += np.count_nonzero(_recurrent_inputs(cfg, v_hidden, s_hidden, t)) * HW
    work = {"synaptic_events": int(events), "neuron_updates": T * (HW + OW), "error": OW,
            "feedback": 0, "deferred_delta": 0, "error_neurons": 0, "loss_noise": 0,
            "stream_beats": hw.stream_beats}
    if train:
        work["feedback"] = H * OW
        work["error_neurons"] = hw.error_neuron_steps * OW
        work["loss_noise"] = hw.noise_runs * hw.noise_cycles
        work["deferred_delta"] = sum(npre * int(_active_groups(pg, fb, lanes).sum())
                                     for pg, fb, npre in ((pg_output, vfb_output, H),
                                                          (pg_hidden, vfb_hidden, I)))
    work["total"] = sum(work.values())
    return work


def update_work(cfg: NetConfig, lanes: int) -> int:
    """Word operations of one UPDATE: every weight word once."""
    return HwConfig(net=cfg, lanes=lanes).update_words


def from_record(cfg: NetConfig, lanes: int, rec, train: bool = True) -> tuple[int, int]:
    """``(expected_cycles, total work)`` from a :class:`intsnn.golden.model.SampleRecord`;
    the design's cycles for the sample are ``max(expected_cycles, stream_cycles)`` (the stream
    of the next sample overlaps, :func:`overlap_cycles`)."""
    s = rec.steps
    args = (cfg, lanes, s["in_spikes"], s["v_hidden"], s["s_hidden"], s["pg_hidden"],
            s["pg_output"], rec.vfb_output, rec.vfb_hidden, train)
    return expected_cycles(*args), sample_work(*args)["total"]


def work_table(presets=("mnist-snn", "shd-snn", "shd-rsnn"), lanes=(1, 4, 16), samples: int = 32,
               seed: int = 0, data_dir=None) -> list[dict]:
    """Exact cycles (= RTL), or the stream when it is longer (double buffering), against the
    work, on real samples.

    ``samples`` training samples of each preset's data (the embedded subset unless
    ``data_dir``), encoded as in training, initial weights (``seed``); the golden record of each
    sample gives its exact cycle count and its work.  Ratios are of sums over the samples, and
    the largest per-sample ratio.
    """
    from ..golden.config import preset as make_preset
    from ..golden.model import IntSNN
    from ..sw.train import encode, load_data

    rows = []
    for name in presets:
        data = load_data(name, "train", data_dir, limit=samples)
        cfg = make_preset(name, n_out=int(data.meta["n_classes"]))
        net = IntSNN(cfg, seed)
        x = encode(cfg, data, np.arange(len(data.y)), seed, 0)
        recs = [net.run_sample(x[s], int(data.y[s])) for s in range(len(data.y))]
        for p in lanes:
            stream = stream_cycles(cfg, p)
            train = np.array([from_record(cfg, p, r) for r in recs], np.float64)
            infer = np.array([from_record(cfg, p, r, train=False) for r in recs], np.float64)
            cyc = np.maximum(train[:, 0], stream)   # the stream overlaps (double buffering)
            upd_c, upd_w = expected_update_cycles(cfg, p), update_work(cfg, p)
            rows.append({
                "preset": name, "lanes": p, "samples": len(recs),
                "cycles_train_mean": float(train[:, 0].mean()), "stream_cycles": stream,
                "work_train_mean": float(train[:, 1].mean()),
                "ratio": float(cyc.sum() / train[:, 1].sum()),
                "ratio_max": float((cyc / train[:, 1]).max()),
                "ratio_min": float((cyc / train[:, 1]).min()),
                "cycles_infer_mean": float(infer[:, 0].mean()),
                "ratio_infer": float(np.maximum(infer[:, 0], stream).sum() / infer[:, 1].sum()),
                "update_cycles": upd_c, "update_work": upd_w, "ratio_update": upd_c / upd_w})
    return rows


def main(argv=None) -> int:
    import argparse

    from ..sw import outputs
    from ..sw.argtypes import HelpFormatter, positive_int
    from ..sw.command import run_command

    ap = argparse.ArgumentParser(prog="python -m intsnn.hw.cycles", formatter_class=HelpFormatter,
                                 description="cycles per training sample against the work the "
                                             "design must do, on real samples (exact formula = "
                                             "RTL)")
    ap.add_argument("--samples", type=positive_int, default=32,
                    help="training samples of each preset")
    ap.add_argument("--lanes", type=positive_int, nargs="+", default=[1, 4, 16],
                    help="lane counts to tabulate")
    ap.add_argument("--data-dir", default=None,
                    help="real data folder (default: $INTSNN_DATA, else the embedded subset)")
    ap.add_argument("--json", default=None, help="also write the table as JSON here")
    a = ap.parse_args(argv)
    return run_command("python -m intsnn.hw.cycles", lambda: _main(a, outputs))


def _main(a, outputs) -> int:
    if a.json:
        outputs.check_out_file(a.json, "--json")
    rows = work_table(lanes=a.lanes, samples=a.samples, data_dir=a.data_dir)
    print(f"{'preset':9s} {'P':>3s} {'cycles/train':>13s} {'stream':>8s} {'work':>11s} "
          f"{'ratio':>6s} {'max':>6s} {'infer ratio':>11s} {'update':>8s} {'ratio':>6s}")
    for r in rows:
        print(f"{r['preset']:9s} {r['lanes']:3d} {r['cycles_train_mean']:13,.0f} "
              f"{r['stream_cycles']:8,d} {r['work_train_mean']:11,.0f} {r['ratio']:6.3f} "
              f"{r['ratio_max']:6.3f} {r['ratio_infer']:11.3f} {r['update_cycles']:8,d} "
              f"{r['ratio_update']:6.4f}")
    print(f"work: {WORK_DEFINITION}")
    if a.json:
        outputs.write_json(a.json, {"samples": a.samples, "data_dir": a.data_dir,
                                    "work_definition": WORK_DEFINITION, "rows": rows})
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
