"""Linear algebra: np.linalg (norm, det, inv, solve, slogdet, cholesky,
eigh, eigvalsh, svd, svdvals, pinv, lstsq, qr, matrix_rank, multi_dot,
matrix_power) and scipy.linalg (LIBRARY: SciPy converts its inputs with
np.asarray, so those run through trace/library.py's proxies).  The
pullbacks and their conventions are in ad/rules/linalg.py."""
import functools
import operator

import numpy as np
import scipy.linalg

from ...ir import linalg_ops, ops
from .common import apply, as_tracer, axes_of, no_rule, reduce, table, trace_of, value_of, zeros
from .products import matmul, pair
from .shapes import concatenate, moveaxis, reshape, squeeze, swapaxes

HANDLERS, handles = table()


@handles(np.linalg.norm)
def norm(x, ord=None, axis=None, keepdims=False):
    axes = axes_of(axis, x.ndim)
    a = abs(x)
    if ord is None or (ord == "fro" and len(axes) == 2) or (ord == 2 and len(axes) == 1):
        return np.sqrt(reduce(ops.Sum, a * a, axes, keepdims))
    if len(axes) == 1 and not isinstance(ord, str):
        if ord == np.inf:
            return reduce(ops.Max, a, axes, keepdims)
        if ord == -np.inf:
            return reduce(ops.Min, a, axes, keepdims)
        if ord == 0:
            return reduce(ops.Sum, x != 0, axes, keepdims)
        return reduce(ops.Sum, a ** ord, axes, keepdims) ** (1 / ord) if ord != 1 \
            else reduce(ops.Sum, a, axes, keepdims)
    if len(axes) == 2 and ord in (1, -1, np.inf, -np.inf):
        inner_axis, outer_axis = axes if abs(ord) == 1 else axes[::-1]
        pick = ops.Max if ord > 0 else ops.Min
        r = reduce(pick, reduce(ops.Sum, a, inner_axis, True), outer_axis, True)
        return r if keepdims else squeeze(r, axes)
    if len(axes) == 2 and ord in (2, -2, "nuc"):  # through the singular values
        s = svdvals(moveaxis(x, axes, (-2, -1)))
        r = {2: ops.Max, -2: ops.Min, "nuc": ops.Sum}[ord]
        r = reduce(r, s, -1)
        return reshape(r, [1 if i in axes else n for i, n in enumerate(x.shape)]) if keepdims \
            else r
    raise no_rule(f"np.linalg.norm with ord={ord!r} over {len(axes)} axes")


HANDLERS[np.linalg.det] = lambda a: apply(ops.Det.make, [a])
HANDLERS[np.linalg.inv] = lambda a: apply(ops.Inv.make, [a])


@handles(np.linalg.solve)
def solve(a, b):
    a, b = pair(a, b)
    if b.ndim == 1:  # NumPy 2: a 1-D b is one right-hand side
        r = apply(ops.Solve.make, [a, reshape(b, b.shape + (1,))])
        return reshape(r, r.shape[:-1])
    return apply(ops.Solve.make, [a, b])


def _result(func, example):
    """The namedtuple type NumPy returns from func (EighResult, SVDResult, ...)."""
    return type(func(example))


_EIGH, _SVD, _SLOGDET, _QR = (_result(f, np.eye(2)) for f in (
    np.linalg.eigh, np.linalg.svd, np.linalg.slogdet, np.linalg.qr))


def _upper(uplo):
    if uplo not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    return uplo == "U"


def _cholesky(a, lower):
    """The Cholesky factor from a's `lower` (or upper) triangle, as LAPACK reads it."""
    low = apply(linalg_ops.Cholesky.make, [a if lower else swapaxes(a, -1, -2)])
    return low if lower else swapaxes(low, -1, -2)


HANDLERS[np.linalg.cholesky] = lambda a, /, *, upper=False: _cholesky(a, not upper)


@handles(np.linalg.slogdet)
def slogdet(a):
    return _SLOGDET(*(apply(linalg_ops.SlogDet.make, [a], i) for i in (0, 1)))


@handles(np.linalg.eigh)
def eigh(a, UPLO="L"):
    return _EIGH(*(apply(linalg_ops.Eigh.make, [a], i, _upper(UPLO)) for i in (0, 1)))


HANDLERS[np.linalg.eigvalsh] = lambda a, UPLO="L": eigh(a, UPLO)[0]


@handles(np.linalg.svd)
def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    if not compute_uv:
        return svdvals(a)
    if hermitian:
        raise no_rule("np.linalg.svd with hermitian=True", "its singular vectors' signs "
                      "follow eigh: leave hermitian=False")
    if full_matrices and a.shape[-1] != a.shape[-2]:
        raise no_rule("np.linalg.svd with full_matrices=True of a non-square matrix",
                      "the extra singular vectors have no derivative: pass full_matrices=False")
    return _SVD(*(apply(linalg_ops.Svd.make, [a], i) for i in range(3)))


@handles(np.linalg.svdvals)
def svdvals(x, /):
    return apply(linalg_ops.Svd.make, [x], 1)


_UNSET = object()


@handles(np.linalg.pinv)
def pinv(a, rcond=None, hermitian=False, *, rtol=_UNSET):
    """NumPy's cutoff: rcond, else rtol, else 1e-15 (rtol=None: max(m, n)·eps)."""
    if rtol is None:
        rtol = max(a.shape[-2:]) * np.finfo(float).eps
    cut = rcond if rcond is not None else 1e-15 if rtol is _UNSET else rtol
    return apply(linalg_ops.Pinv.make, [a], float(cut))


@handles(np.linalg.lstsq)
def lstsq(a, b, rcond=None):
    """x = pinv(a) b, the minimum-norm least-squares solution, with NumPy's
    cutoff; the residuals, rank and singular values as NumPy returns them."""
    a, b = pair(a, b)
    m, n = a.shape
    cut = np.finfo(float).eps * max(m, n) if rcond is None else rcond
    x = matmul(apply(linalg_ops.Pinv.make, [a], float(cut)), b)
    s = svdvals(a)
    rank = int(np.sum(value_of(s) > cut * np.max(value_of(s))))
    resid = reshape(np.sum((matmul(a, x) - b) ** 2, axis=0), (-1,))
    if rank < n or m <= n:
        resid = zeros(a.trace, (0,))
    return x, resid, rank, s


@handles(np.linalg.qr)
def qr(a, mode="reduced"):
    if a.shape[-2] < a.shape[-1]:
        raise no_rule("np.linalg.qr of a wide matrix", "the derivative is implemented for m >= n")
    if mode == "r":
        return apply(linalg_ops.Qr.make, [a], 1)
    if mode != "reduced":
        raise no_rule(f"np.linalg.qr with mode={mode!r}")
    return _QR(*(apply(linalg_ops.Qr.make, [a], i) for i in (0, 1)))


HANDLERS[np.linalg.matrix_rank] = lambda A, *args, **kw: int(A._concrete_data(
    "np.linalg.matrix_rank", lambda v: np.linalg.matrix_rank(v, *args, **kw)))
HANDLERS[np.linalg.multi_dot] = lambda arrays, *, out=None: functools.reduce(matmul, arrays)


@handles(np.linalg.matrix_power)
def matrix_power(a, n):
    n = operator.index(n)
    if n < 0:
        a, n = np.linalg.inv(a), -n
    out = None
    for _ in range(n):  # (repeated squaring would save products, not precision)
        out = a if out is None else matmul(out, a)
    return out if out is not None else zeros(a.trace, a.shape) + np.eye(a.shape[-1])


# ------------------------------------------------------------ scipy.linalg
def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    a, b = pair(a, b)
    trans = {"N": 0, "T": 1, "C": 1}.get(trans, trans)
    if unit_diagonal:  # the diagonal is not read: ones instead
        a = ops_band(a, lower, -1 if lower else 1) + np.eye(a.shape[-1])
    vector = b.ndim == 1
    x = apply(linalg_ops.SolveTriangular.make, [a, reshape(b, b.shape + (1,)) if vector else b],
              int(bool(lower)), int(bool(trans)))
    return reshape(x, x.shape[:-1]) if vector else x


def ops_band(a, lower, k):
    return apply(ops.Band.make, [a], None, k) if lower else apply(ops.Band.make, [a], k, None)


def sp_cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    return _cholesky(as_tracer(trace_of([a]), a), lower)


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """(c, lower): the factor in its triangle, a's own entries in the other
    (what LAPACK leaves there; cho_solve reads only the factor)."""
    a = as_tracer(trace_of([a]), a)
    c = _cholesky(a, lower) + ops_band(a, not lower, 1 if lower else -1)
    return c, lower


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """A x = b with A = L Lᵀ (or Uᵀ U): two triangular solves."""
    c, lower = c_and_lower
    y = solve_triangular(c, b, trans=0 if lower else 1, lower=lower)
    return solve_triangular(c, y, trans=1 if lower else 0, lower=lower)


def block_diag(*arrs):
    """Blocks on the diagonal, zeros elsewhere (1-D and 0-D blocks are rows)."""
    trace = trace_of(arrs)
    blocks = [x if x.ndim == 2 else reshape(x, (1, -1))
              for x in (as_tracer(trace, a) for a in arrs)]
    total, left, rows = sum(x.shape[1] for x in blocks), 0, []
    for x in blocks:
        r, c = x.shape
        right = zeros(trace, (r, total - left - c))
        rows.append(concatenate([zeros(trace, (r, left)), x, right], 1))
        left += c
    return concatenate(rows, 0)


def solve_banded(l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    """The full matrix a[i, j] = ab[u + i - j, j] (a gather, zeros off the
    band), then solve."""
    (low, up), (ab, b) = l_and_u, pair(ab, b)
    n = ab.shape[1]
    i, j = np.indices((n, n))
    row = up + i - j
    inside = (row >= 0) & (row <= low + up)
    flat = np.where(inside, np.clip(row, 0, low + up) * n + j, ab.size)
    full = concatenate([reshape(ab, (-1,)), zeros(ab.trace, (1,))])[flat]
    return solve(full, b)


def expm(A):
    return apply(linalg_ops.Expm.make, [A])


def sqrtm(A, disp=True, blocksize=64):
    return apply(linalg_ops.Sqrtm.make, [A])


def solve_sylvester(a, b, q):
    trace = trace_of([a, b, q])
    return apply(linalg_ops.SolveSylvester.make, [as_tracer(trace, x) for x in (a, b, q)])


def sp_eigh(a, b=None, *, lower=True, eigvals_only=False, **kw):
    if b is not None or kw.get("subset_by_index") or kw.get("subset_by_value") \
            or kw.get("type", 1) != 1:
        raise no_rule("scipy.linalg.eigh of a generalized or partial problem")
    w, v = eigh(as_tracer(trace_of([a]), a), "L" if lower else "U")
    return w if eigvals_only else (w, v)


def sp_svd(a, full_matrices=True, compute_uv=True, **kw):
    r = svd(as_tracer(trace_of([a]), a), full_matrices, compute_uv)
    return tuple(r) if compute_uv else r


_SYMMETRIC = {"sym", "her", "pos", "symmetric", "hermitian", "positive definite"}


def sp_solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
             assume_a=None, transposed=False):
    """NumPy's solve; for a symmetric `assume_a`, of the matrix SciPy reads
    (one triangle, mirrored)."""
    a, b = pair(a, b)
    if assume_a in _SYMMETRIC:
        tri = a if lower else swapaxes(a, -1, -2)
        a = ops_band(tri, True, 0) + swapaxes(ops_band(tri, True, -1), -1, -2)
    return solve(swapaxes(a, -1, -2) if transposed else a, b)


def sp_pinv(a, *, atol=None, rtol=None, return_rank=False, check_finite=True):
    if atol or return_rank:
        raise no_rule("scipy.linalg.pinv with atol= or return_rank=")
    a = as_tracer(trace_of([a]), a)
    return pinv(a, rtol=max(a.shape[-2:]) * np.finfo(float).eps if rtol is None else rtol)


LIBRARY = {
    scipy.linalg.solve_triangular: solve_triangular, scipy.linalg.cho_factor: cho_factor,
    scipy.linalg.cho_solve: cho_solve, scipy.linalg.cholesky: sp_cholesky,
    scipy.linalg.block_diag: block_diag, scipy.linalg.expm: expm, scipy.linalg.sqrtm: sqrtm,
    scipy.linalg.solve_sylvester: solve_sylvester, scipy.linalg.eigh: sp_eigh,
    scipy.linalg.svd: sp_svd, scipy.linalg.solve_banded: solve_banded,
    scipy.linalg.solve: sp_solve, scipy.linalg.pinv: sp_pinv,
    scipy.linalg.inv: lambda a, overwrite_a=False, check_finite=True: np.linalg.inv(a),
    scipy.linalg.det: lambda a, overwrite_a=False, check_finite=True: np.linalg.det(a),
}
