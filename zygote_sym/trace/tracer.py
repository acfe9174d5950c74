"""Value-carrying tracers.

A Tracer holds a SymPy node and the concrete value that node has at the
traced inputs.  Every operation builds the node *and* computes the value, so
Python control flow (`if`, `while`, `bool`, `int`, `range`) decides on the
value and records a :class:`Guard`; the real Python code runs, so dicts,
lists, closures and recursion just work.  In fully symbolic mode (SymPy
arguments) the value is None and control flow raises.
"""
import itertools
import operator
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.relational import Relational
from sympy.logic.boolalg import Boolean

from ..errors import SymbolicBranchError, TracerConversionError
from ..ir import build as b
from ..ir.nodes import Leaf, Shapes
from ..ir.ops import BroadcastTo, Where
from ..ir.printer import let_bound
from ..ir.select import where
from .lazy import Lazy


@dataclass(frozen=True)
class Guard:
    """A decision Python made on a traced value: `expr` evaluated to `outcome`.

    A *data guard* (index data that the values decide: a boolean mask, the
    order of np.sort, np.argmax) has `check`, a function that is true when
    `expr`'s new value gives the same data again.
    """
    expr: sp.Basic
    outcome: bool
    check: object = None
    label: str = ""

    def __str__(self):
        e = self.expr
        if self.check is not None:
            return f"{self.label} of {e} unchanged"
        text = f"{e.lhs} {e.rel_op} {e.rhs}" if isinstance(e, Relational) else str(e)
        return f"{text} is {self.outcome}"


_levels = itertools.count()
_LIVE = threading.local()  # .traces: this thread's traces (weakly), to tell if one runs


def tracing():
    """Does this thread run a function being differentiated (a trace not done)?"""
    traces = getattr(_LIVE, "traces", None)  # (finished traces leave it: usually empty,
    return bool(traces) and any(not t.done for t in traces)  # and len() is cheap)


class Trace:
    """The state of one trace: the shape table, constants, leaves and guards.

    `dispatch` answers the NumPy and Python operations on its tracers
    (trace/dispatch.py: one registry); it is handed in, so this module
    knows no handler.

    Nesting (a gradient inside a gradient): each trace has its own tracers
    and a `level`, higher for a trace started later, as JAX's traces have.
    An operation on tracers of several traces happens in the newest
    (`newest`); there a tracer of an enclosing trace is a leaf of role
    "outer" (`outer` maps it back), a constant of the inner derivative that
    stands for a node of the outer trace, so perturbations never mix.  The
    inner transformation's results are then lifted into the enclosing trace
    (api.py), where they stay differentiable.
    """

    def __init__(self, dispatch):
        self.dispatch = dispatch
        self.level = next(_levels)
        self._live = _LIVE.__dict__.setdefault("traces", weakref.WeakSet())
        self._live.add(self)
        self._done = False
        self.shapes = Shapes()
        self.guards = []
        self.consts = {}        # id(array or outer tracer) -> (Leaf, it); kept alive
        self.const_values = {}  # Leaf -> array (an outer tracer's value)
        self.outer = {}         # Leaf -> the enclosing trace's Tracer it stands for

    @property
    def done(self):
        """Set when f has returned: its tracers are dead."""
        return self._done

    @done.setter
    def done(self, value):
        self._done = value
        if value:  # (a finished trace leaves the set: tracing() stays cheap however
            self._live.discard(self)  # many compiled functions keep theirs alive)

    def lift(self, x):
        """A non-traced operand as a node: numbers become SymPy numbers,
        arrays become constant leaves (inputs of the generated kernel)."""
        if isinstance(x, Tracer):
            return x.expr if x.trace is self else self._outer_leaf(x)
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        if isinstance(x, np.ndarray) and x.ndim > 0:
            if x.dtype.kind == "c":  # (complex operands go to trace/complex.py first)
                raise TypeError("a complex array reached an operation on real values only: "
                                "write this step with np.real(z) and np.imag(z)")
            hit = self.consts.get(id(x))
            if hit is None:
                leaf = Leaf(f"c{len(self.consts)}", x.shape, role="const")
                hit = self.consts[id(x)] = (leaf, x)
                self.const_values[leaf] = x
            return hit[0]
        if isinstance(x, np.ndarray):
            x = x[()]
        return b.const(x)

    def _outer_leaf(self, x):
        """The leaf that stands for `x`, a tracer of an enclosing trace."""
        if x.trace.done or x.trace.level > self.level:
            raise TracerConversionError(
                "a traced value escaped the function that was being differentiated (it "
                "was stored and used after that call returned): pass values as "
                "arguments instead of keeping them in global state between calls")
        if x.value is None:
            raise TracerConversionError(
                "a symbolic value of an enclosing derive() reached a nested derivative: "
                "nested derivatives need numeric example values")
        hit = self.consts.get(id(x))
        if hit is None:
            leaf = Leaf(f"o{len(self.outer)}", x.shape, role="outer")
            hit = self.consts[id(x)] = (leaf, x)
            self.const_values[leaf] = x.value
            self.outer[leaf] = x
        return hit[0]

    def new(self, expr, value):
        """A tracer for `expr`; its logical shape is checked against the value's.
        A tracer of an enclosing trace as the value (an argument of a nested
        derivative) is recorded in `outer` and its value taken."""
        if isinstance(value, Tracer):
            self.outer[expr] = value
            value = value.value
        if is_complex(value):  # only arguments are split into real parts (pytree.ComplexParts)
            raise TypeError(
                f"the complex value {expr} would be traced as one real value (a complex array "
                "captured by zs.compile, or an implicit parameter): pass it as an argument, "
                "where complex values are traced as their real and imaginary parts")
        if value is not None:
            dtype = getattr(value, "dtype", None)
            if dtype is not None and dtype.kind in "iu" and (dtype.kind == "u" or dtype.itemsize
                                                             < 8) and not isinstance(expr, Leaf):
                # (an argument of such a dtype is refused by pytree.py, naming it)
                raise TracerConversionError(
                    f"an operation on a traced value gave dtype {dtype}: NumPy wraps narrow "
                    "and unsigned integers around, the trace's exact arithmetic would not, "
                    "so the value could be silently wrong; cast to float (x.astype(float)) "
                    "or int64 before computing with it")
            shape = np.shape(value)
            if self.shapes(expr) != shape:
                expr = BroadcastTo.make(expr, shape)
        return Tracer(expr, value, self)

    def guard(self, expr, outcome):
        self.guards.append(Guard(expr, bool(outcome)))

    def guard_data(self, expr, label, fn, expected):
        """Record that fn(value of expr) gave the index data `expected`."""
        self.guards.append(Guard(expr, True, lambda v: np.array_equal(fn(v), expected), label))


def _plain(v):
    """A value NumPy functions accept (Fractions become floats)."""
    return float(v) if isinstance(v, Fraction) else v


def apply_values(fn, *values):
    """fn of the concrete values; where Python raises on numbers (1/0.0,
    overflow) the value is NumPy's (inf, nan), as the generated kernel gives."""
    if any(v is None for v in values):
        return None
    try:
        return fn(*values)
    except TypeError:
        return fn(*[_plain(v) for v in values])
    except ArithmeticError:
        with np.errstate(all="ignore"):
            return fn(*[np.float64(_plain(v)) if np.ndim(v) == 0 else v for v in values])


def newest(values, default=None):
    """The trace an operation on these values happens in: the newest trace of
    the tracers among them (searching lists and tuples)."""
    found = default
    for v in values:
        t = v.trace if isinstance(v, Tracer) else \
            newest(v) if isinstance(v, (list, tuple)) else None
        if t is not None and (found is None or t.level > found.level):
            found = t
    return found


class _ComplexHook:
    """The operations on complex values, installed by trace/complex.py (which
    imports this module): a real tracer meeting a complex operand (a Python
    complex, a complex array, a ComplexTracer) hands the operation there."""
    ufunc: Callable[..., Any] | None = None
    function: Callable[..., Any] | None = None


COMPLEX = _ComplexHook()
# NumPy functions that mean something on real tracers only through complex.py
_COMPLEX_FUNCS = frozenset({np.real, np.imag, np.angle, np.conjugate})


def is_complex(v):
    """Is v complex: a complex number or array, a ComplexTracer, or a list of them?"""
    if isinstance(v, (float, int, Tracer)):
        return False
    if isinstance(v, complex):
        return True
    dtype = getattr(v, "dtype", None)
    if dtype is not None:
        return getattr(dtype, "kind", "") == "c"
    return isinstance(v, (list, tuple)) and any(map(is_complex, v))


def _operator(ufunc, pyop, reflected=False):
    """A Python operator: the node of `ufunc` (one table for both spellings),
    the value of the Python operator."""

    def method(self, other):
        operands = (other, self) if reflected else (self, other)
        if is_complex(other):
            return COMPLEX.ufunc(ufunc, operands, {})
        trace = newest(operands)
        return trace.dispatch.operator(trace, ufunc, pyop, operands)
    return method


_CONVERSION_HELP = (
    "{op} of a traced value would drop its gradient. Use NumPy functions "
    "(np.sin, np.exp, np.sqrt, ...) instead of the math module, and keep values "
    "as arrays/numbers instead of converting with float()/np.asarray(x, float); "
    "to cut the gradient on purpose, use zygote_sym.stop_gradient(x).")


_STEPS = (Relational, Boolean, sp.floor, sp.ceiling, sp.sign)


def _steps_only(expr):
    """Is expr piecewise constant: built from numbers and step functions
    (comparisons, floor, ceiling, sign) alone, with no path to a leaf that
    avoids a step? A select's condition is a step whatever it holds."""
    todo, seen = [expr], set()
    while todo:
        e = todo.pop()
        if isinstance(e, sp.Symbol):  # a leaf reached without a step (a Symbol is a Boolean)
            return False
        if isinstance(e, _STEPS) or e.is_Number or id(e) in seen:
            continue
        seen.add(id(e))
        todo.extend(e.args[1:] if isinstance(e, Where) else e.args)
    return True


def _numpy_method(name):
    """`x.name(...)` as `np.name(x, ...)`, which dispatches to the array rules."""
    func = getattr(np, name)

    def method(self, *args, **kwargs):
        return func(self, *args, **kwargs)
    method.__name__ = name
    return method


def _shape_args(args):
    """`x.reshape(2, 3)` and `x.reshape((2, 3))` alike."""
    return args[0] if len(args) == 1 and np.ndim(args[0]) else args


class Tracer:
    """A traced value: `expr` (SymPy node) and `value` (concrete, or None).

    `held` is the value as held: possibly deferred (lazy.py: an elementwise
    operation on large arrays), computed when `value` is first read.
    `base` is set on NumPy-style views (basic slices, reshapes, transposes):
    (the tracer viewed, a function that maps the view back onto it), so
    item assignment into a view also updates what it views."""

    __slots__ = ("expr", "held", "trace", "base")
    pytree_leaf = True  # pytree.is_leaf: a traced value is a leaf of any container
    __array_priority__ = 1000  # NumPy defers mixed operations to us
    __pandas_priority__ = 5000  # pandas defers them too (DataFrame's own is 4000)

    def __init__(self, expr, value, trace):
        self.expr, self.held, self.trace, self.base = expr, value, trace, None

    @property
    def value(self):
        """The concrete value (computed now if it was deferred), or None."""
        v = self.held
        if type(v) is Lazy:
            v = self.held = v.get()
        return v

    @value.setter
    def value(self, v):
        self.held = v

    # --------------------------------------------------------------- shape
    @property
    def shape(self):  # (a deferred value knows its shape: it is not computed here)
        return self.trace.shapes(self.expr) if self.held is None else np.shape(self.held)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape))

    @property
    def dtype(self):
        v = self.held
        if type(v) is Lazy:
            return v.dtype
        return np.result_type(_plain(v)) if v is not None else np.dtype(float)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a traced scalar")
        return self.shape[0]

    def __repr__(self):
        # the let-bound form: linear in the trace's size (str(expr) is
        # exponential on a shared DAG)
        return f"Tracer(value={self.value!r}, expr={let_bound([self.expr], limit=20)})"

    __hash__ = object.__hash__

    # ---------------------------------------------------------- arithmetic
    __add__ = _operator(np.add, operator.add)
    __radd__ = _operator(np.add, operator.add, reflected=True)
    __sub__ = _operator(np.subtract, operator.sub)
    __rsub__ = _operator(np.subtract, operator.sub, reflected=True)
    __mul__ = _operator(np.multiply, operator.mul)
    __rmul__ = _operator(np.multiply, operator.mul, reflected=True)
    __truediv__ = _operator(np.true_divide, operator.truediv)
    __rtruediv__ = _operator(np.true_divide, operator.truediv, reflected=True)
    __pow__ = _operator(np.power, operator.pow)
    __rpow__ = _operator(np.power, operator.pow, reflected=True)
    __mod__ = _operator(np.remainder, operator.mod)
    __rmod__ = _operator(np.remainder, operator.mod, reflected=True)
    __floordiv__ = _operator(np.floor_divide, operator.floordiv)
    __rfloordiv__ = _operator(np.floor_divide, operator.floordiv, reflected=True)

    def __neg__(self):
        return self.trace.dispatch.operator(self.trace, np.negative, operator.neg, (self,))

    def __pos__(self):
        return self

    def __abs__(self):
        return self.trace.dispatch.operator(self.trace, np.absolute, abs, (self,))

    # --------------------------------------------------------- comparisons
    __lt__ = _operator(np.less, operator.lt)
    __le__ = _operator(np.less_equal, operator.le)
    __gt__ = _operator(np.greater, operator.gt)
    __ge__ = _operator(np.greater_equal, operator.ge)
    __eq__ = _operator(np.equal, operator.eq)
    __ne__ = _operator(np.not_equal, operator.ne)
    # masks combine as NumPy's bool arrays do (`(x > 0) & (x < 1)`, `~mask`)
    __and__ = _operator(np.logical_and, operator.and_)
    __rand__ = _operator(np.logical_and, operator.and_, reflected=True)
    __or__ = _operator(np.logical_or, operator.or_)
    __ror__ = _operator(np.logical_or, operator.or_, reflected=True)

    def __invert__(self):
        return self.trace.dispatch.operator(self.trace, np.logical_not, np.logical_not, (self,))

    # ------------------------------------------------ Python control flow
    def _concrete(self, op):
        if self.value is None:
            raise SymbolicBranchError(
                f"{op} needs a concrete value, but {let_bound([self.expr], limit=20)} is "
                "purely symbolic. "
                "Pass example values (e.g. derive(f, 2.0) instead of a Symbol) so "
                "the branch can be decided, or write the branch as a select: "
                "np.where(cond, a, b).")
        return self.value

    def _concrete_data(self, label, fn=np.asarray):
        """`fn(value)`: index data decided by the value (a mask, an order), kept
        as a data guard so a compiled kernel notices when it would change."""
        data = fn(self._concrete(label))
        self.trace.guard_data(self.expr, label, fn, data)
        return data

    def __bool__(self):
        value = self._concrete("bool() / if / while")
        if np.ndim(value) and np.size(value) != 1:
            raise ValueError(
                "the truth value of a traced array with more than one element is "
                "ambiguous: use np.any/np.all, or np.where for an elementwise select")
        outcome = bool(value)
        expr = self.expr
        if not isinstance(expr, (Relational, Boolean)):
            expr = b.relation("!=", expr, b.ZERO)
        self.trace.guard(expr, outcome)
        return outcome

    def __index__(self):  # an index, range(), a slice bound: integers only, as for a float
        if np.asarray(self.value).dtype.kind not in "iub":
            raise TypeError(f"the traced float {self.value!r} cannot be interpreted as an "
                            "integer (an index, a range, a slice bound), as for a Python or "
                            "NumPy float: take int() of it (its gradient is None)")
        return self.__int__()

    def __int__(self):
        value = self._concrete("int() / range() / indexing")
        if np.ndim(value) or not float(value).is_integer():
            raise TracerConversionError(
                f"int() of the traced value {value!r}, which is not an integer, would "
                "drop its gradient: use np.floor/np.round (gradient 0) or keep it as "
                "a number.")
        self.trace.guard(b.relation("==", self.expr, b.const(int(value))), True)
        return int(value)

    def __float__(self):
        raise TracerConversionError(_CONVERSION_HELP.format(op="float() (also math.* functions)"))

    def __complex__(self):
        raise TracerConversionError(_CONVERSION_HELP.format(op="complex()"))

    def __array__(self, dtype=None, copy=None):
        """NumPy's conversion, allowed only for integer/bool values that are
        piecewise constant (`np.floor(x).astype(int)`, masks): their gradient
        is zero, so the concrete value loses nothing; it is kept as a data
        guard. Used when such a value indexes a plain array (`f[ix]`)."""
        if self.value is not None and self.dtype.kind in "biu" and _steps_only(self.expr):
            return self._concrete_data("np.asarray() of an integer/bool traced value",
                                       lambda v: np.asarray(v, dtype))
        raise TracerConversionError(_CONVERSION_HELP.format(op="np.asarray()/np.array()"))

    # --------------------------------------------------------------- NumPy
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and (ufunc in _COMPLEX_FUNCS or any(map(is_complex, inputs))):
            return COMPLEX.ufunc(ufunc, inputs, kwargs)
        trace = newest(inputs)
        return trace.dispatch.ufunc(trace, ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func in _COMPLEX_FUNCS or any(map(is_complex, args)) \
                or any(map(is_complex, kwargs.values())):
            return COMPLEX.function(func, args, kwargs)
        return self.trace.dispatch.function(func, args, kwargs)

    # -------------------------------------------------------------- arrays
    def __getitem__(self, key):
        return self.trace.dispatch.function(operator.getitem, (self, key), {})

    def __setitem__(self, key, value):
        """Item assignment as a functional update: this tracer is rebound to a
        SetItem node (and so is the array it is a view of, if any)."""
        self._rebind(self.trace.dispatch.function(operator.setitem, (self, key, value), {}))

    def _rebind(self, new):
        if new.trace is not self.trace:
            raise TracerConversionError(
                "item assignment of a nested derivative's traced value into an array of "
                "an enclosing derivative: build a new array instead (np.where, "
                "np.concatenate, or x = x + ...)")
        self.expr, self.held = new.expr, new.held
        if self.base is not None:
            base, restore = self.base
            base._rebind(restore(self))

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a traced scalar")
        return (self[i] for i in range(self.shape[0]))

    def __matmul__(self, other):
        return np.matmul(self, other)

    def __rmatmul__(self, other):
        return np.matmul(other, self)

    @property
    def T(self):
        return np.transpose(self)

    # a real value's complex views (NumPy's): real is itself, imag is zeros
    real = property(lambda self: self)
    imag = property(lambda self: np.imag(self))

    def conj(self):
        return self

    conjugate = conj

    def copy(self, order="C"):
        return Tracer(self.expr, self.held, self.trace)

    def astype(self, dtype, copy=True):
        """Float/complex casts keep the node; bool and integer casts are steps
        (`!= 0`, truncation), whose gradient is 0."""
        kind, expr = np.dtype(dtype).kind, self.expr
        if kind == "b":
            expr = b.relation("!=", expr, b.ZERO)
        elif kind in "iu" and self.dtype.kind not in "iub":
            expr = where(b.relation(">=", expr, b.ZERO), b.call(sp.floor, expr),
                         b.call(sp.ceiling, expr))
        value = None if self.value is None else np.asarray(self.value).astype(dtype)
        return self.trace.new(expr, value)

    def reshape(self, *shape, order="C"):
        return np.reshape(self, _shape_args(shape), order=order)

    def transpose(self, *axes):
        return np.transpose(self, _shape_args(axes) if axes else None)

    def flatten(self, order="C"):
        return np.ravel(self, order).copy()  # a copy, not a view

    def sort(self, axis=-1, kind=None, order=None):
        self._rebind(np.sort(self, axis, kind, order))

    def item(self):
        if self.size != 1:
            raise ValueError("can only convert a traced array of size 1 to a scalar")
        return np.reshape(self, ())


# ndarray methods that are NumPy functions of the array (`x.trace` is taken:
# it is the Trace; use np.trace(x))
for _name in ("sum", "mean", "prod", "max", "min", "var", "std", "cumsum", "cumprod", "clip",
              "dot", "ravel", "squeeze", "swapaxes", "diagonal", "take", "argsort", "argmax",
              "argmin", "nonzero", "all", "any", "round", "repeat"):
    setattr(Tracer, _name, _numpy_method(_name))


TRACED: set[type] = {Tracer}  # the classes of traced values; trace/complex.py adds ComplexTracer
