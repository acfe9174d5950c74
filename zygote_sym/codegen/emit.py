"""Turn output nodes into a compiled Python function with readable source.

One linear pass numbers the shared nodes (a node with two or more parents,
or a structural NumPy call) as temporaries `_t0, _t1, ...`: hash-consing has
already merged equal nodes, so this is common-subexpression elimination
without `sympy.cse` (too slow on large DAGs).  Inline expressions are also
cut into temporaries every `_MAX_INLINE_DEPTH` levels, so Python's parser
never meets a too deeply nested expression.  Arguments keep the user's names
where those are plain identifiers; everything generated starts with `_`, so
generated names never shadow user names.
"""
import keyword
import math
from fractions import Fraction

import numpy as np
import scipy.special as sc

from .. import graph as g
from ..ops import RUNTIME, ArrayOp
from .printers import ATOM, Printer

_MAX_INLINE_DEPTH = 24
_RESERVED = {"math", "np", "sc", "Fraction"}


def _sign(x):
    return float((x > 0) - (x < 0))


def _exp2(x):
    return 2.0 ** x


NAMESPACE = {"math": math, "np": np, "sc": sc, "Fraction": Fraction,
             "_sign": _sign, "_exp2": _exp2, **RUNTIME}


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


def _temporaries(order, backend):
    parents = {}
    for node in order:
        for c in g.children(node):
            parents[c] = parents.get(c, 0) + 1
    temps, depth = set(), {}
    for node in order:
        kids = g.children(node)
        if not kids:
            depth[node] = 0
            continue
        d = 1 + max(depth[c] for c in kids)
        if parents.get(node, 0) > 1 or d > _MAX_INLINE_DEPTH or (
                backend == "numpy" and isinstance(node, ArrayOp)):
            temps.add(node)
            d = 0
        depth[node] = d
    return temps


def generate(outputs, leaves, backend, *, int_leaves=(), guards=(), name="kernel"):
    """Source of `def name(*leaves): ... return (outputs...)`.

    outputs: SymPy nodes; leaves: the Leaf symbols, in argument order;
    backend: "math", "exact" or "numpy"; int_leaves: leaves cast to float on
    entry (integer inputs give float results, and numexpr/NumPy integer
    powers with negative exponents would fail); guards: (condition, outcome)
    pairs checked as soon as they can be computed: the kernel returns None
    when one does not hold (the caller then traces again).
    """
    printer = Printer(backend)
    expected = {cond: bool(outcome) for cond, outcome in guards}
    order = g.postorder(list(expected) + list(outputs))
    ids = _identifiers(leaves)
    temps = _temporaries(order, backend)
    code = {}
    lines = []
    for leaf in leaves:
        code[leaf] = (ids[leaf], ATOM)
        if leaf in int_leaves and backend != "exact":
            cast = "float({0})" if backend == "math" else "np.asarray({0}, dtype=float)"
            lines.append(f"{ids[leaf]} = " + cast.format(ids[leaf]))
    def lookup(node):  # numbers made up by the printer itself are not in `code`
        return code[node] if node in code else printer.render(node, lookup)

    n = 0
    for node in order:
        if node in code:
            continue
        if not g.children(node) and isinstance(node, g.Leaf):
            raise ValueError(f"the outputs depend on {node}, which is not a kernel input")
        text = printer.render(node, lookup)
        if node in expected:
            lines.append(f"if {'not ' if expected[node] else ''}({text[0]}): return None")
            code[node] = (repr(expected[node]), ATOM)
        elif node in temps:
            tname = f"_t{n}"
            n += 1
            lines.append(f"{tname} = {text[0]}")
            code[node] = (tname, ATOM)
        else:
            code[node] = text
    ret = ", ".join(code[o][0] for o in outputs)
    lines.append(f"return ({ret}{',' if len(outputs) == 1 else ''})")
    args = ", ".join(ids[leaf] for leaf in leaves)
    body = "\n".join("    " + line for line in lines)
    return f"def {name}({args}):\n{body}\n"


def compile_source(source, name="kernel"):
    """Compile generated source; the function gets a `.source` attribute."""
    namespace = dict(NAMESPACE)
    exec(compile(source, f"<zygote_sym {name}>", "exec"), namespace)
    fn = namespace[name]
    fn.source = source
    return fn
