"""``intsnn generate``: the Verilog and manifest of a preset's training datapath.

The output folder is checked before any work.  The Verilog is generated into a temporary folder
inside it and moved into place file by file; every other ``<top>.*`` file of an earlier run
(synthesis statistics, netlist, place-and-route report) is removed then, so a folder never holds
new Verilog beside an old netlist.  Synthesis and place and route show a heartbeat.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from ..golden.config import preset
from ..sw import outputs
from ..sw.progress import format_seconds, heartbeat
from .config import DEFAULT_LANES, HwConfig
from .generate import TOP, generate

__all__ = ["DEFAULT_LANES", "config_for", "classes_from_data", "class_count", "delta_sat_hint",
           "install_outputs", "run_generate"]


def config_for(name: str, shadow_bits: int = 16, inference_bits: int = 8, n_out=None,
               batch_size=None, headroom=None, lr_rounding=None, error=None, loss=None,
               clip_order=None, rec_source=None, delta_sat_bits=None):
    """The preset's :class:`NetConfig` with the command-line overrides applied."""
    over = {"headroom": headroom}
    for field, value in (("lr_rounding", lr_rounding), ("error_mode", error), ("loss", loss),
                         ("clip_order", clip_order), ("rec_source", rec_source),
                         ("delta_sat_bits", delta_sat_bits)):
        if value is not None:
            over[field] = value
    if n_out is not None:
        over["n_out"] = n_out
    if batch_size is not None:
        over["batch_size"] = batch_size
    return preset(name, shadow_bits, inference_bits, **over)


def delta_sat_hint(cfg) -> str | None:
    """What to try when the block RAM does not suffice: saturating delta registers of the width
    the clipped update can use (``NetConfig.delta_sat_bits``), if that is narrower than exact."""
    if cfg.arch == "csnn" or cfg.delta_sat_bits is not None:
        return None
    n = max(cfg.delta_lossless_bits(k) for k in ("hidden", "output"))
    if n >= max(cfg.delta_exact_bits(k) for k in ("hidden", "output")):
        return None
    return (f"hint: --delta-sat-bits {n} stores the batch deltas in {n}-bit saturating "
            f"registers instead of {cfg.widths()['delta_accumulator']} bits (the width the "
            f"clipped update can use; docs/algorithm.md, 'Saturating delta accumulators')")


def classes_from_data(preset_name: str, data_dir, data_name=None) -> int:
    """The class count of the preset's training data in ``data_dir`` (what train/cosim use)."""
    from ..sw.train import load_data
    return int(load_data(preset_name, "train", data_dir, name=data_name).meta["n_classes"])


def install_outputs(tmp: Path, out: Path, top: str = TOP) -> list[Path]:
    """Move every file of ``tmp`` into ``out`` (atomic renames) and delete the ``<top>.*`` files
    of ``out`` that this generation did not produce; returns the deleted (stale) files."""
    new = {p.name for p in tmp.iterdir()}
    stale = [p for p in out.glob(f"{top}.*") if p.name not in new and p.is_file()]
    for p in stale:
        p.unlink()
    for name in sorted(new, key=lambda n: n == "manifest.json"):  # the manifest last
        os.replace(tmp / name, out / name)
    return stale


def class_count(a) -> tuple[int | None, str | None]:
    """``(n_out, note)`` for ``generate``: ``--n-out``, else the classes of ``--data-dir``'s
    training data, else ``None`` (the preset's: 10 for MNIST, SHD's 20) with a note for SHD."""
    if a.n_out is not None:
        return a.n_out, None
    if a.data_dir is not None:
        n_out = classes_from_data(a.preset, a.data_dir, a.data_name)
        return n_out, f"n_out {n_out}: the classes of the training data in {a.data_dir}"
    if a.data_name is not None:
        raise ValueError("--data-name needs --data-dir")
    if a.preset.startswith("shd"):
        return None, ("n_out 20: SHD's classes; the embedded and fsdd_lauscher data have 10, "
                      "so to co-simulate this Verilog on them (cosim --hw-dir) generate with "
                      "--n-out 10 or --data-dir")
    return None, None


def run_generate(a) -> int:
    out = outputs.check_out_dir(a.out)
    n_out, note = class_count(a)
    cfg = config_for(a.preset, a.shadow_bits, a.inference_bits, n_out, a.batch_size,
                     a.headroom, getattr(a, "lr_rounding", None), a.error, a.loss,
                     a.clip_order, a.rec_source, getattr(a, "delta_sat_bits", None))
    lanes = DEFAULT_LANES if a.lanes is None else a.lanes
    HwConfig(net=cfg, lanes=lanes)  # parameter errors before any work
    n_act = getattr(a, "activity_samples", 0)
    energy = None
    if n_act:
        from .energy import manifest_energy
        energy = manifest_energy(a.preset, cfg, lanes, n_act, a.data_dir, a.data_name)
    with outputs.run_lock(out):
        tmp = Path(tempfile.mkdtemp(prefix=".generate-", dir=out))
        try:
            t0 = time.perf_counter()
            with heartbeat(f"generating the Verilog of {a.preset}, lanes {lanes} (Amaranth)"):
                vtmp, man = generate(cfg, lanes, tmp, bus=getattr(a, "bus", "host"))
            gen_s = time.perf_counter() - t0
            man["generation_seconds"] = round(gen_s, 2)
            if energy is not None:
                man["energy"] = energy
            outputs.write_json(tmp / "manifest.json", man, indent=2, default=str)
            stale = install_outputs(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        vpath = out / vtmp.name
        for p in stale:
            print(f"removed stale {p} (from an earlier run)")
        if a.lint:
            from ..sim.runner import lint_verilog
            with heartbeat(f"verilator --lint-only of {vpath}"):
                lint_verilog(vpath, TOP)
            man["lint"] = ("verilator --lint-only -Wall with intsnn.sim.runner.VERILATOR_WAIVERS: "
                           "clean")
        if a.synth or a.pnr:
            from .synth import implement
            man.update(implement(vpath, TOP, a.pnr, quiet=False))
        outputs.write_json(out / "manifest.json", man, indent=2, default=str)
    st = man["state"]
    print(f"{vpath}  ({format_seconds(gen_s)})")
    if note:
        print(note)
    print(f"preset {a.preset}  S/Q {cfg.shadow_bits}/{cfg.inference_bits}  lanes {lanes}  "
          f"n_out {cfg.n_out}  state {st['total_bits']:,} bits ({st['total_bytes']:,} bytes)")
    for g, bits in st["groups_bits"].items():
        print(f"  {g:8s} {bits:12,d} bits")
    print(f"cycles/sample: {man['cycles']['sample']}")
    print(f"cycles/update: {man['cycles']['update_cycles']:,}")
    if energy is not None and "golden_ops_per_sample" in energy:
        from .energy import format_energy
        print(format_energy(energy, f"({energy['samples']} training samples, initial weights)"))
    if "synthesis" in man:
        s = man["synthesis"]
        print(f"ECP5: LUT4 {s['LUT4']}  FF {s['FF']}  BRAM {s['BRAM']}  DSP {s['DSP']}")
    if "pnr" in man:
        from .synth import format_fmax
        p = man["pnr"]
        print(f"{p['device']}: " + (format_fmax(p["fmax_mhz"]) if p["fits"]
                                    else f"does not fit ({p['reason']})"))
        if not p["fits"] and "BRAM" in p["reason"] and (hint := delta_sat_hint(cfg)):
            print(hint)
        for clk, cp in p.get("critical_path", {}).items():
            print(f"critical path ({clk}): {cp['delay_ns']} ns ({cp['routing_ns']} routing) "
                  f"{cp['from']} -> {cp['to']}")
    print(f"wrote {out}/manifest.json")
    return 0
