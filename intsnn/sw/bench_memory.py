"""Memory of one golden training step against the number of time steps T (issue 11).

:func:`memory_vs_t` measures the ``tracemalloc`` peak of one ``batch_deltas`` call per trace
mode (and of the plain numpy peer, :mod:`intsnn.sw.bench_plain`) for each T;
:func:`memory_table` and :func:`plot_memory` present it beside the BPTT figures of engineer
"baselines" (``memory-vs-t-bptt.json``, :func:`bptt_figures`).  Run by ``python -m
intsnn.sw.bench --compare``.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..golden import fast
from ..golden.config import NetConfig
from ..golden.model import IntSNN
from .bench_plain import PlainNumpy
from .encoding import rate_encode
from .outputs import atomic_path
from .train import make_config

__all__ = ["MEMORY_T", "BPTT_FILE", "step_memory", "memory_vs_t", "bptt_figures",
           "memory_table", "plot_memory"]

MEMORY_T = (10, 20, 30, 50, 100, 200, 300, 500, 1000)  # with the BPTT file's 10, 30, 100, 300, 1000
BPTT_FILE = "memory-vs-t-bptt.json"


def step_memory(step) -> int:
    """``tracemalloc`` peak (bytes) of ``step()``: numpy allocations; numba's small per-thread
    kernel state is not seen."""
    fast.clear_workspace()  # the online buffers are kept between batches: count them
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _memory_input(cfg: NetConfig, rng) -> np.ndarray:
    """A batch with the workload's input statistics (MNIST: rate-coded images; SHD: counts)."""
    shape = (cfg.batch_size, cfg.timesteps, cfg.n_in)
    if cfg.input_bits == 1:
        img = rng.integers(0, 256, (cfg.batch_size, cfg.n_in), dtype=np.uint8)
        img[rng.random(img.shape) < 0.8] = 0
        return rate_encode(img, cfg.timesteps, 0, 0, np.arange(cfg.batch_size))
    x = rng.integers(0, 9, shape).astype(np.uint8)
    x[rng.random(shape) < 0.65] = 0
    return x


def memory_vs_t(preset_name: str, ts=MEMORY_T, n_classes: int = 10, plain_max_t: int = 1000,
                progress: bool = True) -> dict:
    """tracemalloc peak (MB) of one golden training step per trace mode, and of the plain numpy
    step, for each T (batch 128, one thread; synthetic inputs with the workload's statistics)."""
    rng = np.random.default_rng(0)
    saved = fast.get_threads()
    fast.set_threads(1)
    table = {"online": {}, "deferred": {}, "plain-numpy": {}}
    try:
        for t in tqdm(ts, desc=f"memory {preset_name}", disable=not progress, leave=False):
            cfg = make_config(preset_name, n_classes, timesteps=t)
            x = _memory_input(cfg, rng)
            y = rng.integers(0, cfg.n_out, cfg.batch_size)
            for mode in ("online", "deferred"):
                m = IntSNN(cfg, 0, trace_mode=mode)
                m.batch_deltas(x[:2], y[:2])  # compile outside the measurement
                table[mode][t] = step_memory(lambda: m.batch_deltas(x, y)) / 2 ** 20
            if t <= plain_max_t:
                p = PlainNumpy(cfg, 0)
                table["plain-numpy"][t] = step_memory(lambda: p.deltas(x, y)) / 2 ** 20
    finally:
        fast.set_threads(saved)
    return {"preset": preset_name, "batch_size": 128, "timesteps": list(ts),
            "peak_mb": {k: {str(t): v for t, v in d.items()} for k, d in table.items()}}


def bptt_figures(out_dir: Path) -> dict:
    """BPTT peak memory (MB) by preset and T from ``memory-vs-t-bptt.json`` (engineer
    "baselines"), if present.  Accepted layouts: ``{"<preset>": {"<T>": MB}}``; or one preset's
    ``{"preset": p, "rows": [{"timesteps": T, "bptt": {"peak_rss_increase_mb": MB}}]}`` (or a
    list of those)."""
    p = out_dir / BPTT_FILE
    if not p.exists():
        return {}
    d = json.loads(p.read_text())
    res = {}
    for part in (d if isinstance(d, list) else [d]):
        if isinstance(part, dict) and "rows" in part and "preset" in part:
            res[part["preset"]] = {str(r["timesteps"]): float(r["bptt"]["peak_rss_increase_mb"])
                                   for r in part["rows"] if "bptt" in r}
            continue
        for name, v in part.items():
            if isinstance(v, dict):
                res[name] = {str(t): float(m) for t, m in v.items() if str(t).isdigit()}
    return res


def memory_table(mem: list[dict], bptt: dict) -> str:
    rows = ["| workload | T | online (MB) | deferred (MB) | plain numpy (MB) | BPTT (MB) |",
            "|---|---|---|---|---|---|"]
    for m in mem:
        pk = m["peak_mb"]
        for t in m["timesteps"]:
            t = str(t)
            cell = [f"{pk[k][t]:.1f}" if t in pk[k] else "-" for k in ("online", "deferred",
                                                                        "plain-numpy")]
            b = bptt.get(m["preset"], {}).get(t)
            rows.append(f"| {m['preset']} | {t} | " + " | ".join(cell)
                        + f" | {'-' if b is None else f'{b:.1f}'} |")
    return "\n".join(rows)


def plot_memory(mem: list[dict], bptt: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(mem), figsize=(5 * len(mem), 4), squeeze=False)
    for ax, m in zip(axes[0], mem):
        series = dict(m["peak_mb"])
        if m["preset"] in bptt:
            series["BPTT"] = bptt[m["preset"]]
        for name, d in series.items():
            ts = sorted(int(t) for t in d)
            if ts:
                ax.plot(ts, [d[str(t)] for t in ts], marker="o", label=name)
        ax.set(xscale="log", yscale="log", xlabel="time steps T",
               ylabel="peak memory of one training step (MB)", title=f"{m['preset']}, B = 128")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
