"""scipy.optimize's test functions, traced (LIBRARY: SciPy converts their
input with its array namespace, so they run through trace/library.py's
proxies): `rosen` and `rosen_der`, written with the formulas of SciPy's own
source (scipy/optimize/_optimize.py), so `zs.gradient(scipy.optimize.rosen, x)`
and a Hessian from `rosen_der` work as SciPy's documentation uses them.
"""
import numpy as np
import scipy.optimize


def rosen(x):
    """sum(100 (x[1:] - x[:-1]²)² + (1 - x[:-1])²) over axis 0, as SciPy."""
    x = x * 1.0  # (SciPy promotes to floating)
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0, axis=0)


def rosen_der(x):
    """SciPy's closed-form gradient of `rosen`: the interior, then the two ends."""
    x = x * 1.0
    xm, xm_m1, xm_p1 = x[1:-1], x[:-2], x[2:]
    inner = 200 * (xm - xm_m1 ** 2) - 400 * (xm_p1 - xm ** 2) * xm - 2 * (1 - xm)
    first = -400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0])
    last = 200 * (x[-1] - x[-2] ** 2)
    return np.concatenate([np.reshape(first, (1,)), inner, np.reshape(last, (1,))])


LIBRARY = {scipy.optimize.rosen: rosen, scipy.optimize.rosen_der: rosen_der}
