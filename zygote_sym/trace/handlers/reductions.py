"""Reductions and scans: sum, prod, max, min, mean, var, std, cumsum, cumprod,
and the ufunc `.reduce` methods (REDUCERS)."""
import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from ...ir import ops
from .common import apply, axes_of, reduce, table, unsupported
from .shapes import ravel

HANDLERS, handles = table()


def _reducer(cls, name, default_axis=None):
    def handler(a, axis=default_axis, dtype=None, out=None, keepdims=False, **kw):
        unsupported(name, out, **kw)
        return reduce(cls, a, axis, keepdims)
    return handler


HANDLERS.update({np.sum: _reducer(ops.Sum, "sum"), np.prod: _reducer(ops.Prod, "prod")})
REDUCERS: dict = {np.add: _reducer(ops.Sum, "add.reduce", 0),
                 np.multiply: _reducer(ops.Prod, "multiply.reduce", 0)}


@handles(np.max, np.amax)
def _max(a, axis=None, out=None, keepdims=False, **kw):
    unsupported("max", out, **kw)
    return reduce(ops.Max, a, axis, keepdims)


@handles(np.min, np.amin)
def _min(a, axis=None, out=None, keepdims=False, **kw):
    unsupported("min", out, **kw)
    return reduce(ops.Min, a, axis, keepdims)


REDUCERS.update({np.maximum: lambda a, axis=0, **kw: _max(a, axis, **kw),
                 np.minimum: lambda a, axis=0, **kw: _min(a, axis, **kw)})


def _count(x, axis):
    return int(np.prod([x.shape[i] for i in axes_of(axis, x.ndim)]))


@handles(np.mean)
def mean(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    unsupported("mean", out, **kw)
    return reduce(ops.Sum, a, axis, keepdims) / _count(a, axis)


@handles(np.var)
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    unsupported("var", out, **kw)
    d = a - mean(a, axis, keepdims=True)
    return reduce(ops.Sum, d * d, axis, keepdims) / (_count(a, axis) - ddof)


@handles(np.std)
def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    unsupported("std", out, **kw)
    return np.sqrt(var(a, axis, ddof=ddof, keepdims=keepdims))


def _scan(cls, name):
    def handler(a, axis=None, dtype=None, out=None):
        unsupported(name, out)
        if axis is None:  # NumPy scans the flattened array
            a, axis = ravel(a), 0
        return apply(cls.make, [a], normalize_axis_index(axis, a.ndim), False)
    return handler


HANDLERS.update({np.cumsum: _scan(ops.Cumsum, "cumsum"),
                  np.cumprod: _scan(ops.Cumprod, "cumprod")})
