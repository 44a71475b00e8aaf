"""Combinational lane units of the training core, each the twin of a golden function.

=========================  =============================================================
unit                       golden twin
=========================  =============================================================
:class:`NeuronUnit`        ``ops.lif_voltage`` (saturation) + ``spike`` + ``pseudo_grad``
                           + ``hard_reset`` + the next step's decay ``V_s >> beta``
                           + ``b16`` (RSNN)
:class:`UpdateUnit`        ``ops.weight_update`` (one synapse)
:class:`ErrorUnit`         ``ops.prediction_error`` (one output, every loss)
:class:`ErrorNeuronUnit`   ``reference._error_neurons`` (one output's pair, one step)
=========================  =============================================================

The engines instantiate ``lanes`` copies of each; ``tests/test_hw_units.py`` checks them
against the golden functions on random operands.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..golden.config import NetConfig, bits_signed
from .config import acc_bits, b16_range, delta_bits

__all__ = ["NeuronUnit", "UpdateUnit", "ErrorUnit", "ErrorNeuronUnit", "check_layer",
           "check_net"]

LAYERS = ("hidden", "output")


def check_net(net) -> NetConfig:
    """``net`` if it is a :class:`NetConfig`, else ``TypeError``."""
    if not isinstance(net, NetConfig):
        raise TypeError(f"net must be a NetConfig, not {net!r}")
    return net


def check_layer(layer) -> str:
    """``layer`` if it is ``"hidden"`` or ``"output"``, else ``ValueError`` (a typo must not
    silently build the other layer)."""
    if layer not in LAYERS:
        raise ValueError(f"layer must be 'hidden' or 'output', not {layer!r}")
    return layer


class NeuronUnit(wiring.Component):
    """One LIF neuron step from its accumulator (eqs. 3.2, 2.2, 3.3, hard reset).

    Parameters
    ----------
    net : :class:`NetConfig`.  layer : ``"hidden"`` or ``"output"``.

    Members
    -------
    acc : In, ``(V_s(t-1) >> beta) + current`` (exact).  last : In, the last time step (the
        next accumulator and B16 are then 0, ready for the next sample).
    v : Out, the saturated pre-reset voltage.  spike, pg : Out.
    acc_next : Out, ``V_s(t) >> beta`` (or 0).  q : Out, ``V(t) >> rec_shift``
        (``V_s(t) >> rec_shift`` for ``rec_source="post_reset"``; or 0).
    """

    def __init__(self, *, net, layer):
        self._cfg = cfg = check_net(net)
        self._layer = check_layer(layer)
        aw = acc_bits(cfg, layer)
        vb = cfg.hidden_voltage_bits if layer == "hidden" else cfg.output_voltage_bits
        self._vb = vb
        qlo, qhi = b16_range(cfg)
        super().__init__({
            "acc": In(signed(aw)), "last": In(1),
            "v": Out(signed(vb)), "spike": Out(1), "pg": Out(1),
            "acc_next": Out(signed(aw)), "q": Out(signed(bits_signed(qlo, qhi))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        p = cfg.hidden if self._layer == "hidden" else cfg.output
        vmax, vmin = (1 << (self._vb - 1)) - 1, -(1 << (self._vb - 1))
        v = Mux(self.acc > vmax, vmax, Mux(self.acc < vmin, vmin, self.acc))
        m.d.comb += self.v.eq(v)
        diff = self.v - p.threshold
        m.d.comb += [
            self.spike.eq(self.v > p.threshold),
            self.pg.eq((diff < p.window) & (diff > -p.window)),
            self.acc_next.eq(Mux(self.last | self.spike, 0, self.v >> cfg.beta_shift)),
            # B16 of the next step: V(t) >> rec_shift, or V_s(t) >> rec_shift (0 after a
            # spike's hard reset) for rec_source="post_reset"
            self.q.eq(Mux(self.last | self.spike if cfg.rec_source == "post_reset"
                          else self.last, 0, self.v >> cfg.rec_shift)),
        ]
        return m


class UpdateUnit(wiring.Component):
    """Eqs. 3.18 + 3.27 for one synapse: ``sat_S(W - step(Delta) - (W >> wd))``.

    Parameters
    ----------
    net : :class:`NetConfig`.  layer : ``"hidden"`` or ``"output"`` (its lr/wd shifts).
    registered : bool
        Register the clipped step, the decay and ``w`` (:attr:`latency` 1): the wide
        shift-and-clip of the delta and the saturating subtraction are then two cycles' paths.

    Members
    -------
    w : In, shadow weight (S bits).  delta : In, batch accumulator (the layer's
    :func:`~intsnn.hw.config.delta_bits`).  w_new : Out, :attr:`latency` cycles later.
    """

    def __init__(self, *, net, layer, registered=False):
        if not isinstance(registered, bool):
            raise TypeError(f"registered must be a bool, not {registered!r}")
        self._registered = registered
        self._cfg = cfg = check_net(net)
        self._p = cfg.hidden if check_layer(layer) == "hidden" else cfg.output
        super().__init__({
            "w": In(signed(cfg.shadow_bits)),
            "delta": In(signed(delta_bits(cfg, layer))),
            "w_new": Out(signed(cfg.shadow_bits)),
        })

    @property
    def latency(self) -> int:
        """Cycles from ``w``/``delta`` to ``w_new``."""
        return int(self._registered)

    def elaborate(self, platform):
        m = Module()
        cfg, p = self._cfg, self._p
        c = cfg.clip

        def clip(x):
            return Mux(x > c, c, Mux(x < -c, -c, x))

        if cfg.clip_order == "shift_then_clip":
            step = clip(self.delta >> p.lr_shift)
        else:
            step = clip(self.delta) >> p.lr_shift
        decay = (self.w >> p.wd_shift) if p.wd_shift is not None else 0
        w = self.w
        if self._registered:
            # |step| <= clip and the decay fits S bits: narrow registers
            r_step = Signal(signed(bits_signed(-c, c)))
            r_decay = Signal(signed(cfg.shadow_bits))
            r_w = Signal(signed(cfg.shadow_bits))
            m.d.sync += [r_step.eq(step), r_decay.eq(decay), r_w.eq(w)]
            step, decay, w = r_step, r_decay, r_w
        new = w - step - decay
        m.d.comb += self.w_new.eq(Mux(new > cfg.shadow_max, cfg.shadow_max,
                                      Mux(new < cfg.shadow_min, cfg.shadow_min, new)))
        return m


class ErrorUnit(wiring.Component):
    """Eqs. 3.6-3.8 for one output: ``e = (count * alpha) >> floor(log2 T) - [o == label] *
    alpha``; a zero ``e`` becomes 1 (``loss="positive"``, eq. 3.7) or ``noise``
    (``loss="random"``, eq. 3.8).

    Parameters
    ----------
    net : :class:`NetConfig`.

    Members
    -------
    count : In.  is_label : In.  valid : In (0 for padding lanes: e = 0).
    noise : In, the output's random-loss noise in {-1, 0, 1} (read only for ``loss="random"``).
    e : Out.
    """

    def __init__(self, *, net):
        self._cfg = cfg = check_net(net)
        super().__init__({
            "count": In(unsigned(cfg.count_bits)), "is_label": In(1), "valid": In(1),
            "noise": In(signed(2)), "e": Out(signed(cfg.widths()["error"])),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        e = ((self.count * cfg.alpha) >> cfg.log2_t) - Mux(self.is_label, cfg.alpha, 0)
        if cfg.loss == "positive":
            e = Mux(e == 0, 1, e)
        elif cfg.loss == "random":
            e = Mux(e == 0, self.noise, e)
        m.d.comb += self.e.eq(Mux(self.valid, e, 0))
        return m


class ErrorNeuronUnit(wiring.Component):
    """One step of an output's positive and negative error neurons (eqs. 3.9-3.13).

    ``v+ <- v+ - th * [v+ > th] + e``, ``v- <- v- - th * [v- > th] - e`` (soft reset by
    ``th = fb_threshold``: the previous step's spike is ``[v > th]`` of the stored voltage),
    ``ds = [v+ > th] - [v- > th]``.  With ``first`` the neurons start from rest (0), which is
    the whole of the Final mode (one step from rest) and the first Feedback step.

    Parameters
    ----------
    net : :class:`NetConfig`.  bits : voltage width
        (:attr:`~intsnn.hw.config.HwConfig.error_neuron_bits`; never overflows).

    Members
    -------
    v_pos, v_neg : In, the stored voltages.  first : In.  e : In, the error of the step.
    v_pos_next, v_neg_next : Out.  ds : Out, ``s+ - s-`` in {-1, 0, 1}.
    """

    def __init__(self, *, net, bits):
        self._cfg = cfg = check_net(net)
        if not isinstance(bits, int) or isinstance(bits, bool) or bits < 2:
            raise TypeError(f"bits must be an integer >= 2, not {bits!r}")
        super().__init__({
            "v_pos": In(signed(bits)), "v_neg": In(signed(bits)), "first": In(1),
            "e": In(signed(cfg.widths()["error"])),
            "v_pos_next": Out(signed(bits)), "v_neg_next": Out(signed(bits)),
            "ds": Out(signed(2)),
        })

    def elaborate(self, platform):
        m = Module()
        th = self._cfg.fb_threshold

        def rest(v):   # the voltage after the previous step's soft reset
            return Mux(self.first, 0, v - Mux(v > th, th, 0))

        m.d.comb += [self.v_pos_next.eq(rest(self.v_pos) + self.e),
                     self.v_neg_next.eq(rest(self.v_neg) - self.e)]
        s_pos, s_neg = self.v_pos_next > th, self.v_neg_next > th
        m.d.comb += self.ds.eq(Mux(s_pos == s_neg, 0, Mux(s_pos, 1, -1)))
        return m
