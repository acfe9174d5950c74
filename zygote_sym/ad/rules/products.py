"""Pullbacks of products: einsum and matmul."""
import sympy as sp

from ...ir import build as b
from ...ir.ops import BroadcastTo, Einsum, MatMul


def _einsum(ctx, y, ct):
    """Each operand's cotangent is the einsum of ct with the other operands."""
    ins, out = y.terms
    grads = []
    for k, term in enumerate(ins):
        others = [(t, x) for j, (t, x) in enumerate(zip(ins, y.operands)) if j != k]
        seen = set(out).union(*[t for t, _ in others])
        kept = "".join(c for c in term if c in seen)
        terms, xs, scale = [out] + [t for t, _ in others], [ct] + [x for _, x in others], b.ONE
        if not out:  # a scalar cotangent is a factor, not an einsum operand
            terms, xs, scale = terms[1:], xs[1:], ct
        gk = b.mul(scale, b.einsum(xs, ",".join(terms) + "->" + kept))
        if kept != term:  # indices summed within operand k alone: broadcast back
            shape = ctx.shapes(y.operands[k])
            ones = tuple(n if c in seen else 1 for c, n in zip(term, shape))
            scalar = isinstance(gk, sp.Number)
            gk = BroadcastTo.make(gk if scalar else b.reshape(gk, ones, ctx.shapes), shape)
        grads.append(gk)
    return grads


def _matmul(ctx, y, ct):
    (a, c), shapes = y.args, ctx.shapes
    batch = shapes(y)[:-2]
    ga = MatMul.make(ct, b.swap_last(c, shapes))
    gc = MatMul.make(b.swap_last(a, shapes), ct)
    return [b.sum_to(ga, batch + shapes(a)[-2:], shapes(a)),
            b.sum_to(gc, batch + shapes(c)[-2:], shapes(c))]


VJPS = {Einsum: _einsum, MatMul: _matmul}
