"""NumPy's array functions on tracers: the handlers behind FUNCTIONS and REDUCERS.

Each handler resolves NumPy's arguments against the concrete shapes (axes
made non-negative, slices made concrete, vectors reshaped to matrices,
einsum subscripts made explicit) and builds one op of ops.py, or composes
existing ones (mean = sum/n, norm = sqrt(sum |x|**2), trace = sum of a
diagonal gather).  Index data that only the concrete values decide (sort
order, boolean masks) becomes integer-array constants of the trace.
"""
import functools
import operator
import string

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from .. import graph as g
from .. import ops
from ..errors import NoRuleError
from .numpy_dispatch import FUNCTIONS, REDUCERS
from .tracer import Tracer


def _trace_of(values):
    for v in values:
        if isinstance(v, Tracer):
            return v.trace
        if isinstance(v, (list, tuple)):
            found = _trace_of(v)
            if found is not None:
                return found
    return None


def _value(x):
    return x.value if isinstance(x, Tracer) else x


def as_tracer(trace, x):
    if isinstance(x, Tracer):
        return x
    x = np.asarray(x) if isinstance(x, (list, tuple)) else x
    return trace.new(trace.lift(x), x)


def apply(make, operands, *static):
    """Trace `make(*operand_nodes, *static)`: its node, and its value from the
    operands' values (a builder that folds to one of its operands keeps that
    operand's value)."""
    trace = _trace_of(operands)
    nodes = [trace.lift(x) for x in operands]
    node = make(*nodes, *static)
    values = [_value(x) for x in operands]
    if node in nodes:
        value = values[nodes.index(node)]
    else:
        value = None if any(v is None for v in values) else node.value(*values)
    return trace.new(node, value)


def _view(view, base, restore):
    """Mark `view` as a NumPy view of `base`: assigning into it writes
    `restore(view)` back into base."""
    view.base = (base, restore)
    return view


def _unsupported(name, out=None, **kwargs):
    if out is not None or kwargs:
        given = ", ".join(["out"] * (out is not None) + list(kwargs))
        raise NoRuleError(f"np.{name} on traced values does not support {given}")


def rule(*funcs):
    def register(handler):
        for f in funcs:
            FUNCTIONS[f] = handler
        return handler
    return register


# ------------------------------------------------------------- reductions
def _axes(axis, ndim):
    return tuple(range(ndim)) if axis is None else tuple(sorted(normalize_axis_tuple(axis, ndim)))


def reduce(cls, x, axis=None, keepdims=False):
    axes = _axes(axis, x.ndim)
    return apply(cls.make, [x], axes, bool(keepdims)) if axes else x


def _reducer(cls, name, default_axis=None):
    def handler(a, axis=default_axis, dtype=None, out=None, keepdims=False, **kw):
        _unsupported(name, out, **kw)
        return reduce(cls, a, axis, keepdims)
    return handler


FUNCTIONS.update({np.sum: _reducer(ops.Sum, "sum"), np.prod: _reducer(ops.Prod, "prod")})
REDUCERS.update({np.add: _reducer(ops.Sum, "add.reduce", 0),
                 np.multiply: _reducer(ops.Prod, "multiply.reduce", 0)})


@rule(np.max, np.amax)
def _max(a, axis=None, out=None, keepdims=False, **kw):
    _unsupported("max", out, **kw)
    return reduce(ops.Max, a, axis, keepdims)


@rule(np.min, np.amin)
def _min(a, axis=None, out=None, keepdims=False, **kw):
    _unsupported("min", out, **kw)
    return reduce(ops.Min, a, axis, keepdims)


REDUCERS.update({np.maximum: lambda a, axis=0, **kw: _max(a, axis, **kw),
                 np.minimum: lambda a, axis=0, **kw: _min(a, axis, **kw)})


def _count(x, axis):
    return int(np.prod([x.shape[i] for i in _axes(axis, x.ndim)]))


@rule(np.mean)
def mean(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    _unsupported("mean", out, **kw)
    return reduce(ops.Sum, a, axis, keepdims) / _count(a, axis)


@rule(np.var)
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    _unsupported("var", out, **kw)
    d = a - mean(a, axis, keepdims=True)
    return reduce(ops.Sum, d * d, axis, keepdims) / (_count(a, axis) - ddof)


@rule(np.std)
def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    _unsupported("std", out, **kw)
    return np.sqrt(var(a, axis, ddof=ddof, keepdims=keepdims))


def _scan(cls, name):
    def handler(a, axis=None, dtype=None, out=None):
        _unsupported(name, out)
        if axis is None:  # NumPy scans the flattened array
            a, axis = ravel(a), 0
        return apply(cls.make, [a], normalize_axis_index(axis, a.ndim), False)
    return handler


FUNCTIONS.update({np.cumsum: _scan(ops.Cumsum, "cumsum"),
                  np.cumprod: _scan(ops.Cumprod, "cumprod")})


# ------------------------------------------------------------------ shapes
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
    return _view(apply(ops.Reshape.make, [x], shape), x, lambda v: reshape(v, base_shape))


@rule(np.reshape)
def _reshape(a, shape=None, order="C", **kw):
    if order != "C" or kw:
        raise NoRuleError("np.reshape on traced values supports order='C' only")
    return reshape(a, shape)


@rule(np.ravel)
def ravel(a, order="C"):
    return _reshape(a, -1, order)


@rule(np.squeeze)
def squeeze(a, axis=None):
    axes = [i for i, n in enumerate(a.shape) if n == 1] if axis is None else \
        normalize_axis_tuple(axis, a.ndim)
    return reshape(a, [n for i, n in enumerate(a.shape) if i not in axes])


@rule(np.expand_dims)
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
        trace = _trace_of(arys)
        out = [reshape(a, _ATLEAST[ndim](a.shape)) for a in (as_tracer(trace, a) for a in arys)]
        return out[0] if len(out) == 1 else out
    return handler


FUNCTIONS.update({np.atleast_1d: _atleast(1), np.atleast_2d: _atleast(2),
                  np.atleast_3d: _atleast(3)})


@rule(np.transpose)
def transpose(a, axes=None):
    perm = tuple(reversed(range(a.ndim))) if axes is None else normalize_axis_tuple(axes, a.ndim)
    if perm == tuple(range(a.ndim)):
        return a
    return _view(apply(ops.Transpose.make, [a], perm), a,
                 lambda v: transpose(v, ops.inverse_perm(perm)))


@rule(np.swapaxes)
def swapaxes(a, axis1, axis2):
    perm = list(range(a.ndim))
    i, j = normalize_axis_index(axis1, a.ndim), normalize_axis_index(axis2, a.ndim)
    perm[i], perm[j] = j, i
    return transpose(a, perm)


@rule(np.moveaxis)
def moveaxis(a, source, destination):
    src, dst = normalize_axis_tuple(source, a.ndim), normalize_axis_tuple(destination, a.ndim)
    perm = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return transpose(a, perm)


@rule(np.broadcast_to)
def broadcast_to(array, shape, subok=False):
    shape = (operator.index(shape),) if np.ndim(shape) == 0 else tuple(map(operator.index, shape))
    return array if array.shape == shape else apply(ops.BroadcastTo.make, [array], shape)


@rule(np.concatenate, np.concat)
def concatenate(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    _unsupported("concatenate", out)
    trace = _trace_of(arrays)
    xs = [as_tracer(trace, x) for x in arrays]
    if axis is None:
        xs, axis = [ravel(x) for x in xs], 0
    if len(xs) == 1:
        return xs[0]
    return apply(ops.Concatenate.make, xs, normalize_axis_index(axis, xs[0].ndim))


@rule(np.stack)
def stack(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    _unsupported("stack", out)
    trace = _trace_of(arrays)
    xs = [as_tracer(trace, x) for x in arrays]
    axis = normalize_axis_index(axis, xs[0].ndim + 1)
    return concatenate([expand_dims(x, axis) for x in xs], axis)


@rule(np.hstack)
def hstack(tup, dtype=None, casting="same_kind"):
    xs = _atleast(1)(*tup)
    xs = xs if isinstance(xs, list) else [xs]
    return concatenate(xs, 0 if xs[0].ndim == 1 else 1)


@rule(np.vstack)
def vstack(tup, dtype=None, casting="same_kind"):
    xs = _atleast(2)(*tup)
    return concatenate(xs if isinstance(xs, list) else [xs], 0)


@rule(np.column_stack)
def column_stack(tup):
    trace = _trace_of(tup)
    xs = [as_tracer(trace, x) for x in tup]
    return concatenate([reshape(x, (-1, 1)) if x.ndim < 2 else x for x in xs], 1)


# ---------------------------------------------------------------- indexing
def _key_item(k):
    """One entry of a NumPy key with tracers resolved: scalars by their
    concrete integer value (recording a guard), index arrays by their values."""
    if isinstance(k, Tracer):
        v = k._concrete("indexing")
        return operator.index(k) if np.ndim(v) == 0 and not isinstance(v, (bool, np.bool_)) \
            else k._concrete_data("index array")
    if isinstance(k, slice):
        return slice(*[None if e is None else operator.index(e)
                       for e in (k.start, k.stop, k.step)])
    if isinstance(k, list):
        return np.asarray([_key_item(e) for e in k])
    if isinstance(k, np.ndarray) and k.ndim == 0 and k.dtype.kind in "iu":
        return int(k)
    return k


def _slice_text(s, n):
    start, stop, step = s.indices(n)
    if (start, stop, step) == (0, n, 1):
        return ":"
    # a negative stop (stepping down past 0) must print empty, not "-1"
    text = f"{start}:{stop if stop >= 0 else ''}"
    return text + (f":{step}" if step != 1 else "")


def normalize_key(shape, key):
    """A NumPy key resolved against `shape`: (key text of ops.Index, integer arrays).
    Boolean masks become the integer arrays of their nonzero positions."""
    items = []
    for k in key if isinstance(key, tuple) else (key,):
        k = _key_item(k)
        if isinstance(k, (np.ndarray, bool, np.bool_)) and np.asarray(k).dtype == bool:
            items.extend(np.nonzero(k))
        else:
            items.append(k)
    used = sum(k is not None and k is not Ellipsis for k in items)
    if used > len(shape):
        raise IndexError(f"too many indices: array is {len(shape)}-dimensional, but {used} "
                         "were indexed")
    ellipses = [i for i, k in enumerate(items) if k is Ellipsis]  # `in` would compare arrays
    at = ellipses[0] if ellipses else len(items)
    items[at:at + 1] = [slice(None)] * (len(shape) - used)
    parts, arrays, axis = [], [], 0
    for k in items:
        if k is None:
            parts.append("None")
            continue
        n = shape[axis]
        if isinstance(k, slice):
            parts.append(_slice_text(k, n))
        elif isinstance(k, np.ndarray):
            if k.dtype.kind not in "iu":
                raise IndexError(f"arrays used as indices must be of integer or boolean type, "
                                 f"not {k.dtype}")
            arrays.append(np.where(k < 0, k + n, k).astype(np.intp))
            parts.append("{}")
        else:
            k = operator.index(k)
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of bounds for axis {axis} with size {n}")
            parts.append(str(k % n))
        axis += 1
    while parts and parts[-1] == ":":
        parts.pop()
    return ", ".join(parts), arrays


def getitem(x, key):
    text, arrays = normalize_key(x.shape, key)
    if not text:
        return x
    out = apply(ops.Index.make, [x, *arrays], text)
    if arrays:  # advanced indexing copies
        return out
    return _view(out, x, lambda v: setitem(x, ops.parse_key(text), v))


def setitem(x, key, value):
    """A new tracer: x with x[key] = value (x itself is unchanged)."""
    text, arrays = normalize_key(x.shape, key)
    value = as_tracer(x.trace, value)
    if not text:  # x[...] = value
        return broadcast_to(value, x.shape)
    return apply(ops.SetItem.make, [x, value, *arrays], text)


def take_along_axis(arr, indices, axis):
    """`np.take_along_axis` as one gather: `indices` along axis, aranges elsewhere."""
    axis = normalize_axis_index(axis, arr.ndim)
    key = tuple(indices if d == axis else
                np.arange(n).reshape([-1 if i == d else 1 for i in range(arr.ndim)])
                for d, n in enumerate(arr.shape))
    return getitem(arr, key)


FUNCTIONS[np.take_along_axis] = lambda arr, indices, axis=-1: take_along_axis(
    arr, _key_item(indices), axis)


@rule(np.take)
def take(a, indices, axis=None, out=None, mode="raise"):
    _unsupported("take", out, **({} if mode == "raise" else {"mode": mode}))
    if axis is None:
        a, axis = ravel(a), 0
    return getitem(a, (slice(None),) * normalize_axis_index(axis, a.ndim) + (indices,))


@rule(np.sort)
def sort(a, axis=-1, kind=None, order=None, stable=None):
    """A gather by the concrete argsort (index data, not a node of its own)."""
    if axis is None:
        a, axis = ravel(a), 0
    order_ = a._concrete_data("np.sort order", functools.partial(
        np.argsort, axis=axis, kind=kind, stable=stable))
    return take_along_axis(a, order_, axis)


def _concrete_rule(func):
    """Integer results decided by the concrete values (no gradient flows)."""
    return lambda a, *args, **kw: a._concrete_data(
        f"np.{func.__name__}", lambda v: func(v, *args, **kw))


FUNCTIONS.update({f: _concrete_rule(f) for f in (np.argsort, np.argmax, np.argmin,
                                                   np.nonzero, np.flatnonzero, np.argwhere,
                                                   np.any, np.all)})
FUNCTIONS.update({np.shape: lambda a: a.shape, np.ndim: lambda a: a.ndim,
                  np.size: lambda a, axis=None: a.size if axis is None else a.shape[axis]})


@rule(np.flip)
def flip(m, axis=None):
    axes = _axes(axis, m.ndim)
    return getitem(m, tuple(slice(None, None, -1) if i in axes else slice(None)
                            for i in range(m.ndim)))


@rule(np.diff)
def diff(a, n=1, axis=-1, prepend=None, append=None):
    _unsupported("diff", **({} if prepend is None else {"prepend": 1}),
                 **({} if append is None else {"append": 1}))
    axis = normalize_axis_index(axis, a.ndim)
    head = (slice(None),) * axis
    for _ in range(n):
        a = getitem(a, head + (slice(1, None),)) - getitem(a, head + (slice(None, -1),))
    return a


@rule(np.diagonal)
def diagonal(a, offset=0, axis1=0, axis2=1):
    i, j = normalize_axis_index(axis1, a.ndim), normalize_axis_index(axis2, a.ndim)
    rest = [d for d in range(a.ndim) if d not in (i, j)]
    r0, c0 = max(-offset, 0), max(offset, 0)
    k = max(0, min(a.shape[i] - r0, a.shape[j] - c0))
    moved = transpose(a, rest + [i, j])
    return getitem(moved, (slice(None),) * len(rest) + (np.arange(k) + r0, np.arange(k) + c0))


@rule(np.trace)
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _unsupported("trace", out)
    return reduce(ops.Sum, diagonal(a, offset, axis1, axis2), -1)


@rule(np.diag)
def diag(v, k=0):
    if v.ndim == 2:
        return diagonal(v, k)
    n = v.shape[0] + abs(k)
    rows, cols = np.arange(v.shape[0]) + max(-k, 0), np.arange(v.shape[0]) + max(k, 0)
    return setitem(zeros(v.trace, (n, n)), (rows, cols), v)


# ------------------------------------------------------------- constructors
def zeros(trace, shape, dtype=float):
    node = ops.BroadcastTo.make(g.ZERO, tuple(shape)) if shape else g.ZERO
    return trace.new(node, np.zeros(shape, dtype))


@rule(np.zeros_like, np.empty_like)
def _zeros_like(a, dtype=None, order="K", subok=True, shape=None, **kw):
    return zeros(a.trace, a.shape if shape is None else shape, dtype or a.dtype)


@rule(np.ones_like)
def _ones_like(a, dtype=None, order="K", subok=True, shape=None, **kw):
    return _zeros_like(a, dtype, shape=shape) + 1


@rule(np.full_like)
def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, **kw):
    return _zeros_like(a, dtype, shape=shape) + fill_value


FUNCTIONS[np.copy] = lambda a, order="K", subok=False: a.copy()


# ---------------------------------------------------------------- selects
@rule(np.where)
def where(condition, x=None, y=None):
    if x is None and y is None:
        return np.nonzero(_value(condition))
    return apply(ops.where, [condition, x, y])


@rule(np.select)
def select(condlist, choicelist, default=0):
    trace = _trace_of([condlist, choicelist, default])
    out = as_tracer(trace, default)
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = where(cond, choice, out)
    return out


@rule(np.clip)
def clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None, **kw):
    _unsupported("clip", out, **kw)
    lo, hi = (a_min if a_min is not None else min), (a_max if a_max is not None else max)
    out = a if lo is None else np.maximum(a, lo)
    return out if hi is None else np.minimum(out, hi)


# ---------------------------------------------------------------- products
def _pair(a, b):
    trace = _trace_of([a, b])
    return as_tracer(trace, a), as_tracer(trace, b)


@rule(np.matmul)
def matmul(a, b, out=None, **kw):
    _unsupported("matmul", out, **kw)
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: input operand does not have enough dimensions")
    lift_a, lift_b = a.ndim == 1, b.ndim == 1  # vectors act as matrices, then drop that axis
    r = apply(ops.MatMul.make, [reshape(a, (1,) + a.shape) if lift_a else a,
                                reshape(b, b.shape + (1,)) if lift_b else b])
    return reshape(r, r.shape[:-2] + r.shape[-2:-1] * (not lift_a) + r.shape[-1:] * (not lift_b))


@rule(np.tensordot)
def tensordot(a, b, axes=2):
    a, b = _pair(a, b)
    if np.ndim(axes) == 0:
        ax_a, ax_b = range(a.ndim - axes, a.ndim), range(axes)
    else:
        ax_a, ax_b = ([ax] if np.ndim(ax) == 0 else ax for ax in axes)
    ax_a, ax_b = normalize_axis_tuple(ax_a, a.ndim), normalize_axis_tuple(ax_b, b.ndim)
    if [a.shape[i] for i in ax_a] != [b.shape[i] for i in ax_b]:
        raise ValueError("shape-mismatch for sum")
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    size = int(np.prod([a.shape[i] for i in ax_a]))
    am = reshape(transpose(a, free_a + list(ax_a)), (-1, size))
    bm = reshape(transpose(b, list(ax_b) + free_b), (size, -1))
    return reshape(matmul(am, bm), [a.shape[i] for i in free_a] + [b.shape[i] for i in free_b])


@rule(np.dot)
def dot(a, b, out=None):
    _unsupported("dot", out)
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2 or a.ndim == 1:  # NumPy's dot and matmul agree here
        return matmul(a, b)
    return tensordot(a, b, ([-1], [-2]))


@rule(np.inner)
def inner(a, b):
    a, b = _pair(a, b)
    return a * b if a.ndim == 0 or b.ndim == 0 else tensordot(a, b, ([-1], [-1]))


@rule(np.outer)
def outer(a, b, out=None):
    _unsupported("outer", out)
    a, b = _pair(a, b)
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


@rule(np.vdot)
def vdot(a, b):
    a, b = _pair(a, b)
    return reduce(ops.Sum, ravel(a) * ravel(b))


def _einsum_spec(subscripts, ndims):
    """Explicit subscripts: '...' spelled out in unused letters, the output
    written out (NumPy's implicit mode: once-used indices, sorted)."""
    subs = subscripts.replace(" ", "")
    lhs, arrow, rhs = subs.partition("->")
    terms = lhs.split(",")
    spare = [c for c in string.ascii_letters if c not in subs]
    width = max([nd - len(t) + 3 for t, nd in zip(terms, ndims) if "..." in t], default=0)
    ell = "".join(spare[:width])
    terms = [t.replace("...", ell[width - (nd - len(t) + 3):]) if "..." in t else t
             for t, nd in zip(terms, ndims)]
    if arrow:
        out = rhs.replace("...", ell)
    else:
        named = lhs.replace("...", "").replace(",", "")
        out = ell + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    return terms, out


@rule(np.einsum)
def einsum(*operands, out=None, optimize=False, **kw):
    _unsupported("einsum", out, **kw)
    subscripts, *xs = operands
    if not isinstance(subscripts, str):
        raise NoRuleError("np.einsum on traced values needs the subscripts as a string")
    trace = _trace_of(xs)
    xs = [as_tracer(trace, x) for x in xs]
    terms, out = _einsum_spec(subscripts, [x.ndim for x in xs])
    for k, term in enumerate(terms):
        for c in set(term):  # an index repeated within one operand: take that diagonal
            while term.count(c) > 1:
                i = term.index(c)
                j = term.index(c, i + 1)
                xs[k] = diagonal(xs[k], 0, i, j)
                term = term[:i] + term[i + 1:j] + term[j + 1:] + c
        terms[k] = term
    sizes = {}
    for term, x in zip(terms, xs):
        for c, n in zip(term, x.shape):
            sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
    xs = [broadcast_to(x, tuple(sizes[c] for c in term)) for term, x in zip(terms, xs)]
    return apply(ops.Einsum.make, xs, ",".join(terms) + "->" + out)


# ------------------------------------------------------------------ linalg
@rule(np.linalg.norm)
def norm(x, ord=None, axis=None, keepdims=False):
    axes = _axes(axis, x.ndim)
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


FUNCTIONS[np.linalg.det] = lambda a: apply(ops.Det.make, [a])
FUNCTIONS[np.linalg.inv] = lambda a: apply(ops.Inv.make, [a])


@rule(np.linalg.solve)
def solve(a, b):
    a, b = _pair(a, b)
    if b.ndim == 1:  # NumPy 2: a 1-D b is one right-hand side
        r = apply(ops.Solve.make, [a, reshape(b, b.shape + (1,))])
        return reshape(r, r.shape[:-1])
    return apply(ops.Solve.make, [a, b])
