"""Products: matmul, dot, tensordot, inner, outer, vdot, einsum."""
import string

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from ...errors import NoRuleError
from ...ir import ops
from .common import apply, as_tracer, reduce, table, trace_of, unsupported
from .indexing import diagonal
from .shapes import broadcast_to, ravel, reshape, transpose

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


@handles(np.einsum)
def einsum(*operands, out=None, optimize=False, **kw):
    unsupported("einsum", out, **kw)
    subscripts, *xs = operands
    if not isinstance(subscripts, str):
        raise NoRuleError("np.einsum on traced values needs the subscripts as a string")
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
