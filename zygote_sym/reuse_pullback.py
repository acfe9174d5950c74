"""Trace reuse for `zygote_sym.pullback` (reuse.py's contract; this module holds
what only a pullback needs): one trace of f gives a guard kernel, run when
`pullback` is called, and a VJP kernel with the output cotangent as an input,
run by every `back(dy)`, which is what a new trace's back runs.

The primal y is f run on the arguments, not a kernel's value.  Measured (the
examples of tests/test_reuse.py): a kernel's y differs from the traced y in the
last bits wherever codegen changes the order of operations (`np.mean` as a sum
times 1/n, a polynomial as SymPy orders its terms, numexpr's `exp`/`cos` against
NumPy's SIMD loops: up to 2e-11 on 10^5 points).  A trace computes each value
with the NumPy operation f performs, so f run on the same numbers gives the
traced y bit for bit, except where the trace composes a library function of
other operations: of 45 NumPy/SciPy functions at 30 random points each, three
differ in the last bit, np.dot of two vectors (at 18 points), np.linalg.norm
(14) and scipy.special.log_softmax (28).  So f's y is checked against a trace:
at the trace itself (f run on copies of the arguments), at the first VERIFIED
calls the kernels serve and then at the 8th, 16th, 32nd, ... (f traced once
more: a loop of n calls pays about VERIFIED + log2(n) traces).  A y that differs in
any bit, or a change f makes to its arguments (a traced f cannot change them, f
itself would), leaves the pullback of f traced at every call.  This is a check
at points, not a proof: a composed value that agrees with the library at every
checked point can differ at another, in the last bit, and y is then what f
itself computes (NumPy's np.dot), not the trace's composition.  A branch f
takes is recorded by the trace's guards, so arguments that pass them take the
path the check took.  Where Python raises and a trace takes NumPy's value
(`1/x` at x = 0.0 is inf traced, ZeroDivisionError run), or f's output has
another structure, that call is traced (`Retrace`).

`back` keeps copies of the array arguments it reads, so it gives the cotangents
at the point y was computed however the caller changes those arrays afterwards
(as tracing's back does), from any number of threads.
"""
import threading
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from . import eager, pytree
from .codegen.kernel import Kernel
from .eager import snapshot
from .specialize import Specialization, Unreusable
from .trace.call import trace_call
from .trace.tracer import Tracer
from .transform import (as_leaf_result, as_result, flat_cotangent, is_complex_node,
                        seeded_kernel, spread)


VERIFIED = 4  # reused calls whose y is checked against a new trace, before the doubling ones


class Retrace(Unreusable):
    """f run on a call's arguments raised, or returned another structure (Python
    raises at 1/0.0 where a trace takes NumPy's inf; `(-1.0)**0.5` is complex):
    this call is traced, the kernels stay."""


def _run_f(f, args):
    """f(*args) as a trace computes it: NumPy's floating-point errors give inf/nan
    quietly (a trace warns of none), Python's errors give a `Retrace`."""
    try:
        with np.errstate(all="ignore"):
            return f(*args)
    except Exception as e:  # noqa: BLE001 - f's own error: its trace raises it again
        raise Retrace(f"f run on the arguments raised {type(e).__name__}: {e}") from e


def primal(v: Any) -> Any:
    """One leaf of y as `zygote_sym.pullback` returns it (numbers give floats,
    arrays float arrays: eager.py's rule, shared so both paths agree)."""
    return as_result(v, v) if isinstance(v, (int, float, np.ndarray, np.number)) else v


def _same(a, b):
    """Are two leaves of y the same in every bit (type, dtype, shape, NaN payloads,
    signed zeros)?"""
    return type(a) is type(b) and np.shape(a) == np.shape(b) and \
        getattr(a, "dtype", None) == getattr(b, "dtype", None) and \
        np.asarray(a).tobytes() == np.asarray(b).tobytes()


def _has_complex(node):
    return is_complex_node(node) or any(_has_complex(c) for c in node.children)


def _flat(args):
    """(trees, leaves) of the arguments as pytrees."""
    flat: list = []
    trees = [pytree.flatten(a, f"args[{i}]", flat) for i, a in enumerate(args)]
    return trees, [v for _, v in flat]


class PullbackSpecialization(Specialization):
    """One trace of f for `zygote_sym.pullback`: its guards as a kernel of their
    own, and a VJP kernel over (inputs, output cotangents); always reuse's trace
    (arrays f reaches are constants, checked by the watch)."""

    floats_only = scalar_only = False

    def __init__(self, f: Callable[..., Any], args: Tuple[Any, ...], wrt: Any = None,
                 mode: str = "numpy") -> None:
        self._args: Optional[Tuple[Any, ...]] = args  # (for the check of y at the trace)
        super().__init__(f, args, None, mode, trace_call, reuse=True)

    def _build(self, traced, guards, wrt, f):
        self.tier, args, self._args = None, self._args, None  # (seeded kernels stay NumPy)
        if _has_complex(traced.out_tree):
            raise Unreusable("f returns a complex value")
        # the VJP kernel has no guards: `run` checked them on the very values it keeps
        self.kernel, self.seeds, self.grads, _ = seeded_kernel(
            traced, traced.out_exprs, traced.leaves, "pullback")
        self.check = Kernel([], self.inputs, self.values, name="pullback_guards",
                            guards=guards) if guards else None
        self.out_key = pytree.structure_key(traced.out_tree)
        y = [primal(v) for v in traced.out_values]
        # the call that traced f returns the traced y (f is not run again); `run` hands
        # it to the first call of the thread that made this specialization: that call
        self._first: Optional[Tuple[int, List[Any]]] = (threading.get_ident(), y)
        if self.unsafe is None:
            self.unsafe = self._plain_differs(f, args, y)
        self.served = 0  # reused calls so far (the checked ones: `verify`)

    def verify(self, f: Callable[..., Any], args: Tuple[Any, ...], y: List[Any]) -> None:
        """At the first VERIFIED reused calls, then at the 8th, 16th, 32nd, ...: f
        traced there must give `y` (f run there), else Unreusable (module docstring).
        A trace costs what `zygote_sym.pullback` cost before reuse: a loop of n
        calls pays about VERIFIED + log2(n) of them."""
        self.served = n = self.served + 1  # (a lost count between threads: a check less)
        if n > VERIFIED and n & (n - 1):
            return
        try:
            traced = trace_call(f, args)
        except Exception as e:  # noqa: BLE001 - f's own error: its trace raises it again
            raise Retrace(f"f traced on the arguments raised {type(e).__name__}") from e
        if not all(map(_same, y, map(primal, traced.out_values))):
            raise Unreusable("f's value differs from its traced value in the last bits, "
                             "so f run again would not give tracing's y")

    def _plain_differs(self, f, args, y):
        """Why f run on copies of `args` is not the trace's y, or None (module docstring)."""
        trees, leaves = _flat(args)
        run = iter(snapshot(leaves))
        copies = [pytree.rebuild(t, run) for t in trees]
        ys = self.plain_leaves(_run_f(f, copies))  # (a Retrace: f is traced at this call)
        bad = [i for i, (a, b) in enumerate(zip(ys, y)) if not _same(a, b)]
        if bad:
            return f"f's value differs from its traced value in the last bits (output leaf " \
                f"{bad[0]}), so f run again would not give tracing's y"
        try:  # (a trace of f cannot change its arguments: f itself would)
            trees_after, after = _flat(copies)
        except TypeError:  # f put what a pytree cannot hold into an argument
            return "f changes its arguments in place"
        if list(map(pytree.structure_key, trees)) != list(map(pytree.structure_key, trees_after)) \
                or not all(map(_same, after, leaves)):
            return "f changes its arguments in place"
        return None

    def plain_leaves(self, out: Any) -> List[Any]:
        """The leaves of y from f's own output, checked against the trace's output."""
        flat: list = []
        try:
            tree = pytree.flatten(out, "output", flat)
        except TypeError as e:
            raise Retrace(f"f's output cannot be flattened: {e}") from e
        if pytree.structure_key(tree) != self.out_key or any(
                np.shape(v) != s.shape for (_, v), s in zip(flat, self.seeds)):
            raise Retrace("f's output has another structure than its trace's")
        return [primal(v) for _, v in flat]

    def run(self, leaves, with_value=True):
        """The point of this call (a `_Point`), or None when a guard fails."""
        first = self._first
        if first is not None and first[0] == threading.get_ident():
            self._first = None
        else:
            first = None
        if self.check is not None and self.check(*leaves, *self.consts) is None:
            return None
        return _Point(self, snapshot(leaves), None if first is None else first[1])


class _Point:
    """A call's inputs (copies of its arrays) and, for the call that traced f, y."""

    def __init__(self, spec: PullbackSpecialization, leaves: List[Any],
                 y: Optional[List[Any]]) -> None:
        self.spec, self.leaves, self.y = spec, leaves, y

    def pullback(self, f: Callable[..., Any],
                 args: Tuple[Any, ...]) -> Tuple[Any, Callable[[Any], Any]]:
        spec, leaves = self.spec, self.leaves
        if self.y is not None:
            y = pytree.rebuild(spec.traced.out_tree, iter(self.y))
        else:  # f on the arguments: tracing's y bit for bit (module docstring)
            ys = spec.plain_leaves(_run_f(f, args))
            spec.verify(f, args, ys)
            y = pytree.rebuild(spec.traced.out_tree, iter(ys))
        kernel, seeds, grads, tree = spec.kernel, spec.seeds, spec.grads, spec.traced.out_tree
        inputs = [*leaves, *spec.consts]

        def back(dy: Any) -> Any:
            cts = flat_cotangent(dy, seeds, tree)
            if any(isinstance(d, Tracer) for d in cts):  # a traced dy: a nested derivative
                return _traced_back(f, spec.traced.arg_trees, leaves, dy)
            values = kernel(*inputs, *cts)
            shaped = [as_leaf_result(gr, v) for gr, v in zip(spread(grads, values), leaves)]
            return pytree.mirror_all(spec.traced.arg_trees, shaped)
        back.source = kernel.source  # type: ignore[attr-defined]
        return y, back


def _traced_back(f, trees, leaves, dy):
    """back(dy) by a new trace of f at the kept arguments: a traced cotangent's
    result must stay traced (nesting)."""
    run = iter(leaves)
    return eager.pullback(f, tuple(pytree.rebuild(t, run) for t in trees))[1](dy)
