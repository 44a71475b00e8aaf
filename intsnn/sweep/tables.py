"""The thesis's Tables 4.1-4.5 from run folders, with the paper's values side by side.

Any folder holding a ``metrics.json`` of ``intsnn train`` or ``intsnn baseline`` counts (a
sweep's runs, or runs made by hand): each run is placed in a cell from its metrics alone
(method, preset, precision, error mode, loss, headroom, and the rounding of the weight update:
an integer cell takes the preset's ``lr_rounding`` only, so runs with another rounding in the
same folder are left out), and a cell is the mean ± standard
deviation (population, as ``python -m intsnn.sw.report``) of the final test accuracy over its
seeds.  Runs of one cell with different epochs or training-set sizes are never mixed: the cell
takes the group with the most epochs (then the most seeds) and says which.
"""

from __future__ import annotations

import json
import statistics
import textwrap
from pathlib import Path

from ..golden.config import DEFAULT_HEADROOM, preset
from .grid import CAPTIONS, PAPER, TABLE_CELLS

__all__ = ["find_runs", "run_key", "build_table", "table_markdown", "plot_table",
           "write_tables"]

_DEFAULT_ERROR = {"integer": "direct", "fp32-online": "feedback", "bptt": None}


def find_runs(paths) -> list[dict]:
    """Every readable ``metrics.json`` under ``paths`` (files or folders, searched
    recursively), each with ``_dir`` set to its folder."""
    runs, seen = [], set()
    for p in map(Path, paths):
        files = [p] if p.is_file() else sorted(p.rglob("metrics.json"))
        for f in files:
            f = f.resolve()
            if f in seen:
                continue
            seen.add(f)
            try:
                m = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(m, dict) and m.get("history") and "preset" in m:
                m["_dir"] = str(f.parent)
                runs.append(m)
    return runs


def run_key(m: dict) -> dict:
    """The cell coordinates of a run, from its metrics."""
    method = m.get("method", "integer")
    c = m.get("config", {})
    k = {"method": method, "preset": m["preset"]}
    if method == "integer":
        s, init = c["shadow_bits"], c.get("init_bits")
        k.update(shadow_bits=s, inference_bits=c["inference_bits"], error=c["error_mode"],
                 loss=c["loss"], headroom=0 if init is None else s - init,
                 lr_rounding=c.get("lr_rounding", "floor"))  # absent: a run from before it
    elif method == "fp32-online":
        k["error"] = m.get("float_params", {}).get("error_mode", "feedback")
    return k


def _matches(key: dict, cell: dict, headroom: dict) -> bool:
    method = cell.get("method", "integer")
    if key["method"] != method or key["preset"] != cell["preset"]:
        return False
    if method == "bptt":
        return True
    if (cell.get("error") or _DEFAULT_ERROR[method]) != key["error"]:
        return False
    if method == "fp32-online":
        return True
    h = headroom.get(cell["preset"], DEFAULT_HEADROOM[cell["preset"]])
    return (key["shadow_bits"], key["inference_bits"], key["loss"], key["headroom"],
            key["lr_rounding"]) == (cell["shadow_bits"], cell["inference_bits"],
                                    cell.get("loss") or "standard", h, _rounding(cell, h))


def _rounding(cell: dict, headroom: int) -> str:
    """The ``lr_rounding`` of an integer cell: its preset's (floor at 16 shadow bits, dither
    below; docs/algorithm.md)."""
    return preset(cell["preset"], cell["shadow_bits"], cell["inference_bits"],
                  headroom=headroom).lr_rounding


def _cell_stats(runs: list[dict]) -> dict | None:
    if not runs:
        return None
    groups: dict[tuple, list[dict]] = {}
    for m in runs:
        groups.setdefault((len(m["history"]), m["data"]["train"]["samples"]), []).append(m)
    (epochs, n_train), group = max(groups.items(), key=lambda kv: (kv[0][0], len(kv[1])))
    acc = [100 * m["history"][-1]["test_acc"] for m in group]
    secs = [m.get("seconds_per_epoch_median") or statistics.median(
        h.get("epoch_seconds", h["train_seconds"]) for h in m["history"]) for m in group]
    return {"mean": round(statistics.fmean(acc), 2), "std": round(statistics.pstdev(acc), 2),
            "n": len(acc), "seeds": sorted(m.get("seed") for m in group),
            "final_test": [round(a, 2) for a in acc], "epochs": epochs, "train_samples": n_train,
            "seconds_per_epoch_median": round(statistics.median(secs), 2),
            "peak_memory_mb": round(max(m.get("peak_memory_mb", 0) for m in group)),
            "other_groups_ignored": len(groups) - 1, "runs": [m["_dir"] for m in group]}


def build_table(table: str, runs: list[dict], headroom: dict | None = None) -> dict:
    """Cells of ``table`` (``"4.1"`` .. ``"4.5"``) filled from ``runs``."""
    headroom = headroom or {}
    cells = []
    for row, col, cell in TABLE_CELLS[table]:
        mine = [m for m in runs if _matches(run_key(m), cell, headroom)]
        paper = PAPER[table].get((row, col))
        cells.append({"row": row, "column": col, "spec": cell, "ours": _cell_stats(mine),
                      "paper": None if paper is None else {"mean": paper[0], "std": paper[1]}})
        if cell.get("method", "integer") == "integer":
            h = headroom.get(cell["preset"], DEFAULT_HEADROOM[cell["preset"]])
            cells[-1]["lr_rounding"] = _rounding(cell, h)
    return {"table": table, "caption": CAPTIONS[table], "cells": cells,
            "headroom": {p: headroom.get(p, h) for p, h in DEFAULT_HEADROOM.items()}}


def _fmt(s: dict | None, n: bool = True) -> str:
    if s is None:
        return "-"
    return f"{s['mean']:.2f} ± {s['std']:.2f}" + (f" ({s['n']})" if n else "")


def table_markdown(t: dict) -> str:
    """The table in the thesis's layout; each cell ``ours (seeds) / paper``."""
    rows = list(dict.fromkeys(c["row"] for c in t["cells"]))
    cols = list(dict.fromkeys(c["column"] for c in t["cells"]))
    by = {(c["row"], c["column"]): c for c in t["cells"]}
    lines = [f"**Table {t['table']}.** {t['caption']}. Final test accuracy (%), ours: mean ± "
             "std (seeds) / paper.", "",
             "| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in rows:
        cells = []
        for c in cols:
            cell = by.get((r, c))
            if cell is None:
                cells.append("")
            else:
                cells.append(f"{_fmt(cell['ours'])} / {_fmt(cell['paper'], n=False)}")
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    eps = sorted({c["ours"]["epochs"] for c in t["cells"] if c["ours"]})
    if eps:
        lines += ["", f"Epochs per run: {', '.join(map(str, eps))}."]
    rnd: dict[str, list[str]] = {}
    for c in t["cells"]:
        if c.get("lr_rounding"):
            rnd.setdefault(c["lr_rounding"], []).append(" ".join(_label(c).split()))
    if set(rnd) - {"floor"}:  # say which cells do not round as the thesis
        lines += ["", "Rounding of the weight update (`lr_rounding`, docs/algorithm.md): "
                  + "; ".join(f"{k} for {', '.join(v)}" for k, v in rnd.items()) + "."]
    return "\n".join(lines)


def _label(c: dict) -> str:
    """Axis label of a cell: ``MP S-Q`` for the precision grids, else row and column."""
    spec = c["spec"]
    if c["column"] == "FP32" and c["row"].endswith("bits"):
        return "FP32"
    if c["row"].endswith("bits") and spec.get("method") == "integer":
        return f"MP {spec['shadow_bits']}-{spec['inference_bits']}"
    return f"{c['row']}\n{c['column']}"


def plot_table(t: dict, out: Path) -> Path:
    """Grouped bars per cell: ours (mean, std error bar) beside the paper's value."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cells = [c for c in t["cells"] if c["ours"] or c["paper"]]
    x = np.arange(len(cells))
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(cells) + 2), 3.8))
    for off, key, label in ((-0.2, "ours", "this project"), (0.2, "paper", "paper")):
        m = [c[key]["mean"] if c[key] else np.nan for c in cells]
        s = [c[key]["std"] if c[key] else 0 for c in cells]
        ax.bar(x + off, m, 0.4, yerr=s, capsize=3, label=label)
    ax.set_xticks(x, [_label(c) for c in cells], fontsize=7)
    vals = [c[k]["mean"] for c in cells for k in ("ours", "paper") if c[k]]
    if vals:
        ax.set_ylim(max(0, min(vals) - 5), min(100, max(vals) + 2))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(textwrap.fill(f"Table {t['table']}: {t['caption']}", 150), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    from ..sw.outputs import atomic_path
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return out


def write_tables(tables: list[str], runs: list[dict], out, headroom=None,
                 plot: bool = True) -> list[Path]:
    """Write ``table-<n>.md``, ``.json`` (and ``.png``) for each table into ``out``."""
    from ..sw.outputs import check_out_dir, write_json, write_text
    out = check_out_dir(out)
    written = []
    for name in tables:
        t = build_table(name, runs, headroom)
        path = {ext: out / f"table-{name}.{ext}" for ext in ("md", "json", "png")}
        write_json(path["json"], t)
        write_text(path["md"], table_markdown(t) + "\n")
        written += [path["md"], path["json"]]
        if plot and any(c["ours"] for c in t["cells"]):
            written.append(plot_table(t, path["png"]))
    return written
