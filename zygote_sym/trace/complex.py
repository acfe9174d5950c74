"""Complex traced values as pairs of real ones.

A complex argument arrives as two real leaves, its real and imaginary parts
(pytree.ComplexParts), and f sees a :class:`ComplexTracer` holding them.
Every complex operation is written as real formulas on the parts
(`exp(a+ib) = e^a (cos b + i sin b)`), built from the real tracers' own
NumPy operations, so the backward pass, nesting and kernels see real values
only, and the chain rule through holomorphic steps is right by
construction.  A real tracer meeting a complex constant (`x * 1j`,
`np.exp(1j*x)`, a complex array) is promoted here (tracer.COMPLEX); a
complex constant is a pair of real constants.

The gradient of a real f with respect to z is then `df/dRe(z) + i
df/dIm(z)`, Zygote's convention (transform.py joins the parts).  A part that
is exactly the number 0 is kept as that number (a promoted real `x` is
`(x, 0.0)`), so real code pays no extra nodes; `.real`/`.imag` broadcast it
to the value's shape.  The formulas per function are in complex_ops.py.
"""
import operator

import numpy as np

from ..errors import NoRuleError, TracerConversionError
from . import complex_ops as ops
from .complex_ops import is_zero
from .handlers.common import public_name
from .tracer import COMPLEX, TRACED, Tracer, is_complex


def _shape(p):
    shape = getattr(p, "shape", None)  # tracers, ComplexTracers, arrays
    return np.shape(p) if shape is None else shape


def full(p, shape):
    """The part p with the value's shape (a scalar 0 part becomes zeros)."""
    if _shape(p) == shape:
        return p
    return p + np.zeros(shape)


def make(re, im):
    """A complex result from its parts: a ComplexTracer if either is traced,
    else the plain complex number or array."""
    if isinstance(re, Tracer) or isinstance(im, Tracer):
        return ComplexTracer(re, im)
    value = np.asarray(re) + 1j * np.asarray(im)
    return complex(value) if value.ndim == 0 else value


def parts(v):
    """(re, im) of any operand: a ComplexTracer, a real tracer or a number/array."""
    if isinstance(v, ComplexTracer):
        return v.re, v.im
    if isinstance(v, Tracer):
        return v, 0.0
    if isinstance(v, (list, tuple)):
        v = np.asarray(v)
    if np.iscomplexobj(v):
        if np.ndim(v):
            return np.array(v.real), np.array(v.imag)
        return float(v.real), float(v.imag)
    return v, 0.0


def _no_rule(what):
    return NoRuleError(
        f"{what} of a complex traced value has no rule: write it with its real and "
        "imaginary parts (np.real(z), np.imag(z) are real traced values)")


# ------------------------------------------------------------ elementwise
def _ufunc(ufunc, inputs, kwargs):
    given = sorted(k for k, v in kwargs.items() if v is not None)
    if given:  # out=, where=, dtype=, ...: not silently ignored
        raise _no_rule(f"{public_name(ufunc)} with {', '.join(given)}=")
    if not any(map(is_complex, inputs)):  # np.conj/np.real/... of real values
        return ops.ON_REAL[ufunc](*inputs)
    if ufunc in _PRODUCTS:
        return _function(ufunc, inputs, kwargs)
    pairs = [parts(v) for v in inputs]
    if ufunc in ops.TO_REAL:
        return ops.TO_REAL[ufunc](*pairs)
    if ufunc not in ops.PAIRS:
        raise _no_rule(public_name(ufunc))
    return make(*ops.PAIRS[ufunc](*pairs))


# ------------------------------------------------------------- functions
def _linear(func):
    """A function that is real-linear in its first argument (sum, reshape,
    indexing, ...): applied to both parts.  A sequence first argument
    (concatenate, stack) has its elements split."""
    def apply(a, *args, **kwargs):
        if isinstance(a, (list, tuple)):
            split = [_full_parts(v) for v in a]
            return make(func([p[0] for p in split], *args, **kwargs),
                        func([p[1] for p in split], *args, **kwargs))
        re, im = _full_parts(a)
        return make(func(re, *args, **kwargs), func(im, *args, **kwargs))
    return apply


def _full_parts(v):
    re, im = parts(v)
    shape = np.broadcast_shapes(_shape(re), _shape(im))
    return full(re, shape), full(im, shape)


def _multilinear(func, first=0):
    """A function linear in each of its array arguments from `first` on
    (dot, matmul, einsum, outer, kron, ...): the sum over the choices of a
    real or imaginary part for each operand, times i to the number of
    imaginary parts chosen.  Exactly-zero parts are skipped."""
    def apply(*args, **kwargs):
        head, operands = args[:first], [_full_parts(v) for v in args[first:]]
        terms = ([], [], [], [])  # by the power of i: re += t0 - t2, im += t1 - t3
        for choice in np.ndindex(*[2] * len(operands)):
            chosen = [p[c] for p, c in zip(operands, choice)]
            if not any(map(is_zero, chosen)) and not any(
                    not isinstance(p, Tracer) and np.ndim(p) and not np.any(p) for p in chosen):
                terms[sum(choice) % 4].append(func(*head, *chosen, **kwargs))
        if not any(terms):
            return make(func(*head, *[p[0] for p in operands], **kwargs), 0.0)
        re, im = ops.sub(ops.total(terms[0]), ops.total(terms[2])), \
            ops.sub(ops.total(terms[1]), ops.total(terms[3]))
        return make(re, im)
    return apply


def _where(cond, x, y):
    (a, b), (c, d) = parts(x), parts(y)
    return make(np.where(cond, a, c), np.where(cond, b, d))


def _vdot(a, b):
    return _multilinear(np.dot)(np.ravel(np.conjugate(a)), np.ravel(b))


def _norm(x, ord=None, axis=None, keepdims=False):
    if ord is not None or axis is not None or keepdims:
        raise _no_rule(f"np.linalg.norm(ord={ord!r}, axis={axis!r})")
    re, im = _full_parts(x)
    return np.linalg.norm(np.concatenate([np.ravel(re), np.ravel(im)]))


def _angle(z, deg=False):
    a = np.arctan2(*reversed(_full_parts(z)))
    return a * (180 / np.pi) if deg else a


def _like(func):
    def apply(a, *args, **kwargs):  # zeros_like(z) is a complex constant
        return func(np.zeros(_shape(a), complex), *args, **kwargs)
    return apply


_PRODUCTS = {np.matmul}
FUNCTIONS: dict = {
    **dict.fromkeys([np.sum, np.mean, np.reshape, np.transpose, np.ravel, np.squeeze,
                     np.expand_dims, np.swapaxes, np.moveaxis, np.broadcast_to, np.cumsum,
                     np.diff, np.flip, np.roll, np.diagonal, np.trace, np.take, np.copy,
                     np.repeat, np.tile, np.atleast_1d, np.atleast_2d, np.concatenate,
                     np.stack, np.hstack, np.vstack, np.column_stack, operator.getitem],
                    None),
    **dict.fromkeys([np.dot, np.matmul, np.inner, np.outer, np.tensordot, np.kron], 0),
    np.einsum: 1,
}
SPECIAL = {
    np.real: lambda z: _full_parts(z)[0], np.imag: lambda z: _full_parts(z)[1],
    np.angle: _angle, np.where: _where, np.vdot: _vdot, np.linalg.norm: _norm,
    np.iscomplexobj: lambda z: True, np.isrealobj: lambda z: False,
    np.iscomplex: lambda z: np.not_equal(_full_parts(z)[1], 0),
    np.isreal: lambda z: np.equal(_full_parts(z)[1], 0),
    np.shape: _shape, np.ndim: lambda a: len(_shape(a)), np.size: lambda a: a.size,
    np.zeros_like: _like(np.zeros_like), np.ones_like: _like(np.ones_like),
    np.full_like: _like(np.full_like), np.empty_like: _like(np.zeros_like),
}


def _function(func, args, kwargs):
    if not any(map(is_complex, args)) and not any(map(is_complex, kwargs.values())):
        return ops.ON_REAL[func](*args, **kwargs)
    if func in SPECIAL:
        return SPECIAL[func](*args, **kwargs)
    if func not in FUNCTIONS:
        raise _no_rule(public_name(func))
    first = FUNCTIONS[func]
    return (_linear(func) if first is None else _multilinear(func, first))(*args, **kwargs)


COMPLEX.ufunc, COMPLEX.function = _ufunc, _function


# ---------------------------------------------------------------- tracer
def _operator(ufunc, reflected=False):
    def method(self, other):
        return _ufunc(ufunc, (other, self) if reflected else (self, other), {})
    return method


def _unordered(self, other):
    raise TypeError("complex values are not ordered (<, <=, >, >=): compare abs(z), "
                    "np.real(z) or np.imag(z)")


_CONVERSION = ("{op} of a complex traced value would drop its gradient: keep it traced "
               "(np.real(z), np.imag(z) and abs(z) are real traced values)")


class ComplexTracer:
    """A complex traced value: its real part `re` and imaginary part `im`,
    each a real Tracer or a plain number/array (a number 0 where the part is
    exactly zero).  NumPy's complex operations work on it through
    `__array_ufunc__`/`__array_function__` (complex_ops.py has the table).

    >>> import numpy as np, zygote_sym as zs
    >>> zs.gradient(lambda z: np.abs(z) ** 2, 1 + 2j)   # Zygote's convention
    ((2+4j),)
    """

    __slots__ = ("re", "im")
    pytree_leaf = True
    __array_priority__ = 1001
    __hash__ = object.__hash__
    dtype = np.dtype(complex)

    def __init__(self, re, im):
        self.re, self.im = re, im

    shape = property(lambda self: np.broadcast_shapes(_shape(self.re), _shape(self.im)))
    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape)))
    real = property(lambda self: full(self.re, self.shape))
    imag = property(lambda self: full(self.im, self.shape))

    @property
    def value(self):
        re, im = (p.value if isinstance(p, Tracer) else p for p in (self.re, self.im))
        if re is None or im is None:
            return None
        return np.asarray(re) + 1j * np.asarray(im)

    def __repr__(self):
        return f"ComplexTracer(re={self.re!r}, im={self.im!r})"

    __add__, __radd__ = _operator(np.add), _operator(np.add, True)
    __sub__, __rsub__ = _operator(np.subtract), _operator(np.subtract, True)
    __mul__, __rmul__ = _operator(np.multiply), _operator(np.multiply, True)
    __truediv__, __rtruediv__ = _operator(np.true_divide), _operator(np.true_divide, True)
    __pow__, __rpow__ = _operator(np.power), _operator(np.power, True)
    __matmul__, __rmatmul__ = _operator(np.matmul), _operator(np.matmul, True)
    __eq__, __ne__ = _operator(np.equal), _operator(np.not_equal)
    __lt__ = __le__ = __gt__ = __ge__ = _unordered

    def __neg__(self):
        return make(ops.neg(self.re), ops.neg(self.im))

    def __pos__(self):
        return self

    def __abs__(self):
        return np.absolute(self)

    def conj(self):
        return make(self.re, ops.neg(self.im))

    conjugate = conj

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__":
            raise _no_rule(f"{public_name(ufunc)}.{method}")
        return _ufunc(ufunc, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _function(func, args, kwargs)

    def __getitem__(self, key):
        return _linear(operator.getitem)(self, key)

    def __setitem__(self, key, value):
        raise NoRuleError("item assignment into a complex traced array: build the array "
                          "with np.where, np.concatenate or np.stack, or assign into real "
                          "arrays of the real and imaginary parts and combine them")

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a traced scalar")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a traced scalar")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self):
        return bool(self != 0)

    def __float__(self):
        raise TracerConversionError(_CONVERSION.format(op="float()"))

    def __complex__(self):
        raise TracerConversionError(_CONVERSION.format(op="complex()"))

    def __array__(self, dtype=None, copy=None):
        raise TracerConversionError(_CONVERSION.format(op="np.asarray()/np.array()"))

    __int__ = __index__ = __float__

    T = property(lambda self: np.transpose(self))

    def astype(self, dtype, copy=True):
        if np.dtype(dtype).kind != "c":
            raise TracerConversionError(
                f"astype({np.dtype(dtype)}) of a complex traced value would drop its "
                "imaginary part: take np.real(z) (or abs(z)) explicitly")
        return self

    def copy(self):
        return self

    def reshape(self, *shape, order="C"):
        shape = shape[0] if len(shape) == 1 and np.ndim(shape[0]) else shape
        return np.reshape(self, shape, order=order)

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and np.ndim(axes[0]) else axes
        return np.transpose(self, axes or None)

    def flatten(self, order="C"):
        return np.ravel(self, order)

    def item(self):
        return np.reshape(self, ())


def _numpy_method(name):
    func = getattr(np, name)
    return lambda self, *args, **kwargs: func(self, *args, **kwargs)


for _name in ("sum", "mean", "ravel", "squeeze", "swapaxes", "diagonal", "take", "dot",
              "cumsum", "repeat"):
    setattr(ComplexTracer, _name, _numpy_method(_name))


TRACED.add(ComplexTracer)  # state scrubbing finds it as it finds a Tracer
