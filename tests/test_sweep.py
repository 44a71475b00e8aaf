"""`intsnn sweep`: grid, fingerprints, resume, failures, tables (serial), and Ray (slow)."""

import json

import pytest

from intsnn.sweep.execute import is_done, run_grid
from intsnn.sweep.grid import RunSpec, expand, parse_precisions, parse_seeds, table_specs
from intsnn.sweep.tables import build_table, find_runs, table_markdown, write_tables
from intsnn.sw.cli import main


@pytest.fixture(autouse=True)
def _embedded(monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)


def test_fingerprint_tracks_the_configuration():
    a = RunSpec("integer", "shd-snn", seed=0, epochs=2)
    assert a.fingerprint() == RunSpec("integer", "shd-snn", seed=0, epochs=2).fingerprint()
    for other in (RunSpec("integer", "shd-snn", seed=1, epochs=2),
                  RunSpec("integer", "shd-snn", seed=0, epochs=3),
                  RunSpec("integer", "shd-snn", seed=0, epochs=2, headroom=0),
                  RunSpec("integer", "shd-snn", seed=0, epochs=2, inference_bits=4)):
        assert other.fingerprint() != a.fingerprint() and other.folder != a.folder
    # float runs have no integer precision: these two are the same run
    assert (RunSpec("bptt", "shd-snn", shadow_bits=8, inference_bits=4).fingerprint()
            == RunSpec("bptt", "shd-snn").fingerprint())
    with pytest.raises(ValueError, match="inference_bits"):
        RunSpec("integer", "shd-snn", inference_bits=20)


def test_grid_parsing_and_table_cells():
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]
    assert parse_precisions("16-8,8-4") == [(16, 8), (8, 4)]
    with pytest.raises(ValueError, match="seeds"):
        parse_seeds("3-1")
    cells = table_specs("4.5")
    assert len(cells) == 12 and sum(c["method"] == "bptt" for c in cells) == 2
    specs = expand(table_specs("4.3"), seeds=[0, 1], headrooms=(0, 1), epochs=1)
    # 5 integer cells x 2 seeds x 2 headrooms + FP32 x 2 seeds (headroom does not apply)
    assert len(specs) == 5 * 2 * 2 + 2


def test_serial_sweep_resumes_reports_failures_and_writes_tables(tmp_path):
    common = dict(epochs=1, train_limit=64, test_limit=32, batch_size=32)
    good = [RunSpec("integer", "shd-snn", seed=s, **common) for s in (0, 1)]
    bad = RunSpec("integer", "shd-rsnn", data_dir=str(tmp_path / "missing"), **common)
    s1 = run_grid(good + [bad], tmp_path, executor="serial", retries=1, progress=False)
    assert len(s1["ran"]) == 2 and [f["folder"] for f in s1["failed"]] == [bad.folder]
    assert "FileNotFoundError" in s1["failed"][0]["error"]
    assert all(is_done(tmp_path / "runs" / s.folder, s) for s in good)
    # resume: finished runs are skipped, a damaged one is run again
    (tmp_path / "runs" / good[1].folder / "metrics.json").write_text("{")
    s2 = run_grid(good, tmp_path, executor="serial", progress=False)
    assert s2["skipped_finished"] == [good[0].folder]
    assert [r["folder"] for r in s2["ran"]] == [good[1].folder]
    assert json.loads((tmp_path / "sweep.json").read_text())["runs"] == 2
    t = build_table("4.5", find_runs([tmp_path]))
    cell = next(c for c in t["cells"] if (c["row"], c["column"]) == ("SNN", "MP 16-8"))
    assert cell["ours"]["n"] == 2 and cell["ours"]["seeds"] == [0, 1]
    assert cell["paper"] == {"mean": 50.10, "std": 1.14}
    accs = [100 * json.loads((tmp_path / "runs" / s.folder / "metrics.json").read_text())
            ["final_test_acc"] for s in good]
    assert cell["ours"]["mean"] == round(sum(accs) / 2, 2)
    md = table_markdown(t)
    assert "| SNN |" in md and "50.10 ± 1.14" in md and "(2)" in md


def _fake_run(root, name, acc, epochs, seed, **cfg):
    d = root / name
    d.mkdir(parents=True)
    config = {"shadow_bits": 16, "inference_bits": 8, "init_bits": 15, "error_mode": "direct",
              "loss": "standard", **cfg}
    m = {"preset": "mnist-csnn", "seed": seed, "config": config,
         "data": {"train": {"samples": 50000}},
         "history": [{"epoch": e + 1, "test_acc": acc, "train_seconds": 1.0}
                     for e in range(epochs)]}
    (d / "metrics.json").write_text(json.dumps(m))


def test_tables_from_foreign_run_folders(tmp_path):
    # intsnn train runs of another engineer: placed by their metrics alone, never mixing
    # runs of different lengths, and the headroom read from init_bits
    _fake_run(tmp_path, "a", 0.98, 50, 0, init_bits=None)
    _fake_run(tmp_path, "b", 0.96, 50, 1, init_bits=None)
    _fake_run(tmp_path, "c", 0.50, 2, 2, init_bits=None)
    _fake_run(tmp_path, "d", 0.10, 50, 3)                 # headroom 1: another cell set
    paths = write_tables(["4.4"], find_runs([tmp_path]), tmp_path / "t", plot=False)
    t = json.loads((tmp_path / "t" / "table-4.4.json").read_text())
    cell = next(c for c in t["cells"] if (c["row"], c["column"]) == ("8 bits", "16 bits"))
    assert cell["ours"]["n"] == 2 and cell["ours"]["mean"] == 97.0
    assert cell["ours"]["std"] == 1.0 and cell["ours"]["epochs"] == 50
    assert cell["ours"]["other_groups_ignored"] == 1
    assert sum(p.suffix == ".md" for p in paths) == 1


def test_tables_take_the_presets_rounding_only(tmp_path):
    # MP 8-8 runs with the thesis's floor (recorded before lr_rounding existed) and with the
    # preset's dither in one folder: the cell is the dither runs, the 16-bit cells the floor's
    _fake_run(tmp_path, "floor", 0.30, 10, 0, shadow_bits=8, init_bits=7)
    _fake_run(tmp_path, "dither", 0.97, 10, 0, shadow_bits=8, init_bits=7, lr_rounding="dither")
    _fake_run(tmp_path, "16", 0.97, 10, 0)
    _fake_run(tmp_path, "16-dither", 0.10, 10, 0, lr_rounding="dither")
    t = build_table("4.3", [{**m, "preset": "mnist-snn"} for m in find_runs([tmp_path])])
    by = {(c["row"], c["column"]): c for c in t["cells"]}
    for key, rounding, dirs in ((("8 bits", "8 bits"), "dither", ["dither"]),
                                (("8 bits", "16 bits"), "floor", ["16"])):
        assert by[key]["lr_rounding"] == rounding
        assert [d.rsplit("/", 1)[-1] for d in by[key]["ours"]["runs"]] == dirs
    assert "dither for MP 8-4, MP 8-8; floor for MP 16-4" in table_markdown(t)


def test_sweep_cli_dry_run_and_bad_grid(tmp_path, capsys):
    rc = main(["sweep", "--table", "4.2", "--seeds", "0", "--epochs", "1", "--dry-run",
               "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and out.count("todo") == 3 and "3 runs" in out
    assert main(["sweep", "--out", str(tmp_path)]) == 2
    assert "--table" in capsys.readouterr().err


@pytest.mark.slow
def test_ray_sweep_with_two_workers(tmp_path):
    pytest.importorskip("ray")
    rc = main(["sweep", "--preset", "shd-snn", "shd-rsnn", "--precisions", "16-8,16-4",
               "--seeds", "0", "--epochs", "1", "--train-limit", "64", "--test-limit", "32",
               "--batch-size", "32", "--workers", "2", "--quiet", "--table", "4.5",
               "--methods", "integer", "--out", str(tmp_path)])
    assert rc == 0
    s = json.loads((tmp_path / "sweep.json").read_text())
    assert s["workers"] == 2 and len(s["ran"]) == 8 and not s["failed"]
    t = json.loads((tmp_path / "table-4.5.json").read_text())
    assert sum(c["ours"] is not None for c in t["cells"]) == 8
    # a second sweep finds everything done and starts no Ray task
    rc = main(["sweep", "--preset", "shd-snn", "--precisions", "16-8", "--seeds", "0",
               "--epochs", "1", "--train-limit", "64", "--test-limit", "32",
               "--batch-size", "32", "--workers", "2", "--quiet", "--out", str(tmp_path)])
    s = json.loads((tmp_path / "sweep.json").read_text())
    assert rc == 0 and s["ran"] == [] and len(s["skipped_finished"]) == 1
