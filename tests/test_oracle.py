"""Differential test against independent oracles (issue 5).

Hypothesis draws a point (a scalar `s`, a vector `x`, a well-conditioned
2x2 matrix `A`) and then a random expression of bounded depth over every
operation that has a rule: elementwise functions, powers, selects, stable
spellings, reductions, scans, matmul, indexing, linear algebra.  Each op is
drawn only where its arguments are inside its domain and away from its
kinks and ties at this point (a margin of 0.05), so the function is smooth
there.  zygote_sym's gradient is checked against

(a) central differences of the plain NumPy function, and
(b) `sympy.diff` of the traced expression, scalarised (one Symbol per array
    element, structural ops applied to object arrays), evaluated at the
    exact point with mpmath at 30 digits.

CI runs a fixed set of 100 examples (a few seconds);
`ZYGOTE_SYM_ORACLE_EXAMPLES=2000` runs that many random ones.  Failures
found become regression tests (tests/test_special_points.py).
"""
import functools
import os
import warnings

import numpy as np
import pytest
import scipy.special as sc
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy.core.relational import Relational

import zygote_sym as zs
from zygote_sym.ir import nodes as g
from zygote_sym.ir import ops
from zygote_sym.trace.call import trace_call

EXAMPLES = int(os.environ.get("ZYGOTE_SYM_ORACLE_EXAMPLES", "0"))
MARGIN = 0.05
C = np.array([0.75, -1.25])  # a captured constant


def away(v, *points):
    return all(np.all(np.abs(np.asarray(v) - p) > MARGIN) for p in points)


def positive(v, lo=0.2):
    return np.all(np.asarray(v) > lo + MARGIN)


def within(v, r):
    return np.all(np.abs(np.asarray(v)) < r)


def spread(v, axis=None):
    """No two elements (along axis) within MARGIN: max, min and sort are smooth."""
    s = np.sort(np.asarray(v), axis=axis)
    return bool(np.all(np.diff(s, axis=-1 if axis is None else axis) > MARGIN))


# (template, applicable at the arguments' values); `{}` are the arguments
UNARY = [
    ("-{}", None), ("np.sin({})", None), ("np.cos({})", None), ("np.arctan({})", None),
    ("np.tanh({})", None), ("np.arcsinh({})", None), ("sc.erf({})", None),
    ("sc.erfc({})", None), ("sc.expit({})", None),
    ("1 / (1 + np.exp(-{}))", lambda v: within(v, 50)),
    ("np.log(1 + np.exp({}))", lambda v: within(v, 50)),
    ("np.log1p(np.exp({}))", lambda v: within(v, 50)),
    ("np.exp({})", lambda v: np.all(v < 4)), ("np.exp2({})", lambda v: np.all(v < 4)),
    ("np.expm1({})", lambda v: np.all(v < 4)),
    ("np.sinh({})", lambda v: within(v, 4)), ("np.cosh({})", lambda v: within(v, 4)),
    ("np.tan({})", lambda v: within(v, 1.2)),
    ("np.log({})", positive), ("np.log2({})", positive), ("np.log10({})", positive),
    ("np.log1p({})", lambda v: np.all(v > -0.8)),
    ("np.sqrt({})", positive), ("np.cbrt({})", lambda v: away(v, 0) and within(v, 1e3)),
    ("np.reciprocal({})", lambda v: np.all(np.abs(v) > 0.2)),
    ("np.arcsin({})", lambda v: within(v, 0.8)), ("np.arccos({})", lambda v: within(v, 0.8)),
    ("np.arctanh({})", lambda v: within(v, 0.8)),
    ("np.arccosh({})", lambda v: np.all(v > 1.2)),
    ("sc.gamma({})", lambda v: positive(v) and np.all(v < 4)),
    ("sc.gammaln({})", lambda v: positive(v) and within(v, 50)),
    ("np.abs({})", lambda v: away(v, 0)), ("np.maximum({}, 0)", lambda v: away(v, 0)),
    ("np.clip({}, -0.5, 0.5)", lambda v: away(v, -0.5, 0.5)),
    ("np.square({})", lambda v: within(v, 100)),
]
POWERS = ["0", "2", "3", "-1", "-2", "0.5", "1.5", "1.875", "(1 / 3)"]
BINARY = [
    ("{} + {}", None), ("{} - {}", None), ("{} * {}", None),
    ("{} / {}", lambda a, b: np.all(np.abs(b) > 0.2)),
    ("{} ** {}", lambda a, b: positive(a) and within(b, 3) and within(b * np.log(a), 5)),
    ("np.maximum({}, {})", lambda a, b: away(a - b, 0)),
    ("np.minimum({}, {})", lambda a, b: away(a - b, 0)),
    ("np.arctan2({}, {})", lambda a, b: np.all(np.hypot(a, b) > 0.2)  # and off the cut
     and np.all((np.abs(a) > MARGIN) | (b > 0))),
    ("np.hypot({}, {})", lambda a, b: np.all(np.hypot(a, b) > 0.2)),
    ("np.logaddexp({}, {})", None),
    ("np.log(np.exp({}) + np.exp({}))", lambda a, b: within(a, 50) and within(b, 50)),
    ("np.where({0} > {1}, {0}, 2 * {1})", lambda a, b: away(a - b, 0)),
    ("np.where({0} > 0.2, np.log({0}), {1})", lambda a, b: away(a, 0.2)),
    ("np.where({0} > 0.2, np.sqrt({0}), {1})", lambda a, b: away(a, 0.2)),
    ("np.select([{0} < -0.5, {0} < 0.5], [{1}, {0} * {1}], np.exp({0}))",
     lambda a, b: away(a, -0.5, 0.5) and np.all(a < 4)),
    ("{} @ {}", lambda a, b: a.ndim >= 1 and b.ndim >= 1),
    ("np.einsum('ij,j->i', {}, {})", lambda a, b: a.ndim == 2 and b.ndim == 1),
    ("np.concatenate([{}[:1], {}[1:]])", lambda a, b: a.ndim == 1 and b.ndim == 1),
    ("put({}, {})", lambda a, b: a.ndim >= 1 and b.ndim == 0),
    ("np.linalg.solve({}, {})", lambda a, b: a.ndim == 2 and b.ndim >= 1
     and abs(np.linalg.det(a)) > 0.3),
]
REDUCE = [
    ("np.sum({})", None), ("np.prod({})", None), ("np.mean({})", None),
    ("np.max({})", lambda v: spread(v)), ("np.min({})", lambda v: spread(v)),
    ("np.linalg.norm({})", lambda v: np.linalg.norm(v) > 0.2),
    ("np.var({})", None), ("np.std({})", lambda v: np.std(v) > 0.2),
    ("np.log(np.sum(np.exp({})))", lambda v: within(v, 50)),
    ("np.sum({}, axis=0)", None), ("np.max({}, axis=-1)", lambda v: spread(v, -1)),
    ("np.cumsum({}, axis=-1)", None), ("np.cumprod({}, axis=-1)", None),
    ("{}[0]", None), ("{}[-1]", None), ("{}[::-1]", None), ("{}[[0, 0]]", None),
    ("np.transpose({})", None), ("np.sort({}, axis=-1)", lambda v: spread(v, -1)),
    ("np.reshape({}, (-1,))[-2:]", None),
    ("np.linalg.det({})", lambda v: v.ndim == 2 and abs(np.linalg.det(v)) > 0.3),
    ("np.linalg.inv({})", lambda v: v.ndim == 2 and abs(np.linalg.det(v)) > 0.3),
]


def put(a, v):
    """a copy of a with a[..., 0] = v (item assignment on a traced array)."""
    a = a * 1.0
    a[..., 0] = v
    return a


NAMESPACE = {"np": np, "sc": sc, "C": C, "put": put}


class Case:
    """A drawn function of (s, x, A) and its point, shown as source."""

    def __init__(self, text, point):
        self.text, self.point = text, point
        self.f = eval(f"lambda s, x, A: np.sum({text})", NAMESPACE)

    def __repr__(self):
        s, x, A = self.point
        return f"check(lambda s, x, A: np.sum({self.text}), ({s!r}, np.{x!r}, np.{A!r}))"


def value(f, point):
    with np.errstate(all="ignore"):
        return f(*point)


def value_of(text, point):
    return np.asarray(value(eval(f"lambda s, x, A: {text}", NAMESPACE), point), dtype=float)


def bounded(v):
    return np.all(np.isfinite(v)) and np.all(np.abs(v) < 1e4)


@st.composite
def expressions(draw, point, depth, root=False):
    """Source of a function of (s, x, A), finite and bounded at `point`."""
    if depth == 0 or not root and draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(["s", "x", "A", "C * s"]))
    a = draw(expressions(point, depth - 1))
    va = value_of(a, point)
    kind = draw(st.sampled_from(["unary", "power", "binary", "binary", "reduce"]))
    a = a if a.isidentifier() else f"({a})"
    if kind == "unary":
        text = draw(st.sampled_from([t for t, ok in UNARY if ok is None or ok(va)])).format(a)
    elif kind == "power":  # fractional powers of positive values, negative ones away from 0
        if positive(va):
            powers = POWERS
        elif np.all(np.abs(va) > 0.2) and within(va, 10):
            powers = ["0", "2", "3", "-1", "-2"]
        else:
            powers = ["0", "2", "3"]
        text = f"{a} ** {draw(st.sampled_from(powers))}"
    elif kind == "binary":
        b = draw(expressions(point, depth - 1))
        vb = value_of(b, point)
        b = b if b.isidentifier() else f"({b})"
        text = draw(st.sampled_from([t for t, ok in BINARY if ok is None or ok(va, vb)]))
        text = text.format(a, b)
    else:
        if va.ndim == 0:
            return a
        text = draw(st.sampled_from([t for t, ok in REDUCE if ok is None or ok(va)])).format(a)
    return text if bounded(value_of(text, point)) else a


@st.composite
def cases(draw):
    u = st.floats(-2, 2, allow_nan=False)
    s = draw(u)
    x = np.array(draw(st.lists(u, min_size=2, max_size=2)))
    e = np.array(draw(st.lists(u, min_size=4, max_size=4))).reshape(2, 2)
    point = (s, x, 1.5 * np.eye(2) + 0.25 * e)  # |det A| > 1
    return Case(draw(expressions(point, 3, root=True)), point)


# ------------------------------------------------------------ oracle (b)
def _sym_map(fn, *xs):
    return np.frompyfunc(fn, len(xs), 1)(*xs) if any(np.ndim(v) for v in xs) else fn(*xs)


def _exact(v):
    """Numeric values (captured constants) as exact SymPy numbers."""
    if isinstance(v, sp.Basic) or np.asarray(v).dtype.kind in "Oiub":
        return v
    v = np.asarray(v)
    return _sym_map(lambda t: sp.Rational(float(t)), v) if v.ndim else sp.Rational(float(v))


def _reduce_along(fn, x, axes, keep):
    x = np.asarray(x, dtype=object)
    for ax in sorted(axes, reverse=True):
        x = np.apply_along_axis(lambda r: functools.reduce(fn, r), ax, x)
        x = np.expand_dims(x, ax) if keep else x
    return x[()] if x.ndim == 0 else x


def _matrix_op(node, args):
    M = sp.Matrix(args[0].tolist())
    if isinstance(node, ops.Det):
        return M.det()
    if isinstance(node, ops.Inv):
        return np.array(M.inv().tolist(), dtype=object)
    return np.array((M.inv() * sp.Matrix(args[1].tolist())).tolist(), dtype=object)


def scalarised(traced):
    """The traced output as one SymPy expression of per-element symbols, and
    the exact point.  Everything locally constant (comparisons, selects,
    sign, Abs's sign, the larger of Max) is decided at the exact point: the
    drawn expressions keep a margin from every kink, so the result is the
    smooth function that agrees with f near the point."""
    syms, env = {}, {}
    for leaf, v in zip(traced.leaves, traced.leaf_values):
        names = [sp.Symbol(f"{leaf.name}_{i}", real=True) for i in range(np.size(v))]
        # a float is exact as a 50-digit Float (53 bits); Rationals of 2**52 would
        # make SymPy compute exact roots of huge integers
        syms.update((n, sp.Float(float(t), 50)) for n, t in zip(names, np.ravel(v)))
        env[leaf] = np.array(names, dtype=object).reshape(np.shape(v)) if np.ndim(v) else names[0]
    for c in traced.consts:
        env[c] = np.asarray(traced.trace.const_values[c])

    def at(e):
        return sp.sympify(e).xreplace(syms)

    def larger(a, b):
        return a if bool(at(a) >= at(b)) else b

    def smaller(a, b):
        return a if bool(at(a) <= at(b)) else b

    local = {sp.sign: lambda a: sp.sign(at(a)), sp.Abs: lambda a: sp.sign(at(a)) * a,
             sp.Max: larger, sp.Min: smaller}
    for node in g.postorder(traced.out_exprs):
        if node in env:
            continue
        if not g.children(node):
            env[node] = node
            continue
        args = [env[c] for c in g.children(node)]
        if isinstance(node, ops.Where):
            env[node] = _sym_map(lambda c, a, b: a if bool(c) else b, *args)
        elif isinstance(node, (ops.Max, ops.Min)):
            env[node] = _reduce_along(smaller if isinstance(node, ops.Min) else larger,
                                      args[0], *node.params)
        elif isinstance(node, ops.Norm):
            axes, keep = node.params
            env[node] = _sym_map(sp.sqrt, np.sum(_sym_map(lambda t: t**2, args[0]), axis=axes,
                                                 keepdims=bool(keep)))
        elif isinstance(node, ops.LogSumExp):
            axes, keep = node.params
            env[node] = _sym_map(sp.log, np.sum(_sym_map(sp.exp, args[0]), axis=axes,
                                                keepdims=bool(keep)))
        elif isinstance(node, (ops.Det, ops.Inv, ops.Solve)):
            env[node] = _matrix_op(node, args)
        elif isinstance(node, ops.SetItem):
            x, v, *keys = args
            env[node] = np.array(_exact(x), dtype=object)
            env[node][ops.parse_key(node.params[0], keys)] = _exact(v)
        elif isinstance(node, ops.ArrayOp):  # NumPy's own code on object arrays
            env[node] = node.value(*[np.asarray(a, dtype=object) if isinstance(a, sp.Basic)
                                     else a for a in args])
        elif isinstance(node, (Relational, sp.And, sp.Or, sp.Not)):
            env[node] = _sym_map(lambda *a: sp.true if bool(at(node.func(*a))) else sp.false,
                                 *[_exact(a) for a in args])
        else:
            fn = local.get(node.func, node.func)
            env[node] = _sym_map(lambda *a: fn(*a), *[_exact(a) for a in args])
        if isinstance(env[node], np.ndarray) and env[node].ndim == 0:
            env[node] = env[node][()]
    return env[traced.out_exprs[0]], syms


def sympy_gradient(f, point):
    expr, exact = scalarised(trace_call(f, point))
    grads = [complex(sp.diff(expr, s).xreplace(exact).evalf(30)) for s in exact]
    assert all(abs(d.imag) < 1e-20 * max(1, abs(d.real)) for d in grads)  # mpmath's dust
    grads = [d.real for d in grads]
    out, i = [], 0
    for v in point:
        n = np.size(v)
        out.append(np.array(grads[i:i + n]).reshape(np.shape(v)) if np.ndim(v) else grads[i])
        i += n
    return out


# ------------------------------------------------------------ oracle (a)
def central_differences(f, point):
    out = []
    for k, v in enumerate(point):
        v = np.array(v, dtype=float)
        d = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            h = 1e-6 * max(1.0, abs(v[idx]))
            args = [list(point), list(point)]
            for sign, a in zip((1, -1), args):
                w = v.copy()
                w[idx] += sign * h
                a[k] = w if v.ndim else float(w)
            d[idx] = (value(f, args[0]) - value(f, args[1])) / (2 * h)
        out.append(d if v.ndim else float(d))
    return out


def check(f, point):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ours = zs.gradient(f, *point)
        compiled = zs.compile(f).gradient(*point)
    ours = [np.zeros(np.shape(v)) if gr is None else gr for gr, v in zip(ours, point)]
    compiled = [np.zeros(np.shape(v)) if gr is None else gr for gr, v in zip(compiled, point)]
    scale = max(1.0, abs(value(f, point)), *(np.max(np.abs(gr), initial=0) for gr in ours))
    if scale > 1e4:
        return
    exact = sympy_gradient(f, point)
    for mine, comp, ref, fd in zip(ours, compiled, exact, central_differences(f, point)):
        np.testing.assert_allclose(mine, comp, rtol=1e-12, atol=1e-12 * scale)
        np.testing.assert_allclose(mine, ref, rtol=1e-9, atol=1e-11 * scale)
        np.testing.assert_allclose(mine, fd, rtol=1e-4, atol=1e-5 * scale)


@settings(max_examples=EXAMPLES or 100, deadline=None, derandomize=not EXAMPLES, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(cases())
def test_gradient_matches_sympy_and_central_differences(case):
    check(case.f, case.point)


@pytest.mark.parametrize("template, ok", UNARY, ids=[u[0] for u in UNARY])
def test_every_unary_rule_once(template, ok):
    """Each elementwise function at least once, inside a small composition."""
    point = (0.3, np.array([0.7, 1.3]), np.array([[1.4, 0.2], [-0.3, 1.6]]))
    for offset in ("0.3", "1.3", "1.6", "-0.3"):
        inner = f"({offset} + 0.5 * np.sin(x * s) + 0.1 * A[0])"
        if ok is None or ok(value_of(inner, point)):
            break
    check(Case(f"{template.format(inner)} * x", point).f, point)
