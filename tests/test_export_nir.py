"""`intsnn export --nir`: graph contents, refusals, and the float framework's spikes equal the
integer network's on real data."""

import json
import sys

import numpy as np
import pytest

from intsnn.sw.cli import main
from intsnn.sw.train import train


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    import os
    old = os.environ.pop("INTSNN_DATA", None)
    try:
        train("mnist-snn", out, None, epochs=1, train_limit=512, test_limit=100,
              batch_size=32, progress=False)
    finally:
        if old is not None:
            os.environ["INTSNN_DATA"] = old
    return out


def test_export_without_nir_names_the_extra(mnist_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "nir", None)
    rc = main(["export", str(mnist_run), "--nir", str(tmp_path / "g.nir")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "'.[nir]'" in err[0]
    assert not (tmp_path / "g.nir").exists()


nir = pytest.importorskip("nir")


def test_graph_holds_the_inference_network(mnist_run):
    from intsnn.sw.export_nir import load_run, to_nir
    cfg, w, _ = load_run(mnist_run)
    g = to_nir(cfg, w)
    assert [type(g.nodes[k]).__name__ for k in ("hidden_synapses", "hidden", "output")] == [
        "Linear", "LIF", "LIF"]
    qh, qo = w.inference(cfg)
    np.testing.assert_array_equal(g.nodes["hidden_synapses"].weight, qh)
    np.testing.assert_array_equal(g.nodes["output_synapses"].weight, qo)
    lif = g.nodes["hidden"]
    dt = g.metadata["dt"]
    # forward Euler: v <- (1 - dt/tau) v + (dt/tau) r I must be v/2 + I (beta_shift 1)
    assert np.allclose(1 - dt / lif.tau, 0.5) and np.allclose(dt / lif.tau * lif.r, 1.0)
    assert np.all(lif.v_reset == 0) and np.all(lif.v_leak == 0)
    th = cfg.hidden.threshold
    assert np.all((lif.v_threshold > th) & (lif.v_threshold < th + 1))


def test_refuses_what_nir_cannot_express(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    train("shd-rsnn", tmp_path / "r", None, epochs=1, train_limit=32, test_limit=16,
          batch_size=16, progress=False)
    assert main(["export", str(tmp_path / "r"), "--nir", str(tmp_path / "r.nir")]) == 2
    assert "RSNN cannot be exported" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "none"), "--nir", str(tmp_path / "x.nir")]) == 2
    assert "metrics.json not found" in capsys.readouterr().err
    assert not (tmp_path / "r.nir").exists()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_spikingjelly_runs_the_graph_like_the_integer_network(mnist_run, tmp_path, dtype,
                                                              monkeypatch):
    pytest.importorskip("spikingjelly")
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    rc = main(["export", str(mnist_run), "--nir", str(tmp_path / "g.nir"), "--check",
               "--dtype", dtype, "--test-limit", "100", "--quiet",
               "--json", str(tmp_path / "c.json")])
    r = json.loads((tmp_path / "c.json").read_text())
    assert rc == 0 and r["samples"] == 100 and r["integer_test_acc"] > 0.3
    # every output spike count equal, so the accuracy is the integer network's exactly
    assert r["samples_with_different_counts"] == 0
    assert r["nir_test_acc"] == r["integer_test_acc"] and r["prediction_agreement"] == 1.0
