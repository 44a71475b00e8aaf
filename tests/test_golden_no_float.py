"""The integer-only rule: no float value or float array may appear on the training path.

A profile hook watches every function of the golden training path (ops, reference, fast, model)
while a training step runs, and records any float array or Python float among its locals and
return values.  Weight initialisation is integer-only too and is watched the same way.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

import intsnn.golden as golden_pkg
from intsnn.golden.config import LayerParams, NetConfig, preset
from intsnn.golden.model import IntSNN

WATCHED = {str(Path(golden_pkg.__file__).parent / f) for f in
           ("ops.py", "reference.py", "fast.py", "fast_csnn.py", "model.py", "init.py")}


def _is_float(v):
    if isinstance(v, float):
        return True
    if isinstance(v, np.ndarray) and v.dtype.kind in "fc":
        return True
    return isinstance(v, (np.floating, np.complexfloating))


class FloatWatch:
    def __init__(self):
        self.violations = []
        self.calls = 0

    def __call__(self, frame, event, arg):
        if event not in ("return", "call") or frame.f_code.co_filename not in WATCHED:
            return
        self.calls += 1
        items = list(frame.f_locals.items())
        if event == "return":
            items.append(("<return>", arg))
        for name, v in items:
            vals = v if isinstance(v, tuple) else (v,)
            for u in vals:
                if _is_float(u):
                    self.violations.append(
                        (frame.f_code.co_name, name, getattr(u, "dtype", type(u))))


def watch(fn):
    w = FloatWatch()
    sys.setprofile(w)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return w


CASES = [
    ("snn", "direct", "standard", True), ("snn", "direct", "standard", False),
    ("rsnn", "direct", "random", True), ("snn", "final", "positive", False),
    ("snn", "feedback", "standard", True), ("csnn", "direct", "standard", False),
    ("csnn", "feedback", "random", True),
]


@pytest.mark.parametrize("arch,mode,loss,fast", CASES)
def test_no_float_on_the_training_path(arch, mode, loss, fast):
    if arch == "csnn":
        cfg = preset("mnist-csnn", batch_size=2, error_mode=mode, loss=loss)
    else:
        cfg = NetConfig(arch=arch, n_in=9, n_hidden=5, n_out=3, timesteps=6, input_bits=4,
                        hidden=LayerParams(30, 60, 2, 3), output=LayerParams(20, 40, 1, None),
                        alpha=16, clip=500, batch_size=3, error_mode=mode, loss=loss,
                        voltage_bits=16 if arch == "rsnn" else None, soft_error_start=2)
    rng = np.random.default_rng(0)
    x = rng.integers(0, cfg.in_max + 1, (cfg.batch_size, cfg.timesteps, cfg.n_in))
    y = rng.integers(0, cfg.n_out, cfg.batch_size)

    def step():
        m = IntSNN(cfg, 0, fast=fast)
        m.train_batch(x, y)
        m.predict(x)
        m.run_sample(x[0], int(y[0])) if arch != "csnn" else None

    w = watch(step)
    assert w.calls > 10, "the hook saw no golden function: the test would be vacuous"
    assert w.violations == []


def test_the_watch_catches_a_float():
    from intsnn.golden import ops
    w = watch(lambda: ops.clip(np.array([1.5, 2.0]), 1))
    assert w.violations and w.violations[0][0] == "clip"
