"""Fused elementwise regions for large arrays: numexpr, with a measured cost model.

In a NumPy kernel every elementwise temporary over a large array is one
region: its inline expression (the unshared elementwise nodes under it) is
evaluated by one precompiled `numexpr.NumExpr` object, in blocks, with no
full-size temporaries, on numexpr's threads.  A transcendental that NumPy
computes faster than numexpr (NumPy's SIMD `exp`/`log1p` beat numexpr
without VML; numexpr wins `sin`/`cos`) is cut out as a temporary of its own
and computed by NumPy, and the arithmetic around it stays fused.  Which
backend is faster is measured once per machine (`faster_in_numpy`, kept by
calibration.py), not assumed.

numexpr's rules are the law here: only its functions (names.py), float64
and bool operands (integer inputs were cast to float on kernel entry), at
most 63 operands per expression (larger regions stay NumPy), no inf/nan
literals (a node with one is NumPy's).  numexpr parses an expression as
Python and resolves its names against its own function table, so operands
are printed as placeholders `_v0, _v1, ...` (`placeholder`), never as the
user's names (`sin`, `where` or `θ` would break it); a region's NumExpr takes
them positionally.  One NumExpr object must not run in two threads at once:
on its single-threaded path (one numexpr thread, small arrays) it keeps the
call's scratch registers in the object itself (interpreter.cpp,
`get_temps_space(params, self->mem)`), so each thread gets its own (emit.py).
"""
import re
import time

import numexpr
import numpy as np
import sympy as sp
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanAtom

from ..ir.ops import ArrayOp, Where
from . import calibration
from .names import NUMEXPR, TIMED, UFUNCS
from .printers import ATOM, MUL, Printer

MIN_SIZE = 20_000   # below this, numexpr's per-call cost (µs) outweighs fusion
MIN_OPS = 3         # fewer operations than this: one NumPy ufunc call is faster
MAX_OPERANDS = 60   # numexpr accepts at most 63 inputs


def is_boolean(node):
    # not isinstance(node, Boolean): SymPy's Symbol is a Boolean too
    return isinstance(node, (Relational, sp.And, sp.Or, sp.Not, BooleanAtom))


_NONFINITE = frozenset({sp.oo, -sp.oo, sp.nan, sp.zoo})


def printable(node):
    """Can numexpr evaluate this node given its operands?"""
    if any(a in _NONFINITE for a in node.args):
        return False  # numexpr has no inf/nan literal ("inf" would be a variable)
    if isinstance(node, (sp.Add, sp.Mul, sp.Pow, Relational, sp.And, sp.Or, sp.Not, Where)):
        return True
    return node.func in NUMEXPR


class NumexprPrinter(Printer):
    """The numexpr dialect: bare function names, `where`, `&`/`|`/`~`, float literals."""

    def __init__(self):
        super().__init__("numexpr")

    def number(self, n):
        if n is sp.true or n is sp.false or isinstance(n, sp.Integer):
            return super().number(n)
        text = repr(float(n))
        return (text, ATOM) if not text.startswith("-") else (text, MUL + 5)

    def _print_Where(self, node, code):
        c, a, b = (code(v)[0] for v in node.args)
        return f"where({c}, {a}, {b})", ATOM

    def _logic(self, node, code):
        if isinstance(node, sp.Not):
            return f"~({code(node.args[0])[0]})", ATOM
        op = " & " if isinstance(node, sp.And) else " | "
        return op.join(f"({code(v)[0]})" for v in node.args), ATOM - 1

    def _print_Function(self, node, code):
        if node.func not in NUMEXPR:  # (printed, never used: such a node is not in a region)
            return super()._print_Function(node, code)
        return f"{NUMEXPR[node.func]}({', '.join(code(v)[0] for v in node.args)})", ATOM


_PLACEHOLDER = re.compile(r"\b_v[0-9]+\b")


def placeholder(table, name):
    """The numexpr placeholder of kernel variable `name`, added to `table`
    (placeholder -> name)."""
    slot = f"_v{len(table)}"
    table[slot] = name
    return slot


def operand_names(expr):
    """The placeholders of a numexpr expression, in a fixed order (the
    region's NumExpr takes its operands in this order)."""
    return sorted(set(_PLACEHOLDER.findall(expr)), key=lambda s: int(s[2:]))


def readable(expr, table):
    """`expr` with the kernel's names for its placeholders (for comments)."""
    return _PLACEHOLDER.sub(lambda m: table[m.group(0)], expr)


def compile_region(expr, names, bool_names):
    """A precompiled NumExpr for `expr` over operands `names` (float64, or
    bool for those in `bool_names`)."""
    sig = [(n, bool if n in bool_names else np.double) for n in names]
    return numexpr.necompiler.NumExpr(expr, signature=sig)


# ------------------------------------------------------------ cost model
def faster_in_numpy(func, size):
    """Is NumPy's `func` faster than numexpr's on this machine for about `size`
    elements?  Timed once per machine (calibration.py), function and power-of-4 size class
    (at most 2**18 elements, best of 3): numexpr's threads only pay on large
    arrays, and NumPy's SIMD exp/log beat numexpr without VML."""
    if func not in TIMED:
        return False
    n = _size_class(size, cap=9)

    def measure():
        x = np.random.default_rng(0).uniform(0.1, 0.9, n)
        out = np.empty_like(x)
        ne = compile_region(f"{NUMEXPR[func]}(x)", ["x"], ())
        np_fn = TIMED[func]
        return _best(lambda: np_fn(x, out=out)) < _best(lambda: ne(x, out=out, ex_uses_vml=False))
    return calibration.decided(f"faster_in_numpy {NUMEXPR[func]} {n}", measure)


def _size_class(size, cap):
    return 4 ** max(8, min(cap, round(np.log(max(size, 1)) / np.log(4))))


def wants_numpy(node, size):
    """A node computed on its own by NumPy (its operands fused around it)."""
    return isinstance(node, sp.Function) and not isinstance(node, ArrayOp) \
        and faster_in_numpy(node.func, size)


_REL = {"<": "np.less", "<=": "np.less_equal", ">": "np.greater", ">=": "np.greater_equal",
        "==": "np.equal", "!=": "np.not_equal"}


def _negated(x):
    """z if x is -1*z, else None."""
    if isinstance(x, sp.Mul) and len(x.args) == 2 and x.args[0] == -1:
        return x.args[1]
    return None


def ufunc_call(node, code, out):
    """`node` as NumPy ufunc calls writing into `out` (e.g. ", out=_b3"); an
    n-ary sum or product chains through the same buffer, `a + -1*b` is a
    subtraction.  code(child) is the child's source.  None when the node is
    not made of ufuncs."""
    a = [code(x) for x in node.args]
    if node.func in UFUNCS and len(a) == 1:
        return f"{UFUNCS[node.func]}({a[0]}{out})"
    if isinstance(node, sp.Mul) and _negated(node) is not None:
        return f"np.negative({a[1]}{out})"
    if isinstance(node, (sp.Add, sp.Mul)):
        text = a[0]
        for x, b in zip(node.args[1:], a[1:]):
            if isinstance(node, sp.Add) and _negated(x) is not None:
                text = f"np.subtract({text}, {code(_negated(x))}{out})"
            else:
                fn = "np.add" if isinstance(node, sp.Add) else "np.multiply"
                text = f"{fn}({text}, {b}{out})"
        return text
    if isinstance(node, sp.Pow):
        if node.args[1] == 2:
            return f"np.square({a[0]}{out})"
        if node.args[1] == -1:
            return f"np.divide(1.0, {a[0]}{out})"
        if node.args[1] == sp.Rational(1, 2):
            return f"np.sqrt({a[0]}{out})"
        return f"np.power({a[0]}, {a[1]}{out})"
    if isinstance(node, Relational):
        return f"{_REL[node.rel_op]}({a[0]}, {a[1]}{out})"
    return None


def is_subtrahend(node, parents):
    """-1*z whose every parent is a sum: printed there as a subtraction."""
    return _negated(node) is not None and all(isinstance(p, sp.Add) for p in parents)


def numexpr_pays(size):
    """Is one numexpr pass over a 4-operation expression faster than four
    NumPy ufunc calls into a buffer, at about this many elements?  Measured
    once per machine (calibration.py) and power of 4 (best of 3); on the 2-core VM this was
    developed on, numexpr lost at 10**5 elements (170 µs against 60 µs)."""
    size_class = _size_class(size, cap=11)

    def measure():
        rng = np.random.default_rng(0)
        a, b, c = (rng.uniform(0.1, 0.9, size_class) for _ in range(3))
        out = np.empty(size_class)
        ne = compile_region("a*b + c - a*c", ["a", "b", "c"], ())

        def numpy_passes():
            np.multiply(a, b, out=out)
            np.add(out, c, out=out)
            np.subtract(out, np.multiply(a, c), out=out)

        return _best(lambda: ne(a, b, c, out=out, ex_uses_vml=False)) < _best(numpy_passes)
    return calibration.decided(f"numexpr_pays {size_class}", measure)


def _best(fn):
    fn()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


