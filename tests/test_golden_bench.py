"""``python -m intsnn.sw.bench``: its peers agree bit for bit, its counts and tables are right, it
reads the BPTT figures of engineer "baselines", and it refuses an unwritable output at once."""

import json
import os

import numpy as np

from intsnn.golden.config import preset
from intsnn.sw.bench import busy_cpu_seconds, compare_table, dense_ops
from intsnn.sw.bench_memory import bptt_figures, memory_table
from intsnn.sw.bench_peers import make_peers


def test_bench_peers_agree_and_ops_are_counted():
    cfg = preset("shd-rsnn", n_out=10, n_hidden=24, batch_size=8)
    peers = make_peers(cfg, 0, ["golden-1t", "golden-2t", "reference", "plain-numpy"])
    rng = np.random.default_rng(0)
    for _ in range(2):
        x = rng.integers(0, 6, (8, cfg.timesteps, cfg.n_in)) * (rng.random((8, 10, 175)) < .4)
        y = rng.integers(0, 10, 8)
        for p in peers:
            p.step(x, y)
    for p in peers[:3]:
        np.testing.assert_array_equal(p.weights().hidden, peers[3].weights().hidden)
        np.testing.assert_array_equal(p.weights().output, peers[3].weights().output)
    # T (I H + H H + H O) forward + T (I H + H O) traces + (I H + H O) deltas
    ih, ho, hh = 175 * 24, 24 * 10, 24 * 24
    assert dense_ops(cfg) == 10 * (ih + hh + ho) + 10 * (ih + ho) + ih + ho
    t = memory_table([{"preset": "p", "timesteps": [10], "peak_mb": {
        "online": {"10": 1.0}, "deferred": {"10": 2.0}, "plain-numpy": {}}}], {"p": {"10": 3.5}})
    assert t.splitlines()[-1] == "| p | 10 | 1.0 | 2.0 | - | 3.5 |"


def test_bptt_figures_are_read_in_both_layouts(tmp_path):
    assert bptt_figures(tmp_path) == {}
    rows = [{"timesteps": 10, "bptt": {"peak_rss_increase_mb": 19.85}},
            {"timesteps": 1000, "bptt": {"peak_rss_increase_mb": 1049.71}}, {"timesteps": 30}]
    (tmp_path / "memory-vs-t-bptt.json").write_text(json.dumps({"preset": "shd-rsnn",
                                                                "rows": rows}))
    assert bptt_figures(tmp_path) == {"shd-rsnn": {"10": 19.85, "1000": 1049.71}}
    (tmp_path / "memory-vs-t-bptt.json").write_text(json.dumps({"mnist-snn": {"20": 3}}))
    assert bptt_figures(tmp_path) == {"mnist-snn": {"20": 3.0}}


def test_bench_refuses_an_unwritable_output_before_any_work(tmp_path, capsys):
    from intsnn.sw.bench import main as bench_main
    f = tmp_path / "file"
    f.write_text("")
    assert bench_main(["--compare", "--data-dir", str(tmp_path / "nodata"),
                       "--out-dir", str(f)]) == 2
    err = capsys.readouterr().err
    assert "--out-dir" in err and "not a folder" in err and len(err.strip().splitlines()) == 1


def test_bench_refuses_an_unknown_peer_before_any_work(tmp_path, capsys):
    from intsnn.sw.bench import main as bench_main
    assert bench_main(["--compare", "--data-dir", str(tmp_path), "--out-dir", str(tmp_path),
                       "--peers", "golden-1t,plan-numpy"]) == 2
    err = capsys.readouterr().err
    assert "'plan-numpy'" in err and len(err.strip().splitlines()) == 1


def test_compare_table_shows_wall_and_cpu_ratios_and_other_jobs():
    peers = {"golden-1t": {"seconds": 1.0, "cpu_seconds": 0.9, "samples_per_second": 100.0,
                           "dense_ops_per_second": 2e9, "step_peak_mb": 3.0,
                           "other_processes_cores": 0.04},
             "plain-numpy": {"seconds": 4.0, "cpu_seconds": 3.0, "samples_per_second": 25.0,
                             "dense_ops_per_second": 5e8, "step_peak_mb": 16.25}}
    c = {"preset": "p", "peers": peers,
         "time_ratio_to_plain_numpy": {"golden-1t": 0.25, "plain-numpy": 1.0},
         "cpu_ratio_to_plain_numpy": {"golden-1t": 0.3, "plain-numpy": 1.0}}
    rows = compare_table([c]).splitlines()
    assert rows[2] == ("| p | golden-1t | 1.00 | 0.250 | - | 0.90 | 0.300 | 100 | 2.00 | 3.0 | "
                       "0.040 |")
    assert rows[3] == ("| p | plain-numpy | 4.00 | 1.000 | - | 3.00 | 1.000 | 25 | 0.50 | 16.2 | "
                       "- |")


def test_busy_cpu_counts_every_busy_field_of_proc_stat(tmp_path):
    # user nice system idle iowait irq softirq steal guest guest_nice: idle and iowait are not
    # busy, guest time is already in user
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 50 30 1000 20 5 5 10 7 3\ncpu0 50 25 15 500 10 2 3 5 0 0\n")
    assert busy_cpu_seconds(str(stat)) == 200 / os.sysconf("SC_CLK_TCK")
    assert busy_cpu_seconds(str(tmp_path / "none")) is None
