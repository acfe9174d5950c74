"""Indexing: `x[key]`, item assignment as a functional update, gathers
(take, take_along_axis, sort, diagonal, trace, diag, flip, diff), and the
functions whose integer results the values decide (argsort, argmax,
nonzero, any, all: data guards, no gradient)."""
import contextlib
import contextvars
import functools
import operator

import numpy as np
import sympy as sp
from numpy.lib.array_utils import normalize_axis_index

from ...ir import build as b
from ...ir import ops
from ..tracer import Tracer
from .common import apply, as_tracer, axes_of, no_rule, reduce, table, unsupported, view, zeros
from .shapes import broadcast_to, ravel, transpose

HANDLERS, handles = table()


# windows are taken by the traces of compiled kernels only (a kernel for every offset);
# elsewhere (derive's closed forms, a trace evaluated once) a slice keeps i's value
_WINDOWS = contextvars.ContextVar("zygote_sym_windows", default=False)


@contextlib.contextmanager
def windows():
    """Trace windows `x[i:i + B]` as gathers by `i + arange(B)` in this block."""
    token = _WINDOWS.set(True)
    try:
        yield
    finally:
        _WINDOWS.reset(token)


class _Window:
    """`x[i:i + B]` with i a traced integer and B a constant: B elements from
    a traced offset, kept as an integer operand `i + arange(B)` of the gather
    (a kernel input, so one kernel serves every in-range offset) instead of
    the value of i (a guard `i == c`, one kernel per offset)."""

    def __init__(self, s, start, length):
        self.slice, self.start, self.length = s, start, length

    def resolve(self, n):
        """The operand for an axis of n elements, with the guards `0 <= i` and
        `i + B <= n` that keep NumPy's clipping out of the kernel; None when
        this offset is out of that range (then the slice takes i's value)."""
        i = int(self.start.value)
        if not (0 <= i and i + self.length <= n):
            return None
        trace, expr = self.start.trace, self.start.expr
        trace.guard(b.relation("<=", b.ZERO, expr), True)
        trace.guard(b.relation("<=", expr + self.length, b.const(n)), True)
        return self.start + _positions(self.length)

    def concrete(self):
        """The slice by the values of its bounds (guards `== value`)."""
        return _concrete_slice(self.slice)


@functools.lru_cache(maxsize=64)
def _positions(length):
    """arange(length), one read-only array per length: the windows of one
    length share one constant, so `i + arange(B)` is computed once per i."""
    a = np.arange(length, dtype=np.int64)
    a.setflags(write=False)
    return a


def _int_tracer(v):
    return isinstance(v, Tracer) and v.value is not None and np.ndim(v.value) == 0 \
        and np.asarray(v.value).dtype.kind in "iu"


def _window(k):
    """A _Window for a slice `i:i + B` (step 1) with a traced integer start and
    a stop B (a positive integer constant) beyond it, else None."""
    if not (_int_tracer(k.start) and k.step in (None, 1)):
        return None
    stop = k.stop.expr if _int_tracer(k.stop) else k.stop
    if isinstance(stop, Tracer) or not isinstance(stop, (int, np.integer, sp.Basic)):
        return None
    length = sp.expand(sp.sympify(stop) - k.start.expr)
    if not (length.is_Integer and length > 0):
        return None
    return _Window(k, k.start, int(length))


def _concrete_slice(k):
    return slice(*[None if e is None else operator.index(e) for e in (k.start, k.stop, k.step)])


def _key_item(k):
    """One entry of a NumPy key with tracers resolved: scalars by their
    concrete integer value (recording a guard), index arrays by their values."""
    if isinstance(k, Tracer):
        v = k._concrete("indexing")
        return operator.index(k) if np.ndim(v) == 0 and not isinstance(v, (bool, np.bool_)) \
            else k._concrete_data("index array")
    if isinstance(k, slice):
        if isinstance(k.start, Tracer) and _WINDOWS.get():
            w = _window(k)
            if w is not None:
                return w
        return _concrete_slice(k)
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
    windows = [k for k in items if isinstance(k, _Window)]
    if len(windows) != 1 or not all(isinstance(k, (slice, _Window)) or k is None
                                    or k is Ellipsis for k in items):
        # a gather by one integer array among slices keeps its axis where the slice
        # was; with other array or integer entries NumPy would move or broadcast it
        items = [k.concrete() if isinstance(k, _Window) else k for k in items]
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
        if isinstance(k, _Window):
            operand = k.resolve(n)
            if operand is None:
                parts.append(_slice_text(k.concrete(), n))
            else:
                arrays.append(operand)
                parts.append("{}")
        elif isinstance(k, slice):
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
    if any(isinstance(a, Tracer) for a in arrays):  # a window: a view, as the slice was
        return view(out, x, lambda v: apply(ops.SetItem.make,
                                            [x, as_tracer(x.trace, v), *arrays], text))
    if arrays:  # advanced indexing copies
        return out
    return view(out, x, lambda v: setitem(x, ops.parse_key(text), v))


def setitem(x, key, value):
    """A new tracer: x with x[key] = value (x itself is unchanged)."""
    text, arrays = normalize_key(x.shape, key)
    value = as_tracer(x.trace, value)
    if not text:  # x[...] = value
        return broadcast_to(value, x.shape)
    return apply(ops.SetItem.make, [x, value, *arrays], text)


HANDLERS[operator.getitem] = getitem  # x[key]
HANDLERS[operator.setitem] = setitem  # x[key] = v, as a new tracer (Tracer.__setitem__ rebinds)


def take_along_axis(arr, indices, axis):
    """`np.take_along_axis` as one gather: `indices` along axis, aranges elsewhere."""
    axis = normalize_axis_index(axis, arr.ndim)
    key = tuple(indices if d == axis else
                np.arange(n).reshape([-1 if i == d else 1 for i in range(arr.ndim)])
                for d, n in enumerate(arr.shape))
    return getitem(arr, key)


HANDLERS[np.take_along_axis] = lambda arr, indices, axis=-1: take_along_axis(
    arr, _key_item(indices), axis)


@handles(np.take)
def take(a, indices, axis=None, out=None, mode="raise"):
    unsupported("take", out, **({} if mode == "raise" else {"mode": mode}))
    if axis is None:
        a, axis = ravel(a), 0
    return getitem(a, (slice(None),) * normalize_axis_index(axis, a.ndim) + (indices,))


@handles(np.sort)
def sort(a, axis=-1, kind=None, order=None, stable=None):
    """A gather by the concrete argsort (index data, not a node of its own)."""
    if axis is None:
        a, axis = ravel(a), 0
    order_ = a._concrete_data("np.sort order", functools.partial(
        np.argsort, axis=axis, kind=kind, stable=stable))
    return take_along_axis(a, order_, axis)


def _partition_order(v, kth, axis, kind):
    """The positions np.partition moves v's elements to, as index data: its
    i-th smallest output taken from v's i-th smallest element (stable, so
    tied values keep distinct positions)."""
    p = np.partition(v, kth, axis, kind)
    order = np.empty(np.shape(v), np.intp)
    np.put_along_axis(order, np.argsort(p, axis, stable=True), np.argsort(v, axis, stable=True),
                      axis)
    return order


@handles(np.partition)
def partition(a, kth, axis=-1, kind="introselect", order=None):
    if axis is None:
        a, axis = ravel(a), 0
    positions = a._concrete_data("np.partition order", functools.partial(
        _partition_order, kth=kth, axis=axis, kind=kind))
    return take_along_axis(a, positions, axis)


def _concrete_rule(func):
    """Integer results decided by the concrete values (no gradient flows)."""
    return lambda a, *args, **kw: a._concrete_data(
        f"np.{func.__name__}", lambda v: func(v, *args, **kw))


HANDLERS.update({f: _concrete_rule(f) for f in (np.argsort, np.argmax, np.argmin,
                                                   np.nonzero, np.flatnonzero, np.argwhere,
                                                   np.any, np.all, np.argpartition)})
HANDLERS[np.shape] = lambda a: a.shape
HANDLERS[np.ndim] = lambda a: a.ndim
HANDLERS[np.size] = lambda a, axis=None: a.size if axis is None else a.shape[axis]


@handles(np.flip)
def flip(m, axis=None):
    axes = axes_of(axis, m.ndim)
    return getitem(m, tuple(slice(None, None, -1) if i in axes else slice(None)
                            for i in range(m.ndim)))


@handles(np.diff)
def diff(a, n=1, axis=-1, prepend=None, append=None):
    unsupported("diff", **({} if prepend is None else {"prepend": 1}),
                 **({} if append is None else {"append": 1}))
    axis = normalize_axis_index(axis, a.ndim)
    head = (slice(None),) * axis
    for _ in range(n):
        a = getitem(a, head + (slice(1, None),)) - getitem(a, head + (slice(None, -1),))
    return a


@handles(np.diagonal)
def diagonal(a, offset=0, axis1=0, axis2=1):
    i, j = normalize_axis_index(axis1, a.ndim), normalize_axis_index(axis2, a.ndim)
    rest = [d for d in range(a.ndim) if d not in (i, j)]
    r0, c0 = max(-offset, 0), max(offset, 0)
    k = max(0, min(a.shape[i] - r0, a.shape[j] - c0))
    moved = transpose(a, rest + [i, j])
    return getitem(moved, (slice(None),) * len(rest) + (np.arange(k) + r0, np.arange(k) + c0))


@handles(np.trace)
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    unsupported("trace", out)
    return reduce(ops.Sum, diagonal(a, offset, axis1, axis2), -1)


@handles(np.diag)
def diag(v, k=0):
    if v.ndim == 2:
        return diagonal(v, k)
    n = v.shape[0] + abs(k)
    rows, cols = np.arange(v.shape[0]) + max(-k, 0), np.arange(v.shape[0]) + max(k, 0)
    return setitem(zeros(v.trace, (n, n)), (rows, cols), v)


def gather(a, positions):
    """`a.ravel()[positions]`: a rearrangement that NumPy's own function
    computes on the array of flat positions (repeat, roll, pad), so the
    result follows NumPy exactly; its pullback is a scatter-add."""
    return getitem(ravel(a), positions(np.arange(a.size).reshape(a.shape)))


@handles(np.repeat)
def repeat(a, repeats, axis=None):
    return gather(a, lambda p: np.repeat(p, _key_item(repeats), axis))


@handles(np.roll)
def roll(a, shift, axis=None):
    return gather(a, lambda p: np.roll(p, shift, axis))


HANDLERS[np.flipud] = lambda m: flip(m, 0)
HANDLERS[np.fliplr] = lambda m: flip(m, 1)
HANDLERS[np.fft.fftshift] = lambda x, axes=None: gather(x, lambda p: np.fft.fftshift(p, axes))
HANDLERS[np.fft.ifftshift] = lambda x, axes=None: gather(x, lambda p: np.fft.ifftshift(p, axes))


@handles(np.rot90)
def rot90(m, k=1, axes=(0, 1)):
    """NumPy's definition: flips and a transpose."""
    k, (a0, a1) = k % 4, (normalize_axis_index(ax, m.ndim) for ax in axes)
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(m.ndim))
    perm[a0], perm[a1] = a1, a0
    return transpose(flip(m, a1), perm) if k == 1 else flip(transpose(m, perm), a1)


def _band(lo_hi):
    def handler(m, k=0):
        if m.ndim < 2:  # NumPy broadcasts a vector to a square matrix first
            m = broadcast_to(m, (m.shape[-1],) * 2)
        return apply(ops.Band.make, [m], *lo_hi(operator.index(k)))
    return handler


HANDLERS.update({np.tril: _band(lambda k: (None, k)), np.triu: _band(lambda k: (k, None))})


_GATHER_PADS = {"edge", "reflect", "symmetric", "wrap"}


@handles(np.pad)
def pad(array, pad_width, mode="constant", **kwargs):
    """Gathering modes by np.pad of the flat positions; 'constant' as
    concatenated blocks, axis by axis (so corners hold the later axis' value,
    as in NumPy)."""
    if mode in _GATHER_PADS and kwargs.get("reflect_type", "even") == "even":
        return gather(array, lambda p: np.pad(p, pad_width, mode))
    if mode != "constant" or set(kwargs) - {"constant_values"}:
        raise no_rule(f"np.pad with mode={mode!r}" + "".join(f", {k}=" for k in kwargs),
                      f"supported: 'constant', {', '.join(map(repr, sorted(_GATHER_PADS)))}")
    widths = np.broadcast_to(pad_width, (array.ndim, 2))
    values = kwargs.get("constant_values", 0)
    values = values if isinstance(values, Tracer) else np.broadcast_to(values, (array.ndim, 2))
    out = array
    for axis, (before, after) in enumerate(widths):
        blocks = []
        for side, n in ((0, before), (1, after)):
            shape = out.shape[:axis] + (int(n),) + out.shape[axis + 1:]
            fill = values if isinstance(values, Tracer) else values[axis][side]
            blocks.append(zeros(out.trace, shape) + fill)
        out = np.concatenate([blocks[0], out, blocks[1]], axis) if before or after else out
    return out
