"""Reverse mode over a SymPy DAG.

Unique nodes are visited once, in reverse topological order; each node's
cotangent contributions are collected in a list and summed by one `Add`
when the node is reached, so the cost is linear in the number of nodes and
the gradient DAG shares every node of the primal (no expression swell).

A cotangent's *logical* shape is its node's shape even where its inferred
shape is smaller (the constant 1, say): unbroadcasting sums by the node's
logical shape, and structural ops that need an exact shape get a
BroadcastTo (DESIGN.md, "Canonicalisation drops shapes").
"""
import sympy as sp
from sympy.core.relational import Relational
from sympy.logic.boolalg import Boolean

from . import graph as g
from .ops import ArrayOp, broadcast_to, pick, sum_to
from .rules.elementwise import partials as elementwise_partials, unbounded


def _pow_partials(node, active):
    """The power rule n*x**(n-1), never y*x**y/x (0/0 at x = 0).  With the
    exponent traced too: y*x**(y-1) with a strong zero (0 at y = 0, where
    x**-1 may be inf), and x**y*log(x) only where x != 0 (0 there: the
    limit for y > 0, not 0*(-inf))."""
    base, exp = node.args
    out = [None, None]
    if base in active:
        p = g.pow_(base, g.sub(exp, g.ONE))
        out[0] = g.mul(exp, p) if isinstance(exp, sp.Number) else g.strong_mul(exp, p)
    if exp in active:
        if base == 0:
            out[1] = g.ZERO
        elif isinstance(base, sp.Number) and base > 0:
            out[1] = g.mul(node, sp.log(base))
        else:
            safe = pick(g.relation("==", base, g.ZERO), g.ONE, base)
            out[1] = g.strong_mul(node, g.call(sp.log, safe))
    return out


def _mul_partials(node, active):
    args = node.args
    return [g.mul(*(args[:i] + args[i + 1:])) if a in active else None
            for i, a in enumerate(args)]


def _partials(node, active):
    if isinstance(node, sp.Add):
        return [g.ONE] * len(node.args)
    if isinstance(node, sp.Mul):
        return _mul_partials(node, active)
    if isinstance(node, sp.Pow):
        return _pow_partials(node, active)
    return elementwise_partials(node, active)


def vjp(outputs, cotangents, wrt, shapes):
    """Cotangent expressions for each leaf in `wrt` (None where the outputs do
    not depend on the leaf).

    outputs: nodes; cotangents: one seed expression per output, of the
    output's logical shape (e.g. `1` for a scalar loss); shapes: the
    :class:`graph.Shapes` table.  A returned gradient has exactly its leaf's
    shape.
    """
    order = g.postorder(outputs)
    wrt_set = set(wrt)
    active = set()
    for node in order:
        if node in wrt_set or (not isinstance(node, (Relational, Boolean))
                               and any(c in active for c in g.children(node))):
            active.add(node)
    pending = {}
    for out, ct in zip(outputs, cotangents):
        if out in active:
            pending.setdefault(out, []).append(ct)
    grads = {}
    # Nodes whose cotangent may be inf/nan at finite inputs: those below a
    # partial that can be (`unbounded`: sqrt'(0), exp' overflowing, ...).
    # Their products use a strong zero, 0*inf = 0: an infinite partial meets
    # the zero cotangent of a branch not taken or of a kink, and an infinite
    # cotangent meets a zero slope (sqrt(x**2) at 0 gives 0 = |x|'(0)).
    maybe_inf = set()
    for node in reversed(order):
        cts = pending.pop(node, None)
        if cts is None:
            continue
        ct = g.add(*cts)
        if node in wrt_set:
            grads[node] = ct
            if not g.children(node):
                continue
        if isinstance(node, ArrayOp):
            if getattr(node, "exact_ct", True):
                ct = broadcast_to(ct, shapes(node), shapes)
            contribs = node.vjp(ct, shapes)
            inf = node in maybe_inf
        else:
            inf = node in maybe_inf or unbounded(node)
            times = g.strong_mul if inf else g.mul
            out_shape = shapes(node)
            contribs = [None if p is None else sum_to(times(ct, p), out_shape, shapes(a))
                        for a, p in zip(node.args, _partials(node, active))]
        for arg, c in zip(g.children(node), contribs):
            if c is not None and arg in active and c != 0:
                pending.setdefault(arg, []).append(c)
                if inf:
                    maybe_inf.add(arg)
    # a leaf the output reaches only through zero partials (floor, a
    # comparison) gets 0; a leaf it does not reach at all gets None
    reached = set(order)
    return [broadcast_to(grads.get(leaf, g.ZERO), leaf.shape, shapes) if leaf in reached
            else None for leaf in wrt]
