"""Decompositions and matrix functions (LAPACK routines and SciPy's matrix
functions) as ArrayOp classes: data only, like ops.py (operands, shape rule,
value through numpy_ops.LINALG).  Their pullbacks are ad/rules/linalg.py's."""
from .nodes import broadcast
from .numpy_ops import LINALG
from .ops import ArrayOp


# Decompositions and matrix functions.  A routine with several outputs is one
# op per output (`which`), so each output's pullback is its own rule and an
# unused output costs nothing; the values are numpy_ops.LINALG's, and the
# kernels print the same calls.
class _Linalg(ArrayOp):
    def value(self, *xs):
        return LINALG[type(self).__name__](*xs, *self.params)


class Cholesky(_Linalg):
    """`np.linalg.cholesky`: L, lower, from the lower triangle of a."""

    def shape_rule(self, a):
        return a


class SolveTriangular(_Linalg):
    """`op(a)^-1 b` for a's lower (or upper) triangle, op = transpose if `trans`."""

    nops = 2

    def shape_rule(self, a, b):
        return broadcast(a[:-2], b[:-2]) + b[-2:]


class SlogDet(_Linalg):
    """Output `which` of `np.linalg.slogdet`: 0 the sign, 1 log|det|."""

    def shape_rule(self, a):
        return a[:-2]


class Eigh(_Linalg):
    """Output `which` of `np.linalg.eigh` of the lower (or `upper`) triangle:
    0 eigenvalues, 1 eigenvectors."""

    def shape_rule(self, a):
        return a[:-1] if self.params[0] == 0 else a


class Svd(_Linalg):
    """Output `which` of `np.linalg.svd(a, full_matrices=False)`: 0 U, 1 s, 2 Vh."""

    def shape_rule(self, a):
        m, n = a[-2:]
        k = min(m, n)
        return a[:-2] + ((m, k), (k,), (k, n))[self.params[0]]


class Pinv(_Linalg):
    """`np.linalg.pinv(a, rcond)`."""

    def shape_rule(self, a):
        return a[:-2] + (a[-1], a[-2])


class Qr(_Linalg):
    """Output `which` of `np.linalg.qr(a)` (reduced): 0 Q, 1 R."""

    def shape_rule(self, a):
        m, n = a[-2:]
        return a[:-2] + ((m, min(m, n)), (min(m, n), n))[self.params[0]]


class Expm(_Linalg):
    """`scipy.linalg.expm`, the matrix exponential."""

    def shape_rule(self, a):
        return a


class Sqrtm(_Linalg):
    """`scipy.linalg.sqrtm`, the principal square root."""

    def shape_rule(self, a):
        return a


class SolveSylvester(_Linalg):
    """`scipy.linalg.solve_sylvester(a, b, q)`: x with a x + x b = q."""

    nops = 3

    def shape_rule(self, a, b, q):
        return q
