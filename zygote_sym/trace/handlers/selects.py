"""Selects and constructors: where, select, clip, zeros_like and friends,
copy; and `np.array`/`np.asarray` of traced values (LIBRARY: NumPy converts
its argument before any dispatch, so these run through trace/library.py's
proxies)."""
import numpy as np

from ...ir.select import where as select_node
from .common import apply, as_tracer, no_rule, table, trace_of, unsupported, value_of, zeros
from .shapes import reshape

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


def array(object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None):
    """np.array of traced values: the tracer itself (float dtypes), a step
    of zero derivative (integer and bool dtypes)."""
    x = as_tracer(trace_of([object]), object)
    if dtype is not None:
        kind = np.dtype(dtype).kind
        if kind == "c":
            raise no_rule("np.array with a complex dtype")
        x = x.astype(dtype) if kind in "iub" else x
    if ndmin > x.ndim:
        x = reshape(x, (1,) * (ndmin - x.ndim) + x.shape)
    return x.copy() if copy and x is object else x


def asarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    return array(a, dtype, copy=bool(copy))


LIBRARY = {np.array: array, np.asarray: asarray, np.asanyarray: asarray,
           np.ascontiguousarray: lambda a, dtype=None, *, like=None: array(a, dtype, copy=False)}
