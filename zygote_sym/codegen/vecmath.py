"""Vectorised float64 `sin` and `cos` for the fused backend, within 1 ulp.

NumPy's float64 `np.sin`/`np.cos` call scalar libm per element (11-23 ns
measured), and a Numba loop calls the same libm (Numba has no SVML;
fast-math flags would drop NaN/inf/signed-zero semantics).  Here, as in XLA
and SLEEF, the whole computation is branch-free arithmetic that LLVM
vectorises (8 lanes with AVX-512: `_eight_lanes`; 4 with AVX2), in two
passes over the array (about 3 ns per element of CPU time against 14-19 ns
for np.sin and np.exp's 1.2-1.8, 10**5 and 10**6 points, measured in one
process on a loaded 2-core machine; benchmarks/vecmath.py --trig):

1. Every element: q = nearest integer of x*2/pi; the reduced argument
   r = x - q*pi/2 as a double-double (rh, rl) by a Cody-Waite split of pi/2
   (fdlibm's __rem_pio2 constants); fdlibm's kernels __kernel_sin and
   __kernel_cos on [-pi/4, pi/4] with the tail rl (musl's forms: the
   polynomials and their < 1 ulp error are fdlibm's); the quadrant q mod 4
   chosen by selects.  An element the fast path cannot promise (see
   `_TINY`, `BOUND`) is written as NaN and counted: no other element can
   be NaN (finite x in range gives finite values).
2. Only when that count is > 0: every NaN of the output is recomputed with
   libm (`math.sin`/`math.cos`, the functions NumPy calls), so NaN, +-inf,
   huge arguments and points within `_TINY` of a nonzero multiple of pi/2
   give libm's value bit for bit.  Signed zeros and subnormals stay on the
   fast path, which returns them unchanged as libm does (q = 0: r = x).

Accuracy: at most 1 ulp from the correctly rounded result (measured against
mpmath on 9*10**4 points per function over [-1, 1], [-100, 100], [-BOUND,
BOUND] and near multiples of pi/4: at most 0.77 ulp; tests/test_vecmath.py;
against np.sin/np.cos on 10**7 points, 3-4% differ by 1 ulp, none by more:
benchmarks/vecmath.py --ulp).  Compiled with Numba on first use
(`nogil`, NumPy's error model, no fast-math), cached on disk by Numba;
Numba is optional: without it the functions raise ImportError naming the
install.  Thread safe: every call allocates its own output.

`BETWEEN_LOOPS` maps SymPy functions to these array functions, for a fused
kernel that computes them between loops (as it computes np.exp):
`BETWEEN_LOOPS[sympy.sin](x)` is `sin(x)`; `prepare()` compiles them ahead
of the first call; `sincos(x)` gives both from one reduction for the time
of one (they take no `out=`: they always return new arrays).
"""
import contextlib
import math
import threading
from typing import Any, Callable, Dict, Iterator, Tuple

import numpy as np
import sympy as sp

from . import fused_jit

# Cody-Waite split of pi/2 (fdlibm's pio2_1, pio2_2, pio2_2t): _P1 and _P2
# have 33 significant bits, so q*_P1 and q*_P2 are exact for |q| < 2**20;
# _P3 is the next 53 bits, and pi/2 - (_P1 + _P2 + _P3) is 1.01e-37.
_P1 = 1.57079632673412561417e+00
_P2 = 6.07710050630396597660e-11
_P3 = 2.02226624879595063154e-21
_TWO_OVER_PI = 6.36619772367581382433e-01
_ROUND = 6755399441055744.0  # 1.5*2**52: (v + _ROUND) - _ROUND is rint(v) for |v| < 2**51
# |x| <= BOUND gives |q| <= 667544 < 2**20 (q*_P1, q*_P2 exact), and
# x - q*_P1 is exact by Sterbenz's lemma (x is within [q*_P1/2, 2*q*_P1]).
BOUND = 2.0**20
# The reduction's error.  For |x| <= BOUND, |q| <= 667544 and the absolute
# error of rh + rl against x - q*pi/2 is at most
#   |q|*1.01e-37            (pi/2 beyond _P3)                  6.8e-32
# + ulp(|q*_P3| <= 1.4e-15)/2 (the one rounded product)        2.0e-31
# + ulp(|e - q*_P3| <= 1.5e-15)/2 (the rounded tail sum)       2.0e-31
# (t = x - q*_P1 and q*_P2 are exact, the TwoSum and the final Fast2Sum are
# exact), so delta < 4.7e-31.  When the result is sin(r) ~ r (for cos(r) ~ 1
# delta is far below its ulp), that is delta/(2**-53*0.9*|r|) ulp
# (|sin r| >= 0.9|r| on [-pi/4, pi/4]); below 1/128 ulp, so the kernels'
# own < 1 ulp is kept, when |r| >= 6e-13.  Elements with q != 0 and
# |rh| < _TINY (a few in 10**12 of random arguments, and the doubles nearest
# to multiples of pi/2) go to libm.  q = 0 is exact (r = x).  The rule is
# needed: cos(413441.44719405076) (|r| = 2.3e-16) is 1.06 ulp off without it.
_TINY = 2.0**-40  # 9.1e-13
# fdlibm's k_sin.c and k_cos.c minimax coefficients on [-pi/4, pi/4]
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11


def _sincos1(x: float) -> Tuple[float, float, bool]:
    """(sin x, cos x, fast path valid) for one element: straight-line code
    that Numba inlines into the loops, where LLVM turns it into SIMD."""
    ok = abs(x) <= BOUND  # False for NaN and +-inf
    x = x if ok else 0.0  # keeps the arithmetic below finite (no poison in lanes)
    q = (x * _TWO_OVER_PI + _ROUND) - _ROUND
    t = x - q * _P1  # exact
    p = q * _P2  # exact
    s = t - p  # TwoSum: s + e == t - p exactly
    b = s - t
    e = (t - (s - b)) - (p + b)
    w = e - q * _P3
    rh = s + w  # Fast2Sum (|s| >> |w| wherever the result is kept)
    rl = (s - rh) + w
    small = q == 0.0  # then r = x exactly and rl = 0 already, but rh(-0.0) is +0.0:
    rh = x if small else rh
    ok = ok & (small | (abs(rh) >= _TINY))
    # fdlibm __kernel_sin(rh, rl, 1)
    z = rh * rh
    v = z * rh
    r = _S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))
    sr = rh - ((z * (0.5 * rl - v * r) - rl) - v * _S1)
    # fdlibm (musl) __cos(rh, rl): 1 - z/2 with its rounding error added back
    zz = z * z
    r = z * (_C1 + z * (_C2 + z * _C3)) + zz * zz * (_C4 + z * (_C5 + z * _C6))
    hz = 0.5 * z
    w = 1.0 - hz
    cr = w + (((1.0 - w) - hz) + (z * r - rh * rl))
    # quadrant q mod 4 from floors, not an integer conversion (which vectorises
    # only with AVX-512DQ): q odd swaps sin and cos; (q mod 4) >= 2, that is
    # floor(q/2) odd, negates sin; (q mod 4) in {1, 2} negates cos
    h = np.floor(q * 0.5)
    odd = q * 0.5 != h
    neg_sin = h * 0.5 != np.floor(h * 0.5)
    sa = cr if odd else sr
    ca = sr if odd else cr
    sn = -sa if neg_sin else sa
    cn = -ca if odd != neg_sin else ca
    return sn, cn, ok


def _one(exact: Any, pick: int) -> Any:
    """The loop of sin (pick 0) or cos (pick 1) into `out`: the vectorised
    pass, then `exact` (libm) for the elements it marked (NaN)."""
    def loop(x: Any, out: Any) -> None:
        bad = 0
        for i in range(x.size):
            sc = _kernel(x[i])
            out[i] = sc[pick] if sc[2] else np.nan
            bad += not sc[2]
        if bad:
            for i in range(x.size):
                if out[i] != out[i]:
                    out[i] = exact(x[i])
    return loop


_sin_loop, _cos_loop = _one(math.sin, 0), _one(math.cos, 1)


def _sincos_loop(x: Any, so: Any, co: Any) -> None:
    bad = 0
    for i in range(x.size):
        s, c, ok = _kernel(x[i])
        so[i] = s if ok else np.nan
        co[i] = c if ok else np.nan
        bad += not ok
    if bad:
        for i in range(x.size):
            if so[i] != so[i]:
                so[i] = math.sin(x[i])
                co[i] = math.cos(x[i])


_kernel: Any = None  # _sincos1 compiled by Numba: set before the loops compile
_compiled: Dict[str, Any] = {}
_lock = threading.Lock()
_LOOPS = {"sin": _sin_loop, "cos": _cos_loop, "sincos": _sincos_loop}


@contextlib.contextmanager
def _eight_lanes(numba: Any) -> Iterator[None]:
    """LLVM vectorises these loops 4 doubles wide (ymm) even on AVX-512 CPUs:
    its cost model prefers 256-bit vectors there (512-bit ones lower the clock
    of some, such as Skylake-SP).  8 lanes (zmm) measured 1.5x faster here
    (3.4 -> 2.3 ns per element, 10**5 points, Emerald Rapids), so where Numba
    targets an AVX-512 host the loop vectoriser's factor is forced to 8 while
    these loops compile: a process-wide LLVM option, set and reset under
    Numba's compiler lock, so no other compilation sees it (LLVM ignores an
    option it does not know: were it renamed, LLVM would choose).  Elsewhere
    (or if that lock moves) LLVM chooses."""
    try:
        from llvmlite import binding
        from numba.core.compiler_lock import global_compiler_lock
    except ImportError:
        global_compiler_lock = None
    if (global_compiler_lock is None or numba.config.CPU_NAME is not None
            or not binding.get_host_cpu_features().get("avx512f")):
        yield
        return
    with global_compiler_lock:
        binding.set_option("", "-force-vector-width=8")
        try:
            yield
        finally:
            binding.set_option("", "-force-vector-width=0")  # 0: LLVM's own choice


def _loop(name: str) -> Callable:
    """The compiled loop `name`, compiled (or loaded from Numba's cache) once."""
    disp = _compiled.get(name)
    if disp is not None:
        return disp
    fused_jit.require()
    numba = fused_jit.numba
    global _kernel
    with _lock:
        if name not in _compiled:
            if _kernel is None:
                _kernel = numba.njit(error_model="numpy", inline="always")(_sincos1)
            # x (read only), then the output array(s) the caller passes
            sig = (numba.types.Array(numba.types.float64, 1, "C", readonly=True),) + (
                numba.types.Array(numba.types.float64, 1, "C"),) * (2 if name == "sincos" else 1)
            # numba's own cache (beside this file, or $NUMBA_CACHE_DIR), unless
            # the fused backend's cache is switched off (ZYGOTE_SYM_CACHE_DIR="")
            cache = fused_jit.cache_dir() is not None
            with _eight_lanes(numba):
                try:
                    disp = numba.njit(sig, error_model="numpy", nogil=True, cache=cache)(
                        _LOOPS[name])
                except Exception:  # noqa: BLE001 (no writable cache directory: compile in memory)
                    disp = numba.njit(sig, error_model="numpy", nogil=True)(_LOOPS[name])
            disp.disable_compile()
            _compiled[name] = disp
    return _compiled[name]


def prepare(names: Tuple[str, ...] = ("sin", "cos", "sincos")) -> None:
    """Compile (or load from Numba's cache) the loops of `names` now, so that
    no later call compiles: for a fused kernel's background compilation.
    Raises ImportError without Numba, ValueError for another name.

    >>> prepare(("sin",))
    """
    for name in names:
        if name not in _LOOPS:
            raise ValueError(f"vecmath.prepare: no loop {name!r}; the loops are {', '.join(_LOOPS)}")
        _loop(name)


def _flat(x: Any, fn: str) -> Any:
    a = np.asarray(x)
    if a.dtype != np.float64:
        raise TypeError(f"vecmath.{fn}: argument x has dtype {a.dtype}; it takes float64 "
                        f"(pass x.astype(np.float64), or call np.{fn} for other dtypes)")
    return a, np.ascontiguousarray(a).reshape(-1)


def _shaped(out: Any, a: Any) -> Any:
    return out.reshape(a.shape) if a.ndim else out[0]


def _out(out: Any, a: Any, fn: str) -> Any:
    """A new array for the result, or `out` (checked) as the loop writes it."""
    if out is None:
        return np.empty(a.size)
    if not (isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == a.shape
            and out.flags.c_contiguous and out.flags.writeable):
        raise ValueError(f"vecmath.{fn}: argument out must be a writable C-contiguous float64 "
                         f"array of x's shape {a.shape}; pass np.empty(x.shape) or None")
    return out.reshape(-1)


def sin(x: Any, out: Any = None) -> Any:
    """Sine of a float64 array (any shape; a new array of its shape, or a
    np.float64 for a 0-d input), at most 1 ulp from the correctly rounded
    value; NaN, +-inf and |x| > BOUND give np.sin's value exactly.  With
    `out` (a writable C-contiguous float64 array of x's shape, not
    overlapping x) the result is written there and `out` returned.

    Raises TypeError for another dtype, ValueError for a wrong `out`,
    ImportError without Numba.

    >>> sin(np.array([0.0, -0.0, 1.0, np.inf]))
    array([ 0.        , -0.        ,  0.84147098,         nan])
    """
    a, flat = _flat(x, "sin")
    o = _out(out, a, "sin")
    _loop("sin")(flat, o)
    return out if out is not None else _shaped(o, a)


def cos(x: Any, out: Any = None) -> Any:
    """Cosine of a float64 array, as `sin` (same shapes, `out`, errors, accuracy).

    >>> cos(np.array([0.0, 1.0, 1e300]))
    array([ 1.        ,  0.54030231, -0.57538611])
    """
    a, flat = _flat(x, "cos")
    o = _out(out, a, "cos")
    _loop("cos")(flat, o)
    return out if out is not None else _shaped(o, a)


def sincos(x: Any, out: Any = None) -> Tuple[Any, Any]:
    """(sin(x), cos(x)) from one range reduction, each as `sin` and `cos`
    give it (bit for bit), for about the time of one of them; `out`: None
    or a pair of arrays as `sin`'s `out` (written and returned).

    >>> s, c = sincos(np.linspace(0.0, 3.0, 4))
    >>> bool(np.all(np.abs(s**2 + c**2 - 1) < 1e-15))
    True
    """
    a, flat = _flat(x, "sincos")
    if out is not None:
        _loop("sincos")(flat, _out(out[0], a, "sincos"), _out(out[1], a, "sincos"))
        return out[0], out[1]
    s, c = np.empty(a.size), np.empty(a.size)
    _loop("sincos")(flat, s, c)
    return _shaped(s, a), _shaped(c, a)


# SymPy function -> array function, for kernels that compute it between loops
BETWEEN_LOOPS: Dict[Any, Callable[[Any], Any]] = {sp.sin: sin, sp.cos: cos}
