"""Elementwise derivative rules: one line per function.

PARTIALS maps a SymPy function class to `partials(y, *args)`, the list of
∂y/∂arg for the node `y = f(*args)`, built from unevaluated nodes (SymPy's
`fdiff` evaluates, and is only the fallback for functions missing here).
Where reusing the node is cheaper than recomputing it, the rule does
(`exp' = y`, `tanh' = 1 - y**2`).  Products and powers, whose partials
depend on which operands are differentiated, are the rules at the bottom.  Every rule becomes an entry of VJPS through `ctx.chain`, which
multiplies the cotangent by each partial and unbroadcasts it.

POLES and `unbounded` name the partials that are infinite where the
function is finite (sqrt at 0): the backward pass multiplies below them
with a strong zero.  Conventions (docs/special_points.md):

- kinks take the symmetric derivative, the mean of the one-sided ones:
  `Abs'(0) = 0` (sign), a tie of `Max`/`Min` splits equally, with another
  input or with a constant (`maximum(x, 0)'(0) = 1/2`; `clip` at a bound:
  1/2).  It is linear, so a differentiable function spelled with kinked
  pieces gets its true derivative: `maximum(x, 0) - maximum(-x, 0)` is x,
  and its gradient at 0 is 1 (under relu'(0) = 0, as `jax.nn.relu`, it
  would be 0);
- `floor`, `ceiling`, `sign`, `Heaviside` have derivative 0;
- `hypot` and `atan2` at the origin have partials 0 (as `norm` at 0).
"""
import sympy as sp
from sympy.codegen.cfunctions import exp2, expm1, hypot, log1p, log2, log10

from ...ir.build import (HALF, NEG_ONE, ONE, ZERO, add, call, div, mul, neg, pow_, relation,
                         strong_mul as strong_product, sub)
from ...ir.ops import Where, betainc, erfcx, gammainc, gammaincc, ive, log_ndtr, rint
from ...ir.select import pick
from ...ir.special import (logaddexp, nonfinite, safe, sigmoid, softplus, stop_gradient,
                           strong_mul)


def _rsqrt(x):
    return pow_(x, -HALF)


def _sq(x):
    return pow_(x, sp.Integer(2))


def _nonzero(x):
    """x, with 1 where x == 0: a denominator that is 0 only where its
    numerator is (the origin of hypot/atan2)."""
    return call(safe, x, relation("!=", x, ZERO), ONE)


def _bessel(f, sign):
    """d/dx f(v, x) = (f(v-1, x) + sign*f(v+1, x))/2 (no derivative in the order v)."""
    return lambda y, v, x: [None, mul(HALF, add(call(f, sub(v, ONE), x),
                                                 mul(sign, call(f, add(v, ONE), x))))]


def _psi(x):
    return call(sp.polygamma, ZERO, x)


def _gammainc(y, a, x):
    """d/dx P(a, x) = x**(a-1) exp(-x) / Γ(a), in logs (no overflow for large a)."""
    return [None, call(sp.exp, sub(mul(sub(a, ONE), call(sp.log, x)),
                                   add(x, call(sp.loggamma, a))))]


def _betainc(y, a, b, x):
    """d/dx I_x(a, b) = x**(a-1) (1-x)**(b-1) / B(a, b), in logs."""
    lbeta = sub(add(call(sp.loggamma, a), call(sp.loggamma, b)), call(sp.loggamma, add(a, b)))
    return [None, None, call(sp.exp, sub(add(mul(sub(a, ONE), call(sp.log, x)),
                                             mul(sub(b, ONE), call(log1p, neg(x)))), lbeta))]


def _tie(a, b):
    """1 where a > b, 1/2 where a == b, 0 where a < b."""
    return mul(HALF, add(ONE, call(sp.sign, sub(a, b))))


PARTIALS = {
    sp.Add:       lambda y, *xs: [ONE] * len(xs),
    sp.exp:       lambda y, x: [y],
    sp.log:       lambda y, x: [pow_(x, NEG_ONE)],
    log1p:        lambda y, x: [pow_(add(ONE, x), NEG_ONE)],
    expm1:        lambda y, x: [call(sp.exp, x)],
    exp2:         lambda y, x: [mul(sp.log(2), y)],
    log2:         lambda y, x: [div(ONE, mul(sp.log(2), x))],
    log10:        lambda y, x: [div(ONE, mul(sp.log(10), x))],
    softplus:     lambda y, x: [call(sigmoid, x)],
    sigmoid:      lambda y, x: [mul(y, sub(ONE, y))],
    logaddexp:    lambda y, a, b: [call(sigmoid, sub(a, b)), call(sigmoid, sub(b, a))],
    sp.sin:       lambda y, x: [call(sp.cos, x)],
    sp.cos:       lambda y, x: [neg(call(sp.sin, x))],
    sp.tan:       lambda y, x: [add(ONE, _sq(y))],
    sp.asin:      lambda y, x: [_rsqrt(sub(ONE, _sq(x)))],
    sp.acos:      lambda y, x: [neg(_rsqrt(sub(ONE, _sq(x))))],
    sp.atan:      lambda y, x: [pow_(add(ONE, _sq(x)), NEG_ONE)],
    sp.sinh:      lambda y, x: [call(sp.cosh, x)],
    sp.cosh:      lambda y, x: [call(sp.sinh, x)],
    sp.tanh:      lambda y, x: [sub(ONE, _sq(y))],
    sp.asinh:     lambda y, x: [_rsqrt(add(_sq(x), ONE))],
    sp.acosh:     lambda y, x: [mul(_rsqrt(sub(x, ONE)), _rsqrt(add(x, ONE)))],
    sp.atanh:     lambda y, x: [pow_(sub(ONE, _sq(x)), NEG_ONE)],
    sp.erf:       lambda y, x: [mul(2 / sp.sqrt(sp.pi), call(sp.exp, neg(_sq(x))))],
    sp.erfc:      lambda y, x: [mul(-2 / sp.sqrt(sp.pi), call(sp.exp, neg(_sq(x))))],
    sp.erfinv:    lambda y, x: [mul(sp.sqrt(sp.pi) / 2, call(sp.exp, _sq(y)))],
    sp.erfcinv:   lambda y, x: [mul(-sp.sqrt(sp.pi) / 2, call(sp.exp, _sq(y)))],
    sp.gamma:     lambda y, x: [mul(y, call(sp.polygamma, ZERO, x))],
    sp.loggamma:  lambda y, x: [call(sp.polygamma, ZERO, x)],
    sp.Abs:       lambda y, x: [call(sp.sign, x)],
    sp.sign:      lambda y, x: [ZERO],
    sp.floor:     lambda y, x: [ZERO],
    sp.ceiling:   lambda y, x: [ZERO],
    rint:         lambda y, x: [ZERO],
    sp.polygamma: lambda y, n, x: [None, call(sp.polygamma, add(n, ONE), x)],
    sp.besseli:   _bessel(sp.besseli, ONE),
    sp.besselj:   _bessel(sp.besselj, NEG_ONE),
    sp.bessely:   _bessel(sp.bessely, NEG_ONE),
    sp.besselk:   lambda y, v, x: [None, neg(_bessel(sp.besselk, ONE)(y, v, x)[1])],
    ive:          lambda y, v, x: [None, sub(_bessel(ive, ONE)(y, v, x)[1],
                                             mul(call(sp.sign, x), y))],
    gammainc:     _gammainc,
    gammaincc:    lambda y, a, x: [None, neg(_gammainc(y, a, x)[1])],
    betainc:      _betainc,
    sp.beta:      lambda y, a, b: [mul(y, sub(_psi(a), _psi(add(a, b)))),
                                   mul(y, sub(_psi(b), _psi(add(a, b))))],
    erfcx:        lambda y, x: [sub(mul(2, x, y), 2 / sp.sqrt(sp.pi))],
    log_ndtr:     lambda y, x: [div(call(sp.exp, sub(neg(div(_sq(x), 2)), y)),
                                    sp.sqrt(2 * sp.pi))],
    sp.Heaviside: lambda y, x, h0: [ZERO, ZERO],
    sp.atan2:     lambda y, a, b: [div(b, _nonzero(add(_sq(a), _sq(b)))),
                                   neg(div(a, _nonzero(add(_sq(a), _sq(b)))))],
    hypot:        lambda y, a, b: [div(a, _nonzero(y)), div(b, _nonzero(y))],
    sp.Mod:       lambda y, a, b: [ONE, neg(call(sp.floor, div(a, b)))],
    sp.Max:       lambda y, a, b: [_tie(a, b), _tie(b, a)],
    sp.Min:       lambda y, a, b: [_tie(b, a), _tie(a, b)],
    strong_mul:   lambda y, a, b, hit: [b, a, None],
    safe:         lambda y, x, c, s: [ONE, None, None],
    stop_gradient: lambda y, x: [ZERO],
}


def _mul(ctx, y, ct):
    """∂(x1*...*xn)/∂xi is the product of the others (only for the xi differentiated)."""
    xs = y.args
    return ctx.chain(y, ct, [mul(*(xs[:i] + xs[i + 1:])) if ctx.active(x) else None
                             for i, x in enumerate(xs)])


def _pow(ctx, y, ct):
    """The power rule n*x**(n-1), never y*x**y/x (0/0 at x = 0).  With the
    exponent traced too: y*x**(y-1) with a strong zero (0 at y = 0, where
    x**-1 may be inf), and x**y*log(x) only where x != 0 (0 there: the
    limit for y > 0, not 0*(-inf))."""
    base, exp = y.args
    out = [None, None]
    if ctx.active(base):
        p = pow_(base, sub(exp, ONE))
        out[0] = mul(exp, p) if isinstance(exp, sp.Number) else \
            strong_product(exp, p, call(nonfinite, p))
    if ctx.active(exp):
        if base == 0:
            out[1] = ZERO
        elif isinstance(base, sp.Number) and base > 0:
            out[1] = mul(y, sp.log(base))
        else:
            point = call(safe, base, relation("!=", base, ZERO), ONE)
            out[1] = strong_product(y, call(sp.log, point), call(nonfinite, y))
    return ctx.chain(y, ct, out)


def _where(ctx, y, ct):
    """Only the chosen operand receives the cotangent; a strong-zero flag
    passes through unchanged."""
    c, a, b = y.args
    out = ctx.shapes(y)
    ctx.pass_hit(y)
    return [None, ctx.unbroadcast(pick(c, ct, ZERO), out, a),
            ctx.unbroadcast(pick(c, ZERO, ct), out, b)]


def chained(partials):
    """The rule of a function given by its partials: the chain rule."""
    return lambda ctx, y, ct: ctx.chain(y, ct, partials(y, *y.args))


VJPS = {
    **{f: chained(p) for f, p in PARTIALS.items()},
    sp.Mul: _mul,
    sp.Pow: _pow,
    Where: _where,
}


# a SymPy function with no rule above: SymPy's own derivative
fallback = chained(lambda y, *xs: [y.fdiff(i + 1) for i in range(len(xs))])


# a partial that is infinite where the function is finite: asin'(1), acosh'(1)
POLES = {sp.asin, sp.acos, sp.acosh, strong_mul}


def unbounded(node):
    """Is a partial of this node infinite at some point where the node itself
    is finite (sqrt'(0) = inf)?  The products below it get a strong zero.
    Functions that are infinite there themselves (1/x, log, an overflowing
    exp) make the value non-finite already; where a select discards such a
    value, `select.where` keeps it finite."""
    if isinstance(node, sp.Pow):
        base, exp = node.args
        if isinstance(exp, sp.Number):
            return 0 < exp < 1                      # x**p' = p*x**(p-1): inf at 0
        return not isinstance(base, sp.Number)      # x**y: y*x**(y-1) at x = 0
    return node.func in POLES
