"""Generate the Verilog of the training core and its manifest.

``generate(cfg, lanes, out_dir)`` writes ``<top>.v`` (``amaranth.back.verilog.convert`` with
:class:`~intsnn.hw.ram.GeneratorPlatform`, so the memories that need no initial contents are
``intsnn_ram`` instances, whose module follows the core in the same file) and ``manifest.json``:
parameters, derived widths, ports, memories (depth x width), state bits by group, the cycle
formulas and the state-memory comparison with the thesis's Table 3.1.

Command line: ``python -m intsnn.hw.generate --preset shd-rsnn --lanes 4 --out build/hw``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..golden.config import NetConfig, preset
from . import cycles, host_protocol as hp
from .config import HwConfig
from .core import IntSNNCore
from .ram import RAM_VERILOG, GeneratorPlatform

__all__ = ["generate", "state_report", "THESIS_TABLE_3_1", "TOP"]

TOP = "intsnn_core"

#: Thesis Table 3.1 (bytes, MP 16-8, RSNN on SHD, I=175 H=256 O=20 B=128).
THESIS_TABLE_3_1 = {"static": 327_184, "dynamic": 15_766_202, "total": 16_093_386}


def state_report(cfg: NetConfig, lanes: int) -> dict:
    """State bits by memory and by group (static weights / batch deltas / per-sample)."""
    hw = HwConfig(net=cfg, lanes=lanes)
    mems = {name: {"depth": s.depth, "width": s.width, "bits": s.state_bits, "group": s.group,
                   "purpose": s.purpose, "initial_contents": s.init, "kind": s.kind}
            for name, s in hw.memories.items()}
    groups = {}
    for v in mems.values():
        groups[v["group"]] = groups.get(v["group"], 0) + v["bits"]
    total = sum(groups.values())
    return {"memories": mems, "groups_bits": groups, "total_bits": total,
            "total_bytes": -(-total // 8)}


def thesis_comparison(lanes: int = 1) -> dict:
    """Our on-chip state for the Table 3.1 network vs the thesis's memory estimate."""
    cfg = preset("shd-rsnn", batch_size=128)
    rep = state_report(cfg, lanes)
    g = rep["groups_bits"]
    static = -(-g.get("static", 0) // 8)
    dynamic = -(-(g.get("batch", 0) + g.get("sample", 0)) // 8)
    return {
        "config": "shd-rsnn MP 16-8, I=175 H=256 O=20 T=10 B=128, lanes=%d" % lanes,
        "ours_bytes": {"static": static, "dynamic": dynamic, "total": static + dynamic},
        "thesis_bytes": dict(THESIS_TABLE_3_1),
        "ratio_total": round((static + dynamic) / THESIS_TABLE_3_1["total"], 5),
        "why": ("static: shadow weights only (B_Q is a bit slice, no separate inference copy); "
                "dynamic: no per-synapse weight trace and no per-sample batch copies -- "
                "deltas accumulate over the batch in one S..64-bit word per synapse, and the "
                "deferred form keeps only T x (I + H) trace and T x (H + O) pg histories"),
    }


def generate(cfg: NetConfig, lanes: int, out_dir, bus: str = "host") -> tuple[Path, dict]:
    """Write ``<TOP>.v`` and ``manifest.json`` into ``out_dir``; return (verilog path, manifest).

    ``bus``: ``"host"`` (the core's own registered bus, ``bus__*``) or ``"wishbone"`` (Wishbone
    B4 classic, ``wb__*``, and the done interrupt ``irq``: :mod:`intsnn.hw.wishbone_core`)."""
    from amaranth.back import verilog

    from .wishbone_core import BUSES, WishboneCore

    if bus not in BUSES:
        raise ValueError(f"bus must be one of {BUSES!r}, not {bus!r}")
    hw = HwConfig(net=cfg, lanes=lanes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    core = IntSNNCore(config=hw) if bus == "host" else WishboneCore(config=hw)
    text = verilog.convert(core, name=TOP, platform=GeneratorPlatform(), emit_src=False)
    vpath = out / f"{TOP}.v"
    vpath.write_text(text + RAM_VERILOG)
    ports = []
    for path, member, _ in core.signature.flatten(core):
        ports.append({"name": "__".join(str(p) for p in path), "dir": str(member.flow.value),
                      "width": len(_)})
    manifest = {
        "top": TOP,
        "verilog": vpath.name,
        "lanes": lanes,
        "bus": bus,
        "config": cfg.to_dict(),
        "widths": {**cfg.widths(), "acc_hidden": hw.acc_hidden_bits,
                   "acc_output": hw.acc_output_bits, "b16": hw.b16_bits,
                   "delta_hidden": hw.delta_hidden_bits, "delta_output": hw.delta_output_bits},
        "words": {"IW": hw.IW, "HW": hw.HW, "OW": hw.OW},
        "ports": ports,
        "clock": "clk (rising edge), synchronous reset rst (active high); after reset the "
                 "core clears its delta memories (busy for the UPDATE cycle count)",
        "host_protocol": {k: getattr(hp, k) for k in hp.__all__ if k.isupper()},
        "state": state_report(cfg, lanes),
        "cycles": {"sample": cycles.CYCLE_FORMULA, "update": cycles.UPDATE_FORMULA,
                   "update_cycles": cycles.expected_update_cycles(cfg, lanes),
                   "function": "intsnn.hw.cycles.expected_cycles"},
        "thesis_table_3_1": thesis_comparison(lanes),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return vpath, manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mnist-snn")
    ap.add_argument("--lanes", type=int, default=4)
    ap.add_argument("--out", default="build/hw")
    a = ap.parse_args(argv)
    path, man = generate(preset(a.preset), a.lanes, a.out)
    print(path, man["state"]["total_bytes"], "bytes of state")


if __name__ == "__main__":
    main()
