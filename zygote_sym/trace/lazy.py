"""Deferred values: an elementwise operation on large arrays computes its
value only when something reads it.

A trace computes every operation's value so that Python control flow can
decide on it (tracer.py).  On large arrays most of those values are never
read: `compile(f)` traces f on its real arguments first (the array trace,
which tells an elementwise field from a function with structural
operations) and then evaluates the gradient with a generated kernel, so the
array trace's values of an elementwise f are thrown away.  For a field over
10**6 points (sin, exp, log1p and eight arithmetic operations) computing them
was about a third of the first call.

So an elementwise operation whose operands are traced float arrays of at
least `LAZY_MIN` elements (or numbers) records a `Lazy`: the function and its
operands, with the result's shape and dtype.  The value is computed the
first time anything reads it (`Tracer.value`: a branch, a reduction, an
index, a nested derivative, the trace's output values), by the same NumPy
call on the same operands in the same order as at once, so it is bit for
bit the value an eager trace had.  Operands are the trace's own values (an
argument's array, a deferred or computed result), never an array f holds
itself, which f could change before the value is read: a leaf's array is
the trace's own copy (`leaf_value`).
"""
import math
from typing import Any, Callable, Optional, Sequence

import numpy as np

LAZY_MIN = 4096  # elements: below this, computing at once costs less than deferring
_SCALARS = (float, int, np.float64)


class Lazy:
    """The value of `fn(*args)`, computed at the first `get()` (operands may
    be Lazy themselves); `shape` and `dtype` are known without computing."""

    __slots__ = ("todo", "shape", "dtype", "_value")

    def __init__(self, fn: Callable[..., Any], args: Sequence[Any], shape: tuple,
                 dtype: np.dtype) -> None:
        # (fn, operands) until computed, then None: one attribute, read at once, so a
        # thread that sees None also sees the value (it is stored first)
        self.todo: Optional[tuple] = (fn, tuple(args))
        self.shape, self.dtype = shape, dtype
        self._value: Any = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def get(self) -> Any:
        """The value (computed once, operands first: an explicit stack, so a
        long chain of deferred operations cannot exhaust Python's recursion
        limit; operands are released once computed)."""
        stack = [self]
        while stack:
            top = stack[-1]
            todo = top.todo
            if todo is None:
                stack.pop()
                continue
            fn, args = todo
            pending = [a for a in args if type(a) is Lazy and a.todo is not None]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            values = [a._value if type(a) is Lazy else a for a in args]
            with np.errstate(all="ignore"):  # as at once: the kernel warns, not the trace
                top._value = fn(*values)
            top.todo = None
        return self._value


def leaf_value(value: Any) -> Any:
    """The value a leaf (an argument, a captured array) holds in a trace: a copy
    of a numeric array, else `value`.  f may change the user's array while it
    runs (through another name for it: `model.w *= 0.5`, a dict holding the
    argument); a deferred value read later must not see that, as a value
    computed at once would not have, and trace_call compares the argument with
    this copy after f returns (an argument changed under the trace is an error
    there).  One memcpy per array leaf per trace, against the elementwise
    passes deferral saves."""
    if type(value) is np.ndarray and not value.dtype.hasobject:
        return value.copy()
    return value


def force(value: Any) -> Any:
    """`value`, computed if it is deferred."""
    return value.get() if type(value) is Lazy else value


def defer(fn: Callable[..., Any], values: Sequence[Any]) -> Optional[Lazy]:
    """A Lazy of `fn(*values)` when that pays and is safe: every operand a
    float64 array (or a Lazy) or a Python/NumPy float or int, at least one of
    `LAZY_MIN` elements or more, shapes that broadcast, and a float or bool
    array result (found by `fn` on one element of each).  Else None: the
    caller computes at once, and raises there whatever NumPy raises.

    >>> d = defer(np.multiply, [np.arange(5000.0), 2.0])
    >>> d.shape, d.dtype, float(d.get()[4999])
    ((5000,), dtype('float64'), 9998.0)
    >>> defer(np.multiply, [np.arange(5.0), 2.0]) is None   # small: computed at once
    True
    """
    shapes, probe, large = [], [], False
    for v in values:
        t = type(v)
        if t is Lazy:
            shapes.append(v.shape)
            probe.append(np.ones(1, v.dtype))
            large = large or v.size >= LAZY_MIN
        elif t is np.ndarray and v.dtype == np.float64 and v.size:
            shapes.append(v.shape)
            probe.append(v.reshape(-1)[:1])
            large = large or v.size >= LAZY_MIN
        elif t in _SCALARS:
            probe.append(v)
        else:
            return None
    if not large:
        return None
    try:
        shape = np.broadcast_shapes(*shapes)
        with np.errstate(all="ignore"):
            dtype = getattr(fn(*probe), "dtype", None)
    except Exception:  # noqa: BLE001 (computed at once instead, which raises for the user)
        return None
    if dtype is None or dtype.kind not in "fb":
        return None
    return Lazy(fn, values, shape, dtype)


class Forcing(list):
    """A list whose items are computed when read (a trace's output values)."""

    def __getitem__(self, i):
        got = list.__getitem__(self, i)
        return [force(v) for v in got] if isinstance(i, slice) else force(got)

    def __iter__(self):
        return (force(v) for v in list.__iter__(self))
