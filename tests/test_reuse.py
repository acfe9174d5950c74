"""zygote_sym.gradient/withgradient reuse a compiled kernel from the second
call on (zygote_sym/reuse.py) and give exactly what a new trace gives
(zygote_sym/eager.py, called here as the reference): every value below is
checked against it or against a closed form."""
import logging
import random
import threading
import time

import numpy as np
import pytest

import zygote_sym as zs
from zygote_sym import eager, reuse


def fresh_grad(f, *args):
    """The gradient by a new trace (what zs.gradient did at every call)."""
    return eager.withgradient(f, args, "gradient").grad


def reused(f):
    return reuse._cache.get(reuse.key(f))


def test_second_call_runs_the_kernel_and_gives_the_same_numbers():
    x = np.linspace(-1, 1, 7)
    f = lambda w: np.sum(np.sin(w) * w**2)  # noqa: E731
    first = zs.gradient(f, x)[0]
    c = reused(f)
    assert c is not None and c.unsafe is None
    traced = sum(len(v) for v in c._cache.values())
    for k in range(3):
        np.testing.assert_array_equal(zs.gradient(f, x + k)[0], fresh_grad(f, x + k)[0])
    assert sum(len(v) for v in c._cache.values()) == traced  # no new trace
    np.testing.assert_allclose(first, np.cos(x) * x**2 + 2 * x * np.sin(x), rtol=1e-14)


def test_a_lambda_written_anew_in_a_loop_reuses_and_sees_its_closure():
    x = np.array([1.0, 2.0])
    entries = []
    for scale in [1.0, 1.0, 2.0, -3.0, 2.0]:  # the same value finds the same entry
        f = lambda w: scale * np.sum(w**2)  # noqa: E731
        np.testing.assert_array_equal(zs.gradient(f, x)[0], 2 * scale * x)
        entries.append(reused(f))
    # 1.0 made a kernel; 2.0 and -3.0, new values of the same code, first traced as
    # before; 2.0 coming again made its kernel
    assert entries[0] is entries[1] is not None and entries[2] is None is entries[3]
    assert entries[4] is not None and entries[4] is not entries[0]
    for s in [0.0, -0.0, 0.0]:  # by value, with the sign of zero: -0.0 is not 0.0
        f = lambda w: np.sum(w) * np.copysign(1.0, s)  # noqa: E731
        np.testing.assert_array_equal(zs.gradient(f, x)[0], np.copysign([1.0, 1.0], s))
    arrays = [np.array([1.0, -1.0]), np.array([3.0, 0.5])]
    for a in arrays * 2:  # a closure holding an array: by identity, its values re-read
        np.testing.assert_array_equal(zs.gradient(lambda w: np.sum(a * w), x)[0], a)
    a = arrays[0]
    a[0] = 7.0  # changed in place between calls
    np.testing.assert_array_equal(zs.gradient(lambda w: np.sum(a * w), x)[0], [7.0, -1.0])


def test_closure_values_that_change_at_every_call_make_no_kernel_per_call():
    x = np.ones(2)
    for t in range(10):
        f = lambda w: np.sum(w**2) * (t + 1.0)  # noqa: E731
        np.testing.assert_array_equal(zs.gradient(f, x)[0], 2 * (t + 1.0) * x)
    code = f.__code__
    assert sum(1 for k in list(reuse._cache) if k[0] is code) == 1


def test_a_rebound_closure_cell_is_not_served_a_stale_trace():
    def make():
        k = 1.0

        def f(x):
            return k * x**2

        def bump(v):
            nonlocal k
            k = v
        return f, bump
    f, bump = make()
    assert zs.gradient(f, 3.0) == (6.0,)
    assert zs.gradient(f, 3.0) == (6.0,)
    bump(5.0)
    assert zs.gradient(f, 3.0) == (30.0,)
    g, _ = make()  # same code, its own cell holding 1.0: a different key
    assert zs.gradient(g, 3.0) == (6.0,)


STEP = 2.0


def test_globals_and_attributes_are_watched():
    global STEP

    class Model:
        def __init__(self):
            self.w = 2.0
    m = Model()
    f = lambda x: STEP * m.w * x**3  # noqa: E731
    assert zs.gradient(f, 1.0) == (12.0,)
    assert zs.gradient(f, 1.0) == (12.0,)
    m.w = -1.0
    assert zs.gradient(f, 1.0) == (-6.0,)
    STEP = 1.0
    assert zs.gradient(f, 1.0) == (-3.0,)


def test_an_instance_attribute_shadowing_a_class_attribute_is_seen():
    class Model:
        w = 2.0
    m = Model()
    c = zs.compile(lambda x: m.w * x**3)
    assert c.gradient(1.0) == (6.0,)
    m.w = -1.0
    assert c.gradient(1.0) == (-3.0,)


def test_random_draws_side_effects_and_clock_reads_run_f_at_every_call():
    rs = np.random.RandomState(0)
    calls = []

    def noisy(w):
        calls.append(1)
        return np.sum(w * rs.standard_normal(2))
    w = np.ones(2)
    draws = [zs.gradient(noisy, w)[0] for _ in range(3)]
    assert len(calls) == 3  # f ran at every call (and once per call)
    expected = np.random.RandomState(0).standard_normal(6).reshape(3, 2)
    np.testing.assert_array_equal(draws, expected)  # a new draw each call
    assert reused(noisy).unsafe.startswith("f draws random numbers")
    stamps = []

    def clocked(x):
        stamps.append(time.time())
        return x * stamps[-1]
    grads = [zs.gradient(clocked, 2.0)[0] for _ in range(2)]
    assert grads == stamps  # the clock read at each call
    state = random.getstate()
    py = lambda x: x * random.random()  # noqa: E731
    got = [zs.gradient(py, 1.0)[0] for _ in range(2)]
    random.setstate(state)
    assert got == [random.random(), random.random()]


def test_printing_or_writing_runs_f_at_every_call(capsys, tmp_path):
    def shown(x):
        print("x =", x.value if hasattr(x, "value") else x)
        return x**2
    assert [zs.gradient(shown, v)[0] for v in (1.0, 2.0, 3.0)] == [2.0, 4.0, 6.0]
    assert capsys.readouterr().out.splitlines() == ["x = 1.0", "x = 2.0", "x = 3.0"]
    assert reused(shown).unsafe.startswith("f does I/O (print")
    log = open(tmp_path / "log.txt", "w")

    def logged(x):
        log.write("step\n")
        return 3 * x
    assert [zs.gradient(logged, 1.0) for _ in range(2)] == [(3.0,), (3.0,)]
    log.close()
    assert (tmp_path / "log.txt").read_text() == "step\nstep\n"


def test_f_raising_runs_once_and_the_error_is_its_own():
    log = []

    def f(x):
        log.append(x)
        raise RuntimeError("boom")
    for n in (1, 2):
        with pytest.raises(RuntimeError, match="boom"):
            zs.gradient(f, 1.5)
        assert len(log) == n


def test_what_reuse_does_not_take_is_traced_as_before():
    from fractions import Fraction
    assert zs.gradient(lambda x: 3 * x**2, Fraction(1, 4)) == (Fraction(3, 2),)
    aux = lambda x: (x**2, {"cube": x**3})  # noqa: E731
    for _ in range(2):
        assert zs.withgradient(aux, 2.0) == zs.WithGradient((4.0, {"cube": 8.0}), (4.0,))
    assert zs.gradient(lambda x: (x**2, "a"), 3.0, has_aux=True) == ((6.0,), "a")
    for _ in range(2):  # a function of scalars at an array: still an error, as before
        with pytest.raises(zs.NonScalarOutputError):
            zs.gradient(lambda x: x**2, np.ones(3))
    tree = {"a": 2.0, "b": np.array([1.0, 3.0]), "name": "k"}
    for _ in range(2):
        g = zs.gradient(lambda p: p["a"] * np.sum(p["b"] ** 2), tree)[0]
        assert g["a"] == 10.0 and g["name"] is None
        np.testing.assert_array_equal(g["b"], [4.0, 12.0])


def test_nested_derivatives_stay_traced():
    inner = lambda x: x**3  # noqa: E731
    d2 = lambda x: zs.gradient(inner, x)[0]  # noqa: E731
    for x in (1.0, 2.0):
        assert zs.gradient(d2, x) == (6 * x,)
    np.testing.assert_allclose(zs.hessian(lambda v: np.sum(v**3), np.array([1.0, 2.0])),
                               np.diag([6.0, 12.0]))


def test_bound_methods_and_callables():
    class Loss:
        def __init__(self, k):
            self.k = k

        def __call__(self, x):
            return self.k * x**2

        def value(self, x):
            return self.k * x**3
    a, b = Loss(1.0), Loss(2.0)
    for _ in range(2):
        assert zs.gradient(a.value, 1.0) == (3.0,)
        assert zs.gradient(b.value, 1.0) == (6.0,)  # another instance: another entry
        assert zs.gradient(b, 1.0) == (4.0,)
    b.k = 3.0
    assert zs.gradient(b.value, 1.0) == (9.0,)


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(reuse, "MAX_FUNCTIONS", 4)
    monkeypatch.setattr(reuse, "_cache", type(reuse._cache)())
    for k in range(10):
        assert zs.gradient(eval(f"lambda x: {k + 1} * x"), 1.0) == (float(k + 1),)
    assert len(reuse._cache) == 4


def test_state_that_keeps_changing_falls_back_to_tracing(caplog):
    box = {"k": 0.0}
    f = lambda x: box["k"] * x  # noqa: E731
    with caplog.at_level(logging.INFO, logger="zygote_sym"):
        for k in range(1, 7):
            box["k"] = float(k)
            assert zs.gradient(f, 1.0) == (float(k),)
    assert "keeps changing" in (reused(f).unsafe or "")
    assert any("not reused" in r.getMessage() for r in caplog.records)


def test_threads_share_one_entry():
    x = np.linspace(0, 1, 50)
    f = lambda w: np.sum(np.exp(w) * x)  # noqa: E731
    want = np.exp(x) * x
    bad, barrier = [], threading.Barrier(4)

    def work(k):
        barrier.wait()
        for _ in range(20):
            g = zs.gradient(f, x)[0]
            if not np.array_equal(g, want):
                bad.append(g)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad and sum(len(v) for v in reused(f)._cache.values()) == 1


def test_integer_offsets_pin_one_trace_per_value_and_warn_nothing():
    rng = np.random.default_rng(0)
    X, y, w = rng.standard_normal((60, 3)), rng.standard_normal(60), np.ones(3)

    def loss(w, i):
        return np.mean((X[i:i + 10] @ w - y[i:i + 10]) ** 2)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            for i in range(0, 60, 10):
                g = zs.gradient(loss, w, i)
                Xb, yb = X[i:i + 10], y[i:i + 10]
                np.testing.assert_allclose(g[0], 2 * Xb.T @ (Xb @ w - yb) / 10, rtol=1e-13)
    assert reused(loss).unsafe is None


def _shape_of(t):
    """A result's structure, types, dtypes and values, for exact comparison."""
    if isinstance(t, dict):
        return {k: _shape_of(v) for k, v in t.items()}
    if isinstance(t, (list, tuple)):
        return [type(t).__name__] + [_shape_of(v) for v in t]
    return type(t).__name__, getattr(t, "dtype", None), repr(np.asarray(t).tolist())


@pytest.mark.parametrize("f, args", [
    (lambda x: x**2, (3,)), (lambda x: x**2, (np.float32(3.0),)),
    (lambda x: np.sum(x**2), (np.arange(3),)),
    (lambda x: np.sum(x**2), (np.arange(3, dtype=np.float32),)),
    (lambda x, y: x * y, (2, 3.0)), (lambda x: 1.0, (2.0,)),
    (lambda x: np.sum(x) * 0, (np.ones(2),)),
    (lambda x: x[0] * x[1], ([1.0, 2.0],)), (lambda x: x[0] * x[1], ((1.0, 2.0),)),
    (lambda x: np.sqrt(x), (0.0,)), (lambda x: np.log(x), (-1.0,)), (lambda x: 1 / x, (0.0,)),
    (lambda x: np.max(x), (np.array([1.0, 3.0, 3.0]),)), (lambda x: x, (np.int64(3),))])
def test_a_reused_result_is_what_a_new_trace_gives(f, args):
    with np.errstate(all="ignore"):
        want = _shape_of(eager.withgradient(f, args, "withgradient"))
        for _ in range(3):
            assert _shape_of(zs.withgradient(f, *args)) == want


def test_large_arrays_f_reaches_without_arguments_are_not_copied(monkeypatch):
    from zygote_sym import specialize
    monkeypatch.setattr(specialize, "REUSE_HELD_BYTES", 1000)
    data = np.linspace(0, 1, 200)  # 1600 bytes: over the limit
    f = lambda w: np.sum((w * data) ** 2)  # noqa: E731
    for k in range(3):
        assert zs.gradient(f, 1.0 + k)[0] == pytest.approx(2 * (1.0 + k) * np.sum(data**2))
    assert "MB of arrays" in reused(f).unsafe


# --- integer offsets as kernel inputs: a window x[i:i + B] is one kernel ---------------

@pytest.fixture
def traces(caplog):
    """The number of kernels traced so far (compile logs each new specialization)."""
    caplog.set_level(logging.DEBUG, logger="zygote_sym.compile")
    return lambda: sum("new specialization" in r.getMessage() for r in caplog.records)


def _plain_path(f, args):
    """(value, gradient) by a new trace, which takes a window by the value of i
    (a guard i == c, as every slice offset was traced before)."""
    return eager.withgradient(f, args, "withgradient")


WINDOWS = [lambda w, X, y, i: np.sum((X[i:i + 10] @ w - y[i:i + 10]) ** 2),
           lambda w, X, y, i: np.sum((X[i * 10:(i + 1) * 10] @ w - y[i * 10:(i + 1) * 10]) ** 2)]


@pytest.mark.parametrize("form", [0, 1], ids=["i:i+B", "i*B:(i+1)*B"])
@pytest.mark.parametrize("api", ["gradient", "compile"])
def test_a_window_is_traced_once_for_every_offset_in_range(form, api, traces):
    rng = np.random.default_rng(form)
    X, y, w = rng.standard_normal((205, 3)), rng.standard_normal(205), rng.standard_normal(3)
    f = WINDOWS[form]
    loss = lambda w, X, y, i: f(w, X, y, i)  # noqa: E731 - a new function per test
    run = zs.compile(loss).withgradient if api == "compile" else \
        lambda *a: zs.withgradient(loss, *a)
    offsets = list(range(0, 200, 10)) if form == 0 else list(range(20))
    for i in offsets:
        got, want = run(w, X, y, i), _plain_path(loss, (w, X, y, i))
        assert got[0] == want[0]
        for g, h in zip(got[1][:3], want[1][:3]):
            np.testing.assert_array_equal(g, h)
        assert got[1][3] is None is want[1][3]  # an integer that picks rows has no gradient
        s = slice(i, i + 10) if form == 0 else slice(10 * i, 10 * i + 10)
        r = X[s] @ w - y[s]
        np.testing.assert_allclose(got[1][0], 2 * X[s].T @ r, rtol=1e-12)
    assert traces() == 1


@pytest.mark.parametrize("i", [200, 203, 205, -3])
def test_an_offset_past_the_end_takes_numpys_clipped_slice_in_its_own_kernel(i, traces):
    rng = np.random.default_rng(1)
    X, y, w = rng.standard_normal((205, 3)), rng.standard_normal(205), rng.standard_normal(3)
    loss = lambda w, X, y, i: np.sum((X[i:i + 10] @ w - y[i:i + 10]) ** 2)  # noqa: E731
    c = zs.compile(loss)
    c.gradient(w, X, y, 0)
    for _ in range(2):
        got, want = c.withgradient(w, X, y, i), _plain_path(loss, (w, X, y, i))
        assert got[0] == want[0] == np.sum((X[i:i + 10] @ w - y[i:i + 10]) ** 2)
        np.testing.assert_array_equal(got[1][1], want[1][1])
    assert traces() == 2


def test_writing_into_a_window_writes_into_the_array():
    def f(X, i):
        X = X * 1.0
        xb = X[i:i + 2]
        xb[0] = xb[1] ** 2  # a view: X changes too
        return np.sum(X ** 3)
    X, c = np.linspace(0.5, 2.0, 6), zs.compile(f)
    for i in (0, 3, 1):
        got, want = c.withgradient(X, i), _plain_path(f, (X, i))
        assert got[0] == want[0]
        np.testing.assert_array_equal(got[1][0], want[1][0])


def test_a_window_beside_an_integer_index_keeps_numpys_axis_order():
    f = lambda A, i: np.sum(A[0, :, i:i + 2] * np.arange(6.0).reshape(3, 2))  # noqa: E731
    A = np.arange(24.0).reshape(2, 3, 4)
    got, want = zs.compile(f).withgradient(A, 1), _plain_path(f, (A, 1))
    assert got[0] == want[0] == f(A, 1)
    np.testing.assert_array_equal(got[1][0], want[1][0])


@pytest.mark.parametrize("old, new", [(0.0, -0.0), (np.nan, -np.nan),
                                      (np.nan, np.uint64(0x7FF8000000000001).view(np.float64))],
                         ids=["signed zero", "nan sign", "nan payload"])
def test_the_watch_sees_every_bit_of_an_array_f_reaches(old, new, traces):
    data = np.array([2.0, old])
    f = lambda w: w * data[0]  # noqa: E731 - (the whole array is watched)
    for _ in range(2):
        zs.gradient(f, 1.0)
    assert traces() == 1
    data[1] = new  # equal as a number (or both NaN): only the bits changed
    assert zs.gradient(f, 1.0)[0] == 2.0
    assert traces() == 2  # the state f reads changed: traced again
