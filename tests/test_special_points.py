"""The points where other differentiators return NaN (issue 5,
shared/cases/special_points.md): one test per row, named after the
mechanism it exercises, plus the other spellings of the same mechanism.
Every value goes through the one-shot API (gradient/withgradient/pullback)
and through a compiled kernel (`zs.compile(f)`); conventions are in
docs/special_points.md."""
import warnings

import numpy as np
import pytest
import scipy.special as sc

import zygote_sym as zs
from test_fused import each_backend  # noqa: F401 (a fixture: each test on both backends)

pytestmark = pytest.mark.usefixtures("each_backend")


def _agree(a, b):
    """Bit for bit on the NumPy backend; to rounding on the fused one (a loop
    may order the operations of a product or a sum differently)."""
    if a is None or b is None:
        assert a is b
    elif getattr(zs.compile, "keywords", {}).get("backend") == "fused":
        np.testing.assert_allclose(b, a, rtol=1e-15, atol=0, equal_nan=True)
    else:
        np.testing.assert_array_equal(a, b)


def grads(f, *args, warnings_are="error"):
    """zs.gradient and zs.compile(f).gradient, checked to agree, with every
    RuntimeWarning an error (or ignored)."""
    with warnings.catch_warnings():
        warnings.simplefilter(warnings_are)
        one, compiled = zs.gradient(f, *args), zs.compile(f).gradient(*args)
    for a, b in zip(one, compiled):
        _agree(a, b)
    return one


def with_grads(f, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one, compiled = zs.withgradient(f, *args), zs.compile(f).withgradient(*args)
    _agree(one.val, compiled.val)
    for a, b in zip(one.grad, compiled.grad):
        _agree(a, b)
    return one


def kernel_grads(f, trace_at, *args):
    """The compiled kernel of f, traced at `trace_at` (where NumPy's eager
    evaluation of f itself is quiet), run at `args` with warnings as errors."""
    c = zs.compile(f)
    c.gradient(*trace_at)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return c.withgradient(*args)


def quiet_enough(f, *args):
    """As `grads`, where NumPy warns on the way (it computes the infinite
    partial that the strong zero then cancels) but the result must be exact."""
    return grads(f, *args, warnings_are="ignore")


# ---------------------------------------------------------------- row 1
def test_infinite_partial_times_zero_slope_is_zero():
    """sqrt'(0) = inf meets a zero inner slope: a strong zero gives 0."""
    assert grads(lambda t: np.sqrt(0.0 ** t), 4.0) == (0.0,)
    assert quiet_enough(lambda t: np.sqrt(np.zeros(2) ** t).sum(), 4.0) == (0.0,)
    # the same kind: sqrt(x**2) is |x|, whose derivative at 0 is 0 by convention
    assert quiet_enough(lambda x: np.sqrt(x ** 2), 0.0) == (0.0,)
    zero = np.zeros(2)
    np.testing.assert_array_equal(quiet_enough(lambda x: np.sum((x ** 4) ** 0.25), zero)[0], zero)
    np.testing.assert_array_equal(grads(np.linalg.norm, zero)[0], zero)
    # x**y with both traced: y*x**(y-1) is 0*inf at x = 0, y = 0
    np.testing.assert_array_equal(quiet_enough(lambda x, y: np.sum(x ** y), zero, zero)[0], zero)
    # the zero cotangent of a kink meets sqrt'(0)
    assert quiet_enough(lambda x: np.maximum(np.sqrt(x), 1.0), 0.0) == (0.0,)
    # the norm's own rule: a root-mean-square loss at a perfect fit
    t = np.linspace(0.0, 1.0, 5)
    assert grads(lambda a: np.sqrt(np.sum((a * t - 2.0 * t) ** 2)), 2.0) == (0.0,)


# ---------------------------------------------------------------- row 2
def test_power_log_term_only_where_finite():
    a = np.array([0.0, 2.0])
    g, = grads(lambda b: np.sum(a ** b), np.array([1.0, 1.0]))
    assert g[0] == 0.0 and g[1] == pytest.approx(1.3862943611198906, rel=1e-14)
    assert grads(lambda x, y: x ** y, 0.0, 2.0) == (0.0, 0.0)
    assert grads(lambda y: 0.0 ** y, 3.0) == (0.0,)


# ------------------------------------------------------------ rows 3-5
@pytest.mark.parametrize("n", [0, 2, 1.875, 3, 1.5])
def test_power_rule_at_zero(n):
    """n*x**(n-1), never y*x**y/x (0/0 at x = 0)."""
    for f in (lambda x: x ** n, lambda x: np.power(x, n), lambda x: pow(x, n),
              lambda x: np.float_power(x, n)):
        assert grads(f, 0.0) == (0.0,)
    np.testing.assert_array_equal(grads(lambda x: np.sum(x ** n), np.zeros(2))[0], [0.0, 0.0])


# ---------------------------------------------------------------- row 6
def test_constant_power_of_negative_base():
    """A constant exponent is the power rule, not exp(y*log(x)) (nan at x < 0)."""
    gx, gy = grads(lambda x, y: (1 - x) ** 2 + 100 * (y - x ** 2) ** 2, -1.0, 1.2)
    assert gx == pytest.approx(76.0, rel=1e-14) and gy == pytest.approx(40.0, rel=1e-14)
    assert grads(lambda x: x ** 3, -2.0) == (12.0,)
    assert grads(lambda x: x ** -2.0, -2.0) == (0.25,)


# ---------------------------------------------------------------- row 7
def test_integer_inputs_with_negative_base():
    g = grads(lambda t1, t2: (t1 - 2) ** 4 + (t1 - 2 * t2) ** 2, 0, 0)
    assert g == (-32.0, 0.0) and all(type(v) is float for v in g)


# ------------------------------------------------------------- rows 8-9
def test_double_where_norm_branch_not_taken():
    """The branch not taken (r at r = 0) has an infinite derivative; its zero
    cotangent must not meet it."""
    X = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    want = [[0.4472135954999579, 0.8944271909999159], [0.6, 0.8], [0.0, 0.0]]
    for norm in (lambda X: np.sqrt(np.sum(X ** 2, axis=1)),
                 lambda X: np.linalg.norm(X, axis=1)):
        g, = grads(lambda X: np.sum(np.where(norm(X) > 0.5, norm(X), 1.0)), X)
        np.testing.assert_allclose(g, want, rtol=1e-14)
        assert g[2, 0] == 0.0 and g[2, 1] == 0.0


def test_where_masking_nan_data_keeps_the_gradient_finite():
    """Data that is nan (or inf) where the branch is not taken: the partial
    there (∂(a*y)/∂a = y) meets a zero cotangent; the product is the select's,
    so the gradient is the sum over the kept entries, not nan."""
    y = np.array([1.0, np.nan, 2.0, np.inf])
    kept = np.isfinite(y)
    g, = grads(lambda a: np.sum(np.where(~np.isfinite(y), 0.0, a * y)), 1.5)
    assert g == 3.0
    y3, kept3 = y[:3], kept[:3]  # (sin(inf) warns in f itself; nan does not)
    g, = grads(lambda a: np.sum(np.where(kept3, np.sin(a * y3), 0.0)), 1.5)
    assert g == pytest.approx(np.sum(np.cos(1.5 * y3[kept3]) * y3[kept3]), rel=1e-15)
    a, gy = grads(lambda a, y: np.sum(np.where(np.isnan(y), 0.0, a * y)**2), 1.5, y[:3])
    np.testing.assert_allclose([a, *gy], [15.0, 2 * 1.5**2, 0.0, 4 * 1.5**2], rtol=1e-15)


def test_double_where_sqrt_branch_not_taken():
    x = np.array([16.0, 0.0])
    g, = grads(lambda x: np.sum(np.where(x == 0, x / 2, np.sqrt(x) + 1)), x)
    np.testing.assert_array_equal(g, [0.125, 0.5])
    # the same with log, 1/x and an overflowing exp in the branch not taken
    for f, want in ((lambda x: np.where(x > 0, np.log(x), 0.0), [1 / 16, 0.0]),
                    (lambda x: np.where(x != 0, 1 / x, 0.0), [-1 / 256, 0.0]),
                    (lambda x: np.where(x < 20, x, np.exp(x * 100)), [1.0, 1.0])):
        g = kernel_grads(lambda x: np.sum(f(x)), [np.array([16.0, 1.0])], x).grad[0]
        np.testing.assert_array_equal(g, want)


# --------------------------------------------------------------- row 10
def piecewise(x, y):
    return np.select([y < -1, y <= 1], [1 / x, x], 1 / x)


def test_select_evaluates_no_branch_not_taken():
    """1/x if y < -1, x if y <= 1, else 1/x at (0, 1): value 0, no error or
    warning, though np.select's branches are all in the kernel."""
    c = zs.compile(piecewise)
    c.withgradient(2.0, 1.0)  # traced where 1/x is finite; the kernel is reused below
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert c.withgradient(0.0, 1.0) == (0.0, (1.0, 0.0))
    s = zs.compile(lambda x, y: np.sum(piecewise(x, y)))
    s.withgradient(np.array([2.0, 3.0]), np.array([1.0, 2.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        val, (gx, gy) = s.withgradient(np.array([0.0, 2.0]), np.array([1.0, 2.0]))
    assert val == 0.5
    np.testing.assert_array_equal(gx, [1.0, -0.25])
    np.testing.assert_array_equal(gy, [0.0, 0.0])
    # Python's own conditional evaluates one branch only: traced at (0, 1) directly
    f = lambda x, y: 1 / x if y < -1 else (x if y <= 1 else 1 / x)  # noqa: E731
    assert with_grads(f, 0.0, 1.0) == (0.0, (1.0, None))


# ---------------------------------------------------------- rows 11-13
SOFTPLUS = [lambda x: np.log(1 + np.exp(x)), lambda x: np.log(np.exp(x) + 1.0),
            lambda x: np.log1p(np.exp(x)), lambda x: np.logaddexp(0.0, x),
            lambda x: -sc.log_expit(-x)]


@pytest.mark.parametrize("f", SOFTPLUS)
def test_stable_softplus(f):
    assert with_grads(f, 1000.0) == (1000.0, (1.0,))
    assert with_grads(f, -1000.0) == (0.0, (0.0,))
    assert zs.pullback(f, 1000.0)[0] == 1000.0  # the trace-time value is stable too


SIGMOID = [lambda x: 1 / (1 + np.exp(-x)), lambda x: 1.0 / (np.exp(-x) + 1.0),
           lambda x: (1 + np.exp(-x)) ** -1, lambda x: np.reciprocal(1 + np.exp(-x)),
           lambda x: np.exp(x) / (1 + np.exp(x)), sc.expit]


@pytest.mark.parametrize("f", SIGMOID)
def test_stable_sigmoid(f):
    assert with_grads(f, -800.0) == (0.0, (0.0,))
    assert kernel_grads(f, [0.0], 800.0) == (1.0, (0.0,))  # (NumPy's exp(800)/(1 + exp(800)) warns)
    assert with_grads(f, 0.0) == (0.5, (0.25,))


LOGADDEXP = [lambda x, y: np.log(np.exp(x) + np.exp(y)), np.logaddexp,
             lambda x, y: np.log(np.sum(np.exp(np.stack([x, y]))))]


@pytest.mark.parametrize("f", LOGADDEXP)
def test_stable_logaddexp(f):
    assert with_grads(f, 1000.0, 0.0) == (1000.0, (1.0, 0.0))
    assert with_grads(f, 0.0, 1000.0) == (1000.0, (0.0, 1.0))
    assert with_grads(f, 5.0, 5.0).grad == (0.5, 0.5)


def test_stable_logsumexp_of_an_array():
    x = np.array([1000.0, 0.0, -1000.0])
    val, (g,) = with_grads(lambda x: np.log(np.sum(np.exp(x))), x)
    assert val == 1000.0
    np.testing.assert_array_equal(g, [1.0, 0.0, 0.0])
    X = np.array([[1000.0, 1000.0], [0.0, -1000.0]])
    g, = grads(lambda X: np.sum(np.log(np.sum(np.exp(X), axis=1))), X)
    np.testing.assert_array_equal(g, [[0.5, 0.5], [1.0, 0.0]])


# --------------------------------------------------------------- row 14
def test_integer_array_negative_float_power_numpy_and_math():
    """Integers are floats in the kernel: x**-2.0 of an int array is not 0."""
    x = np.array([1, 2, 3])
    val, (g,) = with_grads(lambda x: np.sum(x ** -2.0), x)
    assert val == pytest.approx(1 + 0.25 + 1 / 9, rel=1e-14)
    np.testing.assert_allclose(g, [-2.0, -0.25, -2 / 27], rtol=1e-14)
    y, back = zs.pullback(lambda x: x ** -2.0, x)
    np.testing.assert_allclose(y, [1.0, 0.25, 0.1111111111111111], rtol=1e-14)
    np.testing.assert_allclose(back(np.ones(3))[0], [-2.0, -0.25, -2 / 27], rtol=1e-14)
    val, (g,) = with_grads(lambda x: x ** -2.0, 3)  # an int scalar: the `math` kernel
    assert val == pytest.approx(1 / 9, rel=1e-14) and g == pytest.approx(-2 / 27, rel=1e-14)


def test_integer_array_negative_float_power_numexpr(monkeypatch, each_backend):
    """The same through a numexpr region (forced: the cost model may prefer
    NumPy on this machine), whose integer powers would otherwise give 0."""
    from zygote_sym.codegen import fuse
    monkeypatch.setattr(fuse, "MIN_SIZE", 1)
    monkeypatch.setattr(fuse, "numexpr_pays", lambda size: True)
    c = zs.compile(lambda x: np.sum(x ** -2.0 * 3 + x))
    val, (g,) = c.withgradient(np.array([1, 2, 3]))
    if each_backend == "numpy":  # (the fused backend takes the float inputs in a loop)
        assert "_ne" in c.source and "x = np.asarray(x, dtype=float)" in c.source
    assert val == pytest.approx(4.0 + 2.75 + 3 + 1 / 3, rel=1e-15)
    np.testing.assert_allclose(g, [-5.0, 0.25, 1 - 6 / 27], rtol=1e-15)


# --------------------------------------------------------------- row 15
def test_gradient_is_unbroadcast():
    A = np.arange(12.0).reshape(3, 4)
    g, = grads(lambda b: np.sum(A + b), np.ones((1, 4)))
    assert g.shape == (1, 4)
    np.testing.assert_array_equal(g, [[3.0, 3.0, 3.0, 3.0]])


# --------------------------------------------------------------- row 16
def test_repeated_index_scatter_adds():
    y, back = zs.pullback(lambda x: x[[0, 0]], np.array([0.1]))
    np.testing.assert_array_equal(back(np.array([0.2, 0.3]))[0], [0.5])
    g, = grads(lambda x: np.sum(x[[0, 0]] * np.array([0.2, 0.3])), np.array([0.1]))
    np.testing.assert_array_equal(g, [0.5])


# ------------------------------------------------------------ rows 17-18
def test_prod_with_zeros_without_division():
    np.testing.assert_array_equal(grads(np.prod, np.array([0.0, 2.0, 3.0]))[0], [6.0, 0.0, 0.0])
    np.testing.assert_array_equal(grads(np.prod, np.array([2.0, 0.0, 3.0, 4.0]))[0],
                                  [0.0, 24.0, 0.0, 0.0])
    np.testing.assert_array_equal(grads(np.prod, np.array([0.0, 0.0, 3.0]))[0], [0.0, 0.0, 0.0])


def test_cumprod_with_zeros_without_division():
    f = lambda x: np.sum(np.cumprod(x))  # noqa: E731
    np.testing.assert_array_equal(grads(f, np.array([2.0, 0.0, 3.0, 4.0]))[0],
                                  [1.0, 32.0, 0.0, 0.0])
    np.testing.assert_array_equal(grads(f, np.array([0.0, 2.0, 3.0]))[0], [9.0, 0.0, 0.0])


# --------------------------------------------------------------- row 19
def test_temporaries_never_shadow_user_names():
    f = lambda c, x0: c * x0 ** 2 + c * (x0 ** 4 - x0 ** 2)  # noqa: E731
    assert with_grads(f, 1.0, 2.0) == (16.0, (16.0, 32.0))
    for names in ("_t0, _t1", "t0, t1", "np, math", "_b0, _ne0"):
        g = {}
        exec(f"def h({names}):\n    return {names.split(', ')[0]} * "
             f"({names.split(', ')[1]} ** 4 - {names.split(', ')[1]} ** 2) + "
             f"{names.split(', ')[0]} * {names.split(', ')[1]} ** 2", g)
        assert with_grads(g["h"], 1.0, 2.0) == (16.0, (16.0, 32.0))


# --------------------------------------------------------------- row 20
@pytest.mark.parametrize("x, want", [(0.0, 0.0), (-1.5, -3.0)])
def test_spellings_of_square_agree(x, want):
    for f in (lambda x: x * x, lambda x: x ** 2, lambda x: pow(x, 2), np.square,
              lambda x: np.power(x, 2), lambda x: x ** 2.0):
        assert grads(f, x) == (want,)


# ------------------------------------------------------- ties and kinks
RELU = [lambda x: np.maximum(x, 0.0), lambda x: np.maximum(0, x), lambda x: np.fmax(x, 0.0),
        lambda x: np.clip(x, 0.0, None), lambda x: np.clip(x, 0.0, 5.0)]


@pytest.mark.parametrize("f", RELU)
def test_kink_convention_relu(f):
    """The symmetric derivative: relu'(0) = 1/2, clip at a bound: 1/2."""
    assert grads(f, 0.0) == (0.5,)
    assert grads(f, 2.0) == (1.0,)
    np.testing.assert_array_equal(grads(lambda x: np.sum(f(x)), np.array([-1.0, 0.0, 1.0]))[0],
                                  [0.0, 0.5, 1.0])


def test_where_follows_the_condition_written():
    assert grads(lambda x: np.where(x > 0, x, 0.0), 0.0) == (0.0,)
    assert grads(lambda x: np.where(x >= 0, x, 0.0), 0.0) == (1.0,)


KINKED_SPELLINGS_OF_SMOOTH = [  # (f, its true derivative at 0)
    (lambda x: np.maximum(x, 0.0) - np.maximum(-x, 0.0), 1.0),        # x
    (lambda x: np.minimum(x, 0.0) + np.maximum(x, 0.0), 1.0),         # x
    (lambda x: np.clip(x, 0.0, 1.0) - np.clip(-x, 0.0, 1.0), 1.0),    # x near 0
    (lambda x: np.abs(x) + x - 2 * np.maximum(x, 0.0), 0.0),          # 0
    (lambda x: np.fmax(x, 0.0) + np.fmin(x, 0.0) + x, 2.0),          # 2x
]


@pytest.mark.parametrize("f, want", KINKED_SPELLINGS_OF_SMOOTH)
def test_smooth_functions_spelled_with_kinks_get_their_derivative(f, want):
    """The symmetric derivative is linear, so sums and differences of kinked
    pieces that make a smooth function get its true derivative at the kink."""
    assert grads(f, 0.0) == (want,)
    x = np.array([-0.5, 0.0, 0.5])
    np.testing.assert_allclose(grads(lambda x: np.sum(f(x)), x)[0], [want] * 3)


def test_kink_convention_abs_sqrt_and_ties():
    assert grads(np.abs, 0.0) == (0.0,)
    assert grads(abs, 0.0) == (0.0,)
    assert grads(lambda x, y: np.maximum(x, y), 1.0, 1.0) == (0.5, 0.5)
    assert grads(lambda x, y: np.minimum(x, y), 1.0, 1.0) == (0.5, 0.5)
    np.testing.assert_array_equal(grads(np.max, np.array([3.0, 1.0, 3.0]))[0], [0.5, 0.0, 0.5])
    np.testing.assert_array_equal(grads(np.min, np.array([1.0, 1.0, 1.0]))[0], [1 / 3] * 3)
    assert grads(np.hypot, 0.0, 0.0) == (0.0, 0.0)
    assert grads(np.arctan2, 0.0, 0.0) == (0.0, 0.0)
    with np.errstate(divide="ignore"):
        assert quiet_enough(np.sqrt, 0.0) == (np.inf,)  # the one-sided derivative, as JAX
