"""NumPy implementations of the structural ops: what `ArrayOp.value` computes
at trace time and what generated kernels call (codegen/runtime.py), so the
traced value and the kernel's agree by construction."""
import numpy as np
import scipy.linalg


def sum_to(x, shape):
    """Sum `x` over the axes along which `shape` was broadcast (NumPy rules)."""
    x = np.asarray(x)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1)
    out = x.sum(axis=axes, keepdims=True) if axes else x
    return out.reshape(shape)


def norm(x, axes, keep):
    if len(axes) <= 2:  # BLAS (nrm2, dot) through np.linalg.norm
        return np.linalg.norm(x, axis=axes if len(axes) == 2 else axes[0], keepdims=bool(keep))
    return np.sqrt(np.sum(np.square(np.abs(x)), axis=axes, keepdims=bool(keep)))


def scan(fn, x, axis, reverse):
    return np.flip(fn(np.flip(x, axis), axis=axis), axis) if reverse else fn(x, axis=axis)


def shift(x, axis, k, fill):
    """out[i] = x[i - k] along axis, `fill` where i - k falls outside."""
    x = np.asarray(x)
    out = np.full(x.shape, fill, dtype=np.result_type(x, fill))
    n = x.shape[axis]
    dst, src = [slice(None)] * x.ndim, [slice(None)] * x.ndim
    dst[axis], src[axis] = (slice(k, None), slice(0, max(n - k, 0))) if k >= 0 else \
        (slice(0, max(n + k, 0)), slice(-k, None))
    out[tuple(dst)] = x[tuple(src)]
    return out


def linrec(a, b, axis, reverse):
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


def _as_slice(key):
    """A key whose one index array is a run of consecutive non-negative integers
    among slices (a traced window `x[i:i + B]`) as the slice it stands for, else None."""
    parts = key if type(key) is tuple else (key,)
    arrays = [k for k in parts if type(k) is np.ndarray]
    if len(arrays) != 1 or any(k is not None and k is not Ellipsis and type(k) is not slice
                               for k in parts if k is not arrays[0]):
        return None  # (an integer entry beside an array is an advanced index too)
    a = arrays[0]
    n = a.size
    if a.ndim != 1 or n == 0 or a[0] < 0 or a[-1] - a[0] != n - 1 \
            or np.count_nonzero(np.equal(np.subtract(a[1:], a[:-1]), 1)) != n - 1:
        return None
    start = int(a[0])
    return tuple(slice(start, start + n) if k is a else k for k in parts)


def scatter(ct, shape, key):
    """The transpose of `x[key]`: ct added into zeros of `shape`; repeated
    indices accumulate (np.add.at).  A window's run of indices never repeats:
    it is placed as its slice would be (the same numbers, signed zeros too)."""
    window = _as_slice(key)
    if window is not None:
        return place(ct, shape, window)
    out = np.zeros(shape, dtype=np.result_type(ct, float))
    np.add.at(out, key, ct)
    return out


def place(ct, shape, key):
    """`scatter` for keys of ints and slices, which never repeat an index:
    plain assignment, far cheaper than np.add.at."""
    out = np.zeros(shape, dtype=np.result_type(ct, float))
    out[key] = ct
    return out


def setitem(x, v, key):
    """A copy of x with x[key] = v (promoted to a common dtype, so the
    value agrees with the float kernel)."""
    out = np.array(x, dtype=np.result_type(x, v))
    out[key] = v
    return out


def band(x, lo, hi):
    """The entries with lo <= j - i <= hi of the last two axes (None: no bound)."""
    x = np.asarray(x)
    x = x if lo is None else np.triu(x, lo)
    return x if hi is None else np.tril(x, hi)


def solve_triangular(a, b, lower, trans):
    """op(a)^-1 b on a's lower (upper) triangle, for stacks: NumPy's solve
    of the masked matrix (SciPy's solve_triangular takes no stacks)."""
    a = band(a, None, 0) if lower else band(a, 0, None)
    return np.linalg.solve(np.swapaxes(a, -1, -2) if trans else a, b)


# the values of ops.Cholesky, ops.Svd, ...: (operands, *static params) -> array
LINALG = {
    "Cholesky": np.linalg.cholesky,
    "SolveTriangular": solve_triangular,
    "SlogDet": lambda a, which: np.linalg.slogdet(a)[which],
    "Eigh": lambda a, which, upper: np.linalg.eigh(a, "U" if upper else "L")[which],
    "Svd": lambda a, which: np.linalg.svd(a, full_matrices=False)[which],
    "Pinv": lambda a, rcond: np.linalg.pinv(a, rcond),
    "Qr": lambda a, which: np.linalg.qr(a)[which],
    "Expm": scipy.linalg.expm,
    "Sqrtm": scipy.linalg.sqrtm,
    "SolveSylvester": scipy.linalg.solve_sylvester,
}
