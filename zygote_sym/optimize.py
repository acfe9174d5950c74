"""SciPy on structured parameters: one flat float64 vector in, compiled gradients out.

`scipy.optimize` works on a single 1-D float64 vector; models are easier to
write with structured parameters (a dict of arrays, a dataclass, a tuple of
a matrix and a float).  These helpers flatten any pytree of parameters (see
:mod:`zygote_sym.pytree`) into that vector and back, and differentiate
through a :func:`zygote_sym.compile`'d function, so SciPy's iterations run
the cached generated kernel instead of tracing again:

- :func:`objective` -> `(fun, x0, unflatten)` for
  `scipy.optimize.minimize(fun, x0, jac=True)`; `fun(x) -> (value, gradient)`.
- :func:`residuals` -> `(fun, jac, x0, unflatten)` for
  `scipy.optimize.least_squares(fun, x0, jac=jac)`; `jac(x)` is the residual
  Jacobian from `compile(...).jacobian`.
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
import inspect
import keyword
import re
from numbers import Number

import numpy as np
import sympy as sp

from . import pytree
from .compiled import Compiled, compile

__all__ = ["ravel", "objective", "residuals"]


class _Layout:
    """Where each numeric leaf of a parameter pytree lives in the flat vector."""

    def __init__(self, params):
        flat = []
        self.tree = pytree.flatten(params, "params", flat)
        if not flat:
            raise ValueError("params has no numeric leaves to optimize (numbers or numeric "
                             "arrays, possibly inside tuples, lists, dicts or objects)")
        self.shapes, self.arrays, self.slices, self.names = [], [], [], []
        start = 0
        for path, v in flat:
            self.names.append(_identifier(path, self.names))
            if isinstance(v, sp.Basic):
                raise TypeError(f"{path} is a SymPy expression; optimization needs numbers "
                                "(use zygote_sym.derive for closed forms)")
            shape = np.shape(v)
            size = int(np.prod(shape, dtype=int))
            self.shapes.append(shape)
            self.arrays.append(isinstance(v, np.ndarray))
            self.slices.append(slice(start, start + size))
            start += size
        self.size = start
        self.x0 = np.empty(self.size)
        for (_, v), sl in zip(flat, self.slices):
            self.x0[sl] = np.ravel(np.asarray(v, dtype=float))

    def check(self, x):
        x = np.asarray(x, dtype=float)
        if x.ndim != 1 or x.size != self.size:
            raise ValueError(f"expected a flat parameter vector of shape ({self.size},), "
                             f"got shape {x.shape}")
        return x

    def split(self, x, copy=False):
        """The leaves of x: arrays shaped as in params (views unless copy), floats."""
        out = []
        for shape, is_array, sl in zip(self.shapes, self.arrays, self.slices):
            if is_array:
                a = x[sl].reshape(shape)
                out.append(a.copy() if copy else a)
            else:
                out.append(float(x[sl.start]))
        return out

    def unflatten(self, x):
        return pytree.rebuild(self.tree, iter(self.split(self.check(x), copy=True)))

    def join(self, per_leaf, rows=None):
        """Per-leaf gradients (None = zero) as one flat vector, or per-leaf
        Jacobian blocks (output shape + leaf shape) as a (rows, size) matrix."""
        out = np.zeros(self.size if rows is None else (rows, self.size))
        for g, sl in zip(per_leaf, self.slices):
            if g is not None:
                if rows is None:
                    out[sl] = np.ravel(g)
                else:
                    out[:, sl] = np.reshape(g, (rows, sl.stop - sl.start))
        return out

    def on_leaves(self, f, data):
        """f as a function of the leaves alone (data fixed), for compile."""
        tree = self.tree

        def on_leaves(*leaves):
            return f(pytree.rebuild(tree, iter(leaves)), *data)
        on_leaves.__name__ = getattr(f, "__name__", "f")
        # name the kernel's inputs after the leaves (params_w for params['w'])
        on_leaves.__signature__ = inspect.Signature(
            [inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in self.names])
        return on_leaves


def _identifier(path, taken):
    name = re.sub(r"\W+", "_", path).strip("_") or "p"
    if keyword.iskeyword(name) or name[0].isdigit():
        name = "p_" + name
    base, i = name, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def _plain(f):
    return f.f if isinstance(f, Compiled) else f


def ravel(params):
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
    layout = _Layout(params)
    return layout.x0.copy(), layout.unflatten


def objective(loss, params, *data):
    """`(fun, x0, unflatten)` for `scipy.optimize.minimize(fun, x0, jac=True)`.

    loss(params, *data) must return a scalar; params is any pytree of numbers
    and numeric arrays (see :func:`ravel` for x0 and unflatten).  `fun(x)`,
    x of shape (n,), returns `(value, gradient)`: a float and a float64 array
    of shape (n,) (zeros for leaves the loss does not depend on).  The
    gradient comes from `zygote_sym.compile(loss)` specialized to these
    parameter shapes: the first call traces and generates the kernel, later
    calls only run it (a branch that flips retraces, see
    :func:`zygote_sym.compile`).  `fun.compiled` is that Compiled object
    (e.g. `fun.compiled.source`).  loss may itself be a Compiled function.

    data are passed to loss as they are and not differentiated; they must
    not change (rebinding or mutating them after this call is not seen by
    the cached kernel).  Raises NonScalarOutputError (on the first call of
    fun) if loss does not return a scalar; see :func:`ravel` for params errors.

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
    """
    layout = _Layout(params)
    compiled = compile(layout.on_leaves(_plain(loss), data))

    def fun(x):
        val, grads = compiled.withgradient(*layout.split(layout.check(x)))
        return float(val), layout.join(grads)
    fun.compiled = compiled
    return fun, layout.x0.copy(), layout.unflatten


def residuals(res_fn, params, *data):
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
    layout = _Layout(params)
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
    jac.compiled = compiled
    return fun, jac, layout.x0.copy(), layout.unflatten
