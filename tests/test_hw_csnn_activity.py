"""The CSNN core's activity counters (``intsnn.hw.csnn_activity``) on real MNIST samples: they
rebuild the exact cycle formula, they bound the golden model's operations from above (equal
where no lane idles), the kernel-delta count agrees with a plain loop over eq. 3.22's terms,
and the Table 3.3 energy report covers the CSNN."""

from __future__ import annotations

import numpy as np
import pytest

from intsnn.golden.config import preset
from intsnn.golden.fast_csnn import ConvGeometry
from intsnn.hw import csnn_activity as ca
from intsnn.hw import cycles
from intsnn.hw.energy import energy_report, preset_records, sample_entry


def small(filters=4, stride=3):
    n = (28 - 5) // stride + 1
    return preset("mnist-csnn", n_out=10, conv_filters=filters, conv_stride=stride,
                  n_hidden=filters * n * n)


@pytest.fixture(scope="module")
def records():
    cfg = small()
    return cfg, preset_records("mnist-csnn", cfg, 4)


@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_counters_rebuild_the_cycle_formula(records, lanes):
    cfg, recs = records
    for r in recs:
        for train in (True, False):
            act = ca.csnn_activity(cfg, lanes, r, train)
            exp = cycles.expected_cycles(cfg, lanes, r.steps["in_spikes"], r.steps["v_hidden"],
                                         r.steps["s_hidden"], r.steps["pg_hidden"],
                                         r.steps["pg_output"], r.vfb_output, r.vfb_hidden,
                                         train)
            assert ca.cycles_from_activity(cfg, lanes, act, train) == exp


def test_lane_ops_bound_the_useful_ops(records):
    cfg, recs = records
    for r in recs:
        useful = ca.useful_lane_ops(cfg, r)
        assert useful["conv_scatter"] > 0 and useful["patch_walk"] > 0
        for lanes in (1, 4):
            act = ca.csnn_activity(cfg, lanes, r)
            assert all(act[k] >= useful[k] for k in ca.KINDS), (lanes, act, useful)
        # one lane per neuron: the forward pass does exactly the golden work
        act = ca.csnn_activity(cfg, 1, r)
        for k in ("conv_scatter", "acc_spike", "neuron"):
            assert act[k] == useful[k]


def test_kernel_pairs_by_plain_loop(records):
    """Eq. 3.22's multiplications: (filter, position, tap) with a step where the hidden
    neuron's pseudo-gradient and the pixel's trace are both non-zero, and a non-zero
    feedback."""
    cfg, recs = records
    geo = ConvGeometry.of(cfg)
    npos, F = geo.patch_pixel.shape[0], cfg.conv_filters
    r = recs[0]
    pg, pre, fb = (np.asarray(r.steps["pg_hidden"]), np.asarray(r.steps["pre_hidden"]),
                   np.asarray(r.vfb_hidden))
    n = terms = 0
    for f in range(F):
        for p in range(npos):
            h = f * npos + p
            if fb[h] == 0:
                continue
            for pix in geo.patch_pixel[p]:
                k = int(np.sum((pg[:, h] != 0) & (pre[:, pix] != 0)))
                n += k > 0
                terms += k
    assert (n, terms) == ca._kernel_pairs(cfg, r) and n > 0
    assert ca.useful_lane_ops(cfg, r)["patch_walk"] == n


def test_energy_report_of_the_csnn(records):
    cfg, recs = records
    entries = [sample_entry(cfg, 4, r) for r in recs]
    measured = [cycles.from_record(cfg, 4, r)[0] for r in recs]
    rep = energy_report(cfg, 4, entries, 60_000, measured)
    assert rep["counters_check"] == {"samples": 4, "cycles_register_equal": 4,
                                     "cycles_register_checked": 4}
    # lanes idle or not, the hardware does at least the golden work
    assert rep["hw_pj_per_sample"] >= rep["golden_pj_per_sample"]["total_mean"] > 0
    assert rep["golden_pj_per_update"] > 0
    assert set(rep["hw_lane_ops_per_sample"]) >= set(ca.KINDS)


def test_refuses_a_dense_config():
    with pytest.raises(ValueError, match=r"csnn_activity counts arch 'csnn', got 'snn'"):
        ca.csnn_activity(preset("mnist-snn", n_out=10), 4, None)
