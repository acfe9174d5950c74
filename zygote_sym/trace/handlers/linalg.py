"""Linear algebra: norm, det, inv, solve."""
import numpy as np

from ...errors import NoRuleError
from ...ir import ops
from .common import apply, axes_of, reduce, table
from .products import pair
from .shapes import reshape, squeeze

HANDLERS, handles = table()


@handles(np.linalg.norm)
def norm(x, ord=None, axis=None, keepdims=False):
    axes = axes_of(axis, x.ndim)
    a = abs(x)
    if ord is None or (ord == "fro" and len(axes) == 2) or (ord == 2 and len(axes) == 1):
        return np.sqrt(reduce(ops.Sum, a * a, axes, keepdims))
    if len(axes) == 1 and not isinstance(ord, str):
        if ord == np.inf:
            return reduce(ops.Max, a, axes, keepdims)
        if ord == -np.inf:
            return reduce(ops.Min, a, axes, keepdims)
        if ord == 0:
            return reduce(ops.Sum, x != 0, axes, keepdims)
        return reduce(ops.Sum, a ** ord, axes, keepdims) ** (1 / ord) if ord != 1 \
            else reduce(ops.Sum, a, axes, keepdims)
    if len(axes) == 2 and ord in (1, -1, np.inf, -np.inf):
        inner_axis, outer_axis = axes if abs(ord) == 1 else axes[::-1]
        pick = ops.Max if ord > 0 else ops.Min
        r = reduce(pick, reduce(ops.Sum, a, inner_axis, True), outer_axis, True)
        return r if keepdims else squeeze(r, axes)
    raise NoRuleError(f"np.linalg.norm with ord={ord!r} over {len(axes)} axes on traced "
                      "values (matrix 2-norm and nuclear norm need an SVD rule)")


HANDLERS[np.linalg.det] = lambda a: apply(ops.Det.make, [a])
HANDLERS[np.linalg.inv] = lambda a: apply(ops.Inv.make, [a])


@handles(np.linalg.solve)
def solve(a, b):
    a, b = pair(a, b)
    if b.ndim == 1:  # NumPy 2: a 1-D b is one right-hand side
        r = apply(ops.Solve.make, [a, reshape(b, b.shape + (1,))])
        return reshape(r, r.shape[:-1])
    return apply(ops.Solve.make, [a, b])
