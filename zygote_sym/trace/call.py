"""Run a Python function on tracers and collect its SymPy DAG.

`trace_call(f, args)` flattens the arguments into leaves, gives each a
:class:`~zygote_sym.ir.nodes.Leaf` named after its argument path (`a.x`,
`p['w']`, `args[1]`), calls f with tracers in their place, and always
(also when f raises) replaces any tracer f left in reachable user state by
its concrete value.
"""
import inspect
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .. import pytree
from ..ir.nodes import Leaf
from .capture import scrub, slots
from .dispatch import DISPATCH
from .tracer import Trace, Tracer


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
    n_params: int = 0     # the last n_params of `leaves` are implicit parameters
    captured: list = field(default_factory=list)  # (const Leaf, Slot) read at call time

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
        return Leaf(path, ())
    complex_ = np.iscomplexobj(value.value if isinstance(value, Tracer) else value)
    return Leaf(path, np.shape(value), **({"complex": True, "real": None} if complex_ else {}))


def _param_name(slot, i):
    return slot.key if isinstance(slot.key, str) and slot.key.isidentifier() else f"params[{i}]"


def trace_call(f, args, names=None, params=(), capture=False):
    """Trace f(*args).

    params: implicit parameters (see params.Params) that f reaches through
    closures, globals, attributes or container items: differentiable leaves.
    capture: also put constant tracers in place of the float arrays f
    reaches that way, so a compiled kernel reads them at call time
    (`Traced.captured` lists (leaf, slot) pairs).
    """
    names = names or arg_names(f, len(args))
    flat = []
    trees = [pytree.flatten(a, n, flat) for a, n in zip(args, names)]
    params = list(params)
    found = slots([f]) if params or capture else []
    places = [s for s in found if any(s.get() is p for p in params)]
    for i, p in enumerate(params):
        where = [s for s in places if s.get() is p]
        flat.append((_param_name(where[0], i) if where else f"params[{i}]", p))
    trace = Trace(DISPATCH)
    leaves = [_make_leaf(path, v) for path, v in flat]
    tracers = [trace.new(leaf, None if isinstance(v, sp.Expr) else v)
               for leaf, (_, v) in zip(leaves, flat)]
    arg_tracers = iter(tracers)
    traced_args = [pytree.rebuild(t, arg_tracers) for t in trees]
    by_id = {id(p): t for p, t in zip(params, tracers[len(tracers) - len(params):])}
    captured = []
    if capture:
        taken = {id(v) for _, v in flat}
        for s in found:
            v = s.get()
            if type(v) is np.ndarray and v.dtype.kind in "fc" and id(v) not in taken:
                if id(v) not in by_id:
                    leaf = Leaf(_param_name(s, len(captured)), v.shape, role="const")
                    by_id[id(v)] = trace.new(leaf, v)
                    captured.append((leaf, s))
                places.append(s)
    originals = [(s, s.get()) for s in places]
    try:
        for s, p in originals:
            s.set(by_id[id(p)])
        out = f(*traced_args)
    finally:
        trace.done = True  # a tracer of it met later is an escaped one
        for s, p in originals:
            s.set(p)
        scrub([f, *args],
              lambda v: isinstance(v, Tracer) and v.trace is trace,
              lambda t: t.expr if t.value is None else t.value)
    out_flat = []
    out_tree = pytree.flatten(out, "output", out_flat)
    out_exprs = [trace.lift(v) for _, v in out_flat]
    out_values = [v.value if isinstance(v, Tracer) else v for _, v in out_flat]
    consts = [leaf for leaf in trace.const_values]
    values = [v.value if isinstance(v, Tracer) else v for _, v in flat]  # (a nested trace)
    return Traced(trace, leaves, values, trees, out_tree, out_exprs,
                  out_values, consts, n_params=len(params), captured=captured)
