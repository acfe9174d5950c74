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
thread's work, more than a time slice) run single-threaded; larger ones run
on as many threads as the other processes leave cores free (at least one:
B7's products of 2*10^7 multiply-adds slowed down 3.8x beside a competing
process with both threads, where JAX slowed down 1.4x).  Shapes are static,
so the printer decides (`one_blas_thread`) and prints `_matmul1(a, b)` or
plain `a @ b`.  The limit
is set around the call only (threadpoolctl finds the BLAS libraries NumPy
loaded, once) and restored at once: another thread's BLAS call at that
moment may run on one thread, never wrongly.  Without threadpoolctl the
calls go to BLAS unchanged.

On an idle machine one thread costs a matrix-vector product its second core
(10^4 x 100: 131 µs threaded, 393 µs on one thread), so the limit applies only
while other processes use the CPU (`Crowd`: /proc/stat's busy time less this
process's own CPU time, sampled at most every CROWD_EVERY seconds; where
/proc/stat is missing, always).
"""
import logging
import math
import os
import threading
import time
from fractions import Fraction

import numpy as np
import scipy.linalg as sl
import scipy.special as sc

from ..ir import numpy_ops

LN2 = math.log(2.0)

log = logging.getLogger("zygote_sym.compile")

# Multiply-adds from which a BLAS call in a kernel runs on the cores other processes
# leave free (below: one thread, while they use the CPU); below
# OPENBLAS_SERIAL OpenBLAS itself stays on one thread (nothing to limit).
BLAS_THREADS_FROM = 1 << 24
OPENBLAS_SERIAL = 8192
CROWD_EVERY = 0.2   # seconds between two readings of the machine's load
CROWD_CORES = 0.3   # other processes' CPU use (in cores) from which BLAS goes serial


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


class Crowd:
    """Are other processes using the CPU now?  The busy share of the machine
    over the last window, from /proc/stat, less this process's own CPU time
    (os.times: its BLAS and numexpr threads included).  Until two readings
    exist, or without /proc/stat, the answer is yes (one thread is the safe
    side: it never waits for another process's core)."""

    def __init__(self, stat="/proc/stat"):
        self.stat, self.lock = stat, threading.Lock()
        self.last, self.crowded, self.others = None, True, math.inf
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.clock, self.own = time.monotonic, os.times  # (a test may set its own)

    def _reading(self):
        with open(self.stat) as f:
            cpu = [int(v) for v in f.readline().split()[1:]]
        idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0)  # idle + iowait
        t = self.own()
        return self.clock(), (sum(cpu) - idle) / self.tick, t.user + t.system

    def __call__(self):
        last = self.last
        if last is not None and self.clock() - last[0] < CROWD_EVERY:
            return self.crowded
        if not self.lock.acquire(blocking=False):
            return self.crowded  # another thread is reading
        try:
            now = self._reading()
            if last is not None:
                wall = now[0] - last[0]
                others = ((now[1] - last[1]) - (now[2] - last[2])) / wall
                self.crowded, self.others = others > CROWD_CORES, others
            self.last = now
        except (OSError, ValueError, IndexError):
            self.last, self.crowded, self.others = (self.clock(), 0.0, 0.0), True, math.inf
        finally:
            self.lock.release()
        return self.crowded


def _numpys(libs):
    """Of threadpoolctl's BLAS controllers, those of the library NumPy's own
    `np.dot`/`np.matmul` call (the wheels bundle it in numpy.libs; SciPy's
    is another, and limiting it too would double the cost of every limit:
    two ctypes calls a library, about a microsecond each); all of them when
    none can be told apart (one shared library: MKL, a system OpenBLAS).

    >>> from types import SimpleNamespace as Lib
    >>> at = os.path.dirname(np.__file__)
    >>> libs = [Lib(filepath="/scipy.libs/openblas.so"), Lib(filepath=at + ".libs/openblas.so")]
    >>> _numpys(libs) == libs[1:], _numpys(libs[:1]) == libs[:1]
    (True, True)
    """
    here = os.path.dirname(os.path.abspath(np.__file__))
    own = [c for c in libs if os.path.abspath(c.filepath).startswith((here + os.sep,
                                                                     here + ".libs" + os.sep))]
    return own or libs


class _BlasThreads:
    """The thread counts of the BLAS library NumPy calls (threadpoolctl's
    controllers, found when first asked), and a call run on one thread."""

    def __init__(self):
        self.libs, self.lock, self.crowd = None, threading.Lock(), Crowd()

    def controllers(self):
        if self.libs is None:
            with self.lock:
                if self.libs is None:
                    try:  # optional (lazily): without it BLAS keeps its threads
                        from threadpoolctl import ThreadpoolController
                        libs = _numpys(
                            ThreadpoolController().select(user_api="blas").lib_controllers)
                    except Exception as e:  # noqa: BLE001 (not installed, or cannot inspect)
                        log.debug("BLAS threads not limited in kernels (%s: %s)",
                                  type(e).__name__, e)
                        libs = []
                    self.libs = [(c.get_num_threads, c.set_num_threads) for c in libs]
        return self.libs

    def limited(self, fn, a, b, large=False):
        """fn(a, b) with every BLAS library on one thread (`large`: on the
        cores other processes leave free, at least one), then restored.
        Concurrent callers that find the count already at the limit leave it
        alone, so the last restore puts back the count seen before any of
        them.  On an idle machine (`Crowd`) BLAS keeps its threads."""
        if not self.crowd():
            return fn(a, b)
        others = self.crowd.others  # (inf until two readings exist: one thread)
        limit = max(1, int(_CORES - others + 0.5)) if large and others < _CORES else 1
        saved = [(get(), put) for get, put in self.controllers()]
        for n, put in saved:
            if n > limit:
                put(limit)
        try:
            return fn(a, b)
        finally:
            for n, put in saved:
                if n > limit:
                    put(n)


_blas = _BlasThreads()
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _madds(shape_a, shape_b):
    """Multiply-adds of `a @ b`: the operands' sizes over the contracted
    length (an overestimate for stacks of matrices)."""
    k = shape_a[-1] if shape_a else 0
    return math.prod(shape_a) * math.prod(shape_b) // k if k else 0


def one_blas_thread(shape_a: tuple, shape_b: tuple) -> bool:
    """Should `a @ b` (a dot product when both are vectors) of these shapes
    run with BLAS's threads limited in a kernel while other processes use
    the CPU (module docstring)?  Every call OpenBLAS would split.

    >>> one_blas_thread((10_000, 100), (100,)), one_blas_thread((3, 3), (3,))
    (True, False)
    >>> one_blas_thread((10_000, 64), (64, 2_000))  # large: on the cores left free
    True
    """
    return _madds(shape_a, shape_b) > OPENBLAS_SERIAL


def _matmul1(a, b):
    """a @ b on one BLAS thread (a large product: on the free cores)."""
    return _blas.limited(np.matmul, a, b, _madds(a.shape, b.shape) >= BLAS_THREADS_FROM)


def _dot1(a, b):
    """The sum of the elementwise product of a and b (any shapes of one
    size): one BLAS dot product on one thread."""
    return _blas.limited(np.dot, np.ravel(a), np.ravel(b))


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
