"""The user-facing transformations: gradient, withgradient, pullback, derive.

Each call traces f at the given arguments (flattened as pytrees), runs the
reverse pass over the SymPy DAG, generates a kernel for the primal and the
cotangents, and returns what that kernel computes, shaped like the
arguments.  SymPy arguments give SymPy results instead (fully symbolic mode).
"""
import numpy as np
import sympy as sp

from . import closed_form, pytree
from .ad.backward import grad, vjp
from .codegen.kernel import Kernel
from .closed import Derivation, derive  # noqa: F401  (re-exported: zs.derive)
from .errors import NonScalarOutputError
from .ir import build
from .ir import special
from .ir.nodes import Leaf
from .ir.ops import Sum
from .ir.printer import let_bound
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


def withgradient(f, *args):
    """The value of scalar `f(*args)` and its gradient with respect to each argument.

    Arguments may be numbers, Fractions, NumPy arrays, SymPy expressions or
    containers of them (tuple, list, dict, namedtuple, dataclass, object).
    The gradient mirrors them: a tuple with one entry per argument,
    containers of the same type, a :class:`Tangent` for objects, None where
    the output does not depend on an input.  int/float give float, Fraction
    gives an exact Fraction, arrays give float arrays of the same shape,
    SymPy gives SymPy.  A single :class:`Params` argument instead means
    implicit parameters of a zero-argument f; the gradient is then a
    :class:`Grads`.

    When f returns a tuple, list or namedtuple whose first element is a
    scalar, `val` is the whole output and the gradient is that of the first
    element (Zygote's rule: the rest is auxiliary output).

    Raises NonScalarOutputError if f does not return a scalar; TypeError
    (naming the argument path) for arguments that cannot be flattened.

    >>> withgradient(lambda a, b: a / b, 1, 2)
    WithGradient(val=0.5, grad=(0.5, -0.25))
    >>> withgradient(lambda x: (x**2, {'cube': x**3}), 2.0)
    WithGradient(val=(4.0, {'cube': 8.0}), grad=(4.0,))
    """
    return _withgradient(f, args, "withgradient")


def _withgradient(f, args, fname):
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


def gradient(f, *args, has_aux=False):
    """The gradient of scalar `f(*args)` with respect to each argument.

    See :func:`withgradient` for the accepted arguments and result shapes.
    With `has_aux=True` (JAX's spelling), f returns `(loss, aux)` and the
    result is `(gradient, aux)`.

    >>> gradient(lambda x: 3*x**2 + 2*x + 1, 5)
    (32.0,)
    >>> gradient(lambda x, y: y, 1.0, 2.0)
    (None, 1.0)
    >>> from fractions import Fraction
    >>> gradient(lambda x: 3*x**2 + 2*x + 1, Fraction(1, 4))
    (Fraction(7, 2),)
    >>> gradient(lambda x: (x**2, 'aux'), 3.0, has_aux=True)
    ((6.0,), 'aux')
    """
    val, grads = _withgradient(f, args, "gradient")
    if not has_aux:
        if isinstance(val, (tuple, list)):
            raise NonScalarOutputError(
                "gradient needs f to return one scalar, but it returned a tuple: pass "
                "has_aux=True if the rest is auxiliary output (withgradient's val is the "
                "whole output); for the derivatives of every output use "
                "zygote_sym.jacobian or zygote_sym.pullback")
        return grads
    if not isinstance(val, (tuple, list)) or len(val) != 2:
        raise TypeError("gradient(..., has_aux=True) needs f to return a pair (loss, aux)")
    return grads, val[1]


def pullback(f, *args):
    """`(y, back)`: the primal output y = f(*args) and its pullback (VJP).

    `back(dy)` takes a cotangent shaped like y (a number for a scalar y, an
    array or pytree of them otherwise) and returns the tuple of cotangents
    for the arguments, shaped like :func:`gradient`'s result.

    A single :class:`Params` argument means implicit parameters of a
    zero-argument f, and `back(dy)` returns :class:`Grads`.

    >>> y, back = pullback(lambda a, b, c: a*b*c, 2.0, 3.0, 5.0)
    >>> y, back(2.0)
    (30.0, (30.0, 20.0, 12.0))
    """
    traced, params = _trace(f, args)
    y_values = [as_result(v, v) if isinstance(v, (int, float, np.ndarray, np.number)) else v
                for v in traced.out_values]
    y = pytree.rebuild(traced.out_tree, iter(y_values))
    if traced.symbolic:
        seeds = [Leaf(f"dy{i}", traced.shapes(e), role="ct")
                 for i, e in enumerate(traced.out_exprs)]
        grads = vjp(traced.out_exprs, seeds, traced.leaves, traced.shapes)

        def back(dy):
            names = _symbolic_names(traced)
            names.update(zip(seeds, flat_cotangent(dy, seeds, traced.out_tree)))
            forms = closed_form.closed_forms([gr for gr in grads if gr is not None], names)
            return _mirror(traced, spread(grads, forms), params)
        return y, back
    kernel, seeds, grads, examples = seeded_kernel(traced, traced.out_exprs, traced.leaves,
                                                    "pullback")
    y = pytree.rebuild(traced.out_tree, iter(lift_results(traced, traced.out_exprs, y_values)))

    def back(dy):
        dy = flat_cotangent(dy, seeds, traced.out_tree)
        values = kernel(*examples, *map(plain, dy))
        present = [gr for gr in grads if gr is not None]
        return _mirror(traced, spread(grads, lift_results(traced, present, values,
                                                          dict(zip(seeds, dy)))), params)
    back.source = kernel.source
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


def jacobian(f, *args, holomorphic=False):
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


def _hessian_rows(f, args, fname):
    """(traced, rows): rows[k][m] = ∂²f/∂leaf_k∂leaf_m over the flattened
    arguments; zeros where f depends on both leaves but the block is
    identically zero, None where f does not depend on one of them."""
    traced = trace_call(f, args)
    out = scalar_output(traced, fname)
    if traced.symbolic:
        raise TypeError(f"{fname} needs numeric arguments; for closed forms use derive")
    if any(len(g) == 2 for g in leaf_groups(traced.arg_trees)):
        raise TypeError(
            f"{fname} of a function of a complex argument: the second derivatives of a real "
            "f with respect to z's real and imaginary parts are a real 2x2 block that "
            "Zygote's convention does not fold into one complex number; pass the parts as "
            f"real arguments: {fname}(lambda x, y: f(x + 1j*y), z.real, z.imag)")
    leaves = traced.leaves
    grads = grad(out, leaves, traced.shapes)
    rows = []
    for gk, lk in zip(grads, leaves):
        blocks = [None] * len(leaves) if gk is None else \
            _jacobian_rows(traced, gk, leaves, fname)
        rows.append([b if b is not None or gk is None or gm is None else
                     (np.zeros(lk.shape + lm.shape) if lk.shape + lm.shape else 0.0)
                     for b, gm, lm in zip(blocks, grads, leaves)])
    return traced, rows


def hessian(f, *args):
    """The Hessian of scalar f: the Jacobian of its gradient, for any
    arguments (numbers, arrays, pytrees).

    For one argument x the result is the block ∂²f/∂x∂x: shape x.shape +
    x.shape (JAX's convention; a float for a scalar x), or for a pytree x,
    x's structure holding x's structure of blocks.  For several arguments it
    is H[i][j] = ∂²f/∂args[i]∂args[j] (JAX's `hessian` with a tuple of
    argnums).  A block is zeros where f depends on both inputs but the
    second derivative is identically zero, None where f does not depend on
    one of them.  The gradient is itself a SymPy DAG, differentiated again.

    >>> import numpy as np
    >>> hessian(lambda x: x[0]*x[1], np.array([0.3, -0.2]))
    array([[0., 1.],
           [1., 0.]])
    >>> hessian(lambda x, y: x**2 * y, 1.0, 2.0)
    ((4.0, 2.0), (2.0, 0.0))
    >>> hessian(lambda p: p['a'] * p['b'], {'a': 1.0, 'b': 2.0})
    {'a': {'a': 0.0, 'b': 1.0}, 'b': {'a': 1.0, 'b': 0.0}}
    """
    traced, rows = _hessian_rows(f, args, "hessian")
    trees = traced.arg_trees
    starts = np.cumsum([0] + [pytree.count_leaves(t) for t in trees])

    def block(i, j):  # arg i's structure holding arg j's structure of blocks
        return pytree.mirror(trees[i], iter(
            pytree.mirror(trees[j], iter(rows[k][starts[j]:starts[j + 1]]))
            for k in range(starts[i], starts[i + 1])))
    if len(args) == 1:
        return block(0, 0)
    return tuple(tuple(block(i, j) for j in range(len(args))) for i in range(len(args)))


def diaghessian(f, *args):
    """The diagonal of the Hessian of scalar f, shaped like each argument
    (Zygote's `diaghessian`): ∂²f/∂x_i² for every element x_i.

    >>> import numpy as np
    >>> diaghessian(lambda x: np.sum(x**3), np.array([[1., 2.], [3., 4.]]))
    (array([[ 6., 12.],
           [18., 24.]]),)
    >>> diaghessian(lambda x, y: x * y, 1.0, 2.0)
    (0.0, 0.0)
    """
    traced, rows = _hessian_rows(f, args, "diaghessian")
    diag = []
    for k, leaf in enumerate(traced.leaves):
        block, n = rows[k][k], int(np.prod(leaf.shape))
        diag.append(block if block is None or not leaf.shape else
                    np.reshape(np.diagonal(np.reshape(block, (n, n))), leaf.shape))
    return pytree.mirror_all(traced.arg_trees, diag)


def stop_gradient(x):
    """x with its gradient cut (as `jax.lax.stop_gradient`): the value flows,
    the cotangent does not.  x may be a number, an array or a pytree of
    them (every leaf is cut).  Compiled kernels recompute the value.

    >>> gradient(lambda x: x * stop_gradient(x), 3.0)
    (3.0,)
    >>> gradient(lambda p: p[0] * stop_gradient(p)[1], [2.0, 5.0])
    ([5.0, 0.0],)
    """
    flat = []
    tree = pytree.flatten(x, "x", flat)
    return pytree.rebuild(tree, iter(
        v.trace.new(build.call(special.stop_gradient, v.expr), v.value) if isinstance(v, Tracer) else v
        for _, v in flat))


class TraceView:
    """The traced DAG of a function at example arguments (from :func:`make_trace`).

    `str()` is its let-bound form, printed in time linear in its size at any
    depth: `{ lambda x . let t0 = sin(x) ; t1 = t0*x in (t1) }`.  Attributes:
    `inputs` (the Leaf symbols), `outputs` (SymPy nodes: the output leaves,
    then the gradient if asked for), `guards` (the branch decisions taken).
    """

    def __init__(self, inputs, outputs, guards):
        self.inputs, self.outputs, self.guards = inputs, outputs, guards

    def __str__(self):
        text = let_bound(self.outputs, self.inputs)
        return "\n".join([text] + [f"  assuming {gd}" for gd in self.guards])

    __repr__ = __str__


def make_trace(f, *args, gradient=False):
    """The trace of `f(*args)` (as `jax.make_jaxpr`): print it to read it.

    With `gradient=True` the outputs also hold the gradient of the scalar
    output with respect to each input leaf, as the backward pass built it.

    >>> import numpy as np
    >>> print(make_trace(lambda x: np.sin(x)*x, 0.5))
    { lambda x . let t0 = sin(x) ; t1 = t0*x in (t1) }
    >>> print(make_trace(lambda x: x**3, 2.0, gradient=True))
    { lambda x . let t0 = x**3 ; t1 = x**2 ; t2 = 3*t1 in (t0, t2) }
    """
    traced = trace_call(f, args)
    outputs = list(traced.out_exprs)
    if gradient:
        out = scalar_output(traced, "make_trace(..., gradient=True)")
        outputs += [gr for gr in grad(out, traced.leaves, traced.shapes) if gr is not None]
    return TraceView(traced.leaves, outputs, traced.guards)


def jvp(f, primals, tangents):
    """`(f(*primals), J·tangents)`: the Jacobian-vector product, forward mode
    (as `jax.jvp`).  `primals` and `tangents` are tuples of the same
    structure; the result's tangent has the output's structure (zeros where
    the output does not depend on the inputs).

    Built as the derivative of a VJP with respect to its cotangent seed u:
    `<J^T u, t>` is linear in u, so its gradient in u is `J t` exactly, one
    more backward pass over the symbolic DAG (the "transpose trick").

    >>> import numpy as np
    >>> jvp(lambda x, y: x * y, (2.0, 3.0), (1.0, 0.0))
    (6.0, 3.0)
    >>> jvp(lambda x: np.sin(x), (np.zeros(2),), (np.array([1.0, 2.0]),))
    (array([0., 0.]), array([1., 2.]))
    """
    primals, tangents = tuple(primals), tuple(tangents)
    traced = trace_call(f, primals)
    if traced.symbolic:
        raise TypeError("jvp needs numeric primals; for closed forms use derive")
    flat = []
    for i, t in enumerate(tangents):
        pytree.flatten(t, f"tangents[{i}]", flat)
    if len(tangents) != len(primals) or len(flat) != len(traced.leaves) or any(
            np.shape(v) != leaf.shape for (_, v), leaf in zip(flat, traced.leaves)):
        raise ValueError("jvp needs tangents shaped like the primals: one per primal, of "
                         "the same structure and shapes")
    shapes = traced.shapes
    dirs = [Leaf(f"t{k}", leaf.shape, role="const") for k, leaf in enumerate(traced.leaves)]
    seeds = [Leaf(f"u{i}", shapes(e), role="ct") for i, e in enumerate(traced.out_exprs)]
    cts = vjp(traced.out_exprs, seeds, traced.leaves, shapes)
    pairing = build.add(*[_inner(ct, d, shapes) for ct, d in zip(cts, dirs) if ct is not None])
    jt = vjp([pairing], [build.ONE], seeds, shapes) if pairing != 0 else [None] * len(seeds)
    nodes = list(traced.out_exprs) + [j for j in jt if j is not None]
    inputs = traced.leaves + traced.consts + dirs + seeds
    zeros = [np.zeros(s.shape) if s.shape else 0.0 for s in seeds]
    values = traced.leaf_values + [traced.trace.const_values[c] for c in traced.consts] + \
        [plain(v) for _, v in flat] + zeros
    out = lift_results(traced, nodes, Kernel(nodes, inputs, values)(*values),
                       {**dict(zip(dirs, [v for _, v in flat])), **dict(zip(seeds, zeros))})
    n = len(traced.out_exprs)
    it = iter(out[n:])
    tangent = [as_result(next(it), e) if j is not None else
               (np.zeros(np.shape(e)) if np.ndim(e) else 0.0)
               for j, e in zip(jt, out[:n])]
    return (pytree.rebuild(traced.out_tree, iter([as_result(v, v) for v in out[:n]])),
            pytree.rebuild(traced.out_tree, iter(tangent)))


def _inner(a, b, shapes):
    """The scalar node <a, b> of two nodes of b's shape (a sum of products)."""
    p, shape = build.mul(a, b), b.shape
    return Sum.make(build.broadcast_to(p, shape, shapes), tuple(range(len(shape))), False) \
        if shape else p


def hvp(f, primals, tangents):
    """The Hessian-vector product H·v of scalar f, as `jvp` of its gradient:
    shaped like the primals (a tuple).

    >>> import numpy as np
    >>> hvp(lambda x: np.sum(x**3), (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
    (array([6., 0.]),)
    """
    return jvp(lambda *p: gradient(f, *p), primals, tangents)[1]


def withjacobian(f, *args):
    """`(val, grad)`: f's value and its :func:`jacobian` (Zygote's `withjacobian`).

    >>> withjacobian(lambda x: 2 * x, 3.0)
    WithGradient(val=6.0, grad=(2.0,))
    """
    y, _ = pullback(f, *args)
    return WithGradient(y, jacobian(f, *args))


def Buffer(x, *dims):
    """A writable array for building a result element by element (Zygote's
    `Buffer`): zeros like x (or of shape `dims`), traced when x is, so
    `buf[i] = value` is a functional update that keeps its gradient.

    >>> import numpy as np
    >>> def f(x):
    ...     b = Buffer(x)
    ...     for i in range(len(x)):
    ...         b[i] = x[i] ** 2
    ...     return np.sum(b)
    >>> gradient(f, np.array([1.0, 2.0]))
    (array([2., 4.]),)
    """
    if not isinstance(x, (Tracer, np.ndarray, list, tuple, int, float, np.number)) or \
            isinstance(x, bool):
        raise TypeError(f"Buffer(x): x is {type(x).__name__}; pass the array (or number) "
                        "whose shape the buffer takes, or Buffer(x, *dims)")
    shape = tuple(dims) if dims else np.shape(x)
    if isinstance(x, Tracer):
        return np.zeros_like(x, shape=shape)
    return np.zeros(shape)


def forwarddiff(f, x):
    """f(x) (Zygote's `forwarddiff` asks for forward mode inside reverse mode;
    zygote_sym's derivatives are exact symbolic DAGs either way).

    >>> gradient(lambda x: forwarddiff(lambda y: y**2, x), 3.0)
    (6.0,)
    """
    return f(x)


def checkpointed(f, *args):
    """f(*args) (Zygote's `checkpointed` trades memory for recomputation;
    a zygote_sym kernel already computes only the nodes the gradient needs).

    >>> gradient(lambda x: checkpointed(lambda y: y**3, x), 2.0)
    (12.0,)
    """
    return f(*args)


ignore_derivatives = dropgrad = stop_gradient  # Zygote's spellings
hessian_reverse = hessian                      # (Zygote: the same Hessian, reverse over reverse)
