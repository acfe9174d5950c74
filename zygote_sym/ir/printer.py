"""The let-bound form of a DAG, printed in time linear in its size.

    { lambda x, y . let t0 = sin(x) ; t1 = t0*x ; t2 = t1 + y in (t2) }

Every node that is not a leaf or a number gets a name, in the order it is
computed (as JAX prints a jaxpr); a node's text names its operands, so no
subtree is printed twice (SymPy's `str` expands shared subtrees:
exponential on a traced loop).
"""
import sympy as sp
from sympy.core.relational import Relational

from .nodes import Leaf, children, postorder
from .ops import ArrayOp

_INFIX = {sp.Add: " + ", sp.Mul: "*"}


def _node_text(node, name):
    """One node with its operands named by `name`."""
    ops = [name(c) for c in children(node)]
    if type(node) in _INFIX:
        return _INFIX[type(node)].join(ops)
    if isinstance(node, sp.Pow):
        return f"{ops[0]}**{ops[1]}"
    if isinstance(node, Relational):
        return f"{ops[0]} {node.rel_op} {ops[1]}"
    if isinstance(node, ArrayOp):
        params = ", ".join(repr(p) for p in node.params)
        return f"{type(node).__name__}({', '.join(ops)}{'; ' + params if params else ''})"
    return f"{type(node).__name__}({', '.join(ops)})"


def let_bound(outputs, inputs=None, limit=None):
    """`{ lambda inputs . let t0 = ... in (outputs) }`; with `limit`, at most
    that many bindings, the rest elided."""
    order = postorder(outputs)
    inputs = inputs if inputs is not None else [n for n in order if isinstance(n, Leaf)]
    names = {}

    def name(n):
        return names.get(n) or str(n)  # leaves and numbers print as themselves

    lines = []
    for node in order:
        if not children(node) or node in names:
            continue
        names[node] = f"t{len(lines)}"
        lines.append(f"{names[node]} = {_node_text(node, name)}")
    shown = lines if limit is None or len(lines) <= limit else \
        lines[:limit // 2] + [f"... {len(lines) - limit} more ..."] + lines[-(limit - limit // 2):]
    head = ", ".join(str(x) for x in inputs)
    outs = ", ".join(name(o) for o in outputs)
    if not lines:
        return f"{{ lambda {head} . ({outs}) }}"
    if len(shown) <= 4:
        return f"{{ lambda {head} . let " + " ; ".join(shown) + f" in ({outs}) }}"
    body = "".join(f"\n    {line}" for line in shown)
    return f"{{ lambda {head} . let{body}\n  in ({outs}) }}"
