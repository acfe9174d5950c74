"""Selects and constructors: where, select, clip, zeros_like and friends,
copy; `np.iscomplex` and friends (questions about a real value); and
`np.array`/`np.asarray` of traced values and `np.r_[...]`/`np.c_[...]`
(LIBRARY, INDEXERS: NumPy converts their arguments before any dispatch, so
these run through trace/library.py's proxies)."""
import numpy as np

from ...ir.select import where as select_node
from ..lazy import Lazy
from ..tracer import Tracer, is_complex
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
# a tracer is real (complex values are trace/complex.py's): NumPy's answers for its
# value, which depend on its dtype and shape alone (a deferred value, lazy.py, stays so;
# pytree.flatten asks np.iscomplexobj of every output)
HANDLERS.update({fn: (lambda fn: lambda x: fn(np.broadcast_to(np.zeros((), x.dtype), x.shape)
                                              if isinstance(x, Tracer) and isinstance(
                                                  x.held, Lazy) else value_of(x)))(fn)
                 for fn in (np.iscomplex, np.isreal, np.iscomplexobj, np.isrealobj)})
HANDLERS[np.real_if_close] = lambda a, tol=100: a


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
    if is_complex(object) and (dtype is None or np.dtype(dtype).kind == "c"):
        return _stacked(object)  # complex values are traced as pairs: np.stack builds them
    x = as_tracer(trace_of([object]), object)
    if dtype is not None:
        kind = np.dtype(dtype).kind
        if kind == "c":
            raise no_rule("np.array with a complex dtype")
        x = x.astype(dtype) if kind in "iub" else x
    if ndmin > x.ndim:
        x = reshape(x, (1,) * (ndmin - x.ndim) + x.shape)
    return x.copy() if copy and x is object else x


def _stacked(v):
    """Nested lists as np.stack of np.stack (np.array's rules for equal shapes)."""
    return np.stack([_stacked(u) for u in v]) if isinstance(v, (list, tuple)) else v


def asarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    return array(a, dtype, copy=bool(copy))


LIBRARY = {np.array: array, np.asarray: asarray, np.asanyarray: asarray,
           np.ascontiguousarray: lambda a, dtype=None, *, like=None: array(a, dtype, copy=False)}


def _concatenator(axis, ndmin, trans1d):
    """`np.r_[...]` (axis 0, ndmin 1) and `np.c_[...]` (axis -1, ndmin 2, 1-D
    items as columns) of traced values, by NumPy's AxisConcatenator rules:
    each item an array of at least `ndmin` dimensions (a low-dimensional
    one's axes moved to `trans1d`), a slice an `arange`, then concatenated."""
    def index(key):
        parts = []
        for item in key if isinstance(key, tuple) else (key,):
            if isinstance(item, str):
                raise no_rule(f"np.r_/np.c_ with the directive {item!r}; use np.concatenate")
            if isinstance(item, slice):
                parts.append(np.r_[item])
                continue
            x = array(item, ndmin=ndmin, copy=False) if trace_of([item]) is not None else \
                np.array(item, ndmin=ndmin)
            k2 = ndmin - np.ndim(item)
            if trans1d != -1 and k2 > 0 and np.ndim(item) > 0:
                k1 = trans1d + (k2 + 1 if trans1d < 0 else 0)
                axes = list(range(ndmin))
                x = np.transpose(x, axes[:k1] + axes[k2:] + axes[k1:k2])
            parts.append(x)
        return np.concatenate(parts, axis=axis)
    return index


# NumPy's index-expression constructors: {object: traced implementation of obj[key]}
INDEXERS = {np.r_: _concatenator(0, 1, -1), np.c_: _concatenator(-1, 2, 0)}
