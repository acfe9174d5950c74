"""SymPy functions that exist for special points (docs/special_points.md).

- `softplus`, `sigmoid`, `logaddexp`: what `log(1 + exp(x))`,
  `1/(1 + exp(-x))` and `log(exp(a) + exp(b))` become when they are
  recognised (build.py, trace/handlers/elementwise.py), printed in stable
  forms that never evaluate `exp` of a large argument.
- `strong_mul(a, b, hit)`: the product the backward pass uses below a
  partial that may be infinite: 0 wherever either factor is 0 (a "strong
  zero", the semantics of Julia's `false`: `false*Inf == 0`).  `hit` is a
  scalar `nonfinite(c)` (or an `either` of them) of the cotangents the
  infinity would come from: while it is false (almost always), kernels
  multiply plainly, without looking for nans.
- `stop_gradient(x)`: x, with derivative 0.
- `safe(x, c, s)`: x where c holds, else the safe point s: how a select's
  branch not taken keeps an op's argument in its domain (build.where), and a
  denominator away from 0 where its numerator is 0 too.  (Not to be confused
  with a *guard*, a branch decision recorded by the trace.)

Built unevaluated on the compile path; evaluated (`f(x)` with SymPy's
evaluation, as closed_form.py and the oracle test rebuild them) each becomes
its textbook SymPy expression, so closed forms read `log(exp(x) + 1)`.
Their derivatives are rules in ad/rules/elementwise.py; their kernels'
stable implementations are in codegen/runtime.py.
"""
import sympy as sp
from sympy.logic.boolalg import BooleanFunction


class softplus(sp.Function):
    """log(1 + exp(x))."""

    @classmethod
    def eval(cls, x):
        return sp.log(1 + sp.exp(x))


class sigmoid(sp.Function):
    """1/(1 + exp(-x)), the logistic function (`scipy.special.expit`)."""

    @classmethod
    def eval(cls, x):
        return 1 / (1 + sp.exp(-x))


class logaddexp(sp.Function):
    """log(exp(a) + exp(b))."""

    @classmethod
    def eval(cls, a, b):
        return sp.log(sp.exp(a) + sp.exp(b))


class strong_mul(sp.Function):
    """a*b, but 0 where a or b is 0 even if the other is inf or nan; `hit`
    false promises that neither is."""

    @classmethod
    def eval(cls, a, b, hit):
        return a * b


class nonfinite(BooleanFunction):
    """Does x hold an inf or a nan?  One truth value for the whole array."""

    def shape_rule(self, _):
        return ()


class either(BooleanFunction):
    """a or b, for two scalar truth values (SymPy's Or sorts its arguments,
    which walks their trees: exponential on a shared DAG)."""


class stop_gradient(sp.Function):
    """x, through which no cotangent flows (`jax.lax.stop_gradient`): a node,
    so a compiled kernel recomputes x at every call."""

    @classmethod
    def eval(cls, x):
        return x


class safe(sp.Function):
    """x where c, else s (a safe point): `np.where(c, x, s)`."""

    @classmethod
    def eval(cls, x, c, s):
        return x
