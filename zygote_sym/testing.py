"""check_grads: compare zygote_sym's gradient with central finite differences.

Like `jax.test_util.check_grads`, it raises AssertionError on a mismatch and
returns None otherwise, so users can put it in their own tests.
"""
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import pytree
from .api import gradient, jvp


def _flat_float(args: Sequence[Any]) -> tuple[list[Any], list[tuple[str, Any]]]:
    flat: list[tuple[str, Any]] = []
    trees = [pytree.flatten(a, f"args[{i}]", flat) for i, a in enumerate(args)]
    return trees, flat


def numerical_gradient(f: Callable[..., Any], *args: Any, eps: float = 1e-6) -> tuple:
    """Central differences (f(x+h) - f(x-h)) / 2h per input element, mirrored like
    `gradient`'s result (non-float leaves are perturbed as floats).  The step is
    eps*max(1, |x|)."""
    trees, flat = _flat_float(args)
    values: list[Any] = [np.array(v, dtype=float) for _, v in flat]

    def call(vals):
        it = iter([v if np.ndim(v) else float(v) for v in vals])
        return float(f(*[pytree.rebuild(t, it) for t in trees]))

    grads = []
    for i, v in enumerate(values):
        gr = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            h = eps * max(1.0, abs(v[idx]))
            plus = [w.copy() for w in values]
            minus = [w.copy() for w in values]
            plus[i][idx] += h
            minus[i][idx] -= h
            gr[idx] = (call(plus) - call(minus)) / (2 * h)
        grads.append(gr if gr.ndim else float(gr))
    return pytree.mirror_all(trees, grads)


def check_grads(f: Callable[..., Any], *args: Any, order: int = 1, modes: Sequence[str] = ("rev",),
                eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7) -> None:
    """Assert that f's derivatives match central differences (as
    `jax.test_util.check_grads` and autograd's `check_grads`).

    modes: "rev" checks the gradient (a VJP with a random cotangent for a
    non-scalar f), "fwd" a JVP along a random direction.  order=2 also checks
    the derivative of that derivative (a function that itself differentiates:
    nesting), and so on.  A leaf whose gradient is None must have a numerical
    gradient of 0.  Raises AssertionError naming the argument path, mode and
    order on a mismatch.

    >>> import numpy as np
    >>> check_grads(lambda x, y: np.sin(x) * y, 0.5, 2.0)
    >>> check_grads(lambda x: np.exp(x) * x, np.array([0.1, 0.4]), order=2, modes=("fwd", "rev"))
    """
    rng = np.random.default_rng(0)
    for mode in modes:
        if mode not in _MODES:
            raise ValueError(f"check_grads: mode {mode!r} is not one of {sorted(_MODES)}")
        g = _MODES[mode](f, args, rng)
        _check_scalar(g, args, eps, rtol, atol, f"{mode} mode")
        if order > 1:
            check_grads(g, *args, order=order - 1, modes=modes, eps=eps, rtol=rtol, atol=atol)


def _random_like(tree, rng):
    flat = []
    t = pytree.flatten(tree, "x", flat)
    return pytree.rebuild(t, iter(rng.standard_normal(np.shape(v)) if np.ndim(v) else
                                  float(rng.standard_normal()) for _, v in flat))


def _pairing(a, b):
    """<a, b> over two pytrees of the same structure (traced values welcome)."""
    fa, fb = [], []
    pytree.flatten(a, "a", fa)
    pytree.flatten(b, "b", fb)
    return sum(np.sum(x * y) for (_, x), (_, y) in zip(fa, fb))


def _rev(f, args, rng):
    """x -> <u, f(x)>: a scalar whose gradient is the VJP of f with cotangent u."""
    u = _random_like(f(*args), rng)
    return lambda *a: _pairing(u, f(*a))


def _fwd(f, args, rng):
    """x -> <u, J(x) v>: a scalar built from f's JVP along a fixed direction v."""
    v = _random_like(args, rng)
    u = _random_like(f(*args), rng)
    return lambda *a: _pairing(u, jvp(f, a, v)[1])


_MODES = {"rev": _rev, "fwd": _fwd}


def _check_scalar(f, args, eps, rtol, atol, what):
    got = _flat_float(gradient(f, *args))[1]
    want = _flat_float(numerical_gradient(f, *args, eps=eps))[1]
    _, leaves = _flat_float(args)
    for (path, _), (_, w), (_, gv) in zip(leaves, want, _pad(got, want)):
        gv = np.zeros_like(np.asarray(w, float)) if gv is None else np.asarray(gv, float)
        if not np.allclose(gv, w, rtol=rtol, atol=atol):
            raise AssertionError(f"gradient for {path} ({what}): zygote_sym gives {gv}, "
                                 f"central differences give {w}")


def _pad(got, want):
    """Gradient leaves aligned with the numerical ones (None leaves are dropped
    by flatten, so re-align by path)."""
    by_path = dict(got)
    return [(p, by_path.get(p)) for p, _ in want]
