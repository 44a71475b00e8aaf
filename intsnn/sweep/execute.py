"""Run a grid of :class:`~.grid.RunSpec`: as Ray tasks (default) or serially, resumably.

A run lives in ``<out>/runs/<spec.folder>/`` (``spec.json`` with its fingerprint, then the
``metrics.json``, weights and checkpoint of ``intsnn train`` / ``intsnn baseline``).  A run
whose folder holds a finished ``metrics.json`` written for the same fingerprint is skipped; an
interrupted one resumes from its per-epoch checkpoint; a failing one is retried ``retries``
times and then reported (never silently dropped) in ``<out>/sweep.json``.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

from tqdm import tqdm

from ..sw.outputs import write_json
from ..sw.progress import bar as progress_bar
from .grid import RunSpec, estimated_seconds

__all__ = ["run_one", "is_done", "run_grid"]

#: One thread per task: a task is given one core, and numba/torch would otherwise spawn one
#: thread per core of the machine in every worker.
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def is_done(run_dir: Path, spec: RunSpec) -> bool:
    """True when ``run_dir`` holds a finished run of exactly ``spec``."""
    try:
        saved = json.loads((run_dir / "spec.json").read_text())
        m = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return False
    return (saved.get("fingerprint") == spec.fingerprint()
            and len(m.get("history", ())) == spec.epochs)


def run_one(spec_dict: dict, run_dir: str, threads: int | None = 1) -> dict:
    """Train one run into ``run_dir`` (resuming its checkpoint) and return a short summary.

    A plain function of plain data, so that it can be a Ray task.
    """
    spec = RunSpec(**spec_dict)
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "spec.json", {"fingerprint": spec.fingerprint(),
                                          "spec": spec.resolved()})
    t0 = time.perf_counter()
    common = dict(data_dir=spec.data_dir, epochs=spec.epochs, train_limit=spec.train_limit,
                  test_limit=spec.test_limit, batch_size=spec.batch_size, seed=spec.seed,
                  progress=False)
    if spec.method == "integer":
        from ..sw.train import train
        over = {} if spec.headroom is None else {"headroom": spec.headroom}
        m = train(spec.preset, out, shadow_bits=spec.shadow_bits,
                  inference_bits=spec.inference_bits, error=spec.error, loss=spec.loss,
                  **common, **over)
    else:
        from ..baselines.run import run_baseline
        m = run_baseline(spec.method, spec.preset, out, error=spec.error, threads=threads,
                         **common)
    return {"folder": out.name, "final_test_acc": m["final_test_acc"],
            "seconds": time.perf_counter() - t0}


def _serial(todo, out, retries, bar, failed, finished):
    for spec in todo:
        for attempt in range(retries + 1):
            try:
                finished.append(run_one(spec.to_dict(), str(out / spec.folder), threads=None))
                break
            except Exception as exc:  # noqa: BLE001 - reported, retried, never lost
                err = f"{type(exc).__name__}: {exc}"
                tqdm.write(f"run {spec.folder} failed (attempt {attempt + 1}): {err}")
                if attempt == retries:
                    failed.append({"folder": spec.folder, "error": err,
                                   "traceback": traceback.format_exc()})
        bar.update(1)


def _ray(todo, out, retries, bar, failed, finished, workers, address):
    try:
        import ray
    except ImportError:
        raise ImportError("intsnn sweep needs the optional ray extra: pip install -e '.[ray]' "
                          "(or run with --executor serial)") from None
    kw = {"runtime_env": {"env_vars": WORKER_ENV}, "log_to_driver": False}
    if address:
        ray.init(address=address, **kw)
    else:
        ray.init(num_cpus=workers, include_dashboard=False, **kw)
    try:
        # max_calls=1: a fresh worker process per run, so that each run's peak_memory_mb is its
        # own (ru_maxrss is a per-process high-water mark) and no state leaks between runs
        task = ray.remote(num_cpus=1, max_calls=1, max_retries=retries,
                          retry_exceptions=True)(run_one)
        refs = {task.remote(s.to_dict(), str(out / s.folder)): s for s in todo}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            spec = refs.pop(ready[0])
            try:
                finished.append(ray.get(ready[0]))
            except Exception as exc:  # noqa: BLE001 - a task that failed every retry
                err = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1]}"
                tqdm.write(f"run {spec.folder} failed after {retries + 1} attempts: {err}")
                failed.append({"folder": spec.folder, "error": err, "traceback": str(exc)})
            bar.set_postfix_str(spec.folder[-40:], refresh=False)
            bar.update(1)
    finally:
        ray.shutdown()


def run_grid(specs: list[RunSpec], out, *, executor: str = "ray", workers: int | None = None,
             address: str | None = None, retries: int = 1, progress: bool = True) -> dict:
    """Run every spec not yet finished; write and return ``<out>/sweep.json``'s content.

    Parameters
    ----------
    executor : ``"ray"`` (tasks on a local Ray with ``workers`` CPUs, or on the cluster at
        ``address``) or ``"serial"`` (in this process, one run after the other).
    retries : extra attempts for a failing run.
    """
    if executor not in ("ray", "serial"):
        raise ValueError(f"executor must be 'ray' or 'serial', got {executor!r}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries!r}")
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    out = Path(out) / "runs"
    out.mkdir(parents=True, exist_ok=True)
    done = [s for s in specs if is_done(out / s.folder, s)]
    # longest first: the best simple order for filling a fixed number of workers
    todo = sorted((s for s in specs if not is_done(out / s.folder, s)),
                  key=estimated_seconds, reverse=True)
    failed, finished = [], []
    t0 = time.perf_counter()
    with progress_bar(desc="runs", total=len(specs), initial=len(done), unit="run",
                      quiet=not progress, leave=True) as bar:
        if todo:
            if executor == "serial":
                _serial(todo, out, retries, bar, failed, finished)
            else:
                _ray(todo, out, retries, bar, failed, finished, workers, address)
    summary = {"runs": len(specs), "skipped_finished": [s.folder for s in done],
               "ran": finished, "failed": failed, "executor": executor,
               "workers": workers if executor == "ray" and not address else None,
               "address": address, "wall_seconds": time.perf_counter() - t0}
    write_json(out.parent / "sweep.json", summary)
    return summary
