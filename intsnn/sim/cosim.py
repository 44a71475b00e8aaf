"""Co-simulation flow: train the generated Verilog on real samples, compare with the golden model.

:func:`cosimulate` is what ``intsnn cosim`` and ``intsnn demo`` run:

1. load the real samples (``intsnn/sw/train.py``: ``load_data``/``encode``; MNIST rate-coded, SHD frames),
   pick ``train_samples``/``test_samples`` of them with a seeded permutation, build the config;
2. run the golden model (``IntSNN``, same ``init_weights(cfg, seed)``) over the same samples: the
   expected counts and predictions of every sample and the weights after every batch update
   (``batch_deltas`` + ``update`` every ``B`` samples and once for a final partial batch);
3. generate the core's Verilog (``intsnn.hw.generate.generate``) into a cache directory keyed by
   the config, the lane count and the generator's source, or reuse ``hw_dir`` after checking its
   manifest; write the ``tb_top`` wrapper (:mod:`intsnn.sim.tb`);
4. build with Verilator or Icarus through :func:`intsnn.sim.runner.build_and_test` and run the
   cocotb bench ``intsnn/sim/benches/cosim_bench.py``, which compares after every sample and every
   update and stops at the first divergence;
5. on a divergence, re-run the sample with the golden ``run_sample`` and name the first differing
   output neuron / weight with its golden per-timestep trace; write ``out/report.json``
   (temp file + rename, so a failed run leaves no report) and return it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..golden.config import NetConfig
from ..golden.model import IntSNN
from ..hw.config import DEFAULT_LANES as HW_DEFAULT_LANES, HwConfig
from ..sw.train import DATASET_OF, EVAL_EPOCH, encode, load_data, make_config
from . import tb
from .runner import SimulationFailed, build_and_test
from .tools import SimulatorNotFound, find_simulator

__all__ = ["CosimOptions", "CosimError", "cosimulate", "ensure_hardware", "check_manifest",
           "golden_trajectory", "summary_table", "DEFAULT_LANES", "BENCH"]

HW_PRESETS = ("mnist-snn", "shd-snn", "shd-rsnn")
#: Default lane count per preset (synapses per cycle).
DEFAULT_LANES = {p: HW_DEFAULT_LANES for p in HW_PRESETS}
#: The cocotb test module.
BENCH = Path(__file__).resolve().parent / "benches" / "cosim_bench.py"

PYTHON_SHARE_METHOD = (
    "Inside the simulator process the bench sums the wall time spent blocked in its awaits "
    "(one `await RisingEdge(tb_done)` per program; the clock is cocotb's C++ GPI clock, so no "
    "Python runs while the simulator advances). python_share = (bench wall time - blocked "
    "time) / bench wall time, measured with time.perf_counter from the first to the last "
    "statement of the cocotb test (program formatting, file I/O, unpacking and comparisons "
    "count as Python). Simulator start-up, the golden model, Verilog generation and the build "
    "are reported separately.")


class CosimError(RuntimeError):
    """The co-simulation could not run (build failure, simulator missing, bench crash)."""


@dataclass
class CosimOptions:
    preset: str = "mnist-snn"
    sim: str = "verilator"
    data_dir: str | None = None
    train_samples: int = 64
    test_samples: int = 64
    batch_size: int | None = None
    lanes: int | None = None
    shadow_bits: int = 16
    inference_bits: int = 8
    seed: int = 0
    waves: bool = False
    out: str = "runs/cosim"
    hw_dir: str | None = None          # reuse Verilog + manifest.json from here
    build_root: str | None = None      # cache of generated Verilog and simulator builds
    overrides: dict = field(default_factory=dict)  # NetConfig overrides (e.g. n_hidden)
    inject: dict | None = None         # tests: fault written into the hardware
    quiet: bool = False


# ---------------------------------------------------------------------- data and golden model
def _pick(n_avail: int, n: int, seed: int, tag: int, what: str) -> np.ndarray:
    if n < 0:
        raise ValueError(f"{what} must be >= 0, got {n}")
    if n > n_avail:
        raise ValueError(f"{what}={n} but the data has only {n_avail} samples")
    return np.sort(np.random.Generator(np.random.PCG64([seed, 0xC051, tag])).permutation(
        n_avail)[:n]) if n < n_avail else np.arange(n_avail)


def load_samples(o: CosimOptions):
    """(cfg, x_train, y_train, x_test, y_test, data meta) for the options."""
    if o.preset not in HW_PRESETS:
        raise ValueError(f"preset {o.preset!r} has no hardware; choose from "
                         f"{', '.join(HW_PRESETS)}")
    if o.train_samples < 1:
        raise ValueError(f"train_samples must be >= 1, got {o.train_samples}")
    tr = load_data(o.preset, "train", o.data_dir)
    te = load_data(o.preset, "test", o.data_dir)
    cfg = make_config(o.preset, int(tr.meta["n_classes"]), o.shadow_bits, o.inference_bits,
                      o.batch_size, **o.overrides)
    rows_tr = _pick(len(tr.y), o.train_samples, o.seed, 0, "train_samples")
    rows_te = _pick(len(te.y), o.test_samples, o.seed, 1, "test_samples")
    # order of the training samples: a seeded shuffle (the SHD files are sorted by label)
    rows_tr = rows_tr[np.random.Generator(np.random.PCG64([o.seed, 0])).permutation(
        len(rows_tr))]
    xtr = encode(cfg, tr, rows_tr, o.seed, 0)
    xte = encode(cfg, te, rows_te, o.seed, EVAL_EPOCH) if len(rows_te) else np.zeros(
        (0, cfg.timesteps, cfg.n_in), np.int64)
    meta = {"dataset": DATASET_OF[o.preset], "source": tr.meta.get("source"),
            "data_dir": str(o.data_dir) if o.data_dir else None,
            "train_rows": rows_tr.tolist(), "test_rows": rows_te.tolist()}
    return cfg, xtr, tr.y[rows_tr], xte, te.y[rows_te], meta


def golden_trajectory(cfg: NetConfig, seed: int, xtr, ytr, xte, lanes: int | None = None):
    """The golden model over the samples: per-sample counts/predictions, weights per update.

    With ``lanes``, also every sample's exact cycle count (:func:`intsnn.hw.cycles.from_record`,
    from the golden observables of that sample with the weights it sees) and, for training
    samples, the work the design must do (:func:`intsnn.hw.cycles.sample_work`).
    """
    from ..hw import cycles

    model = IntSNN(cfg, seed)
    w0 = model.weights.copy()
    B = cfg.batch_size
    counts_tr, weights = [], []
    cyc_tr, work_tr = [], []
    for s in range(0, len(ytr), B):
        if lanes is not None:
            for j in range(s, min(s + B, len(ytr))):
                rec = model.run_sample(xtr[j], int(ytr[j]))
                exp, work = cycles.from_record(cfg, lanes, rec)
                cyc_tr.append(exp)
                work_tr.append(work)
        dh, do, counts = model.batch_deltas(xtr[s:s + B], ytr[s:s + B])
        counts_tr.append(counts)
        model.update(dh, do)
        weights.append(model.weights.copy())
    counts_tr = np.concatenate(counts_tr) if counts_tr else np.zeros((0, cfg.n_out), np.int64)
    if len(xte):
        counts_te, pred_te = model.predict(xte)
    else:
        counts_te, pred_te = np.zeros((0, cfg.n_out), np.int64), np.zeros(0, np.int64)
    cyc_te = ([cycles.from_record(cfg, lanes, model.run_sample(x, 0), train=False)[0]
               for x in xte] if lanes is not None else [])
    return {"w0": w0, "weights": weights, "counts_train": counts_tr,
            "pred_train": np.argmax(counts_tr, axis=1) if len(counts_tr) else np.zeros(0),
            "counts_test": counts_te, "pred_test": np.asarray(pred_te),
            "cycles_train": np.asarray(cyc_tr, np.int64), "cycles_test": np.asarray(cyc_te,
                                                                                    np.int64),
            "work_train": np.asarray(work_tr, np.float64)}


# ---------------------------------------------------------------------- hardware
def _norm(d: dict) -> dict:
    return json.loads(json.dumps(d, default=str))


def check_manifest(manifest: dict, cfg: NetConfig, lanes: int, where) -> None:
    """Raise ValueError if ``manifest`` (generator output) was made for another config/lanes."""
    want = _norm(cfg.to_dict())
    have = manifest.get("config")
    if not isinstance(have, dict):
        raise ValueError(f"{where}: manifest.json has no config")
    have = _norm(have)
    diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
    if diff:
        shown = ", ".join(f"{k}: hardware {have.get(k)!r} != requested {want.get(k)!r}"
                          for k in diff[:4])
        raise ValueError(f"the Verilog in {where} was generated for another configuration "
                         f"({shown}{', ...' if len(diff) > 4 else ''}); regenerate it or drop "
                         f"--hw-dir")
    if manifest.get("lanes") != lanes:
        raise ValueError(f"the Verilog in {where} was generated for lanes={manifest.get('lanes')}"
                         f", not lanes={lanes}")


def _hw_source_digest() -> str:
    from .. import hw
    h = hashlib.sha256()
    for p in sorted(Path(hw.__file__).parent.glob("*.py")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


@contextlib.contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_hardware(cfg: NetConfig, lanes: int, build_root: Path, hw_dir=None):
    """``(verilog path, manifest, key)``: reuse ``hw_dir`` or the cache, else generate."""
    if hw_dir is not None:
        d = Path(hw_dir)
        mpath = d / "manifest.json"
        if not mpath.is_file():
            raise FileNotFoundError(f"no manifest.json in {d} (generate the Verilog with "
                                    f"`intsnn generate`)")
        manifest = json.loads(mpath.read_text())
        check_manifest(manifest, cfg, lanes, d)
        vpath = d / manifest.get("verilog", "intsnn_core.v")
        if not vpath.is_file():
            raise FileNotFoundError(f"{vpath} named by {mpath} does not exist")
        key = "ext-" + hashlib.sha256(vpath.read_bytes()).hexdigest()[:16]
        return vpath, manifest, key
    from ..hw.generate import generate

    key = hashlib.sha256(json.dumps({"config": _norm(cfg.to_dict()), "lanes": lanes,
                                     "hw": _hw_source_digest()}, sort_keys=True).encode()
                         ).hexdigest()[:16]
    d = build_root / key / "hw"
    with _lock(build_root / key / ".hw.lock"):
        mpath = d / "manifest.json"
        if mpath.is_file():
            manifest = json.loads(mpath.read_text())
            check_manifest(manifest, cfg, lanes, d)
            vpath = d / manifest["verilog"]
            if vpath.is_file():
                return vpath, manifest, key
        tmp = Path(tempfile.mkdtemp(prefix="hw-", dir=d.parent))
        try:
            vpath, manifest = generate(cfg, lanes, tmp)
            if d.exists():
                shutil.rmtree(d)
            os.replace(tmp, d)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return d / vpath.name, manifest, key


# ---------------------------------------------------------------------- diagnosis
def _golden_weights_at(g, cfg: NetConfig, phase: str, sample: int):
    if phase == "test":
        return g["weights"][-1] if g["weights"] else g["w0"]
    k = sample // cfg.batch_size
    return g["w0"] if k == 0 else g["weights"][k - 1]


def diagnose(mm: dict, cfg: NetConfig, seed: int, g, xtr, ytr, xte, yte) -> dict:
    """Explain the first mismatch with the golden model's per-timestep record."""
    phase, s, sig = mm["phase"], mm["sample"], mm["signal"]
    out = {"phase": phase, "sample": s, "signal": sig, "index": mm["index"],
           "expected": mm["expected"], "actual": mm["actual"], "n_differ": mm["n_differ"],
           "hardware_observation": ("the core exposes end-of-sample counts, the prediction and "
                                    "the weights over its bus, no per-timestep state; with "
                                    "--waves the waveform holds every internal signal")}
    if phase == "load" or s is None:
        out["timestep"] = None
        out["note"] = "weights read back right after loading differ: a bus/memory fault"
        return out
    model = IntSNN(cfg, seed, weights=_golden_weights_at(g, cfg, phase, s))
    x, y = (xtr[s], int(ytr[s])) if phase == "train" else (xte[s], int(yte[s]))
    rec = model.run_sample(x, y)
    out["label"] = y
    if sig == "cycles":
        out["timestep"] = None
        out["golden_counts"] = [int(c) for c in rec.counts]
        out["note"] = ("counts and prediction agree but the core took another number of cycles "
                       "than intsnn.hw.cycles.expected_cycles gives for this sample's golden "
                       "activity: a fault in the event skipping or the schedule")
        return out
    if sig in ("counts", "prediction"):
        # counts: the first differing output neuron; prediction: the neuron the hardware chose
        o = mm["index"][0] if sig == "counts" else int(mm["actual"])
        spikes = rec.steps["s_output"][:, o].astype(int)
        cum = np.cumsum(spikes)
        hw = mm["actual"] if sig == "counts" else None
        out["neuron"] = int(o)
        out["golden_spike_steps"] = [int(t) for t in np.flatnonzero(spikes)]
        out["golden_v_output"] = [int(v) for v in rec.steps["v_output"][:, o]]
        if hw is not None and hw < cum[-1]:
            t = int(np.argmax(cum > hw))
            out["timestep"] = t
            out["note"] = (f"output neuron {o}: golden spike number {hw + 1} is at step {t}, "
                           f"the hardware counted only {hw} spikes in total, so it diverged at "
                           f"or before step {t}")
        else:
            out["timestep"] = int(cfg.timesteps - 1)
            out["note"] = (f"output neuron {o}: the hardware counted more spikes than golden's "
                           f"{int(cum[-1])} (golden spike steps listed); the divergence is at or "
                           f"before the last step")
        out["golden_counts"] = [int(c) for c in rec.counts]
        out["hardware_counts"] = None
        return out
    # weights after an update: the golden batch delta of the first differing weight
    k = mm["update"]
    B = cfg.batch_size
    model = IntSNN(cfg, seed, weights=g["w0"] if k == 0 else g["weights"][k - 1])
    dh, do, _ = model.batch_deltas(xtr[k * B:(k + 1) * B], ytr[k * B:(k + 1) * B])
    idx = tuple(mm["index"])
    if sig.startswith("w_hidden"):
        out["golden_batch_delta"] = int(dh[idx])
        out["weight_before_update"] = int(model.weights.hidden[idx])
    elif sig.startswith("w_output"):
        out["golden_batch_delta"] = int(do[idx])
        out["weight_before_update"] = int(model.weights.output[idx])
    out["timestep"] = None
    out["note"] = (f"after update {k} (samples {k * B}..{min(len(ytr), (k + 1) * B) - 1}) "
                   f"{sig}{list(idx)} = {mm['actual']}, golden {mm['expected']}")
    return out


# ---------------------------------------------------------------------- the flow
def _stats(a) -> dict | None:
    a = np.asarray(a, np.float64)
    if a.size == 0:
        return None
    return {"mean": float(a.mean()), "min": int(a.min()), "max": int(a.max()), "n": int(a.size)}


def _work_ratio(measured, g: dict, cfg: NetConfig, lanes: int) -> dict:
    """Measured cycles per training sample (+ the stream's) over the work the design must do."""
    from ..hw import cycles

    n = len(measured)
    if n == 0:
        return {}
    m = np.asarray(measured, np.float64) + cycles.stream_cycles(cfg, lanes)
    w = g["work_train"][:n]
    return {"work_per_train_sample": _stats(w),
            "ratio_to_work": {"mean_of_ratios": float(np.mean(m / w)),
                              "max": float(np.max(m / w)), "of_sums": float(m.sum() / w.sum())},
            "work_definition": cycles.WORK_DEFINITION}


def _log(o: CosimOptions, msg: str):
    if not o.quiet:
        print(msg, flush=True)


def cosimulate(o: CosimOptions) -> dict:
    """Run the whole flow; return the report (also written to ``o.out/report.json``)."""
    t_all = time.perf_counter()
    info = find_simulator(o.sim)  # one clear line when missing
    cfg, xtr, ytr, xte, yte, meta = load_samples(o)
    lanes = o.lanes if o.lanes is not None else DEFAULT_LANES.get(o.preset, HW_DEFAULT_LANES)
    hw = HwConfig(net=cfg, lanes=lanes)
    build_root = Path(o.build_root or os.environ.get("INTSNN_BUILD_DIR", "build/cosim"))
    build_root = build_root.resolve()

    t0 = time.perf_counter()
    g = golden_trajectory(cfg, o.seed, xtr, ytr, xte, lanes)
    t_golden = time.perf_counter() - t0
    _log(o, f"golden model: {len(ytr)} training + {len(yte)} test samples in {t_golden:.1f} s")

    t0 = time.perf_counter()
    vpath, manifest, key = ensure_hardware(cfg, lanes, build_root, o.hw_dir)
    t_gen = time.perf_counter() - t0
    _log(o, f"hardware: {vpath} ({t_gen:.1f} s)")

    depth = max(4096, hw.stream_beats + cfg.n_out + 64)
    build_dir = build_root / key / (o.sim + ("-waves" if o.waves else ""))
    build_dir.mkdir(parents=True, exist_ok=True)
    tb_path = build_root / key / f"tb_top_{depth}.v"
    tb_text = tb.tb_verilog(manifest.get("top", "intsnn_core"), manifest.get("ports", []),
                            lanes, cfg.input_bits, depth)
    if not tb_path.is_file() or tb_path.read_text() != tb_text:
        tmp = tb_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(tb_text)
        os.replace(tmp, tb_path)

    with tempfile.TemporaryDirectory(prefix="intsnn-cosim-") as work:
        work = Path(work)
        data = {"x_train": xtr.astype(np.uint16), "y_train": ytr, "x_test": xte.astype(np.uint16),
                "y_test": yte, "w_hidden0": g["w0"].hidden, "w_output0": g["w0"].output,
                "g_counts_train": g["counts_train"], "g_pred_train": g["pred_train"],
                "g_counts_test": g["counts_test"], "g_pred_test": g["pred_test"],
                "g_cycles_train": g["cycles_train"], "g_cycles_test": g["cycles_test"],
                "g_w_hidden": np.stack([w.hidden for w in g["weights"]]).astype(np.int32),
                "g_w_output": np.stack([w.output for w in g["weights"]]).astype(np.int32)}
        if cfg.arch == "rsnn":
            data["w_recurrent0"] = g["w0"].recurrent
        np.savez(work / "data.npz", **data)
        params = {"data": str(work / "data.npz"), "result": str(work / "result.json"),
                  "config": _norm(cfg.to_dict()), "lanes": lanes, "depth": depth}
        if o.inject:
            params["inject"] = o.inject
        _log(o, f"building with {o.sim} {info.version} in {build_dir} and running the bench ...")
        t0 = time.perf_counter()
        try:
            build_and_test([vpath, tb_path], tb.TB_TOP, BENCH, o.sim, build_dir,
                           params=params, waves=o.waves, testcase="cosim",
                           public_flat_rw=False)
        except SimulationFailed as exc:
            if not (work / "result.json").is_file():
                raise CosimError(str(exc)) from None
        t_sim = time.perf_counter() - t0
        res = json.loads((work / "result.json").read_text())

    if res.get("error"):
        raise CosimError(f"the bench stopped: {res['error']}")
    mms = res["mismatches"]
    diagnosis = diagnose(mms[0], cfg, o.seed, g, xtr, ytr, xte, yte) if mms else None
    if diagnosis and diagnosis.get("signal") == "counts":
        diagnosis["hardware_counts"] = res["counts_%s" % diagnosis["phase"]][-1]
    n_te_done = len(res["pred_test"])
    hw_pred_te = np.asarray(res["pred_test"], np.int64)
    hw_pred_tr = np.asarray(res["pred_train"], np.int64)
    complete = not mms and n_te_done == len(yte) and len(hw_pred_tr) == len(ytr)
    tim = res["timing"]
    total_cycles = int(res["total_cycles"])
    waves = None
    if o.waves:
        found = sorted(build_dir.glob("*.fst")) + sorted(build_dir.glob("*.vcd"))
        waves = [str(p) for p in found]
    report = {
        "command": "cosim",
        "preset": o.preset,
        "config": _norm(cfg.to_dict()),
        "lanes": lanes,
        "seed": o.seed,
        "data": {**meta, "train_samples": int(len(ytr)), "test_samples": int(len(yte))},
        "simulator": {"name": o.sim, "version": info.version,
                      "cocotb": __import__("cocotb").__version__},
        "hardware": {"verilog": str(vpath), "cache_key": key, "build_dir": str(build_dir),
                     "manifest_config_checked": True},
        "status": "match" if complete else ("mismatch" if mms else "incomplete"),
        "mismatches": mms,
        "mismatch_count": len(mms),
        "diagnosis": diagnosis,
        "checked": {"train_samples": len(hw_pred_tr), "test_samples": n_te_done,
                    "updates": res["updates_checked"],
                    "weights_per_update": cfg.n_hidden * cfg.n_in + cfg.n_out * cfg.n_hidden},
        "accuracy": {
            "test": {"hardware": float(np.mean(hw_pred_te == yte[:n_te_done]))
                     if n_te_done else None,
                     "golden": float(np.mean(g["pred_test"] == yte)) if len(yte) else None},
            "train_online": {"hardware": float(np.mean(hw_pred_tr == ytr[:len(hw_pred_tr)]))
                             if len(hw_pred_tr) else None,
                             "golden": float(np.mean(g["pred_train"] == ytr))},
        },
        "cycles": {"per_train_sample": _stats(res["cycles_train"]),
                   "per_inference_sample": _stats(res["cycles_test"]),
                   "per_update": _stats(res["cycles_update"]),
                   "total_simulated": total_cycles,
                   **_work_ratio(res["cycles_train"], g, cfg, lanes)},
        "time": {
            "wall_s": None,  # filled below
            "golden_s": t_golden,
            "generate_s": t_gen,
            "build_and_simulate_s": t_sim,
            "bench_wall_s": tim["bench_wall_s"],
            "sim_blocked_s": tim["blocked_s"],
            "python_s": tim["python_s"],
            "python_share": tim["python_share"],
            "sim_cycles_per_s": total_cycles / max(1e-9, tim["bench_wall_s"]),
            "sim_cycles_per_s_blocked": total_cycles / max(1e-9, tim["blocked_s"]),
            "python_share_method": PYTHON_SHARE_METHOD,
        },
        "programs": res["programs"],
        "waves": waves,
    }
    report["time"]["wall_s"] = time.perf_counter() - t_all
    out = Path(o.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".report.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(report, indent=1))
    os.replace(tmp, out / "report.json")
    return report


def summary_table(r: dict) -> str:
    """Short text comparison of a report."""
    acc, cyc, tm = r["accuracy"], r["cycles"], r["time"]

    def f(v):
        return "   -   " if v is None else f"{100 * v:6.2f} %"

    def c(s):
        return "-" if s is None else f"{s['mean']:,.0f} (min {s['min']:,}, max {s['max']:,})"

    lines = [
        f"{r['preset']} (lanes {r['lanes']}, S/Q {r['config']['shadow_bits']}/"
        f"{r['config']['inference_bits']}, B {r['config']['batch_size']}) on "
        f"{r['simulator']['name']} {r['simulator']['version']}: "
        f"{r['data']['train_samples']} train / {r['data']['test_samples']} test samples",
        "                      hardware    golden",
        f"test accuracy         {f(acc['test']['hardware'])}  {f(acc['test']['golden'])}",
        f"train acc. (online)   {f(acc['train_online']['hardware'])}  "
        f"{f(acc['train_online']['golden'])}",
        f"mismatches            {r['mismatch_count']}   ({r['checked']['train_samples']} train + "
        f"{r['checked']['test_samples']} test samples and {r['checked']['updates']} updates "
        f"checked)",
        f"cycles / train sample {c(cyc['per_train_sample'])}"
        + (f"; with the stream {cyc['ratio_to_work']['of_sums']:.2f} x the work"
           if "ratio_to_work" in cyc else ""),
        f"cycles / infer sample {c(cyc['per_inference_sample'])}",
        f"cycles / update       {c(cyc['per_update'])}",
        f"simulated cycles      {cyc['total_simulated']:,} at {tm['sim_cycles_per_s']:,.0f} "
        f"cycles/s; Python share {100 * tm['python_share']:.1f} % of {tm['bench_wall_s']:.1f} s",
        f"wall time             {tm['wall_s']:.1f} s (golden {tm['golden_s']:.1f}, generate "
        f"{tm['generate_s']:.1f}, build+simulate {tm['build_and_simulate_s']:.1f})",
    ]
    d = r.get("diagnosis")
    if d:
        lines.append(f"FIRST DIVERGENCE: {d['phase']} sample {d['sample']}, timestep "
                     f"{d.get('timestep')}, signal {d['signal']}, index {d['index']}: expected "
                     f"{d['expected']}, actual {d['actual']}")
        lines.append(f"  {d.get('note', '')}")
    return "\n".join(lines)


def errors():
    """Exceptions that mean 'clear error, no report' for the command line."""
    return (CosimError, SimulatorNotFound, SimulationFailed)
