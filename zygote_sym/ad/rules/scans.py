"""Pullbacks of scans and shifts: cumulative sums and products without division."""
from ...ir import build as b
from ...ir.ops import Cumprod, Cumsum, LinRec, Shift


def others(x, axis):
    """The product of all other elements along axis: exclusive cumulative
    products from the left times those from the right, never x divided."""
    return b.mul(Cumprod.make(Shift.make(x, axis, 1, 1), axis, 0),
                 Cumprod.make(Shift.make(x, axis, -1, 1), axis, 1))


def _cumprod(ctx, y, ct):
    """d/dx_i = (product of the elements before i) * s_i with the recurrence
    s_i = ct_i + x_next*s_next: exact where x has zeros, no division."""
    x = y.args[0]
    axis, reverse = y.params
    d = -1 if reverse else 1  # Shift by d: each element's predecessor in scan order
    before = Cumprod.make(Shift.make(x, axis, d, 1), axis, reverse)
    return [b.mul(before, LinRec.make(Shift.make(x, axis, -d, 0), ct, axis, 1 - reverse))]


def _linrec(ctx, y, ct):
    a = y.args[0]
    axis, reverse = y.params
    d = -1 if reverse else 1
    u = LinRec.make(Shift.make(a, axis, -d, 0), ct, axis, 1 - reverse)  # runs the other way
    return [b.mul(u, Shift.make(y, axis, d, 0)), u]


VJPS = {
    Cumsum:  lambda ctx, y, ct: [Cumsum.make(ct, y.params[0], 1 - y.params[1])],
    Cumprod: _cumprod,
    Shift:   lambda ctx, y, ct: [Shift.make(ct, y.params[0], -y.params[1], 0)],
    LinRec:  _linrec,
}
