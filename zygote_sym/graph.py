"""The expression DAG shared by tracing, differentiation and code generation.

Nodes are SymPy expressions built *unevaluated*: SymPy's automatic evaluation
is super-linear on traced graphs (DESIGN.md, "What a throwaway prototype
measured"), so the builders here do only a few cheap local folds of their own
(numbers, `x*1`, `x+0`, `x**1`).  Every pass over a graph is one of the
iterative walks below, which visit each unique node once; SymPy's own tree
walkers (`free_symbols`, `str`, `xreplace`, ...) are exponential on shared DAGs.

An array leaf is a single :class:`Leaf` symbol with elementwise semantics; the
:class:`Shapes` table infers every node's logical shape from the leaves.
"""
import itertools

import numpy as np
import sympy as sp
from sympy.core.relational import Relational

from .rules import special

ZERO, ONE, NEG_ONE = sp.Integer(0), sp.Integer(1), sp.Integer(-1)
HALF = sp.Rational(1, 2)

_uids = itertools.count()


class Leaf(sp.Symbol):
    """One input of a trace: a real Symbol standing for a whole value of `shape`.

    `role` is "arg" (differentiable input), "const" (captured array) or "ct"
    (a cotangent seed).  Each Leaf is unique (a serial number is part of its
    hash), so two traces, or a user argument and a constant that happen to
    share a name, never merge.
    """

    __slots__ = ("shape", "role", "uid")

    def __new__(cls, name, shape=(), role="arg", **assumptions):
        assumptions.setdefault("real", True)
        obj = sp.Symbol.__xnew__(cls, name, **assumptions)
        obj.shape, obj.role, obj.uid = tuple(shape), role, next(_uids)
        return obj

    def _hashable_content(self):
        return super()._hashable_content() + (self.uid,)

    def __getnewargs_ex__(self):
        return (self.name, self.shape, self.role), self.assumptions0


def children(node):
    """The operands of a node: what the walks, the backward pass and codegen visit."""
    ops = getattr(node, "operands", None)
    return ops if ops is not None else node.args


def postorder(roots, known=frozenset(), into=None):
    """Unique nodes reachable from `roots`, each after its operands (iterative).
    Nodes in `known` (and everything below them) are neither visited nor
    listed; a node for which `into(node)` is false is listed, its operands
    are not visited."""
    seen, order = set(), []
    kids = children if into is None else (lambda n: children(n) if into(n) else ())
    for root in roots:
        if root in seen or root in known:
            continue
        stack = [(root, iter(kids(root)))]
        seen.add(root)
        while stack:
            node, it = stack[-1]
            for child in it:
                if child not in seen and child not in known:
                    seen.add(child)
                    stack.append((child, iter(kids(child))))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def count_nodes(roots):
    return len(postorder(roots))


def tree_size(roots):
    """Nodes the expanded trees of `roots` would print (shared nodes counted
    once per use), computed in one pass over the DAG."""
    size = {}
    for n in postorder(roots):
        size[n] = 1 + sum(size[c] for c in children(n))
    return sum(size[r] for r in roots)


def substitute(roots, mapping):
    """Replace nodes by `mapping` in every root, rebuilding each node once."""
    new = dict(mapping)
    for node in postorder(roots):
        if node in new or not children(node):
            continue
        args = [new.get(a, a) for a in node.args]
        if any(a is not b for a, b in zip(args, node.args)):
            new[node] = node.func(*args, evaluate=False)
    return [new.get(r, r) for r in roots]


class Shapes:
    """Logical shape of every node (memoised): leaves carry theirs, elementwise
    nodes broadcast their operands' (NumPy rules), structural ops apply their
    own `shape_rule`."""

    def __init__(self):
        self._memo = {}

    def __call__(self, node):
        memo = self._memo
        if node in memo:
            return memo[node]
        for n in postorder([node], memo):
            if isinstance(n, Leaf):
                memo[n] = n.shape
            elif hasattr(n, "shape_rule"):
                memo[n] = n.shape_rule(*[memo[c] for c in children(n)])
            else:
                memo[n] = broadcast(*[memo[c] for c in children(n)])
        return memo[node]


def broadcast(*shapes):
    shapes = [s for s in shapes if s]
    if not shapes:
        return ()
    if all(s == shapes[0] for s in shapes):
        return shapes[0]
    return tuple(np.broadcast_shapes(*shapes))


# ----------------------------------------------------------------- builders
# Unevaluated constructors with the local folds that never change a shape
# (dropping a scalar 0 from a sum or a scalar 1 from a product) plus number
# folding.  `mul` by 0 returns 0 and so may lose a shape: tracing re-checks
# shapes against concrete values, and the backward pass drops zero terms.

def const(value):
    """A Python/NumPy scalar or Fraction as a SymPy number; floats that are
    exactly a small-denominator rational (0.5, 1.875, 2.0) become Rationals so
    that closed forms read `x/2`, not `0.5*x` (the value is unchanged)."""
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, (bool, np.bool_)):
        return sp.true if value else sp.false
    if isinstance(value, (int, np.integer)):
        return sp.Integer(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if np.isfinite(value):
            from fractions import Fraction
            fr = Fraction(value)
            if fr.denominator <= 1024 and abs(fr.numerator) < 2**53:
                return sp.Rational(fr.numerator, fr.denominator)
            return sp.Float(value, 17)
        return sp.nan if np.isnan(value) else (sp.oo if value > 0 else -sp.oo)
    if hasattr(value, "numerator") and hasattr(value, "denominator"):
        return sp.Rational(int(value.numerator), int(value.denominator))
    if isinstance(value, (complex, np.complexfloating)):
        return const(value.real) + sp.I * const(value.imag)
    raise TypeError(f"cannot use {type(value).__name__} {value!r} as a constant")


def _is_num(x):
    return isinstance(x, sp.Number)


def add(*args):
    args = [a for a in args if a is not ZERO and a != 0]
    nums = [a for a in args if _is_num(a)]
    if len(nums) > 1:
        args = [a for a in args if not _is_num(a)] + [sp.Add(*nums)]
        args = [a for a in args if a != 0]
    if not args:
        return ZERO
    if len(args) == 1:
        return args[0]
    return sp.Add(*args, evaluate=False)


def mul(*args):
    args = [a for a in args if a is not ONE and a != 1]
    if any(a == 0 for a in args if _is_num(a)):
        return ZERO
    nums = [a for a in args if _is_num(a)]
    if len(nums) > 1:
        folded = sp.Mul(*nums)
        args = ([folded] if folded != 1 else []) + [a for a in args if not _is_num(a)]
    elif nums and nums[0] is not args[0]:
        args = nums + [a for a in args if not _is_num(a)]  # scalar factor first
    if not args:
        return ONE
    if len(args) == 1:
        return args[0]
    if len(args) == 2 and (v := _exp_times_sigmoid(*args)) is not None:
        return call(special.sigmoid, v)
    return sp.Mul(*args, evaluate=False)


def _exp_times_sigmoid(a, b):
    """v if a*b is `exp(v)*sigmoid(-v)`, which is how `exp(v)/(1 + exp(v))`
    arrives (see `pow_`), else None."""
    e, s = (a, b) if isinstance(a, sp.exp) else (b, a)
    if isinstance(e, sp.exp) and isinstance(s, special.sigmoid) and s.args[0] == neg(e.args[0]):
        return e.args[0]
    return None


def strong_mul(a, b, hit):
    """a*b where 0 times inf or nan must be 0, `hit` the truth value "a factor
    may be non-finite" (the backward pass below a pole; rules/special.py)."""
    if any(_is_num(x) and x != 0 and x.is_finite for x in (a, b)) or hit is sp.false:
        return mul(a, b)
    if a == 0 or b == 0:
        return ZERO
    return special.strong_mul(a, b, hit, evaluate=False)


def pow_(base, exp):
    if exp == 1:
        return base
    if exp == 0 and _is_num(base):  # x**0 stays a node: its gradient is 0, not None
        return ONE
    if _is_num(base) and _is_num(exp) and (base > 0 or exp.is_integer) and base != 0:
        return base ** exp
    if exp == -1 and (v := _one_plus_exp(base)) is not None:  # 1/(1 + exp(-x))
        return call(special.sigmoid, neg(v))
    if exp == HALF:  # sqrt(sum(x**2)): the norm, whose gradient at 0 is 0
        from .ops import as_norm  # (ops builds on this module)
        if (n := as_norm(base)) is not None:
            return n
    return sp.Pow(base, exp, evaluate=False)


def _one_plus_exp(x):
    """v if x is `1 + exp(v)` (either order), else None."""
    if isinstance(x, sp.Add) and len(x.args) == 2 and ONE in x.args:
        e = x.args[0] if x.args[1] == ONE else x.args[1]
        if isinstance(e, sp.exp):
            return e.args[0]
    return None


def neg(a):
    if isinstance(a, sp.Mul) and len(a.args) == 2 and a.args[0] == NEG_ONE:
        return a.args[1]  # -(-x) is x
    return mul(NEG_ONE, a)


def sub(a, b):
    return add(a, neg(b))


def div(a, b):
    return mul(a, pow_(b, NEG_ONE))


def call(func, *args):
    return func(*args, evaluate=False)


def relation(kind, a, b):
    """A comparison node: kind is one of '<', '<=', '>', '>=', '==', '!='.
    Two finite numbers compare to sp.true/sp.false (selects on them fold)."""
    if _is_num(a) and _is_num(b) and a.is_finite and b.is_finite:
        return Relational(a, b, kind)
    return Relational(a, b, kind, evaluate=False)
