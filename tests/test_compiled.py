"""compile(f): cached kernels, guards, captured state, batched fields (issue 4)."""
import warnings

import numpy as np
import pytest

import zygote_sym as zs


def test_kernel_is_reused_and_agrees_with_gradient():
    calls = []

    def f(x, y):
        calls.append(1)
        return x * y * np.sin(y) + np.exp(x * y) / (1 + y**2)

    c = zs.compile(f)
    with pytest.warns(RuntimeWarning, match="changed closure variable calls"):
        got = c.gradient(0.5, -1.2)  # f's side effect is said, once, at compile time
    assert got == pytest.approx(zs.gradient(f, 0.5, -1.2), rel=1e-15)
    for p in [(0.1, 0.3), (2.0, 1.0)]:
        assert c.gradient(*p) == pytest.approx(zs.gradient(f, *p), rel=1e-15)
    assert len(calls) == 1 + 3  # one trace for the cache, one per uncompiled gradient
    assert "def kernel(x, y)" in c.source


def test_guards_retrace_and_keep_both_branches():
    c = zs.compile(lambda x: x**2 if x > 0 else -x)
    assert c.gradient(3.0) == (6.0,)
    assert c.gradient(-2.0) == (-1.0,)
    assert c.gradient(1.5) == (3.0,)
    assert len(c._cache[next(iter(c._cache))]) == 2


def test_too_many_specializations_warn_naming_the_guard():
    c = zs.compile(lambda n, x: x * n if int(n) >= 0 else x, max_specializations=2)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for n in range(4):
            assert c.gradient(n, 1.0)[1] == float(n)
    assert any("n == 0" in str(x.message) for x in w)


def test_nan_input_propagates_without_a_retrace_loop():
    c = zs.compile(lambda x: np.sqrt(x) if x > 0 else x * 2)
    assert c.gradient(4.0) == (0.25,)
    assert c.gradient(float("nan")) == (2.0,)  # nan > 0 is False: the other branch, once
    assert np.isnan(c(float("nan")))


def test_captured_arrays_are_read_at_call_time():
    x = np.array([1.0, 2.0])
    c = zs.compile(lambda a: np.sum(a * x**2))
    ones = np.ones(2)
    np.testing.assert_array_equal(c.gradient(ones)[0], [1.0, 4.0])
    x[:] = [3.0, 4.0]  # changed in place
    np.testing.assert_array_equal(c.gradient(ones)[0], [9.0, 16.0])


def test_captured_numbers_and_index_arrays_are_guarded():
    k = [2.0]
    scale = k[0]
    c = zs.compile(lambda a: a * scale)
    assert c.gradient(1.0) == (2.0,)
    idx = np.array([0, 0])
    e = zs.compile(lambda a: np.sum(a[idx]))
    np.testing.assert_array_equal(e.gradient(np.array([1.0, 2.0]))[0], [2.0, 0.0])
    idx[:] = [1, 1]
    np.testing.assert_array_equal(e.gradient(np.array([1.0, 2.0]))[0], [0.0, 2.0])


def test_global_number_change_retraces():
    global OFFSET
    OFFSET = 1.0
    c = zs.compile(lambda a: a * OFFSET)
    assert c.gradient(2.0) == (1.0,)
    OFFSET = 5.0
    assert c.gradient(2.0) == (5.0,)


def test_wrt_limits_the_gradient():
    c = zs.compile(lambda p, t: np.sum(p[0] * np.exp(-p[1] * t)), wrt=0)
    g = c.gradient(np.array([2.0, 1.0]), np.linspace(0, 1, 4))
    assert g[1] is None and g[0].shape == (2,)
    assert len(c._last.kernel(np.array([2.0, 1.0]), np.linspace(0, 1, 4))) == 2  # value, dp


def test_new_shape_is_a_new_specialization_and_bad_leaf_is_an_error():
    c = zs.compile(lambda x: np.sum(x**2))
    np.testing.assert_array_equal(c.gradient(np.array([1.0, 2.0]))[0], [2.0, 4.0])
    np.testing.assert_array_equal(c.gradient(np.array([1.0, 2.0, 3.0]))[0], [2.0, 4.0, 6.0])
    with pytest.raises(TypeError, match=r"argument x .*numeric"):
        c.gradient(np.array(["a", "b"]))


def test_pytree_arguments():
    c = zs.compile(lambda p: p["w"] @ p["x"] + p["b"])
    p = {"w": np.array([1.0, 2.0]), "x": np.array([3.0, 4.0]), "b": 0.5}
    g = c.gradient(p)[0]
    np.testing.assert_array_equal(g["w"], [3.0, 4.0])
    assert g["b"] == 1.0


def test_batched_gradient_field_with_per_element_guards():
    c = zs.compile(lambda x: x**2 if x > 0 else -x)
    x = np.linspace(-1, 1, 10**6)
    val, (g,) = c.withgradient(x)
    np.testing.assert_array_equal(g, np.where(x > 0, 2 * x, -1.0))
    np.testing.assert_array_equal(val, np.where(x > 0, x**2, -x))


def test_batched_field_of_a_smooth_function():
    c = zs.compile(lambda x, y: np.sin(x) * np.exp(-y**2) + np.log1p(x**2 * y**2))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-2, 2, 50_000), rng.uniform(-2, 2, 50_000)
    gx, gy = c.gradient(x, y)
    ey, q = np.exp(-y**2), 1 + x**2 * y**2
    np.testing.assert_allclose(gx, np.cos(x) * ey + 2 * x * y**2 / q, rtol=1e-12)
    np.testing.assert_allclose(gy, -2 * y * np.sin(x) * ey + 2 * x**2 * y / q, rtol=1e-12, atol=1e-15)


def test_results_do_not_alias_reused_buffers():
    c = zs.compile(lambda x: np.sum(np.sin(x) * x), wrt=0)
    a = np.linspace(0, 1, 100_000)
    g1 = c.gradient(a)[0].copy()
    g_first = c.gradient(a)[0]
    c.gradient(a + 1)
    np.testing.assert_array_equal(g_first, g1)


def test_compiled_jacobian():
    c = zs.compile(lambda b, x: b[0] * (1 - np.exp(-b[1] * x)))
    b, x = np.array([2.0, 0.5]), np.linspace(1, 5, 4)
    np.testing.assert_allclose(c.jacobian(b, x)[0], zs.jacobian(c.f, b, x)[0], rtol=1e-15)


def test_index_data_decided_by_values_is_guarded():
    c = zs.compile(lambda x: np.sum(x[x > 0]**2))
    assert c.withgradient(np.array([1.0, -2.0, 3.0])).val == 10.0
    r = c.withgradient(np.array([-1.0, 2.0, 3.0]))
    assert r.val == 13.0
    np.testing.assert_array_equal(r.grad[0], [0.0, 4.0, 6.0])
    s = zs.compile(lambda x: np.sort(x)[0])
    np.testing.assert_array_equal(s.gradient(np.array([3.0, 1.0, 2.0]))[0], [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(s.gradient(np.array([1.0, 3.0, 2.0]))[0], [1.0, 0.0, 0.0])
    a = zs.compile(lambda x: x[np.argmax(x)] * 2)
    np.testing.assert_array_equal(a.gradient(np.array([1.0, 3.0, 2.0]))[0], [0.0, 2.0, 0.0])
    assert "np.argmax of x unchanged" in str(a.guards[0])


def test_gradient_never_aliases_an_input_or_captured_array():
    x, y, w = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0])
    gx, gy = zs.compile(lambda x, y: np.sum(x * y)).gradient(x, y)
    (ga,) = zs.compile(lambda a: np.sum(a * w)).gradient(x)
    gx[0] = ga[0] = 99.0
    np.testing.assert_array_equal(y, [3.0, 4.0])
    np.testing.assert_array_equal(w, [5.0, 6.0])


def test_any_all_decide_branches_under_a_data_guard():
    c = zs.compile(lambda x: np.sum(x**2) if np.any(x > 1) else np.sum(x))
    np.testing.assert_array_equal(c.gradient(np.array([0.5, 2.0]))[0], [1.0, 4.0])
    np.testing.assert_array_equal(c.gradient(np.array([0.5, 0.2]))[0], [1.0, 1.0])


# ------------------------------------------- the scalar fast path (scalar_dispatch.py)
SCALE = 2.0


def test_scalar_dispatcher_checks_types_state_and_tracing():
    global SCALE
    f = lambda x, y: SCALE * x * np.sin(y)  # noqa: E731
    c = zs.compile(f, backend="numpy")
    assert c.gradient(1.0, 0.5) == (2 * np.sin(0.5), 2 * np.cos(0.5))
    assert "def gradient(*a)" in c.gradient.source  # the generated dispatcher is bound
    w = c.withgradient(1.0, 0.5)
    assert type(w) is zs.WithGradient and w.val == 2 * np.sin(0.5) and type(w.grad[0]) is float
    assert c.gradient(1, 0.5) == (2 * np.sin(0.5), 2 * np.cos(0.5))  # an int: another path
    assert c.gradient(np.float64(1.0), 0.5)[1] == 2 * np.cos(0.5)
    with pytest.raises(TypeError):
        c.gradient(1.0)
    SCALE = 3.0  # state the kernel assumed changed: traced again, not a stale 2.0
    assert c.gradient(1.0, 0.5) == (3 * np.sin(0.5), 3 * np.cos(0.5))
    # inside a derivative the result stays traced: d/dx of d/dy (3 x sin y) = 3 cos y
    assert zs.gradient(lambda x: c.gradient(x, 0.5)[1], 2.0) == (3 * np.cos(0.5),)


def test_scalar_dispatcher_at_a_special_point_uses_the_kernels_recovery():
    c = zs.compile(lambda x: 1 / x, backend="numpy")
    assert c.gradient(2.0) == (-0.25,)
    with np.errstate(divide="ignore"):
        g = c.gradient(0.0)[0]  # math raises ZeroDivisionError; NumPy gives -inf
    assert g == -np.inf and type(g) is float


# ------------------------------------------- integer arguments pinned by value
def test_integer_slice_offsets_trace_once_per_value_then_run_kernels():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((40, 3)), rng.standard_normal(40)

    def loss(w, i):  # (a window of constant length X[i:i + 8] is one trace: test_reuse.py)
        return np.mean((X[i:2 * i + 8] @ w - y[i:2 * i + 8]) ** 2)
    c = zs.compile(loss, max_specializations=2, backend="numpy")
    w = np.array([0.5, -1.0, 2.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in range(3):
            for i in range(0, 40, 8):
                Xb, yb = X[i:2 * i + 8], y[i:2 * i + 8]
                np.testing.assert_allclose(c.gradient(w, i)[0], Xb.T @ (Xb @ w - yb) * 2
                                           / len(yb), rtol=1e-13)
            assert len(c._pinned) == 5  # one trace per offset, kept across epochs
    msgs = [str(x.message) for x in caught]
    assert len(msgs) == 1 and "per value of its integer arguments" in msgs[0]
    assert "i ==" in msgs[0]  # names the guard


# ------------------------------------------- the auto backend's timer on the scalar path
def test_scalar_dispatcher_times_one_call_in_sample_on_auto(monkeypatch):
    from zygote_sym.codegen import fused_tier
    monkeypatch.setattr(fused_tier, "FUSE_AFTER", 1e9)  # keep the NumPy kernel here
    c = zs.compile(lambda x, y: x * np.sin(y), backend="auto")
    c.gradient(1.0, 2.0)  # traced; the dispatcher is installed
    if type(c._last.kernel) is not fused_tier._Timed:
        pytest.skip("the auto backend is not timing this kernel (no Numba)")
    timed, run, wrapped, call = [], fused_tier._Timed.timed, [], fused_tier._Timed.__call__
    monkeypatch.setattr(fused_tier._Timed, "timed",
                        lambda self, *v: timed.append(1) or run(self, *v))
    monkeypatch.setattr(fused_tier._Timed, "__call__",  # (a Python call more per call)
                        lambda self, *v: wrapped.append(1) or call(self, *v))
    spent = c._last.tier.spent
    for k in range(64):  # dispatcher calls 1..64: the 16th, 32nd, 48th and 64th are timed
        g = c.gradient(1.5, 0.25 * k)
        assert type(g[0]) is float and g == pytest.approx((np.sin(0.25 * k),
                                                           1.5 * np.cos(0.25 * k)), rel=1e-15)
    assert len(timed) == 64 // fused_tier._Timed.SAMPLE and not wrapped
    assert c._last.tier.spent > spent  # each counts for SAMPLE calls


def test_array_dispatcher_times_one_call_in_sample_on_auto(monkeypatch):
    from zygote_sym.codegen import fused_tier
    monkeypatch.setattr(fused_tier, "FUSE_AFTER", 1e9)  # keep the NumPy kernel here
    c = zs.compile(lambda x: np.sum(np.sin(x) * x), backend="auto")
    x = np.linspace(0, 1, 5)
    c.gradient(x)  # traced; the array dispatcher is bound
    if type(c._last.kernel) is not fused_tier._Timed:
        pytest.skip("the auto backend is not timing this kernel (no Numba)")
    assert "def gradient(*a)" in c.gradient.source
    timed, run = [], fused_tier._Timed.timed
    monkeypatch.setattr(fused_tier._Timed, "timed",
                        lambda self, *v: timed.append(1) or run(self, *v))
    spent = c._last.tier.spent
    for k in range(32):  # dispatcher calls 1..32: the 16th and 32nd are timed
        val, (g,) = c.withgradient(x + k)
        assert type(val) is float and val == pytest.approx(np.sum(np.sin(x + k) * (x + k)))
        np.testing.assert_allclose(g, np.sin(x + k) + (x + k) * np.cos(x + k), rtol=1e-14)
    assert len(timed) == 32 // fused_tier._Timed.SAMPLE
    assert c._last.tier.spent > spent  # each counts for SAMPLE calls


def test_gradient_alone_runs_a_kernel_without_the_value():
    """compile(f).gradient of arrays does not compute f's value (the softplus
    is only in the value): the same gradients as withgradient's, and the
    source of the kernel that ran has no softplus."""
    x = np.linspace(-3, 3, 50)
    c = zs.compile(lambda w: np.sum(np.log1p(np.exp(w * x))))
    w = np.full(50, 0.5)
    val, (g_with,) = c.withgradient(w)
    assert "softplus" in c.source
    for _ in range(2):  # the general path, then the array dispatcher
        (g,) = c.gradient(w)
        np.testing.assert_allclose(g, x / (1 + np.exp(-w * x)), rtol=1e-14)
        np.testing.assert_allclose(g, g_with, rtol=1e-15)
        assert "softplus" not in c.source
    assert val == pytest.approx(np.sum(np.log1p(np.exp(w * x))), rel=1e-14)
