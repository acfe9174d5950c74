"""Transformations users compose: nested derivatives, forward mode, Hessians of
anything, auxiliary outputs, Zygote's API.  Each row is an example of
Zygote's documentation or JAX's autodiff cookbook, with its value."""
import numpy as np
import pytest
import sympy

import zygote_sym as zs
from zygote_sym.errors import NonScalarOutputError


def D(f):
    """The derivative of a scalar function of one scalar."""
    return lambda x: zs.gradient(f, x)[0]


# ------------------------------------------------------------------ nesting
NESTED = [  # (name, value computed, exact value)
    ("gradient of a gradient", lambda: D(np.sin)(0.5) and D(D(np.sin))(0.5), -np.sin(0.5)),
    ("third derivative", lambda: D(D(D(lambda x: x**4)))(2.0), 48.0),
    ("fifth derivative is exactly 0 + cos", lambda: D(D(D(D(D(lambda x: x**4 + np.sin(x))))))(0.0),
     1.0),
    # the fourth derivative is the constant 24, which does not depend on x:
    # None, Zygote's `nothing` (as hessian gives None for an independent input)
    ("fifth derivative of x**4 is nothing", lambda: D(D(D(D(D(lambda x: x**4)))))(0.7), None),
    # perturbation confusion (Siskind & Pearlmutter): x * D(y -> x*y)(1) is x**2
    ("perturbation confusion", lambda: zs.gradient(
        lambda x: zs.gradient(lambda y: x * y, 1.0)[0] * x, 4.0)[0], 8.0),
    # d/dy (x*y**2) = 2xy, at y = x: 2x**2, whose derivative at 3 is 12
    ("closure over the outer variable", lambda: D(lambda x: D(lambda y: x * y**2)(x))(3.0),
     12.0),
]


@pytest.mark.parametrize("name, got, want", NESTED, ids=[n for n, _, _ in NESTED])
def test_nested(name, got, want):
    assert got() == (None if want is None else pytest.approx(want, abs=1e-12))


def test_jacobian_of_a_gradient_is_the_hessian():
    x = np.array([0.3, -0.2, 0.5])
    f = lambda x: np.sum(np.sin(x) * x**2)  # noqa: E731
    np.testing.assert_allclose(zs.jacobian(lambda x: zs.gradient(f, x)[0], x)[0],
                               zs.hessian(f, x), rtol=1e-12)


def test_gradient_of_a_hessian_is_the_third_derivative():
    assert zs.gradient(lambda x: zs.hessian(lambda y: y**4, x), 2.0) == (48.0,)


def test_nested_pullback_and_arrays():
    x = np.array([0.1, 0.2])

    def f(x):
        y, back = zs.pullback(lambda z: np.sin(z) * x, x)
        return np.sum(back(np.ones(2))[0])  # sum(cos(x)*x)
    np.testing.assert_allclose(zs.gradient(f, x)[0], np.cos(x) - x * np.sin(x), rtol=1e-12)


def test_an_escaped_tracer_raises():
    saved = []
    zs.gradient(lambda x: saved.append(x) or x * 2, 1.0)
    # the trace scrubbed it to its value; a tracer kept by other means raises
    assert saved == [1.0]


# ---------------------------------------------------------- forward mode
def test_jvp_matches_the_gradient_and_jax_conventions():
    x, v = np.array([0.3, -0.2, 0.5]), np.array([1.0, 2.0, -1.0])
    f = lambda x: np.sum(np.sin(x) * x**2)  # noqa: E731
    y, t = zs.jvp(f, (x,), (v,))
    assert y == pytest.approx(f(x)) and t == pytest.approx(zs.gradient(f, x)[0] @ v)
    assert zs.jvp(lambda x, y: x * y, (2.0, 3.0), (1.0, 0.0)) == (6.0, 3.0)
    out, tan = zs.jvp(lambda x: {"a": x**2, "b": np.sum(x)}, (x,), (v,))
    np.testing.assert_allclose(tan["a"], 2 * x * v)
    assert tan["b"] == pytest.approx(np.sum(v))
    assert zs.jvp(lambda x, y: x, (1.0, 2.0), (0.0, 5.0)) == (1.0, 0.0)


def test_hvp_is_the_hessian_times_the_vector():
    x, v = np.array([0.3, -0.2, 0.5]), np.array([1.0, 2.0, -1.0])
    f = lambda x: np.sum(np.sin(x) * x**2)  # noqa: E731
    np.testing.assert_allclose(zs.hvp(f, (x,), (v,))[0], zs.hessian(f, x) @ v, rtol=1e-12)


def test_jvp_nests():
    assert zs.gradient(lambda x: zs.jvp(lambda y: y**3, (x,), (1.0,))[1], 2.0) == (12.0,)


def test_jvp_refuses_mismatched_tangents():
    with pytest.raises(ValueError, match="tangents shaped like the primals"):
        zs.jvp(lambda x: x, (np.ones(2),), (np.ones(3),))


# --------------------------------------------------------------- Hessians
def test_hessian_of_several_arguments_and_pytrees():
    assert zs.hessian(lambda x, y: x**2 * y, 1.0, 2.0) == ((4.0, 2.0), (2.0, 0.0))
    assert zs.hessian(lambda p: p["a"] * p["b"], {"a": 1.0, "b": 2.0}) == \
        {"a": {"a": 0.0, "b": 1.0}, "b": {"a": 1.0, "b": 0.0}}
    H = zs.hessian(lambda x, y: np.sum(x**2) * y, np.array([1.0, 2.0]), 3.0)
    np.testing.assert_array_equal(H[0][0], 6 * np.eye(2))
    np.testing.assert_array_equal(H[0][1], [2.0, 4.0])
    np.testing.assert_array_equal(H[1][0], [2.0, 4.0])
    assert H[1][1] == 0.0


def test_zeros_where_identically_zero_none_where_independent():
    assert zs.hessian(lambda x: 3 * x + 1, 1.0) == 0.0
    assert zs.hessian(lambda x, y: x**2, 1.0, 2.0) == ((2.0, None), (None, None))
    np.testing.assert_array_equal(zs.diaghessian(lambda x: np.sum(2 * x), np.ones(2))[0],
                                  [0.0, 0.0])
    assert zs.diaghessian(lambda x, y: x * y, 1.0, 2.0) == (0.0, 0.0)
    assert zs.jacobian(lambda x, y: x, 1.0, 2.0) == (1.0, None)
    assert zs.jacobian(lambda x: np.floor(x) + 0 * x, 1.5) == (0.0,)


def test_jacobian_of_a_pytree_output():
    J = zs.jacobian(lambda x: {"sq": x**2, "lin": 3 * x}, 2.0)
    assert J == {"sq": (4.0,), "lin": (3.0,)}


# --------------------------------------------------------- auxiliary output
def test_withgradient_of_a_tuple_differentiates_the_first_element():
    # Zygote: withgradient(m -> (loss(m), aux), m): val is the whole output
    res = zs.withgradient(lambda x: (x**2, {"cube": x**3}), 2.0)
    assert res.val == (4.0, {"cube": 8.0}) and res.grad == (4.0,)
    assert zs.gradient(lambda x: (x**2, "aux"), 3.0, has_aux=True) == ((6.0,), "aux")


def test_gradient_of_a_tuple_without_has_aux_raises():
    with pytest.raises(NonScalarOutputError, match="has_aux=True"):
        zs.gradient(lambda x: (x**2, x), 3.0)


# ----------------------------------------------------------- Zygote's API
def test_buffer_dropgrad_and_friends():
    def f(x):
        b = zs.Buffer(x)
        for i in range(len(x)):
            b[i] = x[i] ** 2
        return np.sum(b)
    np.testing.assert_array_equal(zs.gradient(f, np.array([1.0, 2.0]))[0], [2.0, 4.0])
    assert zs.gradient(lambda x: x * zs.dropgrad(x), 3.0) == (3.0,)
    assert zs.gradient(lambda x: x * zs.ignore_derivatives(x), 3.0) == (3.0,)
    assert zs.gradient(lambda x: zs.forwarddiff(lambda y: y**2, x), 3.0) == (6.0,)
    assert zs.gradient(lambda x: zs.checkpointed(lambda y: y**2, x), 3.0) == (6.0,)
    assert zs.withjacobian(lambda x: 2 * x, 3.0) == (6.0, (2.0,))
    assert zs.hessian_reverse(lambda x: x**3, 2.0) == 12.0


def test_symbolic_nesting_is_refused_clearly():
    x = sympy.Symbol("x")
    with pytest.raises(Exception, match="numeric"):
        zs.derive(lambda x: zs.gradient(lambda y: x * y, 1.0)[0], x)


# ------------------------------------------------------------ check_grads
@pytest.mark.parametrize("order", [1, 2, 3])
def test_check_grads_in_both_modes_to_third_order(order):
    from zygote_sym.testing import check_grads
    check_grads(lambda x, y: np.sum(np.exp(x) * np.sin(y)), np.array([0.1, 0.4]), 0.3,
                order=order, modes=("fwd", "rev"))
    check_grads(lambda x: np.tanh(x) * x, np.array([0.2, -0.5]), order=order,
                modes=("fwd", "rev"))  # a non-scalar output: random cotangents


def test_check_grads_catches_a_wrong_rule():
    from zygote_sym.testing import check_grads

    @zs.custom_vjp
    def wrong(x):
        return np.sin(x)
    wrong.defvjp(lambda x: (np.sin(x), x), lambda x, ct: (ct * 2 * x,))
    with pytest.raises(AssertionError, match="rev mode"):
        check_grads(wrong, 0.3)


def test_params_in_pullback_and_jacobian():
    W, x = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, -1.0])
    J = zs.jacobian(lambda: W @ x, zs.Params([W]))
    np.testing.assert_array_equal(J[W], [[[1.0, -1.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, -1.0]]])
    y, back = zs.pullback(lambda: np.sum(W @ x), zs.Params([W]))
    assert y == -2.0
    np.testing.assert_array_equal(back(1.0)[W], [[1.0, -1.0], [1.0, -1.0]])


def test_compiled_functions_nest():
    c = zs.compile(lambda y: y**3)
    assert zs.gradient(lambda x: c.gradient(x)[0], 2.0) == (12.0,)
    assert zs.gradient(lambda x: c(x), 2.0) == (12.0,)
    k = zs.compile(lambda y, z: y * z, wrt=0)
    assert zs.gradient(lambda x: k.gradient(x, x)[0], 3.0) == (1.0,)
    # a compiled function that captures a traced value of the enclosing derivative
    assert zs.gradient(lambda x: zs.compile(lambda y: x * y).gradient(1.0)[0], 4.0) == (1.0,)
