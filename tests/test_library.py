"""Library proxies (zygote_sym/trace/library.py): SciPy's Python functions
and NumPy's constructors on traced values, in unchanged user code (the
trace substitutes the proxies where f reaches these modules and objects).

Values against SciPy/NumPy themselves, gradients against central
differences; a proxy behaves as the original everywhere else, and the
user's modules are left as they were."""
import functools
import types

import numpy
import pytest
import scipy
import scipy.linalg
import scipy.signal
import scipy.special
import scipy.stats
from numpy.testing import assert_allclose

import zygote_sym as zs
from zygote_sym.testing import check_grads
from zygote_sym.trace import library

from scipy.stats import norm
import scipy.special as sc

np, st = numpy, scipy.stats  # plain modules: what users write
rng = numpy.random.default_rng(3)
X4, P4, U4 = rng.standard_normal(4), rng.standard_normal(4) ** 2 + 1.1, rng.uniform(0, 1, 4)


def _check(f, *args, want):
    """f's gradient against central differences, its traced value against `want`."""
    check_grads(f, *args)
    assert_allclose(zs.withgradient(f, *args).val, want, rtol=1e-10)


# ------------------------------------------------------------ the proxies
HELPER = """
import numpy as np
from scipy.special import logsumexp
from scipy import stats

def lse(x):
    return logsumexp(np.array([x[0], 2.0 * x[1], x[0] * x[1]]))

class Model:
    def loss(self, m):
        assert type(self) is Model
        return np.sum(stats.norm.logpdf(m, 0.5, 2.0))

    def indirect(self, m):
        return self.loss(m)

state = 0.0

def read_state():
    return state

def set_and_read(x):  # runs on a copy of the module's globals (np is a proxy there)
    global state
    state = 3.0
    return np.sin(x) * read_state()  # which read_state must see too
"""


def test_unchanged_user_code(tmp_path, monkeypatch):
    """Module-level imports, another user module, a closure: no proxy written."""
    assert zs.gradient(lambda m: norm.logpdf(1.0, m, 2.0), 0.3)[0] == pytest.approx((1.0 - 0.3) / 4)
    x = rng.standard_normal(3)
    _check(lambda x: sc.logsumexp(x), x, want=scipy.special.logsumexp(x))
    (tmp_path / "zs_helper_mod.py").write_text(HELPER)
    monkeypatch.syspath_prepend(str(tmp_path))
    import zs_helper_mod as helper
    before = dict(vars(helper), state=3.0)
    want = scipy.special.logsumexp([x[0], 2 * x[1], x[0] * x[1]])
    _check(lambda x: helper.lse(x), x, want=want)
    lse = helper.lse
    _check(lambda x: lse(x) * 2.0, x, want=2 * want)  # a closure over another module's function
    assert zs.gradient(helper.set_and_read, 0.0) == (3.0,)  # f's own change is kept:
    assert vars(helper) == before and helper.np is numpy and helper.logsumexp is scipy.special.logsumexp
    assert norm is scipy.stats.norm and sc is scipy.special and globals()["np"] is numpy
    model = helper.Model()  # a bound method: the method is rebuilt, the class stays itself
    _check(model.loss, X4, want=numpy.sum(scipy.stats.norm.logpdf(X4, 0.5, 2.0)))
    # a method reached through the class (self.loss): no shadow class is made for a proxy
    # (it would change type(self)), so the library sees the tracer and refuses, as before
    with pytest.raises(zs.TracerConversionError):
        zs.gradient(model.indirect, X4)


def test_index_constructors_and_questions():
    c = rng.standard_normal((3, 2))
    for f in [lambda x: np.r_[x, c, x], lambda x: np.c_[x, c, x],
              lambda x: np.c_[x[:, 0], 2.0 * x[:, 1], c], lambda x: np.r_[x[0], c[:, 0], 1:4, 5.0]]:
        _check(lambda x: np.sum(np.sin(f(x))), c + 1, want=np.sum(np.sin(f(c + 1))))
    with pytest.raises(zs.NoRuleError, match="directive"):
        zs.gradient(lambda x: np.sum(np.r_["0,2", x, x]), c)
    grad = zs.gradient(lambda x: x * np.iscomplexobj(x) + np.isreal(x) * x - np.iscomplex(x), 1.5)
    assert grad == (1.0,)


def test_a_proxy_behaves_as_the_original():
    npp, stp = library.proxy(numpy), library.proxy(scipy.stats)
    assert isinstance(npp, types.ModuleType) and isinstance(numpy.ones(2), npp.ndarray)
    assert npp.pi == numpy.pi and npp.random is numpy.random and npp.float64 is numpy.float64
    assert isinstance(stp.norm, type(scipy.stats.norm))
    assert library.proxy(numpy.sum) is numpy.sum and library.proxy(3) == 3
    assert library.proxy(npp) is npp and library.proxy(types) is types
    assert npp.array([1.0, 2.0]).tolist() == [1.0, 2.0]  # no tracer: the original
    assert npp.r_[numpy.ones(2), 1:3].tolist() == [1.0, 1.0, 1.0, 2.0]
    assert library.proxy(scipy.special.logsumexp)(numpy.zeros(2)) == numpy.log(2)
    assert st.norm.rvs(size=2, random_state=0).shape == (2,)
    assert library.proxy(scipy).special.logsumexp is library.proxy(scipy.special).logsumexp
    partial = functools.partial(scipy.special.logsumexp, axis=0)  # reached through a closure
    assert_allclose(zs.gradient(lambda x: np.sum(partial(x)), numpy.zeros((2, 3)))[0], 0.5)


def test_array_of_traced_scalars():
    f = lambda a, b: np.sum(np.array([a * b, a + b, np.sin(a), 1.0]) ** 2)  # noqa: E731
    _check(f, 0.3, 1.7, want=f(0.3, 1.7))
    g = lambda x: np.sum(np.array([[x[0], 2.0], [x[1] * x[0], x[2]]]) @ np.asarray(x[:2]))  # noqa
    x = numpy.array([0.3, 1.2, -0.5])
    _check(g, x, want=g(x))


def test_array_casts():
    x = numpy.array([0.3, 1.2, -2.5])
    f = lambda x: np.sum(np.array(x, dtype=int) * x) + np.sum(np.array(x, ndmin=3) ** 2)  # noqa
    val, (grad,) = zs.withgradient(f, x)
    assert val == f(x)
    assert_allclose(grad, numpy.array(x, dtype=int) + 2 * x)  # the int cast is a step


# ------------------------------------------------------------ scipy.stats
@pytest.mark.parametrize("method", ["pdf", "logpdf", "cdf", "logcdf", "sf", "logsf"])
@pytest.mark.parametrize("dist, args, argnums", [
    ("norm", (X4, X4[::-1], P4), (0, 1, 2)),
    ("t", (X4, P4 + 1, X4[::-1], P4), (0, 2)),
    ("chi2", (P4, 3), (0,)),
    ("gamma", (P4, P4[::-1]), (0,)),
    ("beta", (U4, P4, P4[::-1]), (0,)),
])
def test_continuous_distributions(dist, args, argnums, method):
    def f(*diff):
        a = list(args)
        for i, d in zip(argnums, diff):
            a[i] = d
        return np.sum(getattr(getattr(st, dist), method)(*a))
    want = numpy.sum(getattr(getattr(scipy.stats, dist), method)(*args))
    _check(f, *[args[i] for i in argnums], want=want)


@pytest.mark.parametrize("dist, args", [("t", (X4, P4 + 1, 0.5, P4)), ("gamma", (P4, P4[::-1])),
                                        ("beta", (U4, P4, P4[::-1]))])
def test_shape_parameters_of_densities(dist, args):
    f = lambda *a: np.sum(getattr(st, dist).logpdf(*a))  # noqa: E731
    _check(f, *args, want=numpy.sum(getattr(scipy.stats, dist).logpdf(*args)))


@pytest.mark.parametrize("method", ["pmf", "logpmf", "cdf", "logcdf", "sf", "logsf"])
def test_poisson(method):
    k = numpy.round(P4 ** 2)
    _check(lambda mu: np.sum(getattr(st.poisson, method)(k, mu)), P4,
           want=numpy.sum(getattr(scipy.stats.poisson, method)(k, P4)))


def test_frozen_distributions():
    _check(lambda x: np.sum(st.norm(0.5, 2.0).logpdf(x)), X4,
           want=numpy.sum(scipy.stats.norm(0.5, 2.0).logpdf(X4)))
    _check(lambda x, loc: np.sum(st.norm(loc, scale=2.0).cdf(x)), X4, 0.3,
           want=numpy.sum(scipy.stats.norm(0.3, 2.0).cdf(X4)))
    frozen = scipy.stats.t(3.5, 0.2)  # a user's frozen object
    _check(lambda x: np.sum(frozen.logpdf(x)), X4, want=numpy.sum(scipy.stats.t(3.5, 0.2).logpdf(X4)))
    assert frozen.mean() == scipy.stats.t(3.5, 0.2).mean()


def test_multivariate_normal_and_dirichlet():
    d = 3
    low = rng.standard_normal((d, d))
    cov, mean, x = low @ low.T + d * numpy.eye(d), rng.standard_normal(d), rng.standard_normal((5, d))
    want = numpy.sum(scipy.stats.multivariate_normal.logpdf(x, mean, cov))
    _check(lambda x, m, c: np.sum(st.multivariate_normal.logpdf(x, m, c)), x, mean, cov, want=want)
    _check(lambda m: np.sum(st.multivariate_normal(m, cov).pdf(x)), mean,
           want=numpy.sum(scipy.stats.multivariate_normal.pdf(x, mean, cov)))
    frozen = scipy.stats.multivariate_normal(mean, cov)
    _check(lambda x: np.sum(frozen.logpdf(x)), x, want=want)
    _check(lambda m, c: st.multivariate_normal.entropy(m, c), mean, cov,
           want=scipy.stats.multivariate_normal.entropy(mean, cov))
    singular = numpy.diag([1.0, 2.0, 0.0])  # allow_singular: the pseudo-determinant, pinv

    def on_support(x, m):  # x varies only where the variance is not 0
        return np.concatenate([x, m[2:]]), m
    _check(lambda x, m: np.sum(st.multivariate_normal.logpdf(*on_support(x, m), singular,
                                                             allow_singular=True)),
           x[0, :2], mean, want=scipy.stats.multivariate_normal.logpdf(
               *on_support(x[0, :2], mean), singular, allow_singular=True))
    alpha, p = numpy.array([1.2, 2.5, 3.0]), numpy.array([[0.2, 0.3], [0.3, 0.2], [0.5, 0.5]])
    _check(lambda a: np.sum(st.dirichlet.logpdf(p, a)), alpha,
           want=numpy.sum(scipy.stats.dirichlet.logpdf(p, alpha)))
    _check(lambda a: st.dirichlet.pdf(p[:2, 0], a), alpha,
           want=scipy.stats.dirichlet.pdf(p[:, 0], alpha))


# ------------------------------------------------------------ scipy.special
def test_special_functions():
    a = rng.standard_normal((3, 4))
    for kw in [{}, {"axis": 1}, {"axis": 0, "keepdims": True},
               {"axis": 1, "b": numpy.abs(rng.standard_normal(4))}]:
        _check(lambda a: np.sum(sc.logsumexp(a, **kw) ** 2), a,
               want=numpy.sum(scipy.special.logsumexp(a, **kw) ** 2))
    b = rng.standard_normal((3, 4))
    out, sign = scipy.special.logsumexp(a, axis=1, b=b, return_sign=True)
    _check(lambda a: np.sum(sc.logsumexp(a, axis=1, b=b, return_sign=True)[0]), a,
           want=numpy.sum(out))
    for name in ["softmax", "log_softmax"]:
        _check(lambda a: np.sum(getattr(sc, name)(a, axis=1) * b), a,
               want=numpy.sum(getattr(scipy.special, name)(a, axis=1) * b))
    _check(lambda u: np.sum(sc.polygamma(2, u + 1)), U4, want=numpy.sum(scipy.special.polygamma(2, U4 + 1)))
    _check(lambda u: np.sum(sc.multigammaln(u + 4, 3)), U4,
           want=numpy.sum(scipy.special.multigammaln(U4 + 4, 3)))


def test_a_derivative_in_an_order_is_refused():
    with pytest.raises(zs.NoRuleError, match=r"scipy\.special\.iv .*zygote_sym\.custom_vjp"):
        zs.gradient(lambda v, x: scipy.special.iv(v, x), 1.0, 2.0)
    assert zs.gradient(lambda x: scipy.special.iv(1.0, x), 2.0)[0] == pytest.approx(
        (scipy.special.iv(0, 2.0) + scipy.special.iv(2, 2.0)) / 2)


# ------------------------------------------------------------ scipy.signal
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("shapes", [((4, 5), (2, 3)), ((3, 3), (4, 2)), ((2, 2), (3, 3))])
def test_signal(shapes, mode):
    ss = scipy.signal
    a, k = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    calls = [("convolve", {}), ("correlate", {}), ("convolve2d", {}),
             ("correlate2d", {"boundary": "wrap"}), ("convolve2d", {"boundary": "symm"}),
             ("correlate2d", {"fillvalue": 2.0})]
    for name, kw in calls:
        try:
            want = getattr(scipy.signal, name)(a, k, mode, **kw)
        except ValueError:  # SciPy refuses this shape and mode
            continue
        w = rng.standard_normal(want.shape)
        _check(lambda a, k: np.sum(getattr(ss, name)(a, k, mode, **kw) * w), a, k,
               want=numpy.sum(want * w))


# ------------------------------------------------------------ scipy.linalg
_A = rng.standard_normal((4, 4))
_P, _B = _A @ _A.T + 4 * numpy.eye(4), rng.standard_normal((4, 2))
LINALG = {  # name: (f(lib, *args) for lib = scipy.linalg or its proxy, args)
    "solve_triangular": (lambda lib, a, b: lib.solve_triangular(a, b, trans="T", lower=True),
                         (_A, _B)),
    "solve_triangular unit": (lambda lib, a, b: lib.solve_triangular(a, b[:, 0],
                                                                     unit_diagonal=True), (_A, _B)),
    "cho_solve": (lambda lib, p, b: lib.cho_solve(lib.cho_factor(p), b), (_P, _B)),
    "cho_solve lower": (lambda lib, p, b: lib.cho_solve(lib.cho_factor(p, lower=True), b),
                        (_P, _B)),
    "cho_factor": (lambda lib, p: lib.cho_factor(p)[0], (_P,)),
    "cholesky": (lambda lib, p: lib.cholesky(p), (_P,)),
    "block_diag": (lambda lib, a, b: lib.block_diag(a, b, 1.0), (_A, _B)),
    "expm": (lambda lib, a: lib.expm(a / 2), (_A,)),
    "sqrtm": (lambda lib, p: lib.sqrtm(p), (_P,)),
    "solve_sylvester": (lambda lib, a, p: lib.solve_sylvester(a + 4 * numpy.eye(4), p, a),
                        (_A, _P)),
    "solve assume_a": (lambda lib, p, b: lib.solve(p + numpy.triu(_A, 1), b, assume_a="pos"),
                       (_P, _B)),
    "inv det pinv": (lambda lib, a: lib.inv(a) + lib.det(a) + lib.pinv(a), (_A,)),
    "eigh": (lambda lib, p: lib.eigh(p, eigvals_only=True), (_P,)),
    "svd": (lambda lib, a: lib.svd(a, compute_uv=False), (_A,)),
    "solve_banded": (lambda lib, ab, b: lib.solve_banded((1, 2), ab, b),
                     (_A + [[0.0], [0.0], [5.0], [0.0]], _B)),
}


@pytest.mark.parametrize("name", LINALG)
def test_scipy_linalg(name):
    f, args = LINALG[name]
    sl = scipy.linalg
    w = rng.standard_normal(numpy.shape(f(scipy.linalg, *args)))
    _check(lambda *x: np.sum(f(sl, *x) * w), *args,
           want=numpy.sum(f(scipy.linalg, *args) * w))


def test_scipy_optimize_rosen_as_scipys_documentation_uses_it():
    """SciPy's own test function (its array namespace converts the input):
    the gradient is SciPy's rosen_der, the Hessian SciPy's rosen_hess, also
    as the Jacobian of rosen_der."""
    from scipy.optimize import rosen, rosen_der, rosen_hess
    x = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    np.testing.assert_allclose(zs.gradient(rosen, x)[0], rosen_der(x), rtol=1e-14)
    np.testing.assert_allclose(zs.hessian(rosen, x), rosen_hess(x), rtol=1e-14)
    np.testing.assert_allclose(zs.jacobian(rosen_der, x)[0], rosen_hess(x), rtol=1e-14)
    np.testing.assert_allclose(zs.compile(rosen).gradient(x)[0], rosen_der(x), rtol=1e-14)
