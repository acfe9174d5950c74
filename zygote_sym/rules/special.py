"""SymPy functions that exist for special points (docs/special_points.md).

- `softplus`, `sigmoid`, `logaddexp`: what `log(1 + exp(x))`,
  `1/(1 + exp(-x))` and `log(exp(a) + exp(b))` become when the tracer
  recognises them (graph.py, trace/numpy_dispatch.py), printed in stable
  forms that never evaluate `exp` of a large argument.
- `strong_mul(a, b, hit)`: the product the backward pass uses below a
  partial that may be infinite: 0 wherever either factor is 0 (a "strong
  zero", the semantics of Julia's `false`: `false*Inf == 0`).  `hit` is a
  scalar `nonfinite(c)` (or an Or of them) of the cotangents the infinity
  would come from: while it is false (almost always), NumPy multiplies
  plainly, without looking for nans.
- `guard(x, c, s)`: x where c holds, else the safe point s: how a select's
  branch not taken keeps an op's argument in its domain (ops.where), and a
  denominator away from 0 where its numerator is 0 too.  Its partial is 1:
  where c fails its cotangent is 0 anyway, or (a denominator) its numerator.

Built unevaluated on the compile path; evaluated (`f(x)` with SymPy's
evaluation, as closed_form.py and the oracle test rebuild them) each becomes
its textbook SymPy expression, so closed forms read `log(exp(x) + 1)`.
The stable scalar versions are kernel helpers (`RUNTIME`, NumPy has its own).
"""
import math

import numpy as np
import sympy as sp
from sympy.logic.boolalg import BooleanFunction

LN2 = math.log(2.0)


class softplus(sp.Function):
    """log(1 + exp(x))."""

    @classmethod
    def eval(cls, x):
        return sp.log(1 + sp.exp(x))

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0], evaluate=False)


class sigmoid(sp.Function):
    """1/(1 + exp(-x)), the logistic function (`scipy.special.expit`)."""

    @classmethod
    def eval(cls, x):
        return 1 / (1 + sp.exp(-x))

    def fdiff(self, argindex=1):
        return self * (1 - self)


class logaddexp(sp.Function):
    """log(exp(a) + exp(b))."""

    @classmethod
    def eval(cls, a, b):
        return sp.log(sp.exp(a) + sp.exp(b))

    def fdiff(self, argindex=1):
        a, b = self.args if argindex == 1 else self.args[::-1]
        return sigmoid(a - b, evaluate=False)


class strong_mul(sp.Function):
    """a*b, but 0 where a or b is 0 even if the other is inf or nan; `hit`
    false promises that neither is."""

    @classmethod
    def eval(cls, a, b, hit):
        return a * b

    def fdiff(self, argindex=1):
        return self.args[2 - argindex]


class nonfinite(BooleanFunction):
    """Does x hold an inf or a nan?  One truth value for the whole array."""

    def shape_rule(self, _):
        return ()


class either(BooleanFunction):
    """a or b, for two scalar truth values (SymPy's Or sorts its arguments,
    which walks their trees: exponential on a shared DAG)."""


class guard(sp.Function):
    """x where c, else s (a safe point): `np.where(c, x, s)`."""

    @classmethod
    def eval(cls, x, c, s):
        return x


def _softplus(x):
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def _np_softplus(x):
    # max(x, 0) + log1p(exp(-|x|)): stable, and 3x faster than np.logaddexp(0, x)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _logaddexp(a, b):
    if a == b:  # also both inf: inf - inf would be nan
        return a + LN2
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _strong_mul(a, b):
    return 0.0 if a == 0 or b == 0 else a * b


def _np_strong_mul(a, b, hit):
    if not hit:
        return np.multiply(a, b)
    with np.errstate(invalid="ignore"):
        return np.where((np.asarray(a) == 0) | (np.asarray(b) == 0), 0.0, np.multiply(a, b))


def _nonfinite(x):
    return not np.isfinite(np.sum(x))  # one pass (a false alarm on overflow is harmless)


RUNTIME = {"_softplus": _softplus, "_np_softplus": _np_softplus, "_sigmoid": _sigmoid, "_logaddexp": _logaddexp,
           "_strong_mul": _strong_mul, "_np_strong_mul": _np_strong_mul,
           "_nonfinite": _nonfinite}
