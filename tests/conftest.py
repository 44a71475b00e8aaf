"""Shared test set-up.

Simulators: a test marked ``@pytest.mark.verilator`` or ``@pytest.mark.icarus`` needs that
simulator (and, for Verilator, the C++ build tools).  When one is missing the test is skipped
with the install line on a developer machine, and fails under CI (``CI`` set to anything but
``false``/``0``), where every simulator must be present.  This is the one place that decides.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest_plugins = ("pytester",)

SIM_MARKS = ("verilator", "icarus")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def need_simulator(name: str) -> None:
    """Skip (developer machine) or fail (CI) unless simulator ``name`` is usable."""
    from intsnn.sim.tools import SimulatorNotFound, check_build_tools, find_simulator
    try:
        find_simulator(name)
        if name == "verilator":
            check_build_tools(warn_ccache=False)
    except SimulatorNotFound as exc:
        if in_ci():
            pytest.fail(f"CI needs the {name} simulator: {exc}", pytrace=False)
        pytest.skip(str(exc))


def pytest_runtest_setup(item):
    for name in SIM_MARKS:
        if item.get_closest_marker(name) is not None:
            need_simulator(name)


def write_shd(path: Path, times, units, labels, speaker=None):
    """A small SHD-layout HDF5 file (variable-length float16 times, uint16 units)."""
    import h5py
    with h5py.File(path, "w") as f:
        d = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float16))
        for i, t in enumerate(times):
            d[i] = np.asarray(t, dtype=np.float16)
        d = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, u in enumerate(units):
            d[i] = np.asarray(u, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        if speaker is not None:
            f.create_dataset("extra/speaker", data=np.asarray(speaker, dtype=np.uint16))
    return path


@pytest.fixture
def shd_pair():
    """``make(folder, name, train_labels, test_labels)``: a random SHD-format pair whose
    samples are 40 spikes over ~1 s; returns the folder."""

    def make(folder: Path, name: str = "toy", train_labels=(0, 1, 2, 0, 1, 2),
             test_labels=(0, 1, 2)):
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(len(train_labels))
        for split, labels in (("train", train_labels), ("test", test_labels)):
            times = [np.sort(rng.uniform(0, 1, 40)) for _ in labels]
            units = [rng.integers(0, 700, 40) for _ in labels]
            write_shd(folder / f"{name}_{split}.h5", times, units, labels)
        return folder

    return make
