"""Wide cores: generation and a short co-simulation at P = 16 (P = 32 and 64 with ``-m slow``).

Real SHD-format samples through the generated Verilog under Icarus (which reads an
uninitialised memory word as x, so a design that depended on initial contents would fail), a
small hidden layer and only a few samples, so it stays cheap.  Every size is padded at these lane
counts (175 inputs, 6 hidden, 10 outputs), so the padding lanes are exercised too.  Elaboration
time and memory against P are measured by ``python -m intsnn.hw.genbench`` (docs/results.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("amaranth")

from intsnn.sim.cosim import CosimOptions, cosimulate  # noqa: E402
from intsnn.sim.tools import SimulatorNotFound, find_simulator  # noqa: E402

BUILD = Path(__file__).resolve().parents[1] / "build" / "cosim"


@pytest.mark.icarus
# P = 16 takes the same wide-word path; P = 32 costs ~55 s from a cold build cache
@pytest.mark.parametrize("lanes", [16, pytest.param(32, marks=pytest.mark.slow),
                                   pytest.param(64, marks=pytest.mark.slow)])
def test_wide_core_generates_and_matches_golden(tmp_path, lanes):
    try:
        find_simulator("icarus")
    except SimulatorNotFound as exc:
        pytest.skip(str(exc))
    r = cosimulate(CosimOptions(
        preset="shd-snn", sim="icarus", lanes=lanes, train_samples=4, test_samples=2,
        batch_size=2, seed=0, out=str(tmp_path / "out"), build_root=str(BUILD), quiet=True,
        overrides={"n_hidden": 6}))
    assert r["status"] == "match" and r["mismatches"] == [], r["diagnosis"]
    assert r["lanes"] == lanes and r["checked"]["updates"] == 2
    assert r["checked"]["train_samples"] == 4 and r["checked"]["test_samples"] == 2
    # the exact cycle formula held for every sample (a difference is a mismatch)
    assert r["cycles"]["per_train_sample"]["n"] == 4
