"""The transformations traced at the call: each call traces f at the given
arguments (flattened as pytrees), runs the reverse pass over the SymPy DAG,
generates a kernel for the primal and the cotangents, and returns what that
kernel computes, shaped like the arguments.  SymPy arguments give SymPy
results instead (fully symbolic mode).

`api.py` calls these when a trace cannot be reused (reuse.py says when),
and `compiled.py` inside a derivative (its result must stay traced).
"""
from typing import Any, Callable, List, Sequence, Tuple

import numpy as np
import sympy as sp

from . import closed_form, pytree
from .ad.backward import grad, vjp
from .codegen.kernel import Kernel
from .ir import build
from .ir.nodes import Leaf
from .params import Grads, Params
from .trace.call import trace_call
from .trace.complex import ComplexTracer
from .trace.tracer import Tracer
from .transform import (WithGradient, as_leaf_result, as_result, collapse_complex,
                        flat_cotangent, jacobian_blocks, leaf_groups, lift_results, plain,
                        scalar_output, seeded_kernel, spread)


def _symbolic_names(traced):
    """Leaf -> expression for closed forms: the user's SymPy expression, or
    the number itself for a numeric scalar beside symbolic ones."""
    return {leaf: v if isinstance(v, sp.Expr) else build.const(v)
            for leaf, v in zip(traced.leaves, traced.leaf_values) if np.ndim(v) == 0}


def _evaluate(traced, nodes):
    """Values of `nodes` at the traced inputs: by a generated kernel, or as
    SymPy closed forms in symbolic mode.  None nodes stay None."""
    present = [n for n in nodes if n is not None]
    if traced.symbolic:
        out = iter(closed_form.closed_forms(present, _symbolic_names(traced)))
    else:
        inputs = traced.leaves + traced.consts
        values = traced.leaf_values + [traced.trace.const_values[c] for c in traced.consts]
        kernel = Kernel(present, inputs, values)
        out = iter(lift_results(traced, present, kernel(*values)))
    return [None if n is None else next(out) for n in nodes]


def _mirror(traced, grads, params=None):
    """Gradients per leaf -> a tuple mirroring the positional arguments, or
    Grads for implicit parameters."""
    shaped = [as_leaf_result(gr, v) for gr, v in zip(grads, traced.leaf_values)]
    return Grads(params, shaped) if params is not None else \
        pytree.mirror_all(traced.arg_trees, shaped)


def _trace(f, args):
    """Trace f; a single Params argument means implicit parameters."""
    if len(args) == 1 and isinstance(args[0], Params):
        return trace_call(f, (), params=args[0]), args[0]
    return trace_call(f, args), None


def withgradient(f: Callable[..., Any], args: Tuple[Any, ...], fname: str) -> WithGradient:
    """(value, gradient) of f at `args`, traced now; `fname` (the public function the
    user called) names it in errors (see :func:`zygote_sym.withgradient`)."""
    traced, params = _trace(f, args)
    out = _loss(traced, fname)  # fname: the public function the user called, for errors
    grads = grad(out, traced.leaves, traced.shapes)
    n = len(traced.out_exprs)
    values = _evaluate(traced, traced.out_exprs + grads)
    outs, grads = values[:n], values[n:]
    if not traced.symbolic:
        outs = [as_result(v, 0.0) if np.ndim(v) == 0 else v for v in outs]
    val = pytree.rebuild(traced.out_tree, iter(outs))
    return WithGradient(val, _mirror(traced, grads, params))


def _loss(traced, fname):
    """The node differentiated: f's scalar output, or the first element of a
    tuple/list/namedtuple output that is a scalar (Zygote's aux rule)."""
    tree = traced.out_tree
    if tree.kind in ("tuple", "list", "namedtuple") and tree.children \
            and tree.children[0].kind == "leaf" and traced.shapes(traced.out_exprs[0]) == ():
        return traced.out_exprs[0]
    return scalar_output(traced, fname)  # (raises for a complex output, naming the fix)


def snapshot(values: Sequence[Any]) -> List[Any]:
    """The values with every array copied: what a pullback's `back` reads
    stays as it was (reuse_pullback.py's `back` keeps the same)."""
    return [np.array(v) if type(v) is np.ndarray else v for v in values]


def pullback(f: Callable[..., Any],
             args: Tuple[Any, ...]) -> Tuple[Any, Callable[[Any], Any]]:
    """`(y, back)` of f at `args`, traced now (see :func:`zygote_sym.pullback`)."""
    traced, params = _trace(f, args)
    y_values = [as_result(v, v) if isinstance(v, (int, float, np.ndarray, np.number)) else v
                for v in traced.out_values]
    y = pytree.rebuild(traced.out_tree, iter(y_values))
    if traced.symbolic:
        seeds = [Leaf(f"dy{i}", traced.shapes(e), role="ct")
                 for i, e in enumerate(traced.out_exprs)]
        grads = vjp(traced.out_exprs, seeds, traced.leaves, traced.shapes)

        def symbolic_back(dy):
            names = _symbolic_names(traced)
            names.update(zip(seeds, flat_cotangent(dy, seeds, traced.out_tree)))
            forms = closed_form.closed_forms([gr for gr in grads if gr is not None], names)
            return _mirror(traced, spread(grads, forms), params)
        return y, symbolic_back
    kernel, seeds, grads, examples = seeded_kernel(traced, traced.out_exprs, traced.leaves,
                                                    "pullback")
    # back gives the cotangents at the point y is f of: copies of the array arguments
    # (the caller may change its arrays in place before calling back)
    examples[:len(traced.leaves)] = snapshot(examples[:len(traced.leaves)])
    y = pytree.rebuild(traced.out_tree, iter(lift_results(traced, traced.out_exprs, y_values)))

    def back(dy):
        dy = flat_cotangent(dy, seeds, traced.out_tree)
        values = kernel(*examples, *map(plain, dy))
        present = [gr for gr in grads if gr is not None]
        return _mirror(traced, spread(grads, lift_results(traced, present, values,
                                                          dict(zip(seeds, dy)))), params)
    back.source = kernel.source  # type: ignore[attr-defined]
    return y, back


def _jacobian_rows(traced, out, wrt, name):
    """J[leaf] of shape out_shape + leaf_shape for each leaf of `wrt`, by one
    kernel call per output element (reverse mode, as jax.jacrev)."""
    kernel, seeds, grads, examples = seeded_kernel(traced, [out], wrt, name)
    present = [gr for gr in grads if gr is not None]

    def lift(values, e):  # a nested Jacobian: its rows stay differentiable
        return spread(grads, lift_results(traced, present, values, {seeds[0]: e}))
    return jacobian_blocks(kernel, seeds[0].shape, grads, wrt, examples,
                           lift if traced.trace.outer else None)


def jacobian(f: Callable[..., Any], *args: Any, holomorphic: bool = False) -> Any:
    """The Jacobian of f with respect to each argument.

    For an output of shape S and an input leaf of shape L the block has shape
    S + L (JAX's `jacrev` convention); a scalar output gives the gradient,
    a scalar input gives an array of shape S.  Returns a tuple mirroring the
    arguments, None where the output does not depend on an input (zeros
    where it does, through derivatives that are zero).  For an output that
    is a pytree (a tuple, a dict, ...), the result has the output's
    structure with such a tuple at each of its leaves (JAX's order).

    >>> import numpy as np
    >>> J = jacobian(lambda a, x: a**2 * x, np.array([1., 2., 3.]), 1.0)
    >>> J[0]
    array([[2., 0., 0.],
           [0., 4., 0.],
           [0., 0., 6.]])
    >>> J[1]
    array([1., 4., 9.])
    >>> jacobian(lambda x: {'sq': x**2, 'lin': 3*x}, 2.0)
    {'sq': (4.0,), 'lin': (3.0,)}

    A single :class:`Params` argument gives :class:`Grads` of the blocks.

    Complex values: a real output's block for a complex input is Zygote's
    gradient convention, `d/dRe(z) + i d/dIm(z)` per output element.  A
    complex output raises TypeError unless `holomorphic=True` (JAX's
    spelling); then each block is the complex derivative df/dz (for a real
    input x, df/dx), and a complex input whose block fails the
    Cauchy-Riemann relation `df/dIm(z) = i df/dRe(z)` raises ValueError.

    >>> jacobian(lambda z: z**2, np.array([1 + 1j]), holomorphic=True)
    (array([[2.+2.j]]),)
    """
    traced, params = _trace(f, args)
    if traced.symbolic:
        raise TypeError("jacobian needs numeric arguments; for closed forms use derive")
    rows = [_jacobian_rows(traced, out, traced.leaves, "jacobian") for out in traced.out_exprs]
    out_groups = leaf_groups([traced.out_tree])
    if any(len(g) == 2 for g in out_groups) and not holomorphic:
        raise TypeError(
            "jacobian of f with a complex output: pass holomorphic=True for the complex "
            "derivative df/dz of a holomorphic f (JAX's spelling); otherwise take the "
            "jacobian of np.real(f(z)) and of np.imag(f(z)) (real outputs)")
    if holomorphic:
        in_groups = leaf_groups(traced.arg_trees)
        rows = [[_holomorphic(rows[g[0]], rows[g[1]] if len(g) == 2 else None, ig, traced)
                 for ig in in_groups] for g in out_groups]
        arg_trees, out_tree = [collapse_complex(t) for t in traced.arg_trees], \
            collapse_complex(traced.out_tree)
    else:
        arg_trees, out_tree = traced.arg_trees, traced.out_tree
    per_output = [Grads(params, blocks) if params is not None else
                  pytree.mirror_all(arg_trees, blocks)
                  for blocks in rows]
    if out_tree.kind == "leaf":
        return per_output[0]
    return pytree.rebuild(out_tree, iter(per_output))


def _holomorphic(du, dv, group, traced):
    """The complex derivative of u + iv with respect to the value of the
    leaves `group` (one real leaf x: du/dx + i dv/dx; a complex z = x + iy:
    the same, checked against Cauchy-Riemann, d/dy = i d/dx)."""
    def d(k):
        a, b = du[k], None if dv is None else dv[k]
        if a is None and b is None:
            return None
        return (0.0 if a is None else a) + 1j * (0.0 if b is None else b)
    dx = d(group[0])
    if len(group) == 2:
        dy, x = d(group[1]), traced.leaves[group[0]]
        ex = 0.0 if dx is None else dx
        ey = 0.0 if dy is None else dy
        if not any(isinstance(e, (Tracer, ComplexTracer)) for e in (ex, ey)) and \
                not np.allclose(ey, 1j * ex, rtol=1e-7, atol=1e-9 * max(1.0, np.max(np.abs(ex)))):
            raise ValueError(
                f"jacobian(..., holomorphic=True): f is not holomorphic in {x.name[:-5]} "
                "at this point (the Cauchy-Riemann relation df/dIm(z) = i df/dRe(z) fails): "
                "for a non-holomorphic f take the jacobian of np.real(f(z)) and "
                "np.imag(f(z)) without holomorphic=True")
    return dx
