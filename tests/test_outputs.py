"""intsnn.sw.outputs / progress / command: the helpers every command uses for its outputs."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from intsnn.sw import outputs
from intsnn.sw.command import EXIT_INTERRUPTED, run_command
from intsnn.sw.outputs import OutputError
from intsnn.sw.progress import follow, heartbeat

#: A folder nobody can create files in, root included (sysfs refuses mkdir).
UNWRITABLE = "/sys/intsnn-out"


def _bad_places(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    return {"an existing file": (f, "it is a file"),
            "<file>/sub": (f / "sub", f"{f} is a file, not a folder"),
            "an unwritable place": (UNWRITABLE, "operation not permitted|permission denied|"
                                                "read-only")}


@pytest.mark.parametrize("case", ["an existing file", "<file>/sub", "an unwritable place"])
def test_check_out_dir_names_option_and_path(tmp_path, case):
    path, why = _bad_places(tmp_path)[case]
    with pytest.raises(OutputError, match=why) as ei:
        outputs.check_out_dir(path, "--build-dir")
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith(f"cannot write to --build-dir {path}")


def test_check_out_dir_creates_and_leaves_no_probe(tmp_path):
    d = outputs.check_out_dir(tmp_path / "a" / "b")
    assert d.is_dir() and list(d.iterdir()) == []


def test_check_out_file(tmp_path):
    assert outputs.check_out_file(tmp_path / "new" / "x.json", "--json").parent.is_dir()
    with pytest.raises(OutputError, match=r"--summary .*: it is a folder"):
        outputs.check_out_file(tmp_path, "--summary")
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputError, match=r"cannot write to --json .*f/x.json: .*/f is a file, not a folder"):
        outputs.check_out_file(tmp_path / "f" / "x.json", "--json")
    with pytest.raises(OutputError, match="empty"):
        outputs.check_out_file("", "--json")


def test_atomic_writers_and_interrupted_write(tmp_path):
    p = outputs.write_json(tmp_path / "r.json", {"a": np.int64(3), "b": np.arange(2)})
    assert json.loads(p.read_text()) == {"a": 3, "b": [0, 1]}
    assert oct(p.stat().st_mode & 0o777) == oct(0o666 & ~outputs._UMASK)
    outputs.save_npz(tmp_path / "w.npz", x=np.arange(3))
    assert np.load(tmp_path / "w.npz")["x"].tolist() == [0, 1, 2]
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in the middle of a write
        with outputs.atomic_path(tmp_path / "r.json") as tmp:
            tmp.write_text("{half")
            raise KeyboardInterrupt
    assert json.loads((tmp_path / "r.json").read_text())["a"] == 3  # old file intact
    assert sorted(q.name for q in tmp_path.iterdir()) == ["r.json", "w.npz"]  # no temp left


def test_run_lock_refuses_a_second_run(tmp_path):
    code = ("import sys, time; from intsnn.sw.outputs import run_lock\n"
            "with run_lock(sys.argv[1]):\n print('locked', flush=True); time.sleep(30)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                         text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert p.stdout.readline().strip() == "locked"
        with pytest.raises(OutputError, match=rf"in use by another intsnn run \(pid {p.pid}\)"):
            with outputs.run_lock(tmp_path):
                pass
    finally:
        p.kill()
        p.wait()
    with outputs.run_lock(tmp_path):  # the lock died with its process
        pass


def test_supersede(tmp_path):
    assert outputs.supersede(tmp_path / "report.json") is None
    (tmp_path / "report.json").write_text("old")
    assert outputs.supersede(tmp_path / "report.json").name == "report.previous.json"
    assert not (tmp_path / "report.json").exists()


def test_run_command_one_line_and_exit_codes(capsys):
    def bad():
        raise ValueError("first\nsecond")

    def stop():
        raise KeyboardInterrupt

    assert run_command("intsnn x", bad) == 2
    assert capsys.readouterr().err == "intsnn x: error: first; second\n"
    assert run_command("intsnn x", stop, resumable=True) == EXIT_INTERRUPTED
    assert capsys.readouterr().err.strip() == ("intsnn x: interrupted; resume with the same "
                                               "command")
    assert run_command("intsnn x", stop) == EXIT_INTERRUPTED
    assert capsys.readouterr().err.strip() == "intsnn x: interrupted"
    with pytest.raises(ZeroDivisionError):  # programming errors are not hidden
        run_command("intsnn x", lambda: 1 // 0)


def test_heartbeat_and_follow_report_the_step(capsys):
    s = io.StringIO()
    with heartbeat("yosys synth_ecp5", interval=0.01, stream=s, status=lambda: "pass 3"):
        import time
        time.sleep(0.05)
    text = s.getvalue()
    assert "yosys synth_ecp5 ... " in text and "pass 3" in text
    assert text.splitlines()[-1].startswith("yosys synth_ecp5: ")
    n = iter(range(100))
    with follow("simulate", 10, lambda: (next(n), "train"), interval=0.01) as pbar:
        import time
        time.sleep(0.05)
    assert pbar.n > 0 and "simulate" in capsys.readouterr().err
