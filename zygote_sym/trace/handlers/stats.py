"""scipy.stats distributions written as NumPy code on tracers (LIBRARY,
keyed by (distribution, method name); SciPy's own methods convert their
inputs with np.asarray, so they run through trace/library.py's proxies).

A continuous distribution is its standardised log-density and cdf/sf on
z = (x - loc)/scale, with SciPy's signature: shape parameters, then loc and
scale, positional or by keyword.  Outside the support the log-density is
-inf and the cdf 0 or 1, as in SciPy (selects, so the branch not taken
stays finite).  Derivatives follow from the elementwise rules; shape
parameters of a cdf that scipy.special differentiates only in x (t's df,
chi2's df, gamma's a, beta's a and b) raise NoRuleError when traced.
"""
import numpy as np
import scipy.special as sc
import scipy.stats as st

from ..tracer import Tracer
from .linalg import solve_triangular

LOG_2PI = np.log(2 * np.pi)


def _t_cdf(z, df):
    tail = 0.5 * sc.betainc(df / 2, 0.5, df / (df + z * z))
    return np.where(z < 0, tail, 1 - tail)


# distribution -> (shape parameter names, support (lo, hi) of z or None,
# log-density, cdf, sf, {other method: function}): functions of the
# standardised z and the shape parameters
_CONTINUOUS = {
    st.norm: ((), None,
              lambda z: -0.5 * z * z - 0.5 * LOG_2PI,
              lambda z: sc.ndtr(z), lambda z: sc.ndtr(-z),
              {"logcdf": lambda z: sc.log_ndtr(z), "logsf": lambda z: sc.log_ndtr(-z),
               "ppf": lambda q: sc.ndtri(q), "isf": lambda q: -sc.ndtri(q)}),
    st.t: (("df",), None,
           lambda z, df: (sc.gammaln((df + 1) / 2) - sc.gammaln(df / 2) - 0.5 * np.log(df * np.pi)
                          - (df + 1) / 2 * np.log1p(z * z / df)),
           _t_cdf, lambda z, df: _t_cdf(-z, df), {}),
    st.chi2: (("df",), (0, None),
              lambda z, df: (sc.xlogy(df / 2 - 1, z) - z / 2 - df / 2 * np.log(2)
                             - sc.gammaln(df / 2)),
              lambda z, df: sc.gammainc(df / 2, z / 2),
              lambda z, df: sc.gammaincc(df / 2, z / 2), {}),
    st.gamma: (("a",), (0, None),
               lambda z, a: sc.xlogy(a - 1, z) - z - sc.gammaln(a),
               lambda z, a: sc.gammainc(a, z), lambda z, a: sc.gammaincc(a, z), {}),
    st.beta: (("a", "b"), (0, 1),
              lambda z, a, b: sc.xlogy(a - 1, z) + sc.xlog1py(b - 1, -z) - sc.betaln(a, b),
              lambda z, a, b: sc.betainc(a, b, z), lambda z, a, b: sc.betainc(b, a, 1 - z), {}),
}


def _bind(names, args, kwds, defaults):
    """SciPy's argument convention: names in order, positional or by keyword."""
    values = list(args) + [kwds.pop(n) if n in kwds else defaults[n]
                           for n in names[len(args):]]
    if kwds or len(values) != len(names):
        raise TypeError(f"unexpected arguments {sorted(kwds)} (takes {', '.join(names)})")
    return values


def _continuous(dist, method):
    shapes, support, logpdf, cdf, sf, extra = _CONTINUOUS[dist]
    names = shapes + ("loc", "scale")
    defaults = {"loc": 0.0, "scale": 1.0}

    def inside(z):
        lo, hi = support
        ok = z > lo
        return ok if hi is None else np.logical_and(ok, z < hi)

    def below(z):  # for the cdf outside the support: 0 below it, 1 above
        return z <= support[0]

    def run(x, *args, **kwds):
        *theta, loc, scale = _bind(names, args, dict(kwds), defaults)
        if method in ("ppf", "isf"):
            return loc + scale * extra[method](x, *theta)
        z = (x - loc) / scale
        if method in ("logpdf", "pdf"):
            out = logpdf(z, *theta) - np.log(scale)
            out = out if support is None else np.where(inside(z), out, -np.inf)
            return out if method == "logpdf" else np.exp(out)
        if method in extra:
            return extra[method](z, *theta)
        tail = (cdf if method in ("cdf", "logcdf") else sf)(z, *theta)
        if support is not None:
            lower, upper = (0.0, 1.0) if method in ("cdf", "logcdf") else (1.0, 0.0)
            outside = np.where(below(z), lower, upper)
            tail = np.where(inside(z), tail, outside)
        return np.log(tail) if method.startswith("log") else tail
    run.__name__ = method
    return run


def _poisson(method):
    def run(k, mu, loc=0):
        k = k - loc
        if method in ("logpmf", "pmf"):
            valid = np.logical_and(k >= 0, k == np.floor(k))
            out = np.where(valid, sc.xlogy(k, mu) - sc.gammaln(k + 1) - mu, -np.inf)
            return out if method == "logpmf" else np.exp(out)
        k = np.floor(k)
        if method in ("cdf", "logcdf"):
            out = np.where(k >= 0, sc.gammaincc(k + 1, mu), 0.0)
        else:
            out = np.where(k >= 0, sc.gammainc(k + 1, mu), 1.0)
        return np.log(out) if method.startswith("log") else out
    run.__name__ = method
    return run


def _quantiles(x, dim):
    """SciPy's multivariate quantile shapes: a scalar or vector becomes rows."""
    x = x[np.newaxis] if np.ndim(x) == 0 else x
    if np.ndim(x) == 1:
        x = x[:, np.newaxis] if dim == 1 else x[np.newaxis, :]
    return x


def _squeeze(out):
    out = np.squeeze(out)
    return out[()] if np.ndim(out) == 0 else out


def _mvn_parameters(mean, cov):
    """SciPy's readings of mean and cov: (dimension, mean vector, cov matrix)."""
    dim = np.shape(mean)[-1] if np.ndim(mean) else (np.shape(cov)[-1] if np.ndim(cov) else 1)
    mean = np.zeros(dim) if mean is None else mean + np.zeros(dim)
    cov = cov * np.eye(dim) if np.ndim(cov) == 0 else (
        cov[..., None] * np.eye(dim) if np.ndim(cov) == 1 else cov)
    return dim, mean, cov


def _mvn_factor(cov, allow_singular):
    """(rank, log pseudo-determinant, whiten) of Σ, whiten(dev) the rows z
    with |z|² the Mahalanobis terms.  Both read Σ's lower triangle, as SciPy.
    Regular: the Cholesky factor L (log|Σ| = 2 Σ log L_ii, z = L⁻¹ dev).
    allow_singular: SciPy's eigendecomposition, eigenvalues at most
    1e6·eps·max|w| dropped (which ones is index data of the trace)."""
    if not allow_singular:
        low = np.linalg.cholesky(cov)
        logdet = 2 * np.sum(np.log(np.diagonal(low, 0, -2, -1)), -1)
        return cov.shape[-1], logdet, lambda dev: solve_triangular(low, dev.T, lower=True).T
    w, v = np.linalg.eigh(cov)

    def nonzero(w):
        return w > 1e6 * np.finfo(float).eps * np.max(np.abs(w))
    kept = w._concrete_data("multivariate_normal's nonzero eigenvalues", nonzero) \
        if isinstance(w, Tracer) else nonzero(w)
    w, v = w[kept], v[:, kept]
    return int(kept.sum()), np.sum(np.log(w)), lambda dev: dev @ (v / np.sqrt(w))


def _mvn_logpdf(x, mean=None, cov=1, allow_singular=False):
    """-(rank log 2π + log|Σ| + (x-μ)ᵀ Σ⁻¹ (x-μ))/2."""
    dim, mean, cov = _mvn_parameters(mean, cov)
    rank, logdet, whiten = _mvn_factor(cov, allow_singular)
    z = whiten(_quantiles(x, dim) - mean)
    return _squeeze(-0.5 * (rank * LOG_2PI + logdet + np.sum(z * z, -1)))


def _mvn_entropy(mean=None, cov=1, allow_singular=False):
    dim, mean, cov = _mvn_parameters(mean, cov)
    rank, logdet, _ = _mvn_factor(cov, allow_singular)
    return 0.5 * (rank * (LOG_2PI + 1) + logdet)


def _dirichlet_logpdf(x, alpha):
    """sum((α-1) log x) - log B(α), x along the first axis (its last entry may
    be left out: 1 - the others' sum)."""
    if np.shape(x)[0] == np.shape(alpha)[0] - 1:
        x = np.concatenate([x, 1 - np.sum(x, 0, keepdims=True)], 0)
    log_b = np.sum(sc.gammaln(alpha)) - sc.gammaln(np.sum(alpha))
    weights = np.reshape(alpha - 1, np.shape(alpha) + (1,) * (np.ndim(x) - 1))
    return np.sum(sc.xlogy(weights, x), 0) - log_b


_MVN_FROZEN, _DIRICHLET_FROZEN = type(st.multivariate_normal()), type(st.dirichlet(np.ones(2)))
FROZEN = (_MVN_FROZEN, _DIRICHLET_FROZEN)  # the frozen types frozen_arguments reads


def frozen_arguments(rv):
    """(distribution, args, kwargs) of a frozen multivariate distribution, or None."""
    if isinstance(rv, _MVN_FROZEN):
        return rv._dist, (rv.mean, rv.cov), {"allow_singular": rv.allow_singular}
    if isinstance(rv, _DIRICHLET_FROZEN):
        return rv._dist, (rv.alpha,), {}
    return None


_METHODS = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")
LIBRARY = {
    **{(d, m): _continuous(d, m) for d in _CONTINUOUS
       for m in dict.fromkeys(_METHODS + tuple(_CONTINUOUS[d][5]))},
    **{(st.poisson, m): _poisson(m) for m in ("logpmf", "pmf", "cdf", "logcdf", "sf", "logsf")},
    (st.multivariate_normal, "logpdf"): _mvn_logpdf,
    (st.multivariate_normal, "pdf"): lambda *a, **k: np.exp(_mvn_logpdf(*a, **k)),
    (st.multivariate_normal, "entropy"): _mvn_entropy,
    (st.dirichlet, "logpdf"): _dirichlet_logpdf,
    (st.dirichlet, "pdf"): lambda x, alpha: np.exp(_dirichlet_logpdf(x, alpha)),
}
