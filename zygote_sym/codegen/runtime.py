"""The namespace generated kernels run in: modules, and helpers whose names
start with `_` (so they never shadow a user's argument name).

The stable scalar forms of ir/special.py's functions are here; NumPy's own
(`np.logaddexp`, `sc.expit`) serve arrays where they exist.

BLAS threads (`one_blas_thread`, `_dot1`, `_matmul1`): a kernel's small BLAS
calls run on ONE thread.  OpenBLAS splits a call of more than ~10^4
multiply-adds between its threads, and the call returns only when every
share is done; when another process holds a core, the worker's share waits
for that core's scheduler time slice (milliseconds), so a 15 µs dot product
of 10^5 elements took milliseconds and a gradient made of a few of them
slowed down 31x (measured on 2 cores: 383 µs with OPENBLAS_NUM_THREADS=1
against 11,880 µs with the default two threads and one competing process).
One thread costs a small call at most 2x on an idle machine (np.dot of 10^5:
14 µs on two threads, 28 µs on one) and never waits for another core, so
calls below `BLAS_THREADS_FROM` multiply-adds (several milliseconds of one
thread's work, more than a time slice) run single-threaded; larger ones keep
the user's BLAS threads.  Shapes are static, so the printer decides
(`one_blas_thread`) and prints `_matmul1(a, b)` or plain `a @ b`.  The limit
is set around the call only (threadpoolctl finds the BLAS libraries NumPy
loaded, once) and restored at once: another thread's BLAS call at that
moment may run on one thread, never wrongly.  Without threadpoolctl the
calls go to BLAS unchanged.
"""
import logging
import math
import threading
from fractions import Fraction

import numpy as np
import scipy.linalg as sl
import scipy.special as sc

from ..ir import numpy_ops

LN2 = math.log(2.0)

log = logging.getLogger("zygote_sym.compile")

# Multiply-adds from which a BLAS call in a kernel keeps BLAS's threads; below
# OPENBLAS_SERIAL OpenBLAS itself stays on one thread (nothing to limit).
BLAS_THREADS_FROM = 1 << 24
OPENBLAS_SERIAL = 8192


def _sign(x):
    return float((x > 0) - (x < 0))


def _exp2(x):
    return 2.0 ** x


def _softplus(x):
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def _np_softplus(x):
    # max(x, 0) + log1p(exp(-|x|)): stable, and 3x faster than np.logaddexp(0, x)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _logaddexp(a, b):
    if a == b:  # also both inf: inf - inf would be nan
        return a + LN2
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _strong_mul(a, b):
    return 0.0 if a == 0 or b == 0 else a * b


def _np_strong_mul(a, b, hit):
    if not hit:
        return np.multiply(a, b)
    with np.errstate(invalid="ignore"):
        return np.where((np.asarray(a) == 0) | (np.asarray(b) == 0), 0.0, np.multiply(a, b))


def _nonfinite(x):
    return not np.isfinite(np.sum(x))  # one pass (a false alarm on overflow is harmless)


class _BlasThreads:
    """The BLAS libraries' thread counts (threadpoolctl's controllers of the
    libraries loaded when first asked), and a call run on one thread."""

    def __init__(self):
        self.libs, self.lock = None, threading.Lock()

    def controllers(self):
        if self.libs is None:
            with self.lock:
                if self.libs is None:
                    try:  # optional (lazily): without it BLAS keeps its threads
                        from threadpoolctl import ThreadpoolController
                        libs = ThreadpoolController().select(user_api="blas").lib_controllers
                    except Exception as e:  # noqa: BLE001 (not installed, or cannot inspect)
                        log.debug("BLAS threads not limited in kernels (%s: %s)",
                                  type(e).__name__, e)
                        libs = []
                    self.libs = [(c.get_num_threads, c.set_num_threads) for c in libs]
        return self.libs

    def serial(self, fn, a, b):
        """fn(a, b) with every BLAS library on one thread, then restored.
        Concurrent callers that find the count already at 1 leave it alone,
        so the last restore puts back the count seen before any of them."""
        saved = [(get(), put) for get, put in self.controllers()]
        for n, put in saved:
            if n > 1:
                put(1)
        try:
            return fn(a, b)
        finally:
            for n, put in saved:
                if n > 1:
                    put(n)


_blas = _BlasThreads()


def one_blas_thread(shape_a: tuple, shape_b: tuple) -> bool:
    """Should `a @ b` (a dot product when both are vectors) of these shapes
    run on one BLAS thread in a kernel (module docstring)?  Its multiply-adds
    are the operands' sizes over the contracted length (an overestimate for
    stacks of matrices).

    >>> one_blas_thread((10_000, 100), (100,)), one_blas_thread((3, 3), (3,))
    (True, False)
    """
    k = shape_a[-1] if shape_a else 0
    madds = math.prod(shape_a) * math.prod(shape_b) // k if k else 0
    return OPENBLAS_SERIAL < madds < BLAS_THREADS_FROM


def _matmul1(a, b):
    """a @ b on one BLAS thread."""
    return _blas.serial(np.matmul, a, b)


def _dot1(a, b):
    """The sum of the elementwise product of a and b (any shapes of one
    size): one BLAS dot product on one thread."""
    return _blas.serial(np.dot, np.ravel(a), np.ravel(b))


NAMESPACE = {
    "math": math, "np": np, "sc": sc, "sl": sl, "Fraction": Fraction,
    "_sign": _sign, "_exp2": _exp2, "_softplus": _softplus, "_np_softplus": _np_softplus,
    "_sigmoid": _sigmoid, "_logaddexp": _logaddexp, "_strong_mul": _strong_mul,
    "_np_strong_mul": _np_strong_mul, "_nonfinite": _nonfinite,
    "_sum_to": numpy_ops.sum_to, "_scatter": numpy_ops.scatter, "_place": numpy_ops.place,
    "_setitem": numpy_ops.setitem, "_shift": numpy_ops.shift, "_linrec": numpy_ops.linrec,
    "_norm": numpy_ops.norm, "_dot1": _dot1, "_matmul1": _matmul1,
}


class PerThread(threading.local):
    """`.state`: one kernel's work state for the calling thread (its buffers
    and numexpr objects), a tuple of `make()` for each maker, made the first
    time a thread reads it (threading.local runs __init__ once per thread).
    So one kernel runs in any number of threads at once, each on its own
    buffers, at the cost of one attribute read per call."""

    def __init__(self, makers):
        self.state = tuple(make() for make in makers)
