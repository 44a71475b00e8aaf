"""Run the commands a new user gets wrong and record what they answer (docs/results.md table).

``python docs/experiments/bad_inputs.py --json docs/results/bad-inputs.json``

Every case runs the real command line (``intsnn ...`` / ``python -m ...``) in a scratch folder
and records its exit status and the last line it printed on stderr (or stdout when it succeeds).
Real data from ``--data-dir`` (default ``$INTSNN_DATA``, else ``../shared/data``) for the cases
that need it.  Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[2]


def write_shd(path, times, units, labels):
    import h5py
    with h5py.File(path, "w") as f:
        d = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float16))
        for i, t in enumerate(times):
            d[i] = np.asarray(t, np.float16)
        d = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, u in enumerate(units):
            d[i] = np.asarray(u, np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))


def shd_pair(folder: Path, name="toy", train=(0, 1, 2, 0, 1, 2), test=(0, 1, 2),
             outlier=False):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, labels in (("train", train), ("test", test)):
        times = [np.sort(rng.uniform(0, 1, 40)) for _ in labels]
        if outlier and split == "train":
            times[1][-1] = 60000.0
        units = [rng.integers(0, 700, 40) for _ in labels]
        write_shd(folder / f"{name}_{split}.h5", times, units, labels)
    return folder


def run(argv, cwd, env=None, timeout=900):
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})})
    return p.returncode, p.stdout, p.stderr


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.replace("\r", "\n").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("INTSNN_DATA") or str(
        HERE.parent / "shared" / "data"))
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    data = Path(a.data_dir).resolve()
    intsnn = [sys.executable, "-m", "intsnn.sw.cli"]
    py = [sys.executable, "-m"]
    rows = []
    work = Path(tempfile.mkdtemp(prefix="intsnn-bad-"))
    env0 = {"INTSNN_DATA": ""}
    try:
        f = work / "afile"
        f.write_text("")
        empty = work / "empty"
        empty.mkdir()
        ro = "/sys/intsnn-out"
        tr = intsnn + ["train", "--preset", "shd-snn", "--quiet"]
        cs = intsnn + ["cosim", "--preset", "mnist-snn", "--train-samples", "2",
                       "--test-samples", "1", "--batch-size", "2", "--n-hidden", "8",
                       "--build-dir", str(work / "build")]

        def case(what, argv, env=None, cwd=work, note="", pick=None):
            rc, out, err = run(argv, cwd, {**env0, **(env or {})})
            msg = last_line(err) if rc else last_line(out)
            if pick is not None:  # a success whose telling line is not the last one
                msg = next((ln for ln in out.splitlines() if ln.startswith(pick)), msg)
            rows.append({"input": what, "exit": rc, "message": msg, "note": note})
            print(f"{rc:4d}  {what}: {rows[-1]['message']}", flush=True)

        # outputs
        case("`train --out` an existing file", tr + ["--out", str(f)])
        case("`train --out <file>/sub`", tr + ["--out", str(f / "sub")])
        case("`train --out` a read-only place", tr + ["--out", ro])
        case("`cosim --build-dir` an existing file", cs + ["--out", str(work / "c"),
                                                          "--build-dir", str(f)])
        case("`report --summary <file>/s.json`", py + ["intsnn.sw.report", str(work),
                                                       "--summary", str(f / "s.json")])
        case("`python -m intsnn.hw.cycles --json <file>/c.json`",
             py + ["intsnn.hw.cycles", "--json", str(f / "c.json")])
        # arguments
        case("`train --seed -1`", tr + ["--seed", "-1", "--out", str(work / "t")])
        case("`cosim --n-hidden 0`", cs[:-2] + ["--n-hidden", "0", "--out", str(work / "c")])
        case("`train --data-dir \"\"`", tr + ["--data-dir", "", "--out", str(work / "t")])
        case("`train --headroom 9`", tr + ["--headroom", "9", "--out", str(work / "t")])
        case("`generate --lanes 0`", intsnn + ["generate", "--preset", "mnist-snn", "--lanes",
                                               "0", "--out", str(work / "g")])
        case("`train --data-dir` a missing folder", tr + ["--data-dir", str(work / "nope"),
                                                          "--out", str(work / "t")])
        case("`train --preset mnist-snn --data-dir` an empty folder",
             intsnn + ["train", "--preset", "mnist-snn", "--quiet", "--data-dir", str(empty),
                       "--out", str(work / "t")])
        # data
        case("SHD-format test file with a class the training file lacks",
             tr + ["--data-dir", str(shd_pair(work / "cls", train=(0, 1, 0, 1),
                                              test=(0, 1, 2))), "--out", str(work / "t")])
        case("SHD-format file with one spike at 60000 s",
             tr + ["--data-dir", str(shd_pair(work / "far", outlier=True)),
                   "--out", str(work / "t")])
        two = work / "two"
        shd_pair(two / "a", "aa")
        shd_pair(two / "b", "bb")
        case("a data folder with two SHD-format pairs", tr + ["--data-dir", str(two),
                                                              "--out", str(work / "t")])
        gz = work / "mnist"
        gz.mkdir()
        for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                     "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
            shutil.copy(data / "mnist" / name, gz / name)
        raw = (gz / "t10k-images-idx3-ubyte.gz").read_bytes()
        (gz / "t10k-images-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])
        case("a truncated MNIST `.gz` file", intsnn + ["train", "--preset", "mnist-snn",
                                                       "--quiet", "--data-dir", str(gz),
                                                       "--train-limit", "64",
                                                       "--out", str(work / "t")])
        # resume
        run1 = tr + ["--train-limit", "32", "--test-limit", "16", "--out", str(work / "r")]
        run(run1 + ["--epochs", "2"], work, env0)
        case("`train --epochs 2`, then `--epochs 1` into the same folder", run1 + ["--epochs", "1"])
        case("... then `--train-limit 24`", tr + ["--train-limit", "24", "--test-limit", "16",
                                                  "--epochs", "3", "--out", str(work / "r")])
        case("... then `--data-dir` with other data", tr + [
            "--data-dir", str(shd_pair(work / "other")), "--train-limit", "32",
            "--test-limit", "16", "--epochs", "3", "--out", str(work / "r")])
        ck = work / "r" / "checkpoint.npz"
        ck.write_bytes(ck.read_bytes()[:100])
        case("a truncated `checkpoint.npz`", run1 + ["--epochs", "3"])
        # a second run into a folder in use
        long = intsnn + ["train", "--preset", "mnist-snn", "--quiet", "--data-dir", str(data),
                         "--epochs", "3", "--out", str(work / "busy")]
        first = subprocess.Popen(long, cwd=work, env={**os.environ, **env0},
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            if (work / "busy" / ".intsnn.lock").is_file():
                break
            time.sleep(0.1)
        time.sleep(1)
        case("a second `train` into a folder a running `train` writes to", long)
        # Ctrl-C (SIGINT to the process group, as a terminal sends it)
        def interrupt(what, argv, out: Path, ready: str, delay: float):
            # a job started in the background by a non-interactive shell inherits SIGINT
            # ignored (and Python then installs no KeyboardInterrupt handler): restore it
            p = subprocess.Popen(argv, cwd=work, text=True, env={**os.environ, **env0},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 start_new_session=True,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
            for _ in range(6000):
                if (out / ready).is_file() or p.poll() is not None:
                    break
                time.sleep(0.1)
            time.sleep(delay)
            os.killpg(p.pid, signal.SIGINT)
            _, err = p.communicate(timeout=300)
            left = sorted(q.name for q in out.iterdir())
            rows.append({"input": what, "exit": p.returncode, "message": last_line(err),
                         "note": f"left in --out: {', '.join(left)}"})
            print(f"{p.returncode:4d}  {what}: {last_line(err)} ({left})", flush=True)

        interrupt("Ctrl-C during `train`", long[:-1] + [str(work / "int")], work / "int",
                  ".intsnn.lock", 3)
        first.kill()
        first.wait()
        cint = cs + ["--sim", "verilator", "--train-samples", "48", "--test-samples", "8",
                     "--batch-size", "4", "--checkpoint-every", "0", "--out", str(work / "ci")]
        interrupt("Ctrl-C during `cosim`", cint, work / "ci", "cosim-checkpoint.npz", 0)
        case("... then the same `cosim` command again", cint, pick="resumed")
        # hardware
        from intsnn.golden.config import preset
        from intsnn.hw.generate import generate
        hw = work / "hw20"
        generate(preset("shd-snn", n_hidden=8), 4, hw)
        case("`cosim --preset shd-snn --hw-dir` Verilog generated for SHD's 20 classes",
             intsnn + ["cosim", "--preset", "shd-snn", "--n-hidden", "8", "--hw-dir", str(hw),
                       "--build-dir", str(work / "build"), "--out", str(work / "c")])
        (hw / "manifest.json").write_text('{"config": ')
        case("`cosim --hw-dir` with a corrupt `manifest.json`",
             intsnn + ["cosim", "--preset", "shd-snn", "--n-hidden", "8", "--hw-dir", str(hw),
                       "--build-dir", str(work / "build"), "--out", str(work / "c")])
        case("`generate --preset shd-rsnn` (no data folder)",
             intsnn + ["generate", "--preset", "shd-rsnn", "--out", str(work / "g")],
             note="succeeds; the note is printed after the Verilog path", pick="n_out")
        nomake = work / "nomake"
        nomake.mkdir()
        for tool in ("perl", "c++", "ar", "ccache", "python3"):
            w = shutil.which(tool)
            if w:
                os.symlink(w, nomake / tool)
        case("`cosim --sim verilator` on a machine without `make`",
             cs + ["--sim", "verilator", "--out", str(work / "c")],
             env={"PATH": f"{Path(sys.executable).parent}:{nomake}"})
        case("`cosim --sim icarus` without Icarus installed",
             cs + ["--sim", "icarus", "--out", str(work / "c")],
             env={"PATH": str(Path(sys.executable).parent)})
        # reports
        for i, (pre, seed) in enumerate((("shd-snn", 0), ("shd-rsnn", 1))):
            run(intsnn + ["train", "--preset", pre, "--quiet", "--seed", str(seed),
                          "--train-limit", "32", "--test-limit", "16",
                          "--out", str(work / f"m{i}")], work, env0)
        case("`report` over runs of two presets", py + ["intsnn.sw.report", str(work / "m0"),
                                                        str(work / "m1")])
        case("`report --out curves.txt`", py + ["intsnn.sw.report", str(work / "m0"),
                                                "--out", str(work / "curves.txt")])
        case("`report` on a file that is not a metrics file",
             py + ["intsnn.sw.report", str(f)])
        # demo with $INTSNN_DATA
        rc, out, err = run(intsnn + ["demo", "--out", str(work / "d"), "--build-dir",
                                     str(work / "build")], work, {"INTSNN_DATA": str(data)})
        rep = json.loads((work / "d" / "report.json").read_text()) if rc == 0 else {}
        rows.append({"input": "`intsnn demo` with `$INTSNN_DATA` set", "exit": rc,
                     "message": out.splitlines()[0] if out else last_line(err),
                     "note": f"report.json data: source {rep.get('data', {}).get('source')!r}, "
                             f"data_dir {rep.get('data', {}).get('data_dir')!r}"})
        print(f"{rc:4d}  demo: {rows[-1]['message']} / {rows[-1]['note']}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tmp = str(work)
    for r in rows:  # paths of the scratch folder shown as <tmp>
        r["message"] = r["message"].replace(tmp, "<tmp>")
        r["note"] = r["note"].replace(tmp, "<tmp>")
    print("\n| input | exit | message |\n|---|---|---|")
    for r in rows:
        msg = r["message"].replace("|", "\\|")
        note = f" ({r['note']})" if r["note"] else ""
        print(f"| {r['input']} | {r['exit']} | `{msg}`{note} |")
    if a.json:
        from intsnn.sw.outputs import write_json
        write_json(a.json, {"data_dir": str(data), "cases": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
