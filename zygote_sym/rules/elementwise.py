"""Partial derivatives of elementwise functions, one line per function, and
their safe points.

PARTIALS maps a SymPy function class to `partials(y, *args)`, the list of
∂y/∂arg for the node `y = f(*args)`, built from unevaluated nodes (SymPy's
`fdiff` evaluates, and is only the fallback for functions missing here).
Where reusing the node is cheaper than recomputing it, the rule does
(`exp' = y`, `tanh' = 1 - y**2`).

SAFE maps a function that can be non-finite at a finite argument (a pole,
an overflow, a domain edge) to one point per argument where it and its
derivative are finite (None: that argument is harmless): a select's branch
not taken evaluates such functions at these points (ops.where, the "double
where").  POLES and `unbounded` name the partials that are infinite where
the function is finite (sqrt at 0): the backward pass multiplies below them
with a strong zero (diff.py).  Conventions (docs/special_points.md):

- kinks take the minimum-norm subgradient: `Abs'(0) = 0` (sign), a tie of
  `Max`/`Min` between two inputs splits equally (JAX's `maximum`), a tie
  with a constant goes to the constant (`maximum(x, 0)'(0) = 0`, as
  `jax.nn.relu` and `torch.relu`; `clip` at its bounds: 0);
- `floor`, `ceiling`, `sign`, `Heaviside` have derivative 0;
- `hypot` and `atan2` at the origin have partials 0 (as `norm` at 0).
"""
import sympy as sp
from sympy.codegen.cfunctions import expm1, exp2, hypot, log1p, log2, log10

from ..graph import HALF, ZERO, ONE, NEG_ONE, add, call, div, mul, neg, pow_, relation, sub
from .special import guard, logaddexp, sigmoid, softplus, strong_mul

def _rsqrt(x):
    return pow_(x, -HALF)


def _sq(x):
    return pow_(x, sp.Integer(2))


def _nonzero(x):
    """x, with 1 where x == 0: a denominator that is 0 only where its
    numerator is (the origin of hypot/atan2)."""
    return call(guard, x, relation("!=", x, ZERO), ONE)


def _tie(a, b):
    """1 where a > b, 1/2 where a == b, 0 where a < b."""
    return mul(HALF, add(ONE, call(sp.sign, sub(a, b))))


def _above(a, b):
    """1 where a > b, else 0 (a tie goes to b)."""
    return call(sp.Heaviside, sub(a, b), ZERO)


PARTIALS = {
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
    sp.gamma:     lambda y, x: [mul(y, call(sp.polygamma, ZERO, x))],
    sp.loggamma:  lambda y, x: [call(sp.polygamma, ZERO, x)],
    sp.Abs:       lambda y, x: [call(sp.sign, x)],
    sp.sign:      lambda y, x: [ZERO],
    sp.floor:     lambda y, x: [ZERO],
    sp.ceiling:   lambda y, x: [ZERO],
    sp.Heaviside: lambda y, x, h0: [ZERO, ZERO],
    sp.atan2:     lambda y, a, b: [div(b, _nonzero(add(_sq(a), _sq(b)))),
                                   neg(div(a, _nonzero(add(_sq(a), _sq(b)))))],
    hypot:        lambda y, a, b: [div(a, _nonzero(y)), div(b, _nonzero(y))],
    sp.Max:       lambda y, a, b: [_tie(a, b), _tie(b, a)],
    sp.Min:       lambda y, a, b: [_tie(b, a), _tie(a, b)],
    sp.Mod:       lambda y, a, b: [ONE, neg(call(sp.floor, div(a, b)))],
    strong_mul:   lambda y, a, b, hit: [b, a, None],
    guard:        lambda y, x, c, s: [ONE, None, None],
}

# Max/Min with one constant argument: the tie goes to the constant
WITH_CONSTANT = {
    sp.Max: lambda y, a, b: [_above(a, b), _above(b, a)],
    sp.Min: lambda y, a, b: [_above(b, a), _above(a, b)],
}

SAFE = {
    sp.exp: (0,), exp2: (0,), expm1: (0,), sp.sinh: (0,), sp.cosh: (0,),  # overflow
    sp.log: (1,), log2: (1,), log10: (1,), log1p: (0,),                    # pole at 0 (-1)
    sp.tan: (0,), sp.asin: (0,), sp.acos: (0,), sp.atanh: (0,), sp.acosh: (2,),
    sp.gamma: (1,), sp.loggamma: (1,), sp.polygamma: (None, 1), sp.Mod: (None, 1),
}


def _pow_safe(base, exp):
    if isinstance(exp, sp.Number):  # x**-1, x**0.5, x**1.875 (x < 0): base -> 1
        return [None if exp.is_integer and exp >= 0 else ONE, None]
    if isinstance(base, sp.Number):  # 2**y overflows: y -> 0
        return [None, ZERO]
    return [ONE, None]               # x**y: x -> 1 (1**y = 1, log 1 = 0)


def safe_args(node):
    """Per argument of an elementwise node, its safe point or None (see SAFE)."""
    if isinstance(node, sp.Pow):
        return _pow_safe(*node.args)
    return [None if v is None else sp.Integer(v) for v in SAFE.get(node.func, ())]


# a partial that is infinite where the function is finite: asin'(1), acosh'(1)
POLES = {sp.asin, sp.acos, sp.acosh, strong_mul}


def unbounded(node):
    """Is a partial of this node infinite at some point where the node itself
    is finite (sqrt'(0) = inf)?  The products below it get a strong zero
    (diff.py).  Functions that are infinite there themselves (1/x, log, an
    overflowing exp) make the value non-finite already; where a select
    discards such a value, `ops.where` keeps it finite."""
    if isinstance(node, sp.Pow):
        base, exp = node.args
        if isinstance(exp, sp.Number):
            return 0 < exp < 1                      # x**p' = p*x**(p-1): inf at 0
        return not isinstance(base, sp.Number)      # x**y: y*x**(y-1) at x = 0
    return node.func in POLES


def partials(node, active):
    """∂node/∂arg for every argument of an elementwise node; `active` is the
    set of nodes that depend on the inputs differentiated."""
    rule = PARTIALS.get(node.func)
    if node.func in WITH_CONSTANT and not all(a in active for a in node.args):
        rule = WITH_CONSTANT[node.func]
    if rule is not None:
        return rule(node, *node.args)
    if isinstance(node, sp.Function):  # fallback: SymPy's own derivative
        return [node.fdiff(i + 1) for i in range(len(node.args))]
    raise NotImplementedError(
        f"no derivative rule for {node.func.__name__}: add a line to "
        f"zygote_sym/rules/elementwise.py PARTIALS")
