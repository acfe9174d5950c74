"""A parameter pytree as one flat float64 vector, and functions of its leaves.

What :mod:`zygote_sym.optimize` hands SciPy is built here: :class:`Layout`
records where each numeric leaf of a parameter pytree lives in the flat
vector (order of :func:`zygote_sym.pytree.flatten`, arrays raveled in C
order), splits a vector into leaves and joins per-leaf gradients and
Jacobian blocks back into vectors and matrices, and wraps a function of the
pytree as a function of its leaves (what `compile` traces), with the
kernel's inputs named after the leaves (`params_w` for `params['w']`).
"""
import inspect
import keyword
import re

import numpy as np
import sympy as sp

from . import pytree
from .api import gradient

__all__ = ["Layout"]


class Layout:
    """Where each numeric leaf of a parameter pytree lives in the flat vector.

    >>> lay = Layout({'w': np.zeros((2, 2)), 'b': 1.0, 'tag': 'static'})
    >>> lay.size, lay.names, lay.x0
    (5, ['params_w', 'params_b'], array([0., 0., 0., 0., 1.]))
    >>> lay.split(np.arange(5.0))
    [array([[0., 1.],
           [2., 3.]]), 4.0]
    >>> lay.join([np.ones((2, 2)), None])
    array([1., 1., 1., 1., 0.])
    """

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
        # name the kernel's inputs after the leaves (params_w for params['w'])
        return _named(on_leaves, getattr(f, "__name__", "f"), self.names)

    def flat_gradient(self, on_leaves):
        """The gradient of on_leaves as one traced (size,) vector: compiled, its
        `.jacobian` is the Hessian (reverse over reverse, one kernel)."""
        sizes = [sl.stop - sl.start for sl in self.slices]

        def flat_gradient(*leaves):
            parts = [np.zeros(n) if g is None else np.reshape(g, (n,))
                     for g, n in zip(gradient(on_leaves, *leaves), sizes)]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        return _named(flat_gradient, f"hessian_of_{on_leaves.__name__}", self.names)

    def gradient_dot(self, on_leaves):
        """`<grad f(leaves), v>` as a function of (*leaves, *v): compiled with
        respect to the leaves, its gradient is the Hessian-vector product H v
        (H is symmetric), at the cost of about two gradients and no n x n matrix."""
        k = len(self.names)

        def gradient_dot(*leaves_and_v):
            grads = gradient(on_leaves, *leaves_and_v[:k])
            terms = [np.sum(g * v) for g, v in zip(grads, leaves_and_v[k:]) if g is not None]
            return sum(terms) if terms else 0.0
        return _named(gradient_dot, f"hvp_of_{on_leaves.__name__}",
                      self.names + _identifiers(["v_" + n for n in self.names], self.names))


def _named(fn, name, args):
    """fn with this __name__ and a signature of these positional argument
    names, which compile gives the kernel's inputs."""
    fn.__name__ = name
    fn.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in args])
    return fn


def _identifiers(paths, taken):
    names = list(taken)
    for path in paths:
        names.append(_identifier(path, names))
    return names[len(taken):]


def _identifier(path, taken):
    name = re.sub(r"\W+", "_", path).strip("_") or "p"
    if keyword.iskeyword(name) or name[0].isdigit():
        name = "p_" + name
    base, i = name, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name
