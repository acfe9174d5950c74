"""Results of the fully symbolic mode (`zs.gradient` of SymPy arguments):
evaluated SymPy expressions, small ones simplified.

The compile path keeps nodes unevaluated; here, on demand, the DAG is
rebuilt once with SymPy's evaluation (so `3*(2*x)` reads `6*x`), leaves get
the user's own SymPy expressions back, `Where` becomes `Piecewise`, and
small results get `sympy.simplify`.  `derive`'s closed forms for people
(index and matrix notation, names, budget) are in closed/.
"""
import sympy as sp

from .ir.nodes import Leaf, children, postorder, substitute, tree_size
from .ir.ops import ArrayOp, Where

SIMPLIFY_MAX_NODES = 60    # sympy.simplify is fast below this, unbounded above
EVALUATE_MAX_NODES = 3000  # SymPy's evaluation is super-linear on deep DAGs


def evaluate(nodes, names):
    """Rebuild `nodes` with SymPy evaluation; `names` maps Leaf -> expression.
    DAGs over EVALUATE_MAX_NODES only get their leaves renamed."""
    order = postorder(nodes)
    if len(order) > EVALUATE_MAX_NODES:
        leaves = [n for n in order if isinstance(n, Leaf)]
        return substitute(nodes, {leaf: names.get(leaf, sp.Symbol(leaf.name, **leaf.assumptions0))
                                    for leaf in leaves})
    new = {}
    for node in order:
        if isinstance(node, Leaf):
            new[node] = names.get(node, sp.Symbol(node.name, **node.assumptions0))
        elif not children(node):
            new[node] = node
        elif isinstance(node, Where):
            c, a, b = (new[x] for x in node.args)
            new[node] = sp.Piecewise((a, c), (b, True))
        elif isinstance(node, ArrayOp):
            args = [new[x] for x in node.operands] + list(node.args[node.nops:])
            new[node] = node.func(*args, evaluate=False)
        else:
            new[node] = node.func(*[new[x] for x in node.args])
    return [new[n] for n in nodes]


def tidy(expr):
    """`sympy.simplify` when the expression is small enough to afford it."""
    if expr is None or not isinstance(expr, sp.Basic):
        return expr
    if tree_size([expr]) <= SIMPLIFY_MAX_NODES:
        simpler = sp.simplify(expr)
        if sp.count_ops(simpler) <= sp.count_ops(expr):
            return simpler
    return expr


def closed_forms(nodes, names):
    return [tidy(e) for e in evaluate(nodes, names)]
