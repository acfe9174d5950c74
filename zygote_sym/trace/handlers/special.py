"""scipy.special: its ufuncs (UFUNCS, merged with elementwise.py's by
dispatch.py) and its Python functions (LIBRARY: logsumexp, softmax,
log_softmax, polygamma, multigammaln), which convert their inputs with
np.asarray and so run through trace/library.py's proxies.

A ufunc SymPy has is its SymPy function (`iv` is `besseli`); one SymPy
lacks is a node of ir/ops.py (`ive`, `erfcx`, `log_ndtr`, `gammainc`,
`betainc`) whose partials are other scipy.special functions; the rest are
compositions (`ndtr` is erfc(-x/√2)/2, `betaln` three gammaln).  The order
of a Bessel function, n of polygamma, `a` of gammainc and `a`, `b` of
betainc have no derivative here: FIXED lists them, and tracing raises
NoRuleError if one depends on a differentiated input.
"""
import numpy as np
import scipy.special as sc
import sympy as sp
from sympy.codegen.cfunctions import log1p

from ...ir import build, ops
from ...ir.nodes import Leaf, postorder
from ...ir.ops import betainc, erfcx, gammainc, gammaincc, ive, log_ndtr
from .common import apply, axes_of, no_rule, public_name, trace_of, value_of
from .elementwise import _f, _xlogy, call, x_log

SQRT2 = sp.sqrt(2)


def _ndtr(x):
    return build.mul(build.HALF, build.call(sp.erfc, build.div(build.neg(x), SQRT2)))


def _psi(x):
    return build.call(sp.polygamma, build.ZERO, x)


def _loggamma(x):
    return build.call(sp.loggamma, x)


def _betaln(a, b):
    return build.sub(build.add(_loggamma(a), _loggamma(b)), _loggamma(build.add(a, b)))


def _rel_entr(x, y):
    return _xlogy(x, build.div(x, y))


UFUNCS = {
    sc.iv: _f(sp.besseli), sc.ive: _f(ive), sc.jv: _f(sp.besselj), sc.yv: _f(sp.bessely),
    sc.yn: _f(sp.bessely), sc.kv: _f(sp.besselk),
    sc.i0: lambda x: build.call(sp.besseli, build.ZERO, x),
    sc.i1: lambda x: build.call(sp.besseli, build.ONE, x),
    sc.j0: lambda x: build.call(sp.besselj, build.ZERO, x),
    sc.j1: lambda x: build.call(sp.besselj, build.ONE, x),
    sc.y0: lambda x: build.call(sp.bessely, build.ZERO, x),
    sc.y1: lambda x: build.call(sp.bessely, build.ONE, x),
    sc.k0: lambda x: build.call(sp.besselk, build.ZERO, x),
    sc.k1: lambda x: build.call(sp.besselk, build.ONE, x),
    sc.psi: _psi,
    sc.gammainc: _f(gammainc), sc.gammaincc: _f(gammaincc),
    sc.beta: _f(sp.beta), sc.betaln: _betaln, sc.betainc: _f(betainc),
    sc.rgamma: lambda x: build.pow_(build.call(sp.gamma, x), build.NEG_ONE),
    sc.gammasgn: lambda x: build.call(sp.sign, build.call(sp.gamma, x)),
    sc.erfcx: _f(erfcx), sc.xlog1py: x_log(log1p, build.ZERO),
    sc.entr: lambda x: build.neg(_xlogy(x, x)),
    sc.kl_div: lambda x, y: build.add(_rel_entr(x, y), build.sub(y, x)),
    sc.rel_entr: _rel_entr,
    sc.ndtr: _ndtr, sc.log_ndtr: _f(log_ndtr),
    sc.ndtri: lambda p: build.mul(build.neg(SQRT2), build.call(sp.erfcinv, build.mul(sp.Integer(2), p))),
}

# arguments without a derivative: (ufunc or function) -> their positions
FIXED = {sc.iv: (0,), sc.ive: (0,), sc.jv: (0,), sc.yv: (0,), sc.yn: (0,), sc.kv: (0,),
         sc.gammainc: (0,), sc.gammaincc: (0,), sc.betainc: (0, 1), sc.polygamma: (0,)}


def _differentiated(node):
    """Does node depend on a differentiated input (an argument leaf)?"""
    return any(isinstance(n, Leaf) and n.role == "arg" for n in postorder([node]))


def _checked(func, builder):
    def build_node(*nodes):
        for i in FIXED[func]:
            if _differentiated(nodes[i]):
                raise no_rule(f"{public_name(func)} with argument {i} differentiated",
                              "it has a derivative in its other arguments only")
        return builder(*nodes)
    return build_node


UFUNCS.update({u: _checked(u, UFUNCS[u]) for u in FIXED if u in UFUNCS})


# ---------------------------------------------------- Python functions (LIBRARY)
def polygamma(n, x):
    trace = trace_of([n, x])
    return call(trace, sc.polygamma, [n, x], builder=_checked(sc.polygamma, _f(sp.polygamma)))


def multigammaln(a, d):
    """scipy's definition: d(d-1)/4 log(pi) + sum_j gammaln(a - j/2), j < d."""
    d = int(d)
    return d * (d - 1) / 4 * np.log(np.pi) + sum(sc.gammaln(a - j / 2) for j in range(d))


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """Without b: the LogSumExp node (the tracer recognises log(sum(exp))).
    With b (or a sign asked for): log(sum(b*exp(a - m))) + m (of |sum| and
    its sign if return_sign, else nan where the sum is negative, as SciPy),
    m the concrete max: a constant shift, which cancels in the value and the
    derivative."""
    if b is None and not return_sign:
        return np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims))
    axes = axes_of(axis, np.ndim(value_of(a)))
    m = np.max(value_of(a), axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    s = np.sum(np.exp(a - m) * (1.0 if b is None else b), axis=axes, keepdims=True)
    out = np.log(abs(s) if return_sign else s) + m
    sign = np.sign(s)
    if not keepdims:
        out, sign = np.squeeze(out, axes), np.squeeze(sign, axes)
    return (out, sign) if return_sign else out


def softmax(x, axis=None):
    """The Softmax node: exp(x - max) normalised (also the pullback of LogSumExp)."""
    return apply(ops.Softmax.make, [x], axes_of(axis, x.ndim))


def log_softmax(x, axis=None):
    return x - logsumexp(x, axis, keepdims=True)


LIBRARY = {sc.logsumexp: logsumexp, sc.softmax: softmax, sc.log_softmax: log_softmax,
           sc.polygamma: polygamma, sc.multigammaln: multigammaln}
