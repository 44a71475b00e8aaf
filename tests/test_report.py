"""python -m intsnn.sw.report: refuses mixed experiments, plots what the runs hold."""

import json

import pytest

from intsnn.sw.report import main, plot_curves, load_metrics, summarise


def _metrics(path, preset="shd-snn", seed=0, epochs=3, dataset_name="fsdd_lauscher", val=False,
             batch_size=16, method=None):
    hist = []
    for e in range(1, epochs + 1):
        h = {"epoch": e, "train_acc": 0.1 * e, "test_acc": 0.05 * e + 0.01 * seed,
             "samples_per_second": 1000.0}
        if val:
            h["val_acc"] = 0.04 * e
        hist.append(h)
    m = {"preset": preset, "seed": seed, "epochs": epochs, "history": hist,
         "config": {"batch_size": batch_size, "shadow_bits": 16},
         "data": {"train": {"dataset": "shd", "source": "files", "data_dir": "/d",
                            "name": dataset_name, "samples": 100},
                  "test": {"dataset": "shd", "source": "files", "data_dir": "/d",
                           "name": dataset_name, "samples": 50}, "val": None}}
    if method is not None:  # a float baseline (intsnn baseline)
        m["method"] = method
    path.mkdir(parents=True)
    (path / "metrics.json").write_text(json.dumps(m))
    return path


@pytest.mark.parametrize("change, field", [
    (dict(preset="shd-rsnn"), "preset: 'shd-snn' vs 'shd-rsnn'"),
    (dict(dataset_name="shd"), "data.test.name: 'fsdd_lauscher' vs 'shd'"),
    (dict(batch_size=8), "config.batch_size: 16 vs 8"),
    (dict(method="bptt"), "method: 'integer' vs 'bptt'"),
])
def test_mixed_runs_are_refused(tmp_path, capsys, change, field):
    a = _metrics(tmp_path / "a")
    b = _metrics(tmp_path / "b", seed=1, **change)
    assert main([str(a), str(b), "--summary", str(tmp_path / "s.json")]) == 2
    err = capsys.readouterr().err
    assert "are different experiments" in err and field in err
    assert not (tmp_path / "s.json").exists()


def test_seeds_of_one_experiment_are_summarised_over_the_epochs_there_are(tmp_path, capsys):
    runs = [str(_metrics(tmp_path / f"s{i}", seed=i, epochs=3)) for i in range(2)]
    assert main(runs) == 0
    out = capsys.readouterr().out
    assert "last3" in out and "last10" not in out  # 3 epochs: a 'last 10' would be a lie
    s = summarise([load_metrics(r) for r in runs])
    assert [r["last_n_epochs"] for r in s["runs"]] == [3, 3]


def test_plot_has_integer_epoch_ticks_and_the_validation_curve(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    ms = [load_metrics(_metrics(tmp_path / "r", epochs=3, val=True))]
    captured = {}
    real = plt.Figure.savefig

    def grab(fig, *a, **k):
        ax = fig.axes[0]
        captured["ticks"] = [t for t in ax.get_xticks() if 1 <= t <= 3]
        captured["labels"] = [ln.get_label() for ln in ax.get_lines()]
        return real(fig, *a, **k)

    plt.Figure.savefig = grab
    try:
        out = plot_curves(ms, tmp_path / "c.png")
    finally:
        plt.Figure.savefig = real
    assert out.stat().st_size > 0
    assert captured["ticks"] == [1.0, 2.0, 3.0]
    assert captured["labels"] == ["r test", "r train", "r val"]


def test_outputs_are_checked_before_reading(tmp_path, capsys):
    a = _metrics(tmp_path / "a")
    (tmp_path / "f").write_text("")
    assert main([str(a), "--summary", str(tmp_path / "f" / "s.json")]) == 2
    assert "cannot write to --summary" in capsys.readouterr().err
    assert main([str(a), "--out", str(tmp_path / "curves.txt")]) == 2
    assert "name a .png, .pdf or .svg file" in capsys.readouterr().err
