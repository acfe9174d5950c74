"""Generated kernels are robust: any argument name, any size, empty and 0-d
arrays, and errors that name their cause.  Every test asserts values (against
NumPy, closed forms or a loop), never timings."""
import math
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.special as sc
import sympy as sp

import zygote_sym as zs
from zygote_sym.codegen import fuse
from zygote_sym.codegen.kernel import Kernel, KernelError
from zygote_sym.codegen.runtime import NAMESPACE
from zygote_sym.ir.nodes import Leaf
from zygote_sym.ir.ops import Reshape, SumTo, Transpose


@pytest.fixture
def regions(monkeypatch):
    """Force numexpr regions at every size (the cost model may prefer NumPy here)."""
    monkeypatch.setattr(fuse, "MIN_SIZE", 1)
    monkeypatch.setattr(fuse, "numexpr_pays", lambda size: True)


@pytest.fixture
def default_recursion_limit():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(old)


# ------------------------------------------------------- 1. names
# builtins the printers use (math: abs, max, min, float, round), other
# builtins, the kernel namespace, numexpr's functions, names like the
# generated ones, and non-ASCII identifiers
NAMES = ["abs", "max", "min", "float", "round", "int", "pow", "sum", "len", "range",
         "math", "np", "sc", "Fraction", "_sign", "_strong_mul", "_sum_to",
         "sin", "where", "exp", "sqrt", "log", "arctan2", "prod", "real", "contains",
         "θ", "μ", "x0", "_t0", "_b0", "_ne0", "_v0", "_a1", "_tls", "kernel"]
BODY = ("N.abs({n})*y + N.maximum({n}, y) + N.minimum({n}*y, 1.0) + N.sin({n})*N.exp(y)*{n}"
        " + N.where({n} > y, {n}*y, y*y)")


def _functions(name):
    ns = {"N": np}
    exec(f"def f({name}, y):\n    return {BODY.format(n=name)}\n"
         f"def h({name}, y):\n    return N.sum({BODY.format(n=name)})\n", ns)
    return ns["f"], ns["h"]


def _expected(a, y):
    da = (np.sign(a)*y + (a > y) + (a*y < 1.0)*y + np.cos(a)*np.exp(y)*a
          + np.sin(a)*np.exp(y) + np.where(a > y, y, 0.0))
    dy = np.abs(a) + (y > a) + (a*y < 1.0)*a + np.sin(a)*np.exp(y)*a + np.where(a > y, a, 2*y)
    return da, dy


@pytest.mark.parametrize("name", NAMES)
def test_any_argument_name_scalars(name):
    f, _ = _functions(name)
    for a, y in [(1.5, 0.7), (-0.3, 0.8)]:
        want = _expected(a, y)
        assert zs.gradient(f, a, y) == pytest.approx(want, rel=1e-14)
        assert zs.compile(f).gradient(a, y) == pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_any_argument_name_arrays_and_numexpr_regions(name, regions):
    _, h = _functions(name)
    rng = np.random.default_rng(1)
    a, y = rng.uniform(-1, 1, 10**5), rng.uniform(-1, 1, 10**5)
    c = zs.compile(h)
    ga, gy = c.gradient(a, y)
    assert "_ne" in c.source
    want = _expected(a, y)
    np.testing.assert_allclose(ga, want[0], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(gy, want[1], rtol=1e-13, atol=1e-13)


def test_reserved_names_are_renamed_in_the_source():
    f, _ = _functions("abs")
    c = zs.compile(f)
    c.gradient(1.5, 0.7)
    assert c.source.startswith("def kernel(_a0, y):") and "abs(_a0)" in c.source


# ------------------------------------------------------- 2. sizes
def _sum_of_squares(x):
    s = 0.0
    for v in x:
        s = s + v*v
    return s


def _product(x):
    p = 1.0
    for v in x:
        p = p*v
    return p


def _sin_chain(x):
    s = 0.0
    for v in x:
        s = np.sin(s + v)
    return s


def _sin_chain_reference(x):
    s, args = 0.0, []
    for v in x:
        args.append(s + v)
        s = np.sin(s + v)
    d = np.cos(np.array(args))
    # ds_n/dv_k = cos(a_k) * ... * cos(a_n): a reversed cumulative product
    return s, np.cumprod(d[::-1])[::-1]


@pytest.mark.parametrize("f, reference", [
    (_sum_of_squares, lambda x: (x @ x, 2*x)),
    (_product, lambda x: (np.prod(x), np.prod(x)/x)),
    (_sin_chain, _sin_chain_reference),
])
def test_python_loop_over_3000_elements(f, reference, default_recursion_limit):
    x = np.random.default_rng(0).uniform(0.999, 1.001, 3000)
    want_val, want_grad = reference(x)
    val, (g,) = zs.withgradient(f, x)
    assert val == pytest.approx(want_val, rel=1e-12)
    np.testing.assert_allclose(g, want_grad, rtol=1e-12)
    c = zs.compile(f)
    val, (g,) = c.withgradient(x[::-1].copy())
    want_val, want_grad = reference(x[::-1])
    assert val == pytest.approx(want_val, rel=1e-12)
    np.testing.assert_allclose(g, want_grad, rtol=1e-12)
    # bounded statements: no line holds the whole loop
    assert max(map(len, c.source.splitlines())) < 5000


def test_python_loop_over_20000_elements(default_recursion_limit):
    x = np.random.default_rng(2).uniform(-1, 1, 20000)
    c = zs.compile(_sum_of_squares)
    val, (g,) = c.withgradient(x)
    assert val == pytest.approx(x @ x, rel=1e-12)
    np.testing.assert_allclose(g, 2*x, rtol=1e-15)


def test_gradient_of_a_loop_is_one_array_not_one_per_element():
    """The gradient of `for v in x` adds one one-hot array per element: the
    kernel adds them in place into one array (memory linear in the size)."""
    x = np.random.default_rng(3).uniform(-1, 1, 1500)
    c = zs.compile(_sum_of_squares)
    c.gradient(x)
    assert c.source.count("_place(") == 1 and c.source.count("+=") == len(x) - 1
    tracemalloc.start()
    try:
        (g,) = c.gradient(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(g, 2*x, rtol=1e-15)
    assert peak < 2e6  # one full-size array per element would be 18 MB


def test_sum_of_scatters_with_repeated_indices_and_other_terms():
    x = np.array([0.5, -1.0, 2.0, 3.0])

    def f(x):
        s = np.sum(x*x)
        for i in [0, 1, 1, 2, 3, 3, 3]:
            s = s + x[i]*x[np.array([i, i])].sum()
        return s
    idx = np.array([0, 1, 1, 2, 3, 3, 3])
    want = 2*x + 4*np.bincount(idx, minlength=4)*x
    np.testing.assert_allclose(zs.gradient(f, x)[0], want, rtol=1e-15)


def test_many_scalar_arguments_and_outputs(default_recursion_limit):
    xs = list(np.random.default_rng(4).uniform(-1, 1, 3000))
    f = lambda *a: sum(v*v for v in a)  # noqa: E731
    np.testing.assert_allclose(zs.compile(f).gradient(*xs), 2*np.array(xs), rtol=1e-15)


def test_wide_and_chain_and_long_array_product(default_recursion_limit, regions):
    x = np.linspace(-1, 1, 50)

    def masked(x):
        m = x > -2
        for i in range(400):
            m = np.logical_and(m, x > -2 - i)
        return np.sum(np.where(m, x*x, 0.0))
    np.testing.assert_allclose(zs.compile(masked).gradient(x)[0], 2*x, rtol=1e-15)

    def product(x):
        p = 1.0
        for i in range(1000):
            p = p*(x + i*1e-7)
        return np.sum(p)
    x = np.linspace(0.99, 1.01, 7)
    factors = np.array([x + i*1e-7 for i in range(1000)])
    want = np.prod(factors, axis=0)*np.sum(1/factors, axis=0)
    np.testing.assert_allclose(zs.gradient(product, x)[0], want, rtol=1e-11)


# ------------------------------------------------------- 3. empty and 0-d arrays
def test_mean_of_empty_is_nan_with_a_warning_as_numpy():
    for f, x in [(np.mean, np.zeros(0)), (np.std, np.zeros(0)),
                 (lambda x: np.sum(np.mean(x, axis=0)), np.zeros((0, 3)))]:
        with pytest.warns(RuntimeWarning):
            want = f(x)
        assert np.isnan(want)
        for run in (lambda: zs.withgradient(f, x), lambda: zs.compile(f).withgradient(x)):
            with pytest.warns(RuntimeWarning):
                val, (g,) = run()
            assert np.isnan(val) and g.shape == x.shape


def test_sums_over_size_0_axes_match_numpy(regions):
    for f, x in [(np.sum, np.zeros(0)), (np.prod, np.zeros(0)),
                 (lambda x: np.sum(np.sum(x, axis=0)**2), np.zeros((0, 3))),
                 (lambda x: np.sum(np.mean(x, axis=1)), np.zeros((0, 3))),
                 (lambda x: np.sum(np.sin(x)*x), np.zeros(0)), (lambda x: x @ x, np.zeros(0))]:
        val, (g,) = zs.compile(f).withgradient(x)
        assert val == f(x) and g.shape == x.shape


def test_max_of_empty_is_numpys_value_error():
    for f, x in [(np.max, np.zeros(0)), (lambda x: np.sum(np.max(x, axis=1)), np.zeros((3, 0)))]:
        with pytest.raises(ValueError, match="zero-size array"):
            f(x)
        with pytest.raises(ValueError, match="zero-size array"):
            zs.gradient(f, x)


def test_0d_arrays(regions):
    x = np.array(2.0)
    for f, want in [(lambda x: np.sin(x)*x, (np.sin(2.0)*2, np.cos(2.0)*2 + np.sin(2.0))),
                    (lambda x: np.sum(x**2), (4.0, 4.0)), (lambda x: np.mean(x**2), (4.0, 4.0)),
                    (lambda x: np.max(x**2), (4.0, 4.0))]:
        for run in (lambda: zs.withgradient(f, x), lambda: zs.compile(f).withgradient(x)):
            val, (g,) = run()
            assert val == pytest.approx(want[0], rel=1e-15)
            assert np.shape(g) == () and g == pytest.approx(want[1], rel=1e-15)


def test_division_by_a_zero_constant_follows_numpy():
    """`x / 0` folds to x*inf as NumPy computes it (inf, nan at 0), never
    Python's ZeroDivisionError."""
    with np.errstate(all="ignore"):
        assert zs.gradient(lambda x: x/0 + x, 2.0) == (math.inf,)
        val = zs.compile(lambda x: np.sum(x/0)).withgradient(np.array([1.0, -1.0]))
    assert val.val != val.val  # inf + -inf
    np.testing.assert_array_equal(val.grad[0], [math.inf, math.inf])


def test_logsumexp_of_empty():
    """scipy.special.logsumexp of an empty array is -inf; its gradient (the
    softmax, which SciPy refuses on an empty axis) is empty."""
    f = lambda x: np.log(np.sum(np.exp(x)))  # noqa: E731
    for x in (np.zeros(0),):  # ((3, 0): SciPy 1.17's logsumexp raises at trace time)
        for run in (zs.withgradient, zs.compile(f).withgradient):
            val, (g,) = run(f, x) if run is zs.withgradient else run(x)
            assert val == -math.inf and g.shape == x.shape and g.dtype == float
    val, (g,) = zs.withgradient(lambda x: np.sum(sc.logsumexp(x, axis=1)), np.zeros((2, 0)))
    assert val == -math.inf and g.shape == (2, 0)


# ------------------------------------------------------- 5. errors in generated code
def test_outputs_are_never_buffers_or_views_of_them(monkeypatch):
    monkeypatch.setattr(fuse, "numexpr_pays", lambda size: False)
    x = Leaf("x", (10**5,))
    out = Transpose.make(Reshape.make(sp.sin(x)*x + x*x, (100, 1000)), (1, 0))
    k = Kernel([out], [x], [np.zeros(10**5)])
    v = np.linspace(0, 1, 10**5)
    first = k(v)[0]
    kept = first.copy()
    k(2*v)
    np.testing.assert_array_equal(first, kept)


def test_numexpr_compile_failure_falls_back_to_numpy(regions, monkeypatch):
    def refuse(*args):
        raise ValueError("too many registers")
    monkeypatch.setattr(fuse, "compile_region", refuse)
    x = np.linspace(-1, 1, 1000)
    c = zs.compile(lambda x: np.sum(np.sin(x)*x*x + x))
    (g,) = c.gradient(x)
    assert "_ne" not in c.source
    np.testing.assert_allclose(g, np.cos(x)*x*x + 2*x*np.sin(x) + 1, rtol=1e-14)


def test_numexpr_run_failure_falls_back_to_numpy(regions, monkeypatch):
    def failing(*args):
        def run(*a, **k):
            raise RuntimeError("numexpr: an error occurred while running the program")
        return run
    monkeypatch.setattr(fuse, "compile_region", failing)
    x = np.linspace(-1, 1, 1000)
    f = lambda x: np.sum(np.sin(x)*x*x + x)  # noqa: E731
    c = zs.compile(f)
    for _ in range(2):
        (g,) = c.gradient(x)
        np.testing.assert_allclose(g, np.cos(x)*x*x + 2*x*np.sin(x) + 1, rtol=1e-14)
    assert "_ne" not in c.source


def test_kernel_error_names_the_function_line_and_cause(monkeypatch):
    def broken(x, shape):
        raise IndexError("a bug in a kernel helper")
    monkeypatch.setitem(NAMESPACE, "_sum_to", broken)
    x = Leaf("x", (3, 4))
    b = Leaf("b", (1, 4))
    k = Kernel([SumTo.make(x*b, (1, 4))], [x, b], [np.ones((3, 4)), np.ones((1, 4))],
               fname="loss")
    with pytest.raises(KernelError, match=r"kernel generated for loss raised IndexError: a bug "
                                          r"in a kernel helper at kernel line \d+, `.*_sum_to"
                       ) as info:
        k(np.ones((3, 4)), np.ones((1, 4)))
    assert isinstance(info.value.__cause__, IndexError)


def test_kernel_error_names_an_empty_input(monkeypatch):
    def broken(x, shape):
        raise ValueError("zero-size array to reduction operation maximum which has no identity")
    monkeypatch.setitem(NAMESPACE, "_sum_to", broken)
    x = Leaf("x", (0, 4))
    k = Kernel([SumTo.make(x*x, (1, 4))], [x], [np.ones((0, 4))])
    with pytest.raises(KernelError, match="kernel generated for the differentiated function "
                                          "raised ValueError.*the input x is empty"):
        k(np.ones((0, 4)))


def test_long_item_assignment_loops_trace():
    """handlers/common.apply compares a built node with its operands by
    identity: `node in nodes` called SymPy's recursive __eq__ and hit the
    recursion limit after about 330 assignments that fold to an operand."""
    def f(x):
        y = x * 1.0
        for i in range(400):
            y[i % 3] = y[(i + 1) % 3] * 0.5 + x[i % 3]
        return np.sum(y)
    x = np.array([0.1, 0.2, 0.3])
    val, (g,) = zs.withgradient(f, x)
    assert val == pytest.approx(f(x), rel=1e-14)
    np.testing.assert_allclose(g, [2.0, 2.0, 2.0], rtol=1e-14)


def test_kernel_error_names_the_users_function(monkeypatch):
    """Kernels made by gradient or compile do not pass their function's name:
    the error finds it on the stack.  (pullback's `back` runs after its frame
    is gone: it will name f once api.py passes `fname`.)"""
    def broken(x, shape):
        raise IndexError("a bug in a kernel helper")
    monkeypatch.setitem(NAMESPACE, "_sum_to", broken)

    def my_loss(x, b):
        return np.sum(x * b)
    args = np.ones((3, 4)), np.ones((1, 4))
    for run in (lambda: zs.gradient(my_loss, *args), lambda: zs.compile(my_loss).gradient(*args)):
        with pytest.raises(KernelError, match=r"kernel generated for .*my_loss raised "
                                              r"IndexError: a bug in a kernel helper"):
            run()


def test_singular_matrix_is_numpys_error():
    c = zs.compile(lambda a: np.sum(np.linalg.inv(a)))
    c.gradient(np.eye(2))
    with pytest.raises(np.linalg.LinAlgError):
        c.gradient(np.zeros((2, 2)))


def test_math_kernel_falls_back_to_numpy_at_special_points():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        val, (g,) = zs.compile(lambda x: np.log(x)).withgradient(0.0)
    assert val == -math.inf and g == math.inf


# ------------------------------------------------------- logistic loss on large arrays
# passes.lower_logistic: sigmoid and softplus of large arrays as NumPy ufuncs
# around one exp(-|x|); the values are scipy's up to rounding, special points
# included, and no exp overflows (warnings are errors here)
_SPECIAL = [-np.inf, -800.0, -720.0, -40.0, -1.0, -1e-300, -0.0, 0.0, 1e-300, 1.0, 40.0,
            800.0, np.inf, np.nan]


def _logistic_input(n, special=True):
    x = np.random.default_rng(5).normal(0, 30, n)
    if special:
        x[:len(_SPECIAL)] = _SPECIAL
    return x


def _kernel_result(f, *args):
    """(compiled f, its kernel's (value, gradient)): the second call, where only
    the kernel runs, with warnings as errors (the trace may warn, as NumPy does)."""
    c = zs.compile(f, backend="numpy")
    c.withgradient(*args)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return c, c.withgradient(*args)


@pytest.mark.parametrize("numexpr", [False, True])
def test_lowered_logistic_at_special_points(numexpr, request):
    if numexpr:
        request.getfixturevalue("regions")
    x = _logistic_input(4096)
    # d/dw is softplus(x) itself and d/dx is 1*sigmoid(x): both elementwise
    c, (_, (gx, gw)) = _kernel_result(lambda x, w: np.sum(w*np.log1p(np.exp(x))),
                                      x, np.ones_like(x))
    assert "sc.expit" not in c.source and "minimum(" in c.source
    # expit's exp(-x) overflows below -709.78 and gives 0; exp(x)/(1 + exp(x)) gives the
    # subnormal value itself (as the scalar kernel's _sigmoid does)
    assert gx[2] == np.exp(-720.0) > 0
    rest = np.arange(x.size) != 2
    np.testing.assert_allclose(gx[rest], sc.expit(x[rest]), rtol=5e-16, atol=0)
    assert gx[0] == 0.0 and gx[1] == 0.0 and gx[12] == 1.0 and np.isnan(gx[13])
    assert gx[6] == gx[7] == 0.5
    with np.errstate(invalid="ignore"):  # (the reference: NumPy's logaddexp warns at nan)
        np.testing.assert_allclose(gw, np.logaddexp(0.0, x), rtol=5e-16, atol=0)
    assert gw[0] == 0.0 and gw[1] == 0.0 and gw[11] == 800.0 and gw[12] == np.inf


def test_lowered_softplus_and_sigmoid_values():
    x = _logistic_input(4096, special=False)
    w = np.random.default_rng(6).uniform(-1, 1, x.size)
    f = lambda x, w: np.sum(w*np.log1p(np.exp(x)) + x/(1 + np.exp(-x)))  # noqa: E731
    c, (val, (gx, gw)) = _kernel_result(f, x, w)
    assert "sc.expit" not in c.source and "_np_softplus" not in c.source
    s = sc.expit(x)
    np.testing.assert_allclose(val, np.sum(w*np.logaddexp(0, x) + x*s), rtol=1e-13)
    np.testing.assert_allclose(gw, np.logaddexp(0, x), rtol=1e-15, atol=0)
    np.testing.assert_allclose(gx, w*s + s + x*s*(1 - s), rtol=1e-13, atol=1e-300)


def test_small_arrays_keep_expit():
    # below passes.LOWER_FROM one scipy call is faster than the lowered form's seven
    c = zs.compile(lambda x: np.sum(np.log1p(np.exp(x))), backend="numpy")
    x = _logistic_input(64)
    (g,) = c.gradient(x)
    assert "sc.expit" in c.source
    np.testing.assert_array_equal(g, sc.expit(x))


def test_the_trace_of_softplus_at_nan_is_quiet():
    """NumPy's log1p(exp(nan)) is nan without a warning; so is the trace's own
    value of the softplus it recognises (np.logaddexp(0, nan) warned)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (g,) = zs.gradient(lambda x: np.sum(np.log1p(np.exp(x))), np.array([np.nan, 0.0]))
        assert np.isnan(zs.gradient(lambda x: np.log1p(np.exp(x)), np.nan)[0])
    assert np.isnan(g[0]) and g[1] == 0.5


def test_cost_model_decisions_are_kept_per_machine_and_a_bad_file_is_ignored(tmp_path, monkeypatch):
    """calibration.py: a decision is measured once per machine and read back
    by a later process; an unreadable file, a non-boolean entry or another
    machine's entries are measured anew, never evaluated."""
    from zygote_sym.codegen import calibration
    monkeypatch.setenv("ZYGOTE_SYM_CACHE_DIR", str(tmp_path))
    calibration.forget()
    measured = []

    def measure(value):
        return lambda: measured.append(value) or value
    assert calibration.decided("t", measure(True)) is True
    calibration.forget()  # a new process
    assert calibration.decided("t", measure(False)) is True and measured == [True]
    path = tmp_path / "calibration.json"
    for text in ("{not json", '{"%s": {"t": "__import__(\'os\')"}}' % calibration.machine(),
                 '{"another machine": {"t": true}}'):
        path.write_text(text)
        calibration.forget()
        assert calibration.decided("t", measure(False)) is False
    assert measured == [True, False, False, False]
    calibration.forget()
