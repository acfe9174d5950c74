"""NumPy functions across their options: each traced value against NumPy's
own, each gradient against central differences (a random cotangent makes
every output element count).  tests/test_arrays.py has one case per
function, also checked at second order; here are the sweeps."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import zygote_sym as zs
from zygote_sym.testing import check_grads

rng = np.random.default_rng(7)
A, B, V = rng.standard_normal((3, 4)), rng.standard_normal((2, 3, 4)), rng.standard_normal(7)
S5 = rng.standard_normal((5, 5))


def check(g, *args):
    """g (any output pytree of arrays) against NumPy and central differences."""
    out = g(*args)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    ws = [rng.standard_normal(np.shape(o)) for o in outs]

    def f(*x):
        o = g(*x)
        return sum(np.sum(p * w) for p, w in zip(list(o) if isinstance(o, (list, tuple)) else [o],
                                                 ws))
    check_grads(f, *args)
    assert_allclose(zs.withgradient(f, *args).val, f(*args), rtol=1e-10, atol=1e-12)


def _sweep(*cases):
    return pytest.mark.parametrize("g, args", cases, ids=[str(i) for i in range(len(cases))])


@_sweep(*[(lambda x, a=a, s=s: np.rollaxis(x, a, s), (B,)) for a in range(3) for s in range(4)],
        *[(lambda x, r=r: np.tile(x, r), (B,)) for r in [(1, 4, 1, 2), (2,), 2, (3, 2, 1, 1)]],
        *[(lambda x, r=r, a=a: np.repeat(x, r, a), (B,))
          for r, a in [(2, 1), ([1, 0, 2], 1), (2, None), (0, 0), (1, -1)]],
        *[(lambda x, s=s, a=a: np.roll(x, s, a), (B,))
          for s, a in [(2, 1), (-3, None), ((1, 2), (0, 2))]],
        (lambda x: (np.flipud(x), np.fliplr(x)), (B,)),
        *[(lambda x, k=k, ax=ax: np.rot90(x, k, ax), (B,))
          for k in (-1, 0, 1, 2, 3) for ax in [(0, 1), (1, 2), (2, 0)]],
        *[(lambda x, k=k, f=f: f(x, k), (S5,)) for k in (-1, 0, 2) for f in (np.tril, np.triu)],
        (lambda x: np.triu(x, 1), (B,)), (lambda x: np.tril(x[0, 0]), (B,)),
        *[(lambda x, w=w, m=m: np.pad(x, w, m), (B,))
          for w in [1, ((1, 2), (0, 1), (2, 0))] for m in ("edge", "reflect", "symmetric", "wrap")],
        (lambda x: np.pad(x, ((1, 0), (2, 1), (0, 3)), constant_values=((1, 2), (3, 4), (5, 6))),
         (B,)),
        (lambda x: np.pad(x[1:], 2, constant_values=x[0]), (V,)))
def test_rearrangements(g, args):
    check(g, *args)


@_sweep(*[(lambda x, f=f, a=a: f(x, a), (rng.standard_normal((4, 8)),))
          for f, a in [(np.split, 4), (np.split, [1, 2]), (np.array_split, 3), (np.hsplit, [1, 5]),
                       (np.vsplit, 2), (np.array_split, [3, 5])]],
        (lambda x: np.dsplit(x, [1, 2]), (rng.standard_normal((4, 4, 4)),)),
        (lambda x: np.split(x, 2, axis=2), (B,)),
        (lambda x, y: (np.append(x, y), np.append(x, x, axis=0)), (A, V)))
def test_splits_and_append(g, args):
    check(g, *args)


@_sweep(*[(lambda x, y, kw=kw: np.cross(x, y, **kw), (S5[:3, :3], S5[2:, 2:]))
          for kw in [{}, {"axisa": 0}, {"axisa": 1, "axisb": 0, "axisc": 0}, {"axis": 0}]],
        (lambda x, y: np.cross(x[:, :2], y), (S5[:3, :3], S5[2:, 2:])),
        (lambda x, y: np.cross(x[:, :2], y[:, :2]), (S5[:3, :3], S5[2:, 2:])),
        *[(lambda x, y: np.kron(x, y), (rng.standard_normal(sa), rng.standard_normal(sb)))
          for sa, sb in [((5, 5), (3, 3)), ((5,), (3,)), ((5, 1), (1, 3)), ((), ()),
                         ((2, 3, 2), (2, 2))]],
        (lambda a, b: np.einsum(a, (0, 1, 2), b, (3, 1, 0), (3, 2, 0)),
         (rng.standard_normal((3, 4, 4)), rng.standard_normal((4, 4, 3)))),
        (lambda a, b: np.einsum(a, (Ellipsis, 0, 1), b, (Ellipsis, 1, 2), (Ellipsis, 0, 2)),
         (rng.standard_normal((2, 2, 3)), rng.standard_normal((3, 4)))),
        (lambda a: np.einsum(a, (0, 1)), (A,)))
def test_products(g, args):
    check(g, *args)


XP = np.cumsum(rng.random(6) + 0.1)


@_sweep((lambda a, b: np.linspace(a, b, 7), (0.3, 2.0)),
        (lambda a, b: np.linspace(a, b, 7, endpoint=False), (0.3, 2.0)),
        (lambda a, b: np.linspace(a, b, 4, axis=1), (V[:3], A[:2, :3])),
        (lambda a, b: np.linspace(a, b, 1), (0.3, 2.0)),
        (lambda a, b: np.linspace(a, b, 5, retstep=True), (0.3, 2.0)),
        (lambda x: np.gradient(x), (A,)), (lambda x: np.gradient(x, axis=1), (A,)),
        (lambda x: np.gradient(x, 0.5, axis=0, edge_order=2), (rng.standard_normal((5, 6)),)),
        (lambda x: np.gradient(x, 2.0, XP), (rng.standard_normal((5, 6)),)),
        (lambda x: np.gradient(x, XP[:5], axis=0, edge_order=2), (rng.standard_normal((5, 6)),)),
        (lambda x: np.gradient(x, axis=(0, -1)), (rng.standard_normal((5, 5, 5)),)),
        (lambda x, xp, fp: np.interp(x, xp, fp), (np.array([2.0, 0.7 * XP[1] + 0.3 * XP[2]]),
                                                  XP, V[:6])),
        (lambda x, fp: np.interp(x, XP, fp), (np.array([-1.0, 0.5 * (XP[1] + XP[2]), 100.0]),
                                              V[:6])),
        (lambda fp: np.interp(XP + 0.01, XP, fp, left=-3.0, right=fp[0]), (V[:6],)),
        (lambda x: (np.median(x), np.median(x, axis=1), np.median(x, axis=0, keepdims=True)),
         (A,)),
        (lambda x: (np.percentile(x, [10, 50, 90]), np.percentile(x, 30, axis=(0, 1))), (B,)),
        (lambda x: np.quantile(x, [[0.2, 0.3], [0.5, 0.7]], axis=1, keepdims=True), (A,)),
        *[(lambda x, m=m: np.quantile(x, [0.1, 0.33, 0.8], axis=0, method=m), (A,))
          for m in ["lower", "higher", "nearest", "midpoint", "weibull", "hazen",
                    "median_unbiased", "inverted_cdf", "closest_observation",
                    "interpolated_inverted_cdf", "averaged_inverted_cdf", "normal_unbiased"]],
        (lambda x: np.nan_to_num(x + np.array([1, np.inf, -np.inf, np.nan, 1, 1, 1]),
                                 nan=3.0, posinf=7.0, neginf=-1.0), (V,)),
        (lambda x: np.sinc(x), (np.array([0.0, 0.3, -1.2, 2.0]),)),
        (lambda x: x * np.round(x) + np.around(x, 1) * x + np.fix(x) + np.round(x, -1), (V * 10,)),
        (lambda x: (x * np.rint(x), np.trunc(x) * x), (V * 3,)))
def test_numerical_routines(g, args):
    check(g, *args)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("m, n", [(1, 1), (2, 5), (5, 2), (5, 3), (4, 4), (3, 6)])
def test_convolve_correlate(m, n, mode):
    a, v = rng.standard_normal(m), rng.standard_normal(n)
    check(lambda a, v: (np.convolve(a, v, mode), np.correlate(a, v, mode)), a, v)


def _psd(n, *batch):
    low = rng.standard_normal(batch + (n, n))
    return low @ np.swapaxes(low, -1, -2) + n * np.eye(n)


@_sweep((lambda a: np.linalg.cholesky(a), (_psd(4),)),
        (lambda a: np.linalg.cholesky(a), (_psd(4) + np.triu(S5[:4, :4], 1),)),  # lower read
        (lambda a: np.linalg.cholesky(a, upper=True), (_psd(3, 2),)),
        (lambda a: tuple(np.linalg.slogdet(a)), (S5,)),
        (lambda a: tuple(np.linalg.eigh(a)), (S5,)),  # not symmetric: its lower triangle
        (lambda a: tuple(np.linalg.eigh(a, "U")), (S5,)),
        (lambda a: tuple(np.linalg.eigh(a)), (_psd(3, 2),)),
        (lambda a: np.linalg.eigvalsh(a), (_psd(3, 2),)),
        *[(lambda a: tuple(np.linalg.svd(a, full_matrices=False)), (rng.standard_normal(s),))
          for s in [(3, 5), (5, 3), (4, 4), (2, 3, 5), (2, 5, 3)]],
        *[(lambda a: (np.linalg.pinv(a), np.linalg.svd(a, compute_uv=False),
                      np.linalg.norm(a, 2, (-2, -1)), np.linalg.norm(a, "nuc", (-2, -1)),
                      np.linalg.norm(a, -2, (-2, -1))), (rng.standard_normal(s),))
          for s in [(3, 5), (5, 3), (2, 4, 4)]],
        (lambda a: np.linalg.norm(a, "nuc", axis=(0, 2), keepdims=True), (B,)),
        (lambda a, b: np.linalg.lstsq(a, b)[:2], (S5[:, :3], S5[:, 3:])),
        (lambda a: tuple(np.linalg.qr(a)), (S5[:, :3],)),
        (lambda a: np.linalg.qr(a, "r"), (rng.standard_normal((2, 5, 3)),)),
        (lambda a: (np.linalg.multi_dot([a, a.T, a]), np.linalg.matrix_power(a, 3),
                    np.linalg.matrix_power(a, -2)), (S5,)))
def test_linalg(g, args):
    check(g, *args)


def test_repeated_eigenvalues_give_basis_invariant_gradients():
    """Where eigenvalues tie, a function of eigenvalues and eigenspaces (here
    a projector) is differentiable and its gradient is finite and right."""
    d = np.diag([1.0, 1.0, 2.0])

    def f(a):
        w, v = np.linalg.eigh(a)
        proj = v[:, :2] @ v[:, :2].T
        return np.sum(w ** 2) + np.sum(proj * np.arange(9.0).reshape(3, 3))
    check_grads(f, d)


@pytest.mark.parametrize("f, x, message", [
    (lambda x: np.linalg.eig(x)[0].sum(), np.eye(2), r"np\.linalg\.eig on"),
    (lambda x: np.pad(x, 1, "median").sum(), np.ones(3), r"np\.pad with mode='median'"),
    (lambda x: np.linalg.qr(x)[1].sum(), np.ones((2, 3)), r"np\.linalg\.qr of a wide matrix"),
    (lambda x: np.linalg.svd(x)[1].sum(), np.ones((2, 3)), r"np\.linalg\.svd with full_matrices"),
    (lambda x: np.fft.fft(x).real.sum(), np.ones(3), r"np\.fft\.fft"),
])
def test_missing_rules_name_the_public_function(f, x, message):
    with pytest.raises(zs.NoRuleError, match=message + r".*zygote_sym\.custom_vjp"):
        zs.gradient(f, x)


def test_truth_values_are_numbers():
    x = np.array([0.5, 1.0, -2.0])
    for f, want in [(lambda x: np.sum(x == 0.5) * np.sum(x), [1.0, 1.0, 1.0]),
                    (lambda x: np.sum(x - (x > 0)), [1.0, 1.0, 1.0]),
                    (lambda x: np.sum((x > 0) * x), [1.0, 1.0, 0.0]),
                    (lambda x: np.sum(True + x), [1.0, 1.0, 1.0]),
                    (lambda x: np.sum(np.isfinite(x) * x + np.isnan(x)), [1.0, 1.0, 1.0])]:
        val, (grad,) = zs.withgradient(f, x)
        assert val == f(x)
        assert_allclose(grad, want)
