"""intsnn generate and python -m intsnn.hw.cycles: outputs checked first, stale files removed,
class count from the data, readable messages."""

import json

import pytest

pytest.importorskip("amaranth")

from intsnn.hw import cli as hw_cli  # noqa: E402
from intsnn.hw.synth import format_fmax  # noqa: E402
from intsnn.sw.cli import main  # noqa: E402


@pytest.fixture
def small_hw(monkeypatch):
    """generate builds a 4-hidden-neuron core of the preset (seconds, not a minute)."""
    real = hw_cli.config_for
    monkeypatch.setattr(hw_cli, "config_for",
                        lambda *a, **k: real(*a, **k).replace(n_hidden=4))


def test_regenerate_removes_stale_synthesis_outputs(tmp_path, capsys, small_hw):
    out = tmp_path / "hw"
    assert main(["generate", "--preset", "mnist-snn", "--out", str(out)]) == 0
    en = json.loads((out / "manifest.json").read_text())["energy"]
    assert en["samples"] == 8 and en["counters_check"] == {"samples": 8}
    assert en["golden_ops_per_sample"]["forward"]["add32"] > 0 and en["per_epoch"]["golden"][
        "samples"] == 60_000
    assert "thesis Table 3.2" in capsys.readouterr().out
    stale = [out / f"intsnn_core.{ext}" for ext in ("stat.json", "netlist.json", "pnr.json")]
    for p in stale:
        p.write_text("{}")  # as a --synth --pnr run of an older design leaves them
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["generate", "--preset", "mnist-snn", "--batch-size", "4", "--out",
                 str(out), "--activity-samples", "0"]) == 0
    printed = capsys.readouterr().out
    assert not any(p.exists() for p in stale)
    assert all(f"removed stale {p}" in printed for p in stale)
    assert (out / "notes.txt").read_text() == "mine"  # not ours: kept
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "intsnn_core.v", "manifest.json", "notes.txt"]
    man = json.loads((out / "manifest.json").read_text())
    assert man["config"]["batch_size"] == 4 and "energy" not in man


def test_generate_takes_the_class_count_from_the_data(tmp_path, capsys, small_hw, shd_pair):
    d = shd_pair(tmp_path / "d", train_labels=(0, 1, 2, 0, 1, 2))
    assert main(["generate", "--preset", "shd-snn", "--data-dir", str(d),
                 "--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["config"]["n_out"] == 3
    assert "n_out 3: the classes of the training data" in capsys.readouterr().out
    from intsnn.sw.cli import build_parser
    for argv, n_out, note in (([], None, "generate with --n-out 10 or --data-dir"),
                              (["--n-out", "10"], 10, None)):
        a = build_parser().parse_args(["generate", "--preset", "shd-rsnn", "--out", "x", *argv])
        got = hw_cli.class_count(a)
        assert got[0] == n_out and (got[1] is None if note is None else note in got[1])
    assert hw_cli.config_for("shd-rsnn").n_out == 20  # the note's "SHD's 20" is the preset's


@pytest.mark.parametrize("argv, message", [
    (["generate", "--preset", "mnist-snn", "--out", "FILE"], "intsnn generate: error: cannot "
                                                             "write to --out FILE: it is a file"),
    (["generate", "--preset", "mnist-snn", "--lanes", "0", "--out", "X"],
     "argument --lanes: must be >= 1, got 0"),
])
def test_generate_bad_input(tmp_path, capsys, argv, message):
    f = tmp_path / "FILE"
    f.write_text("")
    argv = [str(f) if a == "FILE" else str(tmp_path / a) if a == "X" else a for a in argv]
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2 and message.replace("FILE", str(f)) in capsys.readouterr().err


def test_the_block_ram_hint_names_the_saturating_width():
    hint = hw_cli.delta_sat_hint(hw_cli.config_for("mnist-snn"))
    assert hint.startswith("hint: --delta-sat-bits 24 stores the batch deltas in 24-bit")
    assert hw_cli.delta_sat_hint(hw_cli.config_for("mnist-snn", delta_sat_bits=24)) is None
    assert hw_cli.config_for("shd-snn", delta_sat_bits=24).delta_bits("hidden") == 24


def test_fmax_is_printed_for_a_person():
    assert format_fmax({"$glbnet$clk$TRELLIS_IO_IN": 34.93}) == "Fmax 34.9 MHz (clk)"


def test_cycles_checks_its_json_output_first(tmp_path, capsys, monkeypatch):
    from intsnn.hw import cycles
    monkeypatch.setattr(cycles, "work_table", lambda **k: pytest.fail("worked"))
    (tmp_path / "f").write_text("")
    assert cycles.main(["--json", str(tmp_path / "f" / "c.json")]) == 2
    assert capsys.readouterr().err.startswith("python -m intsnn.hw.cycles: error: cannot write "
                                              "to --json")
