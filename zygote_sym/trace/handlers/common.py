"""What every handler shares: finding the trace, lifting operands, applying an op.

A handler takes the arguments NumPy passed (tracers, arrays, numbers,
Python data), resolves them against the concrete shapes (axes made
non-negative, slices made concrete, vectors reshaped to matrices, einsum
subscripts made explicit) and builds one op of ir/ops.py, or composes
existing handlers.  Index data that only the concrete values decide (sort
order, boolean masks) becomes integer-array constants of the trace.
"""
from collections.abc import Callable
from typing import Any

import itertools

import numpy as np
import scipy.special as sc
from numpy.lib.array_utils import normalize_axis_tuple

from ...errors import NoRuleError
from ...ir import build as b
from ...ir.ops import BroadcastTo
from ..tracer import Tracer, newest


def table() -> tuple[dict[Any, Callable[..., Any]], Callable[..., Any]]:
    """A module's handler table and the decorator that fills it:
    `@handles(np.f, np.g)` above a handler."""
    handlers: dict[Any, Callable[..., Any]] = {}

    def handles(*funcs):
        def register(handler):
            handlers.update(dict.fromkeys(funcs, handler))
            return handler
        return register
    return handlers, handles


def public_name(func):
    """`np.linalg.eigh`, `scipy.special.erf`: the name a user calls it by."""
    name = getattr(func, "__name__", repr(func))
    module = getattr(func, "__module__", None)
    if module is None:  # SciPy's ufuncs do not say where they live
        module = "scipy.special" if getattr(sc, name, None) is func else "numpy"
    parts = itertools.takewhile(lambda p: not p.startswith("_"), module.split("."))
    return ".".join(["np" if p == "numpy" else p for p in parts] + [name])


def trace_of(values):
    """The trace an operation on `values` happens in (the newest, when a
    nested derivative mixes tracers of several traces)."""
    return newest(values)


def value_of(x):
    return x.value if isinstance(x, Tracer) else x


def _holds_tracer(x):
    return isinstance(x, Tracer) or isinstance(x, (list, tuple)) and any(map(_holds_tracer, x))


def as_tracer(trace, x):
    """x as a traced value of `trace`; a (nested) list holding traced values
    is their stack, as np.array would build it."""
    if isinstance(x, Tracer):
        return x
    if isinstance(x, (list, tuple)) and _holds_tracer(x):
        return np.stack([as_tracer(trace, v) for v in x])
    x = np.asarray(x) if isinstance(x, (list, tuple)) else x
    return trace.new(trace.lift(x), x)


def apply(make, operands, *static):
    """Trace `make(*operand_nodes, *static)`: its node, and its value from the
    operands' values (a builder that folds to one of its operands keeps that
    operand's value)."""
    trace = trace_of(operands)
    nodes = [trace.lift(x) for x in operands]
    node = make(*nodes, *static)
    values = [value_of(x) for x in operands]
    # by identity: `in` would call SymPy's structural __eq__ on every operand
    # (slow, and recursive on the deep nodes of long item-assignment loops)
    same = next((i for i, n in enumerate(nodes) if n is node), None)
    if same is not None:
        value = values[same]
    else:
        value = None if any(v is None for v in values) else node.value(*values)
    return trace.new(node, value)


def view(view, base, restore):
    """Mark `view` as a NumPy view of `base`: assigning into it writes
    `restore(view)` back into base."""
    view.base = (base, restore)
    return view


HOW_TO_ADD = ("give it a derivative with @zygote_sym.custom_vjp (or custom_jvp) around a "
              "function that calls it, compute this part outside the differentiated "
              "function, or wrap it in zygote_sym.stop_gradient if its gradient is not needed")


def no_rule(what, why=""):
    """The NoRuleError for `what` (the public name and the unsupported options)."""
    return NoRuleError(f"zygote_sym has no rule for {what} on traced values"
                       + (f" ({why})" if why else "") + ": " + HOW_TO_ADD)


def unsupported(name, out=None, **kwargs):
    if out is not None or kwargs:
        given = ", ".join(["out="] * (out is not None) + [f"{k}=" for k in kwargs])
        raise no_rule(f"np.{name} with {given}")


def axes_of(axis, ndim):
    return tuple(range(ndim)) if axis is None else tuple(sorted(normalize_axis_tuple(axis, ndim)))


def reduce(cls, x, axis=None, keepdims=False):
    axes = axes_of(axis, x.ndim)
    return apply(cls.make, [x], axes, bool(keepdims)) if axes else x


def zeros(trace, shape, dtype=float):
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)  # NumPy takes an int too
    node = BroadcastTo.make(b.ZERO, shape) if shape else b.ZERO
    return trace.new(node, np.zeros(shape, dtype))
