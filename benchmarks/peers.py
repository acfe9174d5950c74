"""The benchmark workloads B1-B7 and their peer implementations:
hand-written NumPy, JAX, PyTorch, HIPS autograd, CasADi and SymPy (diff + lambdify).

Copied, with the same workloads, data, RNG seed and sizes, from the project's
peer-baseline script ../shared/tools/peer_baselines.py (the "compass" the
project was planned against); only its timing helpers and command line were
left out (benchmarks/run.py has its own).  Keep the two in step: the point of
the benchmark is that every system computes the same gradient on the same data.

Each `*_impls()` returns {workload: make}, where `make()` builds whatever the
system needs (jit, graph, lambdify...) and returns a no-argument callable that
computes the gradient once; `numpy_impls()` returns the callables directly.
The import of a peer happens inside its `*_impls()`, so a missing peer only
removes its rows.
"""
import math

import numpy as np

RNG = np.random.default_rng(0)

# ---------------------------------------------------------------- workloads
N2 = 1_000_000; X2 = RNG.uniform(-2, 2, N2); Y2 = RNG.uniform(-2, 2, N2)
N3 = 100_000; T3 = np.linspace(0, 5, N3); Ydat3 = 2.5*np.exp(-1.3*T3) + 0.5 + 0.01*RNG.standard_normal(N3)
P3 = (2.0, 1.0, 0.3)
N4 = 10_000; X4 = RNG.uniform(-1, 1, N4)
N5, D5 = 10_000, 100; A5 = RNG.standard_normal((N5, D5)); L5 = np.sign(RNG.standard_normal(N5)); W5 = 0.1*RNG.standard_normal(D5)
K6 = 20
P1 = (0.5, -1.2, 0.7)
# B7, a real program: a 2-layer MLP's mean squared error, parameters in a dict
N7, D7, H7 = 10_000, 64, 32
X7 = RNG.standard_normal((N7, D7)); Y7 = np.sin(X7[:, :1]) + 0.1*RNG.standard_normal((N7, 1))
P7 = dict(W1=RNG.standard_normal((D7, H7))/8, b1=0.1*RNG.standard_normal(H7),
          W2=RNG.standard_normal((H7, 1))/6, b2=0.1*RNG.standard_normal(1))


def mlp_loss(p, X, y, xp=np):
    """B7 as a user writes it: xp is numpy, or jax.numpy / autograd.numpy."""
    h = xp.tanh(X @ p["W1"] + p["b1"])
    return xp.mean((h @ p["W2"] + p["b2"] - y)**2)


def mlp_grad_numpy(p, X, y):
    """B7's gradient by hand (backpropagation): {name: gradient}."""
    h = np.tanh(X @ p["W1"] + p["b1"])
    r = (2.0/y.size)*(h @ p["W2"] + p["b2"] - y)          # d loss / d output, (N, 1)
    dz = (r @ p["W2"].T)*(1 - h*h)                        # d loss / d hidden pre-activation
    return dict(W1=X.T @ dz, b1=dz.sum(0), W2=h.T @ r, b2=r.sum(0))

def numpy_impls():
    def g1():
        x, y, z = P1
        e = math.exp(x*y); s = math.sin(z); d = 1 + z*z
        return (y*s + y*e/d, x*s + x*e/d, x*y*math.cos(z) - e*2*z/(d*d))
    def g2():
        x, y = X2, Y2
        ey = np.exp(-y**2); q = 1 + x**2*y**2
        return (np.cos(x)*ey + 2*x*y**2/q, -2*y*np.sin(x)*ey + 2*x**2*y/q)
    def g3():
        a, b, c = P3; e = np.exp(-b*T3); r = 2*(a*e + c - Ydat3)
        return (np.sum(r*e), np.sum(-r*a*T3*e), np.sum(r))
    def g4():
        x = X4; g = np.zeros_like(x); d = x[1:] - x[:-1]**2
        g[:-1] += -400*x[:-1]*d - 2*(1 - x[:-1]); g[1:] += 200*d
        return g
    def g5():
        m = -L5*(A5 @ W5); s = 1/(1 + np.exp(-m))
        return A5.T @ (-L5*s)
    def g6():
        x = 0.3; d = 1.0
        for _ in range(K6):
            d = d*(math.cos(x)*x + math.sin(x) - math.sin(x)); x = math.sin(x)*x + math.cos(x)
        return d
    def g7():
        return mlp_grad_numpy(P7, X7, Y7)
    return dict(B1=g1, B2=g2, B3=g3, B4=g4, B5=g5, B6=g6, B7=g7)

def numpy_f_only():
    """the function itself, in plain NumPy: the 'cheap gradient' yardstick"""
    return dict(
        B2=lambda: np.sin(X2)*np.exp(-Y2**2) + np.log1p(X2**2*Y2**2),
        B3=lambda: np.sum((P3[0]*np.exp(-P3[1]*T3) + P3[2] - Ydat3)**2),
        B4=lambda: np.sum(100*(X4[1:]-X4[:-1]**2)**2 + (1-X4[:-1])**2),
        B5=lambda: np.sum(np.log1p(np.exp(-L5*(A5 @ W5)))),
        B7=lambda: mlp_loss(P7, X7, Y7),
    )

def jax_impls():
    import jax, jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    f1 = lambda x, y, z: x*y*jnp.sin(z) + jnp.exp(x*y)/(1 + z**2)
    f2 = lambda x, y: jnp.sin(x)*jnp.exp(-y**2) + jnp.log1p(x**2*y**2)
    f3 = lambda p, t, y: jnp.sum((p[0]*jnp.exp(-p[1]*t) + p[2] - y)**2)
    f4 = lambda x: jnp.sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)
    f5 = lambda w, A, l: jnp.sum(jnp.log1p(jnp.exp(-l*(A @ w))))
    def f6(x):
        for _ in range(K6): x = jnp.sin(x)*x + jnp.cos(x)
        return x
    blk = lambda r: jax.tree_util.tree_map(lambda a: a.block_until_ready(), r)
    def m1():
        g = jax.jit(jax.grad(f1, argnums=(0, 1, 2))); return lambda: blk(g(*P1))
    def m2():
        g = jax.jit(jax.vmap(jax.grad(f2, argnums=(0, 1)))); x, y = jnp.asarray(X2), jnp.asarray(Y2); return lambda: blk(g(x, y))
    def m3():
        g = jax.jit(jax.grad(f3)); p, t, y = jnp.asarray(P3), jnp.asarray(T3), jnp.asarray(Ydat3); return lambda: blk(g(p, t, y))
    def m4():
        g = jax.jit(jax.grad(f4)); x = jnp.asarray(X4); return lambda: blk(g(x))
    def m5():
        g = jax.jit(jax.grad(f5)); w, A, l = map(jnp.asarray, (W5, A5, L5)); return lambda: blk(g(w, A, l))
    def m6():
        g = jax.jit(jax.grad(f6)); return lambda: blk(g(0.3))
    def m7():
        g = jax.jit(jax.grad(lambda p, X, y: mlp_loss(p, X, y, jnp)))
        p = {k: jnp.asarray(v) for k, v in P7.items()}; X, y = jnp.asarray(X7), jnp.asarray(Y7)
        return lambda: blk(g(p, X, y))
    return dict(B1=m1, B2=m2, B3=m3, B4=m4, B5=m5, B6=m6, B7=m7)

def torch_impls():
    import torch
    torch.set_num_threads(2)
    def m1():
        def run():
            x, y, z = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in P1)
            out = x*y*torch.sin(z) + torch.exp(x*y)/(1 + z**2)
            return torch.autograd.grad(out, (x, y, z))
        return run
    def m2():
        x0, y0 = torch.from_numpy(X2), torch.from_numpy(Y2)
        def run():
            x = x0.clone().requires_grad_(); y = y0.clone().requires_grad_()
            out = torch.sin(x)*torch.exp(-y**2) + torch.log1p(x**2*y**2)
            return torch.autograd.grad(out.sum(), (x, y))
        return run
    def m3():
        t, yd = torch.from_numpy(T3), torch.from_numpy(Ydat3)
        def run():
            p = torch.tensor(P3, dtype=torch.float64, requires_grad=True)
            return torch.autograd.grad(torch.sum((p[0]*torch.exp(-p[1]*t) + p[2] - yd)**2), p)
        return run
    def m4():
        x0 = torch.from_numpy(X4)
        def run():
            x = x0.clone().requires_grad_()
            return torch.autograd.grad(torch.sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2), x)
        return run
    def m5():
        A, l, w0 = torch.from_numpy(A5), torch.from_numpy(L5), torch.from_numpy(W5)
        def run():
            w = w0.clone().requires_grad_()
            return torch.autograd.grad(torch.sum(torch.log1p(torch.exp(-l*(A @ w)))), w)
        return run
    def m6():
        def run():
            x0 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True); x = x0
            for _ in range(K6): x = torch.sin(x)*x + torch.cos(x)
            return torch.autograd.grad(x, x0)
        return run
    def m7():
        X, y = torch.from_numpy(X7), torch.from_numpy(Y7)
        def run():
            p = {k: torch.from_numpy(v).clone().requires_grad_() for k, v in P7.items()}
            g = torch.autograd.grad(mlp_loss(p, X, y, torch), list(p.values()))
            return dict(zip(p, g))
        return run
    return dict(B1=m1, B2=m2, B3=m3, B4=m4, B5=m5, B6=m6, B7=m7)

def autograd_impls():
    import autograd, autograd.numpy as anp
    f1 = lambda p: p[0]*p[1]*anp.sin(p[2]) + anp.exp(p[0]*p[1])/(1 + p[2]**2)
    f2 = lambda x, y: anp.sum(anp.sin(x)*anp.exp(-y**2) + anp.log1p(x**2*y**2))
    f3 = lambda p: anp.sum((p[0]*anp.exp(-p[1]*T3) + p[2] - Ydat3)**2)
    f4 = lambda x: anp.sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)
    f5 = lambda w: anp.sum(anp.log1p(anp.exp(-L5*anp.dot(A5, w))))
    def f6(x):
        for _ in range(K6): x = anp.sin(x)*x + anp.cos(x)
        return x
    p1, p3 = np.array(P1), np.array(P3)
    g2 = autograd.grad(f2, argnum=(0, 1))
    return dict(B1=lambda: (lambda g=autograd.grad(f1): lambda: g(p1))(),
                B2=lambda: (lambda: g2(X2, Y2)),
                B3=lambda: (lambda g=autograd.grad(f3): lambda: g(p3))(),
                B4=lambda: (lambda g=autograd.grad(f4): lambda: g(X4))(),
                B5=lambda: (lambda g=autograd.grad(f5): lambda: g(W5))(),
                B6=lambda: (lambda g=autograd.grad(f6): lambda: g(0.3))(),
                B7=lambda: (lambda g=autograd.grad(lambda p: mlp_loss(p, X7, Y7, anp)):
                            lambda: g(P7))())

def casadi_impls():
    import casadi as ca
    def m1():
        x = ca.SX.sym('x', 3)
        f = x[0]*x[1]*ca.sin(x[2]) + ca.exp(x[0]*x[1])/(1 + x[2]**2)
        g = ca.Function('g', [x], [ca.gradient(f, x)]); p = np.array(P1)
        return lambda: g(p)
    def m3():
        p = ca.SX.sym('p', 3); t = ca.SX.sym('t', N3); y = ca.SX.sym('y', N3)
        f = ca.sumsqr(p[0]*ca.exp(-p[1]*t) + p[2] - y)
        g = ca.Function('g', [p, t, y], [ca.gradient(f, p)]); pp = np.array(P3)
        return lambda: g(pp, T3, Ydat3)
    def m4():
        x = ca.SX.sym('x', N4)
        f = ca.sum1(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)
        g = ca.Function('g', [x], [ca.gradient(f, x)])
        return lambda: g(X4)
    def m5():
        w = ca.MX.sym('w', D5); A = ca.MX.sym('A', N5, D5); l = ca.MX.sym('l', N5)
        f = ca.sum1(ca.log1p(ca.exp(-l*ca.mtimes(A, w))))
        g = ca.Function('g', [w, A, l], [ca.gradient(f, w)])
        return lambda: g(W5, A5, L5)
    def m6():
        x = ca.SX.sym('x'); z = x
        for _ in range(K6): z = ca.sin(z)*z + ca.cos(z)
        g = ca.Function('g', [x], [ca.gradient(z, x)])
        return lambda: g(0.3)
    return dict(B1=m1, B3=m3, B4=m4, B5=m5, B6=m6)

def sympy_impls():
    """what a SymPy user writes by hand: diff the closed form, lambdify it"""
    import sympy as sp
    def m1():
        x, y, z = sp.symbols('x y z'); f = x*y*sp.sin(z) + sp.exp(x*y)/(1 + z**2)
        g = sp.lambdify((x, y, z), [sp.diff(f, v) for v in (x, y, z)], 'math')
        return lambda: g(*P1)
    def m2():
        x, y = sp.symbols('x y'); f = sp.sin(x)*sp.exp(-y**2) + sp.log(1 + x**2*y**2)
        gx = sp.lambdify((x, y), sp.diff(f, x), 'numexpr'); gy = sp.lambdify((x, y), sp.diff(f, y), 'numexpr')
        return lambda: (gx(X2, Y2), gy(X2, Y2))
    def m2np():
        x, y = sp.symbols('x y'); f = sp.sin(x)*sp.exp(-y**2) + sp.log(1 + x**2*y**2)
        g = sp.lambdify((x, y), [sp.diff(f, x), sp.diff(f, y)], 'numpy', cse=True)
        return lambda: g(X2, Y2)
    def m3():
        a, b, c, t, y = sp.symbols('a b c t y'); r = (a*sp.exp(-b*t) + c - y)**2
        g = sp.lambdify((a, b, c, t, y), [sp.diff(r, v) for v in (a, b, c)], 'numpy', cse=True)
        return lambda: [np.sum(v) for v in g(*P3, T3, Ydat3)]
    def m6():
        x = sp.Symbol('x'); z = x
        for _ in range(K6): z = sp.sin(z)*z + sp.cos(z)
        g = sp.lambdify(x, sp.diff(z, x), 'math', cse=True)
        return lambda: g(0.3)
    # B6 is left out: sympy.diff of the depth-20 nest did not finish in 10 minutes
    # (expression swell); m6 is kept to show how it would be written.
    return dict(B1=m1, B2=m2, B2np=m2np, B3=m3)
