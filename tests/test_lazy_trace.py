"""Deferred trace values (zygote_sym/trace/lazy.py): an elementwise operation
on large traced arrays computes its value only when read, bit for bit the
value computed at once; what is never read (the array trace of a gradient
field) is never computed."""
import warnings

import numpy as np
import pytest

import zygote_sym as zs
from zygote_sym.trace import lazy
from zygote_sym.trace.call import trace_call
from zygote_sym.trace.lazy import Lazy

N = 2 * lazy.LAZY_MIN  # large enough to be deferred
RNG = np.random.default_rng(3)
X, Y = RNG.uniform(-2, 2, N), RNG.uniform(-2, 2, N)


def field(x, y):
    return np.sin(x) * np.exp(-y**2) + np.log1p(x**2 * y**2)


@pytest.fixture
def gets(monkeypatch):
    """Lazy values computed during the test: [Lazy, ...]."""
    got = []
    real = Lazy.get

    def counting(self):
        if self.todo is not None:
            got.append(self)
        return real(self)
    monkeypatch.setattr(Lazy, "get", counting)
    return got


def test_output_values_are_deferred_and_bit_for_bit_the_eager_ones():
    traced = trace_call(field, (X, Y))
    assert type(list.__getitem__(traced.out_values, 0)) is Lazy  # nothing computed yet
    assert np.array_equal(traced.out_values[0], field(X, Y))      # the same NumPy calls


def test_small_arrays_are_computed_at_once():
    traced = trace_call(field, (X[:10], Y[:10]))
    assert type(list.__getitem__(traced.out_values, 0)) is np.ndarray
    assert np.array_equal(traced.out_values[0], field(X[:10], Y[:10]))


def test_the_gradient_field_computes_no_trace_value(gets):
    gx, gy = zs.compile(field).gradient(X, Y)
    ey, q = np.exp(-Y**2), 1 + X**2 * Y**2
    np.testing.assert_allclose(gx, np.cos(X) * ey + 2 * X * Y**2 / q, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(gy, -2 * Y * np.sin(X) * ey + 2 * X**2 * Y / q,
                               rtol=1e-13, atol=1e-15)
    assert gets == []  # the array trace's values were never needed


def test_a_branch_reads_the_value_and_is_guarded(gets):
    def f(x):
        y = np.sin(x) + x
        if np.all(y >= 0):  # true on [0, 1], false on [-0.5, 0.5]: reads y
            return np.sum(y * 2)
        return np.sum(y)
    x = np.linspace(0, 1, N)
    c = zs.compile(f)
    (g,) = c.gradient(x)
    assert gets  # the branch needed y
    np.testing.assert_allclose(g, 2 * (np.cos(x) + 1), rtol=1e-13, atol=1e-15)
    x2 = x - 0.5  # the other branch: the guard fails, f is traced again
    np.testing.assert_allclose(c.gradient(x2)[0], np.cos(x2) + 1,
                               rtol=1e-13, atol=1e-15)


def test_an_array_f_holds_is_read_at_once():
    held = np.ones(N)

    def f(x):
        y = x * held   # f changes `held` before y's value is read: y is x * 1
        held[:] = 2.0
        return y
    traced = trace_call(f, (X,))
    assert type(list.__getitem__(traced.out_values, 0)) is np.ndarray
    assert np.array_equal(traced.out_values[0], X)


def test_special_values_as_at_once_without_warnings():
    x = np.concatenate([np.zeros(N // 2), -np.ones(N // 2)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traced = trace_call(lambda v: np.log(v) / v, (x,))
        out = traced.out_values[0]
    with np.errstate(all="ignore"):
        expected = np.log(x) / x
    assert np.array_equal(out, expected, equal_nan=True)  # -inf/0 -> -inf... nan, as NumPy


def test_a_long_chain_is_computed_without_recursion():
    def chain(x):
        for _ in range(3000):
            x = x * 1.0001 + 0.0
        return x
    traced = trace_call(chain, (X,))
    expected = X
    for _ in range(3000):
        expected = expected * 1.0001 + 0.0
    assert np.array_equal(traced.out_values[0], expected)


def test_defer_refuses_what_it_cannot_type():
    f = np.add
    assert lazy.defer(f, [np.ones(N, dtype=np.float32), 1.0]) is None   # not float64
    assert lazy.defer(f, [np.ones(N), [1.0]]) is None                    # a list operand
    assert lazy.defer(f, [np.ones(N), np.ones(3)]) is None               # no broadcast
    d = lazy.defer(np.less, [np.ones(N), 0.5])
    assert d.dtype == bool and d.shape == (N,) and not d.get().any()


def test_threads_reading_one_deferred_value_get_the_same():
    import threading
    traced = trace_call(lambda x: np.exp(np.sin(x) * 2.0) - x, (X,))
    expected = np.exp(np.sin(X) * 2.0) - X
    got = []
    threads = [threading.Thread(target=lambda: got.append(traced.out_values[0]))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(np.array_equal(g, expected) for g in got)


@pytest.mark.parametrize("n", [5, N])
@pytest.mark.parametrize("api", ["gradient", "withgradient", "pullback", "jacobian"])
def test_an_argument_changed_under_the_trace_is_an_error(n, api):
    """f zeroes its argument through another name after reading it: a trace
    would differentiate at values f no longer sees (it gave 0 where the
    gradient is 2x), deferred or not; PyTorch refuses the same."""
    box = {}

    def f(x):
        z = x ** 2
        box["x"][:] = 0.0
        return np.sum(z)
    x = np.full(n, 3.0)
    box["x"] = x
    with pytest.raises(ValueError, match=r"argument x changed in place while f was traced"):
        getattr(zs, api)(f, x)

