"""Hardware inference of a trained network on a whole test split, sharded over Ray workers.

:func:`infer` is what ``intsnn cosim --weights RUN/weights.npz`` runs:

1. load the weights of ``intsnn train`` and the ``metrics.json`` beside them; refuse (one line)
   weights trained for another configuration than the one being built, or out of its ranges;
2. load the test split (all of it, or ``test_samples`` of it, a seeded pick) and encode it as
   training evaluated it: rate coding keyed by the training run's seed and ``EVAL_EPOCH``
   (MNIST), frames (SHD-format);
3. the golden model: counts and predictions (:meth:`IntSNN.predict`) and every sample's INFER
   cycle count (:func:`intsnn.hw.cycles.expected_cycles` on the reference forward pass), in a
   thread while the hardware is generated and built *once*;
4. cut the samples into shards and run each as a task on Ray (local Ray with ``workers`` CPUs,
   or the cluster at ``address``); a task runs its own simulator process of the shared build
   in a working folder of its own: the cosim bench loads the weights over the bus, reads them
   all back and compares, then infers every sample of the shard and compares its counts,
   prediction, CYCLES register and double-buffered cycles (the next sample streaming in while
   this one computes, ``stream_gap`` idle cycles after each beat) with golden (it stops at a
   shard's first divergence); the core has the register interface ``bus`` (host or Wishbone);
5. write every finished shard to ``out/shards/`` at once (so a stopped run continues with the
   shards it lacks when run again with the same options), then ``out/report.json`` with both
   accuracies, the mismatches and the throughput.

Backends: ``verilator`` / ``icarus`` (the cocotb bench) and ``verilator-native``
(:mod:`intsnn.sim.native`, same bench and programs, no cocotb; several times faster).  On a
cluster the build folder must be on a file system every node sees; the native harness, a single
executable, is sent to nodes that do not see it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..golden.config import LATER_FIELDS, NetConfig
from ..golden.init import Weights
from ..golden.model import IntSNN
from ..hw import cycles
from ..hw.config import DEFAULT_LANES, HwConfig
from ..sw import outputs
from ..sw.progress import format_seconds
from ..sw.train import (_OPTION_FIELDS, DATASET_OF, EVAL_EPOCH, check_classes, data_digest,
                        encode, load_data, make_config)
from . import tb
from .cosim import (BENCH, HW_PRESETS, CosimError, _norm, _overlap, _pick, _stats, batch_cycles,
                    ensure_hardware, start_run, write_report, write_tb)
from .native import NATIVE, build_native, run_native
from .runner import SimulationFailed, simulator_build
from .tools import SIMULATORS, find_simulator

__all__ = ["InferOptions", "infer", "load_trained", "golden_inference", "run_shard",
           "summary_table", "WeightsMismatch", "BACKENDS"]

#: ``--sim`` values of the inference mode.
BACKENDS = (*SIMULATORS, NATIVE)
#: Samples per shard unless given: a few shards per worker (for the progress and the balance),
#: at most this many (a stopped run loses at most one shard per worker).
MAX_SHARD = 500
#: One thread per task (a task is given one core).
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class WeightsMismatch(ValueError):
    """The weights file does not belong to the configuration being built (one line)."""


@dataclass
class InferOptions:
    weights: str                       # weights.npz of intsnn train (or its run folder)
    preset: str = "mnist-snn"
    sim: str = "verilator"
    data_dir: str | None = None
    data_name: str | None = None
    test_samples: int | None = None    # None: the whole test split
    lanes: int | None = None
    shadow_bits: int = 16
    inference_bits: int = 8
    batch_size: int | None = None
    overrides: dict = field(default_factory=dict)
    seed: int | None = None            # rate coding of the test split; None: the training seed
    workers: int = 2
    address: str | None = None
    shard_size: int | None = None
    out: str = "runs/cosim-infer"
    build_root: str | None = None
    hw_dir: str | None = None
    resume: bool = True
    quiet: bool = False
    bus: str = "host"                  # register interface: host bus or Wishbone (--bus)
    stream_gap: int = 0                # idle cycles after each beat of the next sample


# ---------------------------------------------------------------------- weights
def load_trained(path, cfg: NetConfig) -> tuple[Weights, dict]:
    """The weights of ``path`` (``weights.npz`` or a run folder) and the ``metrics.json`` of
    their run, after checking that they were trained for ``cfg``.

    Raises
    ------
    WeightsMismatch
        One line: a missing or foreign file, another configuration (each differing field with
        both values), or weights outside the configuration's ranges.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "weights.npz"
    if not p.is_file():
        raise WeightsMismatch(f"--weights {p}: no such file (give the weights.npz of intsnn "
                              "train, or its output folder)")
    mpath = p.parent / "metrics.json"
    try:
        metrics = json.loads(mpath.read_text())
        trained = metrics["config"]
    except (OSError, ValueError, KeyError, TypeError):
        raise WeightsMismatch(f"--weights {p}: no readable metrics.json beside it, so the "
                              "configuration it was trained for is unknown (intsnn train writes "
                              "both)") from None
    # a run recorded before a field existed matches that field's old behaviour
    want = _norm(cfg.canonical_dict())
    have = {k: v for k, v in _norm(trained).items()
            if not (k in LATER_FIELDS and LATER_FIELDS[k] == v)}
    diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
    if diff:
        # the fields a command-line option sets first; the ones derived from them after
        primary = [k for k in _OPTION_FIELDS if k in diff] or diff
        shown = ", ".join(f"{k} {have.get(k, LATER_FIELDS.get(k))!r} (this build: "
                          f"{want.get(k, LATER_FIELDS.get(k))!r})" for k in primary[:4])
        rest = len(diff) - min(4, len(primary))
        raise WeightsMismatch(f"--weights {p} was trained with {shown}"
                              f"{f' and {rest} more differing fields' if rest else ''}: build "
                              "that configuration (--shadow-bits, --inference-bits, --headroom, "
                              "--batch-size, --n-hidden, --lr-rounding, --delta-sat-bits) or "
                              "give weights of this "
                              "one")
    try:
        with np.load(p, allow_pickle=False) as z:
            w = Weights.from_dict(z)
            qh = np.asarray(z["hidden_inference"]) if "hidden_inference" in z else None
    except Exception as exc:  # a truncated or foreign file
        raise WeightsMismatch(f"--weights {p} is not a readable weights file ({exc})") from None
    try:
        IntSNN(cfg, 0, weights=w)  # shapes and ranges
    except ValueError as exc:
        raise WeightsMismatch(f"--weights {p}: {exc}") from None
    if qh is not None and not np.array_equal(qh, w.inference(cfg)[0]):
        raise WeightsMismatch(f"--weights {p}: its hidden_inference is not B_Q(hidden_shadow) "
                              "of this configuration")
    return w, metrics


# ---------------------------------------------------------------------- golden model
def golden_inference(cfg: NetConfig, weights: Weights, x, lanes: int, chunk: int = 250):
    """``(counts (N,O), predictions (N,), INFER cycles (N,))`` of the golden model: counts and
    predictions from :meth:`IntSNN.predict` (as ``intsnn train`` evaluates), each sample's
    cycle count from :func:`intsnn.sim.cosim.batch_cycles`."""
    model = IntSNN(cfg, 0, weights=weights)
    counts = np.zeros((len(x), cfg.n_out), np.int64)
    pred = np.zeros(len(x), np.int64)
    cyc = np.zeros(len(x), np.int64)
    for s in range(0, len(x), chunk):
        counts[s:s + chunk], pred[s:s + chunk] = model.predict(x[s:s + chunk])
        cyc[s:s + chunk] = batch_cycles(cfg, model, x[s:s + chunk], None, lanes, train=False)[0]
    return counts, pred, cyc


# ---------------------------------------------------------------------- one shard (a task)
def run_shard(job: dict, x, g_counts, g_pred, g_cycles, weights: dict, exe: bytes | None = None):
    """Infer one shard in a simulator of its own; return the bench's results for it.

    A plain function of plain data, so that it can be a Ray task.  ``job``: ``index``, ``sim``,
    ``build_dir``, ``sources`` (the Verilog), ``config``, ``lanes``, ``depth``, ``bus`` and
    ``stream_gap`` (as for the training co-simulation), ``progress`` (a file for the parent's
    progress bar, or None).  ``exe``: the native harness, for a node
    that does not see ``build_dir``.
    """
    cfg = NetConfig.from_dict(job["config"])
    T, I, O, H = cfg.timesteps, cfg.n_in, cfg.n_out, cfg.n_hidden
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"intsnn-shard{job['index']}-") as work:
        work = Path(work)
        xt = np.uint8 if cfg.input_bits <= 8 else np.uint16
        data = {"x_train": np.zeros((0, T, I), xt), "y_train": np.zeros(0, np.int64),
                "x_test": np.asarray(x, xt), "y_test": np.zeros(len(x), np.int64),
                "w_hidden0": weights["hidden"], "w_output0": weights["output"],
                "g_counts_train": np.zeros((0, O), np.int64),
                "g_pred_train": np.zeros(0, np.int64), "g_cycles_train": np.zeros(0, np.int64),
                "g_counts_test": g_counts, "g_pred_test": g_pred, "g_cycles_test": g_cycles,
                "g_w_hidden": np.zeros((0, H, I), np.int32),
                "g_w_output": np.zeros((0, O, H), np.int32)}
        if weights.get("recurrent") is not None:
            data["w_recurrent0"] = weights["recurrent"]
        np.savez(work / "data.npz", **data)
        params = {"data": str(work / "data.npz"), "result": str(work / "result.json"),
                  "config": job["config"], "lanes": job["lanes"], "depth": job["depth"],
                  "bus": job.get("bus", "host"), "stream_gap": job.get("stream_gap", 0),
                  "progress": job.get("progress")}
        log = work / "sim.log"
        build_dir = Path(job["build_dir"])
        try:
            if job["sim"] == NATIVE:
                from .native import NativeBuild
                build = NativeBuild(build_dir)
                if not build.exe.is_file():
                    if exe is None:
                        raise SimulationFailed(f"{build.exe} is not visible on "
                                               f"{socket.gethostname()}")
                    build = NativeBuild(work / "exe")
                    build.build_dir.mkdir()
                    build.exe.write_bytes(exe)
                    build.exe.chmod(0o755)
                run_native(build, params, work / "sim", log_file=log)
            else:
                if not build_dir.is_dir():
                    raise SimulationFailed(f"the build folder {build_dir} is not visible on "
                                           f"{socket.gethostname()}: put it on a shared file "
                                           f"system or use --sim {NATIVE}")
                with simulator_build(job["sources"], tb.TB_TOP, job["sim"], build_dir,
                                     public_flat_rw=False, shared=True) as session:
                    session.build()  # only checks that the parent's build is there
                    session.test(BENCH, params=params, testcase="cosim", log_file=log,
                                 test_dir=work / "sim")
        except SimulationFailed as exc:
            if not (work / "result.json").is_file():
                tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
                raise SimulationFailed(f"shard {job['index']}: {exc}\n{tail}") from None
        res = json.loads((work / "result.json").read_text())
    keep = ("counts_test", "pred_test", "cycles_test", "overlap_test", "mismatches", "error",
            "total_cycles", "programs", "timing")
    out = {k: res[k] for k in keep}
    out.update(index=job["index"], node=socket.gethostname(), pid=os.getpid(),
               task_wall_s=time.perf_counter() - t0)
    return out


# ---------------------------------------------------------------------- the flow
def _shards(n: int, size: int | None, workers: int) -> list[tuple[int, int]]:
    if size is None:
        size = max(1, min(MAX_SHARD, -(-n // (4 * workers))))
    if size < 1:
        raise ValueError(f"shard_size must be >= 1, got {size!r}")
    return [(s, min(n, s + size)) for s in range(0, n, size)]


def _log(o: InferOptions, msg: str):
    if not o.quiet:
        print(msg, flush=True)


def _load(o: InferOptions):
    if o.preset not in HW_PRESETS:
        raise ValueError(f"preset {o.preset!r} has no hardware; choose from "
                         f"{', '.join(HW_PRESETS)}")
    tr = load_data(o.preset, "train", o.data_dir, name=o.data_name)
    te = load_data(o.preset, "test", o.data_dir, name=o.data_name)
    cfg = make_config(o.preset, check_classes(tr, te), o.shadow_bits, o.inference_bits,
                      o.batch_size, **o.overrides)
    weights, metrics = load_trained(o.weights, cfg)
    seed = int(metrics.get("seed", 0)) if o.seed is None else int(o.seed)
    n = len(te.y) if o.test_samples is None else int(o.test_samples)
    rows = _pick(len(te.y), n, seed, 1, "test_samples")
    x = encode(cfg, te, rows, seed, EVAL_EPOCH)
    meta = {"dataset": DATASET_OF[o.preset], "source": te.meta.get("source"),
            "data_dir": te.meta.get("data_dir"), "name": te.meta.get("name"),
            "split": "test", "split_samples": int(len(te.y)), "samples": int(n),
            "whole_split": bool(n == len(te.y)), "test_digest": data_digest(te),
            "rate_coding_seed": seed}
    return cfg, weights, metrics, x, te.y[rows], rows, meta


def infer(o: InferOptions) -> dict:
    """Run the inference flow; return the report (also ``o.out/report.json``)."""
    t_all = time.perf_counter()
    if o.sim not in BACKENDS:
        raise ValueError(f"sim must be one of {BACKENDS}, not {o.sim!r}")
    if int(o.workers) < 1:
        raise ValueError(f"workers must be >= 1, got {o.workers!r}")
    with start_run(o.out, o.build_root, o.quiet) as (out, build_root):
        return _infer(o, out, build_root, t_all)


def _infer(o: InferOptions, out: Path, build_root: Path, t_all: float) -> dict:
    info = find_simulator("verilator" if o.sim == NATIVE else o.sim)
    if o.address is None and o.workers > 1:
        _ray_module()  # a missing extra fails here, before any work
    cfg, weights, metrics, x, y, rows, meta = _load(o)
    lanes = o.lanes if o.lanes is not None else DEFAULT_LANES
    hw = HwConfig(net=cfg, lanes=lanes)

    golden: dict = {}

    def run_golden():
        try:
            t0 = time.perf_counter()
            golden["g"] = golden_inference(cfg, weights, x, lanes)
            golden["s"] = time.perf_counter() - t0
        except BaseException as exc:  # re-raised in the main thread
            golden["error"] = exc

    th = threading.Thread(target=run_golden, name="golden model", daemon=True)
    th.start()

    t0 = time.perf_counter()
    vpath, manifest, key = ensure_hardware(cfg, lanes, build_root, o.hw_dir, quiet=o.quiet,
                                           bus=o.bus)
    depth = max(4096, 2 * hw.stream_beats + cfg.n_out + 64)   # this sample and the next
    tb_path = write_tb(build_root / key, manifest, lanes, cfg.input_bits, depth)
    build_dir = build_root / key / o.sim
    exe = None
    if o.sim == NATIVE:
        nb = build_native([vpath, tb_path], build_dir, quiet=o.quiet)
        exe = nb.exe.read_bytes() if o.address else None
    else:
        with simulator_build([vpath, tb_path], tb.TB_TOP, o.sim, build_dir,
                             public_flat_rw=False, quiet=o.quiet) as session:
            session.build()
    t_build = time.perf_counter() - t0
    th.join()
    if "error" in golden:
        raise golden["error"]
    (g_counts, g_pred, g_cycles), t_golden = golden["g"], golden["s"]
    _log(o, f"golden model: {len(y)} test samples in {format_seconds(t_golden)}; hardware "
            f"{vpath} ready in {format_seconds(t_build)}")

    fingerprint = _norm({"preset": o.preset, "config": cfg.canonical_dict(), "lanes": lanes,
                         "sim": o.sim, "hardware": key, "weights": _digest(weights),
                         "interfaces": {"bus": o.bus, "stream_gap": o.stream_gap},
                         "rows": _digest_rows(rows), "data": meta})
    shards = _shards(len(y), o.shard_size, o.workers)
    sdir = out / "shards"
    sdir.mkdir(exist_ok=True)
    done = {} if not o.resume else _finished_shards(sdir, fingerprint, shards)
    for f in sdir.glob("shard-*.json"):
        if int(f.stem.split("-")[1]) not in done:
            f.unlink()
    if done:
        _log(o, f"resuming: {len(done)} of {len(shards)} shards already in {sdir}")
    wd = {"hidden": weights.hidden, "output": weights.output, "recurrent": weights.recurrent}
    jobs = []
    pdir = out / ".progress"
    pdir.mkdir(exist_ok=True)
    for f in pdir.glob("shard-*"):  # a stopped run's
        f.unlink()
    for k, (a, b) in enumerate(shards):
        if k in done:
            continue
        jobs.append(({"index": k, "sim": o.sim, "build_dir": str(build_dir),
                      "sources": [str(vpath), str(tb_path)], "config": _norm(cfg.to_dict()),
                      "lanes": lanes, "depth": depth, "bus": o.bus,
                      "stream_gap": o.stream_gap,
                      "progress": None if o.address else str(pdir / f"shard-{k}")},
                     (x[a:b], g_counts[a:b], g_pred[a:b], g_cycles[a:b])))
    t0 = time.perf_counter()
    resumed = set(done)
    failed = _run_jobs(o, jobs, wd, exe, shards, done, sdir, fingerprint, pdir)
    t_sim = time.perf_counter() - t0
    report = _report(o, cfg, lanes, info, metrics, meta, y, shards, done, resumed, failed,
                     g_counts, g_pred, g_cycles, key, vpath, t_golden, t_build, t_sim, t_all)
    write_report(out, report)
    return report


def _digest(w: Weights) -> str:
    import hashlib
    h = hashlib.blake2b(digest_size=12)
    for a in (w.hidden, w.output, w.recurrent):
        if a is not None:
            h.update(np.ascontiguousarray(a, np.int64).data)
    return h.hexdigest()


def _digest_rows(rows) -> str:
    import hashlib
    return hashlib.blake2b(np.ascontiguousarray(rows, np.int64).data, digest_size=12).hexdigest()


def _finished_shards(sdir: Path, fingerprint: dict, shards) -> dict:
    done = {}
    for k, (a, b) in enumerate(shards):
        try:
            r = json.loads((sdir / f"shard-{k:04d}.json").read_text())
        except (OSError, ValueError):
            continue
        if r.get("fingerprint") == fingerprint and r.get("rows") == [a, b]:
            done[k] = r["result"]
    return done


def _ray_module():
    try:
        import ray
    except ImportError:
        raise CosimError("sharding over workers needs the optional ray extra: pip install -e "
                         "'.[ray]' (or --workers 1)") from None
    return ray


def _run_jobs(o, jobs, wd, exe, shards, done, sdir, fingerprint, pdir) -> list:
    """Run the shard jobs (serially in this process for one local worker, else on Ray); save
    each result as it arrives; return the failures."""
    from ..sw.progress import bar
    n = sum(b - a for a, b in shards)
    n_done0 = sum(b - a for k, (a, b) in enumerate(shards) if k in done)
    failed = []
    pbar = bar(desc=f"hardware inference on {o.sim} ({len(jobs)} shards, {o.workers} workers)",
               total=n, initial=n_done0, quiet=o.quiet, unit="sample")

    def finished(k, res):
        a, b = shards[k]
        done[k] = res
        outputs.write_json(sdir / f"shard-{k:04d}.json", {
            "fingerprint": fingerprint, "rows": [a, b], "result": res}, fsync=False, indent=None)
        with contextlib.suppress(OSError):
            (pdir / f"shard-{k}").unlink()

    def refresh():
        cnt = n_done0 + sum(b - a for k, (a, b) in enumerate(shards)
                            if k in done and k not in initial)
        for f in pdir.glob("shard-*"):
            k = int(f.name.split("-")[1])
            if k not in done:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    cnt += int(f.read_text().split()[1])
        pbar.update(min(n, cnt) - pbar.n)

    initial = set(done)
    try:
        if o.address is None and o.workers == 1:
            for job, arrays in jobs:
                stop = threading.Event()
                poller = threading.Thread(target=lambda: [refresh() for _ in iter(
                    lambda: stop.wait(1.0), True)], daemon=True)
                poller.start()
                try:
                    finished(job["index"], run_shard(job, *arrays, wd))
                except SimulationFailed as exc:
                    failed.append({"shard": job["index"], "error": str(exc)})
                finally:
                    stop.set()
                    poller.join()
                refresh()
            return failed
        ray = _ray_module()
        kw = {"runtime_env": {"env_vars": WORKER_ENV}, "log_to_driver": False}
        if o.address:
            ray.init(address=o.address, **kw)
        else:
            ray.init(num_cpus=o.workers, include_dashboard=False, **kw)
        try:
            task = ray.remote(num_cpus=1, max_retries=1, retry_exceptions=True)(run_shard)
            wref = ray.put(wd)
            eref = ray.put(exe) if exe is not None else None
            refs = {task.remote(job, *arrays, wref, eref): job["index"] for job, arrays in jobs}
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
                for r in ready:
                    k = refs.pop(r)
                    try:
                        finished(k, ray.get(r))
                    except Exception as exc:  # noqa: BLE001 - reported, never lost
                        failed.append({"shard": k, "error": str(exc).strip()[-2000:]})
                refresh()
        finally:
            ray.shutdown()
        return failed
    finally:
        pbar.close()


def _report(o, cfg, lanes, info, metrics, meta, y, shards, done, resumed, failed, g_counts, g_pred,
            g_cycles, key, vpath, t_golden, t_build, t_sim, t_all) -> dict:
    n = len(y)
    hw_pred = np.full(n, -1, np.int64)
    hw_counts = np.full((n, cfg.n_out), -1, np.int64)
    hw_cycles = np.full(n, -1, np.int64)
    hw_overlap = np.full(n, -1, np.int64)
    checked = np.zeros(n, bool)
    mismatches, errors = [], list(failed)
    total_cycles = bench_wall = blocked = 0.0
    new_cycles, new_samples = 0, 0  # this session's shards: the throughput
    nodes = {}
    for k in sorted(done):
        a, _ = shards[k]
        r = done[k]
        m = len(r["pred_test"])
        hw_pred[a:a + m] = r["pred_test"]
        hw_counts[a:a + m] = np.asarray(r["counts_test"], np.int64).reshape(m, cfg.n_out)
        hw_cycles[a:a + m] = r["cycles_test"]
        hw_overlap[a:a + len(r["overlap_test"])] = r["overlap_test"]
        for mm in r["mismatches"]:
            mm = dict(mm)
            if mm.get("sample") is not None:
                mm["sample"] = int(mm["sample"]) + a  # position in the whole run
            mismatches.append(mm)
        if r.get("error"):
            errors.append({"shard": k, "error": r["error"]})
        ok_until = m - (1 if r["mismatches"] else 0)  # the bench stops at a divergence
        checked[a:a + max(0, ok_until)] = True
        total_cycles += r["total_cycles"]
        if k not in resumed:
            new_cycles += r["total_cycles"]
            new_samples += m
            bench_wall += r["timing"]["bench_wall_s"]
            blocked += r["timing"]["blocked_s"]
        nodes[f"{r['node']}:{r['pid']}"] = nodes.get(f"{r['node']}:{r['pid']}", 0) + m
    # the driver's own comparison of everything the shards returned
    seen = hw_pred >= 0
    n_pred_differ = int(np.count_nonzero(hw_pred[seen] != g_pred[seen]))
    n_counts_differ = int(np.count_nonzero((hw_counts[seen] != g_counts[seen]).any(axis=1)))
    n_cycles_differ = int(np.count_nonzero(hw_cycles[seen] != g_cycles[seen]))
    complete = bool(seen.all()) and not mismatches and not errors
    status = "match" if complete else ("mismatch" if mismatches else "incomplete")
    acc_hw = float(np.mean(hw_pred[seen] == y[seen])) if seen.any() else None
    acc_g = float(np.mean(g_pred == y)) if n else None
    trained = metrics.get("final_test_acc")
    return {
        "command": "cosim --weights",
        "mode": "inference",
        "status": status,
        "preset": o.preset,
        "config": _norm(cfg.to_dict()),
        "lanes": lanes,
        "weights": {"path": str(Path(o.weights).expanduser().resolve()),
                    "trained_epochs": metrics.get("epochs"), "train_seed": metrics.get("seed"),
                    "training_final_test_acc": trained},
        "data": meta,
        "simulator": {"name": o.sim, "version": info.version,
                      "cocotb": None if o.sim == NATIVE else __import__("cocotb").__version__},
        "interfaces": {"bus": o.bus, "stream_gap": o.stream_gap},
        "hardware": {"verilog": str(vpath), "cache_key": key},
        "execution": {"workers": o.workers if not o.address else None, "address": o.address,
                      "ray": bool(o.address or o.workers > 1), "shards": len(shards),
                      "shard_size": shards[0][1] - shards[0][0] if shards else 0,
                      "samples_per_worker_process": nodes, "failed_shards": errors},
        "accuracy": {"hardware": acc_hw, "golden": acc_g,
                     "hardware_samples": int(seen.sum()),
                     "equal": acc_hw == acc_g and bool(seen.all()),
                     "training_run_reported": trained if meta["whole_split"] else None},
        "mismatches": mismatches[:50],
        "mismatch_count": len(mismatches),
        "checked": {"samples": int(checked.sum()), "of": n,
                    "driver_recheck": {"predictions_differ": n_pred_differ,
                                       "counts_differ": n_counts_differ,
                                       "cycles_differ": n_cycles_differ}},
        "cycles": {"per_inference_sample": _stats(hw_cycles[seen]),
                   "stream_per_sample": cycles.stream_cycles(cfg, lanes),
                   "total_simulated": int(total_cycles),
                   # each shard's last sample streams no next one: compute-bound
                   **_overlap({"overlap_test": hw_overlap[hw_overlap >= 0].tolist(),
                               "cycles_test": hw_cycles[hw_overlap >= 0].tolist()}, cfg, lanes,
                              o.stream_gap)},
        "throughput": {
            "samples": new_samples, "simulated_cycles": int(new_cycles),
            "samples_per_s": new_samples / max(1e-9, t_sim),
            "sim_cycles_per_s": new_cycles / max(1e-9, t_sim),
            "sim_cycles_per_s_per_worker": new_cycles / max(1e-9, bench_wall),
            "method": ("this session's shards only (not those resumed from an earlier one): "
                       "samples and simulated cycles (weight loading and read-back included) "
                       "over the wall time from starting the shards to the last one's end, all "
                       "workers together (Ray start-up included); per worker: simulated cycles "
                       "over the summed bench wall times of the shards (simulator start-up "
                       "excluded)"),
        },
        "time": {"wall_s": time.perf_counter() - t_all, "golden_s": t_golden,
                 "generate_and_build_s": t_build, "simulate_s": t_sim,
                 "bench_wall_s_sum": bench_wall, "sim_blocked_s_sum": blocked},
        "per_sample": {"hardware_pred": hw_pred.tolist(), "golden_pred": g_pred.tolist(),
                       "label": np.asarray(y).tolist(), "cycles": hw_cycles.tolist()},
    }


def _cyc(s: dict | None) -> str:
    return "-" if s is None else f"{s['mean']:,.0f} (min {s['min']:,}, max {s['max']:,})"


def summary_table(r: dict) -> str:
    """A short text summary of an inference report."""
    acc, thr, cyc, ex = r["accuracy"], r["throughput"], r["cycles"], r["execution"]

    def f(v):
        return "   -   " if v is None else f"{100 * v:6.2f} %"

    c = cyc["per_inference_sample"]
    d = r["data"]
    lines = [
        f"{r['preset']} (lanes {r['lanes']}, S/Q {r['config']['shadow_bits']}/"
        f"{r['config']['inference_bits']}) inference on {r['simulator']['name']} "
        f"{r['simulator']['version']}: {d['samples']} of {d['split_samples']} test samples, "
        f"{ex['shards']} shards on {len(ex['samples_per_worker_process'])} worker processes",
        "                      hardware    golden",
        f"test accuracy         {f(acc['hardware'])}  {f(acc['golden'])}   "
        f"({acc['hardware_samples']} samples on hardware)",
    ]
    if acc.get("training_run_reported") is not None:
        lines.append(f"training run reported {f(acc['training_run_reported'])} "
                     "(final_test_acc of its metrics.json)")
    lines += [
        f"mismatches            {r['mismatch_count']}   ({r['checked']['samples']} of "
        f"{r['checked']['of']} samples checked: counts, prediction, CYCLES)",
        f"cycles / infer sample {_cyc(c)} + {cyc['stream_per_sample']:,} stream",
        f"throughput            {thr['samples_per_s']:,.1f} samples/s, "
        f"{thr['sim_cycles_per_s']:,.0f} simulated cycles/s "
        f"({thr['sim_cycles_per_s_per_worker']:,.0f} per worker)",
        f"wall time             {r['time']['wall_s']:.1f} s (golden {r['time']['golden_s']:.1f}, "
        f"generate + build {r['time']['generate_and_build_s']:.1f}, simulate "
        f"{r['time']['simulate_s']:.1f})",
    ]
    for e in ex["failed_shards"]:
        lines.append(f"FAILED shard {e['shard']}: {e['error'].splitlines()[0][:200]}")
    if r["mismatches"]:
        m = r["mismatches"][0]
        lines.append(f"FIRST DIVERGENCE: test sample {m['sample']}, {m['signal']} {m['index']}: "
                     f"expected {m['expected']}, actual {m['actual']}")
    if r["status"] == "match":
        lines.append(textwrap.fill(
            f"Every sample's spike counts, prediction and cycle count agreed with the golden "
            f"model: hardware test accuracy = golden = {100 * acc['golden']:.2f} %.", 95))
    return "\n".join(lines)


def errors():
    """Exceptions that mean 'clear error, no report' for the command line."""
    return (CosimError, SimulationFailed, WeightsMismatch)
