"""Implicit parameters (Params/Grads), jacobian, hessian, diaghessian (issue 3)."""
import numpy as np
import pytest

import zygote_sym as zs

rng = np.random.default_rng(0)
W = rng.random((2, 5))
b = rng.random(2)
xin = rng.random(5)


def linear(x):
    return W @ x + b


def test_params_through_a_called_function_and_globals():
    grads = zs.gradient(lambda: np.sum(linear(xin)), zs.Params([W, b]))
    np.testing.assert_allclose(grads[W], np.tile(xin, (2, 1)))
    np.testing.assert_array_equal(grads[b], [1.0, 1.0])
    assert isinstance(W, np.ndarray) and isinstance(b, np.ndarray)  # restored


x = np.array([[1, 2, 3], [4, 5, 6]])
y = np.array([7, 8])
z = np.array([1, 10, 100])


def test_params_of_integer_globals():
    g = zs.gradient(lambda: np.sum(x * y[:, None] * z), zs.Params([x, y]))
    np.testing.assert_array_equal(g[x], [[7, 70, 700], [8, 80, 800]])
    np.testing.assert_array_equal(g[y], [321, 654])
    assert z not in g and x in g
    assert g[x].dtype == float


def test_params_in_closures_attributes_and_containers_restored_even_on_error():
    class Model:
        pass
    m = Model()
    m.w = np.array([1.0, 2.0])
    table = {"v": np.array([3.0])}
    ws = [np.array([0.5])]

    def loss():
        return np.sum(m.w * 2) + np.sum(table["v"] ** 2) + np.sum(ws[0] * 4)

    ps = zs.Params([m.w, table["v"], ws[0]])
    g = zs.gradient(loss, ps)
    np.testing.assert_array_equal(g[m.w], [2.0, 2.0])
    np.testing.assert_array_equal(g[table["v"]], [6.0])
    np.testing.assert_array_equal(g[ws[0]], [4.0])

    def bad():
        _ = m.w * 2
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        zs.gradient(bad, ps)
    assert isinstance(m.w, np.ndarray) and m.w is list(ps)[0]


def test_unreached_parameter_is_none_and_grads_arithmetic():
    a, c = np.array([1.0, 2.0]), np.array([5.0])
    ps = zs.Params([a, c])
    g = zs.gradient(lambda: np.sum(a**2), ps)
    assert g[c] is None
    h = g + g
    np.testing.assert_array_equal(h[a], [4.0, 8.0])
    np.testing.assert_array_equal((g - g)[a], [0.0, 0.0])
    np.testing.assert_array_equal((g * 3)[a], [6.0, 12.0])
    np.testing.assert_array_equal((g / 2)[a], [1.0, 2.0])
    assert [k is a for k in g.keys()] == [True, False]
    with pytest.raises(KeyError):
        g[np.array([1.0, 2.0])]
    g.step(0.5)
    np.testing.assert_array_equal(a, [0.0, 0.0])


def test_jacobian():
    J = zs.jacobian(lambda a, x: a**2 * x, np.array([1.0, 2.0, 3.0]), 1.0)
    np.testing.assert_array_equal(J[0], np.diag([2.0, 4.0, 6.0]))
    np.testing.assert_array_equal(J[1], [1.0, 4.0, 9.0])


def test_hessian_and_diaghessian():
    np.testing.assert_array_equal(zs.hessian(lambda x: x[0]*x[1], np.array([0.3, -0.2])),
                                  [[0.0, 1.0], [1.0, 0.0]])
    H = zs.hessian(lambda x: np.sum(x**3), np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert H.shape == (2, 2, 2, 2)
    np.testing.assert_array_equal(H.reshape(4, 4), np.diag([6.0, 12.0, 18.0, 24.0]))
    d = zs.diaghessian(lambda x: np.sum(x**3), np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(d[0], [[6.0, 12.0], [18.0, 24.0]])
    assert zs.hessian(lambda x: np.sin(x) * x, 0.5) == pytest.approx(2*np.cos(0.5) - 0.5*np.sin(0.5), rel=1e-14)
