"""Array operations that are not elementwise, as SymPy Function subclasses.

Each op keeps its array operands first (`nops` of them) and its static
arguments (axes, shapes, index data) after them as SymPy Integers/Tuples:
a plain `None`, `slice` or string would break SymPy or silently become a
Symbol (DESIGN.md).  Each op carries its own shape rule, pullback rule
(`vjp`), NumPy printer (`numpy`) and LaTeX printer (`_latex`), so adding an
op is adding one class here.

`Where` is elementwise (a select); it lives here because, like the
structural ops, it has no SymPy counterpart with the semantics we need
(NumPy's `where`, which numexpr also has).
"""
import numpy as np
import sympy as sp

from . import graph as g


def static(x):
    """A Python static argument (int, tuple of ints, None) as SymPy data."""
    if x is None:
        return sp.S.NaN  # a stand-in that SymPy keeps as-is; see `unstatic`
    if isinstance(x, (tuple, list)):
        return sp.Tuple(*[static(v) for v in x])
    return sp.Integer(int(x))


def unstatic(x):
    if x is sp.S.NaN:
        return None
    if isinstance(x, sp.Tuple):
        return tuple(unstatic(v) for v in x)
    return int(x)


class ArrayOp(sp.Function):
    """Base class: `nops` array operands, then static arguments."""

    nops = 1
    exact_ct = True  # the backward pass hands vjp a cotangent of exactly this op's shape
    is_commutative = True
    is_real = True

    @classmethod
    def make(cls, *operands_and_static):
        ops = operands_and_static[:cls.nops]
        rest = [static(s) for s in operands_and_static[cls.nops:]]
        return cls(*ops, *rest, evaluate=False)

    @property
    def operands(self):
        return self.args[:self.nops]

    @property
    def params(self):
        return [unstatic(a) for a in self.args[self.nops:]]

    def _sympystr(self, printer):
        ops = ", ".join(printer.doprint(a) for a in self.operands)
        ps = ", ".join(repr(p) for p in self.params)
        return f"{type(self).__name__}({ops}{', ' if ps else ''}{ps})"


class BroadcastTo(ArrayOp):
    """`np.broadcast_to(x, shape)`: makes a node's logical shape explicit
    (e.g. the constant cotangent of `sum(x)`, or `x - x` folded to 0)."""

    exact_ct = False

    def shape_rule(self, _):
        return self.params[0]

    def vjp(self, ct, shapes):
        return [sum_to(ct, self.params[0], shapes(self.args[0]))]

    def value(self, x):
        return np.broadcast_to(x, self.params[0])

    def numpy(self, x):
        return f"np.broadcast_to({x}, {self.params[0]!r})"

    def _latex(self, printer):
        return printer._print(self.args[0])


class SumTo(ArrayOp):
    """Sum an array of a broadcast shape back down to `shape` (unbroadcast)."""

    exact_ct = False

    def shape_rule(self, _):
        return self.params[0]

    def vjp(self, ct, shapes):
        return [ct]  # already broadcastable to the operand's shape

    def value(self, x):
        return _sum_to(x, self.params[0])

    def numpy(self, x):
        return f"_sum_to({x}, {self.params[0]!r})"

    def _latex(self, printer):
        return r"\sum " + printer.parenthesize(self.args[0], 0)


def _sum_to(x, shape):
    """Sum `x` over the axes along which `shape` was broadcast (NumPy rules)."""
    x = np.asarray(x)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1)
    out = x.sum(axis=axes, keepdims=True) if axes else x
    return out.reshape(shape)


def broadcast_to(x, shape, shapes):
    """`x` with exactly `shape` (a BroadcastTo node only if it differs)."""
    return x if shapes(x) == tuple(shape) else BroadcastTo.make(x, tuple(shape))


def sum_to(ct, from_shape, to_shape):
    """Unbroadcast a cotangent whose logical shape is `from_shape`."""
    if tuple(from_shape) == tuple(to_shape):
        return ct
    if isinstance(ct, sp.Number):  # a constant cotangent sums to a count
        return g.mul(ct, sp.Integer(int(np.prod(from_shape)) // int(np.prod(to_shape) or 1)))
    return SumTo.make(BroadcastTo.make(ct, tuple(from_shape)), tuple(to_shape))


class Where(ArrayOp):
    """Elementwise select `np.where(cond, a, b)`: a SymPy Piecewise with
    NumPy's broadcasting; only the chosen operand receives a cotangent."""

    exact_ct = False

    nops = 3

    def shape_rule(self, c, a, b):
        return g.broadcast(c, a, b)

    def vjp(self, ct, shapes):
        c, a, b = self.args
        out = shapes(self)
        return [None, sum_to(where(c, ct, g.ZERO), out, shapes(a)),
                sum_to(where(c, g.ZERO, ct), out, shapes(b))]

    def value(self, c, a, b):
        return np.where(c, a, b)

    def numpy(self, c, a, b):
        return f"np.where({c}, {a}, {b})"

    def _latex(self, printer):
        c, a, b = self.args
        return printer._print(sp.Piecewise((a, c), (b, True), evaluate=False))

    def as_piecewise(self):
        c, a, b = self.args
        return sp.Piecewise((a, c), (b, True))


def where(c, a, b):
    if c == sp.true:
        return a
    if c == sp.false:
        return b
    if a == b:
        return a
    return Where(c, a, b, evaluate=False)
