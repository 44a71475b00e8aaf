"""The ``intsnn sweep`` subcommand (parser and runner, kept out of ``intsnn/sw/cli.py``)."""

from __future__ import annotations

import itertools
import sys

from ..sw.argtypes import nonneg_int, positive_int
from ..sw.cli_args import add_common_args
from .grid import TABLE_CELLS

__all__ = ["add_parser", "run", "specs_from_args"]


def add_parser(sub, presets) -> None:
    s = sub.add_parser(
        "sweep", help="run a grid of integer/float training runs on Ray and write the "
                      "thesis's Tables 4.1-4.5 beside the paper's values")
    s.add_argument("--table", nargs="+", choices=tuple(TABLE_CELLS), default=[],
                   help="run the cells of these thesis tables (and write them)")
    s.add_argument("--methods", default=None,
                   help="keep only these methods of the grid: integer,fp32-online,bptt")
    g = s.add_argument_group("a custom grid (product of the axes; with --preset)")
    add_common_args(g, "preset", preset={"nargs": "+", "choices": presets, "default": [],
                                         "required": False,
                                         "help": "presets of the custom grid"})
    g.add_argument("--precisions", default="16-8", help="S-Q list, e.g. 16-8,8-4")
    g.add_argument("--errors", default="direct", help="e.g. direct,final,feedback")
    g.add_argument("--losses", default="standard", help="e.g. standard,positive,random")
    g.add_argument("--float", dest="floats", default="",
                   help="also the float baselines of each preset: fp32-online,bptt")
    s.add_argument("--seeds", default="0-2", help="e.g. 0-9 or 0,3,5 (default 0-2)")
    s.add_argument("--headroom", default=None,
                   help="integer runs' headroom list, e.g. 0,1 (default: each preset's)")
    add_common_args(s, "epochs", "data_dir", "train_limit", "test_limit", "batch_size",
                    epochs={"default": 50, "help": "epochs of every run"},
                    train_limit={"help": "training samples per run (default: all)"},
                    test_limit={"help": "validation/test samples per run (default: all)"},
                    batch_size={"help": "samples per weight update (default: each preset's)"})
    s.add_argument("--executor", choices=("ray", "serial"), default="ray",
                   help="Ray workers, or one run after the other in this process")
    s.add_argument("--workers", type=positive_int, default=None,
                   help="local Ray CPUs = concurrent runs (default: all cores)")
    s.add_argument("--address", default=None, help="an existing Ray cluster (ray://... or "
                                                   "host:port); default: start a local Ray")
    s.add_argument("--retries", type=nonneg_int, default=1, help="extra attempts for a failing run")
    s.add_argument("--runs-from", nargs="+", default=[],
                   help="more run folders (e.g. made by intsnn train) to include in the tables")
    s.add_argument("--tables-only", action="store_true",
                   help="run nothing; write the tables from <out>/runs and --runs-from")
    s.add_argument("--dry-run", action="store_true", help="list the runs and which are done")
    add_common_args(s, "quiet", "out", out={"help": "output folder (runs/ and the tables)"})
    s.set_defaults(run=run)


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def specs_from_args(a):
    from .grid import expand, parse_precisions, parse_seeds, table_specs
    seeds = parse_seeds(a.seeds)
    heads = [None] if a.headroom is None else [int(h) for h in _split(a.headroom)]
    methods = None if a.methods is None else _split(a.methods)
    cells = []
    for t in a.table:
        cells += table_specs(t, methods=methods)
    for p, (sb, qb), err, loss in itertools.product(
            a.preset, parse_precisions(a.precisions), _split(a.errors), _split(a.losses)):
        cells.append({"method": "integer", "preset": p, "shadow_bits": sb,
                      "inference_bits": qb, "error": err, "loss": loss})
    for p, m in itertools.product(a.preset, _split(a.floats)):
        cells.append({"method": m, "preset": p})
    if methods is not None:
        cells = [c for c in cells if c["method"] in methods]
    return expand(cells, seeds, heads, epochs=a.epochs, data_dir=a.data_dir,
                  train_limit=a.train_limit, test_limit=a.test_limit, batch_size=a.batch_size)


def run(a) -> int:
    from ..sw.command import run_command
    return run_command("intsnn sweep", lambda: _run(a), resumable=True,
                       errors=(ImportError,))


def _run(a) -> int:
    from ..sw.outputs import check_out_dir
    from .execute import is_done, run_grid
    from .tables import find_runs, write_tables
    out = check_out_dir(a.out)
    if not a.tables_only:
        if not a.table and not a.preset:
            raise ValueError("give --table and/or --preset (or --tables-only)")
        specs = specs_from_args(a)
        if a.dry_run:
            from .grid import estimated_seconds
            todo = 0.0
            for s in specs:
                done = is_done(out / "runs" / s.folder, s)
                todo += 0.0 if done else estimated_seconds(s)
                print(f"{'done' if done else 'todo'}  {s.folder}")
            print(f"{len(specs)} runs; the unfinished ones need about {todo / 3600:.1f} "
                  f"core-hours (one core of the project machine; divide by the workers)")
            return 0
        summary = run_grid(specs, out, executor=a.executor, workers=a.workers,
                           address=a.address, retries=a.retries, progress=not a.quiet)
        print(f"{len(summary['ran'])} ran, {len(summary['skipped_finished'])} already done, "
              f"{len(summary['failed'])} failed; wrote {out / 'sweep.json'}")
    tables = a.table or list(TABLE_CELLS)
    runs = find_runs([out / "runs", *a.runs_from] if (out / "runs").exists() else a.runs_from)
    for p in write_tables(tables, runs, out):
        print(f"wrote {p}")
    if not a.tables_only and summary["failed"]:
        for f in summary["failed"]:
            print(f"FAILED {f['folder']}: {f['error']}", file=sys.stderr)
        return 1
    return 0
