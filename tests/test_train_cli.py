"""`intsnn train` on the embedded real subsets: outputs, resume, errors."""

import json
import os

import numpy as np
import pytest

from intsnn.golden.model import IntSNN
from intsnn.sw import outputs
from intsnn.sw.cli import main
from intsnn.sw.outputs import OutputError
from intsnn.sw.train import train

SMALL = dict(train_limit=32, test_limit=16, batch_size=16, progress=False)


def test_train_cli_writes_metrics_and_weights(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    out = tmp_path / "run"
    rc = main(["train", "--preset", "mnist-snn", "--epochs", "1", "--train-limit", "256",
               "--test-limit", "128", "--batch-size", "64", "--quiet", "--out", str(out)])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["batch_size"] == 64 and m["config"]["inference_bits"] == 8
    assert m["data"]["train"]["samples"] == 256 and m["data"]["train"]["source"] == "embedded"
    assert len(m["history"]) == 1 and 0.0 <= m["final_test_acc"] <= 1.0
    assert m["peak_memory_mb"] > 0 and m["history"][0]["samples_per_second"] > 0
    w = np.load(out / "weights.npz")
    assert w["hidden_shadow"].dtype.kind == "i"
    np.testing.assert_array_equal(w["hidden_inference"], w["hidden_shadow"] >> 8)
    assert "final test accuracy" in capsys.readouterr().out


def test_training_learns_on_the_embedded_mnist(tmp_path, monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    m = train("mnist-snn", tmp_path, None, epochs=2, batch_size=32, progress=False)
    assert m["final_test_acc"] > 0.6  # chance is 0.1


def test_resume_gives_the_uninterrupted_result(tmp_path, monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    kw = dict(data_dir=None, train_limit=120, test_limit=40, batch_size=16, seed=3,
              progress=False)
    full = train("shd-rsnn", tmp_path / "a", epochs=3, **kw)
    train("shd-rsnn", tmp_path / "b", epochs=1, **kw)
    resumed = train("shd-rsnn", tmp_path / "b", epochs=3, **kw)
    assert [h["test_acc"] for h in resumed["history"]] == [h["test_acc"] for h in
                                                            full["history"]]
    a, b = np.load(tmp_path / "a" / "weights.npz"), np.load(tmp_path / "b" / "weights.npz")
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k])


def test_resume_refuses_another_config(tmp_path, monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    train("shd-snn", tmp_path, None, epochs=1, train_limit=32, test_limit=16, batch_size=16,
          progress=False)
    with pytest.raises(ValueError, match=r"belongs to another run \(config.batch_size: 16 in "
                                         r"the checkpoint, 8 now\)"):
        train("shd-snn", tmp_path, None, epochs=2, train_limit=32, test_limit=16,
              batch_size=8, progress=False)


def test_cli_reports_a_missing_data_file(tmp_path, capsys):
    rc = main(["train", "--preset", "mnist-snn", "--data-dir", str(tmp_path), "--quiet",
               "--out", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err


def test_seed_summary_of_real_runs(tmp_path, monkeypatch, capsys):
    """Two seeds of a short real run: the summary's mean/std/min/max follow the runs' finals."""
    from intsnn.sw.report import main as report_main

    monkeypatch.delenv("INTSNN_DATA", raising=False)
    finals = []
    for seed in (0, 1):
        m = train("shd-snn", tmp_path / f"s{seed}", None, epochs=2, train_limit=96, test_limit=48,
                  batch_size=32, seed=seed, progress=False)
        finals.append(100 * m["final_test_acc"])
    assert report_main([str(tmp_path / "s0"), str(tmp_path / "s1"), "--summary",
                        str(tmp_path / "sum.json")]) == 0
    s = json.loads((tmp_path / "sum.json").read_text())
    assert s["n"] == 2 and [r["seed"] for r in s["runs"]] == [0, 1]
    assert s["final_test_mean"] == pytest.approx(np.mean(finals), abs=0.01)
    assert s["final_test_std"] == pytest.approx(np.std(finals), abs=0.01)
    assert (s["final_test_min"], s["final_test_max"]) == (round(min(finals), 2),
                                                          round(max(finals), 2))
    assert "final test accuracy over 2 run(s)" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{}")
    (tmp_path / "run.log").write_text("epoch 1/2 ...")
    for bad in ("bad.json", "run.log", "missing.json"):
        assert report_main([str(tmp_path / bad)]) == 2
        assert bad in capsys.readouterr().err


def test_cli_headroom_sets_init_bits_and_rescales(tmp_path, monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    for h, init_bits, hidden_threshold in ((0, None, 500), (2, 14, 125)):
        out = tmp_path / f"h{h}"
        assert main(["train", "--preset", "mnist-snn", "--epochs", "1", "--train-limit", "64",
                     "--test-limit", "32", "--headroom", str(h), "--quiet",
                     "--out", str(out)]) == 0
        cfg = json.loads((out / "metrics.json").read_text())["config"]
        assert cfg["init_bits"] == init_bits and cfg["hidden"]["threshold"] == hidden_threshold
    assert main(["train", "--preset", "mnist-snn", "--headroom", "6", "--inference-bits", "2",
                 "--quiet", "--out", str(tmp_path / "bad")]) == 2  # in range, but no bits left


# ---------------------------------------------------------------------- resume rules
def test_epochs_is_the_total_and_cannot_shrink(tmp_path, monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    train("shd-snn", tmp_path, None, epochs=2, **SMALL)
    with pytest.raises(ValueError, match=r"already holds 2 epochs, more than --epochs 1: pass "
                                         r"--epochs 2 or more"):
        train("shd-snn", tmp_path, None, epochs=1, **SMALL)
    m = train("shd-snn", tmp_path, None, epochs=2, **SMALL)  # as many: outputs rewritten
    assert m["epochs"] == 2 and [h["epoch"] for h in m["history"]] == [1, 2]
    m3 = train("shd-snn", tmp_path, None, epochs=3, **SMALL)  # more: continues
    assert [h["epoch"] for h in m3["history"]] == [1, 2, 3]
    assert m3["history"][:2] == m["history"]


@pytest.mark.parametrize("change, field", [
    (dict(train_limit=24), "data.train.limit"),
    (dict(test_limit=8), "data.test.limit"),
    (dict(seed=1), "seed"),
    (dict(shadow_bits=12), "config.shadow_bits"),
    (dict(headroom=2), "config.init_bits"),
])
def test_resume_refuses_other_data_and_arguments(tmp_path, monkeypatch, change, field):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    train("shd-snn", tmp_path, None, epochs=1, **SMALL)
    with pytest.raises(ValueError, match=rf"belongs to another run \({field}: "):
        train("shd-snn", tmp_path, None, epochs=2, **{**SMALL, **change})


def test_resume_refuses_another_data_folder(tmp_path, monkeypatch, shd_pair):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    kw = dict(test_limit=None, train_limit=None, batch_size=2, progress=False)
    train("shd-snn", tmp_path / "o", shd_pair(tmp_path / "a"), epochs=1, **kw)
    with pytest.raises(ValueError, match=r"belongs to another run \(data.test.data_dir: "):
        train("shd-snn", tmp_path / "o", shd_pair(tmp_path / "b"), epochs=2, **kw)
    with pytest.raises(ValueError, match=r"data.test.data_dir: .* None now"):
        train("shd-snn", tmp_path / "o", None, epochs=2, **kw)  # the embedded subset


def test_a_second_run_into_the_same_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    with outputs.run_lock(tmp_path):
        with pytest.raises(OutputError, match=rf"{tmp_path} is in use by another intsnn run "
                                              rf"\(pid {os.getpid()}\)"):
            train("shd-snn", tmp_path, None, epochs=1, **SMALL)


def test_start_over_moves_the_old_results_aside(tmp_path, monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    train("shd-snn", tmp_path, None, epochs=1, **SMALL)
    old = (tmp_path / "metrics.json").read_text()

    def fail(self, *a, **k):
        raise RuntimeError("crash in the middle of the new run")

    monkeypatch.setattr(IntSNN, "train_batch", fail)
    with pytest.raises(RuntimeError):
        train("shd-snn", tmp_path, None, epochs=1, resume=False, **SMALL)
    assert not (tmp_path / "metrics.json").exists()  # the old one cannot pass for the new one
    assert (tmp_path / "metrics.previous.json").read_text() == old


def test_ctrl_c_is_one_line_130_and_resumes_exactly(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    args = ["train", "--preset", "shd-snn", "--epochs", "3", "--train-limit", "48",
            "--test-limit", "16", "--batch-size", "16", "--quiet"]
    assert main(args + ["--out", str(tmp_path / "full")]) == 0
    real = IntSNN.train_batch
    calls = {"n": 0}

    def interrupt_in_epoch_2(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 5:  # 3 batches per epoch: the second batch of epoch 2
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(IntSNN, "train_batch", interrupt_in_epoch_2)
    out = tmp_path / "cut"
    assert main(args + ["--out", str(out)]) == 130
    err = capsys.readouterr().err.strip()
    assert err == "intsnn train: interrupted; resume with the same command"
    assert sorted(p.name for p in out.iterdir()) == [".intsnn.lock", "checkpoint.npz"]
    monkeypatch.setattr(IntSNN, "train_batch", real)
    assert main(args + ["--out", str(out)]) == 0
    a = json.loads((tmp_path / "full" / "metrics.json").read_text())
    b = json.loads((out / "metrics.json").read_text())
    assert [h["test_acc"] for h in a["history"]] == [h["test_acc"] for h in b["history"]]
    wa, wb = np.load(tmp_path / "full" / "weights.npz"), np.load(out / "weights.npz")
    for k in wa.files:
        np.testing.assert_array_equal(wa[k], wb[k])


def test_metrics_are_never_half_written(tmp_path, monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        train("shd-snn", tmp_path, None, epochs=1, **SMALL)
    assert [p.name for p in tmp_path.iterdir()] == [".intsnn.lock"]  # no partial file


# ---------------------------------------------------------------------- silently wrong input
@pytest.mark.parametrize("argv, message", [
    (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
    (["--train-limit", "0"], "argument --train-limit: must be >= 1, got 0"),
    (["--batch-size", "0"], "argument --batch-size: must be >= 1, got 0"),
    (["--headroom", "9"], "argument --headroom: must be in 0..6, got 9"),
    (["--data-dir", ""], "argument --data-dir: is empty"),
    (["--shadow-bits", "x"], "argument --shadow-bits: must be an integer, got 'x'"),
    (["--delta-sat-bits", "1"], "argument --delta-sat-bits: must be in 2..62, got 1"),
])
def test_bad_arguments_name_the_option(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as ei:
        main(["train", "--preset", "shd-snn", "--out", str(tmp_path / "o"), *argv])
    assert ei.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing was done


def test_a_delta_register_narrower_than_the_clip_is_refused(tmp_path, capsys):
    rc = main(["train", "--preset", "shd-snn", "--delta-sat-bits", "16", "--out",
               str(tmp_path / "o")])
    assert rc == 2 and ("intsnn train: error: delta_sat_bits=16 is below the 24 bits the hidden "
                        "layer's clipped update can use") in capsys.readouterr().err
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_falsy_values_reach_the_config(tmp_path, monkeypatch):
    """--rec-shift 0 and --headroom 0 are values, not "use the default"."""
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    assert main(["train", "--preset", "shd-rsnn", "--rec-shift", "0", "--headroom", "0",
                 "--train-limit", "16", "--test-limit", "8", "--quiet",
                 "--out", str(tmp_path)]) == 0
    cfg = json.loads((tmp_path / "metrics.json").read_text())["config"]
    assert cfg["rec_shift"] == 0 and cfg["init_bits"] is None


@pytest.mark.parametrize("where", ["a file", "<file>/sub", "unwritable"])
def test_unwritable_out_fails_before_any_work(tmp_path, capsys, monkeypatch, where):
    f = tmp_path / "f"
    f.write_text("")
    out = {"a file": f, "<file>/sub": f / "sub", "unwritable": "/sys/intsnn-out"}[where]
    monkeypatch.setattr("intsnn.sw.train.load_data", lambda *a, **k: pytest.fail("worked"))
    assert main(["train", "--preset", "shd-snn", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"intsnn train: error: cannot write to "
                                                   f"--out {out}: ")


def test_test_classes_missing_from_train_are_refused(tmp_path, monkeypatch, shd_pair, capsys):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    d = shd_pair(tmp_path / "d", train_labels=(0, 1, 0, 1), test_labels=(0, 1, 2))
    assert main(["train", "--preset", "shd-snn", "--data-dir", str(d), "--quiet",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "the test split" in err and "has classes [2] that the training split (classes 0..1)" \
        " lacks" in err


def test_several_pairs_name_the_option(tmp_path, monkeypatch, shd_pair, capsys):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    shd_pair(tmp_path / "d" / "a", name="aa")
    shd_pair(tmp_path / "d" / "b", name="bb")
    base = ["train", "--preset", "shd-snn", "--data-dir", str(tmp_path / "d"), "--quiet",
            "--batch-size", "2"]
    assert main(base + ["--out", str(tmp_path / "o")]) == 2
    assert "choose one with --data-name NAME" in capsys.readouterr().err
    assert main(base + ["--data-name", "bb", "--out", str(tmp_path / "o")]) == 0
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["data"]["train"]["name"] == "bb"


def test_every_option_has_help_and_shows_its_default():
    from intsnn.sw.cli import build_parser
    ap = build_parser()
    sub = next(a for a in ap._actions if a.dest == "command")
    for name, p in sub.choices.items():
        text = p.format_help()
        for act in p._actions:
            if act.dest == "help":
                continue
            assert act.help, f"{name} {act.option_strings} has no help"
            if act.default not in (None, False) and act.option_strings:  # shown, or said
                assert (f"(default: {act.default})" in " ".join(text.split())
                        or "default" in act.help), (name, act.option_strings)
    assert "0..6" in sub.choices["train"].format_help()  # --headroom gives its range


def test_version(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["--version"])
    import intsnn
    assert ei.value.code == 0 and capsys.readouterr().out.strip() == f"intsnn {intsnn.__version__}"
