"""The ECP5 PLL (``EHXPLLL``) that makes the core clock from a board oscillator.

:func:`pll_params` chooses the dividers: the output is ``f_in / CLKI_DIV * CLKFB_DIV`` with the
feedback taken from ``CLKOP`` itself, under the ECP5 limits (phase-detector input 3.125-400 MHz,
VCO ``f_out * CLKOP_DIV`` 400-800 MHz, output 3.125-400 MHz; Lattice TN1263 / FPGA-DS-02012).
The search is over every legal divider triple, exact frequencies first, then the smallest
error; a request that no triple meets within :data:`MAX_CLOCK_ERROR` is refused in one line
naming ``clock_mhz``.  :class:`Ecp5Pll` instantiates the primitive; nextpnr derives the output
clock's constraint from the oscillator's.  Simulation never sees it: the board co-simulation
drives :class:`~intsnn.hw.board.top.BoardTop`, whose clock is an input.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Const, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["PllParams", "pll_params", "Ecp5Pll", "MAX_CLOCK_ERROR"]

#: Largest relative error accepted between the requested and the synthesised clock.
MAX_CLOCK_ERROR = 0.001

_PFD_HZ = (3.125e6, 400e6)
_VCO_HZ = (400e6, 800e6)
_OUT_HZ = (3.125e6, 400e6)


@dataclass(frozen=True)
class PllParams:
    """Divider settings of one EHXPLLL output; ``out_hz`` is what they give exactly."""
    clki_div: int
    clkfb_div: int
    clkop_div: int
    in_hz: float
    out_hz: float
    vco_hz: float

    @property
    def clkop_cphase(self) -> int:
        """Coarse phase of CLKOP: half the output divider (0 degrees at the output, as
        Lattice's and nextpnr's ``ecppll`` generators set it)."""
        return self.clkop_div // 2


def pll_params(in_hz: float, clock_mhz: float) -> PllParams:
    """The EHXPLLL dividers for ``clock_mhz`` from an ``in_hz`` oscillator."""
    if not isinstance(clock_mhz, (int, float)) or isinstance(clock_mhz, bool):
        raise TypeError(f"clock_mhz must be a number, not {clock_mhz!r}")
    want = clock_mhz * 1e6
    if not _OUT_HZ[0] <= want <= _OUT_HZ[1]:
        raise ValueError(f"clock_mhz must be within {_OUT_HZ[0] / 1e6:g}..{_OUT_HZ[1] / 1e6:g} "
                         f"(the ECP5 PLL output range), not {clock_mhz!r}")
    best = None
    for clki_div in range(1, 129):
        pfd = in_hz / clki_div
        if not _PFD_HZ[0] <= pfd <= _PFD_HZ[1]:
            continue
        for clkfb_div in range(1, 81):
            out = pfd * clkfb_div
            if not _OUT_HZ[0] <= out <= _OUT_HZ[1]:
                continue
            for clkop_div in range(1, 129):
                vco = out * clkop_div
                if vco < _VCO_HZ[0]:
                    continue
                if vco > _VCO_HZ[1]:
                    break
                # exact first, then the error; among equals the VCO nearest the middle
                key = (abs(out - want), abs(vco - 600e6))
                if best is None or key < best[0]:
                    best = (key, PllParams(clki_div, clkfb_div, clkop_div, in_hz, out, vco))
    if best is None or best[0][0] > MAX_CLOCK_ERROR * want:
        got = "" if best is None else f" (nearest {best[1].out_hz / 1e6:.4f} MHz)"
        raise ValueError(f"clock_mhz {clock_mhz!r} cannot be made from a {in_hz / 1e6:g} MHz "
                         f"oscillator within {100 * MAX_CLOCK_ERROR:g} %{got}")
    return best[1]


class Ecp5Pll(wiring.Component):
    """One EHXPLLL: ``clk_out`` from ``clk_in``; ``locked`` once the loop has settled.

    Parameters
    ----------
    params : :class:`PllParams`
    """

    def __init__(self, *, params):
        if not isinstance(params, PllParams):
            raise TypeError(f"params must be a PllParams, not {params!r}")
        self._params = params
        super().__init__({"clk_in": In(1), "clk_out": Out(1), "locked": Out(1)})

    @property
    def params(self) -> PllParams:
        return self._params

    def elaborate(self, platform):
        p = self._params
        m = Module()
        clkop = Signal()
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{p.in_hz / 1e6:g}",
            a_FREQUENCY_PIN_CLKOP=f"{p.out_hz / 1e6:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
            p_CLKI_DIV=p.clki_div, p_CLKFB_DIV=p.clkfb_div, p_CLKOP_DIV=p.clkop_div,
            p_CLKOP_CPHASE=p.clkop_cphase, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
            i_CLKI=self.clk_in, i_CLKFB=clkop, i_RST=Const(0), i_STDBY=Const(0),
            i_PHASESEL0=Const(0), i_PHASESEL1=Const(0), i_PHASEDIR=Const(1),
            i_PHASESTEP=Const(1), i_PHASELOADREG=Const(1), i_PLLWAKESYNC=Const(0),
            i_ENCLKOP=Const(0), o_CLKOP=clkop, o_LOCK=self.locked)
        m.d.comb += self.clk_out.eq(clkop)
        return m
