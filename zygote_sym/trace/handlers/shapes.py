"""Shape manipulation: reshape, ravel, squeeze, expand_dims, atleast_nd,
transpose, swapaxes, moveaxis, broadcast_to, concatenate, stack and the
hstack family.  Reshapes and transposes are views: assigning into one
writes through to the array it views."""
import operator

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from ...errors import NoRuleError
from ...ir import ops
from ...ir.build import inverse_perm
from .common import apply, as_tracer, table, trace_of, unsupported, view

HANDLERS, handles = table()


def _new_shape(size, shape):
    shape = (shape,) if np.ndim(shape) == 0 else tuple(operator.index(n) for n in shape)
    if -1 in shape:
        known = int(np.prod([n for n in shape if n != -1]))
        shape = tuple(size // known if n == -1 else n for n in shape)
    if int(np.prod(shape)) != size:
        raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
    return shape


def reshape(x, shape):
    shape = _new_shape(x.size, shape)
    if shape == x.shape:
        return x
    base_shape = x.shape
    return view(apply(ops.Reshape.make, [x], shape), x, lambda v: reshape(v, base_shape))


@handles(np.reshape)
def _reshape(a, shape=None, order="C", **kw):
    if order != "C" or kw:
        raise NoRuleError("np.reshape on traced values supports order='C' only")
    return reshape(a, shape)


@handles(np.ravel)
def ravel(a, order="C"):
    return _reshape(a, -1, order)


@handles(np.squeeze)
def squeeze(a, axis=None):
    axes = [i for i, n in enumerate(a.shape) if n == 1] if axis is None else \
        normalize_axis_tuple(axis, a.ndim)
    return reshape(a, [n for i, n in enumerate(a.shape) if i not in axes])


@handles(np.expand_dims)
def expand_dims(a, axis):
    axes = normalize_axis_tuple(axis, a.ndim + (1 if np.ndim(axis) == 0 else len(axis)))
    shape = iter(a.shape)
    return reshape(a, [1 if i in axes else next(shape) for i in range(a.ndim + len(axes))])


_ATLEAST = {  # shape -> padded shape, as np.atleast_1d/2d/3d
    1: lambda s: (1,) * (1 - len(s)) + s,
    2: lambda s: (1,) * (2 - len(s)) + s,
    3: lambda s: {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}.get(len(s), s),
}


def _atleast(ndim):
    def handler(*arys):
        trace = trace_of(arys)
        out = [reshape(a, _ATLEAST[ndim](a.shape)) for a in (as_tracer(trace, a) for a in arys)]
        return out[0] if len(out) == 1 else out
    return handler


HANDLERS.update({np.atleast_1d: _atleast(1), np.atleast_2d: _atleast(2),
                  np.atleast_3d: _atleast(3)})


@handles(np.transpose)
def transpose(a, axes=None):
    perm = tuple(reversed(range(a.ndim))) if axes is None else normalize_axis_tuple(axes, a.ndim)
    if perm == tuple(range(a.ndim)):
        return a
    return view(apply(ops.Transpose.make, [a], perm), a,
                 lambda v: transpose(v, inverse_perm(perm)))


@handles(np.swapaxes)
def swapaxes(a, axis1, axis2):
    perm = list(range(a.ndim))
    i, j = normalize_axis_index(axis1, a.ndim), normalize_axis_index(axis2, a.ndim)
    perm[i], perm[j] = j, i
    return transpose(a, perm)


@handles(np.moveaxis)
def moveaxis(a, source, destination):
    src, dst = normalize_axis_tuple(source, a.ndim), normalize_axis_tuple(destination, a.ndim)
    perm = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return transpose(a, perm)


@handles(np.broadcast_to)
def broadcast_to(array, shape, subok=False):
    shape = (operator.index(shape),) if np.ndim(shape) == 0 else tuple(map(operator.index, shape))
    return array if array.shape == shape else apply(ops.BroadcastTo.make, [array], shape)


@handles(np.concatenate, np.concat)
def concatenate(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    unsupported("concatenate", out)
    trace = trace_of(arrays)
    xs = [as_tracer(trace, x) for x in arrays]
    if axis is None:
        xs, axis = [ravel(x) for x in xs], 0
    if len(xs) == 1:
        return xs[0]
    return apply(ops.Concatenate.make, xs, normalize_axis_index(axis, xs[0].ndim))


@handles(np.stack)
def stack(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    unsupported("stack", out)
    trace = trace_of(arrays)
    xs = [as_tracer(trace, x) for x in arrays]
    axis = normalize_axis_index(axis, xs[0].ndim + 1)
    return concatenate([expand_dims(x, axis) for x in xs], axis)


@handles(np.hstack)
def hstack(tup, dtype=None, casting="same_kind"):
    xs = _atleast(1)(*tup)
    xs = xs if isinstance(xs, list) else [xs]
    return concatenate(xs, 0 if xs[0].ndim == 1 else 1)


@handles(np.vstack)
def vstack(tup, dtype=None, casting="same_kind"):
    xs = _atleast(2)(*tup)
    return concatenate(xs if isinstance(xs, list) else [xs], 0)


@handles(np.column_stack)
def column_stack(tup):
    trace = trace_of(tup)
    xs = [as_tracer(trace, x) for x in tup]
    return concatenate([reshape(x, (-1, 1)) if x.ndim < 2 else x for x in xs], 1)
