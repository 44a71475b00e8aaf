"""Training reports from one or more ``metrics.json`` files: a seed summary and curves.

``python -m intsnn.sw.report RUN_DIR [RUN_DIR ...] [--summary summary.json] [--out curves.png]``

Runs of the same configuration with different seeds are summarised the way the thesis reports
its results (section 4.1: mean and standard deviation of the final test accuracy over seeds),
together with each seed's final, best and last-ten-epoch mean (over the epochs there are, when
fewer than ten).  Runs that differ in anything but the seed (preset, configuration, data set,
data source or size) are refused: their mean would mean nothing.  The plot has integer epoch
ticks and the validation curve where the runs have one.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from ..golden.config import LATER_FIELDS
from . import outputs
from .command import run_command

__all__ = ["load_metrics", "check_comparable", "summarise", "summary_table", "plot_curves",
           "main"]


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
    m["_path"] = str(p)
    return m


def _identity(m: dict) -> dict:
    """What must agree between runs that are averaged: all but the seed."""
    data = {}
    for split, d in (m.get("data") or {}).items():
        if d:
            data[split] = {k: d.get(k) for k in ("dataset", "source", "data_dir", "name",
                                                 "samples")}
    config = m.get("config")
    if isinstance(config, dict) and m.get("method", "integer") == "integer":
        # a run from before a field existed behaved as the field's old value
        config = {**LATER_FIELDS, **config}
    return {"preset": m.get("preset"), "method": m.get("method", "integer"),
            "config": config, "data": data}


def check_comparable(metrics: list[dict]) -> None:
    """Raise ValueError (naming the runs and the first field that differs) unless all runs
    share preset, configuration and data, so that only the seed varies."""
    base = _identity(metrics[0])
    for m in metrics[1:]:
        other = _identity(m)
        if other == base:
            continue
        field = _first_difference(base, other)
        raise ValueError(f"{m['_path']} and {metrics[0]['_path']} are different experiments "
                         f"({field}); a seed summary averages runs that differ only in the seed")


def _first_difference(a, b, prefix="") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        order = ("preset", "method", "data")  # the plainest explanation first
        for k in sorted(set(a) | set(b), key=lambda k: (k not in order, order.index(k)
                                                        if k in order else 0, k)):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{prefix}{k}.")
    return f"{prefix.rstrip('.')}: {a!r} vs {b!r}"


def summarise(metrics: list[dict]) -> dict:
    """Per-run and across-run figures (accuracies in %, rounded to 0.01)."""
    check_comparable(metrics)
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
            "last_n_epochs": len(last),
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
    n_last = min(r["last_n_epochs"] for r in s["runs"])
    last = f"last{n_last}"
    rows = [f"{'run':24s} {'seed':>4s} {'final':>7s} {'best (ep)':>11s} {last:>7s} "
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
    """Test, train and (where present) validation accuracy per epoch, written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    keys = [("test_acc", "-", "test"), ("train_acc", "--", "train")]
    if all("val_acc" in h for m in metrics for h in m["history"]):
        keys.append(("val_acc", ":", "val"))
    fig, ax = plt.subplots(figsize=(7, 4))
    if len(metrics) <= 4:
        for m in metrics:
            ep = [h["epoch"] for h in m["history"]]
            color = None
            for key, style, name in keys:
                line, = ax.plot(ep, [100 * h[key] for h in m["history"]], style, color=color,
                                marker="o" if len(ep) == 1 else None,
                                alpha=1.0 if key == "test_acc" else 0.6,
                                label=f"{m['_label']} {name}")
                color = line.get_color()
    else:  # many seeds: mean and min-max band (runs of equal length)
        n = min(len(m["history"]) for m in metrics)
        ep = np.arange(1, n + 1)
        for key, style, name in keys:
            a = 100 * np.array([[h[key] for h in m["history"][:n]] for m in metrics])
            line, = ax.plot(ep, a.mean(axis=0), style,
                            label=f"{name} (mean of {len(metrics)} seeds)")
            ax.fill_between(ep, a.min(axis=0), a.max(axis=0), color=line.get_color(), alpha=0.2,
                            label=f"{name} (min-max)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = Path(out)
    with outputs.atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    from .argtypes import HelpFormatter
    ap = argparse.ArgumentParser(prog="python -m intsnn.sw.report",
                                 description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    ap.add_argument("runs", nargs="+", help="run folders or metrics.json files (same experiment, "
                                            "different seeds)")
    ap.add_argument("--summary", default=None, help="write the summary as JSON here")
    ap.add_argument("--out", default=None, help="write the training curves here (.png/.pdf/.svg)")
    ap.add_argument("--title", default=None, help="title of the plot")
    a = ap.parse_args(argv)
    return run_command("intsnn report", lambda: _report(a))


def _report(a) -> int:
    if a.summary:
        outputs.check_out_file(a.summary, "--summary")
    if a.out:
        outputs.check_out_file(a.out, "--out")
        if Path(a.out).suffix.lower() not in (".png", ".pdf", ".svg"):
            raise ValueError(f"--out {a.out}: name a .png, .pdf or .svg file")
    ms = [load_metrics(r) for r in a.runs]
    s = summarise(ms)
    print(summary_table(s))
    if a.summary:
        outputs.write_json(a.summary, s)
        print(f"wrote {a.summary}")
    if a.out:
        print(f"wrote {plot_curves(ms, a.out, a.title)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
