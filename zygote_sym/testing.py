"""check_grads: compare zygote_sym's gradient with central finite differences.

Like `jax.test_util.check_grads`, it raises AssertionError on a mismatch and
returns None otherwise, so users can put it in their own tests.
"""
import numpy as np

from . import pytree
from .api import gradient


def _flat_float(args):
    flat = []
    trees = [pytree.flatten(a, f"args[{i}]", flat) for i, a in enumerate(args)]
    return trees, flat


def numerical_gradient(f, *args, eps=1e-6):
    """Central differences (f(x+h) - f(x-h)) / 2h per input element, mirrored like
    `gradient`'s result (non-float leaves are perturbed as floats).  The step is
    eps*max(1, |x|)."""
    trees, flat = _flat_float(args)
    values = [np.array(v, dtype=float) for _, v in flat]

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
    it = iter(grads)
    return tuple(pytree.mirror(t, it) for t in trees)


def check_grads(f, *args, eps=1e-6, rtol=1e-5, atol=1e-7):
    """Assert that `gradient(f, *args)` matches central differences.

    A leaf whose gradient is None must have a numerical gradient of 0.
    Raises AssertionError naming the argument path on a mismatch.

    >>> import numpy as np
    >>> check_grads(lambda x, y: np.sin(x) * y, 0.5, 2.0)
    """
    got = _flat_float(gradient(f, *args))[1]
    want = _flat_float(numerical_gradient(f, *args, eps=eps))[1]
    _, leaves = _flat_float(args)
    for (path, _), (_, w), (_, gv) in zip(leaves, want, _pad(got, want)):
        gv = np.zeros_like(np.asarray(w, float)) if gv is None else np.asarray(gv, float)
        if not np.allclose(gv, w, rtol=rtol, atol=atol):
            raise AssertionError(f"gradient for {path}: zygote_sym gives {gv}, "
                                 f"central differences give {w}")


def _pad(got, want):
    """Gradient leaves aligned with the numerical ones (None leaves are dropped
    by flatten, so re-align by path)."""
    by_path = dict(got)
    return [(p, by_path.get(p)) for p, _ in want]
