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
from .ops import ArrayOp, Where, broadcast_to, sum_to
from .rules.elementwise import partials as elementwise_partials, unbounded
from .rules.special import either, guard, nonfinite


def _pow_partials(node, active):
    """The power rule n*x**(n-1), never y*x**y/x (0/0 at x = 0).  With the
    exponent traced too: y*x**(y-1) with a strong zero (0 at y = 0, where
    x**-1 may be inf), and x**y*log(x) only where x != 0 (0 there: the
    limit for y > 0, not 0*(-inf))."""
    base, exp = node.args
    out = [None, None]
    if base in active:
        p = g.pow_(base, g.sub(exp, g.ONE))
        out[0] = g.mul(exp, p) if isinstance(exp, sp.Number) else \
            g.strong_mul(exp, p, g.call(nonfinite, p))
    if exp in active:
        if base == 0:
            out[1] = g.ZERO
        elif isinstance(base, sp.Number) and base > 0:
            out[1] = g.mul(node, sp.log(base))
        else:
            safe = g.call(guard, base, g.relation("!=", base, g.ZERO), g.ONE)
            out[1] = g.strong_mul(node, g.call(sp.log, safe), g.call(nonfinite, node))
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


def _either(a, b):
    return b if a is None or a == b else g.call(either, a, b)


def _split(term):
    """(numeric coefficient, non-numeric factors) of a product, looking two
    Mul levels deep only (a cotangent may be a long product chain: going
    further would make collecting quadratic)."""
    if not isinstance(term, sp.Mul):
        return g.ONE, (term,)
    coeff, rest = g.ONE, []
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
    return [t if t is not None else g.mul(c, *rest)
            for rest, (c, t) in groups.items() if c != 0]


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
    # A partial that is infinite where its function is finite (`unbounded`:
    # sqrt'(0)), and every cotangent below it, is multiplied with a strong
    # zero, 0*inf = 0: where the infinite partial meets a zero cotangent (a
    # kink, a branch not taken) and where an infinite cotangent meets a zero
    # slope (sqrt(x**2) at 0 gives 0 = |x|'(0)).  hits[node] is the scalar
    # truth value "an infinity did arrive" (`nonfinite` of the partials it
    # came from), so the kernels multiply plainly while it is false.  The
    # strong zero stays within elementwise code (selects included): through
    # a reduction, a matmul or an index it would cost every product below
    # (a root-mean-square loss: 3x); the norm has its own rule instead.
    # (docs/special_points.md, "the strong zero")
    hits = {}
    for node in reversed(order):
        cts = pending.pop(node, None)
        if cts is None:
            continue
        ct = g.add(*_collect(cts))
        if node in wrt_set:
            grads[node] = ct
            if not g.children(node):
                continue
        hit = hits.get(node)
        if isinstance(node, ArrayOp):
            if getattr(node, "exact_ct", True):
                ct = broadcast_to(ct, shapes(node), shapes)
            contribs = node.vjp(ct, shapes)
            arrived = [hit if isinstance(node, Where) else None] * len(contribs)
        else:
            parts = _partials(node, active)
            arrived = [hit if p is None or not unbounded(node) else
                       _either(hit, g.call(nonfinite, p)) for p in parts]
            contribs = [None if p is None else sum_to(
                g.mul(ct, p) if h is None else g.strong_mul(ct, p, h), shapes(node), shapes(a))
                for a, p, h in zip(node.args, parts, arrived)]
        for arg, c, h in zip(g.children(node), contribs, arrived):
            if c is not None and arg in active and c != 0:
                pending.setdefault(arg, []).append(c)
                if h is not None:
                    hits[arg] = _either(hits.get(arg), h)
    # a leaf the output reaches only through zero partials (floor, a
    # comparison) gets 0; a leaf it does not reach at all gets None
    reached = set(order)
    return [broadcast_to(grads.get(leaf, g.ZERO), leaf.shape, shapes) if leaf in reached
            else None for leaf in wrt]
