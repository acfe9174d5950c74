"""NumPy calls on tracers: `__array_ufunc__` and `__array_function__`.

UFUNCS maps a NumPy (or scipy.special) ufunc to a builder of its SymPy node,
one line per ufunc; the concrete value is the ufunc itself applied to the
concrete operands.  FUNCTIONS maps other NumPy functions (reductions,
shape manipulation, ...) to handlers that take the tracer arguments.
Anything missing raises a NoRuleError naming the function.

`log` recognises the overflowing spellings of the stable functions, however
they were written: `log(1 + exp(x))` and `log1p(exp(x))` become `softplus`,
`log(exp(a) + exp(b))` becomes `logaddexp`, `log(sum(exp(x)))` becomes
ops.LogSumExp (`1/(1 + exp(-x))` becomes `sigmoid` in graph.pow_).  Their
trace-time values are computed stably too, from the values the exponents
had when `np.exp` was traced.
"""
import weakref

import numpy as np
import scipy.special as sc
import sympy as sp
from sympy.codegen.cfunctions import expm1, exp2, hypot, log1p, log2, log10

from .. import graph as g
from .. import ops
from ..errors import NoRuleError
from ..rules.special import guard, logaddexp, sigmoid, softplus
from .tracer import Tracer, _apply


def _f(func):
    return lambda *a: g.call(func, *a)


def _cbrt(x):
    return g.mul(g.call(sp.sign, x), g.pow_(g.call(sp.Abs, x), sp.Rational(1, 3)))


def _logaddexp(a, b):
    if a == 0:
        return g.call(softplus, b)
    if b == 0:
        return g.call(softplus, a)
    return g.call(logaddexp, a, b)


def _exponents(u):
    """[v1, v2, ...] if u is exp(v1) + exp(v2) + ... (a term 1 is exp(0)), else None."""
    terms = u.args if isinstance(u, sp.Add) else (u,)
    out = [t.args[0] if isinstance(t, sp.exp) else g.ZERO if t == 1 else None for t in terms]
    return None if None in out or all(v is g.ZERO for v in out) else out


def _log_sum_exp(vs):
    out = vs[0]
    for v in vs[1:]:
        out = _logaddexp(out, v)
    return out


def _log(u):
    if isinstance(u, ops.Sum) and isinstance(u.args[0], sp.exp):
        return ops.LogSumExp.make(u.args[0].args[0], *u.params)
    vs = _exponents(u) if isinstance(u, sp.Add) else None
    return g.call(sp.log, u) if vs is None else _log_sum_exp(vs)


def _log1p(u):
    vs = _exponents(u)
    return g.call(log1p, u) if vs is None else _log_sum_exp([g.ZERO] + vs)


def _xlogy(x, y):  # 0 where x == 0, as scipy.special.xlogy
    return g.mul(x, g.call(sp.log, g.call(guard, y, g.relation("!=", x, g.ZERO), g.ONE)))


UFUNCS = {
    np.add: g.add, np.subtract: g.sub, np.multiply: g.mul,
    np.divide: g.div, np.true_divide: g.div, np.power: g.pow_, np.float_power: g.pow_,
    np.negative: g.neg, np.positive: lambda x: x,
    np.remainder: _f(sp.Mod), np.floor_divide: lambda a, b: g.call(sp.floor, g.div(a, b)),
    np.reciprocal: lambda x: g.pow_(x, g.NEG_ONE),
    np.square: lambda x: g.pow_(x, sp.Integer(2)),
    np.sqrt: lambda x: g.pow_(x, sp.Rational(1, 2)),
    np.cbrt: _cbrt,
    np.exp: _f(sp.exp), np.exp2: _f(exp2), np.expm1: _f(expm1),
    np.log: _log, np.log2: _f(log2), np.log10: _f(log10), np.log1p: _log1p,
    np.logaddexp: _logaddexp,
    np.sin: _f(sp.sin), np.cos: _f(sp.cos), np.tan: _f(sp.tan),
    np.arcsin: _f(sp.asin), np.arccos: _f(sp.acos), np.arctan: _f(sp.atan),
    np.arctan2: _f(sp.atan2), np.hypot: _f(hypot),
    np.sinh: _f(sp.sinh), np.cosh: _f(sp.cosh), np.tanh: _f(sp.tanh),
    np.arcsinh: _f(sp.asinh), np.arccosh: _f(sp.acosh), np.arctanh: _f(sp.atanh),
    np.degrees: lambda x: g.mul(180 / sp.pi, x), np.rad2deg: lambda x: g.mul(180 / sp.pi, x),
    np.radians: lambda x: g.mul(sp.pi / 180, x), np.deg2rad: lambda x: g.mul(sp.pi / 180, x),
    np.absolute: _f(sp.Abs), np.fabs: _f(sp.Abs), np.sign: _f(sp.sign),
    np.floor: _f(sp.floor), np.ceil: _f(sp.ceiling),
    np.maximum: _f(sp.Max), np.minimum: _f(sp.Min), np.fmax: _f(sp.Max), np.fmin: _f(sp.Min),
    np.greater: lambda a, b: g.relation(">", a, b),
    np.greater_equal: lambda a, b: g.relation(">=", a, b),
    np.less: lambda a, b: g.relation("<", a, b),
    np.less_equal: lambda a, b: g.relation("<=", a, b),
    np.equal: lambda a, b: g.relation("==", a, b),
    np.not_equal: lambda a, b: g.relation("!=", a, b),
    np.logical_and: lambda a, b: sp.And(a, b, evaluate=False),
    np.logical_or: lambda a, b: sp.Or(a, b, evaluate=False),
    np.logical_not: lambda a: sp.Not(a, evaluate=False),
    sc.erf: _f(sp.erf), sc.erfc: _f(sp.erfc), sc.gamma: _f(sp.gamma),
    sc.gammaln: _f(sp.loggamma), sc.expit: _f(sigmoid),
    sc.log_expit: lambda x: g.neg(g.call(softplus, g.neg(x))),
    sc.logit: lambda x: g.call(sp.log, g.div(x, g.sub(g.ONE, x))),
    sc.xlogy: _xlogy,
}


def apply_ufunc(trace, ufunc, method, inputs, kwargs):
    if method == "reduce" and ufunc in REDUCERS:
        return REDUCERS[ufunc](*inputs, **kwargs)
    if method == "__call__" and ufunc in FUNCTIONS:  # structural ufuncs (np.matmul)
        return FUNCTIONS[ufunc](*inputs, **kwargs)
    build = UFUNCS.get(ufunc)
    if method != "__call__" or build is None or kwargs.get("out") is not None:
        raise NoRuleError(
            f"zygote_sym has no rule for np.{ufunc.__name__}"
            f"{'' if method == '__call__' else '.' + method} on traced values: add a "
            "line to UFUNCS in zygote_sym/trace/numpy_dispatch.py (and, for a new "
            "SymPy function, its derivative in zygote_sym/rules/elementwise.py)")
    values = [x.value if isinstance(x, Tracer) else x for x in inputs]
    node = build(*[trace.lift(x) for x in inputs])
    with np.errstate(all="ignore"):  # (the kernel computes the results, and warns there)
        value = _apply(ufunc, *values)
    if ufunc is np.exp:
        _EXPONENTS.setdefault(trace, {})[node] = values[0]
    elif isinstance(node, (softplus, logaddexp, ops.LogSumExp)) and value is not None:
        value = _stable_value(trace, node, value)
    return trace.new(node, value)


_EXPONENTS = weakref.WeakKeyDictionary()  # trace -> {exp node: value of its argument}


def _stable_value(trace, node, naive):
    """The value of a recognised stable node, from the recorded exponents
    (`naive`, the overflowing one, if an exponent was not recorded)."""
    known = _EXPONENTS.get(trace, {})

    def value(n):
        if isinstance(n, sp.Number):
            return float(n)
        if isinstance(n, softplus):
            return np.logaddexp(0.0, value(n.args[0]))
        if isinstance(n, logaddexp):
            return np.logaddexp(value(n.args[0]), value(n.args[1]))
        return known[g.call(sp.exp, n)]
    try:
        return node.value(value(node.args[0])) if isinstance(node, ops.LogSumExp) else value(node)
    except KeyError:
        return naive


REDUCERS = {}   # ufunc -> handler for `ufunc.reduce` (filled by the array rules)
FUNCTIONS = {}  # NumPy function -> handler(*args, **kwargs) (filled by the array rules)


def apply_function(trace, func, args, kwargs):
    handler = FUNCTIONS.get(func)
    if handler is None:
        raise NoRuleError(
            f"zygote_sym has no rule for np.{func.__name__} on traced values: add a "
            "handler to FUNCTIONS in zygote_sym/trace/array_rules.py")
    return handler(*args, **kwargs)


from . import array_rules  # noqa: E402,F401  (fills FUNCTIONS and REDUCERS)
