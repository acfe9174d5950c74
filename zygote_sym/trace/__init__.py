"""Run a Python function on tracers and collect its SymPy DAG.

`trace_call(f, args)` flattens the arguments into leaves, gives each a
:class:`~zygote_sym.graph.Leaf` named after its argument path (`a.x`,
`p['w']`, `args[1]`), calls f with tracers in their place, and always
(also when f raises) replaces any tracer f left in reachable user state by
its concrete value.
"""
import inspect
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .. import graph as g
from .. import pytree
from .capture import scrub
from .tracer import Guard, Trace, Tracer

__all__ = ["Traced", "Trace", "Tracer", "Guard", "trace_call", "arg_names"]


@dataclass
class Traced:
    """What one trace produced."""
    trace: Trace
    leaves: list          # Leaf per differentiable input leaf, in order
    leaf_values: list     # the concrete input values (SymPy exprs in symbolic mode)
    arg_trees: list       # pytree.Node per positional argument
    out_tree: pytree.Node
    out_exprs: list       # SymPy node per output leaf
    out_values: list      # concrete output values (None where symbolic)
    consts: list = field(default_factory=list)  # constant leaves, kernel inputs after `leaves`

    @property
    def guards(self):
        return self.trace.guards

    @property
    def shapes(self):
        return self.trace.shapes

    @property
    def symbolic(self):
        return any(isinstance(v, sp.Expr) for v in self.leaf_values)


def arg_names(f, n):
    """Parameter names of f for n positional arguments (`args[i]` past them)."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(n):
        p = params[i] if i < len(params) else None
        if p is None or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            names.append(f"args[{i}]")
        else:
            names.append(p.name)
    return names


def _make_leaf(path, value):
    if isinstance(value, sp.Expr):
        return g.Leaf(path, ())
    complex_ = np.iscomplexobj(value)
    return g.Leaf(path, np.shape(value), **({"complex": True, "real": None} if complex_ else {}))


def trace_call(f, args, names=None):
    names = names or arg_names(f, len(args))
    flat = []
    trees = [pytree.flatten(a, n, flat) for a, n in zip(args, names)]
    trace = Trace()
    leaves = [_make_leaf(path, v) for path, v in flat]
    tracers = iter([trace.new(leaf, None if isinstance(v, sp.Expr) else v)
                    for leaf, (_, v) in zip(leaves, flat)])
    traced_args = [pytree.rebuild(t, tracers) for t in trees]
    try:
        out = f(*traced_args)
    finally:
        scrub([f, *args],
              lambda v: isinstance(v, Tracer) and v.trace is trace,
              lambda t: t.expr if t.value is None else t.value)
    out_flat = []
    out_tree = pytree.flatten(out, "output", out_flat)
    out_exprs = [trace.lift(v) for _, v in out_flat]
    out_values = [v.value if isinstance(v, Tracer) else v for _, v in out_flat]
    consts = [leaf for leaf in trace.const_values]
    return Traced(trace, leaves, [v for _, v in flat], trees, out_tree, out_exprs,
                  out_values, consts)
