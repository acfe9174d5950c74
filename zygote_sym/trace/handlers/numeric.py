"""Numerical routines written as NumPy code on tracers: linspace, gradient,
interp, quantile/percentile/median, nan_to_num, sinc, round/around/fix.

Each composes existing handlers the way NumPy defines the function; what
only the values decide (the sort order of a quantile, the interval of an
interpolation) is index data of the trace, as for np.sort."""
import operator

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from ..tracer import Tracer
from .common import as_tracer, axes_of, no_rule, table, trace_of, unsupported, value_of
from .indexing import getitem, sort, take
from .selects import where
from .shapes import concatenate, moveaxis, reshape, transpose

HANDLERS, handles = table()


@handles(np.linspace)
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
             device=None):
    """NumPy's formula: arange(num)*step + start, the last point exactly stop."""
    trace = trace_of([start, stop])
    start, stop = as_tracer(trace, start), as_tracer(trace, stop)
    num, delta = operator.index(num), stop - start
    div = num - 1 if endpoint else num
    ramp = np.arange(num, dtype=float).reshape((-1,) + (1,) * delta.ndim)
    step = delta / div if div > 0 else delta * np.nan
    y = ramp * (step if div > 0 else delta) + start
    if endpoint and num > 1:
        y[-1] = stop
    if dtype is not None and np.dtype(dtype).kind in "iub":
        y = y.astype(dtype)
    y = moveaxis(y, 0, normalize_axis_index(axis, y.ndim))
    return (y, step) if retstep else y


def _spacings(varargs, axes):
    """Per axis, the sample coordinates' differences (scalar or array), as np.gradient reads
    `varargs`: nothing (1), one scalar for every axis, or one scalar/array per axis."""
    if any(isinstance(v, Tracer) for v in varargs):
        raise no_rule("np.gradient with traced spacings")
    if not varargs:
        return [1.0] * len(axes)
    if len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        return [varargs[0]] * len(axes)
    if len(varargs) != len(axes):
        raise TypeError("invalid number of arguments")
    return [v if np.ndim(v) == 0 else np.diff(np.asarray(v, float)) for v in varargs]


def _stencil(f, axis, weights):
    """sum_k w_k * f[slice_k] along axis; w_k a scalar or an array along the axis."""
    out = 0.0
    for w, part in weights:
        if np.ndim(w):
            w = np.reshape(w, (-1,) + (1,) * (f.ndim - 1 - axis))
        out = out + w * getitem(f, (slice(None),) * axis + (part,))
    return out


def _one_axis(f, axis, dx, edge_order):
    """NumPy's second-order central differences inside, one-sided at the edges;
    `dx` is a scalar or the array of spacings (possibly uneven)."""
    n = f.shape[axis]
    if n < edge_order + 1:
        raise ValueError("Shape of array too small to calculate a numerical gradient, "
                         "at least (edge_order + 1) elements are required.")
    d = np.full(n - 1, dx, float) if np.ndim(dx) == 0 else np.asarray(dx, float)
    d1, d2 = d[:-1], d[1:]
    inner = [(-d2 / (d1 * (d1 + d2)), slice(None, -2)), ((d2 - d1) / (d1 * d2), slice(1, -1)),
             (d1 / (d2 * (d1 + d2)), slice(2, None))]
    if edge_order == 1:
        first = [(-1 / d[0], slice(0, 1)), (1 / d[0], slice(1, 2))]
        last = [(-1 / d[-1], slice(-2, -1)), (1 / d[-1], slice(-1, None))]
    else:
        a, c = d[0], d[1]
        first = [(-(2 * a + c) / (a * (a + c)), slice(0, 1)), ((a + c) / (a * c), slice(1, 2)),
                 (-a / (c * (a + c)), slice(2, 3))]
        a, c = d[-2], d[-1]
        last = [(c / (a * (a + c)), slice(-3, -2)), (-(a + c) / (a * c), slice(-2, -1)),
                ((2 * c + a) / (c * (a + c)), slice(-1, None))]
    scalar = np.ndim(dx) == 0  # a uniform step: scalar weights, as NumPy computes them
    inner = [(w[0] if scalar else w, s) for w, s in inner]
    parts = [_stencil(f, axis, first), _stencil(f, axis, inner), _stencil(f, axis, last)]
    return concatenate(parts, axis) if n > 2 else concatenate([parts[0], parts[2]], axis)


@handles(np.gradient)
def gradient(f, *varargs, axis=None, edge_order=1):
    if edge_order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    axes = tuple(range(f.ndim)) if axis is None else normalize_axis_tuple(axis, f.ndim)
    out = [_one_axis(f, ax, dx, edge_order) for ax, dx in zip(axes, _spacings(varargs, axes))]
    return out[0] if len(out) == 1 else tuple(out)


@handles(np.polyval)
def polyval(p, x):
    """Horner's rule, `((p0 x + p1) x + p2) ...`, as NumPy evaluates it."""
    y = p[0] + 0 * x  # (x's shape from the start, as NumPy's result has it)
    for c in p[1:]:
        y = y * x + c
    return y


@handles(np.interp)
def interp(x, xp, fp, left=None, right=None, period=None):
    """Linear pieces on the interval the concrete x falls in (index data);
    outside [xp[0], xp[-1]] the end values (or left/right)."""
    if period is not None:
        raise no_rule("np.interp with period=")
    trace = trace_of([x, xp, fp, left, right])
    x, xp, fp = (as_tracer(trace, v) for v in (x, xp, fp))
    known = np.asarray(value_of(xp), float)
    cell = x._concrete_data("np.interp interval", lambda v: np.clip(
        np.searchsorted(known, v, "right") - 1, 0, max(len(known) - 2, 0)))
    if len(known) == 1:
        inside = fp[cell] + 0 * x
    else:
        lo, hi = xp[cell], xp[cell + 1]
        inside = fp[cell] + (fp[cell + 1] - fp[cell]) * ((x - lo) / (hi - lo))
    below = where(x < xp[0], fp[0] if left is None else left, inside)
    return where(x > xp[-1], fp[-1] if right is None else right, below)


def _quantile(a, q, axis, method, keepdims):
    """Sorted values at NumPy's virtual index g, interpolated between floor(g)
    and floor(g) + 1.  g is NumPy's own answer on the positions 0..n-1, so
    every method (linear, lower, nearest, midpoint, weibull, ...) follows it."""
    if isinstance(q, Tracer):
        raise no_rule("np.quantile with traced q")
    q = np.asarray(q, float)
    axes = axes_of(axis, a.ndim)
    rest = [i for i in range(a.ndim) if i not in axes]
    flat = reshape(transpose(a, rest + list(axes)), [a.shape[i] for i in rest] + [-1])
    n = flat.shape[-1]
    g = np.quantile(np.arange(n, dtype=float), q.ravel(), method=method)
    lo = np.floor(g).astype(int)
    frac, hi = g - lo, np.minimum(lo + 1, n - 1)
    s = sort(flat, -1)
    below = take(s, lo, -1)
    out = below + (take(s, hi, -1) - below) * frac
    out = reshape(moveaxis(out, -1, 0), q.shape + out.shape[:-1])
    if keepdims:
        kept = [1 if i in axes else m for i, m in enumerate(a.shape)]
        out = reshape(out, q.shape + tuple(kept))
    return out


@handles(np.quantile)
def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, weights=None, interpolation=None):
    unsupported("quantile", out, **({} if weights is None else {"weights": weights}))
    return _quantile(a, q, axis, interpolation or method, keepdims)


@handles(np.percentile)
def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None, interpolation=None):
    q = np.true_divide(q, 100)
    return quantile(a, q, axis, out, method=method, keepdims=keepdims, weights=weights,
                    interpolation=interpolation)


@handles(np.median)
def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return quantile(a, 0.5, axis, out, keepdims=keepdims)


@handles(np.nan_to_num)
def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    big = np.finfo(np.result_type(value_of(x), float)).max
    y = where(x == np.inf, big if posinf is None else posinf, x)
    y = where(x == -np.inf, -big if neginf is None else neginf, y)
    return where(np.isnan(x), nan, y)


@handles(np.sinc)
def sinc(x):
    """sin(pi x)/(pi x), 1 at 0 (derivative 0 there, as the function's)."""
    y = np.pi * x
    return where(x == 0, 1.0, np.sin(y) / y)


@handles(np.round, np.around)
def round_(a, decimals=0, out=None):
    """NumPy's rounding: rint of a scaled value, scaled back (derivative 0)."""
    unsupported("round", out)
    if decimals == 0:
        return np.rint(a)
    scale = 10.0 ** decimals
    return np.rint(a * scale) / scale


@handles(np.isclose)
def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """NumPy's test |a - b| <= atol + rtol |b| (equal infinities are close): truth values."""
    close = np.logical_or(a == b, abs(a - b) <= atol + rtol * abs(b))
    return np.logical_or(close, np.logical_and(np.isnan(a), np.isnan(b))) if equal_nan else close


HANDLERS[np.allclose] = lambda a, b, rtol=1e-05, atol=1e-08, equal_nan=False: bool(
    np.all(isclose(a, b, rtol, atol, equal_nan)))
HANDLERS[np.array_equal] = lambda a1, a2, equal_nan=False: np.shape(a1) == np.shape(a2) and bool(
    np.all(isclose(a1, a2, 0.0, 0.0, equal_nan)))


@handles(np.fix)
def fix(x, out=None):
    unsupported("fix", out)
    return np.trunc(x)
