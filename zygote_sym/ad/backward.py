"""Reverse mode over a SymPy DAG.

Unique nodes are visited once, in reverse topological order; each node's
cotangent contributions are collected in a list and summed by one `Add`
when the node is reached, so the cost is linear in the number of nodes and
the gradient DAG shares every node of the primal (no expression swell).
Each node's pullback is its rule in rules/ (one registry, one signature).

A cotangent's *logical* shape is its node's shape even where its inferred
shape is smaller (the constant 1, say): unbroadcasting sums by the node's
logical shape, and structural ops that need an exact shape get a
BroadcastTo (DESIGN.md, "Canonicalisation drops shapes").

The strong zero: a partial that is infinite where the function is finite
(`unbounded`: sqrt'(0)), and every cotangent below it, is multiplied with a
strong zero, 0*inf = 0: where the infinite partial meets a zero cotangent
(a kink, a branch not taken) and where an infinite cotangent meets a zero
slope (sqrt(x**2) at 0 gives 0 = |x|'(0)).  `hits[node]` is the scalar
truth value "an infinity did arrive" (`nonfinite` of the partials it came
from), so kernels multiply plainly while it is false.  The strong zero stays
within elementwise code (selects included): through a reduction, a matmul
or an index it would cost every product below (a root-mean-square loss:
3x); the norm has its own rule instead.  (docs/special_points.md)
"""
import sympy as sp
from sympy.core.relational import Relational
from sympy.logic.boolalg import Boolean

from ..ir import build as b
from ..ir.nodes import children, postorder
from ..ir.ops import ArrayOp, Index, Scatter, SetItem, Where
from ..ir.select import pick
from ..ir.special import either, nonfinite
from .rules import rule_for, unbounded


def _either(a, c):
    return c if a is None or a == c else b.call(either, a, c)


def _product(ct, p):
    """ct*p; where ct is a select's cotangent, zero off its branch, the select
    of the product: a partial that is nan or inf where the branch is not
    taken (`np.where(np.isnan(y), 0, a*y)`: ∂/∂a is y) then gives 0, not
    0*nan.  The same count of ops, so it costs nothing where all is finite."""
    if isinstance(ct, Where) and b.ZERO in ct.args[1:]:
        c, yes, no = ct.args
        return pick(c, b.mul(yes, p), b.ZERO) if no == b.ZERO else pick(c, b.ZERO, b.mul(no, p))
    return b.mul(ct, p)


def _split(term):
    """(numeric coefficient, non-numeric factors) of a product, looking two
    Mul levels deep only (a cotangent may be a long product chain: going
    further would make collecting quadratic)."""
    if not isinstance(term, sp.Mul):
        return b.ONE, (term,)
    coeff, rest = b.ONE, []
    for f in term.args:
        for h in (f.args if isinstance(f, sp.Mul) else (f,)):
            if isinstance(h, sp.Number):
                coeff *= h
            else:
                rest.append(h)
    return coeff, tuple(sorted(rest, key=hash))


def _collect(terms):
    """Cotangent contributions with like terms summed: `c*u + d*u` is
    `(c + d)*u`, and terms that cancel (`x*cos(x) + sin(x) - sin(x)`, the
    derivative of `sin(x)*x + cos(x)`) are gone.  Dropping a cancelled term
    may shrink an inferred shape, which is safe here: cotangents are read
    by their node's logical shape."""
    if len(terms) < 2:
        return terms
    groups = {}
    for t in terms:
        coeff, rest = _split(t)
        if rest in groups:
            groups[rest][0] += coeff
            groups[rest][1] = None  # rebuilt from the summed coefficient
        else:
            groups[rest] = [coeff, t]
    return [t if t is not None else b.mul(c, *rest)
            for rest, (c, t) in groups.items() if c != 0]


class Backward:
    """The state of one backward pass, and what rules may ask of it."""

    def __init__(self, order, wrt, shapes):
        self.shapes = shapes
        self._active = set()
        for node in order:
            if node in wrt or (not isinstance(node, (Relational, Boolean))
                               and any(c in self._active for c in children(node))):
                self._active.add(node)
        self.hits = {}
        self.arrived = None  # per operand, the strong-zero flag the last rule passed down

    def active(self, x):
        """Does x depend on a leaf being differentiated?"""
        return x in self._active

    def unbroadcast(self, ct, from_shape, operand):
        return b.sum_to(ct, from_shape, self.shapes(operand))

    def chain(self, y, ct, partials):
        """The elementwise chain rule: ct*∂y/∂x for each operand x (None where
        the partial is), summed to x's shape; a strong product below a
        pole of y or wherever an infinity arrived from above."""
        hit = self.hits.get(y)
        pole = unbounded(y)
        self.arrived = [hit if p is None or not pole else _either(hit, b.call(nonfinite, p))
                        for p in partials]
        return [None if p is None else self.unbroadcast(
            _product(ct, p) if h is None else b.strong_mul(ct, p, h), self.shapes(y), x)
            for x, p, h in zip(y.args, partials, self.arrived)]

    def pass_hit(self, y):
        """A select: the flag reaching y passes to its operands unchanged."""
        self.arrived = [self.hits.get(y)] * len(y.args)


# the operands that carry values into a gather, a scatter and an item assignment
# (the rest are the positions: an integer that picks a window `x[i:i + B]`)
_VALUE_OPERANDS = {Index: 1, Scatter: 1, SetItem: 2}


def _value_reach(outputs):
    """The nodes whose values flow into the outputs: a leaf that only picks
    positions gets None, as an integer that picked a slice by its value did."""
    seen, todo = set(), list(outputs)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            kids = children(node)
            todo.extend(kids[:_VALUE_OPERANDS.get(type(node), len(kids))])
    return seen


def vjp(outputs, cotangents, wrt, shapes):
    """Cotangent expressions for each leaf in `wrt` (None where the outputs do
    not depend on the leaf).

    outputs: nodes; cotangents: one seed expression per output, of the
    output's logical shape (e.g. `1` for a scalar loss); shapes: the
    :class:`~zygote_sym.ir.nodes.Shapes` table.  A returned gradient has
    exactly its leaf's shape.
    """
    order = postorder(outputs)
    wrt_set = set(wrt)
    ctx = Backward(order, wrt_set, shapes)
    pending = {}
    for out, ct in zip(outputs, cotangents):
        if ctx.active(out):
            pending.setdefault(out, []).append(ct)
    grads = {}
    for node in reversed(order):
        cts = pending.pop(node, None)
        if cts is None:
            continue
        ct = b.add(*_collect(cts))
        if node in wrt_set:
            grads[node] = ct
            if not children(node):
                continue
        if isinstance(node, ArrayOp) and node.exact_ct:
            ct = b.broadcast_to(ct, shapes(node), shapes)
        ctx.arrived = None
        contribs = rule_for(node)(ctx, node, ct)
        arrived = ctx.arrived or [None] * len(contribs)
        for arg, c, h in zip(children(node), contribs, arrived):
            if c is not None and ctx.active(arg) and c != 0:
                pending.setdefault(arg, []).append(c)
                if h is not None:
                    ctx.hits[arg] = _either(ctx.hits.get(arg), h)
    # a leaf the output reaches only through zero partials (floor, a
    # comparison) gets 0; a leaf it does not reach at all gets None
    reached = set(order)
    if any(leaf in reached and leaf not in grads for leaf in wrt):
        reached = _value_reach(outputs)
    return [b.broadcast_to(grads.get(leaf, b.ZERO), leaf.shape, shapes) if leaf in reached
            else None for leaf in wrt]


def grad(out, wrt, shapes):
    """The gradient of the scalar node `out` with respect to each leaf of `wrt`."""
    return vjp([out], [b.ONE], wrt, shapes)
