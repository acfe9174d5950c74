"""Partial derivatives of elementwise functions, one line per function.

Each entry maps a SymPy function class to `partials(y, *args)`, the list of
∂y/∂arg for the node `y = f(*args)`, built from unevaluated nodes (SymPy's
`fdiff` evaluates, and is only the fallback for functions missing here).
Where reusing the node is cheaper than recomputing it, the rule does
(`exp' = y`, `tanh' = 1 - y**2`).

Conventions at kinks and ties (docs/special_points.md): `Abs'(0) = 0`
(sign), `floor`/`ceiling`/`sign` have derivative 0, `Max`/`Min` split a tie
equally between the arguments (JAX's convention for `maximum`).
"""
import sympy as sp
from sympy.codegen.cfunctions import expm1, exp2, hypot, log1p, log2, log10

from ..graph import ZERO, ONE, NEG_ONE, add, call, div, mul, neg, pow_, sub

HALF = sp.Rational(1, 2)


def _sqrt(x):
    return pow_(x, HALF)


def _rsqrt(x):
    return pow_(x, -HALF)


def _sq(x):
    return pow_(x, sp.Integer(2))


def _tie(a, b):
    """1 where a > b, 1/2 where a == b, 0 where a < b."""
    return mul(HALF, add(ONE, call(sp.sign, sub(a, b))))


PARTIALS = {
    sp.exp:      lambda y, x: [y],
    sp.log:      lambda y, x: [pow_(x, NEG_ONE)],
    log1p:       lambda y, x: [pow_(add(ONE, x), NEG_ONE)],
    expm1:       lambda y, x: [call(sp.exp, x)],
    exp2:        lambda y, x: [mul(sp.log(2), y)],
    log2:        lambda y, x: [div(ONE, mul(sp.log(2), x))],
    log10:       lambda y, x: [div(ONE, mul(sp.log(10), x))],
    sp.sin:      lambda y, x: [call(sp.cos, x)],
    sp.cos:      lambda y, x: [neg(call(sp.sin, x))],
    sp.tan:      lambda y, x: [add(ONE, _sq(y))],
    sp.asin:     lambda y, x: [_rsqrt(sub(ONE, _sq(x)))],
    sp.acos:     lambda y, x: [neg(_rsqrt(sub(ONE, _sq(x))))],
    sp.atan:     lambda y, x: [pow_(add(ONE, _sq(x)), NEG_ONE)],
    sp.sinh:     lambda y, x: [call(sp.cosh, x)],
    sp.cosh:     lambda y, x: [call(sp.sinh, x)],
    sp.tanh:     lambda y, x: [sub(ONE, _sq(y))],
    sp.asinh:    lambda y, x: [_rsqrt(add(_sq(x), ONE))],
    sp.acosh:    lambda y, x: [mul(_rsqrt(sub(x, ONE)), _rsqrt(add(x, ONE)))],
    sp.atanh:    lambda y, x: [pow_(sub(ONE, _sq(x)), NEG_ONE)],
    sp.erf:      lambda y, x: [mul(2 / sp.sqrt(sp.pi), call(sp.exp, neg(_sq(x))))],
    sp.erfc:     lambda y, x: [mul(-2 / sp.sqrt(sp.pi), call(sp.exp, neg(_sq(x))))],
    sp.gamma:    lambda y, x: [mul(y, call(sp.polygamma, ZERO, x))],
    sp.loggamma: lambda y, x: [call(sp.polygamma, ZERO, x)],
    sp.Abs:      lambda y, x: [call(sp.sign, x)],
    sp.sign:     lambda y, x: [ZERO],
    sp.floor:    lambda y, x: [ZERO],
    sp.ceiling:  lambda y, x: [ZERO],
    sp.atan2:    lambda y, a, b: [div(b, add(_sq(a), _sq(b))), neg(div(a, add(_sq(a), _sq(b))))],
    hypot:       lambda y, a, b: [div(a, y), div(b, y)],
    sp.Max:      lambda y, a, b: [_tie(a, b), _tie(b, a)],
    sp.Min:      lambda y, a, b: [_tie(b, a), _tie(a, b)],
    sp.Mod:      lambda y, a, b: [ONE, neg(call(sp.floor, div(a, b)))],
}


def partials(node):
    """∂node/∂arg for every argument of an elementwise node."""
    rule = PARTIALS.get(node.func)
    if rule is not None:
        return rule(node, *node.args)
    if isinstance(node, sp.Function):  # fallback: SymPy's own derivative
        return [node.fdiff(i + 1) for i in range(len(node.args))]
    raise NotImplementedError(
        f"no derivative rule for {node.func.__name__}: add a line to "
        f"zygote_sym/rules/elementwise.py PARTIALS")
