"""The derivative rules: ONE registry, one signature.

`VJPS[type(y)](ctx, y, ct)` returns one cotangent (or None) per operand of
the node `y`, given `ct`, the cotangent of `y`.  `ctx` is the backward pass
(backward.py): `ctx.shapes`, `ctx.active(x)` (is x differentiated?),
`ctx.chain(y, ct, partials)` (the elementwise chain rule, with
unbroadcasting and the strong zero below poles) and `ctx.unbroadcast`.
Each op family keeps its table in its own module; this one merges them.
docs/adding_rules.md shows how to add one.
"""
import sympy as sp

from ...ir.ops import ArrayOp
from . import elementwise, linalg, products, reductions, scans, shape

VJPS = {**elementwise.VJPS, **reductions.VJPS, **scans.VJPS, **products.VJPS, **shape.VJPS,
        **linalg.VJPS}

unbounded = elementwise.unbounded


def rule_for(node):
    """The rule of `node`'s class; SymPy's own derivative for an elementwise
    function with none (DESIGN.md: `fdiff` only as a fallback)."""
    rule = VJPS.get(type(node))
    if rule is not None:
        return rule
    if isinstance(node, sp.Function) and not isinstance(node, ArrayOp):
        return elementwise.fallback
    raise NotImplementedError(f"no derivative rule for {type(node).__name__}: add one to "
                              "a table of zygote_sym/ad/rules (docs/adding_rules.md)")
