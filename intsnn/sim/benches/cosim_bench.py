"""cocotb bench: train the generated core (inside ``tb_top``) and compare with the golden model.

Imported by cocotb inside the simulator (``intsnn.sim.cosim.run`` builds and starts it); not a
pytest module.  :class:`Bench` and :func:`run_bench` also serve the native Verilator harness
(:mod:`intsnn.sim.native`), which gives them its own program runner instead of the cocotb
:class:`Driver`.  Everything it needs comes from ``sim_params()``:

``data``      npz written by :func:`intsnn.sim.cosim.prepare` (inputs, labels, initial weights
              and the golden model's expected counts, predictions and weights after every update)
``result``    path of the JSON this bench writes (hardware results, mismatches, timing)
``config``    the ``NetConfig`` dict; ``lanes``; ``depth`` (program memory of the wrapper)
``loss_seed`` the golden model's seed: with ``loss="random"`` written to SEED_LO/SEED_HI, and
              UPDATES set to the updates before the first sample of this session
``inject``    optional fault for tests: ``{"region": 2|3, "row": r, "col": c, "value": v}``
              written into the hardware after the initial weight check
``progress``  path of a one-line file ``<phase> <done> <total>`` rewritten after every sample
              (the parent's progress bar reads it)
``checkpoint`` ``{"path", "fingerprint", "every_s"}``: after an update (training) or a sample
              (test), at most every ``every_s`` seconds, the bench saves the weights, its
              position and everything accumulated so far (:func:`Bench.checkpoint`)
``resume``    path of such a checkpoint: load its weights instead of the initial ones, restore
              the accumulated results and continue at its position (bit-exact with a run that
              never stopped: the weights are the only state the core keeps across batches)
``stop_after_checkpoints``  tests: stop as if interrupted after writing this many checkpoints

Drive model: one program per sample (stream beats, label, TRAIN/INFER, reads, and at a batch end
UPDATE plus a read-back of every weight), executed by the wrapper FSM; Python awaits one
``RisingEdge(dut.tb_done)`` per program and never a clock edge (see :mod:`intsnn.sim.tb`).

Timing: ``blocked`` is the wall time spent inside those awaits (the simulator running, no Python
callbacks: the clock is cocotb's C++ ``gpi`` clock); everything else between the first and the
last statement of the test is Python (program formatting, file I/O, comparisons).

The cocotb test fails (after writing its JSON) when the hardware diverged from the golden model
or hung, so cocotb's own summary and results file say FAIL too.
"""

from __future__ import annotations

import json
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotb.utils import get_sim_time

from intsnn.golden.config import NetConfig
from intsnn.hw import cycles, host_protocol as hp, wishbone_protocol as wp
from intsnn.hw.config import HwConfig
from intsnn.hw.conv_geometry import hidden_order
from intsnn.hw.scoreboard import mismatch_record
from intsnn.sim.runner import sim_params
from intsnn.sim.tb import HardwareHang, Program, ProgramRunner, pack_beats
from intsnn.sw.outputs import save_npz, write_json, write_text



class Stop(Exception):
    """Tests: stop as an interrupted run would, right after a checkpoint."""


def _signed(words: np.ndarray, bits: int) -> np.ndarray:
    w = words.astype(np.int64) & ((1 << bits) - 1)
    return w - ((w >> (bits - 1)) << bits)


class Driver(ProgramRunner):
    """Runs wrapper programs through cocotb (VPI)."""

    def __init__(self, dut, depth: int, workdir="."):
        super().__init__(depth, workdir)
        self.dut = dut

    async def execute(self, prog_len: int, watchdog: int, seq: int):
        """Start the loaded program and wait for ``tb_done``: ``(error, pc, status)``."""
        dut = self.dut
        dut.prog_len.value = prog_len
        dut.watchdog.value = watchdog
        dut.go_seq.value = seq
        await RisingEdge(dut.tb_done)
        if int(dut.tb_error.value):
            return True, int(dut.tb_pc.value), str(dut.tb_status.value)
        return False, 0, ""

    def cycle_count(self) -> int:
        """The wrapper's free-running clock counter."""
        return int(self.dut.cycle_count.value)


class Bench:
    """The comparison: ``drv`` runs programs (the cocotb :class:`Driver`, or the native
    harness's, :mod:`intsnn.sim.native`); ``log`` takes progress lines."""

    def __init__(self, dut, p: dict, drv: ProgramRunner | None = None, log=None):
        self.dut, self.p = dut, p
        self.log = log if log is not None else dut._log
        self.cfg = cfg = NetConfig.from_dict(p["config"])
        self.lanes = int(p["lanes"])
        self.d = dict(np.load(p["data"]))
        self.drv = drv if drv is not None else Driver(dut, int(p["depth"]))
        self.mismatches: list[dict] = []
        H, I, O = cfg.n_hidden, cfg.n_in, cfg.n_out
        self.hw = hw = HwConfig(net=cfg, lanes=self.lanes)
        IW, HW, OW = hw.IW, hw.HW, hw.OW
        # double buffering: the next sample streams while this one computes, with ``gap`` idle
        # cycles after each beat (0: full rate)
        self.gap = int(p.get("stream_gap", 0))
        # over Wishbone the wrapper's CMD waits for the done interrupt; the bench enables it
        # and clears IRQ_PENDING after every command
        self.wishbone = p.get("bus", "host") == "wishbone"
        self.prefetched = self.streamed_next = False
        T = cfg.timesteps
        rs = cfg.arch == "rsnn"
        # generous cycle bound of one sample (every input/spike active, every pg set)
        fwd = T * (3 * IW + HW * I + rs * (3 * HW + HW * H) + 3 * HW + OW * H + OW + 4)
        dl = H * OW + OW * (2 + H * (T + 1)) + HW * (2 + I * (T + 1))
        self.sample_bound = 4 * (fwd + dl + 2 * (self.gap + 2) * T * IW + 1000)
        self.update_bound = 4 * (I * HW + H * OW + H * I + O * H + 1000)
        self.res = {"counts_train": [], "pred_train": [], "cycles_train": [],
                    "samples_before_update": [], "cycles_update": [], "counts_test": [],
                    "pred_test": [], "cycles_test": [], "overlap_train": [],
                    "overlap_test": [], "mismatches": self.mismatches,
                    "stopped": None, "updates_checked": 0}
        # where to start, the weights the core holds there, and the cycle count so far
        self.start = {"phase": "train", "next": 0}
        self.w_start = (self.d["w_hidden0"], self.d["w_output0"])
        self.cycles_before = 0   # simulated cycles of earlier sessions (resume)
        self.cycles_ref = 0      # this session's cycle counter when they were counted
        self.sessions = 1
        ck = p.get("checkpoint") or {}
        self.ckpt_path, self.ckpt_every = ck.get("path"), float(ck.get("every_s", 30.0))
        self.fingerprint = ck.get("fingerprint")
        self.ckpt_written, self.ckpt_last = 0, time.perf_counter()
        self.stop_after = p.get("stop_after_checkpoints")
        self.progress_path = p.get("progress")
        if p.get("resume"):
            self.restore(p["resume"])

    def restore(self, path: str):
        with np.load(path, allow_pickle=False) as z:
            state = json.loads(str(z["state"]))
            self.w_start = (z["w_hidden"], z["w_output"])
        for k, v in state["res"].items():
            self.res[k] = v
        self.mismatches = self.res["mismatches"]
        self.start = state["position"]
        self.cycles_before = int(state["cycles"])
        self.sessions = int(state["sessions"]) + 1

    def checkpoint(self, phase: str, nxt: int, w_hidden, w_output, force: bool = False):
        """Save weights + position + accumulated results (atomically), at most every
        ``every_s`` seconds unless ``force``; stop afterwards if a test asked for it."""
        if self.ckpt_path is None:
            return
        now = time.perf_counter()
        if not force and now - self.ckpt_last < self.ckpt_every:
            return
        state = {"fingerprint": self.fingerprint, "position": {"phase": phase, "next": nxt},
                 "cycles": self.cycles_total(), "sessions": self.sessions,
                 "res": {k: v for k, v in self.res.items()}}
        save_npz(self.ckpt_path, state=json.dumps(state), w_hidden=np.asarray(w_hidden),
                 w_output=np.asarray(w_output))
        self.ckpt_written += 1
        self.ckpt_last = now
        if self.stop_after is not None and self.ckpt_written >= int(self.stop_after):
            raise Stop()

    def cycles_total(self) -> int:
        return self.cycles_before + self.drv.cycle_count() - self.cycles_ref

    def report_progress(self, phase: str, done: int, total: int):
        if self.progress_path:
            write_text(self.progress_path, f"{phase} {done} {total}\n", fsync=False)

    # ------------------------------------------------------------------ helpers
    def prog(self) -> Program:
        return Program(self.lanes, self.cfg.input_bits)

    def ack_irq(self, prog: Program, enable: bool = False):
        """Over Wishbone: clear IRQ_PENDING (and with ``enable`` set IRQ_ENABLE first)."""
        if self.wishbone:
            if enable:
                prog.write(hp.addr(wp.REGION_WISHBONE, 0, wp.REG_IRQ_ENABLE), 1)
            prog.write(hp.addr(wp.REGION_WISHBONE, 0, wp.REG_IRQ_PENDING), 1)

    def mismatch(self, phase, sample, signal, exp, act, update=None) -> bool:
        """Record the differing entries of ``exp`` vs ``act``; True if any differ."""
        rec = mismatch_record(phase, sample, signal, exp, act, update)
        if rec is not None:
            self.mismatches.append(rec)
        return rec is not None

    def check_weights(self, words, phase, sample, update, exp_h, exp_o, exp_r=None) -> bool:
        cfg = self.cfg
        S, Q, H, O = cfg.shadow_bits, cfg.inference_bits, cfg.n_hidden, cfg.n_out
        qs = cfg.quant_shift
        shape_h = hp.hidden_weight_shape(cfg)
        n_h, n_o = shape_h[0] * shape_h[1], O * H
        wh, wo = words[:n_h], words[n_h:n_h + n_o]
        # the core's W_OUTPUT columns are its hidden order (position-major for csnn)
        exp_o = np.asarray(exp_o)[:, hidden_order(cfg)]
        bad = False
        for name, w, exp, shape in (("w_hidden", wh, exp_h, shape_h),
                                    ("w_output", wo, exp_o, (O, H))):
            exp = np.asarray(exp, np.int64)
            shadow = _signed(w, S).reshape(shape)
            # the core's inference weight is the bit slice [S-Q, S) of the stored shadow word
            infer = _signed(w.astype(np.int64) >> qs, Q).reshape(shape)
            bad |= self.mismatch(phase, sample, f"{name}_shadow", exp, shadow, update)
            bad |= self.mismatch(phase, sample, f"{name}_inference", exp >> qs, infer, update)
            if bad:
                return True
        if exp_r is not None:
            wr = _signed(words[n_h + n_o:n_h + n_o + H * H], Q).reshape(H, H)
            bad |= self.mismatch(phase, sample, "w_recurrent", exp_r, wr, update)
        return bad

    def read_weights(self, prog: Program, recurrent: bool):
        cfg = self.cfg
        prog.read2d(hp.REGION_W_HIDDEN, *hp.hidden_weight_shape(cfg))
        prog.read2d(hp.REGION_W_OUTPUT, cfg.n_out, cfg.n_hidden)
        if recurrent:
            prog.read2d(hp.REGION_W_RECURRENT, cfg.n_hidden, cfg.n_hidden)

    def progress(self, phase, s, n):
        if (s + 1) % 32 == 0 or s + 1 == n:
            cyc = self.res[f"cycles_{phase}"]
            self.log.info(f"{phase} sample {s + 1}/{n} matches golden; mean "
                               f"{sum(cyc) / len(cyc):,.0f} cycles/sample; "
                               f"{self.res['updates_checked']} updates checked")

    # ------------------------------------------------------------------ phases
    async def load(self):
        cfg, d = self.cfg, self.d
        items = []
        w_hidden, w_output = self.w_start
        regions = [(hp.REGION_W_HIDDEN, w_hidden),
                   (hp.REGION_W_OUTPUT, np.asarray(w_output)[:, hidden_order(cfg)])]
        if cfg.arch == "rsnn":
            regions.append((hp.REGION_W_RECURRENT, d["w_recurrent0"]))
        for region, w in regions:
            rows, cols = np.indices(w.shape)
            addrs = ((region << hp.REGION_SHIFT) | (rows << hp.ROW_SHIFT) | cols).ravel()
            items.extend(zip(addrs.tolist(), w.ravel().tolist()))
        chunk = self.drv.depth - 3
        for s in range(0, len(items), chunk):
            prog = self.prog()
            self.ack_irq(prog, enable=True)
            for a, v in items[s:s + chunk]:
                prog.write(a, v)
            prog.end()
            await self.drv.run(prog, 4 * len(prog) + 100)
        prog = self.prog()
        self.read_weights(prog, cfg.arch == "rsnn")
        prog.end()
        words = await self.drv.run(prog, self.update_bound + 4 * cfg.n_hidden ** 2)
        if self.check_weights(words, "load", None, None, w_hidden, w_output,
                              d.get("w_recurrent0")):
            return False
        if cfg.loss == "random":   # the noise keys: seed, and the updates done so far
            seed = int(self.p.get("loss_seed", 0)) % (1 << 64)
            done = (self.start["next"] + cfg.batch_size - 1) // cfg.batch_size \
                if self.start["phase"] == "train" else len(d["g_w_hidden"])
            prog = self.prog()
            prog.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_SEED_LO), seed & 0xFFFFFFFF)
            prog.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_SEED_HI), seed >> 32)
            prog.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_UPDATES), done)
            prog.end()
            await self.drv.run(prog, 100)
        # cycles counted from here on add to the earlier sessions' (resume: the reload of the
        # checkpoint's weights and keys is not part of the run it continues)
        if self.sessions > 1:
            # the run this session continues had streamed its next sample during the sample
            # before the checkpoint (double buffering): stream it now, outside the count
            phase, nxt = self.start["phase"], int(self.start["next"])
            x = d[f"x_{phase}"]
            if 0 < nxt < len(x):
                prog = self.prog()
                prog.stream(pack_beats(x[nxt], cfg.input_bits, self.lanes))
                prog.end()
                await self.drv.run(prog, 4 * len(prog) + 100)
                self.prefetched = True
            self.cycles_ref = self.drv.cycle_count()
        if "inject" in self.p:  # tests: a deliberate fault the comparison must find
            f = self.p["inject"]
            prog = self.prog()
            prog.write(hp.addr(int(f["region"]), int(f["row"]), int(f["col"])), int(f["value"]))
            prog.end()
            await self.drv.run(prog, 100)
        return True

    def sample_program(self, x, command: int, label: int | None = None,
                       x_next=None) -> Program:
        """Run ``command`` (TRAIN/INFER) on sample ``x`` and read STAMP, STAMP, PREDICTION,
        CYCLES, COUNTS.  ``x`` is streamed first unless the previous program prefetched it;
        ``x_next`` (the phase's next sample) streams in the background while the command
        computes (double buffering), ``self.gap`` idle cycles after each beat.  The two stamps
        enclose the command and the rest of that stream: :func:`intsnn.hw.cycles.overlap_cycles`.
        """
        prog = self.prog()
        if not self.prefetched:
            prog.stream(pack_beats(x, self.cfg.input_bits, self.lanes))
        if label is not None:
            prog.write(hp.addr(hp.REGION_CTRL, 0, hp.REG_LABEL), int(label))
        if x_next is not None:
            prog.stream(pack_beats(x_next, self.cfg.input_bits, self.lanes), background=True,
                        gap=self.gap)
        prog.stamp()
        prog.command(command)
        prog.swait()
        prog.stamp()
        self.ack_irq(prog)
        self.prefetched = x_next is not None
        self.streamed_next = x_next is not None
        prog.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_PREDICTION))
        prog.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_CYCLES))
        prog.read2d(hp.REGION_COUNTS, 1, self.cfg.n_out)
        return prog

    def check_sample(self, phase: str, s: int, words: np.ndarray) -> bool:
        """Record the sample's results; compare counts, prediction, the cycle count (the exact
        formula of :mod:`intsnn.hw.cycles` on the golden observables) and the overlapped cycles
        (the command with the next sample's stream, :func:`intsnn.hw.cycles.overlap_cycles`)
        with golden."""
        O, d, res = self.cfg.n_out, self.d, self.res
        period = int(words[1]) - int(words[0])
        words = words[2:]
        pred, cyc, counts = int(words[0]), int(words[1]), words[2:2 + O].astype(np.int64)
        res[f"counts_{phase}"].append(counts.tolist())
        res[f"pred_{phase}"].append(pred)
        res[f"cycles_{phase}"].append(cyc)
        res[f"overlap_{phase}"].append(period)
        g_cyc = int(d[f"g_cycles_{phase}"][s])
        beats = self.hw.stream_beats if self.streamed_next else 0
        return (self.mismatch(phase, s, "counts", d[f"g_counts_{phase}"][s], counts)
                or self.mismatch(phase, s, "prediction", d[f"g_pred_{phase}"][s], pred)
                or self.mismatch(phase, s, "cycles", g_cyc, cyc)
                or self.mismatch(phase, s, "overlap_cycles",
                                 cycles.overlap_cycles(g_cyc, beats, self.gap, self.wishbone),
                                 period))

    async def train(self) -> bool:
        cfg, d, res = self.cfg, self.d, self.res
        x, y = d["x_train"], d["y_train"]
        n = len(y)
        B = cfg.batch_size
        O = cfg.n_out
        if self.start["phase"] != "train":
            return True
        for s in range(self.start["next"], n):
            upd = (s + 1) % B == 0 or s == n - 1
            k = s // B
            prog = self.sample_program(x[s], hp.CMD_TRAIN, y[s],
                                       x[s + 1] if s + 1 < n else None)
            if upd:
                prog.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_SAMPLES))
                prog.command(hp.CMD_UPDATE)
                self.ack_irq(prog)
                prog.read(hp.addr(hp.REGION_CTRL, 0, hp.REG_CYCLES))
                self.read_weights(prog, False)
            prog.end()
            words = await self.drv.run(prog, self.sample_bound + upd * self.update_bound)
            bad = self.check_sample("train", s, words)
            if not bad and upd:
                nsamp, ucyc = int(words[4 + O]), int(words[5 + O])
                res["samples_before_update"].append(nsamp)
                res["cycles_update"].append(ucyc)
                bad = self.mismatch("train", s, "samples_register", s - k * B + 1, nsamp, k)
                bad = bad or self.check_weights(words[6 + O:], "train", s, k, d["g_w_hidden"][k],
                                                d["g_w_output"][k])
                if not bad:
                    res["updates_checked"] += 1
            if bad:
                res["stopped"] = {"phase": "train", "sample": s}
                return False
            self.progress("train", s, n)
            self.report_progress("train", s + 1, n)
            if upd:
                self.checkpoint("train", s + 1, d["g_w_hidden"][k], d["g_w_output"][k],
                                force=s == n - 1)
        return True

    async def test(self) -> bool:
        d = self.d
        x = d["x_test"]
        first = self.start["next"] if self.start["phase"] == "test" else 0
        w_final = ((d["g_w_hidden"][-1], d["g_w_output"][-1]) if len(d["g_w_hidden"])
                   else (d["w_hidden0"], d["w_output0"]))
        for s in range(first, len(x)):
            prog = self.sample_program(x[s], hp.CMD_INFER, None,
                                       x[s + 1] if s + 1 < len(x) else None)
            prog.end()
            words = await self.drv.run(prog, self.sample_bound)
            if self.check_sample("test", s, words):
                self.res["stopped"] = {"phase": "test", "sample": s}
                return False
            self.progress("test", s, len(x))
            self.report_progress("test", s + 1, len(x))
            if s + 1 < len(x):
                self.checkpoint("test", s + 1, *w_final)
        return True


async def run_bench(bench: Bench, t_start: float) -> dict:
    """Load, train, test; return the result dict (written to ``p["result"]`` by the caller)."""
    t_loop = time.perf_counter()
    blocked_setup = bench.drv.blocked
    error, interrupted = None, False
    try:
        ok = await bench.load()
        ok = ok and await bench.train()
        ok = ok and await bench.test()
    except HardwareHang as exc:
        error = str(exc)
    except Stop:
        interrupted = True
    t_end = time.perf_counter()
    res = bench.res
    res["error"] = error
    res["interrupted"] = interrupted
    res["sessions"] = bench.sessions
    res["resumed_from"] = bench.start if bench.sessions > 1 else None
    res["total_cycles"] = bench.cycles_total()
    res["programs"] = bench.drv.programs
    res["timing"] = {
        "bench_wall_s": t_end - t_start,
        "loop_wall_s": t_end - t_loop,
        "blocked_s": bench.drv.blocked,
        "blocked_setup_s": blocked_setup,
        "python_s": (t_end - t_start) - bench.drv.blocked,
        "python_share": ((t_end - t_start) - bench.drv.blocked) / max(1e-9, t_end - t_start),
    }
    return res


def check_result(res: dict) -> None:
    """Fail (AssertionError) on a hang or a mismatch, after the result was written."""
    assert res["error"] is None, res["error"]
    if res["mismatches"]:
        m = res["mismatches"][0]
        raise AssertionError(f"{len(res['mismatches'])} mismatch(es) with the golden model; "
                             f"first: {m['phase']} sample {m['sample']}, {m['signal']} "
                             f"{m['index']}: expected {m['expected']}, got {m['actual']}")


@cocotb.test()
async def cosim(dut):
    """Load weights, train on the training samples, infer the test samples; stop on divergence."""
    p = sim_params()
    t_start = time.perf_counter()
    bench = Bench(dut, p)
    Clock(dut.clk, 10, unit="ns", impl="gpi").start()
    dut.go_seq.value = 0
    dut.prog_len.value = 1
    dut.watchdog.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 1)
    res = await run_bench(bench, t_start)
    res["sim_time_ns"] = float(get_sim_time("ns"))
    write_json(p["result"], res, fsync=False, indent=None)
    check_result(res)
