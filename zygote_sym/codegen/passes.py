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

`lower_logistic` (NumPy kernels, outputs of large arrays): `sigmoid(x)` and
`softplus(x)` as NumPy's SIMD ufuncs around one shared `e = exp(-|x|)`:

    sigmoid(x)  = exp(min(x, 0)) / (1 + e)      softplus(x) = max(x, 0) + log1p(e)

so a loss and its gradient (`softplus` and its derivative `sigmoid`) take
one `exp` pass between them, where `scipy.special.expit` is a scalar loop
(measured at 10**4 elements on the 2-core VM, under load: expit 59-86 µs,
this sigmoid 42 µs; softplus and sigmoid together 125 µs before, 71 µs
after).  Neither form evaluates `exp` of a positive argument, so nothing
overflows (no warning where expit gives none).  Special points are
unchanged: sigmoid(-inf) = 0, sigmoid(inf) = 1, nan stays nan, and x >= 0
is expit's own `1/(1 + exp(-x))`; for x < 0 the form `exp(x)/(1 + exp(x))`
differs from it by rounding (at most 2 ulp), except that below -709.78,
where expit's `exp(-x)` overflows to a result of 0, it gives the subnormal
value itself.  softplus is exactly `_np_softplus` (runtime.py).  The select
`np.where(x >= 0, 1, e)` would be the textbook numerator, but NumPy's where
over an unpredictable mask costs 47 µs at 10**4 (branch misses), more than
the `exp` it saves.
"""
import math
from typing import Dict, List

import sympy as sp
from sympy.codegen.cfunctions import log1p

from ..ir import build as b
from ..ir.nodes import Shapes, children, postorder, rebuilt
from ..ir.ops import ArrayOp, BroadcastTo, Sum, SumTo
from ..ir.special import sigmoid, softplus

# Elements from which lower_logistic pays: below, scipy's one expit call beats
# the lowered form's 7 ufunc calls (measured: expit 1.1 µs against 3.7 µs at
# 128 elements, even at 1024)
LOWER_FROM = 2048


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


def _lowered(node):
    """sigmoid(x) or softplus(x) in the forms of the module docstring."""
    x = node.args[0]
    e = sp.exp(sp.Mul(-1, sp.Abs(x, evaluate=False), evaluate=False), evaluate=False)
    if isinstance(node, sigmoid):
        # sp.Pow directly: b.pow_ would recognise 1/(1 + exp(v)) as a sigmoid again
        return sp.Mul(sp.exp(sp.Min(x, 0, evaluate=False), evaluate=False),
                      sp.Pow(sp.Add(1, e, evaluate=False), -1, evaluate=False), evaluate=False)
    return sp.Add(sp.Max(x, 0, evaluate=False), log1p(e, evaluate=False), evaluate=False)


def lower_logistic(nodes: List[sp.Basic], shapes: Shapes) -> List[sp.Basic]:
    """`nodes` with every sigmoid and softplus of LOWER_FROM elements or more
    rewritten as described above (equal `exp(-|x|)` nodes are one node, so
    the two share it); smaller ones stay (printed as `sc.expit`, `_np_softplus`).

    >>> from zygote_sym.ir.nodes import Leaf
    >>> x, y = Leaf("x", (4096,)), Leaf("y", (3,))
    >>> lower_logistic([sigmoid(x, evaluate=False), softplus(x, evaluate=False),
    ...                 sigmoid(y, evaluate=False)], Shapes())
    [exp(Min(0, x))/(1 + exp(-Abs(x))), log1p(exp(-Abs(x))) + Max(0, x), sigmoid(y)]
    """
    new: Dict[sp.Basic, sp.Basic] = {}
    for node in postorder(nodes):
        if not children(node):
            continue
        node_new = rebuilt(node, new)
        if isinstance(node_new, (sigmoid, softplus)) \
                and math.prod(shapes(node_new)) >= LOWER_FROM:
            node_new = _lowered(node_new)
        if node_new is not node:
            new[node] = node_new
    return [new.get(n, n) for n in nodes]
