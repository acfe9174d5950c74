"""Which loop design is fastest where transcendental functions dominate
(B2: a gradient field over 10**6 points; B3: a fit over 10**5 points)?

    python benchmarks/vecmath.py [--reps 20] [--trig] [--ulp 10000000]

Variants, each the same gradient, timed in one process (median per call):

- numpy:      the hand-written NumPy gradient (SIMD exp/sin/cos, one pass per op)
- loop:       one serial Numba loop, scalar libm calls (the fused backend today)
- afn:        the same loop with fastmath={"afn", "contract"}: approximate
              functions and fused multiply-add only (no nnan/ninf/nsz, so
              NaN, inf and signed zero keep their meaning)
- prange:     the loop with parallel=True over the machine's cores
- hybrid:     NumPy computes the transcendental arrays (SIMD), one Numba loop
              does all the arithmetic and the sums
- hybrid-vm:  hybrid with sin and cos from zygote_sym.codegen.vecmath.sincos
              (vectorised, within 1 ulp) instead of np.sin/np.cos (scalar libm)

--trig prints ns per element of sin/cos over 10**6 points in [-2, 2]:
vecmath.sin, vecmath.cos, vecmath.sincos, np.sin, np.cos and a Numba loop
calling math.sin.  --ulp N compares vecmath.sin/cos with np.sin/np.cos on N
random points (in [-1, 1], [-100, 100] and [-2**20, 2**20]) and prints the
histogram of their differences in ulps.

Prints whether Numba can use SVML here (it cannot since Numba 0.62: the SVML
patch was not ported to the LLVM that llvmlite now ships), the times, and the
rounding difference of each variant against the NumPy gradient (prange sums
are split per thread, so they round differently from a serial sum).
"""
import argparse
import math
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from zygote_sym.codegen import vecmath  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import P3, T3, X2, Y2, Ydat3, numpy_impls  # noqa: E402


def svml_state():
    """(usable, why) from numba's own configuration."""
    import numba
    from numba.core import config
    try:
        from llvmlite import binding
        patched = binding.llvm_version_info and getattr(binding, "has_svml", lambda: False)()
    except Exception:  # noqa: BLE001
        patched = False
    return bool(config.USING_SVML), (f"numba {numba.__version__}: config.USING_SVML="
                                     f"{config.USING_SVML}, llvmlite SVML-patched={patched}")


def variants():
    import numba

    def make(**kw):
        return numba.njit(error_model="numpy", cache=False, **kw)

    def b2(jit, rng):
        @jit
        def g2(x, y):
            gx = np.empty_like(x)
            gy = np.empty_like(y)
            for i in rng(x.size):
                xi, yi = x[i], y[i]
                ey = math.exp(-yi*yi)
                q = 1 + xi*xi*yi*yi
                gx[i] = math.cos(xi)*ey + 2*xi*yi*yi/q
                gy[i] = -2*yi*math.sin(xi)*ey + 2*xi*xi*yi/q
            return gx, gy
        return lambda: g2(X2, Y2)

    def b3(jit, rng):
        @jit
        def g3(a, b, c, t, y):
            ga = gb = gc = 0.0
            for i in rng(t.size):
                e = math.exp(-b*t[i])
                r = 2*(a*e + c - y[i])
                ga += r*e
                gb -= r*a*t[i]*e
                gc += r
            return ga, gb, gc
        a, b, c = P3
        return lambda: g3(a, b, c, T3, Ydat3)

    def hybrid():
        jit = make()

        @jit
        def g2(x, y, s, co, ey):
            gx = np.empty_like(x)
            gy = np.empty_like(y)
            for i in range(x.size):
                xi, yi = x[i], y[i]
                q = 1 + xi*xi*yi*yi
                gx[i] = co[i]*ey[i] + 2*xi*yi*yi/q
                gy[i] = -2*yi*s[i]*ey[i] + 2*xi*xi*yi/q
            return gx, gy

        @jit
        def g3(a, c, t, y, e):
            ga = gb = gc = 0.0
            for i in range(t.size):
                r = 2*(a*e[i] + c - y[i])
                ga += r*e[i]
                gb -= r*a*t[i]*e[i]
                gc += r
            return ga, gb, gc
        a, b, c = P3
        return g2, g3, (lambda: g2(X2, Y2, np.sin(X2), np.cos(X2), np.exp(-Y2*Y2)),
                        lambda: g3(a, c, T3, Ydat3, np.exp(-b*T3)))

    out = {}
    ref = numpy_impls()
    out["numpy"] = (ref["B2"], ref["B3"])
    out["loop"] = (b2(make(), range), b3(make(), range))
    afn = make(fastmath={"afn", "contract"})
    out["afn"] = (b2(afn, range), b3(afn, range))
    par = make(parallel=True)
    out["prange"] = (b2(par, numba.prange), b3(par, numba.prange))
    g2, g3, out["hybrid"] = hybrid()
    a, b, c = P3
    out["hybrid-vm"] = (lambda: g2(X2, Y2, *vecmath.sincos(X2), np.exp(-Y2*Y2)),
                        lambda: g3(a, c, T3, Ydat3, np.exp(-b*T3)))
    return out


def call_times(fn, reps):
    """Seconds of each of `reps` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def median_time(fn, reps):
    return statistics.median(call_times(fn, reps))


def rel(got, want):
    g, w = np.concatenate([np.ravel(v) for v in got]), np.concatenate([np.ravel(v) for v in want])
    return float(np.max(np.abs(g - w)) / np.max(np.abs(w)))


def trig_table(reps):
    """ns per element of each sin/cos over 10**6 points."""
    import numba

    @numba.njit(error_model="numpy", nogil=True)
    def loop_sin(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = math.sin(x[i])
        return out

    x = np.random.default_rng(0).uniform(-2, 2, 10**6)
    fns = {"vecmath.sin": vecmath.sin, "vecmath.cos": vecmath.cos,
           "vecmath.sincos (both)": vecmath.sincos, "np.sin": np.sin, "np.cos": np.cos,
           "Numba loop, math.sin": loop_sin}
    print("| 10**6 points in [-2, 2] | ns per element (median) | (fastest call) |")
    print("|---|---|---|")
    for name, fn in fns.items():
        times = call_times(lambda: fn(x), reps)
        print(f"| {name} | {statistics.median(times) / x.size * 1e9:.2f} "
              f"| {min(times) / x.size * 1e9:.2f} |", flush=True)


def ulp_histogram(n):
    """Differences of vecmath.sin/cos from np.sin/np.cos in ulps, on n points."""
    rng = np.random.default_rng(1)
    print("| range | function | 0 ulp | 1 ulp | > 1 ulp |")
    print("|---|---|---|---|---|")
    for lo, label in ((1.0, "1"), (100.0, "100"), (vecmath.BOUND, "2**20")):
        x = rng.uniform(-lo, lo, n)
        for ours, ref in ((vecmath.sin, np.sin), (vecmath.cos, np.cos)):
            want = ref(x)
            d = np.abs(ours(x) - want) / np.spacing(np.abs(want))
            k = np.bincount(np.minimum(np.rint(d), 2).astype(np.int64), minlength=3)
            print(f"| [-{label}, {label}] | {ref.__name__} | {k[0]} | {k[1]} | {k[2]} |", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--trig", action="store_true", help="time sin/cos alone, then stop")
    ap.add_argument("--ulp", type=int, default=0, metavar="N",
                    help="vecmath against np.sin/np.cos on N points, then stop")
    a = ap.parse_args(argv)
    if a.trig or a.ulp:
        print("load average " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
        if a.trig:
            trig_table(a.reps)
        if a.ulp:
            ulp_histogram(a.ulp)
        return
    ok, why = svml_state()
    print(f"SVML usable: {ok} ({why})")
    import numba
    print(f"numba threads: {numba.get_num_threads()}; load average "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    vs = variants()
    want = {w: fn() for w, fn in zip(("B2", "B3"), vs["numpy"])}
    print("| variant | B2 steady | B2 max rel. diff | B3 steady | B3 max rel. diff |")
    print("|---|---|---|---|---|")
    for name, (f2, f3) in vs.items():
        t2, t3 = median_time(f2, a.reps), median_time(f3, a.reps * 10)
        print(f"| {name} | {t2*1e3:.2f} ms | {rel(f2(), want['B2']):.1e} | {t3*1e6:.0f} µs "
              f"| {rel(f3(), want['B3']):.1e} |", flush=True)


if __name__ == "__main__":
    main()
