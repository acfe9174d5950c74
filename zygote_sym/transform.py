"""What the transformations share (api.py, compiled.py): gradient nodes,
seeded VJP kernels, Jacobian blocks, and results shaped like their inputs."""
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from . import pytree
from .ad.backward import vjp
from .codegen.kernel import Kernel
from .errors import NonScalarOutputError
from .ir.nodes import Leaf, substitute
from .trace.tracer import Tracer, is_complex, newest

WithGradient = namedtuple("WithGradient", ["val", "grad"])


_COMPLEX_OUTPUT = (
    "{fname} needs a real scalar output, but f returned a complex value: differentiate a "
    "real loss such as np.real(f(z)), np.imag(f(z)) or abs(f(z))**2 (Zygote and JAX refuse "
    "complex outputs too); for the complex derivative df/dz of a holomorphic f use "
    "zygote_sym.jacobian(f, z, holomorphic=True)")


def is_complex_node(node: Any) -> bool:  # a pytree.Node (its meta is typed object)
    """Is this tree node a complex value (two real leaves, pytree.ComplexParts)?"""
    return node.kind == "custom" and node.meta[0] is pytree.ComplexParts


def leaf_groups(trees: Sequence[pytree.Node]) -> list[list[int]]:
    """Flat leaf positions per value of the trees: [k] for a real leaf,
    [k_re, k_im] for a complex one."""
    groups: list[list[int]] = []
    count = 0

    def walk(node: pytree.Node) -> None:
        nonlocal count
        if node.kind == "leaf" or is_complex_node(node):
            n = pytree.count_leaves(node)
            groups.append(list(range(count, count + n)))
            count += n
        else:
            for c in node.children:
                walk(c)
    for t in trees:
        walk(t)
    return groups


def collapse_complex(node: pytree.Node) -> pytree.Node:
    """The tree with each complex value as one leaf (for results that hold
    one entry per complex value, such as holomorphic derivatives)."""
    if is_complex_node(node):
        return pytree.Node("leaf")
    return pytree.Node(node.kind, node.meta, [collapse_complex(c) for c in node.children])


def scalar_output(traced: Any, fname: str) -> Any:
    tree = traced.out_tree
    if is_complex_node(tree) or tree.kind in ("tuple", "list", "namedtuple") and \
            tree.children and is_complex_node(tree.children[0]):
        raise NonScalarOutputError(_COMPLEX_OUTPUT.format(fname=fname))
    if tree.kind == "static" and tree.meta is None:
        raise NonScalarOutputError(f"{fname}: f returned None; return the loss (a scalar)")
    if len(traced.out_exprs) != 1 or traced.shapes(traced.out_exprs[0]) != ():
        shapes = [traced.shapes(e) for e in traced.out_exprs]
        raise NonScalarOutputError(
            f"{fname} needs f to return one scalar, but it returned "
            f"{len(shapes)} value(s) of shape(s) {shapes}: sum it to a scalar loss, or "
            "use zygote_sym.jacobian (all partial derivatives) or zygote_sym.pullback "
            "(a vector-Jacobian product) for non-scalar outputs")
    return traced.out_exprs[0]


def as_result(value: Any, example: Any) -> Any:
    """A kernel result in the form its input had: Fraction in -> Fraction out
    where the result is exact, arrays -> float arrays of the input's shape,
    numbers -> float.  A tracer (a nested derivative's result) stays one."""
    if isinstance(value, Tracer):
        return value
    if isinstance(example, Fraction) and isinstance(value, (Fraction, int)):
        return Fraction(value)
    if isinstance(example, np.ndarray):
        dtype = complex if np.iscomplexobj(example) or np.iscomplexobj(value) else float
        return np.array(np.broadcast_to(np.asarray(value, dtype=dtype), example.shape))
    if isinstance(value, np.ndarray) and value.ndim:
        return value.astype(float)
    if np.iscomplexobj(value):
        return complex(value)
    return float(value)


def as_leaf_result(grad: Any, example: Any) -> Any:
    """A gradient in its input's form (SymPy stays SymPy, as do closed forms
    that still hold symbols in mixed symbolic/numeric calls)."""
    if grad is None or isinstance(example, sp.Expr) or isinstance(grad, Tracer):
        return grad
    if isinstance(grad, sp.Basic) and not grad.is_number:
        return grad
    if isinstance(grad, sp.Basic):
        grad = complex(grad)
        grad = grad.real if grad.imag == 0 else grad
    return as_result(grad, example)


def fresh_result(grad: Any, example: Any, inputs: Sequence[Any]) -> Any:
    """A kernel's gradient as it is when it already has the input's shape and
    float dtype and shares no memory with `inputs` (the kernel's input arrays:
    `sum(x*y)`'s gradient in x is y itself; and the gradients already returned
    by the same call, one of which may be a view of it; an array a Numba kernel
    returns owns no data by NumPy's flags, so its memory is compared with
    theirs); else converted (a new array) by `as_leaf_result`.

    >>> y = np.array([1.0, 2.0]); g = 2 * y
    >>> fresh_result(g, y, [y]) is g, fresh_result(y, y, [y]) is y, fresh_result(y, y, [y])
    (True, False, array([1., 2.]))
    >>> fresh_result(np.float64(3.0), 1.0, [])
    3.0
    """
    if type(grad) is np.ndarray and type(example) is np.ndarray and grad.dtype == np.float64 \
            and grad.shape == example.shape:
        arrays = [a for a in inputs if isinstance(a, np.ndarray)]
        if grad.flags.owndata and not any(a is grad or a.base is grad for a in arrays) or \
                not any(np.may_share_memory(grad, a) for a in arrays):
            return grad
    return as_leaf_result(grad, example)


def seeded_kernel(traced: Any, outs: Sequence[sp.Expr], wrt: Sequence[Leaf], name: str,
                  guards: Sequence[Any] = ()) -> tuple[Kernel, list[Leaf], list[Any], list[Any]]:
    """A kernel for the VJP of `outs` (one cotangent seed Leaf each) with
    respect to the leaves `wrt`: kernel(*inputs, *seeds) -> the non-None grads."""
    seeds = [Leaf(f"dy{i}", traced.shapes(e), role="ct") for i, e in enumerate(outs)]
    grads = vjp(outs, seeds, wrt, traced.shapes)
    present = [gr for gr in grads if gr is not None]
    captured = [leaf for leaf, _ in traced.captured]
    examples = traced.leaf_values + [traced.trace.const_values[c] for c in traced.consts] + [
        s.get() for _, s in traced.captured]
    kernel = Kernel(present, traced.leaves + traced.consts + captured + seeds,
                    examples + [np.zeros(s.shape) if s.shape else 0.0 for s in seeds], name=name,
                    guards=guards)
    return kernel, seeds, grads, examples


def spread(grads: Sequence[Any], values: Sequence[Any]) -> list[Any]:
    """Kernel results for the non-None entries of `grads`, None elsewhere."""
    out = iter(values)
    return [None if gr is None else next(out) for gr in grads]


def _basis(shape: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], Any]]:
    """One-hot arrays (a number for shape ()) for every index of `shape`."""
    for idx in np.ndindex(shape):
        e = np.zeros(shape)
        e[idx] = 1.0
        yield idx, (e if shape else 1.0)


def jacobian_blocks(kernel: Callable[..., Any], oshape: tuple[int, ...], grads: Sequence[Any],
                    wrt: Sequence[Leaf], inputs: Sequence[Any],
                    lift: Callable[[Any, Any], Any] | None = None) -> list[Any] | None:
    """Run a seeded VJP kernel once per output element; None if a guard fails.
    `lift(values, seed)` (a nested derivative) makes each row tracers of the
    enclosing trace, stacked by traced NumPy calls."""
    if lift is not None:
        rows = [lift(kernel(*inputs, e), e) for _, e in _basis(oshape)]
        return [None if gr is None else
                np.reshape(np.stack([r[k] for r in rows]), oshape + leaf.shape) if oshape
                else rows[0][k] for k, (gr, leaf) in enumerate(zip(grads, wrt))]
    jac = [None if gr is None else np.zeros(oshape + leaf.shape) for gr, leaf in zip(grads, wrt)]
    for idx, e in _basis(oshape):
        res = kernel(*inputs, e)
        if res is None:
            return None
        for j, row in zip(jac, spread(grads, res)):
            if j is not None:
                j[idx] = row
    return [None if j is None else (j if j.ndim else float(j)) for j in jac]


def _matched(node: Any, dy: Any, path: str) -> Any:  # node: a pytree.Node
    """dy with every dict's items in the order of the output's dict (node),
    so a cotangent is matched to the output by key, never by position."""
    if node.kind == "dict" and isinstance(dy, dict):
        keys = node.meta[1]
        if set(dy) != set(keys):
            raise ValueError(f"the cotangent {path} has keys {sorted(map(repr, dy))}, but the "
                             f"output has {sorted(map(repr, keys))}: pass dy shaped like the "
                             "output")
        return {k: _matched(c, dy[k], f"{path}[{k!r}]") for k, c in zip(keys, node.children)}
    if is_complex_node(node) and not is_complex(dy):
        return dy + 0j  # a real cotangent of a complex output: its imaginary part is 0
    if node.kind == "leaf" and is_complex(dy):
        raise ValueError(f"the cotangent {path} is complex, but the output it pairs with is "
                         "real: pass a real cotangent")
    if node.kind in ("tuple", "list") and isinstance(dy, (tuple, list)) \
            and len(dy) == len(node.children):
        return [_matched(c, d, f"{path}[{i}]") for i, (c, d) in enumerate(zip(node.children, dy))]
    return dy


def flat_cotangent(dy: Any, seeds: Sequence[Leaf], out_tree: pytree.Node) -> list[Any]:
    """The leaves of the cotangent dy, one per output leaf, matched to the
    output (`out_tree`) by key and position, with their shapes checked.  A
    complex output takes a complex cotangent as its two real parts (a real
    one has imaginary part 0), so `back(dy)` is the gradient of
    `Re(conj(dy) * y)`, Zygote's convention."""
    flat: list[tuple[str, Any]] = []
    pytree.flatten(_matched(out_tree, dy, "dy"), "dy", flat)
    if len(flat) != len(seeds):
        raise ValueError(f"the cotangent dy has {len(flat)} leaves but the output of f "
                         f"has {len(seeds)}: pass dy shaped like the output")
    for (path, v), s in zip(flat, seeds):
        if np.shape(v) != s.shape:
            raise ValueError(f"cotangent {path} has shape {np.shape(v)}, but the output it "
                             f"pairs with has shape {s.shape}")
    return [v for _, v in flat]


def lift_results(traced: Any, nodes: Sequence[Any], values: Sequence[Any],
                 seeds: dict[Leaf, Any] | None = None) -> Sequence[Any]:
    """Results of a derivative taken inside another one (nesting), as tracers
    of the enclosing trace, so the outer derivative differentiates them too.

    Every leaf of the inner trace is replaced by what it stands for in the
    enclosing trace: a tracer of it (an argument or a captured value of an
    enclosing trace), or a constant.  `seeds` maps cotangent seed leaves to
    their values (pullback's dy, itself maybe traced).  Without tracers of an
    enclosing trace, `values` are returned as they are.  None nodes stay None.
    """
    inner, seeds = traced.trace, seeds or {}
    enclosing = newest([*inner.outer.values(), *seeds.values()])
    if enclosing is None:
        return values
    stands_for = {**dict(zip(traced.leaves, traced.leaf_values)),
                  **{c: inner.const_values[c] for c in traced.consts}, **inner.outer, **seeds}
    mapping = {leaf: enclosing.lift(v) for leaf, v in stands_for.items()}
    present = [n for n in nodes if n is not None]
    lifted = iter(substitute(present, mapping))
    return [None if n is None else enclosing.new(next(lifted), v) for n, v in zip(nodes, values)]


def plain(v: Any) -> Any:
    """The value of a tracer of an enclosing trace (a nested derivative's input)."""
    return v.value if isinstance(v, Tracer) else v
