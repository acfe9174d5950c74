"""SciPy on structured parameters: one flat float64 vector in, compiled derivatives out.

`scipy.optimize` works on a single 1-D float64 vector; models are easier to
write with structured parameters (a dict of arrays, a dataclass, a tuple of
a matrix and a float).  These helpers flatten any pytree of parameters (see
:mod:`zygote_sym.pytree`) into that vector and back, and differentiate
through a :func:`zygote_sym.compile`'d function, so SciPy's iterations run
the cached generated kernel instead of tracing again:

- :func:`objective` -> `(fun, x0, unflatten)` for
  `scipy.optimize.minimize(fun, x0, jac=True)`; `fun(x) -> (value, gradient)`;
  with `hess=True` / `hessp=True` also a compiled Hessian / Hessian-vector
  product for SciPy's second-order methods (`trust-exact`, `trust-ncg`,
  `trust-krylov`, `Newton-CG`, `dogleg`, `trust-constr`).
- :func:`minimize` -> `scipy.optimize.minimize` in one call, handing each
  method the derivatives it uses; the result has `.params` (a pytree).
- :func:`residuals` -> `(fun, jac, x0, unflatten)` for
  `scipy.optimize.least_squares(fun, x0, jac=jac)`; `jac(x)` is the residual
  Jacobian from `compile(...).jacobian`.
- :func:`fit` -> `least_squares` with that Jacobian, plus the parameters'
  standard errors and covariance as `curve_fit` computes them
  (:mod:`zygote_sym.fitstats`).
- :func:`ravel` -> `(x0, unflatten)`: the flattening alone.

The flat vector holds the numeric leaves in the order of
:func:`zygote_sym.pytree.flatten` (dicts in insertion order, dataclass fields
in declaration order, ...), each array raveled in C order.  `unflatten(x)`
rebuilds the pytree: arrays get their shapes back (as float64 copies),
number leaves become Python floats, static leaves (strings, None, bools) are
kept as they were.  Extra positional `data` arguments are passed to the
function unchanged and are not differentiated (they are fixed for the
lifetime of the returned callables).
"""
import warnings
from numbers import Number
from typing import Any, Callable, Union

import numpy as np
import scipy.optimize

from .compiled import Compiled, compile
from .fitstats import FitResult, fit_result, whitener
from .flatparams import Layout

__all__ = ["ravel", "objective", "minimize", "residuals", "fit"]


def _attach(fn, compiled):
    """fn.compiled = compiled: the Compiled object behind a SciPy callable
    (its .source, .stages(), .guards)."""
    setattr(fn, "compiled", compiled)


def _plain(f):
    return f.f if isinstance(f, Compiled) else f


def ravel(params: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """`(x0, unflatten)`: the numeric leaves of a parameter pytree as one vector.

    x0 is a float64 array of shape (n,), n the total number of numeric
    elements, in the order of :func:`zygote_sym.pytree.flatten`'s leaves.
    `unflatten(x)` takes any vector of shape (n,) and returns a pytree like
    params (arrays reshaped, float64 copies; number leaves as Python floats;
    static leaves kept), raising ValueError for a vector of another shape.

    A complex leaf contributes its real parts, then its imaginary parts (two
    real leaves), so SciPy optimizes over both; the gradient handed to SciPy
    is then `(df/dRe, df/dIm)`, Zygote's complex convention split in two.

    Raises ValueError when params has no numeric leaf, TypeError for SymPy
    leaves, or for a type pytree cannot flatten.

    >>> import numpy as np
    >>> x0, unflatten = ravel({'w': np.array([[1, 2], [3, 4]]), 'b': 0.5, 'name': 'lin'})
    >>> x0
    array([1. , 2. , 3. , 4. , 0.5])
    >>> unflatten(2 * x0)
    {'w': array([[2., 4.],
           [6., 8.]]), 'b': 1.0, 'name': 'lin'}
    """
    layout = Layout(params)
    return layout.x0.copy(), layout.unflatten


def objective(loss: Callable[..., Any], params: Any, *data: Any, hess: bool = False,
              hessp: bool = False) -> tuple:
    """`(fun, x0, unflatten)` for `scipy.optimize.minimize(fun, x0, jac=True)`;
    with `hess=True` `(fun, hess, x0, unflatten)`, with `hessp=True`
    `(fun, hessp, x0, unflatten)`, with both `(fun, hess, hessp, x0, unflatten)`.

    loss(params, *data) must return a scalar; params is any pytree of numbers
    and numeric arrays (see :func:`ravel` for x0 and unflatten).  `fun(x)`,
    x of shape (n,), returns `(value, gradient)`: a float and a float64 array
    of shape (n,) (zeros for leaves the loss does not depend on).  The
    gradient comes from `zygote_sym.compile(loss)` specialized to these
    parameter shapes: the first call traces and generates the kernel, later
    calls only run it (a branch that flips retraces, see
    :func:`zygote_sym.compile`).  `fun.compiled` is that Compiled object
    (e.g. `fun.compiled.source`).  loss may itself be a Compiled function.

    Second derivatives for SciPy's Newton and trust-region methods, each its
    own kernel, traced on its first call and reused after:

    - `hess(x)` -> float64 array (n, n), ∂²loss/∂x∂x: the `.jacobian` of the
      compiled gradient (one reverse sweep per row of the Hessian), for
      `trust-exact`, `dogleg`, `Newton-CG`, `trust-ncg`, `trust-krylov`;
    - `hessp(x, p)` -> float64 array (n,), the Hessian-vector product H·p:
      the gradient of `<∇loss(x), p>` with respect to x (reverse over
      reverse; it never forms H, so it suits large n), for `Newton-CG`,
      `trust-ncg`, `trust-krylov`, `trust-constr`.

    `hess.compiled` / `hessp.compiled` are their Compiled objects.  Complex
    leaves are optimized as their real and imaginary parts (:func:`ravel`);
    hess and hessp are then the second derivatives in those real parts.

    data are passed to loss as they are and not differentiated; they must
    not change (rebinding or mutating them after this call is not seen by
    the cached kernels).  Raises NonScalarOutputError (on the first call of
    fun, hess or hessp) if loss does not return a scalar; see :func:`ravel`
    for params errors.

    >>> import numpy as np, scipy.optimize
    >>> def loss(p, target):
    ...     return np.sum((p['w'] - target)**2) + (p['s'] - 1.5)**2 * p['s']**2
    >>> fun, x0, unflatten = objective(loss, {'w': np.zeros(2), 's': 1.0},
    ...                                np.array([1.0, -2.0]))
    >>> fun(x0)
    (5.25, array([-2. ,  4. , -0.5]))
    >>> res = scipy.optimize.minimize(fun, x0, jac=True, method='BFGS')
    >>> p = unflatten(res.x)
    >>> np.round(p['w'], 6), round(p['s'], 6)
    (array([ 1., -2.]), 1.5)

    Second order, from SciPy's own Rosenbrock start:

    >>> def rosen(x):
    ...     return np.sum(100.0 * (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)
    >>> fun, hess, hessp, x0, _ = objective(rosen, np.array([1.3, 0.7, 0.8, 1.9, 1.2]),
    ...                                     hess=True, hessp=True)
    >>> hess(np.ones(5))[:2, :3]
    array([[ 802., -400.,    0.],
           [-400., 1002., -400.]])
    >>> hessp(np.ones(5), np.ones(5))
    array([ 402.,  202.,  202.,  202., -200.])
    >>> res = scipy.optimize.minimize(fun, x0, jac=True, hessp=hessp, method='trust-ncg',
    ...                               options={'gtol': 1e-10})
    >>> bool(np.abs(res.x - 1).max() < 1e-8)
    True
    """
    layout = Layout(params)
    on_leaves = layout.on_leaves(_plain(loss), data)
    compiled = compile(on_leaves)

    def fun(x):
        val, grads = compiled.withgradient(*layout.split(layout.check(x)))
        return float(val), layout.join(grads)
    _attach(fun, compiled)
    out: list = [fun]
    if hess:
        hess_compiled = compile(layout.flat_gradient(on_leaves))

        def hess_fn(x):
            return layout.join(hess_compiled.jacobian(*layout.split(layout.check(x))),
                               layout.size)
        _attach(hess_fn, hess_compiled)
        out.append(hess_fn)
    if hessp:
        k = len(layout.names)
        hvp_compiled = compile(layout.gradient_dot(on_leaves), wrt=tuple(range(k)))

        def hessp_fn(x, p):
            leaves, v = layout.split(layout.check(x)), layout.split(layout.check(p))
            return layout.join(hvp_compiled.gradient(*leaves, *v)[:k])
        _attach(hessp_fn, hvp_compiled)
        out.append(hessp_fn)
    return (*out, layout.x0.copy(), layout.unflatten)


# SciPy's methods that use second derivatives, and the one each is handed:
# the product where the method accepts it (no n x n matrix), else the matrix.
_SECOND_ORDER = {"newton-cg": "hessp", "trust-ncg": "hessp", "trust-krylov": "hessp",
                 "trust-constr": "hessp", "trust-exact": "hess", "dogleg": "hess"}


def minimize(loss: Callable[..., Any], params: Any, *data: Any,
             method: Union[str, Callable[..., Any], None] = None,
             **kwargs: Any) -> scipy.optimize.OptimizeResult:
    """`scipy.optimize.minimize` of loss(params, *data) over a pytree of parameters.

    The gradient, and for the second-order methods the Hessian-vector
    product (`Newton-CG`, `trust-ncg`, `trust-krylov`, `trust-constr`) or the
    Hessian (`trust-exact`, `dogleg`), come from the compiled kernels of
    :func:`objective`.  method None lets SciPy choose (BFGS, or L-BFGS-B /
    SLSQP with bounds / constraints).  Keyword arguments (tol, bounds,
    constraints, options, callback, or a `hess`/`hessp` of your own) go to
    SciPy unchanged.  Returns SciPy's OptimizeResult (`x`: the flat solution,
    shape (n,)) with one more field, `params`: the solution shaped like
    params.  Raises what :func:`objective` and SciPy raise.

    >>> import numpy as np
    >>> def rosen(x):
    ...     return np.sum(100.0 * (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)
    >>> res = minimize(rosen, np.array([-1.2, 1.0]), method='trust-exact')
    >>> res.success, bool(np.allclose(res.params, 1.0, atol=1e-8))
    (True, True)
    """
    second = _SECOND_ORDER.get(method.lower()) if isinstance(method, str) else None
    if "hess" in kwargs or "hessp" in kwargs:  # the user's own second derivatives
        second = None
    *funs, x0, unflatten = objective(loss, params, *data, **({second: True} if second else {}))
    if second:
        kwargs[second] = funs[1]
    res = scipy.optimize.minimize(funs[0], x0, jac=True, method=method, **kwargs)
    res.params = unflatten(res.x)
    return res


def residuals(res_fn: Callable[..., Any], params: Any, *data: Any) -> tuple:
    """`(fun, jac, x0, unflatten)` for `scipy.optimize.least_squares(fun, x0, jac=jac)`.

    res_fn(params, *data) returns the residuals: one NumPy array (any shape;
    it is raveled to m entries) or a number (m = 1).  params is any pytree of
    numbers and numeric arrays (see :func:`ravel` for x0 and unflatten).

    - `fun(x)` -> float64 array of shape (m,): res_fn evaluated with NumPy.
    - `jac(x)` -> float64 array of shape (m, n): d residuals / d x, from
      `zygote_sym.compile(res_fn).jacobian` (a cached kernel, one reverse
      sweep per residual); columns of leaves the residuals do not depend on
      are zero.  `jac.compiled` is the Compiled object.

    data are passed to res_fn as they are and not differentiated; they must
    not change after this call.  Raises TypeError if res_fn returns a
    container instead of one array (concatenate the parts).

    >>> import numpy as np, scipy.optimize
    >>> t = np.linspace(0.0, 2.0, 9); y = 3.0 * np.exp(-0.7 * t)
    >>> def res(p, t, y):
    ...     return p['a'] * np.exp(-p['k'] * t) - y
    >>> fun, jac, x0, unflatten = residuals(res, {'a': 1.0, 'k': 0.1}, t, y)
    >>> fun(x0).shape, jac(x0).shape
    ((9,), (9, 2))
    >>> fit = scipy.optimize.least_squares(fun, x0, jac=jac)
    >>> {k: round(v, 8) for k, v in unflatten(fit.x).items()}
    {'a': 3.0, 'k': 0.7}
    """
    layout = Layout(params)
    f = _plain(res_fn)
    compiled = compile(layout.on_leaves(f, data))

    def fun(x):
        r = f(layout.unflatten(x), *data)
        if not isinstance(r, (np.ndarray, Number)):
            raise TypeError(f"residuals: res_fn returned {type(r).__name__}; return one "
                            "NumPy array (np.concatenate the parts of a container)")
        return np.asarray(r, dtype=float).ravel()

    def jac(x):
        leaves = layout.split(layout.check(x))
        blocks = compiled.jacobian(*leaves)
        for b, leaf in zip(blocks, leaves):
            if b is not None and np.size(leaf):
                rows = np.size(b) // np.size(leaf)
                break
        else:  # no residual depends on the parameters
            rows = np.size(fun(x))
        return layout.join(blocks, rows)
    _attach(jac, compiled)
    return fun, jac, layout.x0.copy(), layout.unflatten


def fit(res_fn: Callable[..., Any], params: Any, *data: Any, sigma: Any = None,
        absolute_sigma: bool = False, **least_squares_kwargs: Any) -> FitResult:
    """Least-squares fit of res_fn(params, *data) with standard errors and covariance.

    `scipy.optimize.least_squares` on the residuals and their compiled
    Jacobian (:func:`residuals`), then, at the solution, the covariance of
    the parameters as `scipy.optimize.curve_fit` computes it:
    cov = s² (JᵀJ)⁻¹ with s² = RSS / (m − p) (m residuals, p parameters),
    through the SVD of J (:mod:`zygote_sym.fitstats`).  These are the
    standard deviations NIST certifies for its StRD problems.

    res_fn returns the residuals `model(params, ...) - y` (one array, any
    shape, raveled to m entries).  sigma: None, a number, an array of m
    standard deviations, or an (m, m) covariance matrix of the residuals;
    the fit minimizes the whitened residuals (r/σ), as `curve_fit(sigma=...)`.
    `absolute_sigma=False` (default): σ are relative weights and cov is
    scaled by s² of the whitened residuals; `True`: σ are the data's true
    standard deviations and cov = (JᵀJ)⁻¹ unscaled.  Other keywords (method,
    bounds, x_scale, xtol, ftol, gtol, max_nfev, ...) go to least_squares.

    Returns a :class:`zygote_sym.fitstats.FitResult` (an OptimizeResult):
    `x` (flat, shape (p,)), `params` (shaped like params), `stderr` (shaped
    like params), `cov` and `corr` ((p, p), in the order of x), `rss`,
    `dof`, `s_sq`, and least_squares' fields.  Warns (OptimizeWarning) when
    least_squares did not converge, when a parameter ends on a bound (the
    covariance then ignores the bound), and, with cov all inf, when J has
    rank < p or m ≤ p.  Raises ValueError for a robust `loss` (the formula
    assumes plain squares) or a sigma of the wrong shape.

    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 2.0, 3.0]); y = np.array([1.1, 2.9, 5.2, 6.8])
    >>> res = fit(lambda p, x, y: p['a'] + p['b'] * x - y, {'a': 0.0, 'b': 1.0}, x, y)
    >>> {k: round(v, 6) for k, v in res.params.items()}
    {'a': 1.09, 'b': 1.94}
    >>> {k: round(v, 6) for k, v in res.stderr.items()}
    {'a': 0.169411, 'b': 0.090554}
    >>> res.cov.round(6)        # s² = RSS/(4 - 2) = 0.041; var(b) = s²/Σ(x - x̄)² = 0.041/5
    array([[ 0.0287, -0.0123],
           [-0.0123,  0.0082]])

    The same numbers as `scipy.optimize.curve_fit`:

    >>> from scipy.optimize import curve_fit
    >>> popt, pcov = curve_fit(lambda x, a, b: a + b * x, x, y)
    >>> bool(np.allclose(pcov, res.cov)), bool(np.allclose(popt, res.x))
    (True, True)
    """
    if least_squares_kwargs.get("loss", "linear") != "linear":
        raise ValueError(f"fit: loss={least_squares_kwargs['loss']!r}: the covariance "
                         "s²(JᵀJ)⁻¹ holds for plain squares (loss='linear') only; for a robust "
                         "loss call least_squares with the fun and jac of residuals()")
    fun, jac, x0, unflatten = residuals(res_fn, params, *data)
    white = whitener(sigma, fun(x0).size)
    with np.errstate(over="ignore"):  # rejected trial steps may overflow; they are rejected
        res = scipy.optimize.least_squares(lambda x: white(fun(x)), x0,
                                           jac=lambda x: white(jac(x)), **least_squares_kwargs)
    if not res.success:
        warnings.warn(f"fit: least_squares did not converge ({res.message}); stderr and cov "
                      "are those of the last iterate", scipy.optimize.OptimizeWarning,
                      stacklevel=2)
    if np.any(res.active_mask):
        at = np.flatnonzero(res.active_mask).tolist()
        warnings.warn(f"fit: parameters at x indices {at} end on a bound; stderr and cov "
                      "treat them as free", scipy.optimize.OptimizeWarning, stacklevel=2)
    return fit_result(res, white(jac(res.x)), np.asarray(res.fun, dtype=float),
                      absolute_sigma, unflatten)
