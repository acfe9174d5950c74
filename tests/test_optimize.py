"""zs.optimize second-order methods (compiled Hessian / Hessian-vector product) and
fit statistics (standard errors, covariance) against SciPy and NIST's certified values."""
import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
from scipy.optimize import OptimizeWarning, curve_fit, rosen, rosen_hess, rosen_hess_prod

import zygote_sym as zs
from zygote_sym.cli import nist

DATA = Path(__file__).resolve().parent.parent / "examples" / "data" / "nist_strd"
TIGHT = dict(xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=20_000)


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)


@pytest.fixture
def traces(caplog):
    """The number of kernels traced so far (compile logs each new specialization)."""
    caplog.set_level(logging.DEBUG, logger="zygote_sym.compile")
    return lambda: sum("new specialization" in r.getMessage() for r in caplog.records)


# --- second-order methods -----------------------------------------------------------

@pytest.mark.parametrize("n", [2, 10])
def test_hess_and_hessp_equal_scipys_rosenbrock_formulas(n):
    rng = np.random.default_rng(n)
    fun, hess, hessp, x0, _ = zs.optimize.objective(rosenbrock, np.zeros(n), hess=True,
                                                    hessp=True)
    for _ in range(3):
        x, p = rng.normal(size=n), rng.normal(size=n)
        v, g = fun(x)
        assert v == pytest.approx(rosen(x), rel=1e-14)
        np.testing.assert_allclose(hess(x), rosen_hess(x), rtol=1e-13, atol=1e-10)
        np.testing.assert_allclose(hessp(x, p), rosen_hess_prod(x, p), rtol=1e-12, atol=1e-10)
        assert hess(x).shape == (n, n) and hessp(x, p).shape == (n,)


STARTS = {2: np.array([-1.2, 1.0]), 10: np.tile([1.3, 0.7, 0.8, 1.9, 1.2], 2)}
OPTIONS = {"trust-exact": {"gtol": 1e-12}, "trust-ncg": {"gtol": 1e-12},
           "trust-krylov": {"gtol": 1e-12}, "Newton-CG": {"xtol": 1e-14}}


# SciPy's trlib (trust-krylov) warns so with SciPy's own rosen_hess_prod too
@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply:RuntimeWarning")
@pytest.mark.parametrize("n", [2, 10])
@pytest.mark.parametrize("method", list(OPTIONS))
def test_second_order_methods_reach_the_rosenbrock_minimum(method, n, traces):
    x0 = STARTS[n]
    if method == "trust-krylov" and n == 2:
        # from (-1.2, 1) SciPy's trlib stalls 1.2e-8 away after 400 iterations,
        # with SciPy's own rosen_hess_prod as well
        x0 = np.array([1.3, 0.7])
    # the one line: each method gets the derivatives it uses
    res = zs.optimize.minimize(rosenbrock, x0, method=method, options=OPTIONS[method])
    np.testing.assert_allclose(res.params, np.ones(n), rtol=0, atol=1e-8)
    assert res.nhev > 0 and res.nit > 3      # SciPy used our second derivatives
    assert traces() == 2                     # gradient and hess (or hessp), traced once each


def test_objective_hess_hessp_by_hand_and_kernels_reused(traces):
    fun, hess, x0, _ = zs.optimize.objective(rosenbrock, STARTS[2], hess=True)
    res = scipy.optimize.minimize(fun, x0, jac=True, hess=hess, method="trust-exact")
    np.testing.assert_allclose(res.x, 1.0, atol=1e-8)
    for k in range(5):
        np.testing.assert_allclose(hess(x0 + k), rosen_hess(x0 + k), rtol=1e-13)
    assert traces() == 2 and res.nhev > 3    # no retrace across calls
    fun, hessp, x0, _ = zs.optimize.objective(rosenbrock, STARTS[2], hessp=True)
    res = scipy.optimize.minimize(fun, x0, jac=True, hessp=hessp, method="Newton-CG",
                                  options={"xtol": 1e-14})
    np.testing.assert_allclose(res.x, 1.0, atol=1e-8)
    assert traces() == 4 and hessp.compiled.source.startswith("def ")


def test_hess_of_a_pytree_matches_central_differences_of_the_gradient():
    def loss(p, A):
        w, s = p["w"], p["s"]
        return np.sum(np.sin(A @ w) * s**2) + np.exp(0.3 * s) * np.sum(w**2)

    A = np.array([[1.0, 2.0], [0.5, -1.0], [0.3, 0.1]])
    params = {"w": np.array([0.2, -0.4]), "unused": np.ones(2), "s": 0.7, "tag": "static"}
    fun, hess, hessp, x0, _ = zs.optimize.objective(loss, params, A, hess=True, hessp=True)
    H = hess(x0)
    h, fd = 1e-5, np.empty((5, 5))
    for j in range(5):
        e = np.zeros(5)
        e[j] = h
        fd[:, j] = (fun(x0 + e)[1] - fun(x0 - e)[1]) / (2 * h)
    np.testing.assert_allclose(H, fd, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(H[2:4], 0.0)                  # params['unused']
    np.testing.assert_array_equal(H[:, 2:4], 0.0)
    np.testing.assert_allclose(H, H.T, rtol=1e-14)
    p = np.array([1.0, -2.0, 3.0, 4.0, 0.5])
    np.testing.assert_allclose(hessp(x0, p), H @ p, rtol=1e-12)


def test_second_derivatives_of_a_loss_without_curvature_are_zero():
    fun, hess, hessp, x0, _ = zs.optimize.objective(lambda p: 3 * p["a"] - np.sum(p["b"]),
                                                    {"a": 1.0, "b": np.ones(2)},
                                                    hess=True, hessp=True)
    np.testing.assert_array_equal(hess(x0), np.zeros((3, 3)))
    np.testing.assert_array_equal(hessp(x0, np.ones(3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        hessp(x0, np.ones(4))


def test_second_order_on_a_nist_problem_reaches_the_certified_values():
    # Misra1a's sum of squares in parameters scaled by Start 2 (b1 ~ 250 and
    # b2 ~ 5e-4 unscaled would leave the trust region badly shaped)
    ds = nist.parse(DATA / "Misra1a.dat")
    scale = ds.start2

    def sse(c, x, y):
        return nist.sse(c * scale, x, y, nist.misra1a)
    for method in OPTIONS:
        res = zs.optimize.minimize(sse, np.ones(2), ds.x, ds.y, method=method,
                                   options={**OPTIONS[method], "maxiter": 200})
        assert nist.agree(res.x * scale, ds.certified, digits=6), (method, res.message)


# --- fit: standard errors and covariance ---------------------------------------------

@pytest.mark.parametrize("name", ["Misra1a", "Thurber", "MGH09", "Rat43", "Eckerle4",
                                  "BoxBOD"])
def test_fit_standard_errors_equal_nists_certified_values(name):
    ds = nist.parse(DATA / f"{name}.dat")
    res = zs.optimize.fit(nist.residuals, ds.start2, ds.x, ds.y, nist.MODELS[name], **TIGHT)
    assert res.success and nist.agree(res.x, ds.certified, digits=6)
    # NIST gives 11 significant digits; these agree to 7 or more
    assert nist.agree(res.stderr, ds.certified_sd, digits=6), nist.lre(res.stderr,
                                                                         ds.certified_sd)
    assert res.dof == len(ds.x) - ds.n_params
    assert res.rss == pytest.approx(ds.rss_certified, rel=1e-9)
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov)), res.stderr, rtol=1e-15)
    np.testing.assert_allclose(np.diag(res.corr), 1.0, rtol=1e-14)


# NIST StRD linear regression (https://www.itl.nist.gov/div898/strd/lls/lls.shtml):
# the data and certified values of Norris.dat and Longley.dat.
NORRIS_X = [0.2, 337.4, 118.2, 884.6, 10.1, 226.5, 666.3, 996.3, 448.6, 777.0, 558.2, 0.4,
            0.6, 775.5, 666.9, 338.0, 447.5, 11.6, 556.0, 228.1, 995.8, 887.6, 120.2, 0.3,
            0.3, 556.8, 339.1, 887.2, 999.0, 779.0, 11.1, 118.3, 229.2, 669.1, 448.9, 0.5]
NORRIS_Y = [0.1, 338.8, 118.1, 888.0, 9.2, 228.1, 668.5, 998.5, 449.1, 778.9, 559.2, 0.3,
            0.1, 778.1, 668.8, 339.3, 448.9, 10.8, 557.7, 228.3, 998.0, 888.8, 119.6, 0.3,
            0.6, 557.6, 339.3, 888.0, 998.5, 778.9, 10.2, 117.6, 228.9, 668.4, 449.2, 0.2]
LONGLEY = np.array([  # y, x1 .. x6
    [60323, 83.0, 234289, 2356, 1590, 107608, 1947],
    [61122, 88.5, 259426, 2325, 1456, 108632, 1948],
    [60171, 88.2, 258054, 3682, 1616, 109773, 1949],
    [61187, 89.5, 284599, 3351, 1650, 110929, 1950],
    [63221, 96.2, 328975, 2099, 3099, 112075, 1951],
    [63639, 98.1, 346999, 1932, 3594, 113270, 1952],
    [64989, 99.0, 365385, 1870, 3547, 115094, 1953],
    [63761, 100.0, 363112, 3578, 3350, 116219, 1954],
    [66019, 101.2, 397469, 2904, 3048, 117388, 1955],
    [67857, 104.6, 419180, 2822, 2857, 118734, 1956],
    [68169, 108.4, 442769, 2936, 2798, 120445, 1957],
    [66513, 110.8, 444546, 4681, 2637, 121950, 1958],
    [68655, 112.6, 482704, 3813, 2552, 123366, 1959],
    [69564, 114.2, 502601, 3931, 2514, 125368, 1960],
    [69331, 115.7, 518173, 4806, 2572, 127852, 1961],
    [70551, 116.9, 554894, 4007, 2827, 130081, 1962]])
LONGLEY_B = [-3482258.63459582, 15.0618722713733, -0.358191792925910E-01, -2.02022980381683,
             -1.03322686717359, -0.511041056535807E-01, 1829.15146461355]
LONGLEY_SD = [890420.383607373, 84.9149257747669, 0.334910077722432E-01, 0.488399681651699,
              0.214274163161675, 0.226073200069370, 455.478499142212]


def test_fit_norris_line_equals_certified_values():
    def res(p, x, y):
        return p["b0"] + p["b1"] * x - y
    r = zs.optimize.fit(res, {"b0": 0.0, "b1": 0.0}, np.array(NORRIS_X), np.array(NORRIS_Y))
    assert r.params["b0"] == pytest.approx(-0.262323073774029, rel=1e-9)
    assert r.params["b1"] == pytest.approx(1.00211681802045, rel=1e-12)
    assert r.stderr["b0"] == pytest.approx(0.232818234301152, rel=1e-9)
    assert r.stderr["b1"] == pytest.approx(0.429796848199937E-03, rel=1e-9)
    assert np.sqrt(r.s_sq) == pytest.approx(0.884796396144373, rel=1e-9)   # residual SD
    assert r.dof == 34


def test_fit_longley_equals_certified_values():
    # condition number of the design matrix ~5e9: the SVD keeps ~10 digits
    y, X = LONGLEY[:, 0], np.c_[np.ones(16), LONGLEY[:, 1:]]
    r = zs.optimize.fit(lambda b, X, y: X @ b - y, np.zeros(7), X, y, **TIGHT)
    np.testing.assert_allclose(r.x, LONGLEY_B, rtol=1e-9)
    np.testing.assert_allclose(r.stderr, LONGLEY_SD, rtol=1e-9)
    assert np.sqrt(r.s_sq) == pytest.approx(304.854073561965, rel=1e-9)


def _decay(t, a, k, c):
    return a * np.exp(-k * t) + c


@pytest.mark.parametrize("absolute_sigma", [False, True])
@pytest.mark.parametrize("sigma_kind", ["none", "scalar", "vector", "matrix"])
def test_fit_covariance_equals_curve_fits(sigma_kind, absolute_sigma):
    rng = np.random.default_rng(7)
    t = np.linspace(0, 4, 25)
    sd = 0.05 + 0.1 * t / 4
    y = _decay(t, 2.0, 1.3, 0.5) + sd * rng.normal(size=t.size)
    sigma = {"none": None, "scalar": 0.2, "vector": sd,
             "matrix": np.diag(sd**2) + 0.001 * np.exp(-np.abs(t[:, None] - t[None, :]))}[
        sigma_kind]
    popt, pcov = curve_fit(_decay, t, y, p0=[1.0, 1.0, 0.0], sigma=sigma,
                           absolute_sigma=absolute_sigma, method="trf", **TIGHT)
    res = zs.optimize.fit(lambda p, t, y: _decay(t, p["a"], p["k"], p["c"]) - y,
                          {"a": 1.0, "k": 1.0, "c": 0.0}, t, y, sigma=sigma,
                          absolute_sigma=absolute_sigma, **TIGHT)
    np.testing.assert_allclose(res.x, popt, rtol=1e-8)
    np.testing.assert_allclose(res.cov, pcov, rtol=1e-6)
    assert list(res.stderr) == ["a", "k", "c"]
    np.testing.assert_allclose([res.stderr[k] for k in "akc"], np.sqrt(np.diag(pcov)),
                               rtol=1e-6)


def test_scaling_sigma_changes_cov_only_with_absolute_sigma():
    t = np.linspace(0, 4, 25)
    y = _decay(t, 2.0, 1.3, 0.5) + 0.01 * np.sin(7 * t)

    def res(p, t, y):
        return _decay(t, *p) - y
    covs = [zs.optimize.fit(res, np.ones(3), t, y, sigma=s, absolute_sigma=a, **TIGHT).cov
            for a in (False, True) for s in (1.0, 10.0)]
    np.testing.assert_allclose(covs[0], covs[1], rtol=1e-8)          # relative weights
    np.testing.assert_allclose(covs[3], 100 * covs[2], rtol=1e-8)    # absolute: cov ∝ σ²


def test_fit_covariance_helper_for_residuals_users():
    ds = nist.parse(DATA / "Misra1a.dat")
    fun, jac, b0, _ = zs.optimize.residuals(nist.residuals, ds.start1, ds.x, ds.y, nist.misra1a)
    sol = scipy.optimize.least_squares(fun, b0, jac=jac, **TIGHT)
    cov = zs.fitstats.covariance(jac(sol.x), fun(sol.x))
    assert nist.agree(np.sqrt(np.diag(cov)), ds.certified_sd, digits=6)


def test_fit_warnings_and_errors():
    t = np.linspace(0, 1, 6)
    y = 1.0 + 2.0 * t

    def redundant(p, t, y):          # a and b enter only as a + b
        return p["a"] + p["b"] + p["m"] * t - y
    with pytest.warns(OptimizeWarning, match="rank 2 < 3"):
        r = zs.optimize.fit(redundant, {"a": 0.0, "b": 0.0, "m": 0.0}, t, y)
    assert np.all(np.isinf(r.cov)) and np.isinf(r.stderr["m"])
    with pytest.warns(OptimizeWarning, match="no degrees of freedom"):
        r = zs.optimize.fit(lambda p, t, y: p[0] + p[1] * t - y, np.zeros(2), t[:2], y[:2])
    assert np.all(np.isinf(r.cov))
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # m = p is fine when sigma is absolute
        r = zs.optimize.fit(lambda p, t, y: p[0] + p[1] * t - y, np.zeros(2), t[:2], y[:2],
                            sigma=0.1, absolute_sigma=True)
    np.testing.assert_allclose(r.cov, 0.01 * np.linalg.inv(np.array([[2, 0.2], [0.2, 0.04]])))
    with pytest.warns(OptimizeWarning, match="on a bound"):
        zs.optimize.fit(lambda p, t, y: p[0] + p[1] * t - y, np.zeros(2), t, y,
                        bounds=([-np.inf, -np.inf], [np.inf, 1.0]))
    line = (lambda p, t, y: p[0] + p[1] * t - y, np.zeros(2), t, y)
    with pytest.raises(ValueError, match="loss='linear'"):
        zs.optimize.fit(*line, loss="soft_l1")
    with pytest.raises(ValueError, match=r"sigma has shape \(5,\)"):
        zs.optimize.fit(*line, sigma=np.ones(5))
    with pytest.raises(ValueError, match="positive"):
        zs.optimize.fit(*line, sigma=np.r_[np.ones(5), 0.0])
    with pytest.raises(ValueError, match="positive definite"):
        zs.optimize.fit(*line, sigma=-np.eye(6))


def test_docs_optimize_md_examples_run(monkeypatch):
    import doctest
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)           # the page reads examples/data/... relative to the root
    result = doctest.testfile(str(root / "docs" / "optimize.md"), module_relative=False)
    assert result.attempted > 30 and result.failed == 0


def test_minimize_on_a_pytree_passes_scipys_keywords():
    def loss(p, c):
        return np.sum((p["w"] - c)**2) + p["s"]**2
    res = zs.optimize.minimize(loss, {"w": np.zeros(2), "s": 1.0}, np.array([2.0, -3.0]),
                               bounds=[(None, 1.0), (None, None), (0.5, None)])
    # method None: SciPy picks L-BFGS-B for bounds (BFGS would ignore them: s -> 0)
    np.testing.assert_allclose(res.params["w"], [1.0, -3.0], atol=1e-6)
    assert res.params["s"] == pytest.approx(0.5, abs=1e-8)
    user = []
    res = zs.optimize.minimize(loss, {"w": np.zeros(2), "s": 1.0}, np.array([2.0, -3.0]),
                               method="trust-exact",
                               hess=lambda x: user.append(1) or 2 * np.eye(3))
    assert user and np.allclose(res.x, [2.0, -3.0, 0.0])      # the user's hess is kept


def test_hess_of_a_complex_leaf_is_over_its_real_and_imaginary_parts():
    def loss(z):
        return 3 * np.abs(z[0] - (1 + 2j))**2 + np.real(z[1])**2 + np.real(z[0] * z[1])
    fun, hess, hessp, x0, _ = zs.optimize.objective(loss, np.array([0.5 + 0.1j, 1 + 1j]),
                                                    hess=True, hessp=True)
    H = hess(x0)
    h = 1e-6
    fd = np.array([(fun(x0 + h * e)[1] - fun(x0 - h * e)[1]) / (2 * h) for e in np.eye(4)]).T
    np.testing.assert_allclose(H, fd, atol=1e-7)
    np.testing.assert_allclose(hessp(x0, np.arange(4.0)), H @ np.arange(4.0), atol=1e-12)
