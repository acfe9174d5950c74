"""The namespace generated kernels run in: modules, and helpers whose names
start with `_` (so they never shadow a user's argument name).

The stable scalar forms of ir/special.py's functions are here; NumPy's own
(`np.logaddexp`, `sc.expit`) serve arrays where they exist.
"""
import math
import threading
from fractions import Fraction

import numpy as np
import scipy.linalg as sl
import scipy.special as sc

from ..ir import numpy_ops

LN2 = math.log(2.0)


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


NAMESPACE = {
    "math": math, "np": np, "sc": sc, "sl": sl, "Fraction": Fraction,
    "_sign": _sign, "_exp2": _exp2, "_softplus": _softplus, "_np_softplus": _np_softplus,
    "_sigmoid": _sigmoid, "_logaddexp": _logaddexp, "_strong_mul": _strong_mul,
    "_np_strong_mul": _np_strong_mul, "_nonfinite": _nonfinite,
    "_sum_to": numpy_ops.sum_to, "_scatter": numpy_ops.scatter, "_place": numpy_ops.place,
    "_setitem": numpy_ops.setitem, "_shift": numpy_ops.shift, "_linrec": numpy_ops.linrec,
    "_norm": numpy_ops.norm,
}


class PerThread(threading.local):
    """`.state`: one kernel's work state for the calling thread (its buffers
    and numexpr objects), a tuple of `make()` for each maker, made the first
    time a thread reads it (threading.local runs __init__ once per thread).
    So one kernel runs in any number of threads at once, each on its own
    buffers, at the cost of one attribute read per call."""

    def __init__(self, makers):
        self.state = tuple(make() for make in makers)
