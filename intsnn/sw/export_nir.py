"""``intsnn export --nir``: a trained integer network as a NIR graph, and the check that a float
framework running the graph classifies like the integer network.

NIR (the Neuromorphic Intermediate Representation, PyPI ``nir`` 1.0) describes neurons in
continuous time, ``tau dv/dt = (v_leak - v) + r I``, which a framework steps with its ``dt``
(forward Euler: ``v <- (1 - dt/tau) v + (dt/tau) r I``).  The integer LIF
``V = (V_s >> b) + W s`` (eq. 3.2) is written as

* ``Linear`` (SNN) or ``Conv2d`` + ``Flatten`` (CSNN) with the Q-bit *inference* weights
  ``W >> (S - Q)`` (eq. 3.24) as float values (exact: they are small integers);
* ``LIF`` with ``tau = dt / (1 - 2**-b)`` (so ``1 - dt/tau = 2**-b``, the leak as the equivalent
  decay), ``r = tau / dt`` (unit input gain), ``v_leak = v_reset = 0`` (hard reset to 0), and
  ``v_threshold = V_th + 1 - 2**-(b T + 1)``.

Why that threshold: the float voltage ``v = v/2**b + I`` never floors, so it runs ahead of the
integer one by ``d`` with ``0 <= d <= 1 - 2**-(b t)`` after ``t`` steps since the last reset
(each floor drops less than 1, and older drops decay); hence the integer ``V > V_th`` (i.e.
``V >= V_th + 1``) holds exactly when the float ``v >= V_th + 1 - 2**-(bT+1)``, and also exactly
when ``v > `` that value: the graph gives the integer network's spikes in float64 whether the
framework fires on ``>`` or ``>=``.  What NIR cannot say (``docs/algorithm.md``, "NIR export"):
the floor of the shift, the saturation of the voltage registers, the strict ``>``, integer
input counts, the RSNN's recurrence on the *voltage* through ``B16`` (NIR edges carry a node's
output, which for a LIF node is its spikes), and the training rule itself.

``python -m intsnn.sw.export_nir RUN_DIR --out net.nir --check`` (or ``intsnn export``) also
runs the exported graph with spikingjelly's NIR importer on the test split and compares it with
the integer golden model, sample by sample.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..golden.config import NetConfig
from ..golden.init import Weights
from .cli_args import add_common_args
from .command import run_command
from .outputs import atomic_path, check_out_file, write_json

__all__ = ["to_nir", "load_run", "export_run", "check_against_integer", "add_parser", "run"]

DT = 1e-4  # seconds per time step; spikingjelly's and most NIR tools' default


def _require_nir():
    try:
        import nir
    except ImportError:
        raise ImportError("intsnn export --nir needs the optional nir extra: pip install -e "
                          "'.[nir]'") from None
    return nir


def _lif(nir, shape, cfg: NetConfig, threshold: int, exact: bool = True):
    b = cfg.beta_shift
    decay = 2.0 ** -b
    tau = DT / (1.0 - decay)
    full = lambda v: np.full(shape, v, dtype=np.float64)  # noqa: E731
    return nir.LIF(tau=full(tau), r=full(tau / DT), v_leak=full(0.0),
                   v_threshold=full(threshold + 1 - 2.0 ** -(b * cfg.timesteps + 1)
                                    if exact else threshold),
                   v_reset=full(0.0),
                   metadata={"integer_threshold": threshold, "beta_shift": b,
                             "integer_rule": f"V = (V_s >> {b}) + I; spike when V > "
                                             f"{threshold}; V_s = 0 after a spike"})


def to_nir(cfg: NetConfig, weights: Weights, exact_threshold: bool = True):
    """The inference network of ``cfg`` with ``weights`` as a ``nir.NIRGraph``.

    ``exact_threshold=False`` writes the integer ``V_th`` itself (the naive export, kept to
    measure what the corrected threshold buys).

    Raises
    ------
    ValueError
        For an RSNN (its voltage recurrence is not expressible in NIR) or a saturating
        voltage width (NIR has no saturation).
    """
    nir = _require_nir()
    if cfg.arch == "rsnn":
        raise ValueError("an RSNN cannot be exported to NIR: its recurrent input is the "
                         "previous *voltage* through B16 (V >> rec_shift), and NIR edges carry "
                         "a LIF node's spikes")
    if cfg.voltage_bits is not None:
        raise ValueError(f"voltage_bits={cfg.voltage_bits} saturates the voltage, which NIR "
                         "cannot express; export a config with derived (non-saturating) widths")
    qh, qo = (np.asarray(a, dtype=np.float64) for a in weights.inference(cfg))
    nodes = {}
    if cfg.arch == "csnn":
        k, n, f = cfg.conv_kernel, cfg.conv_out_side, cfg.conv_filters
        side = cfg.image_side
        nodes["input"] = nir.Input(input_type={"input": np.array([1, side, side])})
        nodes["hidden_synapses"] = nir.Conv2d(
            input_shape=(side, side), weight=qh.reshape(f, 1, k, k), stride=cfg.conv_stride,
            padding=0, dilation=1, groups=1, bias=np.zeros(f))
        nodes["hidden"] = _lif(nir, (f, n, n), cfg, cfg.hidden.threshold, exact_threshold)
        nodes["flatten"] = nir.Flatten(input_type={"input": np.array([f, n, n])}, start_dim=0)
        chain = ["input", "hidden_synapses", "hidden", "flatten"]
    else:
        nodes["input"] = nir.Input(input_type={"input": np.array([cfg.n_in])})
        nodes["hidden_synapses"] = nir.Linear(weight=qh)
        nodes["hidden"] = _lif(nir, (cfg.n_hidden,), cfg, cfg.hidden.threshold,
                                exact_threshold)
        chain = ["input", "hidden_synapses", "hidden"]
    nodes["output_synapses"] = nir.Linear(weight=qo)
    nodes["output"] = _lif(nir, (cfg.n_out,), cfg, cfg.output.threshold, exact_threshold)
    nodes["spikes"] = nir.Output(output_type={"output": np.array([cfg.n_out])})
    chain += ["output_synapses", "output", "spikes"]
    meta = {"source": "intsnn", "dt": DT, "timesteps": cfg.timesteps,
            "readout": "class = argmax of output spike counts over the T steps (lowest index "
                       "on ties)",
            "input": "rate-coded binary spikes (MNIST) or integer counts (SHD-format), one "
                     "vector per step", "inference_bits": cfg.inference_bits,
            "config": json.dumps(cfg.to_dict())}
    return nir.NIRGraph(nodes=nodes, edges=list(zip(chain[:-1], chain[1:])), metadata=meta)


def load_run(run_dir) -> tuple[NetConfig, Weights, dict]:
    """Config, weights and metrics of an ``intsnn train`` run folder."""
    run_dir = Path(run_dir)
    mpath, wpath = run_dir / "metrics.json", run_dir / "weights.npz"
    for p in (mpath, wpath):
        if not p.is_file():
            raise FileNotFoundError(f"{p} not found: give the folder of an intsnn train run")
    m = json.loads(mpath.read_text())
    if m.get("method", "integer") != "integer":
        raise ValueError(f"{run_dir} is a {m['method']} run; only integer networks export")
    cfg = NetConfig.from_dict(m["config"])
    with np.load(wpath) as z:
        w = Weights.from_dict(z)
    return cfg, w, m


def export_run(run_dir, out, exact_threshold: bool = True) -> Path:
    """Write the NIR graph of an ``intsnn train`` run to ``out`` (HDF5, atomically)."""
    nir = _require_nir()
    cfg, w, _ = load_run(run_dir)
    graph = to_nir(cfg, w, exact_threshold)
    out = check_out_file(out, "--nir")
    with atomic_path(out) as tmp:
        nir.write(tmp, graph)
    return out


def _run_imported(module, torch, x: np.ndarray, cfg: NetConfig, dtype) -> np.ndarray:
    """Output spike counts (B, O) of the imported graph on inputs (B, T, n_in)."""
    xt = torch.as_tensor(x, dtype=dtype)
    if cfg.arch == "csnn":
        xt = xt.reshape(x.shape[0], x.shape[1], 1, cfg.image_side, cfg.image_side)
    state, counts = None, torch.zeros(x.shape[0], cfg.n_out, dtype=dtype)
    with torch.no_grad():
        for t in range(x.shape[1]):
            out, state = module(xt[:, t], state)
            counts += out
    return counts.numpy().astype(np.int64)


def check_against_integer(run_dir, nir_path, data_dir=None, limit=None, dtype="float64",
                          batch: int = 256, progress: bool = True) -> dict:
    """Classify the test split with the integer network and with the NIR graph imported into
    spikingjelly; return both accuracies and how often the two disagree."""
    from tqdm import tqdm

    from ..baselines import require_torch
    from ..golden.model import IntSNN
    from .train import EVAL_EPOCH, encode, load_data
    torch = require_torch("intsnn export --check", spikingjelly=True)
    from spikingjelly.activation_based.nir_exchange import import_from_nir
    cfg, w, m = load_run(run_dir)
    tdtype = {"float64": torch.float64, "float32": torch.float32}[dtype]
    module = import_from_nir(str(nir_path), dt=DT, dtype=tdtype)
    golden = IntSNN(cfg, m.get("seed", 0), weights=w)
    data = load_data(m["preset"], "test", data_dir, limit)
    n, agree, ok_int, ok_nir, count_diff = len(data.y), 0, 0, 0, 0
    for s in tqdm(range(0, n, batch), desc=f"check ({dtype})", disable=not progress,
                  leave=False):
        rows = np.arange(s, min(n, s + batch))
        x = encode(cfg, data, rows, m.get("seed", 0), EVAL_EPOCH)
        c_int, p_int = golden.predict(x)
        c_nir = _run_imported(module, torch, x.astype(np.float64), cfg, tdtype)
        p_nir = np.argmax(c_nir, axis=1)
        agree += int(np.count_nonzero(p_int == p_nir))
        ok_int += int(np.count_nonzero(p_int == data.y[rows]))
        ok_nir += int(np.count_nonzero(p_nir == data.y[rows]))
        count_diff += int(np.count_nonzero(np.any(c_int != c_nir, axis=1)))
    return {"run": str(run_dir), "nir": str(nir_path), "framework": "spikingjelly "
            "import_from_nir", "dtype": dtype, "samples": n,
            "integer_test_acc": ok_int / n, "nir_test_acc": ok_nir / n,
            "accuracy_difference_points": 100 * (ok_nir - ok_int) / n,
            "prediction_agreement": agree / n, "samples_with_different_counts": count_diff}


def add_parser(sub) -> None:
    e = sub.add_parser("export", help="export a trained integer network (intsnn train run "
                                      "folder) as NIR")
    e.add_argument("run_dir", metavar="RUN", help="folder of an intsnn train run (metrics.json + weights.npz)")
    e.add_argument("--nir", required=True, metavar="FILE", help="write the NIR graph here")
    e.add_argument("--check", action="store_true",
                   help="also run the graph in spikingjelly on the test split and compare with "
                        "the integer network (needs the torch extra)")
    e.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="float type of the --check run in spikingjelly")
    e.add_argument("--naive-threshold", action="store_true",
                   help="write V_th itself instead of the exact V_th + 1 - 2**-(bT+1) (to "
                        "measure the difference)")
    add_common_args(e, "data_dir", "test_limit",
                    data_dir={"help": "data of the --check run (default: $INTSNN_DATA, else the "
                                      "embedded subset)"},
                    test_limit={"help": "test samples of the --check run (default: all)"})
    e.add_argument("--json", default=None, help="write the check's result here")
    add_common_args(e, "quiet")
    e.set_defaults(run=run)


def run(a) -> int:
    def body() -> int:
        out = check_out_file(a.nir, "--nir")
        if a.json:
            check_out_file(a.json, "--json")
        path = export_run(a.run_dir, out, exact_threshold=not a.naive_threshold)
        print(f"wrote {path}")
        if a.check:
            r = check_against_integer(a.run_dir, path, a.data_dir, a.test_limit, a.dtype,
                                      progress=not a.quiet)
            print(f"test samples {r['samples']}: integer {100 * r['integer_test_acc']:.2f} %, "
                  f"NIR in spikingjelly ({a.dtype}) {100 * r['nir_test_acc']:.2f} %; "
                  f"predictions agree on {100 * r['prediction_agreement']:.2f} %, spike "
                  f"counts differ on {r['samples_with_different_counts']} samples")
            if a.json:
                write_json(a.json, r)
                print(f"wrote {a.json}")
        return 0
    return run_command("intsnn export", body, errors=(ImportError,))
