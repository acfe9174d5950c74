"""The user-facing transformations: gradient, withgradient, pullback, derive.

Each traces f at the given arguments (flattened as pytrees), runs the reverse
pass over the SymPy DAG, generates a kernel for the primal and the
cotangents, and returns what that kernel computes, shaped like the
arguments (eager.py).  SymPy arguments give SymPy results instead (fully
symbolic mode).  `gradient`, `withgradient` and `pullback` reuse the kernels
of an earlier call of the same f when that gives what a new trace would
(reuse.py: compile's contract).
"""
from typing import Any, Callable, Sequence, Tuple

import numpy as np

from . import eager, pytree, reuse
from .ad.backward import grad, vjp
from .codegen.kernel import Kernel
from .closed import Derivation, derive  # noqa: F401  (re-exported: zs.derive)
from .eager import _jacobian_rows, jacobian  # noqa: F401  (jacobian: re-exported)
from .errors import NonScalarOutputError
from .ir import build
from .ir import special
from .ir.nodes import Leaf
from .ir.ops import Sum
from .ir.printer import let_bound
from .trace.call import trace_call
from .trace.tracer import Tracer
from .transform import WithGradient, as_result, leaf_groups, lift_results, plain, scalar_output


def withgradient(f: Callable[..., Any], *args: Any) -> WithGradient:
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

    Called again with the same f (or a lambda of the same code holding the
    same objects) and arguments of the same structure, shapes and dtypes,
    it runs the kernel of the first call instead of tracing f again, under
    :func:`compile`'s contract (state f reads is watched; a trace that would
    not repeat f, one that draws random numbers, reads the clock or
    changes state, is never reused); see zygote_sym/reuse.py.

    >>> withgradient(lambda a, b: a / b, 1, 2)
    WithGradient(val=0.5, grad=(0.5, -0.25))
    >>> withgradient(lambda x: (x**2, {'cube': x**3}), 2.0)
    WithGradient(val=(4.0, {'cube': 8.0}), grad=(4.0,))
    """
    return reuse.withgradient(f, args, "withgradient")


def gradient(f: Callable[..., Any], *args: Any, has_aux: bool = False) -> Any:
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
    val, grads = eager.withgradient(f, args, "gradient") if has_aux else \
        reuse.withgradient(f, args, "gradient")
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


def pullback(f: Callable[..., Any], *args: Any) -> Tuple[Any, Callable[[Any], Any]]:
    """`(y, back)`: the primal output y = f(*args) and its pullback (VJP).

    `back(dy)` takes a cotangent shaped like y (a number for a scalar y, an
    array or pytree of them otherwise) and returns the tuple of cotangents
    for the arguments, shaped like :func:`gradient`'s result.

    A single :class:`Params` argument means implicit parameters of a
    zero-argument f, and `back(dy)` returns :class:`Grads`.

    `back` may be called any number of times, from any number of threads; it
    gives the cotangents at the point y was computed even when the caller
    changes its arrays in place afterwards (it keeps copies of them).

    Called again with the same f (or a lambda of the same code holding the
    same objects) and arguments of the same structure, shapes and dtypes, it
    does not trace f again: y is f run on the arguments and `back` runs the
    VJP kernel of the first call, under :func:`compile`'s contract as
    :func:`withgradient`.  f's y is checked bit for bit against a trace at the
    first call, the next few and then at doubling intervals; an f whose y
    differs (NumPy's np.dot of two vectors is not its traced sum of products in
    the last bit) is traced at every call (zygote_sym/reuse_pullback.py).

    >>> y, back = pullback(lambda a, b, c: a*b*c, 2.0, 3.0, 5.0)
    >>> y, back(2.0)
    (30.0, (30.0, 20.0, 12.0))
    >>> import numpy as np
    >>> step = lambda u, dt: u + dt * np.stack([-u[1], u[0]])  # a vector-valued f
    >>> for k in range(3):  # traced at the first call; kernels from the second on
    ...     y, back = pullback(step, np.array([1.0, 0.0]) * (k + 1), 0.5)
    >>> y, back(np.array([1.0, 1.0]))
    (array([3. , 1.5]), (array([1.5, 0.5]), 3.0))
    """
    return reuse.pullback(f, args)


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


def hessian(f: Callable[..., Any], *args: Any) -> Any:
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


def diaghessian(f: Callable[..., Any], *args: Any) -> Tuple[Any, ...]:
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


def stop_gradient(x: Any) -> Any:
    """x with its gradient cut (as `jax.lax.stop_gradient`): the value flows,
    the cotangent does not.  x may be a number, an array or a pytree of
    them (every leaf is cut).  Compiled kernels recompute the value.

    >>> gradient(lambda x: x * stop_gradient(x), 3.0)
    (3.0,)
    >>> gradient(lambda p: p[0] * stop_gradient(p)[1], [2.0, 5.0])
    ([5.0, 0.0],)
    """
    flat: list = []
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


def make_trace(f: Callable[..., Any], *args: Any, gradient: bool = False) -> "TraceView":
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


def jvp(f: Callable[..., Any], primals: Sequence[Any],
        tangents: Sequence[Any]) -> Tuple[Any, Any]:
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
    flat: list = []
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


def hvp(f: Callable[..., Any], primals: Sequence[Any],
        tangents: Sequence[Any]) -> Tuple[Any, ...]:
    """The Hessian-vector product H·v of scalar f, as `jvp` of its gradient:
    shaped like the primals (a tuple).

    >>> import numpy as np
    >>> hvp(lambda x: np.sum(x**3), (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
    (array([6., 0.]),)
    """
    return jvp(lambda *p: gradient(f, *p), primals, tangents)[1]


def withjacobian(f: Callable[..., Any], *args: Any) -> WithGradient:
    """`(val, grad)`: f's value and its :func:`jacobian` (Zygote's `withjacobian`).

    >>> withjacobian(lambda x: 2 * x, 3.0)
    WithGradient(val=6.0, grad=(2.0,))
    """
    y, _ = pullback(f, *args)
    return WithGradient(y, jacobian(f, *args))


def Buffer(x: Any, *dims: int) -> Any:
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


def forwarddiff(f: Callable[[Any], Any], x: Any) -> Any:
    """f(x) (Zygote's `forwarddiff` asks for forward mode inside reverse mode;
    zygote_sym's derivatives are exact symbolic DAGs either way).

    >>> gradient(lambda x: forwarddiff(lambda y: y**2, x), 3.0)
    (6.0,)
    """
    return f(x)


def checkpointed(f: Callable[..., Any], *args: Any) -> Any:
    """f(*args) (Zygote's `checkpointed` trades memory for recomputation;
    a zygote_sym kernel already computes only the nodes the gradient needs).

    >>> gradient(lambda x: checkpointed(lambda y: y**3, x), 2.0)
    (12.0,)
    """
    return f(*args)


ignore_derivatives = dropgrad = stop_gradient  # Zygote's spellings
hessian_reverse = hessian                      # (Zygote: the same Hessian, reverse over reverse)
