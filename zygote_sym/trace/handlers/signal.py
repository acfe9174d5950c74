"""Convolutions: np.convolve, np.correlate and scipy.signal's convolve,
correlate, convolve2d, correlate2d (LIBRARY: SciPy converts its inputs with
np.asarray, so those run through trace/library.py's proxies).

One construction serves them all: the output, in the coordinates of the
full convolution, is a gather of the (padded) signal by an integer index
array computed from the shapes, times the kernel: `out = G @ ravel(k)` with
`G[o, j] = x[o + start - j]`.  A gather and a matmul, so both operands get
gradients (a scatter-add and a matmul) and second derivatives too.
"""
import numpy as np
import scipy.signal

from ..tracer import Tracer
from .common import as_tracer, no_rule, table, trace_of
from .indexing import flip
from .shapes import concatenate, ravel, reshape

HANDLERS, handles = table()


def _positions(n, p, boundary):
    """Positions p (any integers) into an axis of length n: -1 outside it
    ('fill'), or mapped back inside ('wrap', 'symm')."""
    if boundary == "wrap":
        return p % n
    if boundary == "symm":  # reflect with the edge repeated: period 2n
        p = p % (2 * n)
        return np.where(p < n, p, 2 * n - 1 - p)
    return np.where((p >= 0) & (p < n), p, -1)


def _gather_conv(x, k, starts, out_shape, boundary="fill", fillvalue=0):
    """out[o] = sum_j k[j] * x[o + start - j], x extended by `boundary`."""
    d = x.ndim
    o = np.indices(out_shape).reshape(d, -1)
    j = np.indices(k.shape).reshape(d, -1)
    p = o[:, :, None] + np.asarray(starts).reshape(d, 1, 1) - j[:, None, :]
    pos = [_positions(n, p[i], boundary) for i, n in enumerate(x.shape)]
    outside = np.any([q < 0 for q in pos], axis=0)
    flat = np.where(outside, x.size, np.ravel_multi_index([np.maximum(q, 0) for q in pos],
                                                          x.shape))
    padded = concatenate([ravel(x), as_tracer(x.trace, np.full(1, float(fillvalue)))])
    return reshape(padded[flat] @ ravel(k), out_shape)


def _extent(mode, n1, n2, late=False):
    """(start, length) of each axis of `mode` within the full convolution,
    as scipy.signal: 'same' is shaped like in1 and centred (rounding the
    start down, or up if `late`: correlate2d), 'valid' is where one operand
    covers the other."""
    if mode == "full":
        return [0] * len(n1), [a + b - 1 for a, b in zip(n1, n2)]
    if mode == "same":
        return [(b - 1 + late) // 2 for b in n2], list(n1)
    if mode == "valid":
        if not (all(a >= b for a, b in zip(n1, n2)) or all(a <= b for a, b in zip(n1, n2))):
            raise ValueError("For 'valid' mode, one must be at least as large as the other "
                             "in every dimension")
        return [min(a, b) - 1 for a, b in zip(n1, n2)], [abs(a - b) + 1 for a, b in zip(n1, n2)]
    raise ValueError(f"acceptable mode flags are 'valid', 'same', or 'full', not {mode!r}")


def convolve(in1, in2, mode="full", method="auto"):
    """scipy.signal.convolve (any method: they differ in speed only)."""
    trace = trace_of([in1, in2])
    in1, in2 = as_tracer(trace, in1), as_tracer(trace, in2)
    if in1.ndim != in2.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality")
    starts, shape = _extent(mode, in1.shape, in2.shape)
    x, k = (in1, in2) if in2.size <= in1.size else (in2, in1)  # gather the larger
    return _gather_conv(x, k, starts, shape)


def _fftconvolve(in1, in2, mode="full", axes=None):
    if axes is not None:
        raise no_rule("scipy.signal.fftconvolve with axes=")
    return convolve(in1, in2, mode)


def correlate(in1, in2, mode="full", method="auto"):
    """scipy.signal.correlate: the convolution with in2 reversed (real values);
    'valid' with in2 the larger is SciPy's swapped, reversed result."""
    trace = trace_of([in1, in2])
    in1, in2 = as_tracer(trace, in1), as_tracer(trace, in2)
    if mode == "valid" and all(a <= b for a, b in zip(in1.shape, in2.shape)) \
            and in1.shape != in2.shape:
        return flip(convolve(in2, flip(in1), mode))
    return convolve(in1, flip(in2), mode)


def _convolve2d(in1, in2, mode, boundary, fillvalue, late):
    """convolve2d and correlate2d (`late`: its 'same' window starts rounding up)."""
    if in1.ndim != 2 or in2.ndim != 2:
        raise ValueError("convolve2d inputs must both be 2-D arrays")
    if boundary not in ("fill", "wrap", "symm"):
        raise ValueError(f"boundary must be 'fill', 'wrap' or 'symm', not {boundary!r}")
    if mode == "valid" and all(a < b for a, b in zip(in1.shape, in2.shape)):
        in1, in2 = in2, in1  # SciPy swaps so that in1 is the larger
    starts, shape = _extent(mode, in1.shape, in2.shape, late)
    if isinstance(fillvalue, Tracer):
        raise no_rule("scipy.signal.convolve2d with a traced fillvalue")
    return _gather_conv(in1, in2, starts, shape, boundary, fillvalue)


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    trace = trace_of([in1, in2])
    return _convolve2d(as_tracer(trace, in1), as_tracer(trace, in2), mode, boundary, fillvalue,
                       False)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    trace = trace_of([in1, in2])
    return _convolve2d(as_tracer(trace, in1), flip(as_tracer(trace, in2)), mode, boundary,
                       fillvalue, True)


@handles(np.convolve)
def np_convolve(a, v, mode="full"):
    """NumPy's 1-D convolve: scipy.signal's with the longer operand first."""
    trace = trace_of([a, v])
    a, v = ravel(as_tracer(trace, a)), ravel(as_tracer(trace, v))
    return convolve(*((a, v) if a.size >= v.size else (v, a)), mode)


@handles(np.correlate)
def np_correlate(a, v, mode="valid"):
    """NumPy's 1-D correlate: c[k] = sum_n a[n + k] v[n]; reversed when v is the longer."""
    trace = trace_of([a, v])
    a, v = ravel(as_tracer(trace, a)), ravel(as_tracer(trace, v))
    if v.size > a.size:
        return flip(np_convolve(v, flip(a), mode))
    return np_convolve(a, flip(v), mode)


LIBRARY = {
    scipy.signal.convolve: convolve, scipy.signal.correlate: correlate,
    scipy.signal.fftconvolve: _fftconvolve, scipy.signal.oaconvolve: _fftconvolve,
    scipy.signal.convolve2d: convolve2d, scipy.signal.correlate2d: correlate2d,
}
