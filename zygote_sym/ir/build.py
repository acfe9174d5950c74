"""Builders: unevaluated SymPy nodes with a few cheap local folds.

SymPy's automatic evaluation is super-linear on traced graphs, so every node
is built unevaluated here, with only the folds that never change a shape
(dropping a scalar 0 from a sum or a scalar 1 from a product), number
folding, and the recognition of a few spellings whose textbook form would
overflow or be undefined at a special point (`1/(1 + exp(-x))` is
`sigmoid`, `sqrt(sum(x**2))` is a `Norm`).  `mul` by 0 returns 0 and so may
lose a shape: tracing re-checks shapes against concrete values, and the
backward pass drops zero terms.
"""
from fractions import Fraction

import numpy as np
import sympy as sp
import sympy.tensor.tensor  # noqa: F401  (SymPy's Add.flatten imports it on the first sum
# of 3+ terms it flattens, with sympy.combinatorics: 0.1-0.3 s that the first gradient in
# a process paid; imported here, `import zygote_sym` pays it, about 1.5% of the import)
from sympy.core.relational import Relational
from sympy.logic.boolalg import Boolean

from .ops import BroadcastTo, Einsum, Norm, Reshape, Sum, SumTo, Transpose, Where
from .special import sigmoid, strong_mul as _strong_mul

ZERO, ONE, NEG_ONE = sp.Integer(0), sp.Integer(1), sp.Integer(-1)
HALF = sp.Rational(1, 2)


def const(value):
    """A Python/NumPy scalar or Fraction as a SymPy number; floats that are
    exactly a small-denominator rational (0.5, 1.875, 2.0) become Rationals so
    that closed forms read `x/2`, not `0.5*x` (the value is unchanged)."""
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, (bool, np.bool_)):
        return sp.true if value else sp.false
    if isinstance(value, (int, np.integer)):
        return sp.Integer(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if np.isfinite(value):
            fr = Fraction(value)
            if fr.denominator <= 1024 and abs(fr.numerator) < 2**53:
                return sp.Rational(fr.numerator, fr.denominator)
            return sp.Float(value, 17)
        return sp.nan if np.isnan(value) else (sp.oo if value > 0 else -sp.oo)
    if hasattr(value, "numerator") and hasattr(value, "denominator"):
        return sp.Rational(int(value.numerator), int(value.denominator))
    if isinstance(value, (complex, np.complexfloating)):
        # complex values are traced as pairs of real nodes (trace/complex.py); one that
        # reaches a node directly met an operation with no complex form
        raise TypeError(f"the complex constant {value!r} reached an operation on real values "
                        "only: write this step with the real and imaginary parts "
                        "(np.real(z), np.imag(z))")
    raise TypeError(f"cannot use {type(value).__name__} {value!r} as a constant")


def _is_num(x):
    return isinstance(x, sp.Number)


# --- truth values used as numbers (`(x > 0)*x`, `x - (x > 0)`, `True + x`) ---
def _as_number(x):
    """A truth value in arithmetic is the select 1 where it holds, else 0
    (shaped like it; derivative 0 through the comparison), as NumPy's bools."""
    if not isinstance(x, Boolean) or isinstance(x, sp.Expr):  # (a Symbol is both)
        return x
    if x is sp.true or x is sp.false:
        return ONE if x is sp.true else ZERO
    return Where(x, ONE, ZERO, evaluate=False)
# ---


def add(*args):
    args = [_as_number(a) for a in args]
    args = [a for a in args if a is not ZERO and a != 0]
    nums = [a for a in args if _is_num(a)]
    if len(nums) > 1:
        args = [a for a in args if not _is_num(a)] + [sp.Add(*nums)]
        args = [a for a in args if a != 0]
    if not args:
        return ZERO
    if len(args) == 1:
        return args[0]
    return sp.Add(*args, evaluate=False)


def _scaled(x):
    """(c, y) if x is the product `c*y` of a number and one factor, else None."""
    if isinstance(x, sp.Mul) and len(x.args) == 2 and _is_num(x.args[0]):
        return x.args
    return None


def mul(*args):
    args = [_as_number(a) for a in args]
    args = [a for a in args if a is not ONE and a != 1]
    if any(a == 0 for a in args if _is_num(a)):
        return ZERO
    if any(_is_num(a) for a in args):  # 3*(2*x) is 6*x: fold the coefficients
        args = [f for a in args for f in (_scaled(a) or (a,))]
    nums = [a for a in args if _is_num(a)]
    if len(nums) > 1:
        folded = sp.Mul(*nums)
        args = ([folded] if folded != 1 else []) + [a for a in args if not _is_num(a)]
    elif nums and nums[0] is not args[0]:
        args = nums + [a for a in args if not _is_num(a)]  # scalar factor first
    if not args:
        return ONE
    if len(args) == 1:
        return args[0]
    if len(args) == 2 and (v := _exp_times_sigmoid(*args)) is not None:
        return call(sigmoid, v)
    return sp.Mul(*args, evaluate=False)


def _exp_times_sigmoid(a, b):
    """v if a*b is `exp(v)*sigmoid(-v)`, which is how `exp(v)/(1 + exp(v))`
    arrives (see `pow_`), else None."""
    e, s = (a, b) if isinstance(a, sp.exp) else (b, a)
    if isinstance(e, sp.exp) and isinstance(s, sigmoid) and s.args[0] == neg(e.args[0]):
        return e.args[0]
    return None


def strong_mul(a, b, hit):
    """a*b where 0 times inf or nan must be 0, `hit` the truth value "a factor
    may be non-finite" (the backward pass below a pole; special.py)."""
    if any(_is_num(x) and x != 0 and x.is_finite for x in (a, b)) or hit is sp.false:
        return mul(a, b)
    if a == 0 or b == 0:
        return ZERO
    return _strong_mul(a, b, hit, evaluate=False)


def pow_(base, exp):
    base, exp = _as_number(base), _as_number(exp)
    if exp == 1:
        return base
    if exp == 0 and _is_num(base):  # x**0 stays a node: its gradient is 0, not None
        return ONE
    if _is_num(base) and _is_num(exp) and (base > 0 or exp.is_integer) and base != 0:
        return base ** exp
    if exp == -1 and (v := _one_plus_exp(base)) is not None:  # 1/(1 + exp(-x))
        return call(sigmoid, neg(v))
    if exp == HALF:  # sqrt(sum(x**2)): the norm, whose gradient at 0 is 0
        if (n := as_norm(base)) is not None:
            return n
    return sp.Pow(base, exp, evaluate=False)


def _one_plus_exp(x):
    """v if x is `1 + exp(v)` (either order), else None."""
    if isinstance(x, sp.Add) and len(x.args) == 2 and ONE in x.args:
        e = x.args[0] if x.args[1] == ONE else x.args[1]
        if isinstance(e, sp.exp):
            return e.args[0]
    return None


def neg(a):
    if isinstance(a, sp.Mul) and len(a.args) == 2 and a.args[0] == NEG_ONE:
        return a.args[1]  # -(-x) is x
    return mul(NEG_ONE, a)


def sub(a, b):
    return add(a, neg(b))


def div(a, b):
    return mul(a, pow_(b, NEG_ONE))


def call(func, *args):
    return func(*args, evaluate=False)


def relation(kind, a, b):
    """A comparison node: kind is one of '<', '<=', '>', '>=', '==', '!='.
    Two finite numbers compare to sp.true/sp.false (selects on them fold)."""
    if _is_num(a) and _is_num(b) and a.is_finite and b.is_finite:
        return Relational(a, b, kind)
    return Relational(a, b, kind, evaluate=False)


# ------------------------------------------------------------ shape builders
def broadcast_to(x, shape, shapes):
    """`x` with exactly `shape` (a BroadcastTo node only if it differs)."""
    return x if shapes(x) == tuple(shape) else BroadcastTo.make(x, tuple(shape))


def sum_to(ct, from_shape, to_shape):
    """Unbroadcast a cotangent whose logical shape is `from_shape`."""
    if tuple(from_shape) == tuple(to_shape):
        return ct
    if isinstance(ct, sp.Number):  # a constant cotangent sums to a count
        return mul(ct, sp.Integer(int(np.prod(from_shape)) // int(np.prod(to_shape) or 1)))
    return SumTo.make(BroadcastTo.make(ct, tuple(from_shape)), tuple(to_shape))


def transpose(x, perm):
    perm = tuple(perm)
    if isinstance(x, Transpose):  # a transpose of a transpose is one transpose
        x, perm = x.args[0], tuple(x.params[0][i] for i in perm)
    return x if perm == tuple(range(len(perm))) else Transpose.make(x, perm)


def reshape(x, shape, shapes):
    shape = tuple(shape)
    if isinstance(x, Reshape):  # only the last reshape matters
        x = x.args[0]
    return x if shapes(x) == shape else Reshape.make(x, shape)


def swap_last(x, shapes):
    """x with its last two axes swapped (the matrix transpose of a stack)."""
    n = len(shapes(x))
    return transpose(x, tuple(range(n - 2)) + (n - 1, n - 2))


def inverse_perm(perm):
    return tuple(int(i) for i in np.argsort(perm))


def einsum(xs, spec):
    if not xs:
        return ONE
    if len(xs) == 1 and spec.split("->") == [spec.split("->")[1]] * 2:
        return xs[0]
    return Einsum.make(*xs, spec)


def as_norm(s):
    """Norm(x) if s is `sum(x**2)` or `sum(x*x)` (any axes), else None."""
    if isinstance(s, Sum):
        sq, params = s.args[0], s.params
        if isinstance(sq, sp.Pow) and sq.exp == 2:
            return Norm.make(sq.base, *params)
        if isinstance(sq, sp.Mul) and len(sq.args) == 2 and sq.args[0] == sq.args[1]:
            return Norm.make(sq.args[0], *params)
    return None
