"""Building lane-packed words (``ArrayLayout``s of lanes, or of time slots of lanes).

Why not ``view[lane].eq(...)`` per lane or ``view[slot][lane]`` with a signal ``slot``:
Amaranth checks combinational cycles bit by bit, following for every output bit of a cell every
input bit it may depend on.  A wide word assigned lane by lane is one assignment list whose every
bit is checked against every assignment, and a signal index into a whole history word
(``T * lanes`` elements) makes every selected bit depend on every bit of the word: both grow
with the square (the latter with the cube) of the lane count and made elaboration at 64 lanes
take many minutes.  These helpers keep every cell linear in the lanes.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Signal

__all__ = ["pack", "replicate_slots", "slot_of_lane"]


def pack(m: Module, values, elem_shape, name: str = "lane"):
    """One value per lane -> the lane-packed word (a ``Cat`` of ``elem_shape`` signals)."""
    lanes = []
    for j, v in enumerate(values):
        s = Signal(elem_shape, name=f"{name}{j}")
        m.d.comb += s.eq(v)
        lanes.append(s)
    return Cat(lanes)


def replicate_slots(word, slots: int):
    """A word of lanes repeated in every time slot (a slot write enable picks the slot)."""
    return Cat(*[word] * slots)


def slot_of_lane(history, slot, lane: int):
    """Element ``lane`` of time slot ``slot`` (a signal) of a slot-major history word."""
    return Array(history[tt][lane] for tt in range(len(history)))[slot]
