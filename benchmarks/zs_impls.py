"""zygote_sym's implementations of the workloads, for run.py and scaling.py:
`impls(backend)` -> {workload: make}, like peers.py; make() calls
`zs.compile` and returns a no-argument callable computing the gradient.

Every compiled function made is remembered (`MADE`), so run.py can wait for
"auto"'s fused kernels (`settle`) and report the backend that ran (`backend`).
"""
import inspect
import sys
import time

import numpy as np

from peers import A5, K6, L5, P1, P3, P7, T3, W5, X2, X4, X7, Y2, Y7, Ydat3, mlp_loss

def impls(backend="auto"):
    """{workload: make}; like the peers, make() builds (here: zs.compile) and
    returns a no-argument callable computing the gradient.  With "auto" the
    first call runs the NumPy kernel and the callable's `settle()` waits for
    the fused kernel, so the steady time is the one a long loop ends on."""
    import zygote_sym
    zs = _Backend(zygote_sym, backend)

    def f1(x, y, z):
        return x*y*np.sin(z) + np.exp(x*y)/(1 + z**2)

    def f2(x, y):                      # written for scalars; batched over arrays
        return np.sin(x)*np.exp(-y**2) + np.log1p(x**2*y**2)

    def f2_sum(x, y):                  # fallback: the same field via a summed loss
        return np.sum(np.sin(x)*np.exp(-y**2) + np.log1p(x**2*y**2))

    def f4(x):
        return np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)

    def f6(x):
        for _ in range(K6):
            x = np.sin(x)*x + np.cos(x)
        return x

    def m1():
        c = zs.compile(f1)
        return lambda: c.gradient(*P1)

    def m2():
        c = zs.compile(f2)
        return lambda: c.gradient(X2, Y2)

    def m2_sum():
        c = zs.compile(f2_sum)
        return lambda: c.gradient(X2, Y2)

    def m3():                          # data captured by closure: gradient in p only
        t, yd = T3, Ydat3

        def loss(p):
            a, b, c = p
            return np.sum((a*np.exp(-b*t) + c - yd)**2)
        c = zs.compile(loss)
        p = np.array(P3)
        return lambda: c.gradient(p)

    def m3_args():                     # the call form loss.gradient(p, t, y): all grads
        def loss(p, t, y):
            a, b, c = p
            return np.sum((a*np.exp(-b*t) + c - y)**2)
        c = zs.compile(loss)
        p = np.array(P3)
        return lambda: c.gradient(p, T3, Ydat3)

    def m3_wrt():                      # the same call form, differentiating in p only
        def loss(p, t, y):
            a, b, c = p
            return np.sum((a*np.exp(-b*t) + c - y)**2)
        c = zs.compile(loss, wrt=0)
        p = np.array(P3)
        return lambda: c.gradient(p, T3, Ydat3)

    def m4():
        c = zs.compile(f4)
        return lambda: c.gradient(X4)

    def m5():
        A, lab = A5, L5

        def loss(w):
            return np.sum(np.log1p(np.exp(-lab*(A @ w))))
        c = zs.compile(loss)
        return lambda: c.gradient(W5)

    def m5_args():
        def loss(w, A, lab):
            return np.sum(np.log1p(np.exp(-lab*(A @ w))))
        c = zs.compile(loss)
        return lambda: c.gradient(W5, A5, L5)

    def m5_wrt():
        def loss(w, A, lab):
            return np.sum(np.log1p(np.exp(-lab*(A @ w))))
        c = zs.compile(loss, wrt=0)
        return lambda: c.gradient(W5, A5, L5)

    def m6():
        c = zs.compile(f6)
        return lambda: c.gradient(0.3)

    def m7():                          # the user's call form: gradient in the dict only
        c = zs.compile(mlp_loss, wrt=0)
        return lambda: c.gradient(P7, X7, Y7)

    impls = dict(B1=m1, B2=m2, B2sum=m2_sum, B3=m3, B3args=m3_args, B3wrt=m3_wrt, B4=m4,
                 B5=m5, B5args=m5_args, B5wrt=m5_wrt, B6=m6, B7=m7)
    if "wrt" not in inspect.signature(zs.compile).parameters:   # older zygote_sym
        del impls["B3wrt"], impls["B5wrt"]
    return impls


class _Backend:
    """zygote_sym with compile(..., backend=backend); the compiled functions
    made are remembered, so run.py can wait for their fused kernels."""

    def __init__(self, zs, backend):
        self.zs, self.backend = zs, backend

    def compile(self, f, **kw):
        c = self.zs.compile(f, backend=self.backend, **kw)
        MADE.append(c)
        return c


MADE: list = []  # the compiled functions of the latest build (forget() starts anew)


def settle():
    """After a first call: wait for "auto"'s fused kernels (at most 60 s each)."""
    for c in MADE:
        if c.backend != "fused" and hasattr(c, "wait_fused"):
            c.wait_fused(60)


def forget():
    """Drop the compiled functions made so far (a build measured and done
    with): settle() then compiles no fused kernel for them."""
    MADE.clear()


def quiesce(timeout=60.0):
    """Wait until zygote_sym's background thread has finished every fused
    compile already running or queued (an earlier row's), without asking for
    new ones, so no compile competes for the cores with the next timing."""
    tier = sys.modules.get("zygote_sym.codegen.fused_tier")
    if tier is not None and not tier.drain(timeout):
        print(f"(zygote_sym's background compiles still running after {timeout:g} s)", flush=True)


def backend():
    """The backend the latest compiled function's latest call ran."""
    return getattr(MADE[-1], "backend", "numpy") if MADE else None


def warmup():
    import zygote_sym as zs
    zs.compile(lambda a, b: a*np.cos(b)).gradient(0.1, 0.2)
    zs.compile(lambda v: np.sum(np.tanh(v)**2)).gradient(np.linspace(0, 1, 7))
    try:  # Numba's start-up (import, the runtime helpers) is not charged to a workload
        zs.compile(lambda v: np.sum(np.tanh(v)**2), backend="fused").gradient(np.ones(7))
    except ImportError:
        pass
    if "array sizes" not in STARTUP:
        STARTUP["array sizes"] = startup_at_sizes()


STARTUP: dict = {}  # {what: seconds} of zygote_sym's one-time start-up paid in warmup()


def startup_at_sizes(sizes=(4**8, 4**9, 4**10)):
    """zygote_sym's once-per-process start-up at large arrays, paid here on
    an unrelated function so that no workload's first call is charged with it
    (as JAX's backend start-up is not): its code generator's cost model
    times NumPy against numexpr once per process, per function it may call
    and per power-of-4 array size (about 0.1-0.2 s at 10**6 elements on the
    2-core VM), and whichever row first compiled a gradient at that size
    paid it.  Seconds taken; run.py reports them."""
    import zygote_sym as zs

    def every_timed_function(v):      # each one-argument function the cost model times
        return np.sum(np.exp(v) + np.log(v) + np.log1p(v) + np.expm1(v) + np.sin(v)
                      + np.cos(v) + np.tan(v) + np.arctan(v) + np.sinh(v) + np.cosh(v)
                      + np.tanh(v))
    t0 = time.perf_counter()
    for n in sizes:
        zs.compile(every_timed_function, backend="numpy").gradient(np.linspace(0.1, 0.9, n))
    return time.perf_counter() - t0
