"""Float baselines (`intsnn baseline`): tiny real-data runs, trace modes, schema, resume,
and the message without torch."""

import json
import sys

import numpy as np
import pytest

from intsnn.sw.cli import main


def test_baseline_without_torch_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)       # import torch -> ImportError
    rc = main(["baseline", "--method", "fp32-online", "--preset", "shd-snn", "--quiet",
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "pip install -e '.[torch]'" in err[0]
    assert not (tmp_path / "o" / "metrics.json").exists()


torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _embedded(monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)


def test_fp32_online_learns_on_real_mnist(tmp_path):
    from intsnn.baselines.run import run_baseline
    m = run_baseline("fp32-online", "mnist-snn", tmp_path, epochs=2, train_limit=512,
                     test_limit=200, batch_size=32, progress=False, threads=1)
    assert m["final_test_acc"] > 0.5            # chance 0.1
    assert m["float_params"]["error_mode"] == "feedback"  # thesis section 4.2


def test_bptt_learns_on_real_shd_format_digits(tmp_path):
    pytest.importorskip("spikingjelly")
    from intsnn.baselines.run import run_baseline
    m = run_baseline("bptt", "shd-rsnn", tmp_path, epochs=3, batch_size=32, progress=False,
                     threads=1)
    assert m["final_test_acc"] > 0.2            # chance 0.1 (10 spoken digits)
    w = np.load(tmp_path / "weights.npz")
    assert "rec.weight" in w.files and w["rec.weight"].shape == (256, 256)


@pytest.mark.parametrize("preset,error", [("shd-rsnn", "direct"), ("mnist-csnn", "feedback"),
                                          ("shd-snn", "final")])
def test_deferred_trace_equals_the_online_trace(preset, error):
    from intsnn.baselines.hparams import float_params
    from intsnn.baselines.online import FloatOnlineSNN
    from intsnn.sw.train import encode, load_data, make_config
    d = load_data(preset, "train", None, 12)
    cfg = make_config(preset, int(d.meta["n_classes"]))
    fp = float_params(preset, error_mode=error)
    x = encode(cfg, d, np.arange(12), 0, 0)
    out = []
    for mode in ("deferred", "online"):
        m = FloatOnlineSNN(cfg, fp, seed=1, trace_mode=mode)
        lab = torch.as_tensor(d.y)
        f = m.forward(x)
        out.append(m.deltas(f, *m.error_signals(f["counts"], f["s_out"], lab)))
    for a, b in zip(*out):
        assert a.abs().max() > 0
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)


def test_metrics_schema_matches_intsnn_train_and_resume(tmp_path):
    from intsnn.baselines.run import run_baseline
    from intsnn.sw.report import load_metrics, summarise
    from intsnn.sw.train import train
    kw = dict(train_limit=96, test_limit=48, batch_size=32, seed=2, progress=False)
    full = run_baseline("fp32-online", "shd-snn", tmp_path / "a", epochs=2, threads=1, **kw)
    run_baseline("fp32-online", "shd-snn", tmp_path / "b", epochs=1, threads=1, **kw)
    resumed = run_baseline("fp32-online", "shd-snn", tmp_path / "b", epochs=2, threads=1, **kw)
    assert [h["test_acc"] for h in resumed["history"]] == [h["test_acc"] for h in
                                                            full["history"]]
    integer = train("shd-snn", tmp_path / "i", epochs=1, **kw)
    assert set(integer) <= set(full)
    assert set(integer["history"][0]) <= set(full["history"][0])
    assert full["peak_memory_mb"] > 0 and full["seconds_per_epoch_median"] > 0
    assert summarise([load_metrics(tmp_path / "a")])["n"] == 1  # the report reads it
    with pytest.raises(ValueError, match="method: 'fp32-online' vs 'integer'"):
        summarise([load_metrics(tmp_path / "a"), load_metrics(tmp_path / "i")])  # not averaged
    with pytest.raises(ValueError, match="another configuration"):
        run_baseline("fp32-online", "shd-snn", tmp_path / "b", epochs=3, error="direct",
                     threads=1, **kw)
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["epochs"] == 2


def test_baseline_cli_rejects_bad_input(tmp_path, capsys):
    rc = main(["baseline", "--method", "bptt", "--preset", "shd-snn", "--error", "direct",
               "--quiet", "--out", str(tmp_path)])
    assert rc == 2 and "fp32-online only" in capsys.readouterr().err


@pytest.mark.slow
def test_bptt_memory_grows_with_t_and_the_online_rule_does_not():
    pytest.importorskip("spikingjelly")
    from intsnn.baselines.memory import measure
    bptt = [measure("bptt", "shd-rsnn", t, 20)["saved_for_backward_mb"] for t in (10, 40)]
    assert 3.5 < bptt[1] / bptt[0] < 4.5         # saved history linear in T
    online = [measure("fp32-online:online", "shd-rsnn", t, 20)["peak_rss_increase_mb"]
              for t in (10, 40)]
    assert online[1] < 1.5 * online[0] + 8       # no per-step history
