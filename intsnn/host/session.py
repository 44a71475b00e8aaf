"""A training/evaluation session on the board, checked against the golden model as it goes.

:func:`run_session` is the host driver's work, shared by ``intsnn fpga`` (a real serial port)
and the board co-simulation (the same function over a simulated UART): load the initial
weights and read them back; per training sample stream its beats, write LABEL, TRAIN, read
PREDICTION/CYCLES and the counts; every ``B`` samples UPDATE and read back every weight; then
INFER the test samples.  Each result is compared with the golden model's (counts, prediction,
the exact cycle count, weights after every update); the session stops at the first divergence.
The result dict has the keys of the cocotb co-simulation bench's, so one report builder serves
both (:func:`intsnn.host.fpga.build_report`).
"""

from __future__ import annotations

import time

import numpy as np

from ..golden.config import NetConfig
from ..hw import host_protocol as hp
from ..hw.conv_geometry import hidden_order
from ..hw.host_protocol import pack_frames
from ..hw.scoreboard import mismatch_record
from .link import BoardLink

__all__ = ["run_session"]


class _Session:
    def __init__(self, link: BoardLink, d: dict, cfg: NetConfig, progress):
        self.link, self.d, self.cfg, self.progress = link, d, cfg, progress
        self.ws = -(-cfg.shadow_bits // 8)     # bytes per shadow weight on the wire
        self.wq = -(-cfg.inference_bits // 8)  # bytes per recurrent weight
        # the core's W_OUTPUT columns are its hidden order (position-major for csnn)
        self.order = hidden_order(cfg)
        self.mismatches: list[dict] = []
        self.res = {"counts_train": [], "pred_train": [], "cycles_train": [],
                    "samples_before_update": [], "cycles_update": [], "counts_test": [],
                    "pred_test": [], "cycles_test": [], "mismatches": self.mismatches,
                    "stopped": None, "updates_checked": 0}

    def mismatch(self, phase, sample, signal, exp, act, update=None) -> bool:
        """Record the differing entries of ``exp`` vs ``act``; True if any differ."""
        rec = mismatch_record(phase, sample, signal, exp, act, update)
        if rec is not None:
            self.mismatches.append(rec)
        return rec is not None

    # ---------------------------------------------------------------- weights
    def region_rows(self, recurrent: bool):
        cfg = self.cfg
        # the CSNN's W_HIDDEN is its kernel (filters x taps)
        yield ("w_hidden", hp.REGION_W_HIDDEN, *hp.hidden_weight_shape(cfg), self.ws)
        yield "w_output", hp.REGION_W_OUTPUT, cfg.n_out, cfg.n_hidden, self.ws
        if recurrent:
            yield "w_recurrent", hp.REGION_W_RECURRENT, cfg.n_hidden, cfg.n_hidden, self.wq

    def on_core(self, name: str, w):
        """A golden weight matrix in the core's layout (W_OUTPUT columns in hidden order)."""
        w = np.asarray(w, np.int64)
        return w[:, self.order] if name == "w_output" else w

    def write_weights(self, weights: dict):
        for name, region, rows, cols, w in self.region_rows("w_recurrent" in weights):
            values = self.on_core(name, weights[name])
            for r in range(rows):
                self.link.write(hp.addr(region, r, 0), values[r].tolist(), w)

    def check_weights(self, phase, sample, update, expected: dict) -> bool:
        cfg, qs = self.cfg, self.cfg.quant_shift
        for name, region, rows, cols, w in self.region_rows("w_recurrent" in expected):
            got = np.array([self.link.read(hp.addr(region, r, 0), cols, w, signed=True)
                            for r in range(rows)], np.int64)
            exp = self.on_core(name, expected[name])
            if name == "w_recurrent":
                if self.mismatch(phase, sample, name, exp, got, update):
                    return True
                continue
            if (self.mismatch(phase, sample, f"{name}_shadow", exp, got, update)
                    # the inference weight is the bit slice [S-Q, S) of the shadow word
                    or self.mismatch(phase, sample, f"{name}_inference", exp >> qs,
                                     got >> qs, update)):
                return True
        return False

    # ---------------------------------------------------------------- samples
    def sample(self, phase: str, s: int, x, command: int, label=None) -> bool:
        cfg, link, d, res = self.cfg, self.link, self.d, self.res
        link.frames(pack_frames(x, cfg.input_bits, link.lanes))
        if label is not None:
            link.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_LABEL), [int(label)])
        link.command(command)
        pred, cyc = link.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_PREDICTION), 2)
        counts = np.asarray(link.read(hp.addr(hp.REGION_COUNTS), cfg.n_out), np.int64)
        res[f"counts_{phase}"].append(counts.tolist())
        res[f"pred_{phase}"].append(pred)
        res[f"cycles_{phase}"].append(cyc)
        return (self.mismatch(phase, s, "counts", d[f"g_counts_{phase}"][s], counts)
                or self.mismatch(phase, s, "prediction", d[f"g_pred_{phase}"][s], pred)
                or self.mismatch(phase, s, "cycles", d[f"g_cycles_{phase}"][s], cyc))

    def run(self) -> dict:
        cfg, d, res, link = self.cfg, self.d, self.res, self.link
        link.identify()
        w0 = {"w_hidden": d["w_hidden0"], "w_output": d["w_output0"]}
        if cfg.arch == "rsnn":
            w0["w_recurrent"] = d["w_recurrent0"]
        self.write_weights(w0)
        if self.check_weights("load", None, None, w0):
            return res
        link.wait_idle()  # the clear after reset must be over before beats are accepted
        x, y, B = d["x_train"], d["y_train"], cfg.batch_size
        n_tr, n_te = len(y), len(d["x_test"])
        for s in range(n_tr):
            k = s // B
            if self.sample("train", s, x[s], hp.CMD_TRAIN, y[s]):
                res["stopped"] = {"phase": "train", "sample": s}
                return res
            if (s + 1) % B == 0 or s == n_tr - 1:
                nsamp = link.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_SAMPLES), 1)[0]
                link.command(hp.CMD_UPDATE)
                ucyc = link.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_CYCLES), 1)[0]
                res["samples_before_update"].append(nsamp)
                res["cycles_update"].append(ucyc)
                if (self.mismatch("train", s, "samples_register", s - k * B + 1, nsamp, k)
                        or self.check_weights("train", s, k, {"w_hidden": d["g_w_hidden"][k],
                                                              "w_output": d["g_w_output"][k]})):
                    res["stopped"] = {"phase": "train", "sample": s}
                    return res
                res["updates_checked"] += 1
            self.progress(s + 1, n_tr + n_te)
        for s in range(n_te):
            if self.sample("test", s, d["x_test"][s], hp.CMD_INFER):
                res["stopped"] = {"phase": "test", "sample": s}
                return res
            self.progress(n_tr + s + 1, n_tr + n_te)
        return res


def run_session(link: BoardLink, d: dict, cfg: NetConfig, progress=None) -> dict:
    """Run the session of the module docstring; the results (with ``mismatches``) and
    ``timing`` (wall time, bytes each way)."""
    t0 = time.perf_counter()
    res = _Session(link, d, cfg, progress or (lambda done, total: None)).run()
    res["timing"] = {"session_wall_s": time.perf_counter() - t0,
                     "bytes_to_board": link.bytes_sent, "bytes_from_board": link.bytes_received}
    return res
