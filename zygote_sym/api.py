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
from .ir import special
from .ir.build import call, const
from .ir.nodes import Leaf
from .ir.printer import let_bound
from .params import Grads, Params
from .trace.call import trace_call
from .trace.tracer import Tracer
from .transform import (WithGradient, as_leaf_result, as_result, flat_cotangent,
                        jacobian_blocks, lift_results, plain, scalar_output, seeded_kernel,
                        spread)


def _symbolic_names(traced):
    """Leaf -> expression for closed forms: the user's SymPy expression, or
    the number itself for a numeric scalar beside symbolic ones."""
    return {leaf: v if isinstance(v, sp.Expr) else const(v)
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
    if params is not None:
        return Grads(params, shaped)
    shaped = iter(shaped)
    return tuple(pytree.mirror(t, shaped) for t in traced.arg_trees)


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

    Raises NonScalarOutputError if f does not return a scalar; TypeError
    (naming the argument path) for arguments that cannot be flattened.

    >>> withgradient(lambda a, b: a / b, 1, 2)
    WithGradient(val=0.5, grad=(0.5, -0.25))
    """
    traced, params = _trace(f, args)
    out = scalar_output(traced, "withgradient")
    grads = grad(out, traced.leaves, traced.shapes)
    val, *grads = _evaluate(traced, [out] + grads)
    if not traced.symbolic:
        val = as_result(val, 0.0)
    return WithGradient(val, _mirror(traced, grads, params))


def gradient(f, *args):
    """The gradient of scalar `f(*args)` with respect to each argument.

    See :func:`withgradient` for the accepted arguments and result shapes.

    >>> gradient(lambda x: 3*x**2 + 2*x + 1, 5)
    (32.0,)
    >>> gradient(lambda x, y: y, 1.0, 2.0)
    (None, 1.0)
    >>> from fractions import Fraction
    >>> gradient(lambda x: 3*x**2 + 2*x + 1, Fraction(1, 4))
    (Fraction(7, 2),)
    """
    return withgradient(f, *args).grad


def pullback(f, *args):
    """`(y, back)`: the primal output y = f(*args) and its pullback (VJP).

    `back(dy)` takes a cotangent shaped like y (a number for a scalar y, an
    array or pytree of them otherwise) and returns the tuple of cotangents
    for the arguments, shaped like :func:`gradient`'s result.

    >>> y, back = pullback(lambda a, b, c: a*b*c, 2.0, 3.0, 5.0)
    >>> y, back(2.0)
    (30.0, (30.0, 20.0, 12.0))
    """
    traced = trace_call(f, args)
    y_values = [as_result(v, v) if isinstance(v, (int, float, np.ndarray, np.number)) else v
                for v in traced.out_values]
    y = pytree.rebuild(traced.out_tree, iter(y_values))
    if traced.symbolic:
        seeds = [Leaf(f"dy{i}", traced.shapes(e), role="ct")
                 for i, e in enumerate(traced.out_exprs)]
        grads = vjp(traced.out_exprs, seeds, traced.leaves, traced.shapes)

        def back(dy):
            names = _symbolic_names(traced)
            names.update(zip(seeds, flat_cotangent(dy, seeds)))
            forms = closed_form.closed_forms([gr for gr in grads if gr is not None], names)
            return _mirror(traced, spread(grads, forms))
        return y, back
    kernel, seeds, grads, examples = seeded_kernel(traced, traced.out_exprs, traced.leaves,
                                                    "pullback")
    y = pytree.rebuild(traced.out_tree, iter(lift_results(traced, traced.out_exprs, y_values)))

    def back(dy):
        dy = flat_cotangent(dy, seeds)
        values = kernel(*examples, *map(plain, dy))
        present = [gr for gr in grads if gr is not None]
        return _mirror(traced, spread(grads, lift_results(traced, present, values,
                                                          dict(zip(seeds, dy)))))
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


def jacobian(f, *args):
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
    """
    traced = trace_call(f, args)
    if traced.symbolic:
        raise TypeError("jacobian needs numeric arguments; for closed forms use derive")
    per_output = []
    for out in traced.out_exprs:
        blocks = iter(_jacobian_rows(traced, out, traced.leaves, "jacobian"))
        per_output.append(tuple(pytree.mirror(t, blocks) for t in traced.arg_trees))
    if traced.out_tree.kind == "leaf":
        return per_output[0]
    return pytree.rebuild(traced.out_tree, iter(per_output))


def _hessian_rows(f, args, fname):
    """(traced, rows): rows[k][m] = ∂²f/∂leaf_k∂leaf_m over the flattened
    arguments; zeros where f depends on both leaves but the block is
    identically zero, None where f does not depend on one of them."""
    traced = trace_call(f, args)
    out = scalar_output(traced, fname)
    if traced.symbolic:
        raise TypeError(f"{fname} needs numeric arguments; for closed forms use derive")
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
    it = iter(diag)
    return tuple(pytree.mirror(t, it) for t in traced.arg_trees)

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
        v.trace.new(call(special.stop_gradient, v.expr), v.value) if isinstance(v, Tracer) else v
        for _, v in flat))


class Derivation:
    """Closed forms of a scalar function and its gradient (from :func:`derive`).

    Attributes: `value` (SymPy expression of f), `gradient` (tuple mirroring
    the arguments, SymPy expressions at the leaves), `symbols` (argument path
    -> Symbol), `guards` (the branch decisions the closed forms assume),
    `source` (the generated kernel, when example values were given).
    """

    def __init__(self, traced, value, grads, source):
        self.traced = traced
        self.value = value
        self._grads = grads
        per_leaf = iter(grads)
        self.gradient = tuple(pytree.mirror(t, per_leaf) for t in traced.arg_trees)
        self.symbols = {leaf.name: sp.Symbol(leaf.name, **leaf.assumptions0)
                        for leaf in traced.leaves}
        self.guards = traced.guards
        self.source = source

    def _bindings(self, latex):
        leaves = [(leaf, gr) for leaf, gr in zip(self.traced.leaves, self._grads) if gr is not None]
        if latex:
            names = [r"\frac{\partial f}{\partial %s}" % sp.latex(self.symbols[leaf.name])
                     for leaf, _ in leaves]
        else:
            names = [f"d/d{leaf.name}" for leaf, _ in leaves]
        return closed_form.bindings([self.value] + [gr for _, gr in leaves], ["f"] + names)

    def latex(self):
        """LaTeX of the gradient: the expression alone for one input with a
        small closed form, else an aligned block (let-bound when large)."""
        pairs = self._bindings(latex=True)
        if len(self.traced.leaves) == 1 and len(pairs) == 2:
            return sp.latex(pairs[1][1])
        rows = [f"{name if isinstance(name, str) else sp.latex(name)} &= {sp.latex(e)}"
                for name, e in pairs if name != "f"]
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def _repr_latex_(self):
        return f"$\\displaystyle {self.latex()}$"

    def __repr__(self):
        lines = [f"{name} = {e}" for name, e in self._bindings(latex=False)]
        lines += [f"assuming {guard}" for guard in self.guards]
        return "\n".join(lines)


def derive(f, *args):
    """Closed forms of scalar `f(*args)` and of its gradient, as SymPy.

    Arguments are SymPy expressions (fully symbolic: Python branches on them
    raise SymbolicBranchError) or example values (branches follow the
    example, recorded in `.guards`; the closed forms use symbols named after
    the argument paths, e.g. `a.x`).  Returns a :class:`Derivation`.

    >>> import sympy
    >>> x = sympy.Symbol('x')
    >>> d = derive(lambda x: 3*x**2 + 2*x + 1, x)
    >>> d.gradient[0]
    6*x + 2
    >>> d.latex()
    '6 x + 2'
    """
    traced = trace_call(f, args)
    out = scalar_output(traced, "derive")
    grads = grad(out, traced.leaves, traced.shapes)
    names = {leaf: v for leaf, v in zip(traced.leaves, traced.leaf_values)
             if isinstance(v, sp.Expr)}
    present = [out] + [gr for gr in grads if gr is not None]
    forms = iter(closed_form.closed_forms(present, names))
    value = next(forms)
    grads = [None if gr is None else next(forms) for gr in grads]
    source = None
    if not traced.symbolic:
        values = traced.leaf_values + [traced.trace.const_values[c] for c in traced.consts]
        source = Kernel([p for p in present], traced.leaves + traced.consts, values).source
    return Derivation(traced, value, grads, source)


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
