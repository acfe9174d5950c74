"""The fused backend: each elementwise-plus-reduction region of the DAG as
ONE loop compiled by Numba, with NumPy calls (matmul, solve, ...) between.

A node is a *loop node* when it is elementwise over a non-scalar shape and
every operand is a scalar or has its shape, or when it is a slice `x[a:b]`
of a 1-D array, a scatter of one into zeros (the slice's pullback), or a
scalar broadcast to a shape.  A full sum of a loop node is a *reduction*,
accumulated in the loop that computes its operand.  Everything else is a
*driver node*: the Python function that calls the loops computes it with
NumPy, exactly as the NumPy backend prints it (printers.py).  So are `exp`
and `log` over arrays, and `sin` and `cos` by vecmath (fused_between): theirs
are SIMD loops, a Numba loop's are scalar libm calls.  So is a group of at
most _SMALL elements when there are larger ones (a loop call costs more).

Loop nodes that feed each other (same shape, or linked by 1-D slices and
scatters) form a group; a group is cut into passes wherever a value must
first leave the loop (a reduction or a driver node read back inside); a
node only loops read runs in the latest pass its readers allow, so a value
of the inputs is recomputed where it is read rather than written out.  One
pass is one loop over the longest of its outputs: a slice is read at an index
offset (`x[1:]` at element i is x[i + 1]) and a scatter is a conditional
(`ct[i - a] if a <= i < b else 0.0`), so the value and every cotangent of
Rosenbrock's sum are one pass over memory.  Reads past an operand's ends are
clamped (their values are never used: the conditional drops them).

A loop writes its arrays into arguments: new arrays for the kernel's
outputs, per-thread *scratch* arrays reused call after call for the others
(and `np.exp(..., out=)` of them): no 8 MB temporary is mmapped and
page-faulted in again on every call (fused_between.Scratch).

All-scalar traces are the `math` kernel's source (emit.py) compiled by
Numba: one call, no Python arithmetic.

Semantics are the NumPy backend's: no fast-math flags, NumPy's error model
(inf/nan, never ZeroDivisionError), NumPy's ufuncs for functions where
`math` differs (fused_jit.LOOP_NAMES).  The one exception is a sum's
accumulating add (`_acc`), which may be reassociated so that the loop
vectorises: sums are added in SIMD lanes (NumPy's are pairwise), so the two
agree to rounding, and NaN/inf propagate as in any order (fused_jit._acc).
"""
import logging
import traceback
from typing import Any, Sequence

import numpy as np
import sympy as sp

from ..ir.nodes import Leaf, Shapes, children, postorder
from ..ir.ops import ArrayOp, BroadcastTo, Index, Scatter, Sum, SumTo, Where
from ..ir.special import nonfinite
from . import fused_jit, vecmath
from .fused_between import (BETWEEN_LOOPS, VECMATH, VM_NAMESPACE, Scratch, in_place,
                            into_scratch, sincos_pairs, vecmath_line)
from .emit import compile_source, generate
from .fuse import is_boolean
from .passes import fold_constants
from .printers import ATOM, Printer

log = logging.getLogger("zygote_sym.fused")

_THE_INPUTS = (np.linalg.LinAlgError, MemoryError, RecursionError)
_MAX_OFFSETS = 16  # distinct index offsets of one node in one loop: more is no fusion
_SMALL = 8  # elements: a group no longer than this is NumPy calls, not a loop (_Plan)


class Unfusable(Exception):
    """This kernel has nothing a fused loop does better (or cannot be one)."""


class LoopPrinter(Printer):
    """Scalar expressions inside a Numba loop: the `math` printer with
    fused_jit's name table (NumPy's scalar ufuncs, the runtime helpers)."""

    def __init__(self):
        super().__init__("math")
        self.names = fused_jit.LOOP_NAMES


def _slice(key, ndim):
    """(start, stop) of a 1-D key `a:b` with step 1, else None."""
    if ndim != 1 or "," in key or key.count(":") != 1:
        return None
    a, b = key.split(":")
    return (int(a), int(b)) if a and b else None


def _elementwise_ok(node):
    if node.func in BETWEEN_LOOPS:
        return False  # a driver node: NumPy's SIMD function on the whole array
    if isinstance(node, nonfinite):
        return False  # one truth value for a whole array: a reduction, in NumPy
    if isinstance(node, ArrayOp):
        return isinstance(node, Where)
    if isinstance(node, (sp.Add, sp.Mul, sp.Pow, sp.Mod, sp.core.relational.Relational,
                         sp.And, sp.Or, sp.Not)):
        return True
    return node.func in fused_jit.LOOP_NAMES


class _Plan:
    """Which nodes are loop nodes, reductions and driver nodes; the loops."""

    def __init__(self, order, outputs, guard_nodes):
        self.shapes = Shapes()
        find = self._groups(order, frozenset())
        # a group of a few elements (B3's 3-vector gradient assembled from
        # its sums) is cheaper as NumPy calls than as a loop (a numba call
        # and a _flat per array: ~2 µs); kept as a loop when it is all there is
        groups = {}
        for node in order:
            if self.kind[node] == "loop":
                groups.setdefault(find(node), []).append(node)
        small = [ns for ns in groups.values() if max(map(self.size, ns)) <= _SMALL]
        if small and len(small) < len(groups):
            find = self._groups(order, frozenset(n for ns in small for n in ns))
        self._passes(order, outputs, guard_nodes, find)

    def _groups(self, order, demoted):
        """Classify the nodes (self.kind; the nodes of `demoted` are driver
        nodes) and return `find`: a loop node's group."""
        shapes = self.shapes
        self.kind = {}  # node -> "leaf", "const", "loop", "red" (a sum in a loop) or "py"
        parent = {}  # union-find over loop nodes: the groups

        def find(n):
            while parent[n] is not n:
                parent[n] = parent[parent[n]]
                n = parent[n]
            return n

        for node in order:
            kids = children(node)
            if not kids:
                self.kind[node] = "leaf" if isinstance(node, Leaf) else "const"
                continue
            shape = shapes(node)
            kind = "py"
            if node in demoted:
                pass
            elif shape and 0 not in shape:
                if isinstance(node, Index) and len(kids) == 1 and \
                        _slice(node.key, len(shapes(kids[0]))) is not None:
                    kind = "loop"
                elif isinstance(node, Scatter) and len(kids) == 1 and \
                        _slice(node.params[0], len(shape)) is not None:
                    kind = "loop"
                elif isinstance(node, BroadcastTo) and shapes(kids[0]) in ((), shape):
                    kind = "loop"
                elif _elementwise_ok(node) and all(shapes(c) in ((), shape) for c in kids):
                    kind = "loop"
            elif isinstance(node, (Sum, SumTo)) and shape == () and \
                    self.kind.get(kids[0]) == "loop" and not is_boolean(kids[0]) and (
                    isinstance(node, SumTo) or not node.params[1]):
                kind = "red"
            self.kind[node] = kind
            if kind == "loop":
                parent[node] = node
                for c in kids:
                    if self.kind[c] == "loop":
                        parent[find(c)] = find(node)
        return find

    def _passes(self, order, outputs, guard_nodes, find):
        """The passes (self.epoch, self.ready, self.loops) and the loop nodes
        that leave their loop as arrays (self.materialized)."""
        # passes: a loop node runs in the first pass after every value it
        # reads from outside the loop is ready (epoch); ready[n]: passes done
        # before the driver holds n
        self.epoch, ready = {}, {}
        for node in order:
            kind, kids = self.kind[node], children(node)
            if kind in ("leaf", "const"):
                ready[node] = 0
            elif kind == "loop":
                e = max([self.epoch[c] if self.kind[c] == "loop" else ready[c] for c in kids],
                        default=0)
                self.epoch[node], ready[node] = e, e + 1
            elif kind == "red":
                self.epoch[node] = self.epoch[kids[0]]
                ready[node] = self.epoch[node] + 1
            else:
                ready[node] = max(ready[c] for c in kids)
        # ...and as late as its readers allow when only loop nodes read it: a
        # value of the inputs (`-y`) is then recomputed in the pass that reads
        # it, not written out by an earlier pass and read back
        self.readers = readers = {}  # node -> the nodes that read it
        kept = set(outputs)
        for node in order:
            for c in children(node):
                readers.setdefault(c, []).append(node)
        for node in reversed(order):
            users = readers.get(node, ())
            if self.kind[node] == "loop" and users and node not in kept and \
                    all(self.kind[u] == "loop" for u in users):
                self.epoch[node] = min(self.epoch[u] for u in users)
                ready[node] = self.epoch[node] + 1
        self.ready = ready
        self.loops = {}  # (group, epoch) -> nodes of the pass, in order
        for node in order:
            if self.kind[node] in ("loop", "red"):
                base = node if self.kind[node] == "loop" else children(node)[0]
                self.loops.setdefault((find(base), self.epoch[node]), []).append(node)
        if not self.loops:
            raise Unfusable("no elementwise work over arrays")
        # ...and arithmetic on values of that kind (`y**2`, read by the pass
        # before exp(-y**2) and by the one after) is recomputed by every pass
        # that reads it: a multiply is cheaper than an array written out and
        # read back (B2, 10**6 points: 29 -> 27 ms and 14 -> 11 ms in two runs)
        outs, self.recompute = set(outputs) | set(guard_nodes), set()
        for node in order:
            if self.kind[node] == "loop" and node not in outs and _cheap(node) and all(
                    self.kind[c] != "loop" or c in self.recompute for c in children(node)):
                self.recompute.add(node)
        # a loop node leaves its loop (an array) when anything outside reads it
        self.materialized = set()
        for node in order:
            for c in children(node):
                if self.kind[c] == "loop" and (self.kind[node] == "py" or (
                        self.kind[node] == "loop" and self.epoch[node] != self.epoch[c]
                        and c not in self.recompute)):
                    self.materialized.add(c)
        self.materialized |= {n for n in outs if self.kind.get(n) == "loop"}

    def size(self, node):
        return int(np.prod(self.shapes(node)))


def _cheap(node):
    """Is the node a few instructions (sums, products, small integer powers)?"""
    return isinstance(node, (sp.Add, sp.Mul)) or isinstance(node, sp.Pow) and \
        node.exp in (2, 3, -1)


class _Loop:
    """Source of one pass: `def _loopK(inputs..., outputs...)` -> (sums...,),
    writing its arrays into the output arrays the driver passes (new ones
    for the kernel's outputs, scratch for the others: fused_between)."""

    def __init__(self, name, nodes, plan, printer, epoch):
        self.name, self.plan, self.printer, self.epoch = name, plan, printer, epoch
        members = set(nodes) | plan.recompute
        roots = [n for n in nodes if n in plan.materialized or plan.kind[n] == "red"]
        self.length = max(plan.size(n if plan.kind[n] == "loop" else children(n)[0])
                          for n in roots)
        need = {}  # node -> offsets it is evaluated at
        todo = [(n if plan.kind[n] == "loop" else children(n)[0], 0) for n in roots]
        while todo:
            node, k = todo.pop()
            if k in need.setdefault(node, set()):
                continue
            need[node].add(k)
            if len(need[node]) > _MAX_OFFSETS:
                raise Unfusable("too many index offsets")
            if node not in members:
                continue  # read from an input array
            for c in children(node):
                if plan.kind[c] in ("const",):
                    continue
                if isinstance(node, Index):
                    todo.append((c, k + _slice(node.key, 1)[0]))
                elif isinstance(node, Scatter):
                    todo.append((c, k - _slice(node.params[0], 1)[0]))
                else:
                    todo.append((c, k))
        self.arrays, self.scalars = [], []
        self.order = [(n, k) for n in postorder(list(need)) if n in members and n in need
                      for k in sorted(need[n])]
        # the range of i where every read is inside its array: there the body
        # reads without clamping (the loop is peeled: clamped edges, plain middle)
        self.lo, self.hi, self.clamp = 0, self.length, True
        self.body = self._body()  # (also records the reads and sets lo, hi)
        self.clamp = False
        self.middle = self._body()
        self.outputs = [n for n in roots if n in plan.materialized]
        self.sums = [n for n in roots if plan.kind[n] == "red"]

    def _body(self):
        self.var, body = {}, []
        for node, k in self.order:
            body.append(f"_v{self._id(node)}{_suffix(k)} = {self._expr(node, k)}")
            self.var[(node, k)] = f"_v{self._id(node)}{_suffix(k)}"
        return body

    def _id(self, node):
        return self.plan.index[node]

    def _operand(self, node, k):
        """Code of `node` at offset k inside the loop."""
        plan = self.plan
        if plan.kind[node] == "const":
            return self.printer.render(node, None)[0]
        if (node, k) in self.var:
            return self.var[(node, k)]
        if plan.shapes(node) == ():  # a scalar input, loop-invariant
            if node not in self.scalars:
                self.scalars.append(node)
            return f"_s{self._id(node)}"
        if node not in self.arrays:
            self.arrays.append(node)
        n, i = plan.size(node), f"i + {k}" if k > 0 else f"i - {-k}" if k < 0 else "i"
        if self.clamp and (k < 0 or self.length - 1 + k > n - 1):
            self.lo, self.hi = max(self.lo, -k), min(self.hi, n - k)
            i = f"min(max({i}, 0), {n - 1})"
        return f"_x{self._id(node)}[{i}]"

    def _expr(self, node, k):
        if isinstance(node, Index):
            return self._operand(children(node)[0], k + _slice(node.key, 1)[0])
        if isinstance(node, Scatter):
            a, b = _slice(node.params[0], 1)
            ct = self._operand(children(node)[0], k - a)
            if not self.clamp and a <= self.lo + k and self.hi - 1 + k < b:
                return ct  # inside the scatter's slice for every i of the middle range
            return f"{ct} if {a} <= i + {k} < {b} else 0.0"
        if isinstance(node, BroadcastTo):
            return self._operand(children(node)[0], k)
        return self.printer.render(node, lambda c: (self._operand(c, k), ATOM)
                                   if self.plan.kind[c] != "const"
                                   else self.printer.render(c, None))[0]

    def source(self):
        plan, n = self.plan, self.length
        args = [f"_x{self._id(a)}" for a in self.arrays] + [
            f"_s{self._id(s)}" for s in self.scalars] + [f"_o{self._id(o)}" for o in self.outputs]
        lines = [f"def {self.name}({', '.join(args)}):"]
        for s in self.sums:
            lines.append(f"    _r{self._id(s)} = 0.0")
        lo, hi = min(self.lo, n), max(min(self.hi, n), min(self.lo, n))
        parts = [(0, lo, self.body), (lo, hi, self.middle), (hi, n, self.body)] \
            if self.body != self.middle else [(0, n, self.body)]
        for start, stop, body in parts:
            if start >= stop:
                continue
            lines.append(f"    for i in range({start}, {stop}):")
            lines += ["        " + b for b in body]
            for o in self.outputs:
                cond = f"if i < {plan.size(o)}: " if plan.size(o) < stop else ""
                lines.append(f"        {cond}_o{self._id(o)}[i] = {self.var[(o, 0)]}")
            for s in self.sums:
                c = children(s)[0]
                cond = f"if i < {plan.size(c)}: " if plan.size(c) < stop else ""
                r = f"_r{self._id(s)}"  # _acc: the one reassociable add (fused_jit._acc)
                lines.append(f"        {cond}{r} = _acc({r}, {self.var[(c, 0)]})")
        lines.append(f"    return ({''.join(f'_r{self._id(s)}, ' for s in self.sums)})")
        return "\n".join(lines) + "\n"

    def signature(self):
        return tuple([fused_jit.typeof_array(is_boolean(a)) for a in self.arrays]
                     + [fused_jit.typeof_scalar(is_boolean(s)) for s in self.scalars]
                     + [fused_jit.typeof_output(is_boolean(o)) for o in self.outputs])


def _suffix(k):
    return "" if k == 0 else f"_p{k}" if k > 0 else f"_m{-k}"


def _array_kernel(outputs, leaves, int_leaves, guards, name, scratch):
    """(driver source, extra names, loop source, {loop name: signature});
    the driver's temporaries are slots of `scratch` (its first argument,
    `_S`, holds them when there are any)."""
    roots = fold_constants([gd.expr for gd in guards] + list(outputs))
    guard_exprs, outputs = roots[:len(guards)], roots[len(guards):]
    expected = {e: gd.outcome for e, gd in zip(guard_exprs, guards) if gd.check is None}
    checks = {}
    for e, gd in zip(guard_exprs, guards):
        if gd.check is not None:
            checks.setdefault(e, []).append(gd.check)
    order = postorder(list(expected) + list(checks) + list(outputs))
    plan = _Plan(order, outputs, list(expected) + list(checks))
    plan.index = {n: i for i, n in enumerate(order)}
    printer, lp = Printer("numpy"), LoopPrinter()
    loops = [_Loop(f"_loop{j}", nodes, plan, lp, epoch) for j, ((_, epoch), nodes) in
             enumerate(sorted(plan.loops.items(), key=lambda kv: kv[0][1]))]
    code, extra, lines = {}, {}, []
    flat = {}  # node -> a name of its value as a loop reads it (no _flat needed)
    kept = {*outputs, *checks, *expected}
    in_scratch = set()  # nodes whose value is (or may be a view of) a scratch array
    for j, leaf in enumerate(leaves):
        code[leaf] = f"_a{j}"
        if leaf in int_leaves:
            lines.append(f"_a{j} = np.asarray(_a{j}, dtype=float)")

    def lookup(node):
        return (code[node], ATOM) if node in code else printer.render(node, lookup)

    def emit_loop(loop):
        ins = [flat.get(a) or f"_flat({code[a]}, {is_boolean(a)})" for a in loop.arrays] + \
              [f"{'bool' if is_boolean(s) else 'float'}({code[s]})" for s in loop.scalars]
        for o in loop.outputs:
            size, dtype = plan.size(o), "np.bool_" if is_boolean(o) else "np.float64"
            if o in kept:  # returned: a new array on every call
                lines.append(f"_o{plan.index[o]} = np.empty({size}, {dtype})")
            else:
                lines.append(f"_o{plan.index[o]} = _S[{scratch.slot(size, dtype)}]")
                in_scratch.add(o)
        ins += [f"_o{plan.index[o]}" for o in loop.outputs]
        sums = "".join(f"_t{plan.index[s]}, " for s in loop.sums)
        lines.append(f"{sums}{'= ' if sums else ''}{loop.name}({', '.join(ins)})")
        for o in loop.outputs:
            shape = plan.shapes(o)
            code[o], flat[o] = f"_t{plan.index[o]}", f"_o{plan.index[o]}"
            lines.append(f"_t{plan.index[o]} = _o{plan.index[o]}" + (
                f".reshape({shape!r})" if len(shape) > 1 else ""))
        for s in loop.sums:
            code[s] = f"_t{plan.index[s]}"

    def check(node):
        for fn in checks.get(node, ()):
            extra[f"_g{len(extra)}"] = fn
            lines.append(f"if not _g{len(extra) - 1}({code[node]}): return None")
    for node in list(expected) + list(checks):
        if plan.kind[node] in ("loop", "red"):
            raise Unfusable("a guard on a value computed in a loop")
    for leaf in leaves:
        check(leaf)
    pairs = sincos_pairs(order, plan, {*checks, *expected})
    # stage E: the driver nodes ready after E passes, then the passes of epoch E
    stages = max(plan.ready.values()) + 1
    for stage in range(stages):
        for node in order:
            if plan.kind[node] != "py" or plan.ready[node] != stage or node in code:
                continue
            if node.func in VECMATH and plan.shapes(node):
                lines.append(vecmath_line(node, pairs.get(node), code, flat, plan, kept,
                                          scratch))
                in_scratch.update(n for n in (node, pairs.get(node)) if n in code
                                  and flat.get(n, "").startswith("_S["))
                check(node)
                continue
            text = printer.render(node, lookup)[0]
            if node in expected:
                lines.append(f"if {'not ' if expected[node] else ''}({text}): return None")
                code[node] = repr(expected[node])
                continue
            code[node] = f"_t{plan.index[node]}"
            kid = children(node)[0]
            if node.func in BETWEEN_LOOPS and kid in flat:
                new = in_place(node, text, code, flat, plan, kept)
                if new == text:  # (not into its operand's array: into scratch, if not kept)
                    new = into_scratch(node, text, code, flat, plan, kept, scratch)
                if new != text:  # written with out=: into its operand's array or scratch
                    in_scratch.add(node)
                text = new
            elif any(c in in_scratch for c in children(node)):
                in_scratch.add(node)  # (NumPy may return a view: `_t5.T`, `_t5[1:, :]`)
            lines.append(f"_t{plan.index[node]} = {text}")
            check(node)
        for loop in loops:
            if loop.epoch == stage:
                emit_loop(loop)
    # an output computed from scratch by NumPy may be a view of it: copied then
    ret = ", ".join(f"_unshared({lookup(o)[0]}, _S)" if o in in_scratch else lookup(o)[0]
                    for o in outputs)
    args = ", ".join(["_S"] * bool(scratch.slots) + [f"_a{j}" for j in range(len(leaves))])
    body = "\n".join("    " + ln for ln in lines)
    driver = f"def {name}({args}):\n{body}\n    return ({ret}{',' if len(outputs) == 1 else ''})\n"
    loop_src = "\n".join(lp_.source() for lp_ in loops)
    return driver, extra, loop_src, {lp_.name: lp_.signature() for lp_ in loops}


def _unshared(x, scratch):
    """x, or a copy of it when it shares memory with a scratch array."""
    if any(np.may_share_memory(x, s) for s in scratch):
        return np.array(x)
    return x


def _flat(x, boolean):
    """x as the contiguous 1-D float64 (or bool) array a loop reads (no copy
    when it is one already): a bool or integer input array is read as float."""
    return np.ascontiguousarray(x, dtype=np.bool_ if boolean else np.float64).reshape(-1)


def _scalar_kernel(outputs, leaves, int_leaves, guards, values):
    """The `math` kernel's source compiled by Numba: (dispatcher, source)."""
    sig = tuple(fused_jit.typeof_value(v) for v in values)
    if None in sig:
        raise Unfusable("an input numba does not take as a scalar")
    source, extra, _ = generate(outputs, leaves, "math", int_leaves=int_leaves, guards=guards,
                                name="_scalar")
    if extra or "round(" in source or "sc." in source:
        raise Unfusable("a data guard or a function numba lacks")  # (Python ints round)
    return fused_jit.load(source, {"_scalar": sig})["_scalar"], source


def scalar_trace(values: Sequence[Any], nodes: Sequence[Any]) -> bool:
    """Are the inputs scalars and the nodes free of array operations (the
    `math` kernel's traces)?"""
    return all(np.ndim(v) == 0 for v in values) and not any(
        isinstance(n, ArrayOp) and not isinstance(n, Where) for n in postorder(nodes))


def fusable_inputs(values: Sequence[Any]) -> bool:
    """Can the fused backend take these example inputs (float64, integer
    and bool arrays; real numbers)?"""
    for v in values:
        if isinstance(v, np.ndarray):
            if v.dtype != np.float64 and v.dtype.kind not in "iub":
                return False
        elif not isinstance(v, (bool, int, float, np.bool_, np.integer, np.float64)):
            return False
    return True


class FusedKernel:
    """`FusedKernel(nodes, inputs, values, numpy_kernel)(*input_values)` ->
    the same tuple as the NumPy kernel `numpy_kernel` (None when a guard
    fails), computed by Numba-compiled fused loops.

    Compiles at construction (0.1-2 s; raises Unfusable when the kernel has
    no elementwise work over arrays or an input numba does not take, and
    ImportError without numba).  A call that raises anything but a singular
    matrix or running out of memory runs `numpy_kernel` instead, which then
    serves every later call (logged at debug level): never a wrong number.
    Thread safe, and re-entrant: each call runs on its thread's scratch
    arrays, and the arrays it returns are new (fused_between.Scratch).
    `.source` is the driver and the loops; `.loops` the loops' numba
    dispatchers by name (`.loops["_loop0"].inspect_llvm()` shows the IR).

    >>> import sympy as sp; from zygote_sym.ir.nodes import Leaf
    >>> from zygote_sym.codegen.kernel import Kernel
    >>> x = Leaf("x", (3,))
    >>> nodes = [sp.sin(x)*x]
    >>> k = FusedKernel(nodes, [x], [np.ones(3)], Kernel(nodes, [x], [np.ones(3)]))
    >>> k(np.array([0.0, 1.0, 2.0]))[0].round(6)
    array([0.      , 0.841471, 1.818595])
    """

    def __init__(self, nodes, inputs, values, numpy_kernel, guards=(), name="kernel"):
        fused_jit.require()
        if not fusable_inputs(values) or not all(leaf.is_real for leaf in inputs):
            raise Unfusable("an input the fused backend does not take (float32, complex, object)")
        ints = {leaf for leaf, v in zip(inputs, values)
                if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                or isinstance(v, np.ndarray) and v.dtype.kind in "iu"}
        self.numpy, self.loops = numpy_kernel, {}
        if scalar_trace(values, nodes):
            self.fn, self.source = _scalar_kernel(nodes, inputs, ints, guards, values)
            return
        self.scratch = Scratch()
        driver, extra, loop_src, sigs = _array_kernel(nodes, inputs, ints, guards, name,
                                                      self.scratch)
        self.loops = fused_jit.load(loop_src, sigs)
        vm = {k: v for k, v in VM_NAMESPACE.items() if k + "(" in driver}
        vecmath.prepare(tuple(k[4:] for k in vm))  # (compiled now, not at the first call)
        self.driver = compile_source(driver, name, dict(extra, _flat=_flat, _unshared=_unshared,
                                                        **vm, **self.loops))
        self.fn = self._with_scratch if self.scratch.slots else self.driver
        self.source = driver + "\n" + loop_src

    def _with_scratch(self, *values):
        """The driver, given this thread's scratch arrays (fused_between.Scratch)."""
        arrays = self.scratch.take()
        try:
            return self.driver(arrays, *values)
        finally:
            self.scratch.give(arrays)

    def stages(self) -> str:
        """The NumPy kernel's passes, then the fused kernel's source."""
        return f"{self.numpy.stages()}\n# fused backend: driver and Numba loops\n{self.source}"

    @property
    def backend(self) -> str:
        """"fused", or "numpy" once a fault made the NumPy kernel serve."""
        return "numpy" if self.fn is self.numpy else "fused"

    def __call__(self, *values):
        try:
            return self.fn(*values)
        except _THE_INPUTS:
            raise
        except Exception as e:  # noqa: BLE001 (never the caller's: the NumPy kernel decides)
            if self.fn is not self.numpy:
                log.debug("fused kernel raised %s: %s; the NumPy kernel serves from now on\n%s",
                          type(e).__name__, e, traceback.format_exc())
                self.fn = self.numpy
            return self.numpy(*values)
