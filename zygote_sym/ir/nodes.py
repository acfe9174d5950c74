"""The expression DAG shared by tracing, differentiation and code generation:
leaves, walks and the shape table.

Nodes are SymPy expressions built *unevaluated*: SymPy's automatic evaluation
is super-linear on traced graphs (DESIGN.md, "What a throwaway prototype
measured"), so the builders (build.py) do only a few cheap local folds of their own
(numbers, `x*1`, `x+0`, `x**1`).  Every pass over a graph is one of the
iterative walks below, which visit each unique node once; SymPy's own tree
walkers (`free_symbols`, `str`, `xreplace`, ...) are exponential on shared DAGs.

An array leaf is a single :class:`Leaf` symbol with elementwise semantics; the
:class:`Shapes` table infers every node's logical shape from the leaves.
"""
import itertools

import numpy as np
import sympy as sp

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


def rebuilt(node, new):
    """`node` with its arguments replaced through `new` (old node -> new
    node), or `node` itself where none is: the step of every rewriting pass."""
    args = [new.get(a, a) for a in node.args]
    if any(a is not b for a, b in zip(args, node.args)):
        return node.func(*args, evaluate=False)
    return node


def substitute(roots, mapping):
    """Replace nodes by `mapping` in every root, rebuilding each node once."""
    new = dict(mapping)
    for node in postorder(roots):
        if node in new or not children(node):
            continue
        node_new = rebuilt(node, new)
        if node_new is not node:
            new[node] = node_new
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
