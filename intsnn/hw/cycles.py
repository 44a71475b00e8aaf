"""Analytic cycle counts of the training core (checked exactly against RTL simulation).

All counts are in clock cycles from the COMMAND write to ``busy`` low (the value of REG_CYCLES).
Stream ingestion (1 beat per 2 cycles, while idle) is not included: it overlaps the host
transfer.  See ``docs/architecture.md`` ("Schedule and cycle formula").
"""

from __future__ import annotations

import numpy as np

from ..golden.config import NetConfig

__all__ = ["expected_cycles", "expected_update_cycles", "lower_bound", "from_record",
           "recurrent_work", "bound_table", "CYCLE_FORMULA", "UPDATE_FORMULA"]

CYCLE_FORMULA = (
    "sum_t [ 1 + IW + nzw_x(t) + HW*nnz_x(t)                    # input events\n"
    "      + (rsnn and t>0) * (1 + HW + nzw_q(t) + HW*nnz_q(t))   # recurrent events\n"
    "      + HW + 1                                            # hidden neuron pass\n"
    "      + 1 + HW + nzw_s(t) + OW*nspk_h(t)                  # hidden-spike events\n"
    "      + OW + 1 ]                                          # output neuron pass\n"
    "+ OW + 1 (error/argmax) + 1 (done)\n"
    "+ train * [ H*OW + 1 (vfb)\n"
    "          + sum_{o-words g} (2 + act(g) * (H + 1))\n"
    "          + sum_{h-words g} (2 + act(g) * (I + 1)) ]\n"
    "IW,HW,OW = ceil(n/P); nnz = nonzero values; nzw = words with a nonzero value;\n"
    "act(g) = some pseudo-gradient in word g at some step and the word's feedback\n"
    "(e or vfb_hidden) is not all zero")
UPDATE_FORMULA = "n_in*HW + n_hidden*OW + 2"


def _words(cfg: NetConfig, lanes: int):
    c = lambda n: -(-n // lanes)  # noqa: E731
    return c(cfg.n_in), c(cfg.n_hidden), c(cfg.n_out)


def _pad(a: np.ndarray, lanes: int) -> np.ndarray:
    """(..., n) -> (..., words, lanes) with zero padding."""
    n = a.shape[-1]
    w = -(-n // lanes)
    out = np.zeros(a.shape[:-1] + (w * lanes,), a.dtype)
    out[..., :n] = a
    return out.reshape(a.shape[:-1] + (w, lanes))


def _events(a: np.ndarray, lanes: int):
    """(#words with a nonzero entry, #nonzero entries) of a 1-D vector."""
    p = _pad(np.asarray(a) != 0, lanes)
    return int(p.any(axis=-1).sum()), int(p.sum())


def expected_cycles(cfg: NetConfig, lanes: int, x, v_hidden, s_hidden, pg_hidden, pg_output,
                    vfb_output, vfb_hidden, train: bool = True) -> int:
    """Cycles of one TRAIN (or INFER) sample from its observables (golden ``run_sample``).

    ``x`` (T, I); ``v_hidden``/``s_hidden``/``pg_hidden`` (T, H); ``pg_output`` (T, O);
    ``vfb_output`` (O,) = e; ``vfb_hidden`` (H,).
    """
    IW, HW, OW = _words(cfg, lanes)
    T, I, H = cfg.timesteps, cfg.n_in, cfg.n_hidden
    cyc = 0
    for t in range(T):
        zw, nz = _events(x[t], lanes)
        cyc += 1 + IW + zw + HW * nz
        if cfg.arch == "rsnn" and t > 0:
            zw, nz = _events(np.asarray(v_hidden[t - 1]) >> cfg.rec_shift, lanes)
            cyc += 1 + HW + zw + HW * nz
        cyc += HW + 1
        zw, nz = _events(s_hidden[t], lanes)
        cyc += 1 + HW + zw + OW * nz
        cyc += OW + 1
    cyc += OW + 1 + 1
    if not train:
        return cyc
    cyc += H * OW + 1
    for pg, fb, npre in ((pg_output, vfb_output, H), (pg_hidden, vfb_hidden, I)):
        anyw = _pad(np.asarray(pg) != 0, lanes).any(axis=-1).any(axis=0)   # (words,)
        fbw = _pad(np.asarray(fb) != 0, lanes).any(axis=-1)                 # (words,)
        cyc += 2 * anyw.size + (npre + 1) * int((anyw & fbw).sum())
    return cyc


def expected_update_cycles(cfg: NetConfig, lanes: int) -> int:
    """Cycles of one UPDATE command."""
    IW, HW, OW = _words(cfg, lanes)
    return cfg.n_in * HW + cfg.n_hidden * OW + 2


def lower_bound(cfg: NetConfig, lanes: int, x, s_hidden, pg_hidden, pg_output,
                v_hidden=None) -> float:
    """The brief's synaptic-work lower bound, in cycles with ``lanes`` synapses per cycle.

    Per time step one accumulation per synapse with a non-zero input (input synapses:
    ``nnz(x) * H``; output synapses: ``nnz(s_hidden) * O``; RSNN recurrent synapses, whose input
    is ``B16(V(t-1))``: ``nnz(V(t-1) >> rec_shift) * H`` for t > 0, needs ``v_hidden``) and one
    weight-trace update per synapse whose neuron has a non-zero pseudo-gradient
    (``nnz(pg_hidden) * I + nnz(pg_output) * H``); at the end of the sample one delta update per
    trained synapse (``H*I + O*H``).
    """
    I, H, O = cfg.n_in, cfg.n_hidden, cfg.n_out
    work = (np.count_nonzero(x) * H + np.count_nonzero(s_hidden) * O
            + np.count_nonzero(pg_hidden) * I + np.count_nonzero(pg_output) * H + H * I + O * H)
    if cfg.arch == "rsnn":
        if v_hidden is None:
            raise ValueError("the RSNN bound needs v_hidden (the recurrent synapses' inputs)")
        work += recurrent_work(cfg, 1, v_hidden)
    return work / lanes


def recurrent_work(cfg: NetConfig, lanes: int, v_hidden) -> float:
    """RSNN recurrent synaptic work: ``sum_{t>0} nnz(V(t-1) >> rec_shift) * H / P``."""
    if cfg.arch != "rsnn":
        return 0.0
    v = np.asarray(v_hidden)
    return sum(np.count_nonzero(v[t - 1] >> cfg.rec_shift)
               for t in range(1, cfg.timesteps)) * cfg.n_hidden / lanes


def from_record(cfg: NetConfig, lanes: int, rec, train: bool = True) -> tuple[int, float]:
    """``(expected_cycles, lower_bound)`` from a :class:`intsnn.golden.model.SampleRecord`."""
    s = rec.steps
    exp = expected_cycles(cfg, lanes, s["in_spikes"], s["v_hidden"], s["s_hidden"],
                          s["pg_hidden"], s["pg_output"], rec.vfb_output, rec.vfb_hidden, train)
    lb = lower_bound(cfg, lanes, s["in_spikes"], s["s_hidden"], s["pg_hidden"], s["pg_output"],
                     s["v_hidden"])
    return exp, lb


def bound_table(presets=("mnist-snn", "shd-snn", "shd-rsnn"), lanes=(1, 4, 16), samples: int = 32,
                seed: int = 0, data_dir=None) -> list[dict]:
    """Exact cycles (= RTL) vs the lower bound on real samples, with the initial weights.

    ``samples`` training samples of each preset's data (the embedded subset unless
    ``data_dir``), encoded as in training; the golden record of each sample gives its exact
    cycle count (:func:`from_record`) and its bound.  Ratios are of sums over the samples.
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
            exp = np.array([from_record(cfg, p, r) for r in recs], np.float64)
            inf = [from_record(cfg, p, r, train=False)[0] for r in recs]
            rows.append({"preset": name, "lanes": p, "samples": len(recs),
                         "cycles_train_mean": float(exp[:, 0].mean()),
                         "cycles_infer_mean": float(np.mean(inf)),
                         "update_cycles": expected_update_cycles(cfg, p),
                         "bound_mean": float(exp[:, 1].mean()),
                         "ratio": float(exp[:, 0].sum() / exp[:, 1].sum()),
                         "ratio_max": float((exp[:, 0] / exp[:, 1]).max())})
    return rows


def main(argv=None) -> int:
    import argparse

    from ..sw import outputs
    from ..sw.argtypes import HelpFormatter, positive_int
    from ..sw.command import run_command

    ap = argparse.ArgumentParser(prog="python -m intsnn.hw.cycles", formatter_class=HelpFormatter,
                                 description="cycles per training sample vs the lower bound, "
                                             "on real samples (exact formula = RTL)")
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
    rows = bound_table(lanes=a.lanes, samples=a.samples, data_dir=a.data_dir)
    print(f"{'preset':9s} {'P':>3s} {'cycles/train':>13s} {'bound':>11s} {'ratio':>6s} "
          f"{'max':>6s} {'cycles/infer':>13s} {'update':>8s}")
    for r in rows:
        print(f"{r['preset']:9s} {r['lanes']:3d} {r['cycles_train_mean']:13,.0f} "
              f"{r['bound_mean']:11,.0f} {r['ratio']:6.3f} {r['ratio_max']:6.3f} "
              f"{r['cycles_infer_mean']:13,.0f} "
              f"{r['update_cycles']:8,d}")
    if a.json:
        outputs.write_json(a.json, {"samples": a.samples, "data_dir": a.data_dir, "rows": rows})
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
