"""Standard errors and covariance of a least-squares fit, as `curve_fit` gives them.

At a least-squares solution x̂ with residuals r (m entries) and residual
Jacobian J = ∂r/∂x (m × p), the Gauss-Newton approximation of the
parameters' covariance is

    cov = s² (JᵀJ)⁻¹,   s² = RSS / (m − p),   RSS = Σ rᵢ²,

the formula of `scipy.optimize.curve_fit`, lmfit, and the NIST StRD
certified standard deviations (the square roots of cov's diagonal).  With
measurement uncertainties σ the residuals and the Jacobian are first
*whitened* (rᵢ/σᵢ, Jᵢ/σᵢ; for a full covariance matrix Σ = L Lᵀ: L⁻¹r,
L⁻¹J), as `curve_fit(sigma=...)` does, and then

- `absolute_sigma=False` (the default): σ are relative weights only; s² is
  estimated from the scatter of the whitened residuals as above, so scaling
  every σ by a constant changes nothing;
- `absolute_sigma=True`: σ are the true standard deviations of the data, so
  cov = (JᵀJ)⁻¹ with no s² factor.

(JᵀJ)⁻¹ is computed as `curve_fit` does, from the SVD of J (never forming
JᵀJ, which would square J's condition number: Longley's J has condition
number 5·10⁹ in NIST's units).  Singular values below
`eps · max(m, p) · s_max` count as zero; when any does, the parameters are
not identifiable from the data, and cov is all inf with an OptimizeWarning
(curve_fit would return a pseudo-inverse with finite, meaningless entries).
"""
import warnings
from typing import Any, Callable

import numpy as np
from scipy.linalg import cholesky, solve_triangular
from scipy.optimize import OptimizeResult, OptimizeWarning

__all__ = ["whitener", "covariance", "FitResult", "fit_result"]


def whitener(sigma: Any, m: int) -> Callable[[np.ndarray], np.ndarray]:
    """`w(a)`: residuals (m,) or Jacobian rows (m, p) divided by their uncertainties.

    sigma: None (no weighting), a number or an array of shape (m,) (each
    residual's standard deviation, like `curve_fit`'s 1-D sigma), or an
    (m, m) covariance matrix of the residuals (`curve_fit`'s 2-D sigma;
    whitened by its Cholesky factor L: w(a) = L⁻¹ a).  Raises ValueError for
    another shape, a non-positive σ, or a covariance matrix that is not
    positive definite.

    >>> w = whitener(np.array([1.0, 2.0]), 2)
    >>> w(np.array([3.0, 3.0]))
    array([3. , 1.5])
    """
    if sigma is None:
        return lambda a: a
    s = np.asarray(sigma, dtype=float)
    if s.ndim == 0 or s.shape == (m,):
        if not np.all(s > 0) or not np.all(np.isfinite(s)):
            raise ValueError("sigma: every standard deviation must be positive and finite")
        s = np.broadcast_to(s, (m,))
        return lambda a: a / (s if a.ndim == 1 else s[:, None])
    if s.shape == (m, m):
        try:
            L = cholesky(s, lower=True)
        except np.linalg.LinAlgError:
            raise ValueError("sigma: an (m, m) sigma is the covariance matrix of the "
                             "residuals and must be symmetric positive definite") from None
        return lambda a: solve_triangular(L, a, lower=True)
    raise ValueError(f"sigma has shape {s.shape}; give a number, shape ({m},) (one standard "
                     f"deviation per residual) or ({m}, {m}) (their covariance matrix)")


def covariance(J: Any, r: Any, absolute_sigma: bool = False) -> np.ndarray:
    """The (p, p) covariance of the parameters from the (whitened) Jacobian and residuals.

    J: shape (m, p), ∂r/∂x at the solution; r: shape (m,), the residuals
    there (both already divided by sigma, see :func:`whitener`).  Returns
    s² (JᵀJ)⁻¹ with s² = Σr²/(m − p), or (JᵀJ)⁻¹ with `absolute_sigma=True`
    (module docstring).  All inf, with an OptimizeWarning naming the cause,
    when J has rank < p or (without absolute_sigma) when m ≤ p.

    >>> J = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])   # a line through 3 points
    >>> covariance(J, np.array([0.1, -0.2, 0.1]))
    array([[ 0.05, -0.03],
           [-0.03,  0.03]])
    """
    J = np.asarray(J, dtype=float)
    r = np.asarray(r, dtype=float).ravel()
    m, p = J.shape
    if r.shape != (m,):
        raise ValueError(f"covariance: J has {m} rows but r has {r.size} entries")
    if not (np.all(np.isfinite(J)) and np.all(np.isfinite(r))):
        raise ValueError("covariance: the Jacobian or the residuals at the solution are not "
                         "finite (inf/nan); the fit did not reach a usable solution")
    _, s, VT = np.linalg.svd(J, full_matrices=False)
    keep = s > np.finfo(float).eps * max(m, p) * (s[0] if s.size else 0.0)
    if keep.sum() < p:
        return _indeterminate(p, f"the Jacobian at the solution has rank {keep.sum()} < {p} "
                                 "parameters (some parameters, or combinations of them, do not "
                                 "change the residuals): fix or remove them")
    cov = (VT.T / s**2) @ VT
    if absolute_sigma:
        return cov
    if m <= p:
        return _indeterminate(p, f"{m} residuals for {p} parameters leave no degrees of "
                                 "freedom to estimate the scatter (s² = RSS/(m - p)); give "
                                 "sigma with absolute_sigma=True")
    return cov * (r @ r / (m - p))


def _indeterminate(p, cause):
    warnings.warn(f"Covariance of the parameters could not be estimated: {cause}; "
                  "cov and stderr are inf", OptimizeWarning, stacklevel=3)
    return np.full((p, p), np.inf)


class FitResult(OptimizeResult):
    """`scipy.optimize.least_squares`'s result plus the fit statistics.

    Attribute access like any `OptimizeResult`.  Beside least_squares' own
    fields (`x`, `cost`, `fun`, `jac`, `grad`, `optimality`, `active_mask`,
    `nfev`, `njev`, `status`, `message`, `success`; `fun` and `jac` are
    whitened by sigma when it was given):

    - `params`: the solution shaped like the starting parameters (pytree);
    - `stderr`: the parameters' standard errors, shaped like `params`;
    - `cov`: their (p, p) covariance, rows and columns in the order of `x`;
    - `corr`: the correlation matrix cov / (stderr stderr ᵀ);
    - `rss`: Σ r², the (whitened) residual sum of squares (lmfit's chisqr);
    - `dof`: m − p, the degrees of freedom;
    - `s_sq`: rss / dof, the residual variance (lmfit's redchi);
    - `absolute_sigma`: how `cov` was scaled (:mod:`zygote_sym.fitstats`).
    """


def fit_result(res: OptimizeResult, J: np.ndarray, r: np.ndarray, absolute_sigma: bool,
               unflatten: Callable[[np.ndarray], Any]) -> FitResult:
    """A :class:`FitResult` from least_squares' result and the whitened J, r at res.x
    (`unflatten` shapes x and the standard errors like the parameters)."""
    m, p = J.shape
    cov = covariance(J, r, absolute_sigma)
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    rss = float(r @ r)
    out = FitResult(res)
    out.update(params=unflatten(res.x), stderr=unflatten(sd), cov=cov, corr=corr,
               rss=rss, dof=m - p, s_sq=rss / (m - p) if m > p else np.inf,
               absolute_sigma=absolute_sigma)
    return out
