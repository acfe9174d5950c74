"""Products: matmul, dot, tensordot, inner, outer, vdot, einsum, kron, cross."""
import string

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from ...ir import ops
from .common import apply, as_tracer, reduce, table, trace_of, unsupported
from .indexing import diagonal
from .shapes import broadcast_to, moveaxis, ravel, reshape, stack, transpose

HANDLERS, handles = table()


def pair(a, b):
    trace = trace_of([a, b])
    return as_tracer(trace, a), as_tracer(trace, b)


@handles(np.matmul)
def matmul(a, b, out=None, **kw):
    unsupported("matmul", out, **kw)
    a, b = pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: input operand does not have enough dimensions")
    lift_a, lift_b = a.ndim == 1, b.ndim == 1  # vectors act as matrices, then drop that axis
    r = apply(ops.MatMul.make, [reshape(a, (1,) + a.shape) if lift_a else a,
                                reshape(b, b.shape + (1,)) if lift_b else b])
    return reshape(r, r.shape[:-2] + r.shape[-2:-1] * (not lift_a) + r.shape[-1:] * (not lift_b))


@handles(np.tensordot)
def tensordot(a, b, axes=2):
    a, b = pair(a, b)
    if np.ndim(axes) == 0:
        ax_a, ax_b = range(a.ndim - axes, a.ndim), range(axes)
    else:
        ax_a, ax_b = ([ax] if np.ndim(ax) == 0 else ax for ax in axes)
    ax_a, ax_b = normalize_axis_tuple(ax_a, a.ndim), normalize_axis_tuple(ax_b, b.ndim)
    if [a.shape[i] for i in ax_a] != [b.shape[i] for i in ax_b]:
        raise ValueError("shape-mismatch for sum")
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    size = int(np.prod([a.shape[i] for i in ax_a]))
    am = reshape(transpose(a, free_a + list(ax_a)), (-1, size))
    bm = reshape(transpose(b, list(ax_b) + free_b), (size, -1))
    return reshape(matmul(am, bm), [a.shape[i] for i in free_a] + [b.shape[i] for i in free_b])


@handles(np.dot)
def dot(a, b, out=None):
    unsupported("dot", out)
    a, b = pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2 or a.ndim == 1:  # NumPy's dot and matmul agree here
        return matmul(a, b)
    return tensordot(a, b, ([-1], [-2]))


@handles(np.inner)
def inner(a, b):
    a, b = pair(a, b)
    return a * b if a.ndim == 0 or b.ndim == 0 else tensordot(a, b, ([-1], [-1]))


@handles(np.outer)
def outer(a, b, out=None):
    unsupported("outer", out)
    a, b = pair(a, b)
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


@handles(np.vdot)
def vdot(a, b):
    a, b = pair(a, b)
    return reduce(ops.Sum, ravel(a) * ravel(b))


def _einsum_spec(subscripts, ndims):
    """Explicit subscripts: '...' spelled out in unused letters, the output
    written out (NumPy's implicit mode: once-used indices, sorted)."""
    subs = subscripts.replace(" ", "")
    lhs, arrow, rhs = subs.partition("->")
    terms = lhs.split(",")
    spare = [c for c in string.ascii_letters if c not in subs]
    width = max([nd - len(t) + 3 for t, nd in zip(terms, ndims) if "..." in t], default=0)
    ell = "".join(spare[:width])
    terms = [t.replace("...", ell[width - (nd - len(t) + 3):]) if "..." in t else t
             for t, nd in zip(terms, ndims)]
    if arrow:
        out = rhs.replace("...", ell)
    else:
        named = lhs.replace("...", "").replace(",", "")
        out = ell + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    return terms, out


def _sublist_subscripts(operands):
    """np.einsum(x, [0, 1], y, [1, 2], [0, 2]) as ('ab,bc->ac', x, y)."""
    letters = string.ascii_letters

    def term(sub):
        return "".join("..." if k is Ellipsis else letters[k] for k in sub)
    xs, subs = operands[0:-1:2] if len(operands) % 2 else operands[0::2], operands[1::2]
    text = ",".join(term(sub) for sub in subs)
    return (text + ("->" + term(operands[-1]) if len(operands) % 2 else ""), *xs)


@handles(np.einsum)
def einsum(*operands, out=None, optimize=False, **kw):
    unsupported("einsum", out, **kw)
    if not isinstance(operands[0], str):  # the sublist form
        operands = _sublist_subscripts(operands)
    subscripts, *xs = operands
    trace = trace_of(xs)
    xs = [as_tracer(trace, x) for x in xs]
    terms, out = _einsum_spec(subscripts, [x.ndim for x in xs])
    for k, term in enumerate(terms):
        for c in set(term):  # an index repeated within one operand: take that diagonal
            while term.count(c) > 1:
                i = term.index(c)
                j = term.index(c, i + 1)
                xs[k] = diagonal(xs[k], 0, i, j)
                term = term[:i] + term[i + 1:j] + term[j + 1:] + c
        terms[k] = term
    sizes = {}
    for term, x in zip(terms, xs):
        for c, n in zip(term, x.shape):
            sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
    xs = [broadcast_to(x, tuple(sizes[c] for c in term)) for term, x in zip(terms, xs)]
    return apply(ops.Einsum.make, xs, ",".join(terms) + "->" + out)


@handles(np.kron)
def kron(a, b):
    """An outer product with the axes interleaved, reshaped: block (i, j) is a[i, j]*b."""
    a, b = pair(a, b)
    d = max(a.ndim, b.ndim)
    sa, sb = (1,) * (d - a.ndim) + a.shape, (1,) * (d - b.ndim) + b.shape
    spread = (reshape(a, [m for n in sa for m in (n, 1)])
              * reshape(b, [m for n in sb for m in (1, n)]))
    return reshape(spread, [m * n for m, n in zip(sa, sb)])


@handles(np.cross)
def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Components along the (moved) last axes; a 2-vector has z = 0, and two
    2-vectors give the scalar z component, as in NumPy."""
    a, b = pair(a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(a, normalize_axis_index(axisa, a.ndim), -1)
    b = moveaxis(b, normalize_axis_index(axisb, b.ndim), -1)
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise ValueError("incompatible dimensions for cross product\n"
                         "(dimension must be 2 or 3)")
    (a0, a1, *a2), (b0, b1, *b2) = ([x[..., i] for i in range(x.shape[-1])] for x in (a, b))
    z = a0 * b1 - a1 * b0
    if not a2 and not b2:
        return z
    a2, b2 = (a2 or [0.0])[0], (b2 or [0.0])[0]
    out = stack(np.broadcast_arrays(a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, z), -1)
    return moveaxis(out, -1, normalize_axis_index(axisc, out.ndim))
