"""Co-simulation of the generated CSNN core against the golden model on real MNIST samples
(cocotb; the whole ``intsnn cosim`` flow): every count, prediction, cycle count and weight (the
kernel and the output layer) after every update, 0 mismatches.

Default suite: 4 filters at stride 3 (8 x 8 positions, up to 4 windows per pixel), lanes 4
(``FW = 1``: consecutive kernel-delta groups share every delta word), on the embedded MNIST
subset.  ``-m slow``: the full ``mnist-csnn`` preset (32
filters, 4,608 hidden neurons) under Verilator and Icarus.
"""

from pathlib import Path

import pytest

from intsnn.sim.cosim import CosimOptions, cosimulate

BUILD = Path(__file__).resolve().parents[1] / "build" / "cosim"   # shared with test_cosim.py


def run(tmp_path, sim, lanes, n_train, n_test, batch, filters=None, stride=2):
    n = (28 - 5) // stride + 1
    over = {} if filters is None else {"conv_filters": filters, "conv_stride": stride,
                                       "n_hidden": filters * n * n}
    o = CosimOptions(preset="mnist-csnn", sim=sim, lanes=lanes, train_samples=n_train,
                     test_samples=n_test, batch_size=batch, seed=0, out=str(tmp_path / "out"),
                     build_root=str(BUILD), quiet=True, overrides=over)
    r = cosimulate(o)
    assert r["mismatches"] == [] and r["status"] == "match", r["diagnosis"]
    assert r["checked"]["train_samples"] == n_train and r["checked"]["test_samples"] == n_test
    assert r["checked"]["updates"] == -(-n_train // batch)
    f = filters or 32
    assert r["checked"]["weights_per_update"] == f * 25 + 10 * f * n * n
    assert r["cycles"]["work_per_train_sample"]["n"] == n_train
    assert 1 <= r["cycles"]["ratio_to_work"]["of_sums"] <= r["cycles"]["ratio_to_work"]["max"]
    assert r["config"]["arch"] == "csnn"
    # the CSNN activity counters (intsnn.hw.csnn_activity) rebuild every measured CYCLES
    ck = r["energy"]["counters_check"]
    assert ck["cycles_register_equal"] == ck["cycles_register_checked"] == n_train
    return r


@pytest.mark.icarus
def test_cosim_csnn_small(tmp_path):
    run(tmp_path, "icarus", 4, 1, 1, 1, filters=4, stride=3)


@pytest.mark.slow
@pytest.mark.verilator
def test_cosim_csnn_preset_verilator(tmp_path):
    r = run(tmp_path, "verilator", 4, 8, 4, 4)
    assert r["cycles"]["ratio_to_work"]["of_sums"] <= 1.25


@pytest.mark.slow
@pytest.mark.icarus
def test_cosim_csnn_preset_icarus(tmp_path):
    run(tmp_path, "icarus", 4, 4, 2, 2)
