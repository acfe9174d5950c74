"""Pullbacks of linear algebra, each from its published derivation:

- det, inv, solve, slogdet, triangular solves: Giles, "An extended
  collection of matrix derivative results for forward and reverse mode AD"
  (2008);
- cholesky: Murray, "Differentiation of the Cholesky decomposition" (2016),
  as autograd's grad_cholesky and JAX's cholesky_jvp_rule;
- eigh: Giles (2008) sec. 3.1, as autograd's grad_eigh;
- svd: Townsend, "Differentiating the singular value decomposition" (2016),
  as autograd's grad_svd;
- pinv: Golub & Pereyra (1973), as JAX's pinv JVP (jax/_src/numpy/linalg.py);
- qr: Walter & Lehmann (2018), Seeger et al. (2017) (m >= n);
- expm: Mathias (1996): the Fréchet derivative is a block of the exponential
  of a block matrix; sqrtm and solve_sylvester: Sylvester equations.

Every pullback is built of differentiable ops (matmul, triangular solves,
Band, the decompositions themselves), so gradients differentiate again.

Conventions.  NumPy's cholesky and eigh read only the lower triangle of
their input, so the gradient is that of the function NumPy computes: zero
above the diagonal, the symmetric contributions summed below it (the
sum of a symmetric gradient G over both mirrored entries).  A repeated
eigenvalue (or singular value), within n·eps·max|w| of another, drops the
eigenvector term of that pair: the gradient is then exact for every
function invariant to the choice of basis within that eigenspace (sums of
eigenvalues, projectors, norms), and the eigenvectors themselves, which
are not differentiable there, get no term instead of inf.
"""
import numpy as np
import sympy as sp

from ...ir import build as b
from ...ir.linalg_ops import (Cholesky, Eigh, Expm, Pinv, Qr, SlogDet, SolveSylvester,
                              SolveTriangular, Sqrtm, Svd)
from ...ir.ops import Band, BroadcastTo, Concatenate, Det, Index, Inv, MatMul, Max, Solve
from ...ir.select import pick
from ...ir.special import safe

EPS = b.const(np.finfo(float).eps)


class _M:
    """Matrix helpers on one backward pass's shapes."""

    def __init__(self, shapes):
        self.shapes = shapes

    def T(self, x):
        return b.swap_last(x, self.shapes)

    def row(self, v):  # (..., k) -> (..., 1, k)
        s = self.shapes(v)
        return b.reshape(v, s[:-1] + (1, s[-1]), self.shapes)

    def col(self, v):  # (..., k) -> (..., k, 1)
        return b.reshape(v, self.shapes(v) + (1,), self.shapes)

    def gaps(self, d):
        """F with F_ij = 1/(d_j - d_i), 0 where |d_j - d_i| <= n·eps·max|d| (ties, diagonal)."""
        n = self.shapes(d)[-1]
        diff = b.sub(self.row(d), self.col(d))
        top = Max.make(b.call(sp.Abs, d), (len(self.shapes(d)) - 1,), True)
        apart = b.relation(">", b.call(sp.Abs, diff), b.mul(sp.Integer(n), EPS, self.col(top)))
        return pick(apart, b.pow_(b.call(safe, diff, apart, b.ONE), b.NEG_ONE), b.ZERO)

    def triangle_read(self, g, upper=False):
        """The gradient of a function of the lower (upper) triangle, given the
        symmetric-domain gradient g: the strict triangle of g + gᵀ, plus diag g."""
        both = b.add(g, self.T(g))
        strict = Band.make(both, 1, None) if upper else Band.make(both, None, -1)
        return b.add(strict, Band.make(g, 0, 0))

    def right_solve_upper_t(self, x, r):
        """x r^-T for upper-triangular r."""
        return self.T(SolveTriangular.make(r, self.T(x), 0, 0))


def _batched(ctx, g, y, a):
    """A cotangent of a's matrices, summed over broadcast batch axes."""
    s = ctx.shapes
    return b.sum_to(g, s(y)[:-2] + s(a)[-2:], s(a)) if len(s(y)) >= 2 else g


def _det(ctx, y, ct):
    """ct * det(A) * A^-T."""
    scale, shapes = b.mul(ct, y), ctx.shapes
    if shapes(y):  # a stack: one factor per matrix
        scale = b.reshape(scale, shapes(y) + (1, 1), shapes)
    return [b.mul(scale, b.swap_last(Inv.make(y.args[0]), shapes))]


def _inv(ctx, y, ct):
    """-A^-T ct A^-T."""
    t = b.swap_last(y, ctx.shapes)
    return [b.neg(MatMul.make(MatMul.make(t, ct), t))]


def _solve(ctx, y, ct):
    """x = A^-1 B: dB = A^-T ct, dA = -dB x^T."""
    (a, c), shapes = y.args, ctx.shapes
    gc = Solve.make(b.swap_last(a, shapes), ct)
    ga = b.neg(MatMul.make(gc, b.swap_last(y, shapes)))
    batch = shapes(y)[:-2]
    return [b.sum_to(ga, batch + shapes(a)[-2:], shapes(a)), b.sum_to(gc, shapes(y), shapes(c))]


def _solve_triangular(ctx, y, ct):
    """x = op(A)^-1 B: dB = op(A)^-T ct, d op(A) = -dB x^T, on A's triangle only."""
    (a, c), (lower, trans), m = y.operands, y.params, _M(ctx.shapes)
    gc = SolveTriangular.make(a, ct, lower, 1 - trans)
    ga = b.neg(MatMul.make(gc, m.T(y)) if not trans else MatMul.make(y, m.T(gc)))
    ga = Band.make(ga, None, 0) if lower else Band.make(ga, 0, None)
    return [_batched(ctx, ga, y, a), b.sum_to(gc, ctx.shapes(y), ctx.shapes(c))]


def _slogdet(ctx, y, ct):
    """log|det A|: ct * A^-T; the sign has derivative 0."""
    if y.params[0] == 0:
        return [None]
    m = _M(ctx.shapes)
    scale = b.reshape(ct, ctx.shapes(y) + (1, 1), ctx.shapes) if ctx.shapes(y) else ct
    return [b.mul(scale, m.T(Inv.make(y.args[0])))]


def _cholesky(ctx, y, ct):
    """S = L^-T Φ(Lᵀ L̄) L^-1 (Φ: the lower triangle, diagonal halved), the
    symmetric-domain gradient (S + Sᵀ)/2, read from the lower triangle."""
    m = _M(ctx.shapes)
    p = MatMul.make(m.T(y), ct)
    phi = b.add(Band.make(p, None, -1), b.mul(b.HALF, Band.make(p, 0, 0)))
    x = SolveTriangular.make(y, phi, 1, 1)                   # L^-T Φ
    s = m.T(SolveTriangular.make(y, m.T(x), 1, 1))          # (L^-T (L^-T Φ)ᵀ)ᵀ = L^-T Φ L^-1
    return [m.triangle_read(b.mul(b.HALF, b.add(s, m.T(s))))]


def _eigh(ctx, y, ct):
    """w̄: V diag(w̄) Vᵀ; V̄: V (F ∘ Vᵀ V̄) Vᵀ, F_ij = 1/(w_j - w_i); read
    from the triangle eigh reads."""
    (a, (which, upper)), m = (y.args[0], y.params), _M(ctx.shapes)
    v = Eigh.make(a, 1, upper)
    if which == 0:
        g = MatMul.make(b.mul(v, m.row(ct)), m.T(v))
    else:
        inner = b.mul(m.gaps(Eigh.make(a, 0, upper)), MatMul.make(m.T(v), ct))
        g = MatMul.make(MatMul.make(v, inner), m.T(v))
    return [m.triangle_read(g, upper)]


def _svd(ctx, y, ct):
    """A = U diag(s) Vh (reduced).  With F_ij = 1/(s_j² - s_i²), J = Uᵀ Ū,
    K = Vh Vh̄ᵀ: s̄: U diag(s̄) Vh; Ū: U ((F∘(J - Jᵀ)) diag(s)) Vh plus
    (Ū - U J) diag(1/s) Vh if m > k; Vh̄: U (diag(s) (F∘(K - Kᵀ))) Vh plus
    U diag(1/s) (Vh̄ - Kᵀ Vh) if n > k."""
    a, which, m = y.args[0], y.params[0], _M(ctx.shapes)
    u, s, vh = (Svd.make(a, i) for i in range(3))
    rows, cols = ctx.shapes(a)[-2:]
    if which == 1:
        return [MatMul.make(b.mul(u, m.row(ct)), vh)]
    f = m.gaps(b.pow_(s, sp.Integer(2)))
    if which == 0:
        j = MatMul.make(m.T(u), ct)
        core = b.mul(f, b.sub(j, m.T(j)), m.row(s))
        g = MatMul.make(MatMul.make(u, core), vh)
        if rows > min(rows, cols):
            rest = b.mul(b.sub(ct, MatMul.make(u, j)), b.pow_(m.row(s), b.NEG_ONE))
            g = b.add(g, MatMul.make(rest, vh))
        return [g]
    k = MatMul.make(vh, m.T(ct))
    core = b.mul(m.col(s), f, b.sub(k, m.T(k)))
    g = MatMul.make(MatMul.make(u, core), vh)
    if cols > min(rows, cols):
        rest = b.mul(b.pow_(m.col(s), b.NEG_ONE), b.sub(ct, MatMul.make(m.T(k), vh)))
        g = b.add(g, MatMul.make(u, rest))
    return [g]


def _pinv(ctx, y, ct):
    """P = A⁺: Ā = -Pᵀ Ḡ Pᵀ + (I - A P) Ḡᵀ P Pᵀ + Pᵀ P Ḡᵀ (I - P A), where
    the rank does not change."""
    a, m = y.args[0], _M(ctx.shapes)
    pt, gt = m.T(y), m.T(ct)
    x = MatMul.make(gt, MatMul.make(y, pt))
    z = MatMul.make(MatMul.make(pt, y), gt)
    return [b.add(b.neg(MatMul.make(MatMul.make(pt, ct), pt)),
                  b.sub(x, MatMul.make(a, MatMul.make(y, x))),
                  b.sub(z, MatMul.make(MatMul.make(z, y), a)))]


def _qr(ctx, y, ct):
    """M = R R̄ᵀ - Q̄ᵀ Q, Ā = (Q̄ + Q copyltu(M)) R^-T, one term per output."""
    a, m = y.args[0], _M(ctx.shapes)
    q, r = Qr.make(a, 0), Qr.make(a, 1)
    mm = b.neg(MatMul.make(m.T(ct), q)) if y.params[0] == 0 else MatMul.make(r, m.T(ct))
    sym = b.add(Band.make(mm, None, 0), m.T(Band.make(mm, None, -1)))  # copyltu
    g = MatMul.make(q, sym)
    return [m.right_solve_upper_t(b.add(ct, g) if y.params[0] == 0 else g, r)]


def _expm(ctx, y, ct):
    """The upper right block of expm([[Aᵀ, ct], [0, Aᵀ]])."""
    a, m = y.args[0], _M(ctx.shapes)
    shape = ctx.shapes(a)
    n, d = shape[-1], len(shape)
    at = m.T(a)
    top = Concatenate.make(at, b.broadcast_to(ct, shape, ctx.shapes), d - 1)
    bottom = Concatenate.make(BroadcastTo.make(b.ZERO, shape), at, d - 1)
    big = Expm.make(Concatenate.make(top, bottom, d - 2))
    return [Index.make(big, ", ".join([":"] * (d - 2) + [f"0:{n}", f"{n}:{2 * n}"]))]


def _solve_sylvester(ctx, y, ct):
    """x = sylv(A, B, Q), A x + x B = Q: Q̄ = sylv(Aᵀ, Bᵀ, ct), Ā = -Q̄ xᵀ, B̄ = -xᵀ Q̄."""
    (a, c, _), m = y.args, _M(ctx.shapes)
    gq = SolveSylvester.make(m.T(a), m.T(c), ct)
    return [b.neg(MatMul.make(gq, m.T(y))), b.neg(MatMul.make(m.T(y), gq)), gq]


def _sqrtm(ctx, y, ct):
    """X X = A: Ā solves Xᵀ Ā + Ā Xᵀ = X̄."""
    t = b.swap_last(y, ctx.shapes)
    return [SolveSylvester.make(t, t, ct)]


VJPS = {Det: _det, Inv: _inv, Solve: _solve, SolveTriangular: _solve_triangular,
        SlogDet: _slogdet, Cholesky: _cholesky, Eigh: _eigh, Svd: _svd, Pinv: _pinv, Qr: _qr,
        Expm: _expm, SolveSylvester: _solve_sylvester, Sqrtm: _sqrtm}
