"""Selects and constructors: where, select, clip, zeros_like and friends, copy."""
import numpy as np

from ...ir.select import where as select_node
from .common import apply, as_tracer, table, trace_of, unsupported, value_of, zeros

HANDLERS, handles = table()


@handles(np.zeros_like, np.empty_like)
def _zeros_like(a, dtype=None, order="K", subok=True, shape=None, **kw):
    return zeros(a.trace, a.shape if shape is None else shape, dtype or a.dtype)


@handles(np.ones_like)
def _ones_like(a, dtype=None, order="K", subok=True, shape=None, **kw):
    return _zeros_like(a, dtype, shape=shape) + 1


@handles(np.full_like)
def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, **kw):
    return _zeros_like(a, dtype, shape=shape) + fill_value


HANDLERS[np.copy] = lambda a, order="K", subok=False: a.copy()


@handles(np.where)
def where(condition, x=None, y=None):
    if x is None and y is None:
        return np.nonzero(value_of(condition))
    return apply(select_node, [condition, x, y])


@handles(np.select)
def select(condlist, choicelist, default=0):
    trace = trace_of([condlist, choicelist, default])
    out = as_tracer(trace, default)
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = where(cond, choice, out)
    return out


@handles(np.clip)
def clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None, **kw):
    unsupported("clip", out, **kw)
    lo, hi = (a_min if a_min is not None else min), (a_max if a_max is not None else max)
    out = a if lo is None else np.maximum(a, lo)
    return out if hi is None else np.minimum(out, hi)
