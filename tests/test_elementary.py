"""Every elementary function the tracer maps, against central differences."""
import numpy as np
import pytest
import scipy.special as sc

import zygote_sym as zs
from zygote_sym.testing import check_grads

# (name, f, point): one line per function; points inside each domain
CASES = [
    ("exp", lambda x: np.exp(x), 0.7),
    ("log", lambda x: np.log(x), 1.7),
    ("log1p", lambda x: np.log1p(x), 0.3),
    ("expm1", lambda x: np.expm1(x), 0.3),
    ("exp2", lambda x: np.exp2(x), 1.3),
    ("log2", lambda x: np.log2(x), 3.1),
    ("log10", lambda x: np.log10(x), 3.1),
    ("sqrt", lambda x: np.sqrt(x), 2.3),
    ("cbrt", lambda x: np.cbrt(x), -2.3),
    ("sin", lambda x: np.sin(x), 0.4),
    ("cos", lambda x: np.cos(x), 0.4),
    ("tan", lambda x: np.tan(x), 0.4),
    ("arcsin", lambda x: np.arcsin(x), 0.3),
    ("arccos", lambda x: np.arccos(x), 0.3),
    ("arctan", lambda x: np.arctan(x), 2.0),
    ("arctan2", lambda x, y: np.arctan2(x, y), (0.3, -1.2)),
    ("hypot", lambda x, y: np.hypot(x, y), (0.3, -1.2)),
    ("sinh", lambda x: np.sinh(x), 0.9),
    ("cosh", lambda x: np.cosh(x), 0.9),
    ("tanh", lambda x: np.tanh(x), 0.9),
    ("arcsinh", lambda x: np.arcsinh(x), 0.9),
    ("arccosh", lambda x: np.arccosh(x), 1.9),
    ("arctanh", lambda x: np.arctanh(x), 0.4),
    ("abs", lambda x: abs(x), -1.3),
    ("np.abs", lambda x: np.abs(x), 1.3),
    ("fabs", lambda x: np.fabs(x), -1.3),
    ("max", lambda x, y: np.maximum(x, y), (0.3, 1.2)),
    ("min", lambda x, y: np.minimum(x, y), (0.3, 1.2)),
    ("python max", lambda x, y: max(x, y) * x, (0.3, 1.2)),
    ("int power", lambda x: x**3, -1.5),
    ("negative int power", lambda x: x**-2, -1.5),
    ("float power", lambda x: x**2.7, 1.5),
    ("rational power", lambda x: x**(1/3), 1.5),
    ("traced power", lambda x, y: x**y, (1.5, 2.2)),
    ("traced base 2", lambda y: 2.0**y, 0.7),
    ("square", lambda x: np.square(x), -0.7),
    ("reciprocal", lambda x: np.reciprocal(x), -0.7),
    ("degrees", lambda x: np.degrees(x), 0.7),
    ("radians", lambda x: np.radians(x), 30.0),
    ("mod", lambda x: x % 0.5 * x, 1.3),
    ("floor", lambda x: np.floor(x) * x, 1.3),
    ("ceil", lambda x: np.ceil(x) * x, 1.3),
    ("sign", lambda x: np.sign(x) * x, -1.3),
    ("heaviside", lambda x: np.heaviside(x, 0.5) * x + np.heaviside(x - 1.3, 0.25), 1.7),
    ("logaddexp", lambda x, y: np.logaddexp(x, y), (0.3, 1.2)),
    ("erf", lambda x: sc.erf(x), 0.3),
    ("erfc", lambda x: sc.erfc(x), 0.3),
    ("gamma", lambda x: sc.gamma(x), 2.5),
    ("gammaln", lambda x: sc.gammaln(x), 2.5),
    ("expit", lambda x: sc.expit(x), -0.5),
    ("logit", lambda x: sc.logit(x), 0.3),
    ("xlogy", lambda x, y: sc.xlogy(x, y), (0.3, 1.7)),
    ("erfinv", lambda x: sc.erfinv(x), 0.3),
    ("erfcinv", lambda x: sc.erfcinv(x), 0.7),
    ("logaddexp2", lambda x, y: np.logaddexp2(x, y), (0.3, 1.2)),
    ("deg2rad rad2deg", lambda x: np.deg2rad(x) + np.rad2deg(x), 0.7),
    ("fmax fmin", lambda x, y: np.fmax(x, y) * np.fmin(x, y), (0.3, 1.2)),
    ("floor_divide", lambda x: (x // 0.4) * x + np.floor_divide(x, 0.3), 1.3),
    ("positive", lambda x: np.positive(x) * x, 0.5),
    ("log_expit", lambda x: sc.log_expit(x), -0.5),
    ("softplus spelling", lambda x: np.log1p(np.exp(x)), 0.3),
    ("comparisons", lambda x, y: np.where(np.logical_or(
        np.logical_and(np.greater_equal(x, y), np.less_equal(x, 2.0)),
        np.logical_not(np.not_equal(x, y))), x * y, np.where(np.equal(x, y), x, y)), (1.3, 0.3)),
    ("division", lambda x, y: x / y - y / x, (0.3, 1.7)),
    ("composite", lambda x, y: np.exp(np.sin(x) * y) / (1 + x**2), (0.3, 1.7)),
    ("rint trunc", lambda x: x * np.rint(x) + np.trunc(x) * x + np.trunc(-x), 2.7),
    ("isnan isinf isfinite", lambda x: x * np.isfinite(x) + np.isnan(x) + np.isinf(x) * x, 1.3),
    ("truth values as numbers", lambda x: (x > 0) * x + x - (x > 1) + True * x, 1.3),
    ("iv ive", lambda x: sc.iv(2.5, x) + sc.ive(1.5, x) + sc.ive(2, -x), 1.7),
    ("jv jn yv yn", lambda x: sc.jv(1.5, x) + sc.jn(2, x) + sc.yv(0.5, x) + sc.yn(2, x), 1.7),
    ("kv", lambda x: sc.kv(1.5, x), 1.7),
    ("i0 i1 j0 j1 y0 y1 k0 k1", lambda x: sc.i0(x) + sc.i1(x) + sc.j0(x) + sc.j1(x) + sc.y0(x)
     + sc.y1(x) + sc.k0(x) + sc.k1(x), 1.7),
    ("psi digamma", lambda x: sc.psi(x) * sc.digamma(x), 1.7),
    ("gammainc gammaincc", lambda x: sc.gammainc(1.5, x) + sc.gammaincc(2.5, x) * x, 1.7),
    ("beta betaln", lambda x, y: sc.beta(x, y) + sc.betaln(y, x), (1.7, 2.3)),
    ("betainc", lambda x: sc.betainc(1.5, 2.5, x), 0.3),
    ("rgamma gammasgn", lambda x: sc.rgamma(x) + sc.gammasgn(x - 2) * x, 1.7),
    ("erfcx", lambda x: sc.erfcx(x) + sc.erfcx(-x), 1.7),
    ("xlog1py entr kl_div rel_entr", lambda x, y: sc.xlog1py(x, y) + sc.entr(x) + sc.kl_div(x, y)
     + sc.rel_entr(y, x), (0.7, 1.3)),
    ("ndtr ndtri log_ndtr", lambda x: sc.ndtr(x) + sc.ndtri(x / 2) + sc.log_ndtr(-5 * x), 0.7),
]


@pytest.mark.parametrize("name, f, point", CASES, ids=[c[0] for c in CASES])
def test_against_central_differences(name, f, point):
    args = point if isinstance(point, tuple) else (point,)
    check_grads(f, *args)


def test_floor_and_ceil_have_zero_gradient():
    assert zs.gradient(lambda x: np.floor(x), 1.3) == (0.0,)
    assert zs.gradient(lambda x: np.ceil(x) + np.sign(x), 1.3) == (0.0,)


def test_values_match_numpy():
    for name, f, point in CASES:
        args = point if isinstance(point, tuple) else (point,)
        val = zs.withgradient(f, *args).val
        assert np.isclose(val, f(*args), rtol=1e-13), name
