"""Array operations that are not elementwise, as SymPy Function subclasses.

Each op keeps its array operands first (`nops` of them) and its static
arguments (axes, shapes, index keys, einsum subscripts) after them as SymPy
Integers/Tuples/`Str`: a plain `None`, `slice` or string would break SymPy
or silently become a Symbol (DESIGN.md).  Integer index arrays are operands
(constant leaves of the trace, so kernel inputs), not static data.  A class
here is data: its operands, its shape rule and its value at the traced inputs
(`value`, by NumPy: numpy_ops.py).  Its pullback is a rule in ad/rules/, its
kernel code a `_print_<Class>` method in codegen/printers.py; people see it
through zygote_sym/closed/, which rewrites it as plain SymPy.

`Where` is elementwise (a select); it lives here because, like the
structural ops, it has no SymPy counterpart with the semantics we need
(NumPy's `where`, which numexpr also has).
"""
import numpy as np
import scipy.special as sc
import sympy as sp
from sympy.core.symbol import Str

from .nodes import broadcast
from .numpy_ops import band, linrec, norm, scan, scatter, setitem, shift, sum_to


def static(x):
    """A Python static argument (int, bool, str, tuple of them, None) as SymPy
    data (a str becomes a `Str` atom, never a Symbol)."""
    if x is None:
        return sp.S.NaN  # a stand-in that SymPy keeps as-is; see `unstatic`
    if isinstance(x, str):
        return Str(x)
    if isinstance(x, (tuple, list)):
        return sp.Tuple(*[static(v) for v in x])
    if isinstance(x, (float, np.floating)):  # a tolerance (pinv's rcond)
        return sp.Float(float(x), 17)
    return sp.Integer(int(x))


def unstatic(x):
    if x is sp.S.NaN:
        return None
    if isinstance(x, Str):
        return x.name
    if isinstance(x, sp.Tuple):
        return tuple(unstatic(v) for v in x)
    if isinstance(x, sp.Float):
        return float(x)
    return int(x)


class ArrayOp(sp.Function):
    """Base class: `nops` array operands, then static arguments."""

    nops = 1
    exact_ct = True  # the backward pass hands the rule a cotangent of exactly this op's shape
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

    def _eval_derivative(self, s):
        # only SymPy's own machinery asks (simplify's equality tests); it must
        # not differentiate the static arguments.  Gradients come from ad/rules.
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

    def value(self, x):
        return np.broadcast_to(x, self.params[0])


class SumTo(ArrayOp):
    """Sum an array of a broadcast shape back down to `shape` (unbroadcast)."""

    exact_ct = False

    def shape_rule(self, _):
        return self.params[0]

    def value(self, x):
        return sum_to(x, self.params[0])


class Where(ArrayOp):
    """Elementwise select `np.where(cond, a, b)`: a SymPy Piecewise with
    NumPy's broadcasting; only the chosen operand receives a cotangent."""

    exact_ct = False

    nops = 3

    def shape_rule(self, c, a, b):
        return broadcast(c, a, b)

    def value(self, c, a, b):
        return np.where(c, a, b)


# ------------------------------------------- elementwise functions SymPy lacks
def _function(name, textbook=None, doc=None):
    """An elementwise SymPy function named as its NumPy/SciPy ufunc.  Built
    unevaluated on the compile path; evaluated (closed forms) it becomes its
    `textbook` SymPy expression where there is one, as ir/special.py's do."""
    body = {"__doc__": doc, "__module__": __name__}
    if textbook is not None:
        body["eval"] = classmethod(lambda cls, *args: textbook(*args))
    return type(name, (sp.Function,), body)


rint = _function("rint", doc="Round half to even (`np.rint`; `np.round` scales around it).")
ive = _function("ive", lambda v, x: sp.besseli(v, x) * sp.exp(-sp.Abs(x)))
erfcx = _function("erfcx", lambda x: sp.exp(x**2) * sp.erfc(x))
log_ndtr = _function("log_ndtr", lambda x: sp.log(sp.erfc(-x / sp.sqrt(2)) / 2))
gammainc = _function("gammainc", lambda a, x: sp.lowergamma(a, x) / sp.gamma(a))
gammaincc = _function("gammaincc", lambda a, x: sp.uppergamma(a, x) / sp.gamma(a))
betainc = _function("betainc", lambda a, b, x: sp.betainc_regularized(a, b, 0, x))


# =============================================================================
# Structural ops.  Static arguments are already normalised by the tracer
# (non-negative sorted axes, concrete slices, explicit einsum outputs), so
# every rule reads them as plain Python data.


# ----------------------------------------------------------------- reductions
class _Reduce(ArrayOp):
    """`np.<fname>(x, axis=axes, keepdims=keep)` over sorted non-negative axes."""

    def shape_rule(self, x):
        axes, keep = self.params
        return tuple(1 if i in axes else n for i, n in enumerate(x) if keep or i not in axes)

    def value(self, x):
        axes, keep = self.params
        return getattr(np, self.fname)(x, axis=axes, keepdims=bool(keep))


class Sum(_Reduce):
    fname = "sum"


class Max(_Reduce):
    """Ties share the cotangent equally (as the elementwise Max rule)."""

    fname = "max"


class Min(Max):
    fname = "min"


class LogSumExp(_Reduce):
    """`log(sum(exp(x)))` (the tracer recognises that spelling), computed as
    `scipy.special.logsumexp`: shifted by the max, so no `exp` overflows.
    Its pullback is ct times the softmax of x."""

    fname = "logsumexp"

    def value(self, x):
        axes, keep = self.params
        if np.size(x) == 0:  # log(sum(exp(.))) of nothing: SciPy raises over several axes
            return np.log(np.sum(np.exp(x), axis=axes, keepdims=bool(keep)))
        return sc.logsumexp(x, axis=axes, keepdims=bool(keep))


class Norm(_Reduce):
    """The 2-norm `sqrt(sum(x**2))`, as the tracer sees it from that spelling
    or from `np.linalg.norm`.  Its pullback `ct*x/norm` is 0 where the norm
    is 0 (the minimum-norm subgradient, as PyTorch's norm; JAX gives nan):
    the strong zero of the backward pass, which would give the same, does not reach
    through a reduction."""

    fname = "norm"

    def value(self, x):
        return norm(x, *self.params)


class Softmax(ArrayOp):
    """`scipy.special.softmax(x, axis=axes)`: exp(x - max) normalised, so it
    never overflows and a tie of two is exactly 1/2 (`exp(x - logsumexp)`
    is off by the rounding of logsumexp)."""

    def shape_rule(self, x):
        return x

    def value(self, x):
        return sc.softmax(x, axis=self.params[0])


class Prod(_Reduce):
    fname = "prod"


# ------------------------------------------------------------------- scans
class Cumsum(ArrayOp):
    """Cumulative sum along `axis`, from the end if `reverse`."""

    def shape_rule(self, x):
        return x

    def value(self, x):
        return scan(np.cumsum, x, *self.params)


class Cumprod(ArrayOp):
    """Cumulative product along `axis`, from the end if `reverse`."""

    def shape_rule(self, x):
        return x

    def value(self, x):
        return scan(np.cumprod, x, *self.params)


class Shift(ArrayOp):
    """`x` moved k places along `axis`, the vacated places set to `fill`."""

    def shape_rule(self, x):
        return x

    def value(self, x):
        return shift(x, *self.params)


class LinRec(ArrayOp):
    """The linear recurrence s_i = b_i + a_i*s_prev along `axis` (prev = i-1,
    or i+1 if `reverse`): the adjoint of a cumulative product."""

    nops = 2

    def shape_rule(self, a, b):
        return broadcast(a, b)

    def value(self, a, b):
        return linrec(a, b, *self.params)


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

    def value(self, *xs):
        return np.einsum(self.params[0], *xs, optimize=len(xs) > 2)


class MatMul(ArrayOp):
    """`a @ b` for stacks of matrices (ndim >= 2; the tracer reshapes vectors)."""

    nops = 2

    def shape_rule(self, a, b):
        return broadcast(a[:-2], b[:-2]) + (a[-2], b[-1])

    def value(self, a, b):
        return np.matmul(a, b)


# ------------------------------------------------------------- shape only
class Transpose(ArrayOp):
    """`np.transpose(x, perm)` (also swapaxes, moveaxis, `.T`)."""

    def shape_rule(self, x):
        return tuple(x[i] for i in self.params[0])

    def value(self, x):
        return np.transpose(x, self.params[0])


class Reshape(ArrayOp):
    """`np.reshape(x, shape)` in C order (also ravel, squeeze, expand_dims)."""

    def shape_rule(self, x):
        return self.params[0]

    def value(self, x):
        return np.reshape(x, self.params[0])


class Concatenate(Variadic):
    """`np.concatenate(xs, axis)`; the tracer broadcasts scalars and stacks."""

    def shape_rule(self, *shapes):
        axis = self.params[0]
        first = shapes[0]
        return first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1:]

    def value(self, *xs):
        return np.concatenate(xs, axis=self.params[0])


class Band(ArrayOp):
    """The band `lo <= j - i <= hi` of the last two axes, zeros elsewhere
    (None: unbounded): `np.tril(x, k)` is Band(x, None, k), `np.triu(x, k)`
    is Band(x, k, None).  A projection, so its own pullback."""

    def shape_rule(self, x):
        return x

    def value(self, x):
        return band(x, *self.params)


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


def _index_shape(shape, text, array_shapes):
    """NumPy's own answer on zero-strided stand-ins (exact for every mix of
    basic and advanced indices)."""
    dummy = np.broadcast_to(np.zeros((), np.int8), shape)
    arrays = [np.broadcast_to(np.zeros((), np.intp), s) for s in array_shapes]
    return dummy[parse_key(text, arrays)].shape


class Index(Variadic):
    """`x[key]`; the operands after x are the integer arrays of the key."""

    @property
    def key(self):
        return self.params[0]

    def shape_rule(self, x, *arrays):
        return _index_shape(x, self.key, arrays)

    def value(self, x, *arrays):
        return np.asarray(x)[parse_key(self.key, arrays)]


class Scatter(Variadic):
    """Zeros of `shape` with ct added at `key`: the pullback of Index."""

    nstatic = 2

    def shape_rule(self, ct, *arrays):
        return self.params[1]

    def value(self, ct, *arrays):
        key, shape = self.params
        return scatter(ct, shape, parse_key(key, arrays))


class SetItem(Variadic):
    """A copy of x with `x[key] = v`: the functional form of item assignment."""

    def shape_rule(self, x, v, *arrays):
        return x

    def value(self, x, v, *arrays):
        return setitem(x, v, parse_key(self.params[0], arrays))


# ------------------------------------------------------------------ linalg
class Det(ArrayOp):
    """`np.linalg.det` of a stack of square matrices."""

    def shape_rule(self, a):
        return a[:-2]

    def value(self, a):
        return np.linalg.det(a)


class Inv(ArrayOp):
    """`np.linalg.inv` of a stack of square matrices."""

    def shape_rule(self, a):
        return a

    def value(self, a):
        return np.linalg.inv(a)


class Solve(ArrayOp):
    """`np.linalg.solve(a, b)` for a matrix (stack) b; the tracer reshapes vectors."""

    nops = 2

    def shape_rule(self, a, b):
        return broadcast(a[:-2], b[:-2]) + b[-2:]

    def value(self, a, b):
        return np.linalg.solve(a, b)
