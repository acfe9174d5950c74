"""Pullbacks of ops that only move elements: broadcasts, transposes,
reshapes, concatenation, gathers and scatters."""
from ...ir import build as b
from ...ir.ops import (Band, BroadcastTo, Concatenate, Index, Reshape, Scatter, SetItem, SumTo,
                       Transpose)


def _concatenate(ctx, y, ct):
    axis, start, grads = y.params[0], 0, []
    for x in y.operands:
        stop = start + ctx.shapes(x)[axis]
        grads.append(Index.make(ct, ", ".join([":"] * axis + [f"{start}:{stop}"])))
        start = stop
    return grads


def _setitem(ctx, y, ct):
    """x's cotangent is ct with the assigned places zeroed; v's is ct gathered."""
    x, v, *arrays = y.operands
    key = y.params[0]
    gathered = Index.make(ct, *arrays, key)
    return [SetItem.make(ct, b.ZERO, *arrays, key),
            b.sum_to(gathered, ctx.shapes(gathered), ctx.shapes(v))] + [None] * len(arrays)


VJPS = {
    BroadcastTo: lambda ctx, y, ct: [b.sum_to(ct, y.params[0], ctx.shapes(y.args[0]))],
    SumTo:       lambda ctx, y, ct: [ct],  # already broadcastable to the operand's shape
    Transpose:   lambda ctx, y, ct: [b.transpose(ct, b.inverse_perm(y.params[0]))],
    Reshape:     lambda ctx, y, ct: [b.reshape(ct, ctx.shapes(y.args[0]), ctx.shapes)],
    Concatenate: _concatenate,
    Index:       lambda ctx, y, ct: [Scatter.make(ct, *y.operands[1:], y.key,
                                                  ctx.shapes(y.operands[0]))]
                 + [None] * (y.nops - 1),
    Scatter:     lambda ctx, y, ct: [Index.make(ct, *y.operands[1:], y.params[0])]
                 + [None] * (y.nops - 1),
    SetItem:     _setitem,
    Band:        lambda ctx, y, ct: [Band.make(ct, *y.params)],
}
