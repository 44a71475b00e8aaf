"""The hardware's activity counters (intsnn.hw.activity) and the energy report
(intsnn.hw.energy) on real samples: the counters rebuild the exact cycle count (= the RTL's
CYCLES register), and their lanes with work are the golden model's operations."""

import json

import numpy as np
import pytest

from intsnn.golden import activity as ga
from intsnn.golden.config import preset
from intsnn.hw import activity as ha
from intsnn.hw import cycles, energy


@pytest.fixture(scope="module")
def samples():
    out = {}
    for name in ("mnist-snn", "shd-snn", "shd-rsnn"):
        cfg = preset(name, n_out=10)
        out[name] = (cfg, energy.preset_records(name, cfg, 3))
    # the error modes, losses and post-reset RSNN the hardware also implements
    for name, kw in (("mnist-snn", dict(error_mode="final", loss="positive")),
                     ("shd-rsnn", dict(error_mode="feedback", loss="random",
                                       rec_source="post_reset"))):
        cfg = preset(name, n_out=10, **kw)
        out[f"{name}-{kw['error_mode']}"] = (cfg, energy.preset_records(name, cfg, 2))
    return out


@pytest.mark.parametrize("lanes", [1, 4, 16])
def test_counters_rebuild_the_cycle_count(samples, lanes):
    for cfg, recs in samples.values():
        for rec in recs:
            for train in (True, False):
                act = ha.hw_activity(cfg, lanes, rec, train)
                assert ha.cycles_from_activity(cfg, lanes, act, train) == \
                    cycles.from_record(cfg, lanes, rec, train)[0]


def test_lanes_with_work_are_the_golden_operations(samples):
    for name, (cfg, recs) in samples.items():
        for rec in recs:
            useful = ha.useful_lane_ops(cfg, rec)
            one = ha.hw_activity(cfg, 1, rec)
            four = ha.hw_activity(cfg, 4, rec)
            for k in ("acc_input", "acc_recurrent", "acc_spike", "neuron"):
                assert one[k] == useful[k], (name, k)      # one lane per neuron: no idle lane
            for k in ha.KINDS:
                assert four[k] >= useful[k] >= 0, (name, k)
            # the same events: lane ops per event = the padded layer width
            assert four["acc_spike"] * cfg.n_out == useful["acc_spike"] * 4 * -(-cfg.n_out // 4)
            # the golden delta count is the golden model's multiplications into the deltas
            g = ga.sample_activity(cfg, rec)
            assert sum(v for k, v in g["delta"].items() if k.startswith("mul")) == \
                useful["delta_mac"]
            assert useful["acc_input"] == np.count_nonzero(rec.steps["in_spikes"]) * cfg.n_hidden
            # traces are >= 0 and pg in {0, 1}: a pair has work iff its eq. 3.5 correlation is
            # nonzero (the golden model's own corr, summed step by step) and its feedback too
            assert useful["delta_mac"] == (
                np.count_nonzero(rec.corr_hidden[rec.vfb_hidden != 0])
                + np.count_nonzero(rec.corr_output[rec.vfb_output != 0]))
            assert np.count_nonzero(rec.delta_hidden) <= useful["delta_mac"]


def test_energy_report_and_cycles_register_check(samples):
    cfg, recs = samples["shd-rsnn"]
    entries = [energy.sample_entry(cfg, 4, r) for r in recs]
    exact = [cycles.from_record(cfg, 4, r)[0] for r in recs]
    rep = energy.energy_report(cfg, 4, entries, 300, measured_cycles=exact[:2] + [exact[2] + 1])
    assert rep["counters_check"] == {"samples": 3, "cycles_register_equal": 2,
                                     "cycles_register_checked": 3}
    per = [ga.energy_pj(ga.total(e["golden"])) for e in entries]
    assert rep["golden_pj_per_sample"]["total_mean"] == pytest.approx(np.mean(per))
    ep = rep["per_epoch"]["golden"]
    assert ep["updates"] == 3 and ep["uj"] == pytest.approx(
        (300 * np.mean(per) + 3 * rep["golden_pj_per_update"]) / 1e6)
    assert rep["hw_pj_per_sample"] >= rep["golden_pj_per_sample"]["total_mean"]
    assert all(c["figures"] and c["source"].startswith("arXiv:")   # nothing quoted uncited
               for c in rep["comparison"])
    s3 = rep["same_network_as_table_3_2"]
    assert s3["by_section"]["forward (Hidden - FW + Output - FW)"]["thesis"] == {
        "add": 116_180_812 + 2_475_459, "mul": 115_730_022 + 2_328_535}
    for kind in ("add", "mul"):   # the sections partition the iteration (up to rounding)
        assert abs(sum(v["ours"][kind] for v in s3["by_section"].values())
                   - s3["ops"][kind]) <= 3
    with pytest.raises(ValueError, match="at least one training sample"):
        energy.energy_report(cfg, 4, [])


def test_energy_command(tmp_path, capsys):
    out = tmp_path / "e.json"
    assert energy.main(["--preset", "mnist-snn", "--samples", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "thesis Table 3.2" in text and "epoch of 60,000 samples" in text
    rep = json.loads(out.read_text())
    assert rep["samples"] == 2 and rep["preset"] == "mnist-snn"
    (tmp_path / "f").write_text("")   # a file where the folder should be: refused before work
    assert energy.main(["--preset", "mnist-snn", "--json", str(tmp_path / "f" / "e.json")]) != 0
    cap = capsys.readouterr()
    assert "--json" in cap.err and "energy" not in cap.out
