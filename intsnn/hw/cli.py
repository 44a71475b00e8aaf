"""``intsnn generate``: the Verilog and manifest of a preset's training datapath."""

from __future__ import annotations

import json
import time

from ..golden.config import preset
from .config import DEFAULT_LANES, HwConfig
from .generate import TOP, generate

__all__ = ["DEFAULT_LANES", "config_for", "run_generate"]


def config_for(name: str, shadow_bits: int = 16, inference_bits: int = 8, n_out=None,
               batch_size=None, headroom=None):
    """The preset's :class:`NetConfig` with the command-line overrides applied."""
    over = {"headroom": headroom}
    if n_out is not None:
        over["n_out"] = n_out
    if batch_size is not None:
        over["batch_size"] = batch_size
    return preset(name, shadow_bits, inference_bits, **over)


def run_generate(a) -> int:
    cfg = config_for(a.preset, a.shadow_bits, a.inference_bits, a.n_out, a.batch_size,
                     a.headroom)
    lanes = DEFAULT_LANES if a.lanes is None else a.lanes
    HwConfig(net=cfg, lanes=lanes)  # parameter errors before any work
    t0 = time.perf_counter()
    vpath, man = generate(cfg, lanes, a.out)
    gen_s = time.perf_counter() - t0
    if a.lint:
        from ..sim.runner import lint_verilog
        lint_verilog(vpath, TOP)
        man["lint"] = "verilator --lint-only -Wall with intsnn.sim.runner.VERILATOR_WAIVERS: clean"
    if a.synth or a.pnr:
        from .synth import implement
        man.update(implement(vpath, TOP, a.pnr))
    man["generation_seconds"] = round(gen_s, 2)
    (vpath.parent / "manifest.json").write_text(json.dumps(man, indent=2, default=str))
    st = man["state"]
    print(f"{vpath}  ({gen_s:.1f} s)")
    print(f"preset {a.preset}  S/Q {cfg.shadow_bits}/{cfg.inference_bits}  lanes {lanes}  "
          f"state {st['total_bits']:,} bits ({st['total_bytes']:,} bytes)")
    for g, bits in st["groups_bits"].items():
        print(f"  {g:8s} {bits:12,d} bits")
    print(f"cycles/sample: {man['cycles']['sample']}")
    print(f"cycles/update: {man['cycles']['update_cycles']:,}")
    if "synthesis" in man:
        s = man["synthesis"]
        print(f"ECP5: LUT4 {s['LUT4']}  FF {s['FF']}  BRAM {s['BRAM']}  DSP {s['DSP']}")
    if "pnr" in man:
        p = man["pnr"]
        print(f"{p['device']}: " + (f"fmax {p['fmax_mhz']} MHz" if p["fits"]
                                    else f"does not fit ({p['reason']})"))
    return 0
