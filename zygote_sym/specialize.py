"""Specializations: one trace of f each, with its kernel, its guards and the
state it assumes (the contract is in compiled.py's docstring).

`Specialization` gives the value and gradient of a scalar f, `JacobianSpecialization`
the Jacobian of any f; `BatchedSpecialization` evaluates a function written for scalars
over arrays, one `_Branch` (a traced Python branch) at a time.
"""
import sys
import threading
import warnings
from typing import Any

import numpy as np

from . import pytree
from .ad.backward import grad
from .codegen.fused_tier import Tier, stand_in
from .codegen.kernel import Kernel
from .errors import NoRuleError, RandomDrawError, TracerConversionError
from .ir.nodes import Leaf, postorder, substitute
from .ir.ops import ArrayOp, BroadcastTo, Where
from .trace.call import Watch, trace_call
from .trace.handlers.indexing import windows
from .trace.capture import Reach
from .transform import jacobian_blocks, scalar_output, seeded_kernel


REUSE_HELD_BYTES = 16 * 2**20  # (reuse) arrays f reaches, copied by its watch: at most this


class _Elementwise(Exception):
    """f returned an array from an elementwise DAG: evaluate it as a field."""


class Unreusable(Exception):
    """(reuse) f ran, but its trace cannot give zygote_sym.gradient's result:
    the caller traces f as zygote_sym.gradient always did."""


class _NotElementwise(Exception):
    """The scalar trace of f has structural operations: no gradient field."""


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


def _unsafe(traced, pre):
    """Why running this trace's kernel again is not calling f again (a draw, a clock
    read, a change f makes to state: what zygote_sym.gradient must repeat), or None."""
    if traced.calls:
        kind, name, where = traced.calls[0]
        doing = {"clock": "reads the clock", "io": "does I/O"}.get(kind, "draws random numbers")
        return f"f {doing} ({name} {where})"
    if traced.blind:
        return "another profiler (sys.setprofile) hides random draws and clock reads"
    changed = [w for _, w in pre.changes()]
    return f"f changes {changed[0]}" if changed else None


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

    def __init__(self, f, args, wrt=None, mode="numpy", trace=trace_call, reuse=False):
        self.mode, pre = mode, _state_watch(f)  # (pre: what f itself changes while traced)
        with windows():  # a slice X[i:i + B] is one kernel for every offset i
            if reuse:  # zygote_sym.gradient's own trace: arrays f reaches are checked by value
                traced = trace(f, args, calls=True)
            else:
                try:  # captured float arrays become kernel inputs, read at every call
                    traced = trace(f, args, capture=True, calls=True)
                except (TracerConversionError, NoRuleError, AttributeError):
                    traced = trace(f, args, calls=True)  # f converts one: checked by value
        if not reuse:
            self._setup(f, args, wrt, traced, pre, reuse)
            return
        try:  # f ran: an error from here on is ours, and f is traced without us
            self._setup(f, args, wrt, traced, pre, reuse)
        except Exception as e:  # noqa: BLE001 - given to the caller as the reason
            raise Unreusable(f"{type(e).__name__}: {e}") from e

    def _setup(self, f, args, wrt, traced, pre, reuse):
        self.unsafe = None  # (reuse, for zygote_sym.gradient: why this trace is used once)
        if reuse:
            self.unsafe = _unsafe(traced, pre)
        else:
            _check_calls(f, traced)
        if self.scalar_only and not _scalar(traced) and any(np.ndim(a) for a in args) \
                and _elementwise(traced):
            raise _Elementwise
        self.traced = traced
        self.watch = _state_watch(f, traced, pre)
        traced.reach = None  # what f reached need not stay alive with the kernel
        if not reuse:
            _side_effects(f, pre)
        self.examples = traced.leaf_values
        self.captured = [(s, s.get()) for _, s in traced.captured]
        self.consts = [traced.trace.const_values[c] for c in traced.consts]
        held = sum(np.size(v) * 8 for v in self.consts)
        if reuse and self.unsafe is None and held > REUSE_HELD_BYTES:
            # its watch would copy them and compare them at every call (no capture here)
            self.unsafe = f"f reaches {held / 2**20:.0f} MB of arrays it does not take as " \
                "arguments (compile(f) reads them at every call without a copy)"
        self.inputs = traced.leaves + traced.consts + [leaf for leaf, _ in traced.captured]
        self.values = self.examples + self.consts + [v for _, v in self.captured]
        self.guards = traced.guards
        self._build(traced, traced.guards, wrt, f)
        # the captured arrays are read from their places: the first ones need not stay alive
        self.captured, self.values = [(s, None) for s, _ in self.captured], None

    scalar_only = True
    dispatch: Any = None  # array_dispatch.py: its dispatchers, once made (False: none can be)

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
        self.tiers = [self.tier]
        # gradient() alone need not compute f's value: an array kernel without it is made
        # at the first such call (B5, a logistic loss: its softplus and sum were 15% of
        # the kernel; BatchedSpecialization keys its kernels by with_value the same way)
        self.grad_kernel = None
        self._without_value = (nodes[1:], [stand_in(v) for v in self.values], guards,
                               _name(f)) if self.kernel.backend == "numpy" and len(nodes) > 1 \
            else None
        self._making = threading.Lock()

    def gradient_kernel(self):
        """The kernel of the gradients alone (made once, by the first thread to ask;
        its own tier: "auto" times and swaps it as it does the kernel)."""
        with self._making:
            if self.grad_kernel is None:
                nodes, stand_ins, guards, name = self._without_value
                self.grad_kernel = Kernel(nodes, self.inputs, stand_ins, guards=guards,
                                          backend="numpy")
                self.tiers.append(Tier(self.mode, self.grad_kernel, nodes, self.inputs,
                                       stand_ins, guards,
                                       lambda k: setattr(self, "grad_kernel", k), name))
        return self.grad_kernel

    def run(self, leaves, with_value=True):
        """(value, per-leaf gradients) or None when a guard fails; the value is
        None when not asked for and the gradients' own kernel ran."""
        values = (*leaves, *self.consts, *[s.get() for s, _ in self.captured])
        if with_value or self._without_value is None:
            res = self.kernel(*values)
        else:
            res = (self.grad_kernel or self.gradient_kernel())(*values)
            res = None if res is None else (None, *res)
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

    floats_only, unsafe = False, None

    def __init__(self, f, args, wrt=None, max_branches=8, mode="numpy"):
        self.f, self.wrt, self.max_branches, self.mode = f, wrt, max_branches, mode
        self.shape = np.broadcast_shapes(*[np.shape(a) for a in args])
        self.branches, self._lock = [], threading.Lock()
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
        with self._lock:  # (threads that miss at once may each trace: a duplicate is harmless)
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
        branches = list(self.branches)  # this call's own list: other threads may add theirs
        i = 0
        while todo.any():
            if i == len(branches):  # elements no known branch takes
                index = np.unravel_index(np.argmax(todo), self.shape)
                branches.append(self._add_branch(leaves, index))
                todo[index] = False  # never loop on an element its own trace rejects
            branch = branches[i]
            i += 1
            take = branch.mask(leaves, self.shape) & (todo | (i == len(branches)))
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
