"""Index notation: a node of the DAG as an ordinary SymPy expression for one
element, `node[idx]`, over IndexedBase/MatrixSymbol leaves.

An array leaf stands for a whole array with elementwise semantics; here each
structural op becomes what a person writes on paper: a reduction is a
`Sum(..., (i, 0, n - 1))`, `a @ b` is `Sum(a[i, k]*b[k, j], (k, 0, q - 1))`,
a transpose swaps indices, a scatter (the pullback of `x[key]`) is a
`KroneckerDelta` or a `Piecewise`.  Elementwise nodes are rebuilt with
SymPy's evaluation, so special functions become their textbook forms.  The
result is plain SymPy: `lambdify`, `latex`, `diff` and `simplify` work on it.

A node that has no such form raises :class:`Unsupported`; the caller then
shows it let-bound (closed/forms.py).
"""
import itertools

import numpy as np

import sympy as sp
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanAtom, BooleanFunction

from ..ir.nodes import Leaf, children, postorder
from ..ir.special import either, nonfinite
from ..ir.ops import (ArrayOp, BroadcastTo, Band, Concatenate, Cumprod, Cumsum, Einsum,
                      Index, LogSumExp, MatMul, Norm, Prod, Reshape, Scatter, SetItem, Shift,
                      Softmax, Sum, SumTo, Transpose, Where, parse_key)

INDEX_NAMES = "ijklpqrsuv"  # free and summation indices, in order of use


class Unsupported(Exception):
    """`node` has no index-notation form here (its class name is the reason)."""

    def __init__(self, node, why=""):
        super().__init__(f"{type(node).__name__}{': ' + why if why else ''}")
        self.node = node


def index_symbols(reserved):
    """Integer index Symbols i, j, k, ... (then i_1, ...) not in `reserved` names."""
    for name in itertools.chain(INDEX_NAMES, (f"{c}_{k}" for k in itertools.count(1)
                                              for c in INDEX_NAMES)):
        if name not in reserved:
            yield sp.Symbol(name, integer=True)


def _broadcast_index(idx, shape, out_shape):
    """The index of an operand of `shape` broadcast to `out_shape` at `idx`
    (NumPy's rules: leading axes dropped, length-1 axes read at 0)."""
    lead = len(out_shape) - len(shape)
    return tuple(sp.S.Zero if n == 1 and out_shape[lead + k] != 1 else idx[lead + k]
                 for k, n in enumerate(shape))


class IndexForm:
    """Elements of nodes in index notation.

    `leaf(leaf, idx)` gives a leaf's element; `bound` maps nodes shown as
    named temporaries to the same kind of callable; `length(n)` gives the
    symbol (or integer) shown for an axis of length n; `reserved` are names
    an index must not take.
    """

    def __init__(self, shapes, leaf, length, reserved=(), bound=None, counts=None):
        self.shapes, self.leaf, self.length = shapes, leaf, length
        self.counts = counts or {}  # 1/200 -> 1/n (per_count)
        self.reserved = set(reserved)
        self.bound = bound if bound is not None else {}
        self._memo, self._context = {}, set()

    def start(self, idx):
        """Begin a new expression whose free indices are `idx`: no summation
        index inside it takes their names (a reader sees one meaning per name)."""
        self._memo, self._context = {}, {str(i) for i in idx}

    def free_index(self, shape, taken=()):
        """Index symbols for an array of `shape`, avoiding `taken`."""
        names = self.reserved | {str(s) for s in taken}
        return tuple(itertools.islice(index_symbols(names), len(shape)))

    def _dummies(self, k, idx):
        """k fresh summation indices, distinct from the free symbols of idx."""
        taken = set().union(*[sp.sympify(e).free_symbols for e in idx]) if idx else set()
        return self.free_index((None,) * k, taken | self._context)

    def _range(self, d, n):
        return (d, 0, self.length(n) - 1)

    def element(self, node, idx):
        key = (node, idx)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._element(node, tuple(idx))
        return hit

    def _at(self, operand, idx, out_shape):
        """The element of an operand broadcast to `out_shape`."""
        return self.element(operand, _broadcast_index(idx, self.shapes(operand), out_shape))

    def _element(self, node, idx):
        if node in self.bound:
            return self.bound[node](idx)
        if isinstance(node, Leaf):
            return self.leaf(node, idx)
        if not children(node):
            return self.counts.get(node) or _number(node)
        if isinstance(node, (nonfinite, either)):  # the forms are read at finite values,
            return sp.false                        # where strong_mul is plain a*b
        shape = self.shapes(node)
        if isinstance(node, ArrayOp):
            handler = _HANDLERS.get(type(node))
            if handler is None:
                raise Unsupported(node)
            return handler(self, node, idx, shape)
        args = [self._at(c, idx, shape) for c in children(node)]
        if issubclass(node.func, (sp.And, sp.Or, sp.Not, sp.Xor)):
            return node.func(*[as_bool(a) for a in args])
        return node.func(*[as_number(a) for a in args])

    # ----------------------------------------------------------- handlers
    def _reduce(self, node, idx, body):
        """`body(elements)` of x's elements over the reduced axes, as
        (dummies with ranges, element of x at the summation index)."""
        x, = node.operands
        axes, keep = node.params
        xshape = self.shapes(x)
        dummies = self._dummies(len(axes), idx)
        it, dit, xidx = iter(idx), iter(dummies), []
        for a in range(len(xshape)):
            if a in axes:
                if keep:
                    next(it)
                xidx.append(next(dit))
            else:
                xidx.append(next(it))
        ranges = [self._range(d, xshape[a]) for d, a in zip(dummies, axes)]
        return body(as_number(self.element(x, tuple(xidx))), ranges)


_CONDITIONS = (Relational, BooleanFunction, BooleanAtom)  # (a Symbol is a Boolean too)


def as_number(e):
    """A condition used as a number (NumPy's True == 1): the Iverson bracket."""
    if isinstance(e, _CONDITIONS):
        return sp.Piecewise((1, e), (0, True))
    return e


def as_bool(e):
    """A number used as a condition (NumPy: nonzero is True)."""
    return e if isinstance(e, _CONDITIONS) else sp.Ne(e, 0)


def _number(node):
    """A number as a person writes it: 200.0 is 200, 0.01 is 1/100 when its
    shortest repr is short (as in the source; the rational is within half an
    ulp, and a low-precision Float would make SymPy compute with few digits)."""
    if isinstance(node, sp.Float):
        if node == int(node):
            return sp.Integer(int(node))
        text = repr(float(node))
        if len(text.lstrip("-0.")) <= 6 and "e" not in text:
            return sp.Rational(text)
    return node


def per_count(root, shapes, length):
    """{1/N: 1/n} where the factor 1/N multiplies a sum over N elements
    (`np.mean(x)` is `Sum(x)/200`): the mean and its pullback (`ct/200`, the
    same number) read `Σ x / n`, n the summed axes' length symbols (equal
    values: the forms stay faithful).  Other numbers (`np.sum(x)/2`) stay."""
    counts = {}
    for node in postorder([root]):
        if not isinstance(node, sp.Mul):
            continue
        sums = [o for o in node.args if isinstance(o, Sum)]
        for c in node.args:
            if sums and isinstance(c, sp.Rational) and not c.is_Integer:
                axes, xshape = sums[0].params[0], shapes(sums[0].operands[0])
                big = int(np.prod([xshape[a] for a in axes]))
                count = sp.Mul(*[length(xshape[a]) for a in axes])
                if c * big == 1 and count.free_symbols:
                    counts[c] = 1 / count
    return counts


def summed(e: sp.Expr, ranges: list[tuple[sp.Symbol, sp.Expr, sp.Expr]]) -> sp.Expr:
    """Σ e over `ranges` (dummy, low, high); over an index e does not
    depend on, the sum is a count: Σ_{i=0}^{n-1} c = n c (a length reads n)."""
    free: set[sp.Basic] = getattr(e, "free_symbols", set())
    used = [r for r in ranges if r[0] in free]
    count = sp.Mul(*[hi - lo + 1 for d, lo, hi in ranges if d not in free])
    return count * (sp.Sum(e, *used) if used else e)


def _sum(self, node, idx, shape):
    return self._reduce(node, idx, lambda e, r: summed(e, r))


def _prod(self, node, idx, shape):
    return self._reduce(node, idx, lambda e, r: sp.Product(e, *r))


def _norm(self, node, idx, shape):
    return self._reduce(node, idx, lambda e, r: sp.sqrt(sp.Sum(sp.Abs(e) ** 2, *r)))


def _logsumexp(self, node, idx, shape):
    return self._reduce(node, idx, lambda e, r: sp.log(sp.Sum(sp.exp(e), *r)))


def _softmax(self, node, idx, shape):
    x, = node.operands
    axes = node.params[0]
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    dummies = self._dummies(len(axes), idx)
    sidx = list(idx)
    for d, a in zip(dummies, axes):
        sidx[a] = d
    ranges = [self._range(d, shape[a]) for d, a in zip(dummies, axes)]
    return sp.exp(self.element(x, idx)) / sp.Sum(sp.exp(self.element(x, tuple(sidx))), *ranges)


def _broadcast_to(self, node, idx, shape):
    return self._at(node.operands[0], idx, shape)


def _sum_to(self, node, idx, shape):
    x, = node.operands
    xshape = self.shapes(x)
    lead = len(xshape) - len(shape)
    axes = [a for a in range(len(xshape))
            if a < lead or shape[a - lead] == 1 and xshape[a] != 1]
    dummies = self._dummies(len(axes), idx)
    sub = dict(zip(axes, dummies))
    xidx = tuple(sub[a] if a in sub else idx[a - lead] for a in range(len(xshape)))
    e = self._at(x, xidx, xshape)
    return summed(e, [self._range(d, xshape[a]) for a, d in sub.items()])


def _where(self, node, idx, shape):
    c, a, b = (self._at(o, idx, shape) for o in node.operands)
    return sp.Piecewise((as_number(a), as_bool(c)), (as_number(b), True))


def _transpose(self, node, idx, shape):
    perm = node.params[0]
    xidx = [None] * len(perm)
    for k, p in enumerate(perm):
        xidx[p] = idx[k]
    return self.element(node.operands[0], tuple(xidx))


def _matmul(self, node, idx, shape):
    a, b = node.operands
    sa, sb = self.shapes(a), self.shapes(b)
    k, = self._dummies(1, idx)
    batch = idx[:-2]
    ia = _broadcast_index(batch, sa[:-2], shape[:-2]) + (idx[-2], k)
    ib = _broadcast_index(batch, sb[:-2], shape[:-2]) + (k, idx[-1])
    return sp.Sum(self.element(a, ia) * self.element(b, ib), self._range(k, sa[-1]))


def _einsum(self, node, idx, shape):
    ins, out = node.terms
    letters = sorted({c for term in ins for c in term} - set(out))
    dummies = self._dummies(len(letters), idx)
    at = dict(zip(out, idx)) | dict(zip(letters, dummies))
    sizes = {c: n for term, o in zip(ins, node.operands) for c, n in zip(term, self.shapes(o))}
    body = sp.Mul(*[self.element(o, tuple(at[c] for c in term))
                    for term, o in zip(ins, node.operands)])
    return summed(body, [self._range(at[c], sizes[c]) for c in letters])


def _reshape(self, node, idx, shape):
    x, = node.operands
    xshape = self.shapes(x)
    if [n for n in xshape if n != 1] == [n for n in shape if n != 1]:  # only unit axes move
        it = iter(i for i, n in zip(idx, shape) if n != 1)
        return self.element(x, tuple(sp.S.Zero if n == 1 else next(it) for n in xshape))
    flat = sum((i * _stride(shape, a) for a, i in enumerate(idx)), sp.S.Zero)
    return self.element(x, tuple(sp.Mod(sp.floor(flat / _stride(xshape, a)), n)
                                 for a, n in enumerate(xshape)))


def _stride(shape, axis):
    s = 1
    for n in shape[axis + 1:]:
        s *= n
    return s


def _concatenate(self, node, idx, shape):
    axis = node.params[0]
    pieces, start = [], 0
    for o in node.operands:
        n = self.shapes(o)[axis]
        oidx = idx[:axis] + (idx[axis] - start,) + idx[axis + 1:]
        pieces.append((self._at(o, oidx, shape[:axis] + (n,) + shape[axis + 1:]),
                       idx[axis] < start + n))
        start += n
    return sp.Piecewise(*pieces[:-1], (pieces[-1][0], True))


def _cumulative(op):
    def rule(self, node, idx, shape):
        x, = node.operands
        axis, reverse = node.params
        d, = self._dummies(1, idx)
        xidx = idx[:axis] + (d,) + idx[axis + 1:]
        lim = (d, idx[axis], self.length(shape[axis]) - 1) if reverse else (d, 0, idx[axis])
        return op(self.element(x, xidx), lim)
    return rule


def _shift(self, node, idx, shape):
    x, = node.operands
    axis, k, fill = node.params
    i = idx[axis]
    inside = sp.And(i - k >= 0, i - k < shape[axis])
    return sp.Piecewise((self.element(x, idx[:axis] + (i - k,) + idx[axis + 1:]), inside),
                        (fill, True))


def _band(self, node, idx, shape):
    lo, hi = node.params
    i, j = idx[-2:]
    conds = ([j - i >= lo] if lo is not None else []) + ([j - i <= hi] if hi is not None else [])
    return sp.Piecewise((self.element(node.operands[0], idx), sp.And(*conds)), (0, True))


class _Array(int):
    """The k-th integer-array operand of a key (a marker for parse_key)."""


def _layout(node, text, shape, array_shapes):
    """A key over `shape` as parts [kind, axis, data, output position] and the
    broadcast shape of its integer arrays with their output positions (NumPy's
    rule: together where the array parts are adjacent, else in front)."""
    key = parse_key(text, iter(_Array(k) for k in range(len(array_shapes))))
    parts, axis = [], 0
    for p in key:
        if p is None:
            parts.append(["new", None, None])
            continue
        if isinstance(p, _Array):
            parts.append(["arr", axis, int(p)])
        elif isinstance(p, slice):
            parts.append(["slice", axis, p.indices(shape[axis])])
        else:
            parts.append(["int", axis, p % shape[axis]])
        axis += 1
    parts += [["slice", a, (0, shape[a], 1)] for a in range(axis, len(shape))]
    arr = [k for k, p in enumerate(parts) if p[0] == "arr"]
    b = tuple(np.broadcast_shapes(*array_shapes)) if array_shapes else ()
    out, bpos = 0, None
    if arr and arr != list(range(arr[0], arr[-1] + 1)):
        bpos, out = list(range(len(b))), len(b)
    for p in parts:
        if p[0] == "arr" and bpos is None:
            bpos, out = list(range(out, out + len(b))), out + len(b)
        p.append(out if p[0] in ("slice", "new") else None)
        out += p[0] in ("slice", "new")
    return parts, b, bpos or []


def _index(self, node, idx, shape):
    x, *arrays = node.operands
    parts, b, bpos = _layout(node, node.key, self.shapes(x), [self.shapes(a) for a in arrays])
    bidx = tuple(idx[p] for p in bpos)
    xidx = []
    for kind, _, data, out in parts:
        if kind == "arr":
            xidx.append(self._at(arrays[data], bidx, b))
        elif kind == "int":
            xidx.append(sp.Integer(data))
        elif kind == "slice":
            xidx.append(data[0] + data[2] * idx[out])
    return self.element(x, tuple(xidx))


def _placed(self, parts, b, bpos, idx, arrays, shape):
    """(conditions, factors, summation ranges, index into the written value)
    for the element at idx of an array whose key `parts` are written
    (Scatter, SetItem): the value's element at the returned index lands on
    idx where every condition holds (and each factor is 1)."""
    dummies = self._dummies(len(b), idx)
    conds, factors = [], []
    vidx = [None] * (max([p[3] for p in parts if p[3] is not None] + bpos, default=-1) + 1)
    for p, d in zip(bpos, dummies):
        vidx[p] = d
    for kind, axis, data, out in parts:
        if kind == "new":
            vidx[out] = sp.S.Zero
        elif kind == "int":
            conds.append(sp.Eq(idx[axis], data))
        elif kind == "arr":
            factors.append(sp.KroneckerDelta(self._at(arrays[data], dummies, b), idx[axis]))
        else:
            i, (start, stop, step) = idx[axis], data
            if (start, stop, step) != (0, shape[axis], 1):
                conds += [i >= start, i < stop] if step > 0 else [i <= start, i > stop]
                if abs(step) != 1:
                    conds.append(sp.Eq(sp.Mod(i - start, abs(step)), 0))
            vidx[out] = (i - start) / step if step != 1 else i - start
    ranges = [self._range(d, n) for d, n in zip(dummies, b)]
    return conds, factors, ranges, tuple(vidx)


def _scatter(self, node, idx, shape):
    ct, *arrays = node.operands
    key, _ = node.params
    parts, b, bpos = _layout(node, key, shape, [self.shapes(a) for a in arrays])
    conds, factors, ranges, vidx = _placed(self, parts, b, bpos, idx, arrays, shape)
    value = self._at(ct, vidx, _written_shape(key, shape, arrays, self.shapes))
    value = sp.Mul(value, *factors)
    value = sp.Sum(value, *ranges) if ranges else value
    if all(isinstance(c, sp.Eq) and not c.has(sp.Mod) for c in conds):  # x_1 δ_{i1}
        return sp.Mul(value, *[sp.KroneckerDelta(*c.args) for c in conds])
    return sp.Piecewise((value, sp.And(*conds)), (0, True))


def _written_shape(key, shape, arrays, shapes):
    return Index.make(Leaf("_", shape), *[Leaf("_", shapes(a)) for a in arrays], key) \
        .shape_rule(shape, *[shapes(a) for a in arrays])


def _setitem(self, node, idx, shape):
    x, v, *arrays = node.operands
    if arrays:  # repeated indices: the last write wins, no closed form here
        raise Unsupported(node, "an assignment through an integer-array index")
    key = node.params[0]
    parts, b, bpos = _layout(node, key, shape, [])
    conds, _, _, vidx = _placed(self, parts, b, bpos, idx, [], shape)
    return sp.Piecewise((self._at(v, vidx, _written_shape(key, shape, [], self.shapes)),
                         sp.And(*conds)), (self.element(x, idx), True))


_HANDLERS = {
    Sum: _sum, Prod: _prod, Norm: _norm, LogSumExp: _logsumexp, Softmax: _softmax,
    BroadcastTo: _broadcast_to, SumTo: _sum_to, Where: _where, Transpose: _transpose,
    MatMul: _matmul, Einsum: _einsum, Reshape: _reshape, Concatenate: _concatenate,
    Cumsum: _cumulative(sp.Sum), Cumprod: _cumulative(sp.Product), Shift: _shift,
    Band: _band, Index: _index, Scatter: _scatter, SetItem: _setitem,
}
