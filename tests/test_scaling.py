"""The backward pass is linear: node counts, and a guard against super-linear time."""
import time

import numpy as np
import sympy

import zygote_sym as zs
from zygote_sym.ad.backward import grad
from zygote_sym.ir import nodes as g
from zygote_sym.trace.call import trace_call


def nest(x, n):
    for _ in range(n):
        x = np.sin(x) * x + np.cos(x)
    return x


def test_gradient_dag_is_at_most_4x_the_primal():
    traced = trace_call(lambda x: nest(x, 200), (0.3,))
    primal = g.count_nodes(traced.out_exprs)
    grads = grad(traced.out_exprs[0], traced.leaves, traced.shapes)
    assert g.count_nodes(traced.out_exprs + grads) <= 4 * primal


def test_gradient_value_of_the_nest():
    # d/dx (sin(x)*x + cos(x)) = x*cos(x), chained by hand
    x, d = 0.3, 1.0
    for _ in range(20):
        d *= x * np.cos(x)
        x = np.sin(x) * x + np.cos(x)
    assert np.isclose(zs.gradient(lambda x: nest(x, 20), 0.3)[0], d, rtol=1e-14)


def test_sympy_diff_would_swell():
    # the same nest as a SymPy tree: even depth 6 is far larger than our DAG
    x = sympy.Symbol("x")
    e = x
    for _ in range(6):
        e = sympy.sin(e) * e + sympy.cos(e)
    assert sympy.count_ops(e.diff(x)) > 4 * g.count_nodes([e])


def test_2000_levels_in_seconds():
    # a prototype with SymPy's automatic evaluation took 55 s at depth 200
    t0 = time.perf_counter()
    g2000 = zs.gradient(lambda x: nest(x, 2000), 0.3)[0]
    assert time.perf_counter() - t0 < 10.0
    assert np.isfinite(g2000)
