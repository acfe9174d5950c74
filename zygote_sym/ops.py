"""Array operations that are not elementwise, as SymPy Function subclasses.

Each op keeps its array operands first (`nops` of them) and its static
arguments (axes, shapes, index keys, einsum subscripts) after them as SymPy
Integers/Tuples/`Str`: a plain `None`, `slice` or string would break SymPy
or silently become a Symbol (DESIGN.md).  Integer index arrays are operands
(constant leaves of the trace, so kernel inputs), not static data.  Each op
carries its own shape rule, pullback rule (`vjp`), NumPy printer (`numpy`)
and LaTeX printer (`_latex`), so adding an op is adding one class here.

`Where` is elementwise (a select); it lives here because, like the
structural ops, it has no SymPy counterpart with the semantics we need
(NumPy's `where`, which numexpr also has).
"""
import numpy as np
import scipy.special as sc
import sympy as sp
from sympy.core.symbol import Str
from sympy.printing.precedence import PRECEDENCE

from . import graph as g
from .rules import special


def static(x):
    """A Python static argument (int, bool, str, tuple of them, None) as SymPy
    data (a str becomes a `Str` atom, never a Symbol)."""
    if x is None:
        return sp.S.NaN  # a stand-in that SymPy keeps as-is; see `unstatic`
    if isinstance(x, str):
        return Str(x)
    if isinstance(x, (tuple, list)):
        return sp.Tuple(*[static(v) for v in x])
    return sp.Integer(int(x))


def unstatic(x):
    if x is sp.S.NaN:
        return None
    if isinstance(x, Str):
        return x.name
    if isinstance(x, sp.Tuple):
        return tuple(unstatic(v) for v in x)
    return int(x)


class ArrayOp(sp.Function):
    """Base class: `nops` array operands, then static arguments."""

    nops = 1
    exact_ct = True  # the backward pass hands vjp a cotangent of exactly this op's shape
    is_commutative = True
    is_real = True

    @classmethod
    def make(cls, *operands_and_static):
        ops = operands_and_static[:cls.nops]
        rest = [static(s) for s in operands_and_static[cls.nops:]]
        return cls(*ops, *rest, evaluate=False)

    @property
    def operands(self):
        return self.args[:self.nops]

    @property
    def params(self):
        return [unstatic(a) for a in self.args[self.nops:]]

    def _sympystr(self, printer):
        ops = ", ".join(printer.doprint(a) for a in self.operands)
        ps = ", ".join(repr(p) for p in self.params)
        return f"{type(self).__name__}({ops}{', ' if ps else ''}{ps})"

    def _latex(self, printer):
        ops = ", ".join(printer._print(a) for a in self.operands)
        return rf"\operatorname{{{type(self).__name__}}}\left({ops}\right)"

    def _eval_derivative(self, s):
        # only SymPy's own machinery asks (simplify's equality tests); it must
        # not differentiate the static arguments.  Gradients come from `vjp`.
        return sp.Derivative(self, s, evaluate=False)


class Variadic(ArrayOp):
    """An op with any number of operands, followed by `nstatic` static arguments."""

    nstatic = 1

    @property
    def nops(self):
        return len(self.args) - self.nstatic

    @classmethod
    def make(cls, *operands_and_static):
        k = len(operands_and_static) - cls.nstatic
        rest = [static(s) for s in operands_and_static[k:]]
        return cls(*operands_and_static[:k], *rest, evaluate=False)


class BroadcastTo(ArrayOp):
    """`np.broadcast_to(x, shape)`: makes a node's logical shape explicit
    (e.g. the constant cotangent of `sum(x)`, or `x - x` folded to 0)."""

    exact_ct = False

    def shape_rule(self, _):
        return self.params[0]

    def vjp(self, ct, shapes):
        return [sum_to(ct, self.params[0], shapes(self.args[0]))]

    def value(self, x):
        return np.broadcast_to(x, self.params[0])

    def numpy(self, x):
        return f"np.broadcast_to({x}, {self.params[0]!r})"

    def _latex(self, printer):
        return printer._print(self.args[0])


class SumTo(ArrayOp):
    """Sum an array of a broadcast shape back down to `shape` (unbroadcast)."""

    exact_ct = False

    def shape_rule(self, _):
        return self.params[0]

    def vjp(self, ct, shapes):
        return [ct]  # already broadcastable to the operand's shape

    def value(self, x):
        return _sum_to(x, self.params[0])

    def numpy(self, x):
        return f"_sum_to({x}, {self.params[0]!r})"

    def _latex(self, printer):
        return r"\sum " + printer.parenthesize(self.args[0], 0)


def _sum_to(x, shape):
    """Sum `x` over the axes along which `shape` was broadcast (NumPy rules)."""
    x = np.asarray(x)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1)
    out = x.sum(axis=axes, keepdims=True) if axes else x
    return out.reshape(shape)


def broadcast_to(x, shape, shapes):
    """`x` with exactly `shape` (a BroadcastTo node only if it differs)."""
    return x if shapes(x) == tuple(shape) else BroadcastTo.make(x, tuple(shape))


def sum_to(ct, from_shape, to_shape):
    """Unbroadcast a cotangent whose logical shape is `from_shape`."""
    if tuple(from_shape) == tuple(to_shape):
        return ct
    if isinstance(ct, sp.Number):  # a constant cotangent sums to a count
        return g.mul(ct, sp.Integer(int(np.prod(from_shape)) // int(np.prod(to_shape) or 1)))
    return SumTo.make(BroadcastTo.make(ct, tuple(from_shape)), tuple(to_shape))


class Where(ArrayOp):
    """Elementwise select `np.where(cond, a, b)`: a SymPy Piecewise with
    NumPy's broadcasting; only the chosen operand receives a cotangent."""

    exact_ct = False

    nops = 3

    def shape_rule(self, c, a, b):
        return g.broadcast(c, a, b)

    def vjp(self, ct, shapes):
        c, a, b = self.args
        out = shapes(self)
        return [None, sum_to(pick(c, ct, g.ZERO), out, shapes(a)),
                sum_to(pick(c, g.ZERO, ct), out, shapes(b))]

    def value(self, c, a, b):
        return np.where(c, a, b)

    def numpy(self, c, a, b):
        return f"np.where({c}, {a}, {b})"

    def _latex(self, printer):
        c, a, b = self.args
        return printer._print(sp.Piecewise((a, c), (b, True), evaluate=False))


def pick(c, a, b):
    """A select node (folded where c is constant or a == b) for operands that
    need no guarding: cotangents, safe points.  User selects use `where`."""
    if c == sp.true:
        return a
    if c == sp.false:
        return b
    if a == b:
        return a
    return Where(c, a, b, evaluate=False)


_GUARD_DEPTH = 6  # elementwise levels below a branch that `where` guards


def where(c, a, b):
    """`np.where(c, a, b)` of user code, with the "double where" made
    automatic: in each branch, the argument of every op that can be
    non-finite at a finite point (1/x, log, sqrt, exp, ...: `safe_args` in
    rules/elementwise.py) is replaced by a safe point where the branch is not
    taken: `where(x > 0, log(x), 0)` becomes `where(x > 0, log(guard(x,
    x > 0, 1)), 0)` (rules/special.py; closed forms show plain `log(x)`).
    So the branch not taken computes finite values (no warning, no
    ZeroDivisionError in a `math` kernel) and finite partials for its zero
    cotangent.  JAX leaves this to the user (its FAQ: "Gradients contain NaN
    where using where").

    Only ops within _GUARD_DEPTH elementwise levels of a branch are guarded,
    never below a structural op or inside a nested select: rebuilding deeper
    would copy whole histories (quadratic on loops), and such ops are mostly
    computed for other uses anyway.  Below them, gradients through a pole
    (sqrt at 0) still get the strong zero of diff.py.
    """
    if isinstance(a, Where) and a.args[0] == c:  # the user's own double where
        a = a.args[1]
    if isinstance(b, Where) and b.args[0] == c:
        b = b.args[2]
    if c in (sp.true, sp.false) or a == b:
        return pick(c, a, b)
    return pick(c, _guard(a, c, True), _guard(b, c, False))


def _guard(root, c, taken):
    """`root` with each unsafe op's arguments replaced by `guard(arg, c, safe)`
    (c negated if the branch is taken where c is false)."""
    from .rules.elementwise import safe_args
    near, level = set(), [root]
    for _ in range(_GUARD_DEPTH):  # the elementwise ops near root
        level = [n for n in level if n not in near and n.args and isinstance(n, sp.Expr)
                 and not isinstance(n, (ArrayOp, g.Leaf))]
        near.update(level)
        level = list(dict.fromkeys(a for n in level for a in n.args))
    live = c if taken else sp.Not(c, evaluate=False)
    new = {}
    for node in g.postorder([root], into=near.__contains__):
        if node not in near:
            continue
        args = [new.get(a, a) for a in node.args]
        for i, safe in enumerate(safe_args(node)):
            if safe is not None and not isinstance(args[i], sp.Number):
                args[i] = g.call(special.guard, args[i], live, safe)
        if any(x is not y for x, y in zip(args, node.args)):
            new[node] = node.func(*args, evaluate=False)
    return new.get(root, root)


# =============================================================================
# Structural ops.  Static arguments are already normalised by the tracer
# (non-negative sorted axes, concrete slices, explicit einsum outputs), so
# every rule here reads them as plain Python data.  Printers get operands as
# text; `_paren` protects an inline expression (`x*y`) before `[...]` or `@`.

def _paren(code):
    return code if code.isidentifier() else f"({code})"


def _axis_code(axes):
    return str(axes[0]) if len(axes) == 1 else repr(tuple(axes))


def _arg_latex(printer, x):
    return printer.parenthesize(x, PRECEDENCE["Pow"])


def transpose(x, perm):
    perm = tuple(perm)
    if isinstance(x, Transpose):  # a transpose of a transpose is one transpose
        x, perm = x.args[0], tuple(x.params[0][i] for i in perm)
    return x if perm == tuple(range(len(perm))) else Transpose.make(x, perm)


def reshape(x, shape, shapes):
    shape = tuple(shape)
    if isinstance(x, Reshape):  # only the last reshape matters
        x = x.args[0]
    return x if shapes(x) == shape else Reshape.make(x, shape)


def swap_last(x, shapes):
    """x with its last two axes swapped (the matrix transpose of a stack)."""
    n = len(shapes(x))
    return transpose(x, tuple(range(n - 2)) + (n - 1, n - 2))


def inverse_perm(perm):
    return tuple(int(i) for i in np.argsort(perm))


# ----------------------------------------------------------------- reductions
class _Reduce(ArrayOp):
    """`np.<fname>(x, axis=axes, keepdims=keep)` over sorted non-negative axes."""

    def shape_rule(self, x):
        axes, keep = self.params
        return tuple(1 if i in axes else n for i, n in enumerate(x) if keep or i not in axes)

    def kept(self, y, shapes):
        """`y`, shaped like this node, made to broadcast against the operand:
        the reduced axes back as size 1 unless they are the leading ones."""
        axes, keep = self.params
        if keep or axes == tuple(range(len(axes))):
            return y
        x_shape = shapes(self.args[0])
        return reshape(y, tuple(1 if i in axes else n for i, n in enumerate(x_shape)), shapes)

    def value(self, x):
        axes, keep = self.params
        return getattr(np, self.fname)(x, axis=axes, keepdims=bool(keep))

    def numpy(self, x):
        axes, keep = self.params
        return f"np.{self.fname}({x}, axis={_axis_code(axes)}{', keepdims=True' if keep else ''})"

    def _latex(self, printer):
        return rf"{self.tex} {_arg_latex(printer, self.args[0])}"


class Sum(_Reduce):
    fname, tex = "sum", r"\sum"

    def vjp(self, ct, shapes):
        return [self.kept(ct, shapes)]


class Max(_Reduce):
    """Ties share the cotangent equally (as the elementwise Max rule)."""

    fname, tex = "max", r"\max"

    def vjp(self, ct, shapes):
        axes, _ = self.params
        hit = g.relation("==", self.args[0], self.kept(self, shapes))
        share = g.div(self.kept(ct, shapes), Sum.make(hit, axes, True))
        return [pick(hit, share, g.ZERO)]


class Min(Max):
    fname, tex = "min", r"\min"


class LogSumExp(_Reduce):
    """`log(sum(exp(x)))` (the tracer recognises that spelling), computed as
    `scipy.special.logsumexp`: shifted by the max, so no `exp` overflows.
    Its pullback is ct times the softmax of x."""

    fname, tex = "logsumexp", r"\operatorname{logsumexp}"

    def vjp(self, ct, shapes):
        return [g.mul(self.kept(ct, shapes), Softmax.make(self.args[0], self.params[0]))]

    def value(self, x):
        axes, keep = self.params
        return sc.logsumexp(x, axis=axes, keepdims=bool(keep))

    def numpy(self, x):
        axes, keep = self.params
        return f"sc.logsumexp({x}, axis={_axis_code(axes)}{', keepdims=True' if keep else ''})"


class Norm(_Reduce):
    """The 2-norm `sqrt(sum(x**2))`, as the tracer sees it from that spelling
    or from `np.linalg.norm`.  Its pullback `ct*x/norm` is 0 where the norm
    is 0 (the minimum-norm subgradient, as PyTorch's norm; JAX gives nan):
    the strong zero of diff.py, which would give the same, does not reach
    through a reduction."""

    fname, tex = "norm", r"\left\|\cdot\right\|"

    def vjp(self, ct, shapes):
        n = self.kept(self, shapes)
        nonzero = g.call(special.guard, n, g.relation("!=", n, g.ZERO), g.ONE)
        return [g.mul(self.kept(ct, shapes), self.args[0], g.pow_(nonzero, g.NEG_ONE))]

    def value(self, x):
        return _norm(x, *self.params)

    def numpy(self, x):
        axes, keep = self.params
        return f"_norm({x}, {axes!r}, {keep})"

    def _latex(self, printer):
        return rf"\left\|{printer._print(self.args[0])}\right\|"


def _norm(x, axes, keep):
    if len(axes) <= 2:  # BLAS (nrm2, dot) through np.linalg.norm
        return np.linalg.norm(x, axis=axes if len(axes) == 2 else axes[0], keepdims=bool(keep))
    return np.sqrt(np.sum(np.square(np.abs(x)), axis=axes, keepdims=bool(keep)))


def as_norm(s):
    """Norm(x) if s is `sum(x**2)` or `sum(x*x)` (any axes), else None."""
    if isinstance(s, Sum):
        sq, params = s.args[0], s.params
        if isinstance(sq, sp.Pow) and sq.exp == 2:
            return Norm.make(sq.base, *params)
        if isinstance(sq, sp.Mul) and len(sq.args) == 2 and sq.args[0] == sq.args[1]:
            return Norm.make(sq.args[0], *params)
    return None


class Softmax(ArrayOp):
    """`scipy.special.softmax(x, axis=axes)`: exp(x - max) normalised, so it
    never overflows and a tie of two is exactly 1/2 (`exp(x - logsumexp)`
    is off by the rounding of logsumexp)."""

    def shape_rule(self, x):
        return x

    def vjp(self, ct, shapes):
        axes = self.params[0]  # J^T ct = s*(ct - sum(ct*s))
        return [g.mul(self, g.sub(ct, Sum.make(g.mul(ct, self), axes, True)))]

    def value(self, x):
        return sc.softmax(x, axis=self.params[0])

    def numpy(self, x):
        return f"sc.softmax({x}, axis={_axis_code(self.params[0])})"


class Prod(_Reduce):
    fname, tex = "prod", r"\prod"

    def vjp(self, ct, shapes):
        """ct times the product of all *other* elements (`_others`)."""
        x = self.args[0]
        axes, _ = self.params
        if len(axes) == 1:
            return [g.mul(_others(x, axes[0]), self.kept(ct, shapes))]
        shape = shapes(x)  # several axes: move them to the end as one
        perm = tuple(i for i in range(len(shape)) if i not in axes) + tuple(axes)
        moved = tuple(shape[i] for i in perm)
        last = len(shape) - len(axes)
        flat = reshape(transpose(x, perm), moved[:last] + (int(np.prod(moved[last:])),), shapes)
        back = transpose(reshape(_others(flat, last), moved, shapes), inverse_perm(perm))
        return [g.mul(back, self.kept(ct, shapes))]


def _others(x, axis):
    """The product of all other elements along axis: exclusive cumulative
    products from the left times those from the right, never x divided."""
    return g.mul(Cumprod.make(Shift.make(x, axis, 1, 1), axis, 0),
                 Cumprod.make(Shift.make(x, axis, -1, 1), axis, 1))


# ------------------------------------------------------------------- scans
def _scan(fn, x, axis, reverse):
    return np.flip(fn(np.flip(x, axis), axis=axis), axis) if reverse else fn(x, axis=axis)


def _scan_code(fn, x, axis, reverse):
    if reverse:
        return f"np.flip({fn}(np.flip({x}, {axis}), axis={axis}), {axis})"
    return f"{fn}({x}, axis={axis})"


class Cumsum(ArrayOp):
    """Cumulative sum along `axis`, from the end if `reverse`."""

    def shape_rule(self, x):
        return x

    def vjp(self, ct, shapes):
        axis, reverse = self.params
        return [Cumsum.make(ct, axis, 1 - reverse)]

    def value(self, x):
        return _scan(np.cumsum, x, *self.params)

    def numpy(self, x):
        return _scan_code("np.cumsum", x, *self.params)


class Cumprod(ArrayOp):
    """Cumulative product along `axis`, from the end if `reverse`."""

    def shape_rule(self, x):
        return x

    def vjp(self, ct, shapes):
        """d/dx_i = (product of the elements before i) * s_i with the recurrence
        s_i = ct_i + x_next*s_next: exact where x has zeros, no division."""
        x = self.args[0]
        axis, reverse = self.params
        d = -1 if reverse else 1  # Shift by d: each element's predecessor in scan order
        before = Cumprod.make(Shift.make(x, axis, d, 1), axis, reverse)
        return [g.mul(before, LinRec.make(Shift.make(x, axis, -d, 0), ct, axis, 1 - reverse))]

    def value(self, x):
        return _scan(np.cumprod, x, *self.params)

    def numpy(self, x):
        return _scan_code("np.cumprod", x, *self.params)


def _shift(x, axis, k, fill):
    """out[i] = x[i - k] along axis, `fill` where i - k falls outside."""
    x = np.asarray(x)
    out = np.full(x.shape, fill, dtype=np.result_type(x, fill))
    n = x.shape[axis]
    dst, src = [slice(None)] * x.ndim, [slice(None)] * x.ndim
    dst[axis], src[axis] = (slice(k, None), slice(0, max(n - k, 0))) if k >= 0 else \
        (slice(0, max(n + k, 0)), slice(-k, None))
    out[tuple(dst)] = x[tuple(src)]
    return out


class Shift(ArrayOp):
    """`x` moved k places along `axis`, the vacated places set to `fill`."""

    def shape_rule(self, x):
        return x

    def vjp(self, ct, shapes):
        axis, k, _ = self.params
        return [Shift.make(ct, axis, -k, 0)]

    def value(self, x):
        return _shift(x, *self.params)

    def numpy(self, x):
        return f"_shift({x}, {', '.join(map(str, self.params))})"


def _linrec(a, b, axis, reverse):
    """s_i = b_i + a_i*s_{i-1} along axis (s_{i+1} if reverse; 0 before the
    start) in log2(n) vectorised doubling steps: products only, no division."""
    a, b = np.broadcast_arrays(a, b)
    dtype = np.result_type(a, b, float)
    if reverse:
        a, b = np.flip(a, axis), np.flip(b, axis)
    A = np.moveaxis(a, axis, -1).astype(dtype)
    B = np.moveaxis(b, axis, -1).astype(dtype)
    d = 1
    while d < A.shape[-1]:
        B[..., d:] += A[..., d:] * B[..., :-d]
        A[..., d:] *= A[..., :-d].copy()
        d *= 2
    s = np.moveaxis(B, -1, axis)
    return np.flip(s, axis) if reverse else s


class LinRec(ArrayOp):
    """The linear recurrence s_i = b_i + a_i*s_prev along `axis` (prev = i-1,
    or i+1 if `reverse`): the adjoint of a cumulative product."""

    nops = 2

    def shape_rule(self, a, b):
        return g.broadcast(a, b)

    def vjp(self, ct, shapes):
        a = self.args[0]
        axis, reverse = self.params
        d = -1 if reverse else 1
        # the transposed recurrence runs the other way
        u = LinRec.make(Shift.make(a, axis, -d, 0), ct, axis, 1 - reverse)
        return [g.mul(u, Shift.make(self, axis, d, 0)), u]

    def value(self, a, b):
        return _linrec(a, b, *self.params)

    def numpy(self, a, b):
        return f"_linrec({a}, {b}, {', '.join(map(str, self.params))})"


# ------------------------------------------------------------ products
class Einsum(Variadic):
    """`np.einsum(spec, *operands)`: spec has an explicit output, no '...', no
    index twice in one operand, and operands agree on every index's size (the
    tracer lowers diagonals and broadcasts first)."""

    @property
    def terms(self):
        ins, out = self.params[0].split("->")
        return ins.split(","), out

    def shape_rule(self, *shapes):
        ins, out = self.terms
        sizes = {c: n for term, s in zip(ins, shapes) for c, n in zip(term, s)}
        return tuple(sizes[c] for c in out)

    def vjp(self, ct, shapes):
        ins, out = self.terms
        grads = []
        for k, term in enumerate(ins):
            others = [(t, x) for j, (t, x) in enumerate(zip(ins, self.operands)) if j != k]
            seen = set(out).union(*[t for t, _ in others])
            kept = "".join(c for c in term if c in seen)
            terms, xs, scale = [out] + [t for t, _ in others], [ct] + [x for _, x in others], g.ONE
            if not out:  # a scalar cotangent is a factor, not an einsum operand
                terms, xs, scale = terms[1:], xs[1:], ct
            gk = g.mul(scale, einsum(xs, ",".join(terms) + "->" + kept))
            if kept != term:  # indices summed within operand k alone: broadcast back
                shape = shapes(self.operands[k])
                ones = tuple(n if c in seen else 1 for c, n in zip(term, shape))
                scalar = isinstance(gk, sp.Number)
                gk = BroadcastTo.make(gk if scalar else reshape(gk, ones, shapes), shape)
            grads.append(gk)
        return grads

    def value(self, *xs):
        return np.einsum(self.params[0], *xs, optimize=len(xs) > 2)

    def numpy(self, *xs):
        opt = ", optimize=True" if len(xs) > 2 else ""
        return f"np.einsum({self.params[0]!r}, {', '.join(xs)}{opt})"


def einsum(xs, spec):
    if not xs:
        return g.ONE
    if len(xs) == 1 and spec.split("->") == [spec.split("->")[1]] * 2:
        return xs[0]
    return Einsum.make(*xs, spec)


class MatMul(ArrayOp):
    """`a @ b` for stacks of matrices (ndim >= 2; the tracer reshapes vectors)."""

    nops = 2

    def shape_rule(self, a, b):
        return g.broadcast(a[:-2], b[:-2]) + (a[-2], b[-1])

    def vjp(self, ct, shapes):
        a, b = self.args
        batch = shapes(self)[:-2]
        ga = MatMul.make(ct, swap_last(b, shapes))
        gb = MatMul.make(swap_last(a, shapes), ct)
        return [sum_to(ga, batch + shapes(a)[-2:], shapes(a)),
                sum_to(gb, batch + shapes(b)[-2:], shapes(b))]

    def value(self, a, b):
        return np.matmul(a, b)

    def numpy(self, a, b):
        return f"{_paren(a)} @ {_paren(b)}"

    def _latex(self, printer):
        return " ".join(printer.parenthesize(x, PRECEDENCE["Mul"]) for x in self.args)


# ------------------------------------------------------------- shape only
class Transpose(ArrayOp):
    """`np.transpose(x, perm)` (also swapaxes, moveaxis, `.T`)."""

    def shape_rule(self, x):
        return tuple(x[i] for i in self.params[0])

    def vjp(self, ct, shapes):
        return [transpose(ct, inverse_perm(self.params[0]))]

    def value(self, x):
        return np.transpose(x, self.params[0])

    def numpy(self, x):
        return f"np.transpose({x}, {self.params[0]!r})"

    def _latex(self, printer):
        return rf"{{{_arg_latex(printer, self.args[0])}}}^{{T}}"


class Reshape(ArrayOp):
    """`np.reshape(x, shape)` in C order (also ravel, squeeze, expand_dims)."""

    def shape_rule(self, x):
        return self.params[0]

    def vjp(self, ct, shapes):
        return [reshape(ct, shapes(self.args[0]), shapes)]

    def value(self, x):
        return np.reshape(x, self.params[0])

    def numpy(self, x):
        return f"np.reshape({x}, {self.params[0]!r})"

    def _latex(self, printer):
        return printer._print(self.args[0])


class Concatenate(Variadic):
    """`np.concatenate(xs, axis)`; the tracer broadcasts scalars and stacks."""

    def shape_rule(self, *shapes):
        axis = self.params[0]
        first = shapes[0]
        return first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1:]

    def vjp(self, ct, shapes):
        axis = self.params[0]
        grads, start = [], 0
        for x in self.operands:
            stop = start + shapes(x)[axis]
            grads.append(Index.make(ct, ", ".join([":"] * axis + [f"{start}:{stop}"])))
            start = stop
        return grads

    def value(self, *xs):
        return np.concatenate(xs, axis=self.params[0])

    def numpy(self, *xs):
        return f"np.concatenate([{', '.join(xs)}], axis={self.params[0]})"


# ---------------------------------------------------------------- indexing
# An index key is a string exactly as it prints between the brackets:
# ints, concrete slices `start:stop:step`, `None`, and `{}` slots filled by
# the op's integer-array operands ("0, 1:3, None, {}").  Negative indices and
# open slices are resolved from the shape by the tracer.

def parse_key(text, arrays=()):
    arrays = iter(arrays)
    key = []
    for part in text.split(", "):
        if part == "{}":
            key.append(next(arrays))
        elif part == "None":
            key.append(None)
        elif ":" in part:
            key.append(slice(*[int(p) if p else None for p in part.split(":")]))
        else:
            key.append(int(part))
    return tuple(key)


def _key_code(text, arrays):
    # np.asarray(., np.intp): index inputs may reach the kernel cast to float
    return text.format(*[f"np.asarray({a}, np.intp)" for a in arrays])


def _index_shape(shape, text, array_shapes):
    """NumPy's own answer on zero-strided stand-ins (exact for every mix of
    basic and advanced indices)."""
    dummy = np.broadcast_to(np.zeros((), np.int8), shape)
    arrays = [np.broadcast_to(np.zeros((), np.intp), s) for s in array_shapes]
    return dummy[parse_key(text, arrays)].shape


def _scatter(ct, shape, key):
    """The transpose of `x[key]`: ct added into zeros of `shape`; repeated
    indices accumulate (np.add.at)."""
    out = np.zeros(shape, dtype=np.result_type(ct, float))
    np.add.at(out, key, ct)
    return out


def _place(ct, shape, key):
    """`_scatter` for keys of ints and slices, which never repeat an index:
    plain assignment, far cheaper than np.add.at."""
    out = np.zeros(shape, dtype=np.result_type(ct, float))
    out[key] = ct
    return out


def _setitem(x, v, key):
    """A copy of x with x[key] = v (promoted to a common dtype, so the
    value agrees with the float kernel)."""
    out = np.array(x, dtype=np.result_type(x, v))
    out[key] = v
    return out


class Index(Variadic):
    """`x[key]`; the operands after x are the integer arrays of the key."""

    @property
    def key(self):
        return self.params[0]

    def shape_rule(self, x, *arrays):
        return _index_shape(x, self.key, arrays)

    def vjp(self, ct, shapes):
        x, *arrays = self.operands
        return [Scatter.make(ct, *arrays, self.key, shapes(x))] + [None] * len(arrays)

    def value(self, x, *arrays):
        return np.asarray(x)[parse_key(self.key, arrays)]

    def numpy(self, x, *arrays):
        return f"{_paren(x)}[{_key_code(self.key, arrays)}]"

    def _latex(self, printer):
        x, *arrays = self.operands
        key = self.key.format(*[printer._print(a) for a in arrays])
        return rf"{_arg_latex(printer, x)}\left[{key}\right]"


class Scatter(Variadic):
    """Zeros of `shape` with ct added at `key`: the pullback of Index."""

    nstatic = 2

    def shape_rule(self, ct, *arrays):
        return self.params[1]

    def vjp(self, ct, shapes):
        arrays = self.operands[1:]
        return [Index.make(ct, *arrays, self.params[0])] + [None] * len(arrays)

    def value(self, ct, *arrays):
        key, shape = self.params
        return _scatter(ct, shape, parse_key(key, arrays))

    def numpy(self, ct, *arrays):
        key, shape = self.params
        fn = "_scatter" if arrays else "_place"
        return f"{fn}({ct}, {shape!r}, np.s_[{_key_code(key, arrays)}])"


class SetItem(Variadic):
    """A copy of x with `x[key] = v`: the functional form of item assignment."""

    def shape_rule(self, x, v, *arrays):
        return x

    def vjp(self, ct, shapes):
        x, v, *arrays = self.operands
        key = self.params[0]
        gathered = Index.make(ct, *arrays, key)
        return [SetItem.make(ct, g.ZERO, *arrays, key),
                sum_to(gathered, shapes(gathered), shapes(v))] + [None] * len(arrays)

    def value(self, x, v, *arrays):
        return _setitem(x, v, parse_key(self.params[0], arrays))

    def numpy(self, x, v, *arrays):
        return f"_setitem({x}, {v}, np.s_[{_key_code(self.params[0], arrays)}])"


# ------------------------------------------------------------------ linalg
class Det(ArrayOp):
    """`np.linalg.det` of a stack of square matrices."""

    def shape_rule(self, a):
        return a[:-2]

    def vjp(self, ct, shapes):
        a = self.args[0]
        scale = g.mul(ct, self)
        if shapes(self):  # a stack: one factor per matrix
            scale = reshape(scale, shapes(self) + (1, 1), shapes)
        return [g.mul(scale, swap_last(Inv.make(a), shapes))]

    def value(self, a):
        return np.linalg.det(a)

    def numpy(self, a):
        return f"np.linalg.det({a})"

    def _latex(self, printer):
        return rf"\det {_arg_latex(printer, self.args[0])}"


class Inv(ArrayOp):
    """`np.linalg.inv` of a stack of square matrices."""

    def shape_rule(self, a):
        return a

    def vjp(self, ct, shapes):
        t = swap_last(self, shapes)
        return [g.neg(MatMul.make(MatMul.make(t, ct), t))]

    def value(self, a):
        return np.linalg.inv(a)

    def numpy(self, a):
        return f"np.linalg.inv({a})"

    def _latex(self, printer):
        return rf"{{{_arg_latex(printer, self.args[0])}}}^{{-1}}"


class Solve(ArrayOp):
    """`np.linalg.solve(a, b)` for a matrix (stack) b; the tracer reshapes vectors."""

    nops = 2

    def shape_rule(self, a, b):
        return g.broadcast(a[:-2], b[:-2]) + b[-2:]

    def vjp(self, ct, shapes):
        a, b = self.args
        gb = Solve.make(swap_last(a, shapes), ct)
        ga = g.neg(MatMul.make(gb, swap_last(self, shapes)))
        batch = shapes(self)[:-2]
        return [sum_to(ga, batch + shapes(a)[-2:], shapes(a)), sum_to(gb, shapes(self), shapes(b))]

    def value(self, a, b):
        return np.linalg.solve(a, b)

    def numpy(self, a, b):
        return f"np.linalg.solve({a}, {b})"


# Functions the printed code calls besides NumPy's own.
RUNTIME = {"_sum_to": _sum_to, "_scatter": _scatter, "_place": _place, "_setitem": _setitem,
           "_shift": _shift, "_linrec": _linrec, "_norm": _norm, **special.RUNTIME}
