"""Training driver: the golden model trained on real data, with checkpoints and a metrics file.

``train(...)`` is what ``intsnn train`` runs.  Shuffling and rate coding depend only on
``(seed, epoch, sample index)``, so a run resumed from its checkpoint gives exactly the results
of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..golden.config import NetConfig, preset
from ..golden.init import Weights
from ..golden.model import IntSNN
from .datasets import load_split
from .encoding import rate_encode

__all__ = ["Data", "load_data", "encode", "train", "run_epoch", "evaluate", "DATASET_OF",
           "EVAL_EPOCH"]

DATASET_OF = {"mnist-snn": "mnist", "mnist-csnn": "mnist", "shd-snn": "shd", "shd-rsnn": "shd"}
EVAL_EPOCH = 1 << 20  # fixed rate-coding key for validation/test samples (same every epoch)


@dataclass
class Data:
    """One split: raw inputs (uint8 images or framed counts), labels, source indices, meta."""

    x: np.ndarray
    y: np.ndarray
    indices: np.ndarray
    meta: dict


def load_data(preset_name: str, split: str, data_dir=None, limit=None) -> Data:
    x, y, meta = load_split(DATASET_OF[preset_name], split, data_dir, limit)
    idx = meta.get("indices")
    idx = np.arange(len(y), dtype=np.int64) if idx is None else np.asarray(idx, np.int64)
    return Data(x, np.asarray(y, np.int64), idx, meta)


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
    for s in tqdm(range(0, n, batch), desc=desc, leave=False, disable=not progress):
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
    bar = tqdm(range(0, n, cfg.batch_size), desc=f"epoch {epoch + 1}/{epochs}",
               disable=not progress, leave=False)
    for s in bar:
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


def _save_weights(path: Path, model: IntSNN):
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **model.weights.as_dict(model.cfg))
    os.replace(tmp, path)


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


def train(preset_name: str, out: str | os.PathLike, data_dir=None, epochs: int = 1,
          train_limit=None, test_limit=None, batch_size=None, seed: int = 0,
          shadow_bits: int = 16, inference_bits: int = 8, error=None, loss=None,
          resume: bool = True, progress: bool = True, trace_mode: str = "auto",
          **overrides) -> dict:
    """Train ``preset_name`` and write ``out/metrics.json``, ``out/weights.npz`` and a checkpoint.

    ``trace_mode`` is :class:`~intsnn.golden.model.IntSNN`'s (results do not depend on it).
    Returns the metrics dictionary.
    """
    if preset_name not in DATASET_OF:
        raise ValueError(f"unknown preset {preset_name!r}; choose from {', '.join(DATASET_OF)}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_d = load_data(preset_name, "train", data_dir, train_limit)
    test_d = load_data(preset_name, "test", data_dir, test_limit)
    val_d = load_data(preset_name, "val", data_dir, test_limit) if DATASET_OF[
        preset_name] == "mnist" else None
    cfg = make_config(preset_name, int(train_d.meta["n_classes"]), shadow_bits, inference_bits,
                      batch_size, error, loss, **overrides)
    model = IntSNN(cfg, seed, trace_mode=trace_mode)
    history: list[dict] = []
    start_epoch = 0
    ckpt = out / "checkpoint.npz"
    if resume and ckpt.exists():
        with np.load(ckpt, allow_pickle=False) as z:
            saved = json.loads(str(z["state"]))
            # compared as configs: a checkpoint from before a field was added has its default
            if NetConfig.from_dict(saved["config"]) != cfg or saved["seed"] != seed:
                raise ValueError(f"{ckpt} was written for another configuration or seed; "
                                 "use another --out or delete the checkpoint")
            model.weights = Weights.from_dict(z)
            model.updates = saved["updates"]
            history, start_epoch = saved["history"], saved["epoch"] + 1
        if progress:
            print(f"resuming from {ckpt} after epoch {start_epoch}")

    t_run = time.perf_counter()
    for epoch in range(start_epoch, epochs):
        history.append(run_epoch(model, train_d, val_d, test_d, seed, epoch, epochs, progress))
        state = {"config": cfg.to_dict(), "seed": seed, "epoch": epoch, "updates": model.updates,
                 "history": history}
        tmp = out / "checkpoint.tmp.npz"
        np.savez(tmp, state=json.dumps(state), **model.weights.as_dict(cfg))
        os.replace(tmp, ckpt)

    _save_weights(out / "weights.npz", model)
    sps = [h["samples_per_second"] for h in history]
    metrics = {
        "preset": preset_name, "config": cfg.to_dict(), "seed": seed, "epochs": epochs,
        "data": {"train": _meta(train_d), "test": _meta(test_d),
                 "val": None if val_d is None else _meta(val_d)},
        "history": history,
        "final_test_acc": history[-1]["test_acc"] if history else None,
        "final_val_acc": history[-1].get("val_acc") if history else None,
        "samples_per_second_median": float(np.median(sps)) if sps else None,
        "wall_seconds_this_run": time.perf_counter() - t_run,
        "peak_memory_mb": _peak_rss_mb(),
        "fast_path": model.fast,
    }
    with open(out / "metrics.json", "w") as f:
        json.dump(metrics, f, indent=1)
    return metrics


def _meta(d: Data) -> dict:
    keep = ("dataset", "split", "source", "data_dir", "name", "n_classes")
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
