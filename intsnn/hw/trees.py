"""Balanced reductions over lanes: adder trees, argmax, lowest set bit.

Every per-lane reduction of the core goes through :func:`tree`, so its logic depth is
``log2(lanes)`` and its size linear in ``lanes``.  A node that uses an operand twice (argmax:
compare, then select) gets its own ``Signal``: an expression that reused its inputs twice per
stage would double with every stage (a ripple argmax over 16 lanes does not fit yosys in 8 GB).
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, Value
from amaranth.utils import ceil_log2

__all__ = ["tree", "adder_tree", "argmax_tree", "lowest_set"]


def tree(items, combine):
    """Reduce ``items`` pairwise, left before right, in ``ceil(log2 n)`` levels."""
    items = list(items)
    if not items:
        raise ValueError("tree of no items")
    while len(items) > 1:
        items = [combine(items[a], items[a + 1]) if a + 1 < len(items) else items[a]
                 for a in range(0, len(items), 2)]
    return items[0]


def adder_tree(terms):
    """``sum(terms)`` as a balanced tree of adders (widths grow as Amaranth's ``+`` does)."""
    return tree(terms, lambda a, b: a + b)


def argmax_tree(m: Module, leaves, name: str = "argmax"):
    """``(found, value, index)`` of the largest ``value`` among valid leaves, lowest index on
    ties (as ``numpy.argmax``): the golden model's prediction.

    ``leaves``: ``(valid, value, index)`` in index order.  Nodes are registered as ``Signal``s
    so each stage references the previous one once.
    """
    leaves = [(f, Value.cast(v), Value.cast(i)) for f, v, i in leaves]
    index_width = max(len(i) for _, _, i in leaves)
    level = [0]

    def combine(a, b):
        (fa, va, ia), (fb, vb, ib) = a, b
        n = f"{name}_{level[0]}"
        level[0] += 1
        take_b = Signal(name=n + "_take")
        f, v, i = Signal(name=n + "_f"), Signal.like(va, name=n + "_v"), \
            Signal(index_width, name=n + "_i")
        # strictly greater: the lower index (a) wins ties
        m.d.comb += [take_b.eq(fb & (~fa | (vb > va))),
                     f.eq(fa | fb), v.eq(Mux(take_b, vb, va)), i.eq(Mux(take_b, ib, ia))]
        return f, v, i

    return tree(leaves, combine)


def lowest_set(m: Module, mask, name: str = "lowest"):
    """``(found, index)`` of the lowest set bit of ``mask`` (a balanced priority encoder)."""
    n = len(mask)
    width = max(1, ceil_log2(n))
    leaves = [(mask[j], Const(j, width)) for j in range(n)]
    level = [0]

    def combine(a, b):
        (fa, ia), (fb, ib) = a, b
        f, i = Signal(name=f"{name}_{level[0]}_f"), Signal(width, name=f"{name}_{level[0]}_i")
        level[0] += 1
        m.d.comb += [f.eq(fa | fb), i.eq(Mux(fa, ia, ib))]
        return f, i

    return tree(leaves, combine)
