"""Resource and energy report: operations per sample and their Table 3.3 energy.

:func:`energy_report` turns the golden records of real training samples into the report that
``intsnn cosim`` (``report.json`` -> ``"energy"``) and ``intsnn generate`` (``manifest.json`` ->
``"energy"``) carry: the golden model's event-driven operation counts
(:mod:`intsnn.golden.activity`), the hardware's lane ops (:mod:`intsnn.hw.activity`; the CSNN's
both from :mod:`intsnn.hw.csnn_activity`), both priced
with thesis Table 3.3, per sample, per update and per training epoch, next to thesis Table 3.2.

Command line (a short table, JSON with ``--json``)::

    python -m intsnn.hw.energy --preset shd-rsnn --lanes 4 --samples 32
"""

from __future__ import annotations

import math

import numpy as np

from ..golden import activity as ga
from ..golden.config import NetConfig
from . import activity as ha
from . import csnn_activity as ca
from .config import HwConfig

__all__ = ["sample_entry", "energy_report", "manifest_energy", "format_energy",
           "preset_records", "TRAIN_SET_SIZE", "COMPARISON"]

#: Training-set sizes of the thesis's data sets, for the per-epoch figure.
TRAIN_SET_SIZE = {"mnist": 60_000, "shd": 8_156}

#: Published open designs, with the figures their abstracts give (cited; nothing else quoted)
#: and what of them lines up with this design.  docs/results.md ("Published designs") puts
#: them next to ours.
COMPARISON = [
    {"design": "ReckOn (Frenkel & Indiveri, ISSCC 2022)",
     "source": "arXiv:2208.09759 (abstract)",
     "figures": {"technology": "28 nm FDSOI CMOS (ASIC)", "core_area_mm2": 0.45,
                 "on_chip_learning": "yes (modified e-prop)", "neurons": 256,
                 "training_power_uw_max": 150, "learning_memory_overhead_pct": 0.8},
     "comparable": "on-chip training of a spiking RNN, as here; but a silicon power "
                   "measurement (memory, clock tree, leakage, its own node) is not comparable "
                   "with this arithmetic-only Table 3.3 estimate, and its tasks (navigation, "
                   "gestures, keyword spotting) are not ours. Nothing lines up number for "
                   "number."},
    {"design": "Spiker+ (Carpegna, Savino & Di Carlo, 2024)",
     "source": "arXiv:2401.01141 (abstract)",
     "figures": {"platform": "FPGA (inference only, trained off chip)",
                 "mnist": {"accuracy_pct": 93.85, "logic_cells": 7_612, "brams": 18,
                           "power_mw": 180, "latency_us_per_image": 780},
                 "shd": {"accuracy_pct": 72.99, "logic_cells": 18_268, "brams": 51,
                         "power_mw": 430, "latency_us_per_image": 54}},
     "comparable": "MNIST accuracy and latency per image line up with an inference run of "
                   "mnist-snn here (same data, end to end); its logic cells and BRAMs are "
                   "another vendor's primitives (an order of magnitude, not an equality); its "
                   "SHD figure is the 20-class SHD, not the 10-class SHD-format digits here; its "
                   "board power is measured, our energy is Table 3.3 arithmetic only."},
]


def sample_entry(cfg: NetConfig, lanes: int, rec) -> dict:
    """What :func:`energy_report` needs of one training sample (a few small dictionaries, so a
    long co-simulation need not keep the records)."""
    if cfg.arch == "csnn":
        return ca.sample_entry(cfg, lanes, rec)
    return {"golden": ga.sample_activity(cfg, rec), "lane": ha.hw_activity(cfg, lanes, rec),
            "useful": ha.useful_lane_ops(cfg, rec)}


def preset_records(name: str, cfg: NetConfig, samples: int, seed: int = 0, data_dir=None,
                   data_name=None):
    """Golden records of the first ``samples`` training samples of the preset's data (the
    embedded subset unless ``data_dir``) with a label below ``cfg.n_out``, encoded as in
    training, initial weights ``seed``."""
    from ..golden.model import IntSNN
    from ..sw.train import encode, load_data

    data = load_data(name, "train", data_dir, limit=samples, name=data_name)
    keep = np.flatnonzero(data.y < cfg.n_out)
    net = IntSNN(cfg, seed)
    x = encode(cfg, data, keep, seed, 0)
    return [net.run_sample(x[j], int(data.y[k])) for j, k in enumerate(keep)]


def _mean_counts(dicts) -> dict:
    n = len(dicts)
    acc = {}
    for d in dicts:
        acc = ga.add_counts(acc, d)
    return {k: (_mean_div(v, n) if isinstance(v, dict) else v / n) for k, v in acc.items()}


def _mean_div(d, n):
    return {k: v / n for k, v in d.items()}


def energy_report(cfg: NetConfig, lanes: int, entries, epoch_samples=None,
                  measured_cycles=None) -> dict:
    """The energy section of a report, from the training samples' :func:`sample_entry`.

    Parameters
    ----------
    entries : :func:`sample_entry` of each training sample, made with the same ``lanes``.
    epoch_samples : training samples of one epoch for the per-epoch figure (``None``: no
        per-epoch figure).
    measured_cycles : the hardware's CYCLES register of each of these samples (co-simulation):
        the activity counters must rebuild every one of them.
    """
    if not entries:
        raise ValueError("energy_report needs at least one training sample")
    hw = HwConfig(net=cfg, lanes=lanes)
    # the CSNN core has its own lane-op kinds, update and weight count (a shared kernel)
    act = ca if cfg.arch == "csnn" else ha
    upd = ca.update_activity(cfg) if cfg.arch == "csnn" else ga.update_activity(cfg)
    n_w = (cfg.conv_filters * cfg.conv_kernel ** 2 if cfg.arch == "csnn"
           else cfg.n_hidden * cfg.n_in) + cfg.n_out * cfg.n_hidden
    golden = [e["golden"] for e in entries]
    lane = [e["lane"] for e in entries]
    useful = [e["useful"] for e in entries]
    e_gold = np.array([ga.energy_pj(ga.total(a)) for a in golden])
    # the traces, the count and the error as the golden model counts them (no lane model)
    e_hw = np.array([ga.energy_pj(ga.add_counts(act.hw_counts(cfg, lanes, a),
                                                ga.add_counts(g["traces"], g["error"])))
                     for a, g in zip(lane, golden)])
    e_upd = ga.energy_pj(upd)
    e_upd_hw = e_upd * hw.update_words * lanes / n_w      # idle lanes of the last words too
    cyc = [act.cycles_from_activity(cfg, lanes, a) for a in lane]
    check = {"samples": len(entries)}
    if measured_cycles is not None:
        m = [int(c) for c in measured_cycles][:len(cyc)]
        check["cycles_register_equal"] = int(sum(a == b for a, b in zip(cyc, m)))
        check["cycles_register_checked"] = len(m)
    B = cfg.batch_size
    n_ep = epoch_samples
    mean_phase = {p: ga.energy_pj(_mean_counts([a[p] for a in golden])) for p in ga.PHASES}

    def epoch(per_sample, per_update, n):
        return {"samples": n, "updates": math.ceil(n / B),
                "uj": (per_sample * n + per_update * math.ceil(n / B)) / 1e6}

    rep = {
        "source": ga.ENERGY_SOURCE,
        "table_3_3_pj": {k: {str(b): v for b, v in d.items()} for k, d in
                         ga.TABLE_3_3_PJ.items()},
        "samples": len(entries), "lanes": lanes,
        "golden_ops_per_sample": {p: _mean_counts([a[p] for a in golden]) for p in ga.PHASES},
        "golden_ops_per_update": upd,
        "golden_pj_per_sample": {**mean_phase, "total_mean": float(e_gold.mean()),
                                 "total_min": float(e_gold.min()),
                                 "total_max": float(e_gold.max())},
        "golden_pj_per_update": e_upd,
        "hw_lane_ops_per_sample": _mean_counts(lane),
        "hw_useful_lane_ops_per_sample": _mean_counts(useful),
        "hw_pj_per_sample": float(e_hw.mean()),
        "hw_pj_per_update": e_upd_hw,
        "counters_check": check,
        "per_epoch": {"golden": epoch(e_gold.mean(), e_upd, n_ep),
                      "hw": epoch(e_hw.mean(), e_upd_hw, n_ep),
                      "how": "mean training sample x samples + one update per batch"}
        if n_ep else None,
        "per_training_iteration_of_B": {
            "B": B, "golden_uj": (e_gold.mean() * B + e_upd) / 1e6,
            "hw_uj": (e_hw.mean() * B + e_upd_hw) / 1e6},
        "same_network_as_table_3_2": _iteration_ops(cfg, golden, upd, B),
        "thesis_table_3_2": {
            "network": "RSNN, SHD, I=175 H=256 O=20 B=128 (T=10 fits its counts), "
                       "integer-only MP 16-8; "
                       "dense counts scaled by Table B.5 activity coefficients",
            "rows": ga.thesis_table_3_2()},
        "comparison": COMPARISON,
        "not_priced": "memory traffic (read_bits/write_bits are counted), control, clock, "
                      "leakage: Table 3.3 has operation energies only",
    }
    return rep


def _iteration_ops(cfg: NetConfig, golden, upd, B: int) -> dict:
    """Golden operations of one training iteration (``B`` mean samples + the update) beside
    Table 3.2's totals, and its energy at the thesis's flat 8-bit prices."""
    per = _mean_counts([ga.total(a) for a in golden])
    it = ga.add_counts({k: v * B for k, v in per.items()}, upd)
    kinds = ga.kind_totals(it)

    def section(phases, extra=None):
        c = _mean_counts([ga.total({p: a[p] for p in phases}) for a in golden])
        c = {k: v * B for k, v in c.items()}
        k = ga.kind_totals(ga.add_counts(c, extra or {}))
        return {"add": round(k["add"]), "mul": round(k["mul"])}

    t = ga.thesis_table_3_2()
    sections = {
        "forward (Hidden - FW + Output - FW)": {
            "ours": section(("forward", "traces")),
            "thesis": {k: t["Hidden - FW"][k] + t["Output - FW"][k] for k in ("add", "mul")}},
        "error (Error Calculation)": {
            "ours": section(("error",)),
            "thesis": {k: t["Error Calculation"][k] for k in ("add", "mul")}},
        "update (Output - Update + Hidden - Update)": {
            "ours": section(("feedback", "delta"), upd),
            "thesis": {k: t["Output - Update"][k] + t["Hidden - Update"][k]
                       for k in ("add", "mul")},
            "note": "Table B.4 counts the batch delta as B*H multiplications (and B*O), eq. 3.17 "
                    "needs one per synapse with a nonzero correlation and feedback: ours counts "
                    "those event by event"},
    }
    return {"config": f"{cfg.arch} I={cfg.n_in} H={cfg.n_hidden} O={cfg.n_out} "
                      f"T={cfg.timesteps} B={B}",
            "ops": {k: round(v) for k, v in kinds.items()},
            "by_section": sections,
            "uj_table_widths": ga.energy_pj(it) / 1e6,
            "uj_all_8bit": ga.energy_pj(it, 8) / 1e6,
            "uj_all_32bit": ga.energy_pj(it, 32) / 1e6}


def manifest_energy(name: str, cfg: NetConfig, lanes: int, samples: int, data_dir=None,
                    data_name=None) -> dict:
    """The ``"energy"`` section of a generate manifest: the report over the first ``samples``
    training samples of the preset's data, initial weights (seed 0)."""
    from ..sw.train import DATASET_OF

    recs = preset_records(name, cfg, samples, 0, data_dir, data_name)
    if not recs:
        return {"note": f"no training sample with a label below n_out={cfg.n_out} in the first "
                        f"{samples}: no activity counts"}
    rep = energy_report(cfg, lanes, [sample_entry(cfg, lanes, r) for r in recs],
                        TRAIN_SET_SIZE.get(DATASET_OF[name]))
    rep["data"] = {"data_dir": None if data_dir is None else str(data_dir),
                   "samples": len(recs), "weights": "initial (seed 0)",
                   "how": "first training samples, encoded as in training (epoch 0)"}
    return rep


def format_energy(rep: dict, title: str = "") -> str:
    """A short table of an :func:`energy_report`."""
    g, gp = rep["golden_ops_per_sample"], rep["golden_pj_per_sample"]
    lines = [f"energy (thesis Table 3.3 prices) {title}".rstrip(),
             f"{'phase':10s} {'add':>12s} {'mul':>11s} {'shift':>9s} {'cmp':>9s} {'nJ':>9s}"]
    for p in ga.PHASES:
        c = g[p]
        kind = ga.kind_totals(c)
        lines.append(f"{p:10s} {kind['add']:12,.0f} {kind['mul']:11,.0f} {kind['shift']:9,.0f} "
                     f"{kind['cmp']:9,.0f} {gp[p] / 1e3:9.2f}")
    lines.append(f"{'sample':10s} golden {gp['total_mean'] / 1e3:.2f} nJ (min "
                 f"{gp['total_min'] / 1e3:.2f}, max {gp['total_max'] / 1e3:.2f}); hardware lanes "
                 f"(P={rep['lanes']}) {rep['hw_pj_per_sample'] / 1e3:.2f} nJ")
    lines.append(f"{'update':10s} golden {rep['golden_pj_per_update'] / 1e3:.2f} nJ; hardware "
                 f"{rep['hw_pj_per_update'] / 1e3:.2f} nJ (per batch)")
    it = rep["per_training_iteration_of_B"]
    t = rep["thesis_table_3_2"]["rows"]["Total Operations"]
    s3 = rep["same_network_as_table_3_2"]
    lines.append(f"iteration of B={it['B']}: golden {it['golden_uj']:.4g} uJ, hardware "
                 f"{it['hw_uj']:.4g} uJ")
    lines.append(f"  golden ({s3['config']}): ADD {s3['ops']['add']:,} MUL {s3['ops']['mul']:,}"
                 f" -> {s3['uj_all_8bit']:.4g} uJ at 8-bit prices, {s3['uj_all_32bit']:.4g} at "
                 f"32-bit")
    lines.append(f"  thesis Table 3.2 (RSNN SHD I=175 H=256 O=20 B=128): ADD {t['add']:,} MUL "
                 f"{t['mul']:,} -> {t['energy_uj_8bit']:.2f} uJ at 8-bit prices, "
                 f"{t['energy_uj_32bit']:.1f} at 32-bit")
    for name, sec in s3["by_section"].items():
        o, th = sec["ours"], sec["thesis"]
        lines.append(f"  {name.split(' (')[0]:8s} ADD {o['add']:>12,} / {th['add']:>12,}  MUL "
                     f"{o['mul']:>12,} / {th['mul']:>12,}  (golden / thesis)")
    if rep["per_epoch"]:
        e = rep["per_epoch"]
        lines.append(f"epoch of {e['golden']['samples']:,} samples: golden "
                     f"{e['golden']['uj'] / 1e3:.4g} mJ, hardware {e['hw']['uj'] / 1e3:.4g} mJ")
    ck = rep["counters_check"]
    if "cycles_register_checked" in ck:
        lines.append(f"activity counters rebuild the CYCLES register of "
                     f"{ck['cycles_register_equal']}/{ck['cycles_register_checked']} samples")
    lines.append("ReckOn, Spiker+: published figures and what lines up: report 'comparison', "
                 "docs/results.md 'Published designs'")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    from ..golden.config import preset
    from ..sw import outputs
    from ..sw.argtypes import HelpFormatter, positive_int
    from ..sw.command import run_command
    from ..sw.train import DATASET_OF

    ap = argparse.ArgumentParser(prog="python -m intsnn.hw.energy", formatter_class=HelpFormatter,
                                 description="operations and Table 3.3 energy per training "
                                             "sample, update and epoch, on real samples")
    ap.add_argument("--preset", required=True,
                    choices=("mnist-snn", "mnist-csnn", "shd-snn", "shd-rsnn"))
    ap.add_argument("--lanes", type=positive_int, default=4)
    ap.add_argument("--samples", type=positive_int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None,
                    help="real data folder (default: $INTSNN_DATA, else the embedded subset)")
    ap.add_argument("--json", default=None, help="also write the report as JSON here")
    a = ap.parse_args(argv)

    def body():
        from ..sw.train import load_data
        if a.json:
            outputs.check_out_file(a.json, "--json")
        n_out = int(load_data(a.preset, "train", a.data_dir, limit=1).meta["n_classes"])
        cfg = preset(a.preset, n_out=n_out)
        recs = preset_records(a.preset, cfg, a.samples, a.seed, a.data_dir)
        rep = energy_report(cfg, a.lanes, [sample_entry(cfg, a.lanes, r) for r in recs],
                            TRAIN_SET_SIZE.get(DATASET_OF[a.preset]))
        rep.update(preset=a.preset, n_out=n_out, seed=a.seed, data_dir=a.data_dir)
        if a.json:  # before printing: a closed stdout must not lose the result
            outputs.write_json(a.json, rep)
        print(format_energy(rep, f"{a.preset}, {len(recs)} samples, n_out {n_out}"))
        if a.json:
            print(f"wrote {a.json}")
        return 0
    return run_command("python -m intsnn.hw.energy", body)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
