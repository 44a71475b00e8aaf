"""Training reports from one or more ``metrics.json`` files: a seed summary and curves.

``python -m intsnn.sw.report RUN_DIR [RUN_DIR ...] [--summary summary.json] [--out curves.png]``

Runs of the same configuration with different seeds are summarised the way the thesis reports
its results (section 4.1: mean and standard deviation of the final test accuracy over seeds),
together with each seed's final, best and last-ten-epoch mean.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

__all__ = ["load_metrics", "summarise", "summary_table", "plot_curves", "main"]


def load_metrics(run: str | Path) -> dict:
    p = Path(run)
    p = p / "metrics.json" if p.is_dir() else p
    try:
        with open(p) as f:
            m = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p} is not an intsnn metrics file (not JSON: {exc})") from None
    if not isinstance(m, dict) or not m.get("history"):
        raise ValueError(f"{p} is not an intsnn metrics file with at least one epoch")
    m["_label"] = p.parent.name
    return m


def summarise(metrics: list[dict]) -> dict:
    """Per-run and across-run figures (accuracies in %, rounded to 0.01)."""
    runs = []
    for m in metrics:
        test = [100 * h["test_acc"] for h in m["history"]]
        val = [100 * h["val_acc"] for h in m["history"] if "val_acc" in h]
        last = test[-10:]
        runs.append({
            "run": m["_label"], "preset": m.get("preset"), "seed": m.get("seed"),
            "epochs": len(test), "final_test": round(test[-1], 2),
            "best_test": round(max(test), 2), "best_epoch": 1 + test.index(max(test)),
            "mean_last10_test": round(statistics.fmean(last), 2),
            "final_val": round(val[-1], 2) if val else None,
            "final_train": round(100 * m["history"][-1]["train_acc"], 2),
            "wall_seconds": round(m.get("wall_seconds_this_run", 0.0), 1),
            "peak_memory_mb": round(m.get("peak_memory_mb", 0.0)),
        })
    finals = [r["final_test"] for r in runs]
    return {
        "runs": runs,
        "n": len(runs),
        "final_test_mean": round(statistics.fmean(finals), 2),
        "final_test_std": round(statistics.pstdev(finals), 2),
        "final_test_min": min(finals),
        "final_test_max": max(finals),
    }


def summary_table(s: dict) -> str:
    rows = [f"{'run':24s} {'seed':>4s} {'final':>7s} {'best (ep)':>11s} {'last10':>7s} "
            f"{'val':>6s} {'train':>6s}"]
    for r in s["runs"]:
        val = f"{r['final_val']:6.2f}" if r["final_val"] is not None else "     -"
        rows.append(f"{r['run']:24s} {r['seed']!s:>4s} {r['final_test']:7.2f} "
                    f"{r['best_test']:6.2f} ({r['best_epoch']:2d}) {r['mean_last10_test']:7.2f} "
                    f"{val} {r['final_train']:6.2f}")
    rows.append(f"final test accuracy over {s['n']} run(s): {s['final_test_mean']:.2f} +- "
                f"{s['final_test_std']:.2f} % (min {s['final_test_min']:.2f}, max "
                f"{s['final_test_max']:.2f})")
    return "\n".join(rows)


def plot_curves(metrics: list[dict], out: str | Path, title: str | None = None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if len(metrics) <= 4:
        for m in metrics:
            ep = [h["epoch"] for h in m["history"]]
            line, = ax.plot(ep, [100 * h["test_acc"] for h in m["history"]],
                            label=f"{m['_label']} test")
            ax.plot(ep, [100 * h["train_acc"] for h in m["history"]], "--",
                    color=line.get_color(), alpha=0.6, label=f"{m['_label']} train")
    else:  # many seeds: mean and min-max band (runs of equal length)
        n = min(len(m["history"]) for m in metrics)
        ep = np.arange(1, n + 1)
        for key, style in (("test_acc", "-"), ("train_acc", "--")):
            a = 100 * np.array([[h[key] for h in m["history"][:n]] for m in metrics])
            line, = ax.plot(ep, a.mean(axis=0), style,
                            label=f"{key[:-4]} (mean of {len(metrics)} seeds)")
            ax.fill_between(ep, a.min(axis=0), a.max(axis=0), color=line.get_color(), alpha=0.2,
                            label=f"{key[:-4]} (min-max)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run folders or metrics.json files")
    ap.add_argument("--summary", default=None, help="write the summary as JSON here")
    ap.add_argument("--out", default=None, help="write the training curves (PNG) here")
    ap.add_argument("--title", default=None)
    a = ap.parse_args(argv)
    try:
        ms = [load_metrics(r) for r in a.runs]
    except (OSError, ValueError) as exc:
        print(f"intsnn report: error: {exc}", file=__import__("sys").stderr)
        return 2
    s = summarise(ms)
    print(summary_table(s))
    if a.summary:
        Path(a.summary).write_text(json.dumps(s, indent=1))
        print(f"wrote {a.summary}")
    if a.out:
        print(f"wrote {plot_curves(ms, a.out, a.title)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
