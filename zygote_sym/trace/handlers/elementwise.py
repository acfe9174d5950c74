"""Elementwise functions: NumPy ufuncs, scipy.special ufuncs and Python operators.

UFUNCS maps a ufunc to a builder of its SymPy node, one line per ufunc; the
concrete value is the ufunc (or, for a Python operator, the operator)
applied to the concrete operands.

`log` recognises the overflowing spellings of the stable functions, however
they were written: `log(1 + exp(x))` and `log1p(exp(x))` become `softplus`,
`log(exp(a) + exp(b))` becomes `logaddexp`, `log(sum(exp(x)))` becomes
LogSumExp (`1/(1 + exp(-x))` becomes `sigmoid` in ir/build.py).  Their
trace-time values are computed stably too, from the values the exponents
had when `np.exp` was traced.
"""
import weakref

import numpy as np
import scipy.special as sc
import sympy as sp
from sympy.codegen.cfunctions import exp2, expm1, hypot, log1p, log2, log10

from ...ir import build
from ...ir.ops import LogSumExp, Sum, rint
from ...ir.select import where
from ...ir.special import logaddexp, safe, sigmoid, softplus
from ..lazy import defer, force
from ..tracer import Tracer, apply_values


LN2 = sp.log(2)


def _f(func):
    return lambda *a: build.call(func, *a)


def _cbrt(x):
    return build.mul(build.call(sp.sign, x), build.pow_(build.call(sp.Abs, x), sp.Rational(1, 3)))


def _logaddexp(a, b):
    if a == 0:
        return build.call(softplus, b)
    if b == 0:
        return build.call(softplus, a)
    return build.call(logaddexp, a, b)


def _exponents(u):
    """[v1, v2, ...] if u is exp(v1) + exp(v2) + ... (a term 1 is exp(0)), else None."""
    terms = u.args if isinstance(u, sp.Add) else (u,)
    out = [t.args[0] if isinstance(t, sp.exp) else build.ZERO if t == 1 else None for t in terms]
    return None if None in out or all(v is build.ZERO for v in out) else out


def _log_sum_exp(vs):
    out = vs[0]
    for v in vs[1:]:
        out = _logaddexp(out, v)
    return out


def _log(u):
    if isinstance(u, Sum) and isinstance(u.args[0], sp.exp):
        return LogSumExp.make(u.args[0].args[0], *u.params)
    vs = _exponents(u) if isinstance(u, sp.Add) else None
    return build.call(sp.log, u) if vs is None else _log_sum_exp(vs)


def _log1p(u):
    vs = _exponents(u)
    return build.call(log1p, u) if vs is None else _log_sum_exp([build.ZERO] + vs)


def x_log(log, point):
    """x*log(y) that is 0 where x == 0 (scipy.special.xlogy, xlog1py): y is
    replaced there by `point`, where log is finite."""
    def build_node(x, y):
        y = build.call(safe, y, build.relation("!=", x, build.ZERO), point)
        return build.mul(x, build.call(log, y))
    return build_node


_xlogy = x_log(sp.log, build.ONE)


def trunc(x):  # toward 0: a step, derivative 0
    return where(build.relation(">=", x, build.ZERO), build.call(sp.floor, x),
                 build.call(sp.ceiling, x))


UFUNCS = {
    np.add: build.add, np.subtract: build.sub, np.multiply: build.mul,
    np.divide: build.div, np.true_divide: build.div, np.power: build.pow_, np.float_power: build.pow_,
    np.negative: build.neg, np.positive: lambda x: x,
    np.remainder: _f(sp.Mod), np.floor_divide: lambda a, b: build.call(sp.floor, build.div(a, b)),
    np.reciprocal: lambda x: build.pow_(x, build.NEG_ONE),
    np.square: lambda x: build.pow_(x, sp.Integer(2)),
    np.sqrt: lambda x: build.pow_(x, sp.Rational(1, 2)),
    np.cbrt: _cbrt,
    np.exp: _f(sp.exp), np.exp2: _f(exp2), np.expm1: _f(expm1),
    np.log: _log, np.log2: _f(log2), np.log10: _f(log10), np.log1p: _log1p,
    np.logaddexp: _logaddexp,
    np.logaddexp2: lambda a, c: build.div(_logaddexp(build.mul(LN2, a), build.mul(LN2, c)), LN2),
    np.sin: _f(sp.sin), np.cos: _f(sp.cos), np.tan: _f(sp.tan),
    np.arcsin: _f(sp.asin), np.arccos: _f(sp.acos), np.arctan: _f(sp.atan),
    np.arctan2: _f(sp.atan2), np.hypot: _f(hypot),
    np.sinh: _f(sp.sinh), np.cosh: _f(sp.cosh), np.tanh: _f(sp.tanh),
    np.arcsinh: _f(sp.asinh), np.arccosh: _f(sp.acosh), np.arctanh: _f(sp.atanh),
    np.degrees: lambda x: build.mul(180 / sp.pi, x), np.rad2deg: lambda x: build.mul(180 / sp.pi, x),
    np.radians: lambda x: build.mul(sp.pi / 180, x), np.deg2rad: lambda x: build.mul(sp.pi / 180, x),
    np.absolute: _f(sp.Abs), np.fabs: _f(sp.Abs), np.sign: _f(sp.sign),
    np.floor: _f(sp.floor), np.ceil: _f(sp.ceiling), np.heaviside: _f(sp.Heaviside),
    np.rint: _f(rint), np.trunc: trunc,
    np.isnan: lambda x: build.relation("!=", x, x),
    np.isinf: lambda x: build.relation("==", build.call(sp.Abs, x), sp.oo),
    np.isfinite: lambda x: build.relation("<", build.call(sp.Abs, x), sp.oo),
    np.maximum: _f(sp.Max), np.minimum: _f(sp.Min), np.fmax: _f(sp.Max), np.fmin: _f(sp.Min),
    np.greater: lambda a, b: build.relation(">", a, b),
    np.greater_equal: lambda a, b: build.relation(">=", a, b),
    np.less: lambda a, b: build.relation("<", a, b),
    np.less_equal: lambda a, b: build.relation("<=", a, b),
    np.equal: lambda a, b: build.relation("==", a, b),
    np.not_equal: lambda a, b: build.relation("!=", a, b),
    np.logical_and: lambda a, b: sp.And(a, b, evaluate=False),
    np.logical_or: lambda a, b: sp.Or(a, b, evaluate=False),
    np.logical_not: lambda a: sp.Not(a, evaluate=False),
    sc.erf: _f(sp.erf), sc.erfc: _f(sp.erfc), sc.gamma: _f(sp.gamma),
    sc.gammaln: _f(sp.loggamma), sc.expit: _f(sigmoid),
    sc.log_expit: lambda x: build.neg(build.call(softplus, build.neg(x))),
    sc.logit: lambda x: build.call(sp.log, build.div(x, build.sub(build.ONE, x))),
    sc.xlogy: _xlogy,
    sc.erfinv: _f(sp.erfinv), sc.erfcinv: _f(sp.erfcinv),
}


def call(trace, ufunc, inputs, pyop=None, builder=None):
    """The traced result of `ufunc(*inputs)`: its node by `builder` (default:
    its UFUNCS line), its value by `pyop` when given (a Python operator:
    `2**-1` is 0.5 in Python, an error in NumPy).  On large traced arrays
    the value is deferred until read (lazy.py)."""
    values = [x.held if isinstance(x, Tracer) else x for x in inputs]
    node = (builder or UFUNCS[ufunc])(*[trace.lift(x) for x in inputs])
    value = None
    if not isinstance(node, _STABLE) and not any(  # (an array f holds may change: at once)
            isinstance(x, np.ndarray) for x in inputs):
        value = defer(lambda *v: apply_values(pyop or ufunc, *v), values)
    if value is None:
        with np.errstate(all="ignore"):  # (the kernel computes the results, and warns there)
            value = apply_values(pyop or ufunc, *map(force, values))
    if ufunc is np.exp:
        _EXPONENTS.setdefault(trace, {})[node] = values[0]
    elif isinstance(node, _STABLE) and value is not None:
        value = _stable_value(trace, node, value)
    return trace.new(node, value)


_STABLE = (softplus, logaddexp, LogSumExp)  # nodes whose value _stable_value computes
_EXPONENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # trace -> {exp node: value of its argument}


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
        return force(known[build.call(sp.exp, n)])
    try:  # (quiet, as every traced value: the kernel computes the results, and warns there)
        with np.errstate(all="ignore"):
            return node.value(value(node.args[0])) if isinstance(node, LogSumExp) \
                else value(node)
    except KeyError:
        return naive
