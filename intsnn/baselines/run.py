"""``intsnn baseline``: train a float baseline on the data, splits and encoders of ``intsnn train``.

Writes ``metrics.json`` in the schema of :func:`intsnn.sw.train.train` (so
``python -m intsnn.sw.report`` and the sweep tables take integer and float runs alike) plus
``method``, ``float_params``, ``seconds_per_epoch_median`` and the library versions, a
``weights.npz`` of float arrays and a per-epoch ``checkpoint.pt`` from which an interrupted run
resumes with the result of an uninterrupted one.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..sw.outputs import atomic_path, check_out_dir, run_lock, save_npz, write_json
from ..sw.train import DATASET_OF, load_data, make_config, run_epoch, run_summary
from . import METHODS, require_torch
from .hparams import float_params

__all__ = ["run_baseline", "STRUCTURE_KEYS"]

#: The integer config fields that describe the network's structure (the rest is integer-only).
STRUCTURE_KEYS = ("arch", "n_in", "n_hidden", "n_out", "timesteps", "input_bits", "batch_size",
                  "soft_error_start", "conv_kernel", "conv_filters", "conv_stride", "image_side")


def _model(method, cfg, fp, seed, trace_mode):
    if method == "fp32-online":
        from .online import FloatOnlineSNN
        return FloatOnlineSNN(cfg, fp, seed, trace_mode=trace_mode)
    from .bptt import BPTTSNN
    return BPTTSNN(cfg, fp, seed)


def run_baseline(method: str, preset_name: str, out, data_dir=None, epochs: int = 1,
                 train_limit=None, test_limit=None, batch_size=None, seed: int = 0,
                 error=None, resume: bool = True, progress: bool = True,
                 trace_mode: str = "deferred", threads: int | None = None,
                 **float_overrides) -> dict:
    """Train a float baseline of ``preset_name`` and write ``out/metrics.json``.

    Parameters
    ----------
    method : ``"fp32-online"`` (the thesis's FP32 online rule) or ``"bptt"``.
    preset_name : one of the integer presets; gives the network's structure and data.
    error : FP32 online error propagation (default ``"feedback"``, section 4.2).
    trace_mode : fp32-online only: ``"deferred"`` or ``"online"``.
    threads : torch intra-op threads (``None``: torch's default).
    float_overrides : fields of :class:`~intsnn.baselines.hparams.FloatParams`.

    Returns
    -------
    dict : the metrics.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if preset_name not in DATASET_OF:
        raise ValueError(f"unknown preset {preset_name!r}; choose from {', '.join(DATASET_OF)}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if error is not None and method == "bptt":
        raise ValueError("--error applies to fp32-online only (BPTT has no error propagation "
                         "mode)")
    torch = require_torch(f"intsnn baseline --method {method}", spikingjelly=method == "bptt")
    if threads:
        torch.set_num_threads(int(threads))
    out = check_out_dir(out)
    with run_lock(out):
        return _run(method, preset_name, out, data_dir, epochs, train_limit, test_limit,
                    batch_size, seed, error, resume, progress, trace_mode, torch,
                    float_overrides)


def _run(method, preset_name, out, data_dir, epochs, train_limit, test_limit, batch_size, seed,
         error, resume, progress, trace_mode, torch, float_overrides) -> dict:
    if error is not None:
        float_overrides["error_mode"] = error
    fp = float_params(preset_name, **float_overrides)
    train_d = load_data(preset_name, "train", data_dir, train_limit)
    test_d = load_data(preset_name, "test", data_dir, test_limit)
    val_d = (load_data(preset_name, "val", data_dir, test_limit)
             if DATASET_OF[preset_name] == "mnist" else None)
    cfg = make_config(preset_name, int(train_d.meta["n_classes"]), batch_size=batch_size)
    structure = {k: cfg.to_dict()[k] for k in STRUCTURE_KEYS}
    model = _model(method, cfg, fp, seed, trace_mode)
    ident = {"method": method, "structure": structure, "float_params": fp.to_dict(),
             "seed": seed, "trace_mode": trace_mode if method == "fp32-online" else None}
    history, start_epoch = [], 0
    ckpt = out / "checkpoint.pt"
    if resume and ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        if saved["ident"] != ident:
            raise ValueError(f"{ckpt} was written for another configuration or seed; use "
                             "another --out or delete the checkpoint")
        model.load_state_dict(saved["model"])
        history, start_epoch = saved["history"], saved["epoch"] + 1
        if progress:
            print(f"resuming from {ckpt} after epoch {start_epoch}")

    t_run = time.perf_counter()
    for epoch in range(start_epoch, epochs):
        # the same shuffle, rate coding and evaluation as intsnn train
        history.append(run_epoch(model, train_d, val_d, test_d, seed, epoch, epochs, progress))
        with atomic_path(ckpt) as tmp:
            torch.save({"ident": ident, "model": model.state_dict(), "history": history,
                        "epoch": epoch}, tmp)

    save_npz(out / "weights.npz", **model.weights())
    eps = [h["epoch_seconds"] for h in history]
    metrics = {
        "preset": preset_name, "method": method, "config": structure,
        "float_params": fp.to_dict(), "trace_mode": ident["trace_mode"], "seed": seed,
        "epochs": epochs,
        **run_summary(history, train_d, test_d, val_d, t_run),
        "seconds_per_epoch_median": float(np.median(eps)) if eps else None,
        "fast_path": False,
        "versions": _versions(torch),
    }
    write_json(out / "metrics.json", metrics)
    return metrics


def _versions(torch) -> dict:
    import importlib.metadata as md
    v = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    try:
        v["spikingjelly"] = md.version("spikingjelly")
    except md.PackageNotFoundError:
        pass
    return v
