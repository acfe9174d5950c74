"""Complex elementwise functions as real formulas on (re, im) pairs.

One line per NumPy ufunc (PAIRS: complex results; TO_REAL: real results).
A part is a real Tracer, a number or an array; the helpers add/sub/mul/div
skip exact zeros and ones, so a promoted real value `(x, 0.0)` costs no
extra nodes.  The formulas are the textbook ones NumPy's C code uses
(principal branches: `log z = log|z| + i atan2(b, a)`, `sqrt` by the polar
form, so the cut is on the negative real axis and the sign of a zero
imaginary part picks the side, as in NumPy); `tan`/`tanh` use the forms
over `cos 2a + cosh 2b`, `expm1` the form that keeps its accuracy near 0.
The derivatives follow from the real rules of each piece: no complex rule
table exists, so the holomorphic chain rule cannot disagree with the values.
"""
import numpy as np

from .tracer import Tracer


def is_zero(p):
    return not isinstance(p, Tracer) and np.ndim(p) == 0 and p == 0


def _is_one(p):
    return not isinstance(p, Tracer) and np.ndim(p) == 0 and p == 1


def add(p, q):
    return q if is_zero(p) else p if is_zero(q) else p + q


def sub(p, q):
    return p if is_zero(q) else neg(q) if is_zero(p) else p - q


def neg(p):
    return 0.0 if is_zero(p) else -p


def mul(p, q):
    if is_zero(p) or is_zero(q):
        return 0.0
    return q if _is_one(p) else p if _is_one(q) else p * q


def div(p, q):
    return 0.0 if is_zero(p) else p / q


def total(terms):
    out = 0.0
    for t in terms:
        out = add(out, t)
    return out


def cmul(z, w):
    (a, b), (c, d) = z, w
    return sub(mul(a, c), mul(b, d)), add(mul(a, d), mul(b, c))


def cdiv(z, w):
    (a, b), (c, d) = z, w
    if is_zero(d):
        return div(a, c), div(b, c)
    den = add(mul(c, c), mul(d, d))
    return div(add(mul(a, c), mul(b, d)), den), div(sub(mul(b, c), mul(a, d)), den)


def cabs(a, b):
    """|a + ib| (hypot: no overflow, partials 0 at the origin)."""
    if is_zero(b) or is_zero(a):
        return np.abs(a if is_zero(b) else b)
    return np.hypot(a, b)


def cexp(z):
    a, b = z
    e = np.exp(a)
    return mul(e, np.cos(b)), mul(e, np.sin(b))


def clog(z):
    a, b = z
    return np.log(cabs(a, b)), np.arctan2(b, a)


def csqrt(z):
    a, b = z
    s, half = np.sqrt(cabs(a, b)), mul(0.5, np.arctan2(b, a))
    return mul(s, np.cos(half)), mul(s, np.sin(half))


def cpow(z, w):
    """z**w: integer exponents by repeated multiplication (exact, and right
    at z = 0), other real constant exponents by the polar form, the rest as
    exp(w log z)."""
    c, d = w
    if is_zero(d) and not isinstance(c, Tracer) and np.ndim(c) == 0:
        p = float(c)
        if p.is_integer() and abs(p) <= 64:
            return _ipow(z, int(p))
        r, th = cabs(*z), np.arctan2(z[1], z[0])
        rp = r ** p
        return mul(rp, np.cos(mul(p, th))), mul(rp, np.sin(mul(p, th)))
    return cexp(cmul(w, clog(z)))


def _ipow(z, n):
    if n < 0:
        return cdiv((1.0, 0.0), _ipow(z, -n))
    out, base = (1.0, 0.0), z
    while n:
        if n & 1:
            out = cmul(out, base)
        n >>= 1
        if n:
            base = cmul(base, base)
    return out


def _sin(z):
    a, b = z
    return mul(np.sin(a), np.cosh(b)), mul(np.cos(a), np.sinh(b))


def _cos(z):
    a, b = z
    return mul(np.cos(a), np.cosh(b)), neg(mul(np.sin(a), np.sinh(b)))


def _tan(z):
    a, b = mul(2.0, z[0]), mul(2.0, z[1])
    den = add(np.cos(a), np.cosh(b))
    return div(np.sin(a), den), div(np.sinh(b), den)


def _sinh(z):
    a, b = z
    return mul(np.sinh(a), np.cos(b)), mul(np.cosh(a), np.sin(b))


def _cosh(z):
    a, b = z
    return mul(np.cosh(a), np.cos(b)), mul(np.sinh(a), np.sin(b))


def _tanh(z):
    a, b = mul(2.0, z[0]), mul(2.0, z[1])
    den = add(np.cosh(a), np.cos(b))
    return div(np.sinh(a), den), div(np.sin(b), den)


def _expm1(z):
    a, b = z  # e^a cos b - 1 = expm1(a) cos b - 2 sin(b/2)^2
    return (sub(mul(np.expm1(a), np.cos(b)), mul(2.0, np.sin(mul(0.5, b)) ** 2)),
            mul(np.exp(a), np.sin(b)))


def _scaled(f, k):
    return lambda z: tuple(mul(k, p) for p in f(z))


def _equal(z, w):
    return np.logical_and(np.equal(z[0], w[0]), np.equal(z[1], w[1]))


PAIRS = {
    np.add:        lambda z, w: (add(z[0], w[0]), add(z[1], w[1])),
    np.subtract:   lambda z, w: (sub(z[0], w[0]), sub(z[1], w[1])),
    np.multiply:   cmul,
    np.true_divide: cdiv,
    np.power:      cpow,
    np.float_power: cpow,
    np.negative:   lambda z: (neg(z[0]), neg(z[1])),
    np.positive:   lambda z: z,
    np.conjugate:  lambda z: (z[0], neg(z[1])),
    np.square:     lambda z: cmul(z, z),
    np.reciprocal: lambda z: cdiv((1.0, 0.0), z),
    np.exp:        cexp,
    np.expm1:      _expm1,
    np.log:        clog,
    np.log2:       _scaled(clog, 1 / np.log(2)),
    np.log10:      _scaled(clog, 1 / np.log(10)),
    np.sqrt:       csqrt,
    np.sin:        _sin,
    np.cos:        _cos,
    np.tan:        _tan,
    np.sinh:       _sinh,
    np.cosh:       _cosh,
    np.tanh:       _tanh,
}
TO_REAL = {
    np.absolute:   lambda z: cabs(*z),
    np.equal:      _equal,
    np.not_equal:  lambda z, w: np.logical_not(_equal(z, w)),
}
# NumPy's complex views of real values: np.real(x) is x, np.imag(x) zeros,
# np.conj(x) is x, np.angle(x) is 0 or pi (atan2(0, x))
ON_REAL: dict = {
    np.real:       lambda x: x,
    np.imag:       lambda x: np.zeros(np.shape(x.value if isinstance(x, Tracer) else x)) + 0.0,
    np.conjugate:  lambda x: x,
    np.angle:      lambda x, deg=False: np.arctan2(0.0, x) * (180 / np.pi if deg else 1),
}
