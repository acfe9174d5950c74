"""Pullbacks of reductions: one rule per op, `rule(ctx, y, ct)` -> [cotangent]."""
import numpy as np

from ...ir import build as b
from ...ir.ops import LogSumExp, Max, Min, Norm, Prod, Softmax, Sum
from ...ir.select import pick
from ...ir.special import safe
from .scans import others


def kept(y, node, shapes):
    """`y`, shaped like the reduction `node`, made to broadcast against its
    operand: the reduced axes back as size 1 unless they are the leading ones."""
    axes, keep = node.params
    if keep or axes == tuple(range(len(axes))):
        return y
    x_shape = shapes(node.args[0])
    return b.reshape(y, tuple(1 if i in axes else n for i, n in enumerate(x_shape)), shapes)


def _extremum(ctx, y, ct):
    """Ties share the cotangent equally (as the elementwise Max rule)."""
    hit = b.relation("==", y.args[0], kept(y, y, ctx.shapes))
    share = b.div(kept(ct, y, ctx.shapes), Sum.make(hit, y.params[0], True))
    return [pick(hit, share, b.ZERO)]


def _norm(ctx, y, ct):
    """ct*x/norm, 0 where the norm is 0 (the minimum-norm subgradient)."""
    n = kept(y, y, ctx.shapes)
    nonzero = b.call(safe, n, b.relation("!=", n, b.ZERO), b.ONE)
    return [b.mul(kept(ct, y, ctx.shapes), y.args[0], b.pow_(nonzero, b.NEG_ONE))]


def _prod(ctx, y, ct):
    """ct times the product of all *other* elements, never x divided."""
    x, shapes = y.args[0], ctx.shapes
    axes, _ = y.params
    if len(axes) == 1:
        return [b.mul(others(x, axes[0]), kept(ct, y, shapes))]
    shape = shapes(x)  # several axes: move them to the end as one
    perm = tuple(i for i in range(len(shape)) if i not in axes) + tuple(axes)
    moved = tuple(shape[i] for i in perm)
    last = len(shape) - len(axes)
    flat = b.reshape(b.transpose(x, perm), moved[:last] + (int(np.prod(moved[last:])),), shapes)
    back = b.transpose(b.reshape(others(flat, last), moved, shapes), b.inverse_perm(perm))
    return [b.mul(back, kept(ct, y, shapes))]


VJPS = {
    Sum:       lambda ctx, y, ct: [kept(ct, y, ctx.shapes)],
    Max:       _extremum,
    Min:       _extremum,
    LogSumExp: lambda ctx, y, ct: [b.mul(kept(ct, y, ctx.shapes),
                                         Softmax.make(y.args[0], y.params[0]))],
    Norm:      _norm,
    Prod:      _prod,
    # J^T ct = s*(ct - sum(ct*s))
    Softmax:   lambda ctx, y, ct: [b.mul(y, b.sub(ct, Sum.make(b.mul(ct, y), y.params[0], True)))],
}
