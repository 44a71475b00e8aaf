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

Outputs and resume (:func:`start_run`, shared with the inference flow): ``out`` and the build
cache are checked for writability before any work, and ``out`` is locked for the run
(:mod:`intsnn.sw.outputs`).  An older ``report.json`` is moved to ``report.previous.json`` first,
so a run that fails cannot leave it looking like its own.  The
bench saves ``out/cosim-checkpoint.npz`` (weights, position, results so far) at most every
``checkpoint_every_s`` seconds; running the same command again after a stop (Ctrl-C, a crash)
continues from it, bit-exact with an uninterrupted run, provided the run's fingerprint (preset,
config, lanes, seed, simulator, samples, hardware) is unchanged.  A finished run deletes its
checkpoint.  The golden model runs in a thread while the simulator compiles.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..golden.config import LATER_FIELDS, NetConfig
from ..golden.model import IntSNN
from ..hw.config import DEFAULT_LANES as HW_DEFAULT_LANES, HwConfig
from ..hw.conv_geometry import hidden_order
from ..hw.host_protocol import hidden_weight_shape
from ..sw import outputs
from ..sw.progress import follow, format_seconds, heartbeat
from ..sw.train import (DATASET_OF, EVAL_EPOCH, check_classes, data_digest, encode, load_data,
                        make_config)
from . import tb
from .native import NATIVE, build_native, run_native
from .runner import SimulationFailed, simulator_build
from .tools import SimulatorNotFound, find_simulator

__all__ = ["RunOptions", "CosimOptions", "CosimError", "cosimulate", "start_run",
           "hw_source_digest", "ensure_hardware", "check_manifest",
           "golden_trajectory", "summary_table", "DEFAULT_LANES", "BENCH", "CHECKPOINT",
           "BUILD_ENV", "DEFAULT_BUILD_DIR"]

HW_PRESETS = ("mnist-snn", "mnist-csnn", "shd-snn", "shd-rsnn")
#: Default lane count per preset (synapses per cycle).
DEFAULT_LANES = {p: HW_DEFAULT_LANES for p in HW_PRESETS}
#: The cocotb test module.
BENCH = Path(__file__).resolve().parent / "benches" / "cosim_bench.py"
#: The bench's checkpoint inside the output folder.
CHECKPOINT = "cosim-checkpoint.npz"
#: Environment variable naming the build cache, and its default (relative to the working folder).
BUILD_ENV, DEFAULT_BUILD_DIR = "INTSNN_BUILD_DIR", "build/cosim"

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
class RunOptions:
    """The network, the samples and the output of a run on hardware: what ``intsnn cosim``
    (:class:`CosimOptions`) and ``intsnn fpga`` (:class:`intsnn.host.fpga.FpgaOptions`) share."""
    preset: str = "mnist-snn"
    data_dir: str | None = None
    data_name: str | None = None       # which SHD-format pair (--data-name)
    train_samples: int = 64
    test_samples: int = 64
    batch_size: int | None = None
    lanes: int | None = None
    shadow_bits: int = 16
    inference_bits: int = 8
    seed: int = 0
    out: str = "runs/cosim"
    overrides: dict = field(default_factory=dict)  # NetConfig overrides (e.g. n_hidden)
    quiet: bool = False


@dataclass
class CosimOptions(RunOptions):
    sim: str = "verilator"
    waves: bool = False
    hw_dir: str | None = None          # reuse Verilog + manifest.json from here
    build_root: str | None = None      # cache of generated Verilog and simulator builds
    inject: dict | None = None         # tests: fault written into the hardware
    resume: bool = True                # continue from out/cosim-checkpoint.npz if it matches
    checkpoint_every_s: float = 30.0   # at most one checkpoint per this many seconds
    stop_after_checkpoints: int | None = None  # tests: behave as if interrupted after N
    bus: str = "host"                  # register interface: host bus or Wishbone (--bus)
    stream_gap: int = 0                # idle cycles after each beat of the next sample


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
    tr = load_data(o.preset, "train", o.data_dir, name=o.data_name)
    te = load_data(o.preset, "test", o.data_dir, name=o.data_name)
    cfg = make_config(o.preset, check_classes(tr, te), o.shadow_bits, o.inference_bits,
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
            "data_dir": tr.meta.get("data_dir"), "name": tr.meta.get("name"),
            "train_rows": rows_tr.tolist(), "test_rows": rows_te.tolist(),
            "digest": {"train": data_digest(tr), "test": data_digest(te)}}
    return cfg, xtr, tr.y[rows_tr], xte, te.y[rows_te], meta


def batch_cycles(cfg: NetConfig, model: IntSNN, x, labels, lanes: int, train: bool = True):
    """Exact cycle count of every sample of ``x`` on the core with ``model``'s weights, and
    for training samples the work the design must do: ``(cycles (N,), work (N,))``.

    :func:`intsnn.hw.cycles.expected_cycles` / ``sample_work`` on the golden reference forward
    pass of the whole batch (its per-step record) and, for training, its error signals with the
    random-loss noise of each sample's position in the batch (as ``batch_deltas`` draws it).
    The same observables as :meth:`IntSNN.run_sample` gives one sample at a time, about twice
    as fast (used for inference samples; training samples also need run_sample's whole record,
    for the energy report).
    """
    from ..golden import reference as ref
    from ..golden.model import loss_rng_bits
    from ..hw import cycles

    x = np.asarray(x)
    cyc, work = np.zeros(len(x), np.int64), np.zeros(len(x), np.float64)
    if not len(x):
        return cyc, work
    f = ref.forward(cfg, model.weights, x, record=True)
    r = f.record
    vo = vh = [None] * len(x)
    if train:
        bits = loss_rng_bits(cfg, model.seed, model.updates, np.arange(len(x)))
        _, vo, vh = ref.error_signals(cfg, model.weights, f.counts, f.s_output,
                                      np.asarray(labels, np.int64), bits)
    for b in range(len(x)):
        args = (cfg, lanes, r["in_spikes"][b], r["v_hidden"][b], r["s_hidden"][b],
                r["pg_hidden"][b], r["pg_output"][b], vo[b], vh[b], train)
        cyc[b] = cycles.expected_cycles(*args)
        if train:
            work[b] = cycles.sample_work(*args)["total"]
    return cyc, work


def golden_trajectory(cfg: NetConfig, seed: int, xtr, ytr, xte, lanes: int | None = None,
                      weights=None, done: list | None = None):
    """The golden model over the samples: per-sample counts/predictions, weights per update.

    With ``lanes``, also every sample's exact cycle count (:func:`intsnn.hw.cycles.from_record`
    for training samples, from the golden observables of that sample with the weights it sees;
    :func:`batch_cycles` for test samples) and, for training samples, the work the design must
    do (:func:`intsnn.hw.cycles.sample_work`).  ``weights`` (a
    :class:`~intsnn.golden.init.Weights`) replaces the seeded initial weights.  ``done[0]``
    counts the samples finished (for a progress bar in another thread).
    """
    from ..hw import cycles
    from ..hw.energy import sample_entry

    model = IntSNN(cfg, seed, weights=weights)
    w0 = model.weights.copy()
    B = cfg.batch_size
    done = done if done is not None else [0]
    counts_tr, weights = [], []
    cyc_tr, work_tr, act_tr = [], [], []
    for s in range(0, len(ytr), B):
        if lanes is not None:
            for j in range(s, min(s + B, len(ytr))):
                # the random loss's noise of the sample's place in its batch (as the core
                # draws it from SAMPLES, and batch_deltas below)
                rec = model.run_sample(xtr[j], int(ytr[j]), position=j - s)
                exp, work = cycles.from_record(cfg, lanes, rec)
                cyc_tr.append(exp)
                work_tr.append(work)
                act_tr.append(sample_entry(cfg, lanes, rec))
        dh, do, counts = model.batch_deltas(xtr[s:s + B], ytr[s:s + B])
        counts_tr.append(counts)
        model.update(dh, do)
        weights.append(model.weights.copy())
        done[0] += len(counts)
    counts_tr = np.concatenate(counts_tr) if counts_tr else np.zeros((0, cfg.n_out), np.int64)
    counts_te = np.zeros((len(xte), cfg.n_out), np.int64)
    pred_te, cyc_te = np.zeros(len(xte), np.int64), np.zeros(len(xte), np.int64)
    for s in range(0, len(xte), 256):
        counts_te[s:s + 256], pred_te[s:s + 256] = model.predict(xte[s:s + 256])
        if lanes is not None:
            cyc_te[s:s + 256] = batch_cycles(cfg, model, xte[s:s + 256], None, lanes,
                                             train=False)[0]
        done[0] += len(xte[s:s + 256])
    return {"w0": w0, "weights": weights, "counts_train": counts_tr,
            "pred_train": np.argmax(counts_tr, axis=1) if len(counts_tr) else np.zeros(0),
            "counts_test": counts_te, "pred_test": pred_te,
            "cycles_train": np.asarray(cyc_tr, np.int64),
            "cycles_test": cyc_te if lanes is not None else np.zeros(0, np.int64),
            "work_train": np.asarray(work_tr, np.float64), "activity_train": act_tr}


# ---------------------------------------------------------------------- hardware
def _norm(d: dict) -> dict:
    return json.loads(json.dumps(d, default=str))


def check_manifest(manifest: dict, cfg: NetConfig, lanes: int, where,
                   bus: str = "host") -> None:
    """Raise ValueError if ``manifest`` (generator output) was made for another config/lanes
    or register interface."""
    want = _norm(cfg.canonical_dict())
    have = manifest.get("config")
    if not isinstance(have, dict):
        raise ValueError(f"{where}: manifest.json has no config")
    # a manifest from before a field existed matches that field's old behaviour
    have = {k: v for k, v in _norm(have).items()
            if not (k in LATER_FIELDS and LATER_FIELDS[k] == v)}
    diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
    if diff:
        shown = ", ".join(f"{k}: hardware {have.get(k)!r} != requested {want.get(k)!r}"
                          for k in diff[:4])
        raise ValueError(f"the Verilog in {where} was generated for another configuration "
                         f"({shown}{', ...' if len(diff) > 4 else ''}); regenerate it "
                         f"({regenerate_hint(cfg, lanes, diff)}) or drop --hw-dir")
    if manifest.get("lanes") != lanes:
        raise ValueError(f"the Verilog in {where} was generated for lanes={manifest.get('lanes')}"
                         f", not lanes={lanes}")
    if manifest.get("bus", "host") != bus:
        raise ValueError(f"the Verilog in {where} was generated for --bus "
                         f"{manifest.get('bus', 'host')}, not --bus {bus}")


#: NetConfig fields that ``intsnn generate`` sets from an option.
_GENERATE_OPTIONS = {"n_out": "--n-out", "batch_size": "--batch-size",
                     "shadow_bits": "--shadow-bits", "inference_bits": "--inference-bits",
                     "init_bits": "--headroom", "lr_rounding": "--lr-rounding",
                     "error_mode": "--error", "loss": "--loss", "clip_order": "--clip-order",
                     "rec_source": "--rec-source", "delta_sat_bits": "--delta-sat-bits"}


def regenerate_hint(cfg: NetConfig, lanes: int, diff) -> str:
    """``intsnn generate ...`` with the options that give ``cfg``, or a note for the fields that
    only the Python API sets."""
    opts = [f"{_GENERATE_OPTIONS[k]} {getattr(cfg, k)}" for k in diff
            if k in _GENERATE_OPTIONS and k != "init_bits"]
    other = [k for k in diff if k not in _GENERATE_OPTIONS]
    hint = "intsnn generate --preset <preset> --lanes %d %s --out <folder>" % (
        lanes, " ".join(opts))
    if other:
        hint += f"; {', '.join(other)} need intsnn.hw.generate.generate() from Python"
    return " ".join(hint.split())


def _read_manifest(mpath: Path) -> dict:
    try:
        man = json.loads(mpath.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{mpath} is not a readable manifest ({exc}); regenerate it with "
                         "intsnn generate") from None
    if not isinstance(man, dict):
        raise ValueError(f"{mpath} is not an intsnn manifest (a JSON object); regenerate it "
                         "with intsnn generate")
    return man


def hw_source_digest() -> str:
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


def ensure_hardware(cfg: NetConfig, lanes: int, build_root: Path, hw_dir=None,
                    quiet: bool = True, bus: str = "host"):
    """``(verilog path, manifest, key)``: reuse ``hw_dir`` or the cache, else generate (with
    the register interface ``bus``)."""
    if hw_dir is not None:
        d = Path(hw_dir)
        mpath = d / "manifest.json"
        if not mpath.is_file():
            raise FileNotFoundError(f"no manifest.json in {d} (generate the Verilog with "
                                    f"`intsnn generate`)")
        manifest = _read_manifest(mpath)
        check_manifest(manifest, cfg, lanes, d, bus)
        vpath = d / manifest.get("verilog", "intsnn_core.v")
        if not vpath.is_file():
            raise FileNotFoundError(f"{vpath} named by {mpath} does not exist")
        key = "ext-" + hashlib.sha256(vpath.read_bytes()).hexdigest()[:16]
        return vpath, manifest, key
    from ..hw.generate import generate

    what = {"config": _norm(cfg.canonical_dict()), "lanes": lanes, "hw": hw_source_digest()}
    if bus != "host":
        what["bus"] = bus
    key = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]
    d = build_root / key / "hw"
    with _lock(build_root / key / ".hw.lock"):
        mpath = d / "manifest.json"
        with contextlib.suppress(ValueError, KeyError):  # a damaged cache entry is regenerated
            manifest = _read_manifest(mpath) if mpath.is_file() else None
            if manifest is not None:
                check_manifest(manifest, cfg, lanes, d, bus)
                vpath = d / manifest["verilog"]
                if vpath.is_file():
                    return vpath, manifest, key
        tmp = Path(tempfile.mkdtemp(prefix="hw-", dir=d.parent))
        try:
            with heartbeat(f"generating the Verilog of {cfg.arch} "
                           f"{cfg.n_in}-{cfg.n_hidden}-{cfg.n_out}, lanes {lanes} (Amaranth)",
                           quiet=quiet):
                vpath, manifest = generate(cfg, lanes, tmp, bus=bus)
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
    rec = model.run_sample(x, y, position=s % cfg.batch_size if phase == "train" else 0,
                           update=s // cfg.batch_size if phase == "train" else None)
    out["label"] = y
    if sig == "cycles":
        out["timestep"] = None
        out["golden_counts"] = [int(c) for c in rec.counts]
        out["note"] = ("counts and prediction agree but the core took another number of cycles "
                       "than intsnn.hw.cycles.expected_cycles gives for this sample's golden "
                       "activity: a fault in the event skipping or the schedule")
        return out
    if sig == "overlap_cycles":
        out["timestep"] = None
        out["note"] = ("counts, prediction and the CYCLES register agree, but the command and the "
                       "next sample's stream took another number of cycles than "
                       "intsnn.hw.cycles.overlap_cycles: a fault in the double-buffered input "
                       "(bank swap, tready) or in the wrapper's measurement")
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
        # the report's column is the core's hidden index (position-major for csnn)
        idx = (idx[0], int(hidden_order(cfg)[idx[1]]))
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


def _overlap(res: dict, cfg: NetConfig, lanes: int, gap: int) -> dict:
    """The measured double-buffered cycles per sample (STAMP to STAMP, the command while the
    next sample streams in; :func:`intsnn.hw.cycles.overlap_cycles`) against the same samples
    on the single-buffered core (stream at half rate, then the command,
    :func:`~intsnn.hw.cycles.single_buffered_cycles`; both without the host's other
    instructions)."""
    from ..hw import cycles
    from ..hw.config import HwConfig

    beats = HwConfig(net=cfg, lanes=lanes).stream_beats
    out = {}
    for phase in ("train", "test"):
        ov = res.get(f"overlap_{phase}") or []
        if not ov:
            continue
        single = [cycles.single_buffered_cycles(c, beats) for c in res[f"cycles_{phase}"]]
        out[f"overlapped_{phase}"] = _stats(ov)
        out[f"single_buffered_{phase}"] = _stats(single)
        out[f"speedup_{phase}"] = float(np.sum(single) / np.sum(ov))
    if not out:
        return {}
    out.update({"stream_gap": gap, "beats_per_sample": beats,
                "formula": "overlapped = cycles.overlap_cycles(CYCLES, beats of the next "
                           "sample or 0, gap); single-buffered = 2*beats + CYCLES"})
    return {"overlap": out}


def _work_ratio(measured, g: dict, cfg: NetConfig, lanes: int) -> dict:
    """Measured cycles per training sample over the work the design must do (the next
    sample's stream overlaps the computation: max of the two, :func:`cycles.overlap_cycles`)."""
    from ..hw import cycles

    n = len(measured)
    if n == 0:
        return {}
    m = np.maximum(np.asarray(measured, np.float64), cycles.stream_cycles(cfg, lanes))
    w = g["work_train"][:n]
    return {"work_per_train_sample": _stats(w),
            "ratio_to_work": {"mean_of_ratios": float(np.mean(m / w)),
                              "max": float(np.max(m / w)), "of_sums": float(m.sum() / w.sum())},
            "work_definition": cycles.WORK_DEFINITION}


def _energy(cfg: NetConfig, lanes: int, g: dict, measured, meta: dict) -> dict | None:
    """Operations and Table 3.3 energy of the co-simulated training samples; the activity
    counters must rebuild each sample's measured CYCLES register."""
    from ..hw.energy import TRAIN_SET_SIZE, energy_report

    n = len(measured)
    if n == 0:
        return None
    epoch = TRAIN_SET_SIZE.get(meta.get("dataset")) or len(g["activity_train"])
    return energy_report(cfg, lanes, g["activity_train"][:n], epoch, measured)


def _log(o: CosimOptions, msg: str):
    if not o.quiet:
        print(msg, flush=True)


class CosimInterrupted(KeyboardInterrupt):
    """The bench stopped early on request (tests); the checkpoint allows a resume."""


def _fingerprint(o: CosimOptions, cfg: NetConfig, lanes: int, meta: dict, key: str) -> dict:
    return {"preset": o.preset, "config": _norm(cfg.canonical_dict()), "lanes": lanes,
            "seed": o.seed,
            "sim": o.sim, "hardware": key, "stream_gap": o.stream_gap,
            "data": {k: meta[k] for k in (
                "source", "data_dir", "name", "train_rows", "test_rows", "digest")}}


def _resume_point(ckpt: Path, fingerprint: dict) -> dict | None:
    """The checkpoint's position if it belongs to this run; raise a one-line error if not."""
    try:
        with np.load(ckpt, allow_pickle=False) as z:
            state = json.loads(str(z["state"]))
    except Exception as exc:
        raise ValueError(f"{ckpt} is not a readable co-simulation checkpoint ({exc}); delete it "
                         "or pass --no-resume") from None
    old = state.get("fingerprint") or {}
    diff = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
    if diff:
        raise ValueError(f"{ckpt} belongs to another co-simulation (different {', '.join(diff)})"
                         ": run the same command as before to resume, or pass --no-resume / "
                         "another --out")
    return state["position"]


def _read_progress(path: Path, n_train: int):
    """(samples done, phase) from the bench's progress file, or None before it exists."""
    try:
        phase, done, _total = path.read_text().split()
    except (OSError, ValueError):
        return None
    return int(done) + (0 if phase == "train" else n_train), phase


def write_report(out: Path, report: dict) -> Path:
    """Write ``report.json``; if that fails, keep the result in the temp folder and say where."""
    try:
        return outputs.write_json(out / "report.json", report)
    except OSError as exc:
        fd, rescue = tempfile.mkstemp(prefix="intsnn-cosim-report-", suffix=".json")
        os.close(fd)
        outputs.write_json(rescue, report)
        raise outputs.OutputError(f"cannot write {out / 'report.json'} ({exc.strerror or exc}); "
                                  f"the finished run's report is in {rescue}") from None


def write_tb(folder: Path, manifest: dict, lanes: int, input_bits: int, depth: int) -> Path:
    """Write the ``tb_top`` wrapper of the core in ``folder`` (if it changed); return its path."""
    tb_path = folder / f"tb_top_{depth}.v"
    tb_text = tb.tb_verilog(manifest.get("top", "intsnn_core"), manifest.get("ports", []),
                            lanes, input_bits, depth)
    tb_path.parent.mkdir(parents=True, exist_ok=True)
    if not tb_path.is_file() or tb_path.read_text() != tb_text:
        outputs.write_text(tb_path, tb_text, fsync=False)
    return tb_path


def output_folders(out, build_root) -> tuple[Path, Path]:
    """Check ``--out`` and the build cache (``--build-dir``, else ``$INTSNN_BUILD_DIR``, else
    :data:`DEFAULT_BUILD_DIR`) before any work; return both."""
    out = outputs.check_out_dir(out, "--out")
    root = build_root if build_root is not None else (os.environ.get(BUILD_ENV)
                                                      or DEFAULT_BUILD_DIR)
    return out, outputs.check_out_dir(root, "--build-dir").resolve()


@contextlib.contextmanager
def start_run(out, build_root, quiet: bool = False) -> Iterator[tuple[Path, Path]]:
    """Open a run of a flow that writes ``out/report.json``: check ``out`` and the build cache
    (:func:`output_folders`) before any work, hold ``out``'s run lock until the block ends, and
    move an older ``report.json`` aside first of all, so that no failure in the block can leave
    it passing for this run's.  Yields the two folders."""
    out, build_root = output_folders(out, build_root)
    with outputs.run_lock(out):
        moved = outputs.supersede(out / "report.json")
        if moved and not quiet:
            print(f"moved the previous {out / 'report.json'} to {moved.name}", flush=True)
        yield out, build_root


def cosimulate(o: CosimOptions) -> dict:
    """Run the whole flow; return the report (also written to ``o.out/report.json``)."""
    t_all = time.perf_counter()
    with start_run(o.out, o.build_root, o.quiet) as (out, build_root):
        return _cosimulate(o, out, build_root, t_all)


def _cosimulate(o: CosimOptions, out: Path, build_root: Path, t_all: float) -> dict:
    if o.sim == NATIVE and o.waves:
        raise ValueError(f"--waves needs --sim verilator or icarus, not {NATIVE}")
    info = find_simulator("verilator" if o.sim == NATIVE else o.sim)  # one line when missing
    cfg, xtr, ytr, xte, yte, meta = load_samples(o)
    lanes = o.lanes if o.lanes is not None else DEFAULT_LANES.get(o.preset, HW_DEFAULT_LANES)
    hw = HwConfig(net=cfg, lanes=lanes)

    # the golden model runs while the hardware is generated and compiled
    golden: dict = {"done": [0]}

    def run_golden():
        try:
            t0 = time.perf_counter()
            golden["g"] = golden_trajectory(cfg, o.seed, xtr, ytr, xte, lanes,
                                            done=golden["done"])
            golden["s"] = time.perf_counter() - t0
        except BaseException as exc:  # re-raised in the main thread
            golden["error"] = exc

    worker = threading.Thread(target=run_golden, name="golden model", daemon=True)
    worker.start()

    t0 = time.perf_counter()
    vpath, manifest, key = ensure_hardware(cfg, lanes, build_root, o.hw_dir, quiet=o.quiet,
                                           bus=o.bus)
    t_gen = time.perf_counter() - t0
    _log(o, f"hardware: {vpath} ({format_seconds(t_gen)})")

    fingerprint = _fingerprint(o, cfg, lanes, meta, key)
    # absolute: the bench runs with the simulator's build folder as its working directory
    ckpt = out.resolve() / CHECKPOINT
    resume_at = None
    if o.resume and ckpt.is_file():
        resume_at = _resume_point(ckpt, fingerprint)
        _log(o, f"resuming from {ckpt}: {resume_at['phase']} sample {resume_at['next']}")
    elif ckpt.is_file():
        ckpt.unlink()

    depth = max(4096, 2 * hw.stream_beats + cfg.n_out + 64)   # this sample and the next
    build_dir = build_root / key / (o.sim + ("-waves" if o.waves else ""))
    tb_path = write_tb(build_root / key, manifest, lanes, cfg.input_bits, depth)
    native = o.sim == NATIVE

    with (contextlib.nullcontext() if native else simulator_build(
            [vpath, tb_path], tb.TB_TOP, o.sim, build_dir, waves=o.waves,
            public_flat_rw=False, quiet=o.quiet)) as session, \
            tempfile.TemporaryDirectory(prefix="intsnn-cosim-") as work:
        t0 = time.perf_counter()
        if native:
            nbuild = build_native([vpath, tb_path], build_dir, quiet=o.quiet)
        else:
            session.build()
        t_build = time.perf_counter() - t0
        if worker.is_alive():  # a long run: the golden model outlasts the build
            with follow("golden model (counts, weights, cycles)", len(ytr) + len(yte),
                        lambda: golden["done"][0], quiet=o.quiet):
                worker.join()
        worker.join()
        if "error" in golden:
            raise golden["error"]
        g, t_golden = golden["g"], golden["s"]
        _log(o, f"golden model: {len(ytr)} training + {len(yte)} test samples in "
                f"{format_seconds(t_golden)} (while the simulator compiled)")
        work = Path(work)
        xt = np.uint8 if cfg.input_bits <= 8 else np.uint16  # a whole MNIST epoch: 0.8 GB
        data = {"x_train": xtr.astype(xt), "y_train": ytr, "x_test": xte.astype(xt),
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
                  "config": _norm(cfg.to_dict()), "lanes": lanes, "depth": depth,
                  "loss_seed": o.seed, "bus": o.bus, "stream_gap": o.stream_gap,
                  "progress": str(work / "progress"),
                  "checkpoint": {"path": str(ckpt), "fingerprint": fingerprint,
                                 "every_s": o.checkpoint_every_s}}
        if resume_at is not None:
            params["resume"] = str(ckpt)
        if o.inject:
            params["inject"] = o.inject
        if o.stop_after_checkpoints is not None:
            params["stop_after_checkpoints"] = o.stop_after_checkpoints
        log = out / "sim.log"
        n_tr, n_te = len(ytr), len(yte)
        done0 = 0 if resume_at is None else (resume_at["next"] + (
            n_tr if resume_at["phase"] == "test" else 0))
        t0 = time.perf_counter()
        try:
            with follow(f"co-simulation on {o.sim} (log: {log})", n_tr + n_te,
                        lambda: _read_progress(work / "progress", n_tr), quiet=o.quiet,
                        initial=done0):
                if native:
                    run_native(nbuild, params, work / "sim", log_file=log)
                else:
                    session.test(BENCH, params=params, testcase="cosim", log_file=log)
        except SimulationFailed as exc:
            if not (work / "result.json").is_file():
                raise CosimError(str(exc)) from None
        t_sim = time.perf_counter() - t0
        res = json.loads((work / "result.json").read_text())

    if res.get("interrupted"):
        raise CosimInterrupted(f"stopped after {o.stop_after_checkpoints} checkpoint(s)")
    if res.get("error"):
        raise CosimError(f"the bench stopped: {res['error']} (log: {log})")
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
    if o.waves:  # the build folder is a shared cache: the waveform belongs with the run
        found = sorted(build_dir.glob("*.fst")) + sorted(build_dir.glob("*.vcd"))
        waves = []
        for w in found:
            dest = out / w.name
            shutil.move(w, dest)
            waves.append({"path": str(dest), "bytes": dest.stat().st_size,
                          "format": dest.suffix[1:].upper()})
            if dest.suffix == ".vcd":
                import warnings
                warnings.warn(f"{dest} is a {dest.stat().st_size / 1e6:,.0f} MB VCD; with "
                              "liblz4-dev installed Verilator writes FST, ~100x smaller "
                              "(apt-get install -y liblz4-dev)", stacklevel=2)
    report = {
        "command": "cosim",
        "preset": o.preset,
        "config": _norm(cfg.to_dict()),
        "lanes": lanes,
        "seed": o.seed,
        "data": {**meta, "train_samples": int(len(ytr)), "test_samples": int(len(yte))},
        "simulator": {"name": o.sim, "version": info.version,
                      "cocotb": None if o.sim == NATIVE else __import__("cocotb").__version__},
        "interfaces": {"bus": o.bus, "stream_gap": o.stream_gap},
        "hardware": {"verilog": str(vpath), "cache_key": key, "build_dir": str(build_dir),
                     "manifest_config_checked": True},
        "status": "match" if complete else ("mismatch" if mms else "incomplete"),
        "mismatches": mms,
        "mismatch_count": len(mms),
        "diagnosis": diagnosis,
        "checked": {"train_samples": len(hw_pred_tr), "test_samples": n_te_done,
                    "updates": res["updates_checked"],
                    "weights_per_update": (int(np.prod(hidden_weight_shape(cfg)))
                                           + cfg.n_out * cfg.n_hidden)},
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
                   **_overlap(res, cfg, lanes, o.stream_gap),
                   **_work_ratio(res["cycles_train"], g, cfg, lanes)},
        "resume": {"sessions": res.get("sessions", 1), "resumed_from": res.get("resumed_from"),
                   "note": "time, programs and waves cover the last session only"},
        "time": {
            "wall_s": None,  # filled below
            "golden_s": t_golden,
            "generate_s": t_gen,
            "build_s": t_build,
            "simulate_s": t_sim,
            "bench_wall_s": tim["bench_wall_s"],
            "sim_blocked_s": tim["blocked_s"],
            "python_s": tim["python_s"],
            "python_share": tim["python_share"],
            "sim_cycles_per_s": total_cycles / max(1e-9, tim["bench_wall_s"]),
            "sim_cycles_per_s_blocked": total_cycles / max(1e-9, tim["blocked_s"]),
            "python_share_method": PYTHON_SHARE_METHOD,
        },
        "per_sample": {k: res[k] for k in ("pred_train", "pred_test", "cycles_train",
                                           "cycles_test", "cycles_update", "counts_train",
                                           "counts_test")},
        "programs": res["programs"],
        "sim_log": str(log),
        "waves": waves,
    }
    report["energy"] = _energy(cfg, lanes, g, res["cycles_train"], meta)
    report["time"]["wall_s"] = time.perf_counter() - t_all
    write_report(out, report)
    ckpt.unlink(missing_ok=True)  # finished (match or mismatch): nothing to resume
    return report


def conclusion(r: dict) -> str:
    """What a user should take from a report, in a few lines."""
    chk = r["checked"]
    if r["status"] == "match":
        return (f"The generated Verilog trained on {chk['train_samples']} real samples "
                f"({chk['updates']} weight updates) and agreed with the golden model bit for bit "
                f"on every spike count, prediction, cycle count and weight.  Its accuracy is that "
                f"of a network after {chk['updates']} updates, not a trained one: the trained "
                f"accuracy of each preset (50 epochs) is in docs/results.md.")
    if r["status"] == "mismatch":
        return ("The hardware DIVERGED from the golden model (first divergence above; the "
                "diagnosis is in report.json).  With --waves the waveform shows every internal "
                "signal.")
    return "The run stopped before every sample was checked (see report.json)."


def _modes(config: dict) -> str:
    """The error mode, loss, clip order and RSNN B16 source where they are not the defaults."""
    out = [f"{name} {config.get(key, default)}" for key, name, default in (
        ("error_mode", "error", "direct"), ("loss", "loss", "standard"),
        ("clip_order", "clip order", "shift_then_clip"),
        ("rec_source", "B16 of", "pre_reset")) if config.get(key, default) != default
        and (key != "rec_source" or config.get("arch") == "rsnn")]
    return "".join(f", {o}" for o in out)


def summary_table(r: dict) -> str:
    """Short text comparison of a report, ending with what it shows."""
    acc, cyc, tm = r["accuracy"], r["cycles"], r["time"]

    def f(v):
        return "   -   " if v is None else f"{100 * v:6.2f} %"

    def c(s):
        return "-" if s is None else f"{s['mean']:,.0f} (min {s['min']:,}, max {s['max']:,})"

    lines = [
        f"{r['preset']} (lanes {r['lanes']}, S/Q {r['config']['shadow_bits']}/"
        f"{r['config']['inference_bits']}, B {r['config']['batch_size']}{_modes(r['config'])}) on "
        f"{r['simulator']['name']} {r['simulator']['version']}: "
        f"{r['data']['train_samples']} train / {r['data']['test_samples']} test samples",
        "                      hardware    golden",
        f"test accuracy         {f(acc['test']['hardware'])}  {f(acc['test']['golden'])}"
        f"   (after {r['checked']['updates']} updates)",
        f"train acc. (online)   {f(acc['train_online']['hardware'])}  "
        f"{f(acc['train_online']['golden'])}",
        f"mismatches            {r['mismatch_count']}   ({r['checked']['train_samples']} train + "
        f"{r['checked']['test_samples']} test samples and {r['checked']['updates']} updates "
        f"checked)",
        f"cycles / train sample {c(cyc['per_train_sample'])}",
    ]
    if "ratio_to_work" in cyc:  # the design's overhead factor (intsnn.hw.cycles.sample_work)
        lines.append(f"cycles / work         {cyc['ratio_to_work']['of_sums']:.2f} (training "
                     "samples, input stream included, over the word operations the design must "
                     "do; 1 = no overhead)")
    elif "ratio_to_lower_bound" in cyc:
        lines.append(f"cycles / lower bound  {cyc['ratio_to_lower_bound']['of_sums']:.2f} "
                     "(intsnn.hw.cycles.lower_bound)")
    if cyc.get("overlap"):
        ov = cyc["overlap"]
        lines.append(f"double buffering      {ov['overlapped_train']['mean']:,.0f} cycles / train "
                     f"sample with the next sample streaming (= cycles.overlap_cycles, every "
                     f"sample); single-buffered {ov['single_buffered_train']['mean']:,.0f}: "
                     f"x{ov['speedup_train']:.3f}")
    lines += [
        f"cycles / infer sample {c(cyc['per_inference_sample'])}",
        f"cycles / update       {c(cyc['per_update'])}",
        f"simulated cycles      {cyc['total_simulated']:,} at {tm['sim_cycles_per_s']:,.0f} "
        f"cycles/s; Python share {100 * tm['python_share']:.1f} % of {tm['bench_wall_s']:.1f} s",
        f"wall time             {tm['wall_s']:.1f} s (generate {tm['generate_s']:.1f}, build "
        f"{tm['build_s']:.1f}, simulate {tm['simulate_s']:.1f}; golden {tm['golden_s']:.1f} "
        f"during the build)",
    ]
    res = r.get("resume") or {}
    if res.get("resumed_from"):
        p = res["resumed_from"]
        lines.append(f"resumed               from {p['phase']} sample {p['next']} "
                     f"(session {res['sessions']})")
    for w in r.get("waves") or []:
        lines.append(f"waves                 {w['path']} ({w['bytes'] / 1e6:,.1f} MB)")
    en = r.get("energy")
    if en:  # intsnn.hw.energy: Table 3.3 prices, operations only
        gp, ck = en["golden_pj_per_sample"], en["counters_check"]
        lines.append(f"energy / train sample {gp['total_mean'] / 1e3:,.1f} nJ golden ops, "
                     f"{en['hw_pj_per_sample'] / 1e3:,.1f} nJ hardware lane ops; update "
                     f"{en['golden_pj_per_update'] / 1e3:,.1f} nJ (thesis Table 3.3 prices; "
                     f"counters rebuild {ck['cycles_register_equal']}/"
                     f"{ck['cycles_register_checked']} CYCLES registers)")
    d = r.get("diagnosis")
    if d:
        lines.append(f"FIRST DIVERGENCE: {d['phase']} sample {d['sample']}, timestep "
                     f"{d.get('timestep')}, signal {d['signal']}, index {d['index']}: expected "
                     f"{d['expected']}, actual {d['actual']}")
        lines.append(f"  {d.get('note', '')}")
    lines.append(textwrap.fill(conclusion(r), 95))
    return "\n".join(lines)


def errors():
    """Exceptions that mean 'clear error, no report' for the command line."""
    return (CosimError, SimulatorNotFound, SimulationFailed)
