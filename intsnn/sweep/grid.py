"""Run specifications of a sweep, their fingerprints, and the grids of the thesis's tables."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

from ..golden.config import DEFAULT_HEADROOM, preset
from ..sw.train import DATASET_OF

__all__ = ["RunSpec", "TABLE_CELLS", "PAPER", "EPOCH_SECONDS", "estimated_seconds",
           "table_specs", "expand", "parse_seeds", "parse_precisions"]

METHODS = ("integer", "fp32-online", "bptt")


@dataclass(frozen=True)
class RunSpec:
    """One training run of a sweep.

    ``method`` is ``integer`` (``intsnn train``), ``fp32-online`` or ``bptt``
    (``intsnn baseline``); ``shadow_bits``/``inference_bits``/``loss``/``headroom`` apply to
    integer runs, ``error`` to integer and fp32-online runs (``None``: the method's default,
    Direct for integer, Feedback for FP32).
    """

    method: str
    preset: str
    seed: int = 0
    epochs: int = 50
    shadow_bits: int = 16
    inference_bits: int = 8
    error: str | None = None
    loss: str | None = None
    headroom: int | None = None
    batch_size: int | None = None
    train_limit: int | None = None
    test_limit: int | None = None
    data_dir: str | None = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.preset not in DATASET_OF:
            raise ValueError(f"unknown preset {self.preset!r}")
        if self.method != "integer":
            # float runs have no integer precision, loss variant or headroom: normalise so
            # that equal float runs have equal fingerprints
            object.__setattr__(self, "shadow_bits", 0)
            object.__setattr__(self, "inference_bits", 0)
            object.__setattr__(self, "loss", None)
            object.__setattr__(self, "headroom", None)
            object.__setattr__(self, "error",
                               None if self.method == "bptt" else self.error or "feedback")
        else:
            # the defaults spelled out, so that a default and its name are one run
            object.__setattr__(self, "error", self.error or "direct")
            object.__setattr__(self, "loss", self.loss or "standard")
            # validates the precision and headroom now, not in a worker an hour later
            preset(self.preset, self.shadow_bits, self.inference_bits, headroom=self.headroom)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def name(self) -> str:
        """A readable folder name (the fingerprint keeps equal names of different runs apart)."""
        parts = [self.method, self.preset]
        if self.method == "integer":
            h = DEFAULT_HEADROOM[self.preset] if self.headroom is None else self.headroom
            parts += [f"{self.shadow_bits}-{self.inference_bits}", self.error, self.loss,
                      f"h{h}"]
        elif self.method == "fp32-online":
            parts.append(self.error)
        parts += [f"e{self.epochs}", f"s{self.seed}"]
        return "-".join(parts)

    def resolved(self) -> dict:
        """Everything the run depends on: the spec, the data folder's absolute path and the
        resolved integer preset or float parameters (so a changed preset is a new run)."""
        d = self.to_dict()
        if d["data_dir"] is not None:
            d["data_dir"] = str(Path(d["data_dir"]).resolve())
        if self.method == "integer":
            # canonical: a field added later, at its old behaviour, leaves earlier runs valid
            d["preset_config"] = preset(self.preset, self.shadow_bits, self.inference_bits,
                                        headroom=self.headroom).canonical_dict()
        else:
            from ..baselines.hparams import float_params
            over = {"error_mode": self.error} if self.error else {}
            d["float_params"] = float_params(self.preset, **over).to_dict()
        if self.headroom is None and self.method == "integer":
            d["headroom"] = DEFAULT_HEADROOM[self.preset]
        return d

    def fingerprint(self) -> str:
        blob = json.dumps(self.resolved(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def folder(self) -> str:
        return f"{self.name}-{self.fingerprint()[:10]}"


# ---------------------------------------------------------------------- the thesis's tables
# Cell = (row, column, spec fields).  PAPER[table][(row, column)] = (mean, std) in %.
def _mp(s, q):
    return {"method": "integer", "shadow_bits": s, "inference_bits": q}


_FP = {"method": "fp32-online"}

TABLE_CELLS: dict[str, list[tuple[str, str, dict]]] = {
    "4.1": [(row, col, {"preset": "mnist-snn", "error": err, **spec})
            for row, err in (("Feedback", "feedback"), ("Final", "final"), ("Direct", "direct"))
            for col, spec in (("MP 16-8", _mp(16, 8)), ("FP32", _FP))],
    "4.2": [(row, "SNN - MP 16-8", {"preset": "mnist-snn", "loss": loss, **_mp(16, 8)})
            for row, loss in (("Standard", "standard"), ("Positive add.", "positive"),
                              ("Random add.", "random"))],
    "4.5": ([(row, f"MP 16-{q}", {"preset": p, **_mp(16, q)})
             for row, p in (("SNN", "shd-snn"), ("RSNN", "shd-rsnn")) for q in (4, 8, 12, 16)]
            + [("SNN", "FP32", {"preset": "shd-snn", **_FP}),
               ("RSNN", "FP32", {"preset": "shd-rsnn", **_FP}),
               ("SNN (BPTT) [12]", "FP32", {"preset": "shd-snn", "method": "bptt"}),
               ("RSNN (BPTT) [12]", "FP32", {"preset": "shd-rsnn", "method": "bptt"})]),
}
for _t, _p in (("4.3", "mnist-snn"), ("4.4", "mnist-csnn")):
    TABLE_CELLS[_t] = ([(f"{q} bits", f"{s} bits", {"preset": _p, **_mp(s, q)})
                        for q, s in ((4, 8), (4, 16), (8, 8), (8, 16), (16, 16))]
                       + [("4 bits", "FP32", {"preset": _p, **_FP})])

PAPER: dict[str, dict[tuple[str, str], tuple[float, float]]] = {
    "4.1": {("Feedback", "MP 16-8"): (94.54, 1.89), ("Feedback", "FP32"): (97.33, 0.15),
            ("Final", "MP 16-8"): (95.14, 0.27), ("Final", "FP32"): (96.10, 0.12),
            ("Direct", "MP 16-8"): (97.54, 0.05), ("Direct", "FP32"): (97.18, 0.13)},
    "4.2": {("Standard", "SNN - MP 16-8"): (97.54, 0.05),
            ("Positive add.", "SNN - MP 16-8"): (95.06, 1.21),
            ("Random add.", "SNN - MP 16-8"): (97.55, 0.21)},
    "4.3": {("4 bits", "8 bits"): (94.24, 0.27), ("4 bits", "16 bits"): (95.47, 0.15),
            ("8 bits", "8 bits"): (96.89, 0.14), ("8 bits", "16 bits"): (97.55, 0.09),
            ("16 bits", "16 bits"): (97.43, 0.14), ("4 bits", "FP32"): (97.33, 0.15)},
    "4.4": {("4 bits", "8 bits"): (95.19, 0.84), ("4 bits", "16 bits"): (97.73, 0.19),
            ("8 bits", "8 bits"): (97.16, 0.20), ("8 bits", "16 bits"): (98.10, 0.10),
            ("16 bits", "16 bits"): (97.88, 0.17), ("4 bits", "FP32"): (97.85, 0.12)},
    "4.5": {("SNN", "MP 16-4"): (49.85, 1.29), ("SNN", "MP 16-8"): (50.10, 1.14),
            ("SNN", "MP 16-12"): (62.06, 1.16), ("SNN", "MP 16-16"): (61.92, 1.53),
            ("SNN", "FP32"): (55.27, 1.97), ("SNN (BPTT) [12]", "FP32"): (48.10, 1.60),
            ("RSNN", "MP 16-4"): (57.62, 0.95), ("RSNN", "MP 16-8"): (64.63, 1.49),
            ("RSNN", "MP 16-12"): (70.50, 1.43), ("RSNN", "MP 16-16"): (67.75, 1.34),
            ("RSNN", "FP32"): (71.64, 0.95), ("RSNN (BPTT) [12]", "FP32"): (71.40, 1.90)},
}

#: What each table is (captions of the thesis, with what differs here).
CAPTIONS = {
    "4.1": "Error propagation, MNIST, single-layer SNN (thesis Table 4.1)",
    "4.2": "Loss functions, MNIST, single-layer SNN, MP 16-8 (thesis Table 4.2)",
    "4.3": "MNIST SNN: inference bits (rows) x shadow bits (columns), FP32 (thesis Table 4.3)",
    "4.4": "MNIST CSNN: inference bits (rows) x shadow bits (columns), FP32 (thesis Table 4.4)",
    "4.5": "SHD-format spoken digits (10 classes; the paper: SHD, 20 classes -- not comparable)"
           ": SNN/RSNN (thesis Table 4.5; [12] = Cramer et al., BPTT)",
}


#: Seconds per epoch of each kind of run on one core of the project machine (full data,
#: training + validation/test evaluation; docs/results.md, "Sweeps"): orders a grid
#: longest-first and gives ``intsnn sweep --dry-run`` its estimate.  Integer MNIST/SHD: quiet
#: machine (bench.json, the 50-epoch runs); float MNIST: load 3-4; float SHD: the Table 4.5
#: sweep (load ~10, so pessimistic); CSNN float: one batch at load ~12, scaled by 1/2.5; CSNN
#: integer: the fast path's 50-epoch runs (~24 s per epoch, one thread, quiet machine).
EPOCH_SECONDS = {
    ("integer", "mnist-snn"): 5.0, ("integer", "mnist-csnn"): 24.0,
    ("integer", "shd-snn"): 0.4, ("integer", "shd-rsnn"): 0.5,
    ("fp32-online", "mnist-snn"): 18.0, ("fp32-online", "mnist-csnn"): 120.0,
    ("fp32-online", "shd-snn"): 0.5, ("fp32-online", "shd-rsnn"): 1.0,
    ("bptt", "mnist-snn"): 14.0, ("bptt", "mnist-csnn"): 110.0,
    ("bptt", "shd-snn"): 0.6, ("bptt", "shd-rsnn"): 1.5,
}


def estimated_seconds(spec: "RunSpec") -> float:
    """Rough single-core duration of ``spec`` on full data (scaled by its training limit)."""
    full = {"mnist": 50_000, "shd": 2_250}[DATASET_OF[spec.preset]]
    frac = 1.0 if spec.train_limit is None else min(1.0, spec.train_limit / full)
    return EPOCH_SECONDS[(spec.method, spec.preset)] * spec.epochs * frac


def table_specs(table: str, *, methods=None) -> list[dict]:
    """The spec fields of every cell of ``table`` (optionally only some methods)."""
    if table not in TABLE_CELLS:
        raise ValueError(f"unknown table {table!r}; choose from {', '.join(TABLE_CELLS)}")
    return [dict(c) for _, _, c in TABLE_CELLS[table]
            if methods is None or c["method"] in methods]


def expand(cells: list[dict], seeds, headrooms=(None,), **common) -> list[RunSpec]:
    """Every cell x seed x headroom as a :class:`RunSpec` (float runs ignore the headroom, and
    duplicates are dropped)."""
    out, seen = [], set()
    for c, seed, h in itertools.product(cells, seeds, headrooms):
        spec = RunSpec(**{**common, **c, "seed": seed,
                          "headroom": h if c.get("method", "integer") == "integer" else None})
        if spec.folder not in seen:
            seen.add(spec.folder)
            out.append(spec)
    return out


def parse_seeds(text: str) -> list[int]:
    """``"0-9"``, ``"0,3,5"`` or ``"0-2,7"`` -> a list of seeds."""
    seeds = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-"))
                if hi < lo:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ValueError(f"seeds must look like '0-9' or '0,3,5', got {text!r}") from None
    if any(s < 0 for s in seeds):
        raise ValueError(f"seeds must be >= 0, got {text!r}")
    return list(dict.fromkeys(seeds))


def parse_precisions(text: str) -> list[tuple[int, int]]:
    """``"16-8,8-4"`` -> ``[(16, 8), (8, 4)]`` (shadow S, inference Q)."""
    out = []
    for part in str(text).split(","):
        try:
            s, q = (int(v) for v in part.strip().split("-"))
        except ValueError:
            raise ValueError(f"precisions must look like '16-8,8-4' (S-Q), got {text!r}") from None
        out.append((s, q))
    return out
