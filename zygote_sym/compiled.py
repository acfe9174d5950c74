"""Compiled functions: trace once, then run the kernel on every later call.

`compile(f)` keeps specializations keyed by the inputs' structure, shapes
and dtypes.  A specialization is reused only while

- its guards hold (they are checked inside the kernel, which returns None
  when one fails: then f is traced again and the new specialization is kept
  beside the old, at most `max_specializations` per key, with a warning
  naming the guards of the one dropped);
- the arrays f captured from closures/globals are still the objects in those
  places (arrays are kernel inputs, so in-place changes are seen; a rebound
  name triggers a new trace);
- the Python numbers f captured from closures/globals still have the values
  they had (they were folded into the kernel as constants).

A function written for scalars and called with arrays of one common shape
is evaluated elementwise over the batch (a gradient field, see `batch.py`).
"""
import warnings

import numpy as np

from . import diff
from . import graph as g
from . import pytree
from .api import _as_leaf_result, _scalar_output, _seeded_kernel, derive, jacobian_blocks
from .kernel import Kernel, as_result
from .trace import trace_call
from .trace.capture import slots

# (type, shape, dtype) of a plain leaf: the fast signature of simple calls
_SIMPLE = {float: float, int: int}


def _leaf_key(a):
    t = type(a)
    if t in _SIMPLE:
        return t
    if t is np.ndarray:
        return (a.shape, a.dtype.str)
    return None


def signature(args):
    """A hashable key for the structure, shapes and dtypes of `args`."""
    keys = tuple(_leaf_key(a) for a in args)
    if None not in keys:
        return keys
    flat = []
    trees = [pytree.flatten(a, f"args[{i}]", flat) for i, a in enumerate(args)]
    return ("tree", tuple(pytree.structure_key(t) for t in trees),
            tuple(_leaf_key(v) or (type(v), np.shape(v)) for _, v in flat))


class Specialization:
    """One trace of f: its kernel (primal + gradients, guards inside) and the
    captured state it assumes."""

    def __init__(self, f, args):
        traced = trace_call(f, args)
        self.traced = traced
        self.examples = traced.leaf_values
        self.consts = [traced.trace.const_values[c] for c in traced.consts]
        self.guards = traced.guards
        self._build(traced, [(gd.expr, gd.outcome) for gd in traced.guards])
        const_ids = {id(c) for c in self.consts}
        self.captured_arrays, self.captured_numbers = [], []
        for s in slots([f]):
            v = s.get()
            if id(v) in const_ids:
                self.captured_arrays.append((s, v))
            elif type(v) in (int, float, complex):
                self.captured_numbers.append((s, v))

    def fresh(self):
        return all(s.get() is v for s, v in self.captured_arrays) and all(
            s.get() == v for s, v in self.captured_numbers)

    def _build(self, traced, guards):
        out = _scalar_output(traced, "compile(f).gradient")
        grads = diff.vjp([out], [g.ONE], traced.leaves, traced.shapes)
        self.none = [gr is None for gr in grads]
        self.kernel = Kernel([out] + [gr for gr in grads if gr is not None],
                             traced.leaves + traced.consts, self.examples + self.consts,
                             guards=guards)

    def run(self, leaves):
        """(value, per-leaf gradients) or None when a guard fails."""
        res = self.kernel(*leaves, *self.consts)
        if res is None:
            return None
        it = iter(res[1:])
        return res[0], [None if none else next(it) for none in self.none]


class JacobianSpecialization(Specialization):
    """One trace of f for its Jacobian: a seeded VJP kernel run once per
    output element (f may return any one array or number)."""

    def _build(self, traced, guards):
        if len(traced.out_exprs) != 1:
            raise TypeError("compile(f).jacobian needs f to return one array or number")
        self.kernel, seeds, self.grads, _ = _seeded_kernel(
            traced, traced.out_exprs, traced.leaves, "jacobian", guards)
        self.oshape = seeds[0].shape

    def run(self, leaves):
        blocks = jacobian_blocks(self.kernel, self.oshape, self.grads, self.traced.leaves,
                                 list(leaves) + self.consts)
        return None if blocks is None else (None, blocks)


class Compiled:
    """A function compiled for repeated gradients; see :func:`compile`."""

    def __init__(self, f, max_specializations=8):
        self.f = f
        self.max_specializations = max_specializations
        self._cache = {}
        self._last = None

    def _leaves(self, args):
        if all(_leaf_key(a) is not None for a in args):
            return list(args), None
        flat = []
        trees = [pytree.flatten(a, f"args[{i}]", flat) for i, a in enumerate(args)]
        return [v for _, v in flat], trees

    def _run(self, args, kind=Specialization):
        key = (kind, signature(args))
        specs = self._cache.setdefault(key, [])
        leaves, _ = self._leaves(args)
        for spec in specs:
            if spec.fresh():
                res = spec.run(leaves)
                if res is not None:
                    self._last = spec
                    return spec, res
        spec = kind(self.f, args)
        if len(specs) >= self.max_specializations:
            dropped = specs.pop(0)
            warnings.warn(
                f"{getattr(self.f, '__name__', 'f')}: more than {self.max_specializations} "
                "specializations for one input signature; the guards that keep failing: "
                + "; ".join(str(gd) for gd in dropped.guards), stacklevel=3)
        specs.append(spec)
        self._last = spec
        return spec, spec.run(leaves)

    def _mirror(self, spec, args, per_leaf):
        if all(_leaf_key(a) is not None for a in args):
            return tuple(per_leaf)
        it = iter(per_leaf)
        return tuple(pytree.mirror(t, it) for t in spec.traced.arg_trees)

    def withgradient(self, *args):
        """(value, gradient) as :func:`zygote_sym.withgradient`, from the kernel."""
        from .api import WithGradient
        spec, (val, grads) = self._run(args)
        shaped = [_as_leaf_result(gr, v) for gr, v in zip(grads, spec.examples)]
        return WithGradient(as_result(val, 0.0), self._mirror(spec, args, shaped))

    def jacobian(self, *args):
        """The Jacobian, as :func:`zygote_sym.jacobian`, from a cached kernel."""
        spec, (_, blocks) = self._run(args, JacobianSpecialization)
        return self._mirror(spec, args, blocks)

    def gradient(self, *args):
        """The gradient, as :func:`zygote_sym.gradient`, from the kernel."""
        return self.withgradient(*args).grad

    def __call__(self, *args):
        return self.withgradient(*args).val

    def derive(self, *args):
        """Closed forms at these example arguments (see :func:`zygote_sym.derive`)."""
        return derive(self.f, *args)

    @property
    def source(self):
        """The generated Python of the most recently used specialization."""
        if self._last is None:
            raise AttributeError("no kernel yet: call .gradient(...) once first")
        return self._last.kernel.source

    @property
    def guards(self):
        return [] if self._last is None else self._last.guards


def compile(f=None, *, max_specializations=8):
    """Compile f for repeated gradient calls (decorator or function).

    `c = compile(f)`; `c.gradient(*args)`, `c.withgradient(*args)`,
    `c(*args)` (the value), `c.source` (the generated Python), `c.derive(*args)`.
    The first call with a new input signature traces, differentiates,
    generates and compiles; later calls run only the kernel, after checking
    the guards and captured state (see the module docstring).

    >>> import numpy as np
    >>> @compile
    ... def loss(p, t, y):
    ...     a, b = p
    ...     return np.sum((a*np.exp(-b*t) - y)**2)
    >>> t = np.linspace(0, 1, 5); y = 2*np.exp(-t)
    >>> [float(v) for v in loss.gradient(np.array([2.0, 1.0]), t, y)[0]]
    [0.0, 0.0]
    """
    if f is None:
        return lambda fn: Compiled(fn, max_specializations)
    return Compiled(f, max_specializations)
