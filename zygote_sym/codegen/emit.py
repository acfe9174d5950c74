"""Turn output nodes into a compiled Python function with readable source.

One linear pass numbers the shared nodes (a node with two or more parents,
or a structural NumPy call) as temporaries `_t0, _t1, ...`: hash-consing has
already merged equal nodes, so this is common-subexpression elimination
without `sympy.cse` (too slow on large DAGs).  Inline expressions are also
cut into temporaries every `_MAX_INLINE_DEPTH` levels or `_MAX_INLINE_SIZE`
nodes, so neither Python's parser nor numexpr meets an expression too large.  Arguments keep the user's names
where those are plain identifiers; everything generated starts with `_`, so
generated names never shadow user names.
"""
import keyword

import numpy as np

from ..ir.nodes import Leaf, Shapes, children, postorder
from ..ir.ops import ArrayOp, Where
from . import fuse as fusion
from .passes import fold_constants
from .printers import ATOM, Printer
from .runtime import NAMESPACE

_MAX_INLINE_DEPTH = 24   # Python's parser and numexpr limit nesting
_MAX_INLINE_SIZE = 100   # numexpr has at most 255 registers per expression
_RESERVED = {"math", "np", "sc", "Fraction"}


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


class _Plan:
    """Which nodes become temporaries, and (NumPy backend) which are fused
    numexpr regions or NumPy calls writing into reusable buffers."""

    def __init__(self, order, outputs, backend, fuse):
        self.shapes = Shapes()
        parents = {}
        for node in order:
            for c in children(node):
                parents.setdefault(c, []).append(node)
        big = (lambda n: self.size(n) >= fusion.MIN_SIZE) if fuse else (lambda n: False)
        elementwise = [n for n in order if children(n) and (
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
        self.temps, depth, size, self.ops = set(), {}, {}, {}
        for node in order:
            kids = children(node)
            if not kids:
                depth[node] = 0
                continue
            d = 1 + max(depth[c] for c in kids)
            size[node] = 1 + sum(size.get(c, 0) for c in kids)
            ps = parents.get(node, [])
            if len(ps) > 1 or d > _MAX_INLINE_DEPTH or size[node] > _MAX_INLINE_SIZE \
                    or node in self.cut or (
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
            depth[node] = d
        # a region of one or two operations gains nothing from numexpr (its
        # threads cost more than they save there): NumPy computes it
        self.region -= {n for n in self.region if n in self.temps
                        and self.ops[n] < fusion.MIN_OPS}
        self.cut |= {n for n in self.temps - self.region if n in elementwise_set and big(n)
                     and fusion.ufunc_call(n, _name, "") is not None}
        # large intermediates write into buffers kept across calls (no page
        # faults from fresh allocations); outputs always get fresh arrays
        self.buffered = {n for n in self.temps & (self.region | self.cut) if n not in outs}

    def size(self, node):
        return int(np.prod(self.shapes(node)))


def generate(outputs, leaves, backend, *, int_leaves=(), guards=(), name="kernel", fuse=False):
    """Source of `def name(*leaves): ... return (outputs...)`, the extra
    namespace it needs (numexpr objects, buffers), and the plan (which nodes
    are temporaries, numexpr regions, NumPy ufunc chains into buffers).

    outputs: SymPy nodes; leaves: the Leaf symbols, in argument order;
    backend: "math", "exact" or "numpy"; int_leaves: leaves cast to float on
    entry (integer inputs give float results, and numexpr/NumPy integer
    powers with negative exponents would fail); guards: trace Guards, checked
    as soon as their node is computed: the kernel returns None when one does
    not hold (the caller then traces again); fuse: evaluate
    large elementwise regions with numexpr (see fuse.py).
    """
    printer = Printer(backend)
    ne_printer = fusion.NumexprPrinter()
    roots = fold_constants([gd.expr for gd in guards] + list(outputs))
    guard_exprs, outputs = roots[:len(guards)], roots[len(guards):]
    expected = {e: gd.outcome for e, gd in zip(guard_exprs, guards) if gd.check is None}
    checks = {}  # node -> data-guard functions of its value
    for e, gd in zip(guard_exprs, guards):
        if gd.check is not None:
            checks.setdefault(e, []).append(gd.check)
    order = postorder(list(expected) + list(checks) + list(outputs))
    ids = _identifiers(leaves)
    plan = _Plan(order, outputs, backend, fuse and backend == "numpy")
    plan.temps |= {n for n in checks if children(n)}  # a checked value needs a name

    def check(node):
        for fn in checks.get(node, ()):
            extra[f"_g{len(extra)}"] = fn
            lines.append(f"if not _g{len(extra) - 1}({code[node][0]}): return None")
    code, ne_code, bool_names = {}, {}, set()
    extra, lines = {}, []
    for leaf in leaves:
        code[leaf] = ne_code[leaf] = (ids[leaf], ATOM)
        if leaf in int_leaves and backend != "exact":
            cast = "float({0})" if backend == "math" else "np.asarray({0}, dtype=float)"
            lines.append(f"{ids[leaf]} = " + cast.format(ids[leaf]))
        check(leaf)

    def lookup(node):  # numbers made up by the printer itself are not in `code`
        return code[node] if node in code else printer.render(node, lookup)

    def ne_lookup(node):
        return ne_code[node] if node in ne_code else ne_printer.render(node, ne_lookup)

    n = 0
    for node in order:
        if node in code:
            continue
        if not children(node) and isinstance(node, Leaf):
            raise ValueError(f"the outputs depend on {node}, which is not a kernel input")
        text = printer.render(node, lookup)
        if node in plan.printable:
            ne_code[node] = ne_printer.render(node, ne_lookup)
        tname = f"_t{n}"
        buf = f", out=_b{n}" if node in plan.buffered else ""
        if node in plan.buffered:
            dtype = "bool" if fusion.is_boolean(node) else "float"
            extra[f"_b{n}"] = np.empty(plan.shapes(node), dtype=dtype)
        if node in expected:
            lines.append(f"if {'not ' if expected[node] else ''}({text[0]}): return None")
            code[node] = (repr(expected[node]), ATOM)
            continue
        names = fusion.operand_names(ne_code[node][0]) if node in plan.region else []
        if node in plan.temps and node in plan.region and len(names) <= fusion.MAX_OPERANDS:
            bools = {name for name in names if name in bool_names}
            expr = ne_code[node][0]
            extra[f"_ne{n}"] = fusion.compile_region(expr, names, bools)
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
        code[node] = ne_code[node] = (tname, ATOM)
        check(node)
        if fusion.is_boolean(node):
            bool_names.add(tname)
    ret = ", ".join(code[o][0] for o in outputs)
    lines.append(f"return ({ret}{',' if len(outputs) == 1 else ''})")
    args = ", ".join(ids[leaf] for leaf in leaves)
    body = "\n".join("    " + line for line in lines)
    return f"def {name}({args}):\n{body}\n", extra, plan


def compile_source(source, name="kernel", extra=None):
    """Compile generated source; the function gets a `.source` attribute."""
    namespace = dict(NAMESPACE, **(extra or {}))
    exec(compile(source, f"<zygote_sym {name}>", "exec"), namespace)
    fn = namespace[name]
    fn.source = source
    return fn
