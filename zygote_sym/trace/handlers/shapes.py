"""Shape manipulation: reshape, ravel, squeeze, expand_dims, atleast_nd,
transpose, swapaxes, moveaxis, broadcast_to, concatenate, stack and the
hstack family.  Reshapes and transposes are views: assigning into one
writes through to the array it views."""
import operator

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from ...ir import ops
from ...ir.build import inverse_perm
from .common import apply, as_tracer, no_rule, table, trace_of, unsupported, view

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
        raise no_rule(f"np.reshape with order={order!r}" if order != "C" else
                      "np.reshape with " + ", ".join(f"{k}=" for k in kw))
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


@handles(np.broadcast_arrays)
def broadcast_arrays(*args, subok=False):
    trace = trace_of(args)
    xs = [as_tracer(trace, x) for x in args]
    shape = np.broadcast_shapes(*[x.shape for x in xs])
    return tuple(broadcast_to(x, shape) for x in xs)


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


@handles(np.rollaxis)
def rollaxis(a, axis, start=0):
    """NumPy's own definition: axis moved to before `start`."""
    n = a.ndim
    axis = normalize_axis_index(axis, n)
    start = start + n if start < 0 else start
    if not 0 <= start <= n:
        raise np.exceptions.AxisError(f"start={start} must be in the range [{-n}, {n}]")
    start -= axis < start
    perm = [i for i in range(n) if i != axis]
    perm.insert(start, axis)
    return transpose(a, perm)


@handles(np.append)
def append(arr, values, axis=None):
    trace = trace_of([arr, values])
    arr, values = as_tracer(trace, arr), as_tracer(trace, values)
    if axis is None:
        arr, values, axis = ravel(arr), ravel(values), 0
    return concatenate([arr, values], axis)


@handles(np.tile)
def tile(A, reps):
    """A broadcast and a reshape: axis i of A becomes (reps[i], n_i) flattened."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    d = max(A.ndim, len(reps))
    shape, reps = (1,) * (d - A.ndim) + A.shape, (1,) * (d - len(reps)) + reps
    spread = reshape(A, [m for n in shape for m in (1, n)])
    big = broadcast_to(spread, [m for r, n in zip(reps, shape) for m in (r, n)])
    return reshape(big, [r * n for r, n in zip(reps, shape)])


def _split_points(n, sections, equal):
    """The division points of np.split (equal=True) and np.array_split."""
    if np.ndim(sections):
        return [operator.index(i) for i in sections]
    sections = operator.index(sections)
    if sections <= 0:
        raise ValueError("number sections must be larger than 0.")
    each, extra = divmod(n, sections)
    if equal and extra:
        raise ValueError("array split does not result in an equal division")
    sizes = [each + 1] * extra + [each] * (sections - extra)
    return list(np.cumsum(sizes)[:-1])


def _splitter(equal, fixed_axis=None, min_ndim=1):
    def handler(ary, indices_or_sections, axis=0):
        if ary.ndim < min_ndim:
            raise ValueError(f"this split only works on arrays of {min_ndim} or more dimensions")
        ax = fixed_axis if fixed_axis is not None else axis
        if ax == "h":  # hsplit: the second axis, or the only one
            ax = 1 if ary.ndim > 1 else 0
        ax = normalize_axis_index(ax, ary.ndim)
        points = _split_points(ary.shape[ax], indices_or_sections, equal)
        head = (slice(None),) * ax
        bounds = [None] + points + [None]
        return [ary[head + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:])]
    return handler


HANDLERS.update({np.split: _splitter(True), np.array_split: _splitter(False),
                 np.hsplit: _splitter(True, "h"), np.vsplit: _splitter(True, 0, 2),
                 np.dsplit: _splitter(True, 2, 3)})
