"""Compiled functions: trace once, then run the kernel on every later call.

`compile(f)` keeps specializations keyed by the inputs' structure, shapes and dtypes. The
contract (docs/reliability.md says it in full):

- re-read at every call: the arguments, and the float arrays f reaches without arguments
  (closures, globals, defaults, attributes, items): they are kernel inputs read from their
  place, so in-place changes and rebinding are both seen;
- checked at every call (a change traces f again, like a failed guard): the guards, and
  everything else f reaches by the names its code uses: numbers, bools, strings, NumPy
  scalars, tuples, the items and length of lists, dicts and sets, integer/boolean arrays (by
  content), object and class attributes, module attributes of the user's modules, the
  identity of functions f calls (a redefined helper is a new trace);
- refused at compile time: random draws inside f (RandomDrawError, naming the call); a clock
  read inside f warns, naming it; a change f makes to state it reaches while traced warns (a
  compiled call does not run f);
- assumed constant: the internals of libraries (NumPy, SciPy, the standard library: their
  module attributes and functions) and state reached only by computed attribute names
  (`getattr(obj, name)` with a name built at run time makes every attribute of the objects
  reached checked).

A function written for scalars and called with arrays is evaluated elementwise over the
batch (:class:`BatchedSpecialization`): a gradient field, only when f really is elementwise
(its trace on the arrays has no structural operation, or fails on a Python branch);
otherwise a non-scalar output raises NonScalarOutputError as `zygote_sym.gradient` does.
"""
import sys
import threading
import warnings

import numpy as np

from . import pytree
from .ad.backward import grad
from . import api
from .codegen.fused_tier import Tier, Tiered, check_backend
from .codegen.kernel import Kernel
from .errors import NonScalarOutputError, NoRuleError, RandomDrawError, TracerConversionError
from .ir.nodes import Leaf, postorder, substitute
from .ir.ops import ArrayOp, BroadcastTo, Where
from .trace.call import Watch, trace_call
from .trace.tracer import tracing
from .trace.capture import Reach
from .transform import (WithGradient, as_leaf_result, as_result, jacobian_blocks, scalar_output,
                        seeded_kernel)


class _Elementwise(Exception):
    """f returned an array from an elementwise DAG: evaluate it as a field."""


class _NotElementwise(Exception):
    """The scalar trace of f has structural operations: no gradient field."""


def _leaf_key(a):
    """The signature of a plain leaf (None for anything else)."""
    t = type(a)
    if t is float or t is int:
        return t
    if t is np.ndarray and a.dtype.kind != "c":  # (complex: two real leaves, pytree's way)
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


def _state_watch(f, traced=None, pre=None):
    """A Watch over the state f reaches by the names its code uses (every
    attribute when its code reads attributes by computed names).  State f
    itself changed while traced (`pre` says which) was warned about and is a
    side effect, not an input: it is left out."""
    reach = Reach([f], named_attrs=True)
    if reach.dynamic:
        reach = Reach([f])
    if traced is None:  # before the trace: f cannot change float arrays in place (tracers)
        return Watch(reach, contents=False, fast=False)
    skip = {i for i, _ in pre.changes()} if pre is not None else ()
    return Watch(reach, traced.shadowed, traced.captured, traced.reach, skip)


def _warn(message):
    """A RuntimeWarning attributed to the user's line that called us."""
    frame, level = sys._getframe(1), 2
    while frame is not None and str(frame.f_globals.get("__name__")).startswith("zygote_sym"):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, RuntimeWarning, stacklevel=level)


def _name(f):
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or repr(f)


def _check_calls(f, traced):
    """Random draws refuse, clock reads warn: a kernel would repeat them."""
    draws = [c for c in traced.calls if c[0] == "random"]
    if draws:
        raise RandomDrawError(
            f"compile({_name(f)}): f draws random numbers ({draws[0][1]}: {draws[0][2]}) while "
            "it is traced, so a compiled kernel would reuse those first draws at every call. "
            "Draw them outside f and pass them as an argument (c.gradient(x, noise)), or use "
            "zygote_sym.gradient, which runs f at every call")
    maybe = [c for c in traced.calls if c[0] == "random?"]
    if maybe:
        _warn(f"compile({_name(f)}): {maybe[0][1]} was drawn from while f was traced (by f, or "
              "by another thread): if f draws random numbers, a compiled kernel reuses those "
              "first draws at every call; draw them outside f and pass them as an argument")
    clocks = [c for c in traced.calls if c[0] == "clock"]
    if clocks:
        _warn(f"compile({_name(f)}): f reads the clock ({clocks[0][1]} {clocks[0][2]}) while it "
              "is traced; a compiled kernel reuses the value read then at every call: if it "
              "enters the result, pass it as an argument")
    if traced.blind:
        _warn(f"compile({_name(f)}): another profiler (sys.setprofile) is active, so random "
              "draws and clock reads inside f cannot be detected")


def _side_effects(f, pre):
    changed = [w for _, w in pre.changes()]
    if changed:
        _warn(f"compile({_name(f)}): f changed {'; '.join(changed[:3])} while it was traced. A "
              "compiled call runs the kernel, not f, so the change is not repeated, and a value "
              "f read from that state stays what it was when traced (as with jax.jit): pass "
              "such state as an argument")


def _scalar(traced):
    return len(traced.out_exprs) == 1 and traced.shapes(traced.out_exprs[0]) == ()


def _elementwise(traced):
    """Is f's DAG elementwise in its array arguments: no structural op and no
    array constant, so evaluating it per element is what f computes?"""
    for n in postorder(traced.out_exprs):
        if isinstance(n, ArrayOp) and not isinstance(n, (Where, BroadcastTo)):
            return False
        if isinstance(n, Leaf) and n.role != "arg" and n.shape:
            return False
    return True


class Specialization:
    """One trace of f: its kernel (primal + gradients, guards inside) and the
    state it assumes (`watch`)."""

    def __init__(self, f, args, wrt=None, mode="numpy"):
        self.mode, pre = mode, _state_watch(f)  # (pre: what f itself changes while traced)
        try:  # captured float arrays become kernel inputs, read at every call
            traced = trace_call(f, args, capture=True, calls=True)
        except (TracerConversionError, NoRuleError, AttributeError):
            traced = trace_call(f, args, calls=True)  # f converts one: all checked by value
        _check_calls(f, traced)
        if self.scalar_only and not _scalar(traced) and any(np.ndim(a) for a in args) \
                and _elementwise(traced):
            raise _Elementwise
        self.traced = traced
        self.watch = _state_watch(f, traced, pre)
        traced.reach = None  # what f reached need not stay alive with the kernel
        _side_effects(f, pre)
        self.examples = traced.leaf_values
        self.captured = [(s, s.get()) for _, s in traced.captured]
        self.consts = [traced.trace.const_values[c] for c in traced.consts]
        self.inputs = traced.leaves + traced.consts + [leaf for leaf, _ in traced.captured]
        self.values = self.examples + self.consts + [v for _, v in self.captured]
        self.guards = traced.guards
        self._build(traced, traced.guards, wrt, f)
        # the captured arrays are read from their places: the first ones need not stay alive
        self.captured, self.values = [(s, None) for s, _ in self.captured], None

    scalar_only = True

    def fresh(self):
        """Does the state f reaches still match this specialization?"""
        return self.watch.fresh()

    def _build(self, traced, guards, wrt, f):
        out = scalar_output(traced, "compile(f).gradient")
        chosen = set(_wrt_leaves(traced, wrt))
        grads = grad(out, traced.leaves, traced.shapes)
        grads = [gr if leaf in chosen else None for gr, leaf in zip(grads, traced.leaves)]
        self.none = [gr is None for gr in grads]
        nodes = [out] + [gr for gr in grads if gr is not None]
        self.kernel = Kernel(nodes, self.inputs, self.values, guards=guards)
        # all-float scalar kernels already return floats in the final layout
        self.floats_only = self.kernel.backend == "math" and not any(self.none) and all(
            type(v) is float for v in self.examples)
        self.tier = Tier(self.mode, self.kernel, nodes, self.inputs, self.values, guards,
                         lambda k: setattr(self, "kernel", k), _name(f))

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

    floats_only = scalar_only = False

    def _build(self, traced, guards, wrt, f):
        self.tier = None  # (seeded kernels stay NumPy)
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

    def __init__(self, f, scalar_args, wrt, mode="numpy"):
        self.mode, self.tiers = mode, {}
        traced = trace_call(f, scalar_args, calls=True)
        _check_calls(f, traced)
        if traced.consts:
            raise TypeError("batched evaluation needs f to capture no arrays: pass them "
                            "as arguments")
        if not _elementwise(traced):
            raise _NotElementwise
        out = scalar_output(traced, "compile(f).gradient")
        chosen = set(_wrt_leaves(traced, wrt))
        grads = grad(out, traced.leaves, traced.shapes)
        self.none = [gr is None or leaf not in chosen for gr, leaf in zip(grads, traced.leaves)]
        self.nodes = [out] + [gr for gr, none in zip(grads, self.none) if not none]
        self.leaves, self.traced = traced.leaves, traced
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
            self.tiers[key] = Tier(self.mode, self._kernels[key], nodes, batch, [np.zeros(2)]
                                   * len(batch), (), lambda k: self._kernels.__setitem__(key, k))
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

    def __init__(self, f, args, wrt=None, max_branches=8, mode="numpy"):
        self.f, self.wrt, self.max_branches, self.mode = f, wrt, max_branches, mode
        self.shape = np.broadcast_shapes(*[np.shape(a) for a in args])
        self.branches = []
        self.examples = list(args)
        self.traced = None
        pre = _state_watch(f)
        self._add_branch(args, (0,) * len(self.shape))
        self.watch = _state_watch(f, self.branches[0].traced, pre)
        _side_effects(f, pre)

    def fresh(self):
        return self.watch.fresh()

    def _add_branch(self, args, index):
        scalar = [float(np.broadcast_to(a, self.shape)[index]) for a in args]
        if len(self.branches) >= self.max_branches:
            raise RuntimeError(f"batched evaluation needs more than {self.max_branches} "
                               "traced branches; write the branches with np.where")
        branch = _Branch(self.f, scalar, self.wrt, self.mode)
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


def _wrt(wrt):
    """compile's `wrt` as a tuple of ints (JAX's argnums), checked now."""
    if wrt is None:
        return None
    items = (wrt,) if isinstance(wrt, (int, np.integer)) else wrt
    try:
        items = tuple(items)
    except TypeError:
        items = (wrt,)
    if not items or any(isinstance(w, (bool, np.bool_)) or not isinstance(w, (int, np.integer))
                        for w in items):
        raise TypeError(f"compile(wrt={wrt!r}): wrt is an argument index or a tuple of them "
                        "(as JAX's argnums): 0 for the first argument, -1 for the last")
    return tuple(int(w) for w in items)


def _wrt_for(wrt, n):
    """The argument indices `wrt` names for a call with n arguments."""
    if wrt is None:
        return None
    bad = [w for w in wrt if not -n <= w < n]
    if bad:
        raise ValueError(f"compile(wrt={wrt if len(wrt) > 1 else wrt[0]}): f was called with {n} "
                         f"argument{'s' if n != 1 else ''}, so wrt must be in range({-n}, {n})")
    return {w % n for w in wrt}


class Compiled(Tiered):
    """A function compiled for repeated gradients; see :func:`compile`."""

    def __init__(self, f, wrt=None, max_specializations=8, backend="auto"):
        if not callable(f):
            raise TypeError(f"compile(f): f is {type(f).__name__} {f!r:.40}, not a function")
        self.f, self.mode = f, check_backend(backend)
        self._lock = threading.RLock()  # creating and dropping specializations
        self.wrt = _wrt(wrt)
        self.max_specializations = max_specializations
        self._cache = {}
        self._last = None
        self._scalar = {}  # types of all-float args -> a math-kernel specialization
        self._retraced = []  # what changed, each time state (not a guard) forced a trace

    def _specialize(self, kind, args):
        wrt = _wrt_for(self.wrt, len(args))
        if kind is not Specialization:
            return kind(self.f, args, wrt, self.mode)
        batched = (self.f, args, wrt, self.max_specializations, self.mode)
        try:
            return Specialization(self.f, args, wrt, self.mode)
        except _Elementwise:  # a function of scalars called with arrays: a gradient field
            return BatchedSpecialization(*batched)
        except ValueError as e:
            if not _simple(args) or "ambiguous" not in str(e):
                raise
            try:  # a Python branch on an array: evaluate f per element, if it is elementwise
                return BatchedSpecialization(*batched)
            except (_NotElementwise, NonScalarOutputError, TypeError):
                raise e from None

    def _run(self, args, kind=Specialization, with_value=True):
        key = (kind, signature(args))
        specs = self._cache.setdefault(key, [])
        simple = _simple(args)
        leaves = args if simple else _flat_leaves(args)
        found = self._find(specs, leaves, with_value)
        if found is not None:
            return found
        with self._lock:  # threads missing at once trace once: the others find its trace
            found = self._find(specs, leaves, with_value)
            if found is not None:
                return found
            spec = self._specialize(kind, args)
            if len(specs) >= self.max_specializations:
                dropped = specs.pop(0)
                warnings.warn(
                    f"{getattr(self.f, '__name__', 'f')}: more than {self.max_specializations} "
                    "specializations for one input signature; the guards that keep failing: "
                    + "; ".join(str(gd) for gd in dropped.guards), stacklevel=3)
            specs.append(spec)
            self._last = spec
            if spec.floats_only and not spec.captured and simple and not spec.guards:
                self._scalar[tuple(map(type, args))] = spec
        return spec, spec.run(leaves, with_value)

    def _find(self, specs, leaves, with_value):  # (spec, result) of the first that holds
        for spec in list(specs):
            if not spec.fresh():  # state f reads changed: this trace is stale for good
                self._stale(spec, specs)
                continue
            res = spec.run(leaves, with_value)
            if res is not None:
                self._last = spec
                return spec, res
        return None

    def _stale(self, spec, specs):
        with self._lock:  # (another thread may have dropped it first)
            if spec in specs:
                specs.remove(spec)
        self._scalar = {k: v for k, v in self._scalar.items() if v is not spec}
        self._retraced.append("; ".join(w for _, w in spec.watch.changes()[:2]))
        if len(self._retraced) == 3:
            _warn(f"{_name(self.f)}: traced again 3 times because state it reads changed "
                  f"({self._retraced[-1]}); a compiled call is fast only while that state stays "
                  "the same: pass what changes as an argument")

    def _mirror(self, spec, args, per_leaf):
        if spec.traced is None or _simple(args):
            return tuple(per_leaf)
        return pytree.mirror_all(spec.traced.arg_trees, per_leaf)

    def withgradient(self, *args, with_value=True):
        """(value, gradient) as :func:`zygote_sym.withgradient`, from the kernel."""
        if tracing():  # inside a derivative: the result must stay traced (nesting)
            val, grads = api.withgradient(self.f, *args)
            n, chosen = len(args), _wrt_for(self.wrt, len(args))
            return WithGradient(val, tuple(g if chosen is None or i in chosen else None
                                           for i, g in zip(range(n), grads)))
        spec = self._scalar.get(tuple(map(type, args)))
        if spec is not None and spec.watch.fresh():
            self._last = spec
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
        if tracing():  # inside a derivative: the result must stay traced (nesting)
            chosen = _wrt_for(self.wrt, len(args))
            return tuple(j if chosen is None or i in chosen else None
                         for i, j in enumerate(api.jacobian(self.f, *args)))
        spec, (_, blocks) = self._run(args, JacobianSpecialization)
        return self._mirror(spec, args, blocks)

    def __call__(self, *args):
        return self.withgradient(*args).val

    def derive(self, *args):
        """Closed forms at these example arguments (see :func:`zygote_sym.derive`)."""
        return api.derive(self.f, *args)

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


def compile(f=None, *, wrt=None, max_specializations=8, backend="auto"):
    """Compile f for repeated gradient calls (decorator or function).

    `c = compile(f)`; `c.gradient(*args)`, `c.withgradient(*args)`, `c.jacobian(*args)`,
    `c(*args)` (the value), `c.source` (the generated Python), `c.stages()` (every
    pass), `c.derive(*args)`.  `wrt` (an argument index or a tuple of them) limits
    the gradient to those arguments (the others give None and cost nothing), like
    JAX's `argnums`.  The first call with a new input signature traces,
    differentiates, generates and compiles; later calls run only the kernel, after
    checking the guards and captured state (module docstring), from any number of
    threads at once.  `backend`: "numpy" (NumPy/numexpr kernels), "fused" (a Numba
    loop per elementwise-plus-reduction region, compiled before the first call:
    `pip install numba`), or "auto": NumPy at once, fused from the background once
    a kernel has run for a few seconds in all (codegen/fused_tier.py); `c.backend` is
    the one the latest call ran, `c.wait_fused()` waits for the swap.

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
        return lambda fn: Compiled(fn, wrt, max_specializations, backend)
    return Compiled(f, wrt, max_specializations, backend)
