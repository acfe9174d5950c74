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

A function written for scalars and called with arrays is evaluated
elementwise over the batch (:class:`BatchedSpecialization`): a gradient
field.  Its guards are checked per element; elements that take another
branch are traced once more at one of them and merged by mask.
"""
import warnings

import numpy as np

from . import pytree
from .ad.backward import grad
from .api import derive
from .codegen.kernel import Kernel
from .errors import NonScalarOutputError, NoRuleError, TracerConversionError
from .ir.nodes import Leaf, substitute
from .trace.call import trace_call
from .trace.capture import slots
from .transform import (WithGradient, as_leaf_result, as_result, jacobian_blocks, scalar_output,
                        seeded_kernel)

def _leaf_key(a):
    """The signature of a plain leaf (None for anything else)."""
    t = type(a)
    if t is float or t is int:
        return t
    if t is np.ndarray:
        return (a.shape, a.dtype.str)
    return None


def _simple(args):
    """Are all arguments plain leaves (numbers, arrays): no pytree to flatten?"""
    return all(_leaf_key(a) is not None for a in args)


def signature(args):
    """A hashable key for the structure, shapes and dtypes of `args`."""
    keys = tuple(map(_leaf_key, args))
    if None not in keys:
        return keys
    flat = []
    trees = [pytree.flatten(a, f"args[{i}]", flat) for i, a in enumerate(args)]
    return ("tree", tuple(pytree.structure_key(t) for t in trees),
            tuple(_leaf_key(v) or (type(v), np.shape(v)) for _, v in flat))


def _flat_leaves(args):
    flat = []
    for i, a in enumerate(args):
        pytree.flatten(a, f"args[{i}]", flat)
    return [v for _, v in flat]


def _wrt_leaves(traced, wrt):
    """The leaves of the arguments in `wrt` (all arguments when None)."""
    if wrt is None:
        return list(traced.leaves)
    chosen, start = [], 0
    for i, tree in enumerate(traced.arg_trees):
        n = pytree.count_leaves(tree)
        if i in wrt:
            chosen += traced.leaves[start:start + n]
        start += n
    return chosen


def _fresh(grad, example, args):
    """A kernel's array result as it is when it already has the input's shape
    and float dtype and is a new array (not an input or a captured array:
    `sum(x*y)`'s gradient in x is y itself); else converted by `as_leaf_result`."""
    if type(grad) is np.ndarray and type(example) is np.ndarray and grad.dtype == np.float64 \
            and grad.shape == example.shape and grad.flags.owndata \
            and not any(grad is a for a in args):
        return grad
    return as_leaf_result(grad, example)


class Specialization:
    """One trace of f: its kernel (primal + gradients, guards inside) and the
    captured state it assumes."""

    def __init__(self, f, args, wrt=None):
        try:  # captured float arrays become kernel inputs, read at every call
            traced = trace_call(f, args, capture=True)
        except (TracerConversionError, NoRuleError):  # f converts one: keep them constant
            traced = trace_call(f, args)
        self.traced = traced
        self.examples = traced.leaf_values
        self.captured = [(s, s.get()) for _, s in traced.captured]
        self.consts = [traced.trace.const_values[c] for c in traced.consts]
        self.inputs = traced.leaves + traced.consts + [leaf for leaf, _ in traced.captured]
        self.values = self.examples + self.consts + [v for _, v in self.captured]
        self.guards = traced.guards
        self._build(traced, traced.guards, wrt)
        # other state f reached when traced: Python numbers were folded in as
        # constants, and arrays that were not captured (integer index arrays,
        # or all of them when f converts one) were used by value
        self.numbers, self.frozen = [], []
        for s in slots([f]):
            v = s.get()
            if type(v) in (int, float, complex):
                self.numbers.append((s, v))
            elif type(v) is np.ndarray and not any(v is c for _, c in self.captured):
                self.frozen.append((s, v, v.copy()))
        self.stateless = not (self.numbers or self.frozen or self.captured)

    def fresh(self):
        """Does the state f captured still match this specialization?"""
        return self.stateless or all(s.get() == v for s, v in self.numbers) and all(
            s.get() is v and np.array_equal(v, copy) for s, v, copy in self.frozen) and all(
            type(now := s.get()) is np.ndarray and now.shape == v.shape and now.dtype == v.dtype
            for s, v in self.captured)

    def _build(self, traced, guards, wrt):
        out = scalar_output(traced, "compile(f).gradient")
        chosen = set(_wrt_leaves(traced, wrt))
        grads = grad(out, traced.leaves, traced.shapes)
        grads = [gr if leaf in chosen else None for gr, leaf in zip(grads, traced.leaves)]
        self.none = [gr is None for gr in grads]
        self.kernel = Kernel([out] + [gr for gr in grads if gr is not None],
                             self.inputs, self.values, guards=guards)
        # all-float scalar kernels already return floats in the final layout
        self.floats_only = self.kernel.backend == "math" and not any(self.none) and all(
            type(v) is float for v in self.examples)

    def run(self, leaves, with_value=True):
        """(value, per-leaf gradients) or None when a guard fails."""
        res = self.kernel(*leaves, *self.consts, *[s.get() for s, _ in self.captured])
        if res is None:
            return None
        it = iter(res[1:])
        return res[0], [None if none else next(it) for none in self.none]


class JacobianSpecialization(Specialization):
    """One trace of f for its Jacobian: a seeded VJP kernel run once per
    output element (f may return any one array or number)."""

    floats_only = False

    def _build(self, traced, guards, wrt):
        if len(traced.out_exprs) != 1:
            raise TypeError("compile(f).jacobian needs f to return one array or number")
        self.wrt = _wrt_leaves(traced, wrt)
        self.kernel, seeds, self.grads, _ = seeded_kernel(
            traced, traced.out_exprs, self.wrt, "jacobian", guards)
        self.oshape = seeds[0].shape

    def run(self, leaves, with_value=False):
        blocks = jacobian_blocks(self.kernel, self.oshape, self.grads, self.wrt,
                                 [*leaves, *self.consts, *[s.get() for s, _ in self.captured]])
        if blocks is None:
            return None
        by_leaf = dict(zip(self.wrt, blocks))
        return None, [by_leaf.get(leaf) for leaf in self.traced.leaves]


class _Branch:
    """One traced branch of a batched function: its elementwise kernels and
    the guard conditions that select it."""

    def __init__(self, f, scalar_args, wrt):
        traced = trace_call(f, scalar_args)
        if traced.consts:
            raise TypeError("batched evaluation needs f to capture no arrays: pass them "
                            "as arguments")
        out = scalar_output(traced, "compile(f).gradient")
        chosen = set(_wrt_leaves(traced, wrt))
        grads = grad(out, traced.leaves, traced.shapes)
        self.none = [gr is None or leaf not in chosen for gr, leaf in zip(grads, traced.leaves)]
        self.nodes = [out] + [gr for gr, none in zip(grads, self.none) if not none]
        self.leaves = traced.leaves
        self.guards = traced.guards
        if any(gd.check is not None for gd in self.guards):
            raise TypeError("batched evaluation cannot follow index data decided by values "
                            "(a mask, np.sort) per element")
        self._kernels = {}

    def kernel(self, shape, guards=False, with_value=True):
        """The kernel over arrays of `shape`: the scalar DAG with leaves of that
        shape, so large batches get fused regions and reused buffers.  Without
        the value, f itself is not computed (only what its gradient needs)."""
        key = (shape, guards, with_value)
        if key not in self._kernels:
            batch = [Leaf(leaf.name, shape) for leaf in self.leaves]
            nodes = [gd.expr for gd in self.guards] if guards else \
                self.nodes if with_value else self.nodes[1:]
            nodes = substitute(nodes, dict(zip(self.leaves, batch)))
            self._kernels[key] = Kernel(nodes, batch, [np.zeros(2)] * len(batch),
                                        name="batched_guards" if guards else "batched",
                                        backend="numpy")
        return self._kernels[key]

    def mask(self, leaves, shape):
        """Where every guard of this branch holds."""
        ok = np.ones(shape, dtype=bool)
        if self.guards:
            for cond, gd in zip(self.kernel(shape, guards=True)(*leaves), self.guards):
                ok &= np.broadcast_to(np.asarray(cond) == gd.outcome, shape)
        return ok


class BatchedSpecialization:
    """A function written for scalars, called with arrays: the scalar trace's
    DAG has elementwise semantics, so its kernel evaluates the whole batch at
    once.  Guards become per-element masks; elements that fail every known
    branch get a new trace at one of them (at most `max_branches`)."""

    floats_only = False

    def __init__(self, f, args, wrt=None, max_branches=8):
        self.f, self.wrt, self.max_branches = f, wrt, max_branches
        self.shape = np.broadcast_shapes(*[np.shape(a) for a in args])
        self.branches = []
        self.examples = list(args)
        self.traced = None
        self._add_branch(args, (0,) * len(self.shape))

    def fresh(self):
        return True

    def _add_branch(self, args, index):
        scalar = [float(np.broadcast_to(a, self.shape)[index]) for a in args]
        if len(self.branches) >= self.max_branches:
            raise RuntimeError(f"batched evaluation needs more than {self.max_branches} "
                               "traced branches; write the branches with np.where")
        branch = _Branch(self.f, scalar, self.wrt)
        self.branches.append(branch)
        return branch

    def run(self, leaves, with_value=True):
        leaves = [np.broadcast_to(np.asarray(v, dtype=float), self.shape) for v in leaves]
        first = self.branches[0]
        if len(self.branches) == 1 and first.mask(leaves, self.shape).all():
            return self._split(first, first.kernel(self.shape, with_value=with_value)(*leaves),
                               with_value)
        todo = np.ones(self.shape, dtype=bool)
        val = np.full(self.shape, np.nan)
        grads = [np.zeros(self.shape) for _ in leaves]
        reached = [False] * len(leaves)
        i = 0
        while todo.any():
            if i == len(self.branches):  # elements no known branch takes
                index = np.unravel_index(np.argmax(todo), self.shape)
                self._add_branch(leaves, index)
                todo[index] = False  # never loop on an element its own trace rejects
            branch = self.branches[i]
            i += 1
            take = branch.mask(leaves, self.shape) & (todo | (i == len(self.branches)))
            if not take.any():
                continue
            sub = [v[take] for v in leaves]
            value, parts = self._split(branch, branch.kernel(sub[0].shape)(*sub), True)
            val[take] = value
            for k, part in enumerate(parts):
                if part is not None:
                    grads[k][take] = part
                    reached[k] = True
            todo &= ~take
        return val, [gr if r else None for gr, r in zip(grads, reached)]

    @staticmethod
    def _split(branch, res, with_value):
        parts = iter(res[1:] if with_value else res)
        return (res[0] if with_value else None), [
            None if none else next(parts) for none in branch.none]


class Compiled:
    """A function compiled for repeated gradients; see :func:`compile`."""

    def __init__(self, f, wrt=None, max_specializations=8):
        self.f = f
        self.wrt = None if wrt is None else set((wrt,) if isinstance(wrt, int) else wrt)
        self.max_specializations = max_specializations
        self._cache = {}
        self._last = None
        self._scalar = {}  # types of all-float args -> a stateless math-kernel specialization

    def _specialize(self, kind, args):
        if kind is not Specialization:
            return kind(self.f, args, self.wrt)
        try:
            return Specialization(self.f, args, self.wrt)
        except (NonScalarOutputError, ValueError) as e:
            if not _simple(args) or not any(np.ndim(a) for a in args):
                raise
            if isinstance(e, ValueError) and "ambiguous" not in str(e):
                raise
            try:  # a function of scalars called with arrays: a gradient field
                return BatchedSpecialization(self.f, args, self.wrt, self.max_specializations)
            except Exception:
                raise e from None

    def _run(self, args, kind=Specialization, with_value=True):
        key = (kind, signature(args))
        specs = self._cache.setdefault(key, [])
        simple = _simple(args)
        leaves = args if simple else _flat_leaves(args)
        for spec in specs:
            if spec.fresh():
                res = spec.run(leaves, with_value)
                if res is not None:
                    self._last = spec
                    return spec, res
        spec = self._specialize(kind, args)
        if len(specs) >= self.max_specializations:
            dropped = specs.pop(0)
            warnings.warn(
                f"{getattr(self.f, '__name__', 'f')}: more than {self.max_specializations} "
                "specializations for one input signature; the guards that keep failing: "
                + "; ".join(str(gd) for gd in dropped.guards), stacklevel=3)
        specs.append(spec)
        self._last = spec
        if spec.floats_only and not (spec.frozen or spec.captured) and simple \
                and not spec.guards:
            self._scalar[tuple(map(type, args))] = spec
        return spec, spec.run(leaves, with_value)

    def _mirror(self, spec, args, per_leaf):
        if spec.traced is None or _simple(args):
            return tuple(per_leaf)
        it = iter(per_leaf)
        return tuple(pytree.mirror(t, it) for t in spec.traced.arg_trees)

    def withgradient(self, *args, with_value=True):
        """(value, gradient) as :func:`zygote_sym.withgradient`, from the kernel."""
        spec = self._scalar.get(tuple(map(type, args)))
        if spec is not None and all(s.get() == v for s, v in spec.numbers):
            res = spec.kernel(*args)  # the fast path of scalar functions: just the kernel
            return WithGradient(float(res[0]), tuple(map(float, res[1:])))
        spec, (val, grads) = self._run(args, with_value=with_value)
        if spec.floats_only:
            return WithGradient(float(val), tuple(map(float, grads)))
        inputs = (*args, *getattr(spec, "consts", ()),
                  *[s.get() for s, _ in getattr(spec, "captured", ())])
        shaped = [_fresh(gr, v, inputs) for gr, v in zip(grads, spec.examples)]
        if isinstance(spec, BatchedSpecialization):
            return WithGradient(val, tuple(shaped))
        return WithGradient(as_result(val, 0.0), self._mirror(spec, args, shaped))

    def gradient(self, *args):
        """The gradient, as :func:`zygote_sym.gradient`, from the kernel."""
        return self.withgradient(*args, with_value=False).grad

    def jacobian(self, *args):
        """The Jacobian, as :func:`zygote_sym.jacobian`, from a cached kernel."""
        spec, (_, blocks) = self._run(args, JacobianSpecialization)
        return self._mirror(spec, args, blocks)

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
        if isinstance(self._last, BatchedSpecialization):
            return "\n".join(k.source for b in self._last.branches for k in b._kernels.values())
        return self._last.kernel.source

    def stages(self):
        """The most recently used kernel pass by pass: the traced DAG, after
        rewriting, the plan (temporaries, fused regions, buffers), the source."""
        if self._last is None or isinstance(self._last, BatchedSpecialization):
            raise AttributeError("no single kernel yet: call .gradient(...) with the "
                                 "arguments whose kernel you want to see")
        return self._last.kernel.stages()

    @property
    def guards(self):
        return [] if self._last is None or self._last.traced is None else self._last.guards


def compile(f=None, *, wrt=None, max_specializations=8):
    """Compile f for repeated gradient calls (decorator or function).

    `c = compile(f)`; `c.gradient(*args)`, `c.withgradient(*args)`,
    `c.jacobian(*args)`, `c(*args)` (the value), `c.source` (the generated
    Python), `c.stages()` (every pass), `c.derive(*args)`.  `wrt` (an
    argument index or a tuple of them) limits the gradient to those arguments (the others give None and cost
    nothing), like JAX's `argnums`.  The first call with a new input
    signature traces, differentiates, generates and compiles; later calls
    run only the kernel, after checking the guards and captured state (see
    the module docstring).  Kernels reuse work buffers between calls, so one
    compiled function must not run in two threads at once.

    A function of scalars called with arrays returns the gradient field:
    per-element values and derivatives, shaped like the broadcast inputs.

    >>> import numpy as np
    >>> @compile(wrt=0)
    ... def loss(p, t, y):
    ...     a, b = p
    ...     return np.sum((a*np.exp(-b*t) - y)**2)
    >>> t = np.linspace(0, 1, 5); y = 2*np.exp(-t)
    >>> g = loss.gradient(np.array([2.0, 1.0]), t, y)
    >>> [float(v) for v in g[0]], g[1]
    ([0.0, 0.0], None)
    >>> field = compile(lambda x: x**2 if x > 0 else -x).gradient(np.array([-1.0, 0.5, 2.0]))
    >>> field[0]
    array([-1.,  1.,  4.])
    """
    if f is None:
        return lambda fn: Compiled(fn, wrt, max_specializations)
    return Compiled(f, wrt, max_specializations)
