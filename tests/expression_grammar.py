"""The grammar of random NumPy expressions shared by the differential test
(tests/test_oracle.py) and the fuzz test (tests/test_fuzz.py).

`cases()` draws a point (a scalar `s`, a vector `x` of 2, a well-conditioned
2x2 matrix `A`) and a random expression of bounded depth over every
operation that has a rule.  Each op is drawn only where its arguments are
inside its domain and away from its kinks and ties at this point (a margin
of 0.05), so the function is smooth there.  `central_differences` is the
reference both tests compare gradients with.
"""
import numpy as np
import scipy.special as sc
from hypothesis import strategies as st

MARGIN = 0.05
C = np.array([0.75, -1.25])  # a captured constant


def away(v, *points):
    return all(np.all(np.abs(np.asarray(v) - p) > MARGIN) for p in points)


def positive(v, lo=0.2):
    return np.all(np.asarray(v) > lo + MARGIN)


def within(v, r):
    return np.all(np.abs(np.asarray(v)) < r)


def spread(v, axis=None):
    """No two elements (along axis) within MARGIN: max, min and sort are smooth."""
    s = np.sort(np.asarray(v), axis=axis)
    return bool(np.all(np.diff(s, axis=-1 if axis is None else axis) > MARGIN))


# (template, applicable at the arguments' values); `{}` are the arguments
UNARY = [
    ("-{}", None), ("np.sin({})", None), ("np.cos({})", None), ("np.arctan({})", None),
    ("np.tanh({})", None), ("np.arcsinh({})", None), ("sc.erf({})", None),
    ("sc.erfc({})", None), ("sc.expit({})", None),
    ("1 / (1 + np.exp(-{}))", lambda v: within(v, 50)),
    ("np.log(1 + np.exp({}))", lambda v: within(v, 50)),
    ("np.log1p(np.exp({}))", lambda v: within(v, 50)),
    ("np.exp({})", lambda v: np.all(v < 4)), ("np.exp2({})", lambda v: np.all(v < 4)),
    ("np.expm1({})", lambda v: np.all(v < 4)),
    ("np.sinh({})", lambda v: within(v, 4)), ("np.cosh({})", lambda v: within(v, 4)),
    ("np.tan({})", lambda v: within(v, 1.2)),
    ("np.log({})", positive), ("np.log2({})", positive), ("np.log10({})", positive),
    ("np.log1p({})", lambda v: np.all(v > -0.8)),
    ("np.sqrt({})", positive), ("np.cbrt({})", lambda v: away(v, 0) and within(v, 1e3)),
    ("np.reciprocal({})", lambda v: np.all(np.abs(v) > 0.2)),
    ("np.arcsin({})", lambda v: within(v, 0.8)), ("np.arccos({})", lambda v: within(v, 0.8)),
    ("np.arctanh({})", lambda v: within(v, 0.8)),
    ("np.arccosh({})", lambda v: np.all(v > 1.2)),
    ("sc.gamma({})", lambda v: positive(v) and np.all(v < 4)),
    ("sc.gammaln({})", lambda v: positive(v) and within(v, 50)),
    ("np.abs({})", lambda v: away(v, 0)), ("np.maximum({}, 0)", lambda v: away(v, 0)),
    ("np.clip({}, -0.5, 0.5)", lambda v: away(v, -0.5, 0.5)),
    ("np.square({})", lambda v: within(v, 100)),
]
POWERS = ["0", "2", "3", "-1", "-2", "0.5", "1.5", "1.875", "(1 / 3)"]
BINARY = [
    ("{} + {}", None), ("{} - {}", None), ("{} * {}", None),
    ("{} / {}", lambda a, b: np.all(np.abs(b) > 0.2)),
    ("{} ** {}", lambda a, b: positive(a) and within(b, 3) and within(b * np.log(a), 5)),
    ("np.maximum({}, {})", lambda a, b: away(a - b, 0)),
    ("np.minimum({}, {})", lambda a, b: away(a - b, 0)),
    ("np.arctan2({}, {})", lambda a, b: np.all(np.hypot(a, b) > 0.2)  # and off the cut
     and np.all((np.abs(a) > MARGIN) | (b > 0))),
    ("np.hypot({}, {})", lambda a, b: np.all(np.hypot(a, b) > 0.2)),
    ("np.logaddexp({}, {})", None),
    ("np.log(np.exp({}) + np.exp({}))", lambda a, b: within(a, 50) and within(b, 50)),
    ("np.where({0} > {1}, {0}, 2 * {1})", lambda a, b: away(a - b, 0)),
    ("np.where({0} > 0.2, np.log({0}), {1})", lambda a, b: away(a, 0.2)),
    ("np.where({0} > 0.2, np.sqrt({0}), {1})", lambda a, b: away(a, 0.2)),
    ("np.select([{0} < -0.5, {0} < 0.5], [{1}, {0} * {1}], np.exp({0}))",
     lambda a, b: away(a, -0.5, 0.5) and np.all(a < 4)),
    ("{} @ {}", lambda a, b: a.ndim >= 1 and b.ndim >= 1),
    ("np.einsum('ij,j->i', {}, {})", lambda a, b: a.ndim == 2 and b.ndim == 1),
    ("np.concatenate([{}[:1], {}[1:]])", lambda a, b: a.ndim == 1 and b.ndim == 1),
    ("put({}, {})", lambda a, b: a.ndim >= 1 and b.ndim == 0),
    ("np.linalg.solve({}, {})", lambda a, b: a.ndim == 2 and b.ndim >= 1
     and abs(np.linalg.det(a)) > 0.3),
]
REDUCE = [
    ("np.sum({})", None), ("np.prod({})", None), ("np.mean({})", None),
    ("np.max({})", lambda v: spread(v)), ("np.min({})", lambda v: spread(v)),
    ("np.linalg.norm({})", lambda v: np.linalg.norm(v) > 0.2),
    ("np.var({})", None), ("np.std({})", lambda v: np.std(v) > 0.2),
    ("np.log(np.sum(np.exp({})))", lambda v: within(v, 50)),
    ("np.sum({}, axis=0)", None), ("np.max({}, axis=-1)", lambda v: spread(v, -1)),
    ("np.cumsum({}, axis=-1)", None), ("np.cumprod({}, axis=-1)", None),
    ("{}[0]", None), ("{}[-1]", None), ("{}[::-1]", None), ("{}[[0, 0]]", None),
    ("np.transpose({})", None), ("np.sort({}, axis=-1)", lambda v: spread(v, -1)),
    ("np.reshape({}, (-1,))[-2:]", None),
    ("np.linalg.det({})", lambda v: v.ndim == 2 and abs(np.linalg.det(v)) > 0.3),
    ("np.linalg.inv({})", lambda v: v.ndim == 2 and abs(np.linalg.det(v)) > 0.3),
]


def put(a, v):
    """a copy of a with a[..., 0] = v (item assignment on a traced array)."""
    a = a * 1.0
    a[..., 0] = v
    return a


NAMESPACE = {"np": np, "sc": sc, "C": C, "put": put}


class Case:
    """A drawn function of (s, x, A) and its point, shown as source."""

    def __init__(self, text, point):
        self.text, self.point = text, point
        self.f = eval(f"lambda s, x, A: np.sum({text})", NAMESPACE)

    def __repr__(self):
        s, x, A = self.point
        return f"check(lambda s, x, A: np.sum({self.text}), ({s!r}, np.{x!r}, np.{A!r}))"


def value(f, point):
    with np.errstate(all="ignore"):
        return f(*point)


def value_of(text, point):
    return np.asarray(value(eval(f"lambda s, x, A: {text}", NAMESPACE), point), dtype=float)


def bounded(v):
    return np.all(np.isfinite(v)) and np.all(np.abs(v) < 1e4)


@st.composite
def expressions(draw, point, depth, root=False):
    """Source of a function of (s, x, A), finite and bounded at `point`."""
    if depth == 0 or not root and draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(["s", "x", "A", "C * s"]))
    a = draw(expressions(point, depth - 1))
    va = value_of(a, point)
    kind = draw(st.sampled_from(["unary", "power", "binary", "binary", "reduce"]))
    a = a if a.isidentifier() else f"({a})"
    if kind == "unary":
        text = draw(st.sampled_from([t for t, ok in UNARY if ok is None or ok(va)])).format(a)
    elif kind == "power":  # fractional powers of positive values, negative ones away from 0
        if positive(va):
            powers = POWERS
        elif np.all(np.abs(va) > 0.2) and within(va, 10):
            powers = ["0", "2", "3", "-1", "-2"]
        else:
            powers = ["0", "2", "3"]
        text = f"{a} ** {draw(st.sampled_from(powers))}"
    elif kind == "binary":
        b = draw(expressions(point, depth - 1))
        vb = value_of(b, point)
        b = b if b.isidentifier() else f"({b})"
        text = draw(st.sampled_from([t for t, ok in BINARY if ok is None or ok(va, vb)]))
        text = text.format(a, b)
    else:
        if va.ndim == 0:
            return a
        text = draw(st.sampled_from([t for t, ok in REDUCE if ok is None or ok(va)])).format(a)
    return text if bounded(value_of(text, point)) else a


@st.composite
def cases(draw):
    u = st.floats(-2, 2, allow_nan=False)
    s = draw(u)
    x = np.array(draw(st.lists(u, min_size=2, max_size=2)))
    e = np.array(draw(st.lists(u, min_size=4, max_size=4))).reshape(2, 2)
    point = (s, x, 1.5 * np.eye(2) + 0.25 * e)  # |det A| > 1
    return Case(draw(expressions(point, 3, root=True)), point)


def central_differences(f, point):
    """Per-argument gradients of f at `point` by (f(x+h) - f(x-h)) / 2h."""
    out = []
    for k, v in enumerate(point):
        v = np.array(v, dtype=float)
        d = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            h = 1e-6 * max(1.0, abs(v[idx]))
            args = [list(point), list(point)]
            for sign, a in zip((1, -1), args):
                w = v.copy()
                w[idx] += sign * h
                a[k] = w if v.ndim else float(w)
            d[idx] = (value(f, args[0]) - value(f, args[1])) / (2 * h)
        out.append(d if v.ndim else float(d))
    return out
