"""``intsnn fpga train|infer``: the co-simulation flow with a board instead of a simulator.

Same samples, same golden model and the same report layout as ``intsnn cosim``
(:mod:`intsnn.sim.cosim`): :func:`prepare` loads and encodes the samples and runs the golden
model; :func:`intsnn.host.session.run_session` drives the board over a transport and compares
as it goes; :func:`build_report` writes ``report.json``.  ``train`` trains on the training
samples, then infers the test samples; ``infer`` only infers them.  Both start from the seeded
initial weights, or from ``weights`` (e.g. an ``intsnn train`` run's ``weights.npz``: train
offline with the golden model, evaluate on the board).  The board co-simulation
(:mod:`intsnn.sim.board_cosim`) uses the same three steps with a simulated UART.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

import numpy as np

from ..hw.config import DEFAULT_LANES
from ..hw.host_protocol import hidden_weight_shape
from ..sim.cosim import (CosimOptions, RunOptions, conclusion, diagnose, golden_trajectory,
                         load_samples)
from ..sim.infer import load_trained
from ..sw import outputs
from ..sw.progress import bar

__all__ = ["FpgaOptions", "prepare", "build_report", "fpga_run", "summary", "MODES"]

MODES = ("train", "infer")


@dataclass
class FpgaOptions(RunOptions):
    """:class:`~intsnn.sim.cosim.RunOptions` (network, samples, output) and the board's link."""
    mode: str = "train"
    port: str = "/dev/ttyUSB0"
    baud: int = 1_000_000
    timeout_s: float = 10.0
    out: str = "runs/fpga"
    weights: str | None = None   # start from these (an intsnn train run's weights.npz)


def prepare(o: FpgaOptions):
    """(cfg, lanes, data dict for the session, golden trajectory, meta, y_train, y_test)."""
    if o.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {o.mode!r}")
    c = CosimOptions(**{f.name: getattr(o, f.name) for f in fields(RunOptions)})
    c.train_samples = max(1, o.train_samples)
    cfg, xtr, ytr, xte, yte, meta = load_samples(c)
    if o.mode == "infer":  # the test samples only
        xtr, ytr = xtr[:0], ytr[:0]
    lanes = o.lanes if o.lanes is not None else DEFAULT_LANES
    # the same check as `intsnn cosim --weights`: weights of another configuration are refused
    start = None if o.weights is None else load_trained(o.weights, cfg)[0]
    g = golden_trajectory(cfg, o.seed, xtr, ytr, xte, lanes, weights=start)
    d = {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte,
         "w_hidden0": g["w0"].hidden, "w_output0": g["w0"].output,
         "g_counts_train": g["counts_train"], "g_pred_train": g["pred_train"],
         "g_counts_test": g["counts_test"], "g_pred_test": g["pred_test"],
         "g_cycles_train": g["cycles_train"], "g_cycles_test": g["cycles_test"],
         "g_w_hidden": [w.hidden for w in g["weights"]],
         "g_w_output": [w.output for w in g["weights"]]}
    if cfg.arch == "rsnn":
        d["w_recurrent0"] = g["w0"].recurrent
    meta = {**meta, "train_samples": int(len(ytr)), "test_samples": int(len(yte))}
    return cfg, lanes, d, g, meta, (xtr, ytr, xte, yte)


def _stats(a) -> dict | None:
    a = np.asarray(a, np.float64)
    if a.size == 0:
        return None
    return {"mean": float(a.mean()), "min": int(a.min()), "max": int(a.max()), "n": int(a.size)}


def build_report(o: FpgaOptions, cfg, lanes, g, meta, samples, res: dict, target: dict) -> dict:
    """The report of a session (``target`` says where it ran: board or co-simulation)."""
    xtr, ytr, xte, yte = samples
    mms = res["mismatches"]
    diagnosis = diagnose(mms[0], cfg, o.seed, g, xtr, ytr, xte, yte) if mms else None
    hw_pred_tr = np.asarray(res["pred_train"], np.int64)
    hw_pred_te = np.asarray(res["pred_test"], np.int64)
    n_te = len(hw_pred_te)
    complete = not mms and len(hw_pred_tr) == len(ytr) and n_te == len(yte)
    return {
        "command": f"fpga {o.mode}",
        "preset": o.preset,
        "config": cfg.to_dict(),
        "lanes": lanes,
        "seed": o.seed,
        "start_weights": o.weights or "seeded initial weights",
        "data": meta,
        "target": target,
        "status": "match" if complete else ("mismatch" if mms else "incomplete"),
        "mismatches": mms,
        "mismatch_count": len(mms),
        "diagnosis": diagnosis,
        "checked": {"train_samples": len(hw_pred_tr), "test_samples": n_te,
                    "updates": res["updates_checked"],
                    "weights_per_update": int(np.prod(hidden_weight_shape(cfg)))
                    + cfg.n_out * cfg.n_hidden},
        "accuracy": {
            "test": {"hardware": float(np.mean(hw_pred_te == yte[:n_te])) if n_te else None,
                     "golden": float(np.mean(g["pred_test"] == yte)) if len(yte) else None},
            "train_online": {"hardware": float(np.mean(hw_pred_tr == ytr[:len(hw_pred_tr)]))
                             if len(hw_pred_tr) else None,
                             "golden": float(np.mean(g["pred_train"] == ytr))
                             if len(ytr) else None}},
        "cycles": {"per_train_sample": _stats(res["cycles_train"]),
                   "per_inference_sample": _stats(res["cycles_test"]),
                   "per_update": _stats(res["cycles_update"])},
        "time": res["timing"],
        "per_sample": {k: res[k] for k in ("pred_train", "pred_test", "cycles_train",
                                           "cycles_test", "cycles_update", "counts_train",
                                           "counts_test")},
    }


def summary(r: dict) -> str:
    """Short text of a report, ending with what it shows."""
    acc, tm = r["accuracy"], r["time"]

    def f(v):
        return "   -   " if v is None else f"{100 * v:6.2f} %"

    c = r["cycles"]["per_train_sample"]
    lines = [f"{r['preset']} (lanes {r['lanes']}, B {r['config']['batch_size']}) on "
             f"{r['target']['name']}: {r['data']['train_samples']} train / "
             f"{r['data']['test_samples']} test samples",
             "                      hardware    golden",
             f"test accuracy         {f(acc['test']['hardware'])}  {f(acc['test']['golden'])}",
             f"train acc. (online)   {f(acc['train_online']['hardware'])}  "
             f"{f(acc['train_online']['golden'])}",
             f"mismatches            {r['mismatch_count']}   ({r['checked']['train_samples']} "
             f"train + {r['checked']['test_samples']} test samples and "
             f"{r['checked']['updates']} updates checked)",
             f"cycles / train sample {'-' if c is None else format(c['mean'], ',.0f')}",
             f"link                  {tm['bytes_to_board']:,} bytes to the board, "
             f"{tm['bytes_from_board']:,} back in {tm['session_wall_s']:.1f} s"]
    if r["status"] == "match" and not r["checked"]["updates"]:
        lines.append("Every count, prediction, cycle count and the loaded weights agreed with "
                     "the golden model.")
    else:
        lines.append(conclusion(r).replace("generated Verilog", "hardware"))
    return "\n".join(lines)


def fpga_run(o: FpgaOptions, transport=None) -> dict:
    """Prepare, run the session on the board at ``o.port`` (or ``transport``), write
    ``o.out/report.json``; return the report."""
    from .link import BoardLink
    from .session import run_session
    from .transport import SerialTransport

    out = outputs.check_out_dir(o.out, "--out")
    own = transport is None
    if own:  # before the golden model: a missing port fails at once
        transport = SerialTransport(port=o.port, baud=o.baud, timeout=o.timeout_s)
    with outputs.run_lock(out):
        outputs.supersede(out / "report.json")
        cfg, lanes, d, g, meta, samples = prepare(o)
        link = BoardLink(transport, lanes=lanes, input_bits=cfg.input_bits)
        total = len(samples[1]) + len(samples[3])
        t0 = time.perf_counter()
        try:
            with bar(desc=f"fpga {o.mode} on {o.port}", total=total, quiet=o.quiet,
                     unit="sample") as pbar:
                res = run_session(link, d, cfg, lambda done, _n: pbar.update(done - pbar.n))
        finally:
            if own:
                transport.close()
        target = {"name": f"board at {o.port}", "kind": "board", "port": o.port,
                  "baud": o.baud, "wall_s": time.perf_counter() - t0}
        report = build_report(o, cfg, lanes, g, meta, samples, res, target)
        outputs.write_json(out / "report.json", report)
        return report
