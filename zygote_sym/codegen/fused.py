"""The fused backend: each elementwise-plus-reduction region of the DAG as
ONE loop compiled by Numba, with NumPy calls (matmul, solve, ...) between.

A node is a *loop node* when it is elementwise over a non-scalar shape and
every operand is a scalar or has its shape, or when it is a slice `x[a:b]`
of a 1-D array, a scatter of one into zeros (the slice's pullback), or a
scalar broadcast to a shape.  A full sum of a loop node is a *reduction*,
accumulated in the loop that computes its operand.  Everything else is a
*driver node*: the Python function that calls the loops computes it with
NumPy, exactly as the NumPy backend prints it (printers.py).  So are `exp`
and `log` over arrays (BETWEEN_LOOPS): NumPy's are SIMD loops, a Numba
loop's are scalar libm calls.

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

All-scalar traces are the `math` kernel's source (emit.py) compiled by
Numba: one call, no Python arithmetic.

Semantics are the NumPy backend's: no fast-math flags, NumPy's error model
(inf/nan, never ZeroDivisionError), NumPy's ufuncs for functions where
`math` differs (fused_jit.LOOP_NAMES).  Sums run left to right (NumPy's are
pairwise): they agree to rounding.
"""
import logging
import traceback
from typing import Any, Sequence

import numpy as np
import sympy as sp

from ..ir.nodes import Leaf, Shapes, children, postorder
from ..ir.ops import ArrayOp, BroadcastTo, Index, Scatter, Sum, SumTo, Where
from ..ir.special import nonfinite
from . import fused_jit
from .emit import compile_source, generate
from .fuse import is_boolean
from .passes import fold_constants
from .printers import ATOM, Printer

log = logging.getLogger("zygote_sym.fused")

_THE_INPUTS = (np.linalg.LinAlgError, MemoryError, RecursionError)
_MAX_OFFSETS = 16  # distinct index offsets of one node in one loop: more is no fusion


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


# Functions computed BETWEEN loops, by NumPy over the whole array, not inside
# them: NumPy's exp and log are SIMD loops (AVX-512/AVX2), where a Numba loop
# calls scalar libm (Numba 0.62+ has no SVML; LLVM's vector-library option is
# not applied by its pipeline).  Measured on B3 (10**5 points, same process):
# np.exp then one loop, 276 µs; exp inside the loop, 639 µs.  sin and cos
# stay in loops: NumPy's float64 versions were not faster (B2 with np.sin,
# np.cos, np.exp between loops: 64 ms against 42 ms in one loop); functions
# not measured stay in loops too.
BETWEEN_LOOPS = frozenset({sp.exp, sp.log})


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
        shapes = self.shapes = Shapes()
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
            if shape and 0 not in shape:
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
        readers, kept = {}, set(outputs)
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
        # a loop node leaves its loop (an array) when anything outside reads it
        outs, self.materialized = set(outputs) | set(guard_nodes), set()
        for node in order:
            for c in children(node):
                if self.kind[c] == "loop" and (self.kind[node] == "py" or (
                        self.kind[node] == "loop" and self.epoch[node] != self.epoch[c])):
                    self.materialized.add(c)
        self.materialized |= {n for n in outs if self.kind.get(n) == "loop"}

    def size(self, node):
        return int(np.prod(self.shapes(node)))


class _Loop:
    """Source of one pass: `def _loopK(inputs...)` -> (arrays..., sums...)."""

    def __init__(self, name, nodes, plan, printer, epoch):
        self.name, self.plan, self.printer, self.epoch = name, plan, printer, epoch
        members = set(nodes)
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
        self.order = [(n, k) for n in postorder(list(need)) if n in members
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
        args = [f"_x{self._id(a)}" for a in self.arrays] + [f"_s{self._id(s)}"
                                                            for s in self.scalars]
        lines = [f"def {self.name}({', '.join(args)}):"]
        for o in self.outputs:
            dtype = "np.bool_" if is_boolean(o) else "np.float64"
            lines.append(f"    _o{self._id(o)} = np.empty({plan.size(o)}, {dtype})")
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
                lines.append(f"        {cond}_r{self._id(s)} += {self.var[(c, 0)]}")
        res = [f"_o{self._id(o)}" for o in self.outputs] + [f"_r{self._id(s)}" for s in self.sums]
        lines.append(f"    return ({', '.join(res)},)")
        return "\n".join(lines) + "\n"

    def signature(self):
        return tuple([fused_jit.typeof_array(is_boolean(a)) for a in self.arrays]
                     + [fused_jit.typeof_scalar(is_boolean(s)) for s in self.scalars])


def _suffix(k):
    return "" if k == 0 else f"_p{k}" if k > 0 else f"_m{-k}"


def _array_kernel(outputs, leaves, int_leaves, guards, name):
    """(driver source, loop source, {loop name: signature})."""
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
    for j, leaf in enumerate(leaves):
        code[leaf] = f"_a{j}"
        if leaf in int_leaves:
            lines.append(f"_a{j} = np.asarray(_a{j}, dtype=float)")

    def lookup(node):
        return (code[node], ATOM) if node in code else printer.render(node, lookup)

    def emit_loop(loop):
        ins = [f"_flat({code[a]}, {is_boolean(a)})" for a in loop.arrays] + \
              [f"{'bool' if is_boolean(s) else 'float'}({code[s]})" for s in loop.scalars]
        outs = [f"_o{plan.index[o]}" for o in loop.outputs] + \
               [f"_t{plan.index[s]}" for s in loop.sums]
        lines.append(f"{', '.join(outs)}, = {loop.name}({', '.join(ins)})")
        for o in loop.outputs:
            shape = plan.shapes(o)
            code[o] = f"_t{plan.index[o]}"
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
    # stage E: the driver nodes ready after E passes, then the passes of epoch E
    stages = max(plan.ready.values()) + 1
    for stage in range(stages):
        for node in order:
            if plan.kind[node] != "py" or plan.ready[node] != stage:
                continue
            text = printer.render(node, lookup)[0]
            if node in expected:
                lines.append(f"if {'not ' if expected[node] else ''}({text}): return None")
                code[node] = repr(expected[node])
                continue
            code[node] = f"_t{plan.index[node]}"
            lines.append(f"_t{plan.index[node]} = {text}")
            check(node)
        for loop in loops:
            if loop.epoch == stage:
                emit_loop(loop)
    ret = ", ".join(lookup(o)[0] for o in outputs)
    args = ", ".join(f"_a{j}" for j in range(len(leaves)))
    body = "\n".join("    " + ln for ln in lines)
    driver = f"def {name}({args}):\n{body}\n    return ({ret}{',' if len(outputs) == 1 else ''})\n"
    loop_src = "\n".join(lp_.source() for lp_ in loops)
    return driver, extra, loop_src, {lp_.name: lp_.signature() for lp_ in loops}


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
    `.source` is the driver and the loops.

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
        self.numpy = numpy_kernel
        if scalar_trace(values, nodes):
            self.fn, self.source = _scalar_kernel(nodes, inputs, ints, guards, values)
            return
        driver, extra, loop_src, sigs = _array_kernel(nodes, inputs, ints, guards, name)
        loops = fused_jit.load(loop_src, sigs)
        self.fn = compile_source(driver, name, dict(extra, _flat=_flat, **loops))
        self.source = driver + "\n" + loop_src

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
