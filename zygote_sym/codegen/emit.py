"""Turn output nodes into a compiled Python function with readable source.

One linear pass numbers the shared nodes (a node with two or more parents,
or a structural NumPy call) as temporaries `_t0, _t1, ...`: hash-consing has
already merged equal nodes, so this is common-subexpression elimination
without `sympy.cse` (too slow on large DAGs).

Generated code compiles at any size, in time and memory linear in the DAG:
Python's parser recurses once per nesting level and per operand of a chain
like `a + b + c` (about 3,000 of them exhaust it), so

- a sum, product, `and` or `or` of more than `_MAX_WIDTH` operands is cut
  into a left-to-right chain of shorter ones (`_bounded`);
- an inline expression becomes a temporary every `_MAX_INLINE_DEPTH` levels
  or `_MAX_INLINE_TOKENS` operands and operations, so no statement (and no
  numexpr expression) is deep or long;
- a sum of many scatters (the gradient of a Python loop over `x[i]`: one
  one-hot array per element) is one array and one `+=` statement per
  scatter, not thousands of full-size arrays added in one expression.

Names: arguments keep the user's names where those are identifiers that
the kernel does not itself use (`_identifiers`); everything generated starts
with `_`.  Inside a numexpr region every operand is a placeholder `_vN`, so a
user name that is also a numexpr function (`sin`, `where`) or not ASCII
(`θ`) reaches numexpr as a plain variable.

Threads: a kernel's work buffers and numexpr objects are per thread
(`runtime.PerThread`), fetched once per call into locals.
"""
import builtins
import keyword
import math

import numpy as np
import sympy as sp
from sympy.core.relational import Relational

from ..ir.nodes import Leaf, Shapes, children, postorder, rebuilt
from ..ir.ops import ArrayOp, BroadcastTo, Index, Reshape, Scatter, SumTo, Transpose, Where
from . import fuse as fusion
from .passes import fold_constants, lower_logistic
from .printers import ATOM, Printer, _key_code
from .runtime import NAMESPACE, PerThread

_MAX_INLINE_DEPTH = 24    # Python's parser and numexpr limit nesting
_MAX_INLINE_SIZE = 100    # numexpr has at most 255 registers per expression
_MAX_INLINE_TOKENS = 200  # operands + operations per statement: bounds its parse depth
_MAX_WIDTH = 32           # operands of one printed sum/product/and/or
_MIN_ACCUMULATE = 3       # scatters in one sum written as `+=` statements
# Names a kernel may read besides its arguments: Python's builtins (the math
# backend prints `abs`, `max`, `min`, `float`) and the runtime namespace
# (`math`, `np`, `sc`, `Fraction`, ...).  Reserving every builtin, not just
# those printed today, keeps a new printer row from breaking user names.
_RESERVED = frozenset(dir(builtins)) | frozenset(NAMESPACE)
# ops whose NumPy result may be a view of their first operand
_VIEWS = (BroadcastTo, Reshape, Transpose, Index, SumTo)


def _identifiers(leaves):
    names, used = {}, set()
    for i, leaf in enumerate(leaves):
        cand = leaf.name.replace(".", "_").replace("[", "_").replace("]", "").replace("'", "")
        ok = cand.isidentifier() and not keyword.iskeyword(cand) and not cand.startswith("_")
        if not ok or cand in used or cand in _RESERVED:
            cand = f"_a{i}"
        names[leaf] = cand
        used.add(cand)
    return names


def _name(_):
    return "a"  # a stand-in operand, to ask whether a node is a ufunc call


def _number_code(c):
    return f"np.float64({str(float(c))!r})", ATOM


def _numpy_constant(node, printer):
    """A node of numbers only that SymPy cannot evaluate to a finite real
    (`0**-1`, the 1/count of the mean of an empty array) as the number NumPy
    computes for it (inf, nan): the kernel must follow NumPy, and Python's
    int arithmetic would raise ZeroDivisionError.  None when SymPy's value is
    a finite real (the printed node computes it) or it is not elementwise."""
    kids = children(node)
    if isinstance(node, (ArrayOp, Relational, sp.logic.boolalg.Boolean)) or not all(
            isinstance(c, (sp.Number, sp.NumberSymbol)) for c in kids):
        return None
    try:
        exact = node.func(*node.args)
        if exact.is_extended_real and exact.is_finite:
            return None
        with np.errstate(all="ignore"):
            value = complex(eval(printer.render(node, _number_code)[0], dict(NAMESPACE)))
    except (TypeError, ValueError, ArithmeticError, NotImplementedError, SyntaxError):
        return None
    if value.imag != 0 or np.isnan(value.real):
        return sp.nan  # NumPy's float arithmetic has no complex results: nan
    if np.isinf(value.real):
        return sp.oo if value.real > 0 else -sp.oo
    return sp.Float(value.real)


def _bounded(roots, printer, accumulate):
    """(`roots` rebuilt, the sums to accumulate): each node rebuilt at most
    once, wide chains cut, non-finite constants folded (module docstring).
    With `accumulate` (real NumPy kernels), a sum of `_MIN_ACCUMULATE` or more
    scatters of its own shape used nowhere else is kept whole and returned
    with them: it is emitted as one array and `+=` statements."""
    uses = dict.fromkeys(roots, 1)  # a root is used by the caller
    order = postorder(roots)
    for node in order:
        for c in children(node):
            uses[c] = uses.get(c, 0) + 1
    shapes, new, sums = Shapes(), {}, {}
    for node in order:
        kids = children(node)
        if not kids:
            continue
        node_new = rebuilt(node, new)
        own = [new.get(a, a) for a in node.args if isinstance(a, Scatter) and uses[a] == 1] \
            if accumulate and isinstance(node, sp.Add) else []
        own = [s for s in own if shapes(s) == shapes(node_new)]
        const = _numpy_constant(node_new, printer)
        if len(own) >= _MIN_ACCUMULATE:
            sums[node_new] = own
        elif const is not None:
            node_new = const
        elif isinstance(node_new, (sp.Add, sp.Mul, sp.And, sp.Or)) \
                and len(node_new.args) > _MAX_WIDTH:
            node_new = _chain(node.func, node_new.args)
        if node_new is not node:
            hash(node_new)  # now, while its operands' hashes are cached: SymPy recurses
            new[node] = node_new
    return [new.get(r, r) for r in roots], sums


def _chain(func, args):
    """func(*args) as a left-to-right chain of nodes of at most _MAX_WIDTH
    operands, as Python evaluates `a + b + c` (the same sums, in order)."""
    # SymPy flattens And(And(a, b), c) even unevaluated; Basic.__new__ does not
    make = (lambda *a: sp.Basic.__new__(func, *a)) if func in (sp.And, sp.Or) else (
        lambda *a: func(*a, evaluate=False))
    node = make(*args[:_MAX_WIDTH])
    for i in range(_MAX_WIDTH, len(args), _MAX_WIDTH - 1):
        node = make(node, *args[i:i + _MAX_WIDTH - 1])
    return node


class _Plan:
    """Which nodes become temporaries, and (NumPy backend) which are fused
    numexpr regions or NumPy calls writing into reusable buffers."""

    def __init__(self, order, outputs, backend, fuse, accumulate):
        self.shapes = Shapes()
        parents = {}
        for node in order:
            for c in children(node):
                parents.setdefault(c, []).append(node)
        self.accumulate = accumulate  # sums of scatters, from _bounded
        self.absorbed = {s for own in self.accumulate.values() for s in own}
        big = (lambda n: self.size(n) >= fusion.MIN_SIZE) if fuse else (lambda n: False)
        elementwise = [n for n in order if children(n) and n not in self.accumulate and (
            not isinstance(n, ArrayOp) or isinstance(n, Where))]
        elementwise_set = set(elementwise)
        # a region is a large elementwise node numexpr can print; a cut is a
        # large node NumPy computes with ufuncs into a buffer: transcendentals
        # NumPy computes faster, and everything when numexpr does not pay here
        ne = fuse and any(big(n) for n in elementwise) and fusion.numexpr_pays(
            max(self.size(n) for n in elementwise))
        self.cut = {n for n in elementwise if big(n) and (fusion.wants_numpy(n, self.size(n))
                                                           or not ne and
                    fusion.ufunc_call(n, _name, "") is not None
                    and not fusion.is_subtrahend(n, parents.get(n, [])))}
        self.region = {n for n in elementwise if big(n) and ne and fusion.printable(n)
                       and n not in self.cut}
        self.printable = {n for n in elementwise if fusion.printable(n)}
        outs = set(outputs)
        self.temps, depth, size, tokens, self.ops = set(self.accumulate), {}, {}, {}, {}
        for node in order:
            kids = children(node)
            if not kids or node in self.absorbed:  # (an absorbed scatter is a statement)
                depth[node], tokens[node] = 0, 1
                continue
            # NumPy prints an n-ary and/or as n - 1 nested calls
            d = max(depth[c] for c in kids) + (
                len(kids) - 1 if isinstance(node, (sp.And, sp.Or)) else 1)
            size[node] = 1 + sum(size.get(c, 0) for c in kids)
            tokens[node] = 1 + sum(tokens[c] for c in kids)
            ps = parents.get(node, [])
            if len(ps) > 1 or d > _MAX_INLINE_DEPTH or size[node] > _MAX_INLINE_SIZE \
                    or tokens[node] > _MAX_INLINE_TOKENS or node in self.cut or (
                    backend == "numpy" and isinstance(node, ArrayOp) and node not in self.region):
                self.temps.add(node)
            elif node in self.region and (node in outs or any(
                    p not in self.region or p in self.cut for p in ps)):
                self.temps.add(node)  # a region's root
            elif node not in self.printable and any(p in self.region for p in ps):
                self.temps.add(node)  # numexpr cannot print it: NumPy computes it apart
            elif any(p in self.cut for p in ps) and node in self.region:
                self.temps.add(node)
            if node in self.temps:
                self.ops[node] = size[node]
                d = size[node] = 0
                tokens[node] = 1
            depth[node] = d
        # a region of one or two operations gains nothing from numexpr (its
        # threads cost more than they save there): NumPy computes it
        self.region -= {n for n in self.region if n in self.temps
                        and self.ops[n] < fusion.MIN_OPS}
        self.cut |= {n for n in self.temps - self.region if n in elementwise_set and big(n)
                     and fusion.ufunc_call(n, _name, "") is not None}
        # large intermediates write into buffers kept across calls (no page
        # faults from fresh allocations); outputs always get fresh arrays,
        # so neither an output nor a view an output is made of is a buffer
        self.buffered = (self.temps & (self.region | self.cut)) - _viewed(outputs)

    def size(self, node):
        return math.prod(self.shapes(node))  # (np.prod of a tuple: ~20x slower, 80 calls a kernel)


def _viewed(outputs):
    """The outputs, and the nodes an output may be a NumPy view of."""
    seen, todo = set(), list(outputs)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            if isinstance(node, _VIEWS):
                todo.append(node.args[0])
    return seen


def generate(outputs, leaves, backend, *, int_leaves=(), guards=(), name="kernel", fuse=False):
    """Source of `def name(*leaves): ... return (outputs...)`, the extra
    namespace it needs (numexpr objects, buffers), and the plan (which nodes
    are temporaries, numexpr regions, NumPy ufunc chains into buffers).

    outputs: SymPy nodes; leaves: the Leaf symbols, in argument order;
    backend: "math", "exact" or "numpy"; int_leaves: leaves cast to float on
    entry (integer inputs give float results, and numexpr/NumPy integer
    powers with negative exponents would fail; NumPy kernels cast Python
    numbers, see kernel._cast); guards: trace Guards, checked
    as soon as their node is computed: the kernel returns None when one does
    not hold (the caller then traces again); fuse: evaluate
    large elementwise regions with numexpr (see fuse.py).
    """
    printer = Printer(backend)
    ne_printer = fusion.NumexprPrinter()
    # `+=` into a real array never needs a complex upcast
    accumulate = backend == "numpy" and all(leaf.is_real for leaf in leaves)
    if backend == "numpy":  # (guards keep expit: a guard rechecks the value the trace saw)
        outputs = lower_logistic(list(outputs), Shapes())
    roots, sums = _bounded(fold_constants([gd.expr for gd in guards] + list(outputs)),
                           Printer("numpy"), accumulate)
    guard_exprs, outputs = roots[:len(guards)], roots[len(guards):]
    expected = {e: gd.outcome for e, gd in zip(guard_exprs, guards) if gd.check is None}
    checks = {}  # node -> data-guard functions of its value
    for e, gd in zip(guard_exprs, guards):
        if gd.check is not None:
            checks.setdefault(e, []).append(gd.check)
    order = postorder(list(expected) + list(checks) + list(outputs))
    ids = _identifiers(leaves)
    plan = _Plan(order, outputs, backend, fuse and backend == "numpy", sums)
    plan.temps |= {n for n in checks if children(n)}  # a checked value needs a name

    def check(node):
        for fn in checks.get(node, ()):
            extra[f"_g{len(extra)}"] = fn
            lines.append(f"if not _g{len(extra) - 1}({code[node][0]}): return None")
    code, ne_code, bool_names = {}, {}, set()
    extra, lines, local = {}, [], []  # local: (name, make) of per-thread state
    placeholders = {}  # numexpr placeholder -> the kernel variable it stands for
    for leaf in leaves:
        code[leaf] = (ids[leaf], ATOM)
        ne_code[leaf] = (fusion.placeholder(placeholders, ids[leaf]), ATOM)
        if leaf in int_leaves and backend != "exact":
            cast = "float({0})" if backend == "math" else \
                "np.float64({0})" if leaf.shape == () else "np.asarray({0}, dtype=float)"
            lines.append(f"{ids[leaf]} = " + cast.format(ids[leaf]))
        check(leaf)

    def lookup(node):  # numbers made up by the printer itself are not in `code`
        return code[node] if node in code else printer.render(node, lookup)

    def ne_lookup(node):
        return ne_code[node] if node in ne_code else ne_printer.render(node, ne_lookup)

    n = 0
    for node in order:
        if node in code or node in plan.absorbed:
            continue
        if not children(node) and isinstance(node, Leaf):
            raise ValueError(f"the outputs depend on {node}, which is not a kernel input")
        tname = f"_t{n}"
        if node in plan.accumulate:
            lines += _accumulation(node, plan.accumulate[node], tname, lookup)
        else:
            text = printer.render(node, lookup)
            if node in plan.printable:
                ne_code[node] = ne_printer.render(node, ne_lookup)
            if node in expected:
                lines.append(f"if {'not ' if expected[node] else ''}({text[0]}): return None")
                code[node] = (repr(expected[node]), ATOM)
                continue
            region = _region(node, plan, ne_code, placeholders, bool_names)
            buf = ""
            if node in plan.buffered and (region is not None or node in plan.cut):
                buf = f", out=_b{n}"
                local.append((f"_b{n}", _buffer(plan.shapes(node), fusion.is_boolean(node))))
            if region is not None:
                expr, names, make = region
                local.append((f"_ne{n}", make))
                lines.append(f"{tname} = _ne{n}({', '.join(names)}{buf}, ex_uses_vml=False)"
                             f"  # {expr}")
            elif node in plan.cut:
                lines.append(f"{tname} = " + fusion.ufunc_call(node, lambda c: lookup(c)[0], buf))
            elif node in plan.temps:
                lines.append(f"{tname} = {text[0]}")
            else:
                code[node] = text
                continue
        n += 1
        code[node] = (tname, ATOM)
        ne_code[node] = (fusion.placeholder(placeholders, tname), ATOM)
        check(node)
        if fusion.is_boolean(node):
            bool_names.add(tname)
    if local:
        extra["_tls"] = PerThread([make for _, make in local])
        lines.insert(0, f"{', '.join(nm for nm, _ in local)}, = _tls.state"
                        "  # this thread's buffers and numexpr objects")
    ret = ", ".join(code[o][0] for o in outputs)
    lines.append(f"return ({ret}{',' if len(outputs) == 1 else ''})")
    args = ", ".join(ids[leaf] for leaf in leaves)
    body = "\n".join("    " + line for line in lines)
    return f"def {name}({args}):\n{body}\n", extra, plan


def _buffer(shape, boolean):
    dtype = bool if boolean else float
    return lambda: np.empty(shape, dtype=dtype)


def _region(node, plan, ne_code, placeholders, bool_names):
    """(expression, operand names, maker of NumExpr objects) when `node` is
    the root of a numexpr region, else None: also when numexpr rejects the
    expression (too many operands or registers), so NumPy computes it."""
    if node not in plan.temps or node not in plan.region:
        return None
    expr = ne_code[node][0]
    slots = fusion.operand_names(expr)
    if len(slots) > fusion.MAX_OPERANDS:
        return None
    names = [placeholders[s] for s in slots]
    bools = {s for s, nm in zip(slots, names) if nm in bool_names}
    try:
        first = [fusion.compile_region(expr, slots, bools)]
    except (ValueError, TypeError, KeyError, RuntimeError, SyntaxError, MemoryError):
        return None  # the same node as NumPy code: slower, never wrong

    def make():  # the object compiled here serves the first thread; others compile their own
        return first.pop() if first else fusion.compile_region(expr, slots, bools)
    return fusion.readable(expr, placeholders), names, make


def _accumulation(node, scatters, tname, lookup):
    """Statements computing a sum of scatters in one array: the first
    scatter's fresh result, then each other scatter added in place at its
    index (np.add.at where index arrays may repeat an index), then the other
    terms: linear in the number of scatters, where one expression would hold
    a full-size array per scatter."""
    first, *others = scatters
    lines = [f"{tname} = {lookup(first)[0]}"]
    for s in others:
        ct, *arrays = (lookup(c)[0] for c in s.operands)
        key = _key_code(s.params[0], arrays)
        lines.append(f"np.add.at({tname}, np.s_[{key}], {ct})" if arrays
                     else f"{tname}[{key}] += {ct}")
    absorbed = set(scatters)
    lines += [f"{tname} += {lookup(a)[0]}" for a in node.args if a not in absorbed]
    return lines


def compile_source(source, name="kernel", extra=None):
    """Compile generated source; the function gets a `.source` attribute."""
    namespace = dict(NAMESPACE, **(extra or {}))
    exec(compile(source, f"<zygote_sym {name}>", "exec"), namespace)
    fn = namespace[name]
    fn.source = source
    return fn
