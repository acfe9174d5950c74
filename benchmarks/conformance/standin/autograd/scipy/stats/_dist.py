"""autograd.scipy.stats.<dist> are modules of functions; SciPy has
distribution objects.  export() copies the object's methods into a module."""
import scipy.stats as _st

_METHODS = ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf", "pmf", "logpmf", "ppf", "isf",
            "rvs", "entropy", "mean", "var", "std")


def export(namespace, dist_name):
    dist = getattr(_st, dist_name)
    for m in _METHODS:
        if hasattr(dist, m):
            namespace[m] = getattr(dist, m)
