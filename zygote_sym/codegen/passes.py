"""Passes over the DAG before code is emitted, each rebuilding every node at
most once.

`rewrite_dots` (NumPy kernels): reverse mode over `sum(r**2)`-style losses
produces cotangents such as `sum(2*r*a*e*t)`: a product over the whole
array, then a sum.  Here every full reduction of a product becomes

    (scalar factors) * dot(x1, x2 * ... * xk)     or     (scalar factors) * sum(x1)

so scalar factors are multiplied once instead of once per element, and the
last product and the sum are one BLAS dot product: no array is written for
them.

`fold_constants`: numbers multiplied once (`-200*t*(2*u)` is `-400*t*u`).
The builders already fold `3*(2*x)`; this pass catches the products they
could not flatten without knowing whether the inner one is shared.
"""
import sympy as sp

from ..ir import build as b
from ..ir.nodes import children, postorder, rebuilt
from ..ir.ops import ArrayOp, BroadcastTo, Sum, SumTo


class Dot(ArrayOp):
    """`np.dot(a.ravel(), b.ravel())`: the sum of an elementwise product."""

    nops = 2

    def shape_rule(self, a, b):
        return ()

    def value(self, a, b):
        return float(a.ravel() @ b.ravel())

    def _latex(self, printer):
        return rf"\sum {printer._print(self.args[0])} {printer._print(self.args[1])}"


def _full_sum_operand(node, shapes):
    """The summed operand if `node` sums all of it to a scalar, else None."""
    if isinstance(node, Sum):
        axes, keep = node.params
        x = node.args[0]
        if not keep and len(axes) == len(shapes(x)):
            return x
    if isinstance(node, SumTo) and node.params[0] == ():
        x = node.args[0]
        if isinstance(x, BroadcastTo) and shapes(x.args[0]) == shapes(x):
            x = x.args[0]
        return x
    return None


def _factors(x):
    """The factors of a nested product, in order (iterative: a Python loop
    `p = p*x_i` nests thousands of levels)."""
    out, stack = [], [x]
    while stack:
        y = stack.pop()
        if isinstance(y, sp.Mul):
            stack.extend(reversed(y.args))
        elif isinstance(y, sp.Pow) and y.args[1] == 2:
            out += [y.args[0], y.args[0]]
        else:
            out.append(y)
    return out


def rewrite_dots(nodes, shapes):
    """`nodes` with every full sum of a product split as described above."""
    new = {}
    for node in postorder(nodes):
        kids = children(node)
        if not kids:
            continue
        node_new = rebuilt(node, new)
        shapes(node_new)
        x = _full_sum_operand(node_new, shapes)
        if x is not None and shapes(x):
            factors = _factors(x)
            scalars = [f for f in factors if shapes(f) == ()]
            arrays = [f for f in factors if shapes(f) != ()]
            if scalars and arrays or len(arrays) > 1:
                full = shapes(x)
                if all(shapes(a) == full for a in arrays):
                    reduced = Dot.make(arrays[0], b.mul(*arrays[1:])) if len(arrays) > 1 \
                        else Sum.make(arrays[0], tuple(range(len(full))), False)
                    node_new = b.mul(*scalars, reduced)
        if node_new is not node:
            new[node] = node_new
    return [new.get(n, n) for n in nodes]


def _coefficient(x):
    return x.args[0] if isinstance(x, sp.Mul) and isinstance(x.args[0], sp.Number) else None


def fold_constants(nodes):
    """`nodes` with numbers folded into the products they multiply: an inner
    product `d*y...` is flattened into `c*(d*y...)` where that costs no
    multiplication (it is used only there, or it is `d*y` and the outer
    product has a number to merge `d` into)."""
    order = postorder(nodes)
    uses = dict.fromkeys(nodes, 1)  # a root is used by the caller
    for node in order:
        for c in children(node):
            uses[c] = uses.get(c, 0) + 1
    new = {}
    for node in order:
        if not children(node):
            continue
        args = [new.get(a, a) for a in node.args]
        if isinstance(node, sp.Mul):
            numbered = any(isinstance(a, sp.Number) for a in args)
            flat = [a.args if _coefficient(a) is not None and (
                uses[old] == 1 or numbered and len(a.args) == 2) else (a,)
                for a, old in zip(args, node.args)]
            if any(len(f) > 1 for f in flat):
                new[node] = b.mul(*[x for f in flat for x in f])
                continue
        node_new = rebuilt(node, new)
        if node_new is not node:
            new[node] = node_new
    return [new.get(n, n) for n in nodes]
