"""Differential test against independent oracles (issue 5).

Hypothesis draws a point (a scalar `s`, a vector `x`, a well-conditioned
2x2 matrix `A`) and then a random expression of bounded depth over every
operation that has a rule: elementwise functions, powers, selects, stable
spellings, reductions, scans, matmul, indexing, linear algebra.  Each op is
drawn only where its arguments are inside its domain and away from its
kinks and ties at this point (a margin of 0.05), so the function is smooth
there (the grammar is tests/expression_grammar.py, shared with the fuzz
test).  zygote_sym's gradient is checked against

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
import sympy as sp
from expression_grammar import UNARY, Case, cases, central_differences, value, value_of
from hypothesis import HealthCheck, given, settings
from test_fused import each_backend  # noqa: F401 (a fixture)
from sympy.core.relational import Relational

import zygote_sym as zs
from zygote_sym.ir import nodes as g
from zygote_sym.ir import ops
from zygote_sym.trace.call import trace_call

EXAMPLES = int(os.environ.get("ZYGOTE_SYM_ORACLE_EXAMPLES", "0"))


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


@pytest.mark.usefixtures("each_backend")  # compiled on the NumPy and the fused backend
@pytest.mark.parametrize("template, ok", UNARY, ids=[u[0] for u in UNARY])
def test_every_unary_rule_once(template, ok):
    """Each elementwise function at least once, inside a small composition."""
    point = (0.3, np.array([0.7, 1.3]), np.array([[1.4, 0.2], [-0.3, 1.6]]))
    for offset in ("0.3", "1.3", "1.6", "-0.3"):
        inner = f"({offset} + 0.5 * np.sin(x * s) + 0.1 * A[0])"
        if ok is None or ok(value_of(inner, point)):
            break
    check(Case(f"{template.format(inner)} * x", point).f, point)
