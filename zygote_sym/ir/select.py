"""Selects: `np.where` of user code made safe at the branch not taken.

SAFE maps a function that can be non-finite at a finite argument (a pole,
an overflow, a domain edge) to one point per argument where it and its
derivative are finite (None: that argument is harmless): a select's branch
not taken evaluates such functions at these points (`where`, the "double
where").
"""
import sympy as sp
from sympy.codegen.cfunctions import exp2, expm1, log1p, log2, log10

from .build import HALF, ONE, ZERO, call
from .nodes import Leaf, postorder
from .ops import ArrayOp, Where, betainc, erfcx, gammainc, gammaincc
from .special import safe

SAFE = {
    sp.exp: (0,), exp2: (0,), expm1: (0,), sp.sinh: (0,), sp.cosh: (0,),  # overflow
    sp.log: (1,), log2: (1,), log10: (1,), log1p: (0,),                    # pole at 0 (-1)
    sp.tan: (0,), sp.asin: (0,), sp.acos: (0,), sp.atanh: (0,), sp.acosh: (2,),
    sp.gamma: (1,), sp.loggamma: (1,), sp.polygamma: (None, 1), sp.Mod: (None, 1),
    sp.erfinv: (0,), sp.erfcinv: (1,),                                     # pole at ±1 (0, 2)
    sp.bessely: (None, 1), sp.besselk: (None, 1), sp.beta: (1, 1),         # poles at 0
    sp.besseli: (None, 0), erfcx: (0,),                                    # overflow
    gammainc: (None, 1), gammaincc: (None, 1), betainc: (None, None, HALF),  # domain edges
}


def _pow_safe(base, exp):
    if isinstance(exp, sp.Number):  # x**-1, x**0.5, x**1.875 (x < 0): base -> 1
        return [None if exp.is_integer and exp >= 0 else ONE, None]
    if isinstance(base, sp.Number):  # 2**y overflows: y -> 0
        return [None, ZERO]
    return [ONE, None]               # x**y: x -> 1 (1**y = 1, log 1 = 0)


def safe_args(node):
    """Per argument of an elementwise node, its safe point or None (see SAFE)."""
    if isinstance(node, sp.Pow):
        return _pow_safe(*node.args)
    return [None if v is None else sp.S(v) for v in SAFE.get(node.func, ())]


def pick(c, a, b):
    """A select node (folded where c is constant or a == b) for operands that
    need no safe points: cotangents, safe points themselves.  User selects
    use `where`."""
    if c == sp.true:
        return a
    if c == sp.false:
        return b
    if a == b:
        return a
    return Where(c, a, b, evaluate=False)


_SAFE_DEPTH = 6  # elementwise levels below a branch that `where` makes safe


def where(c, a, b):
    """`np.where(c, a, b)` of user code, with the "double where" made
    automatic: in each branch, the argument of every op that can be
    non-finite at a finite point (1/x, log, sqrt, exp, ...: `SAFE` above)
    is replaced by a safe point where the branch is not taken:
    `where(x > 0, log(x), 0)` becomes `where(x > 0, log(safe(x, x > 0, 1)), 0)`
    (special.py; closed forms show plain `log(x)`).
    So the branch not taken computes finite values (no warning, no
    ZeroDivisionError in a `math` kernel) and finite partials for its zero
    cotangent.  JAX leaves this to the user (its FAQ: "Gradients contain NaN
    where using where").

    Only ops within _SAFE_DEPTH elementwise levels of a branch are made safe,
    never below a structural op or inside a nested select: rebuilding deeper
    would copy whole histories (quadratic on loops), and such ops are mostly
    computed for other uses anyway.  Below them, gradients through a pole
    (sqrt at 0) still get the strong zero of the backward pass.
    """
    if isinstance(a, Where) and a.args[0] == c:  # the user's own double where
        a = a.args[1]
    if isinstance(b, Where) and b.args[0] == c:
        b = b.args[2]
    if c in (sp.true, sp.false) or a == b:
        return pick(c, a, b)
    return pick(c, _made_safe(a, c, True), _made_safe(b, c, False))


def _made_safe(root, c, taken):
    """`root` with each unsafe op's arguments replaced by `safe(arg, c, point)`
    (c negated if the branch is taken where c is false)."""
    near, level = set(), [root]
    for _ in range(_SAFE_DEPTH):  # the elementwise ops near root
        level = [n for n in level if n not in near and n.args and isinstance(n, sp.Expr)
                 and not isinstance(n, (ArrayOp, Leaf))]
        near.update(level)
        level = list(dict.fromkeys(a for n in level for a in n.args))
    live = c if taken else sp.Not(c, evaluate=False)
    new = {}
    for node in postorder([root], into=near.__contains__):
        if node not in near:
            continue
        args = [new.get(a, a) for a in node.args]
        for i, point in enumerate(safe_args(node)):
            if point is not None and not isinstance(args[i], sp.Number):
                args[i] = call(safe, args[i], live, point)
        if any(x is not y for x, y in zip(args, node.args)):
            new[node] = node.func(*args, evaluate=False)
    return new.get(root, root)
