"""Pullbacks of linear algebra (Giles, "An extended collection of matrix
derivative results for forward and reverse mode AD", 2008)."""
from ...ir import build as b
from ...ir.ops import Det, Inv, MatMul, Solve


def _det(ctx, y, ct):
    """ct * det(A) * A^-T."""
    scale, shapes = b.mul(ct, y), ctx.shapes
    if shapes(y):  # a stack: one factor per matrix
        scale = b.reshape(scale, shapes(y) + (1, 1), shapes)
    return [b.mul(scale, b.swap_last(Inv.make(y.args[0]), shapes))]


def _inv(ctx, y, ct):
    """-A^-T ct A^-T."""
    t = b.swap_last(y, ctx.shapes)
    return [b.neg(MatMul.make(MatMul.make(t, ct), t))]


def _solve(ctx, y, ct):
    """x = A^-1 B: dB = A^-T ct, dA = -dB x^T."""
    (a, c), shapes = y.args, ctx.shapes
    gc = Solve.make(b.swap_last(a, shapes), ct)
    ga = b.neg(MatMul.make(gc, b.swap_last(y, shapes)))
    batch = shapes(y)[:-2]
    return [b.sum_to(ga, batch + shapes(a)[-2:], shapes(a)), b.sum_to(gc, shapes(y), shapes(c))]


VJPS = {Det: _det, Inv: _inv, Solve: _solve}
