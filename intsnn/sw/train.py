"""Training driver: the golden model trained on real data, with checkpoints and a metrics file.

``train(...)`` is what ``intsnn train`` runs.  Shuffling and rate coding depend only on
``(seed, epoch, sample index)``, so a run resumed from its checkpoint gives exactly the results
of an uninterrupted run.

Resume rules (``out/checkpoint.npz``, written atomically after every epoch):

* the checkpoint stores a *fingerprint* of the run: preset, the whole ``NetConfig`` (precision,
  batch size, error mode, loss, headroom, ...), seed, and for every split the data source,
  folder, data-set name, limit, sample count and a digest of the inputs and labels.  Running
  again with anything that changes the result refused with one line naming what differs;
* ``--epochs`` is the total: more epochs than the checkpoint holds continue it, as many just
  rewrite the outputs, fewer is an error (the run cannot be shortened after the fact);
* ``--no-resume`` starts over; a start from scratch moves an older ``metrics.json`` /
  ``weights.npz`` aside (``*.previous.*``) so a failed run cannot pass for a finished one;
* one run per folder (:func:`intsnn.sw.outputs.run_lock`).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..golden.config import LATER_FIELDS, NetConfig, preset
from ..golden.init import Weights
from ..golden.model import IntSNN
from . import outputs
from .datasets import load_split
from .encoding import rate_encode
from .progress import bar

__all__ = ["Data", "load_data", "encode", "train", "run_epoch", "evaluate", "check_classes",
           "data_digest", "DATASET_OF", "EVAL_EPOCH", "CHECKPOINT"]

DATASET_OF = {"mnist-snn": "mnist", "mnist-csnn": "mnist", "shd-snn": "shd", "shd-rsnn": "shd"}
EVAL_EPOCH = 1 << 20  # fixed rate-coding key for validation/test samples (same every epoch)
CHECKPOINT = "checkpoint.npz"


@dataclass
class Data:
    """One split: raw inputs (uint8 images or framed counts), labels, source indices, meta."""

    x: np.ndarray
    y: np.ndarray
    indices: np.ndarray
    meta: dict


def load_data(preset_name: str, split: str, data_dir=None, limit=None, name=None) -> Data:
    """One split of the preset's data set (``name``: which SHD-format pair, see ``--data-name``)."""
    x, y, meta = load_split(DATASET_OF[preset_name], split, data_dir, limit, name=name)
    idx = meta.get("indices")
    idx = np.arange(len(y), dtype=np.int64) if idx is None else np.asarray(idx, np.int64)
    return Data(x, np.asarray(y, np.int64), idx, meta)


def check_classes(train_d: Data, *others: Data) -> int:
    """The class count of the training split; refuse evaluation splits with labels it lacks.

    A network built for the training split's classes can never predict a label beyond them, so
    scoring such samples silently lowers the accuracy.
    """
    n = int(train_d.meta["n_classes"])
    for d in others:
        bad = np.unique(d.y[(d.y < 0) | (d.y >= n)])
        if bad.size:
            where = d.meta.get("path") or d.meta.get("source", "")
            raise ValueError(f"the {d.meta.get('split', 'evaluation')} split ({where}) has "
                             f"classes {bad.tolist()} that the training split (classes "
                             f"0..{n - 1}) lacks: the network could never predict them")
    return n


def data_digest(d: Data) -> str:
    """A short digest of a split's inputs, labels and sample indices."""
    h = hashlib.blake2b(digest_size=12)
    for a in (d.x, d.y, d.indices):
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.data)
    return h.hexdigest()


def encode(cfg: NetConfig, data: Data, rows: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The network input (B, T, n_in) of the given rows: rate-coded MNIST or SHD frames."""
    x = data.x[rows]
    if x.ndim == 2:  # images
        return rate_encode(x, cfg.timesteps, seed, epoch, data.indices[rows])
    if x.shape[1:] != (cfg.timesteps, cfg.n_in):
        raise ValueError(f"frames have shape {x.shape[1:]}, the config needs "
                         f"({cfg.timesteps}, {cfg.n_in})")
    return np.minimum(x, cfg.in_max)


def evaluate(model: IntSNN, data: Data, seed: int, batch: int = 256, desc: str = "eval",
             progress: bool = True) -> float:
    """Accuracy of ``model`` on ``data`` (inference only)."""
    correct = 0
    n = len(data.y)
    for s in bar(range(0, n, batch), desc=desc, quiet=not progress, unit="batch"):
        rows = np.arange(s, min(n, s + batch))
        _, pred = model.predict(encode(model.cfg, data, rows, seed, EVAL_EPOCH))
        correct += int(np.count_nonzero(pred == data.y[rows]))
    return correct / max(1, n)


def run_epoch(model, train_d: Data, val_d: Data | None, test_d: Data, seed: int, epoch: int,
              epochs: int, progress: bool = True) -> dict:
    """Train ``model`` (anything with ``cfg``, ``train_batch`` and ``predict``: the integer
    golden model or a float baseline) for one epoch, then evaluate it; returns the epoch's
    history record.  The shuffle and the rate coding depend only on ``(seed, epoch)``."""
    cfg, n = model.cfg, len(train_d.y)
    perm = np.random.Generator(np.random.PCG64([seed, epoch])).permutation(n)
    correct, t0 = 0, time.perf_counter()
    steps = bar(range(0, n, cfg.batch_size), desc=f"epoch {epoch + 1}/{epochs}",
                quiet=not progress, unit="batch")
    for s in steps:
        rows = perm[s:s + cfg.batch_size]
        pred = model.train_batch(encode(cfg, train_d, rows, seed, epoch), train_d.y[rows])
        correct += int(np.count_nonzero(pred == train_d.y[rows]))
    train_time = time.perf_counter() - t0
    rec = {"epoch": epoch + 1, "train_acc": correct / n, "train_seconds": train_time,
           "samples_per_second": n / train_time}
    if val_d is not None:
        rec["val_acc"] = evaluate(model, val_d, seed, desc="val", progress=progress)
    rec["test_acc"] = evaluate(model, test_d, seed, desc="test", progress=progress)
    rec["epoch_seconds"] = time.perf_counter() - t0
    if progress:
        tqdm.write(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in rec.items()))
    return rec


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_config(preset_name: str, n_classes: int, shadow_bits=16, inference_bits=8,
                batch_size=None, error=None, loss=None, **overrides) -> NetConfig:
    ch = dict(overrides)
    if DATASET_OF[preset_name] == "shd":
        ch["n_out"] = n_classes
    if batch_size is not None:
        ch["batch_size"] = batch_size
    if error is not None:
        ch["error_mode"] = error
    if loss is not None:
        ch["loss"] = loss
    return preset(preset_name, shadow_bits, inference_bits, **ch)


def _fingerprint(preset_name: str, cfg: NetConfig, seed: int, splits: dict) -> dict:
    """Everything that changes the result of a run (see the module docstring)."""
    data = {}
    for split, d in splits.items():
        if d is None:
            continue
        m = d.meta
        data[split] = {"source": m.get("source"), "data_dir": (str(Path(m["data_dir"]).resolve())
                                                               if m.get("data_dir") else None),
                       "name": m.get("name"), "limit": m.get("limit"), "samples": int(len(d.y)),
                       "digest": data_digest(d)}
    # canonical: a field added later, at its old behaviour, leaves earlier checkpoints valid
    return {"preset": preset_name, "config": json.loads(json.dumps(cfg.canonical_dict())),
            "seed": int(seed), "data": data}


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if prefix == "config." and k in LATER_FIELDS:  # absent: the value from before the field
            a, b = old.get(k, LATER_FIELDS[k]), new.get(k, LATER_FIELDS[k])
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} in the checkpoint, {b!r} now")
    return out


#: Config fields set by a command-line option: named first when a resume is refused (the
#: derived fields they change follow).
_OPTION_FIELDS = ("shadow_bits", "inference_bits", "init_bits", "batch_size", "error_mode",
                  "loss", "clip_order", "lr_rounding", "delta_sat_bits", "rec_shift", "rec_source", "n_hidden",
                  "n_out")


def _importance(entry: str) -> tuple:
    field = entry.split(":", 1)[0]
    if field.startswith("config."):
        name = field[len("config."):]
        return (1, _OPTION_FIELDS.index(name) if name in _OPTION_FIELDS else 99)
    # the data digest differs whenever anything about the data does: name it last
    return (2, 0) if field.endswith(".digest") else (0, 0)


def _load_checkpoint(ckpt: Path, fingerprint: dict, epochs: int, model: IntSNN):
    """(history, epochs done) from ``ckpt`` after checking that it belongs to this run."""
    try:
        with np.load(ckpt, allow_pickle=False) as z:
            saved = json.loads(str(z["state"]))
            weights = Weights.from_dict(z)
    except Exception as exc:  # a truncated or foreign file: say which and how to go on
        raise ValueError(f"{ckpt} is not a readable intsnn checkpoint ({exc}); delete it or "
                         "pass --no-resume") from None
    old = saved.get("fingerprint")
    if old is None:
        raise ValueError(f"{ckpt} was written by an older intsnn without a run fingerprint; "
                         "pass --no-resume to start over or use another --out")
    diff = sorted(_differences(old, fingerprint), key=_importance)
    if diff:
        shown = "; ".join(diff[:3]) + ("; ..." if len(diff) > 3 else "")
        raise ValueError(f"{ckpt} belongs to another run ({shown}): run the same command as "
                         "before to resume, or pass --no-resume / another --out")
    done = int(saved["epoch"]) + 1
    if epochs < done:
        raise ValueError(f"{ckpt} already holds {done} epochs, more than --epochs {epochs}: pass "
                         f"--epochs {done} or more to continue it, or --no-resume to start over")
    model.weights = weights
    model.updates = saved["updates"]
    return saved["history"], done


def train(preset_name: str, out: str | os.PathLike, data_dir=None, epochs: int = 1,
          train_limit=None, test_limit=None, batch_size=None, seed: int = 0,
          shadow_bits: int = 16, inference_bits: int = 8, error=None, loss=None,
          resume: bool = True, progress: bool = True, data_name: str | None = None,
          trace_mode: str = "auto", **overrides) -> dict:
    """Train ``preset_name`` and write ``out/metrics.json``, ``out/weights.npz`` and a checkpoint.

    ``trace_mode`` is :class:`~intsnn.golden.model.IntSNN`'s (results do not depend on it, so it
    is not part of the run's fingerprint).  Returns the metrics dictionary.  See the module
    docstring for the resume rules.
    """
    if preset_name not in DATASET_OF:
        raise ValueError(f"unknown preset {preset_name!r}; choose from {', '.join(DATASET_OF)}")
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    out = outputs.check_out_dir(out)
    with outputs.run_lock(out):
        return _train_locked(preset_name, out, data_dir, epochs, train_limit, test_limit,
                             batch_size, seed, shadow_bits, inference_bits, error, loss, resume,
                             progress, data_name, trace_mode, overrides)


def _train_locked(preset_name, out: Path, data_dir, epochs, train_limit, test_limit, batch_size,
                  seed, shadow_bits, inference_bits, error, loss, resume, progress, data_name,
                  trace_mode, overrides) -> dict:
    t_run = time.perf_counter()
    train_d = load_data(preset_name, "train", data_dir, train_limit, data_name)
    test_d = load_data(preset_name, "test", data_dir, test_limit, data_name)
    val_d = load_data(preset_name, "val", data_dir, test_limit, data_name) if DATASET_OF[
        preset_name] == "mnist" else None
    n_classes = check_classes(train_d, *(d for d in (test_d, val_d) if d is not None))
    cfg = make_config(preset_name, n_classes, shadow_bits, inference_bits, batch_size, error,
                      loss, **overrides)
    fingerprint = _fingerprint(preset_name, cfg, seed, {"train": train_d, "test": test_d,
                                                        "val": val_d})
    model = IntSNN(cfg, seed, trace_mode=trace_mode)
    history: list[dict] = []
    start_epoch = 0
    ckpt = out / CHECKPOINT
    if resume and ckpt.exists():
        history, start_epoch = _load_checkpoint(ckpt, fingerprint, epochs, model)
        if progress:
            print(f"resuming from {ckpt} after epoch {start_epoch}"
                  + (" (nothing left to train)" if start_epoch == epochs else ""))
    else:
        for name in ("metrics.json", "weights.npz"):
            moved = outputs.supersede(out / name)
            if moved and progress:
                print(f"moved the previous run's {name} to {moved.name}")

    for epoch in range(start_epoch, epochs):
        history.append(run_epoch(model, train_d, val_d, test_d, seed, epoch, epochs, progress))
        state = {"fingerprint": fingerprint, "epoch": epoch, "updates": model.updates,
                 "history": history}
        outputs.save_npz(ckpt, state=json.dumps(state), **model.weights.as_dict(cfg))

    outputs.save_npz(out / "weights.npz", **model.weights.as_dict(model.cfg))
    metrics = {
        "preset": preset_name, "config": cfg.to_dict(), "seed": seed, "epochs": epochs,
        **run_summary(history, train_d, test_d, val_d, t_run),
        "fast_path": model.fast,
    }
    outputs.write_json(out / "metrics.json", metrics)
    return metrics


def run_summary(history: list, train_d: Data, test_d: Data, val_d: Data | None,
                t_run: float) -> dict:
    """The ``metrics.json`` fields every training run writes (``intsnn train`` and ``intsnn
    baseline`` alike): the data, the per-epoch history and what is read off it, this run's wall
    time since ``t_run`` (``perf_counter``) and the peak memory."""
    sps = [h["samples_per_second"] for h in history]
    return {
        "data": {"train": _meta(train_d), "test": _meta(test_d),
                 "val": None if val_d is None else _meta(val_d)},
        "history": history,
        "final_test_acc": history[-1]["test_acc"] if history else None,
        "final_val_acc": history[-1].get("val_acc") if history else None,
        "samples_per_second_median": float(np.median(sps)) if sps else None,
        "wall_seconds_this_run": time.perf_counter() - t_run,
        "peak_memory_mb": _peak_rss_mb(),
    }


def _meta(d: Data) -> dict:
    keep = ("dataset", "split", "source", "data_dir", "name", "n_classes", "limit")
    m = {k: d.meta[k] for k in keep if k in d.meta}
    m["samples"] = int(len(d.y))
    return m


def summary_table(metrics: dict) -> str:
    """A short text table of the per-epoch results."""
    rows = ["epoch  train_acc  val_acc  test_acc  samples/s"]
    for h in metrics["history"]:
        val = f"{h['val_acc']:.4f}" if "val_acc" in h else "   -  "
        rows.append(f"{h['epoch']:5d}  {h['train_acc']:.4f}     {val}   {h['test_acc']:.4f}"
                    f"  {h['samples_per_second']:9.0f}")
    rows.append(f"final test accuracy {metrics['final_test_acc']:.4f}; peak memory "
                f"{metrics['peak_memory_mb']:.0f} MB")
    return "\n".join(rows)
