"""The near-limit yardstick: each workload's gradient written by hand as ONE
fused Numba loop (value work and every cotangent in a single pass over
memory), for benchmarks/run.py.

Serial loops (no prange), compiled without fastmath and with NumPy's error
model: the same rules as zygote_sym's fused backend, so the ratio measures
the generated code, not a different contract.  Matmuls stay BLAS (B5, B7),
as in the fused backend.  `impls()` -> {workload: make}, like peers.py: make()
returns a no-argument callable computing the gradient; compiling happens
inside make(), so the first call includes Numba's compile.
"""
import math

import numpy as np

from peers import A5, K6, L5, P1, P3, P7, T3, W5, X2, X4, X7, Y2, Y7, Ydat3


def b2_gradient(x, y):
    """B2's gradient field, one pass (plain Python: jit it with the options wanted)."""
    gx = np.empty_like(x); gy = np.empty_like(y)
    for i in range(x.size):
        xi, yi = x[i], y[i]
        ey = math.exp(-yi*yi); q = 1 + xi*xi*yi*yi
        gx[i] = math.cos(xi)*ey + 2*xi*yi*yi/q
        gy[i] = -2*yi*math.sin(xi)*ey + 2*xi*xi*yi/q
    return gx, gy


def b6_derivative(x, k):
    """B6's derivative at depth k, forward mode (plain Python, as b2_gradient)."""
    d = 1.0
    for _ in range(k):
        c = math.cos(x)
        d = d*(c*x)
        x = math.sin(x)*x + c
    return d


def impls():
    import numba

    jit = numba.njit(error_model="numpy", cache=False)

    def m1():
        @jit
        def g1(x, y, z):
            e = math.exp(x*y); s = math.sin(z); d = 1 + z*z
            return (y*s + y*e/d, x*s + x*e/d, x*y*math.cos(z) - e*2*z/(d*d))
        x, y, z = P1
        return lambda: g1(x, y, z)

    def m2():
        g2 = jit(b2_gradient)
        return lambda: g2(X2, Y2)

    def m3():
        @jit
        def g3(a, b, c, t, y):
            ga = gb = gc = 0.0
            for i in range(t.size):
                e = math.exp(-b*t[i]); r = 2*(a*e + c - y[i])
                ga += r*e; gb -= r*a*t[i]*e; gc += r
            return ga, gb, gc
        a, b, c = P3
        return lambda: g3(a, b, c, T3, Ydat3)

    def m4():
        @jit
        def g4(x):
            n = x.size
            g = np.empty(n)
            for i in range(n):
                v = 0.0
                if i < n - 1:
                    d = x[i + 1] - x[i]*x[i]
                    v += -400*x[i]*d - 2*(1 - x[i])
                if i > 0:
                    v += 200*(x[i] - x[i - 1]*x[i - 1])
                g[i] = v
            return g
        return lambda: g4(X4)

    def m5():
        @jit
        def cot(m, lab):
            out = np.empty_like(m)
            for i in range(m.size):
                out[i] = -lab[i]/(1 + math.exp(lab[i]*m[i]))
            return out
        return lambda: A5.T @ cot(A5 @ W5, L5)

    def m6():
        g6 = jit(b6_derivative)
        return lambda: g6(0.3, K6)

    def m7():
        @jit
        def hidden(z):  # tanh and its derivative in one pass over the (N, H) block
            h = np.empty_like(z)
            d = np.empty_like(z)
            for i in range(z.shape[0]):
                for j in range(z.shape[1]):
                    t = math.tanh(z[i, j])
                    h[i, j] = t
                    d[i, j] = 1 - t*t
            return h, d

        @jit
        def backward(r, w2, d):  # dz = (r @ w2.T) * d and its column sums (db1), one pass
            dz = np.empty_like(d)
            db1 = np.zeros(d.shape[1])
            for i in range(d.shape[0]):
                for j in range(d.shape[1]):
                    v = r[i]*w2[j]*d[i, j]
                    dz[i, j] = v
                    db1[j] += v
            return dz, db1

        def grad(p, X, y):
            h, d = hidden(X @ p["W1"] + p["b1"])
            r = (2.0/y.size)*(h @ p["W2"] + p["b2"] - y)
            dz, db1 = backward(r[:, 0], p["W2"][:, 0], d)
            return dict(W1=X.T @ dz, b1=db1, W2=h.T @ r, b2=r.sum(0))
        return lambda: grad(P7, X7, Y7)

    return dict(B1=m1, B2=m2, B3=m3, B4=m4, B5=m5, B6=m6, B7=m7)


def warm():
    import numba
    numba.njit(lambda v: v + 1.0)(1.0)  # numba's own start-up, outside the timings
