"""Complex numbers with Zygote's convention: for a real f of complex z the
gradient is df/dRe(z) + i df/dIm(z) (JAX returns its conjugate).

Expected values are derived by hand with d/dx + i d/dy, or are central
differences taken separately along the real and imaginary directions."""
import numpy as np
import pytest

import zygote_sym as zs
from zygote_sym.errors import NoRuleError, NonScalarOutputError, TracerConversionError

Z0 = np.complex128(0.4 + 0.3j)  # away from every branch cut and pole of the table
C = 0.3 - 0.7j     # mixes the real and imaginary parts of g(z) into a real loss


def fd_grad(f, z, h=1e-6):
    """Zygote's convention by central differences: df/dx + i df/dy, elementwise."""
    z = np.asarray(z, complex)
    g = np.zeros(z.shape, complex)
    for idx in np.ndindex(z.shape):
        for unit in (1, 1j):
            e = np.zeros(z.shape, complex)
            e[idx] = unit * h
            d = (f(z + e) - f(z - e)) / (2 * h)
            g[idx] += unit * d
    return g if z.shape else complex(g)


def test_abs2_is_2z():
    assert zs.gradient(lambda z: abs(z) ** 2, 1 + 2j)[0] == pytest.approx(2 + 4j, abs=1e-15)
    assert zs.gradient(lambda z: np.real(z * np.conj(z)), 1 + 2j) == (2 + 4j,)  # exact


def test_real_of_z_squared_is_2_conj_z():
    # Re(z^2) = x^2 - y^2: d/dx + i d/dy = 2x - 2iy = 2 conj(z)
    assert zs.gradient(lambda z: np.real(z ** 2), 1.5 - 0.5j) == (3 + 1j,)
    assert zs.gradient(lambda z: (z ** 2).real, 1.5 - 0.5j) == (3 + 1j,)
    assert zs.gradient(lambda z: (z * z).imag, 1.5 - 0.5j) == (2 * (-0.5 + 1.5j),)  # 2xy


def test_abs_exp_squared_from_the_issue():
    # |exp(z)|^2 = e^{2x}: gradient 2 e^{2x} (real); JAX and autograd agree (the
    # conjugate of a real number is itself)
    z = 0.5 + 0.3j
    g, = zs.gradient(lambda z: abs(np.exp(z)) ** 2, z)
    assert g == pytest.approx(2 * np.exp(2 * z.real), rel=1e-14, abs=1e-14)


ELEMENTWISE = {
    "add": lambda z: z + (2 - 1j), "radd": lambda z: (2 - 1j) + z,
    "sub": lambda z: z - 3j, "rsub": lambda z: 3j - z,
    "mul": lambda z: z * (1.5 + 2j), "div": lambda z: z / (1 - 2j),
    "rdiv": lambda z: (1 - 2j) / z, "neg": lambda z: -z,
    "pow2": lambda z: z ** 2, "pow3": lambda z: z ** 3, "pow-2": lambda z: z ** -2,
    "pow2.5": lambda z: z ** 2.5, "powc": lambda z: z ** (0.5 + 1j),
    "rpow": lambda z: 2.0 ** z, "square": np.square, "reciprocal": np.reciprocal,
    "exp": np.exp, "expm1": np.expm1, "log": np.log, "log2": np.log2,
    "log10": np.log10, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
}
NON_HOLOMORPHIC = {"conj": np.conj, "conj()": lambda z: z.conj(),
                   "abs": np.abs, "angle": np.angle, "real": np.real, "imag": np.imag}


@pytest.mark.parametrize("name", list(ELEMENTWISE) + list(NON_HOLOMORPHIC))
def test_elementwise_against_central_differences(name):
    g = {**ELEMENTWISE, **NON_HOLOMORPHIC}[name]
    loss = lambda z: np.real(np.conj(C) * g(z))  # noqa: E731  both parts of g(z) matter
    val, (grad,) = zs.withgradient(loss, Z0)
    assert val == pytest.approx(loss(Z0), rel=1e-13)
    assert grad == pytest.approx(fd_grad(loss, Z0), rel=1e-7, abs=1e-8)


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_holomorphic_derivative(name):
    g = ELEMENTWISE[name]
    h = 1e-6
    dg = (g(Z0 + h) - g(Z0 - h)) / (2 * h)
    y, = zs.jacobian(g, Z0, holomorphic=True)
    assert y == pytest.approx(dg, rel=1e-7)
    y, back = zs.pullback(g, Z0)            # back(1) = conj(g'(z)), Zygote's convention
    assert y == pytest.approx(g(Z0), rel=1e-13)
    assert back(1.0)[0] == pytest.approx(np.conj(dg), rel=1e-7)


def test_values_on_the_branch_cut_follow_numpy():
    # the sign of a zero imaginary part picks the side of the cut, as in NumPy
    for z in (complex(-2, 0.0), complex(-2, -0.0)):
        assert zs.pullback(np.sqrt, z)[0] == pytest.approx(np.sqrt(z), rel=1e-15, abs=0)
        assert zs.pullback(np.log, z)[0] == np.log(z)
    assert zs.pullback(np.sqrt, complex(-2, -0.0))[0].imag < 0


def test_complex_constant_in_a_real_function():
    assert zs.gradient(lambda x: np.imag(x * 1j), 2.0) == (1.0,)
    assert zs.gradient(lambda x: np.real(x * 1j), 2.0) == (None,)  # Re(ix) = 0
    assert zs.gradient(lambda x: np.real(np.exp(1j * x)), 0.7)[0] == pytest.approx(-np.sin(0.7))
    assert zs.gradient(lambda x: np.angle(np.exp(1j * x)), 0.7)[0] == pytest.approx(1.0)
    c = np.array([1j, 2.0])  # a complex constant array meeting a real traced vector
    g, = zs.gradient(lambda x: np.abs(np.dot(c, x)) ** 2, np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [2.0, 16.0])  # |i x0 + 2 x1|^2 = x0^2 + 4 x1^2


def test_real_and_complex_arguments_mixed():
    # f = x^2 |z|^2: df/dx = 2x|z|^2, df/dz = x^2 * 2z
    gx, gz = zs.gradient(lambda x, z: abs(x * z) ** 2, 2.0, 1 + 1j)
    assert gx == pytest.approx(8.0) and gz == pytest.approx(8 + 8j)
    g = zs.gradient(lambda p: abs(p["z"]) ** 2 + p["x"], {"z": 1 - 1j, "x": 3.0})[0]
    assert g["x"] == 1.0 and g["z"] == pytest.approx(2 - 2j)
    assert zs.gradient(lambda x, z: x * 2.0, 1.0, 1j) == (2.0, None)


def test_arrays_of_complex_values():
    z = np.array([1 + 2j, -0.5j, 3.0 + 0j])
    g, = zs.gradient(lambda z: np.sum(np.abs(z) ** 2), z)
    np.testing.assert_allclose(g, 2 * z, atol=1e-15)
    assert g.dtype == complex and g.shape == (3,)
    rng = np.random.default_rng(0)
    A = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    g, = zs.gradient(lambda z: np.sum(np.abs(A @ z) ** 2), z)   # 2 A^H A z
    np.testing.assert_allclose(g, 2 * A.conj().T @ A @ z, rtol=1e-12)


ARRAY_LOSSES = {
    "index": lambda z: np.real(z[0] * z[2]) + np.imag(z[1:]).sum(),
    "sum_axis_reshape": lambda z: np.abs(np.sum(z.reshape(3, 1), axis=1)).sum(),
    "mean_T": lambda z: np.real(np.mean(z.T * (1 + 2j))),
    "concatenate": lambda z: np.sum(np.abs(np.concatenate([z, z[:1] * 1j])) ** 2),
    "stack": lambda z: np.imag(np.sum(np.stack([z, np.conj(z) * z]) * C)),
    "where": lambda z: np.sum(np.real(np.where(np.real(z) > 0, z ** 2, np.exp(z)))),
    "dot": lambda z: np.real(np.dot(z, z)),
    "vdot": lambda z: np.real(np.vdot(z, np.sin(z))),
    "einsum": lambda z: np.real(np.einsum("i,i->", z, np.conj(z) + 1j)),
    "outer": lambda z: np.abs(np.outer(z, z)).sum(),
    "norm": lambda z: np.linalg.norm(z * (2 - 1j)),
    "iterate": lambda z: sum(np.abs(v) for v in z),
    "attributes": lambda z: np.sum(z.real * z.imag + np.angle(z)),
}


@pytest.mark.parametrize("name", list(ARRAY_LOSSES))
def test_array_operations_against_central_differences(name):
    loss = ARRAY_LOSSES[name]
    z = np.array([0.7 + 0.2j, -0.3 + 0.9j, 1.1 - 0.4j])
    val, (g,) = zs.withgradient(loss, z)
    assert val == pytest.approx(loss(z), rel=1e-13)
    np.testing.assert_allclose(g, fd_grad(loss, z), rtol=1e-6, atol=1e-8)


def test_jacobian_holomorphic_from_the_issue():
    J, = zs.jacobian(lambda x: x ** 2, np.array([1 + 1j]), holomorphic=True)
    np.testing.assert_array_equal(J, [[2 + 2j]])
    J, = zs.jacobian(lambda x: np.exp(1j * x), 0.5, holomorphic=True)  # real input: df/dx
    assert J == pytest.approx(1j * np.exp(0.5j))
    J, = zs.jacobian(lambda z: np.abs(z) ** 2, np.array([1 + 2j, 3j]))  # real output
    np.testing.assert_allclose(J, np.diag([2 + 4j, 6j]), atol=1e-15)


def test_jacobian_holomorphic_of_arrays_and_pytrees():
    z = np.array([0.1 + 0.2j, -0.3 + 0.5j])
    J, = zs.jacobian(np.exp, z, holomorphic=True)
    np.testing.assert_allclose(J, np.diag(np.exp(z)), rtol=1e-15)
    (ab, sq), = [zs.jacobian(lambda p: (p["a"] * p["b"], p["a"] ** 2),
                             {"a": 1 + 1j, "b": 2.0}, holomorphic=True)]
    assert ab == ({"a": 2 + 0j, "b": 1 + 1j},) and sq == ({"a": 2 + 2j, "b": None},)


def test_complex_outputs_are_refused_with_the_fix():
    with pytest.raises(NonScalarOutputError, match=r"np\.real\(f\(z\)\).*abs\(f\(z\)\)\*\*2"):
        zs.gradient(lambda z: z ** 2, 1 + 1j)
    with pytest.raises(NonScalarOutputError, match="complex"):
        zs.withgradient(lambda x: x * 1j, 1.0)
    with pytest.raises(TypeError, match="holomorphic=True"):
        zs.jacobian(lambda x: x ** 2, np.array([1 + 1j]))
    with pytest.raises(ValueError, match="Cauchy-Riemann"):
        zs.jacobian(np.conj, 1 + 1j, holomorphic=True)
    with pytest.raises(TypeError, match=r"hessian\(lambda x, y: f\(x \+ 1j\*y\)"):
        zs.hessian(lambda z: abs(z) ** 2, 1 + 1j)


def test_conversions_and_missing_rules_raise():
    with pytest.raises(TypeError, match="not ordered"):
        zs.gradient(lambda z: 1.0 if z < 1 else 0.0, 1j)
    with pytest.raises(TracerConversionError):
        zs.gradient(lambda z: float(z), 1j)
    with pytest.raises(NoRuleError, match=r"np\.arcsin.*np\.real"):
        zs.gradient(lambda z: np.real(np.arcsin(z)), 0.1j)
    with pytest.raises(NoRuleError, match="item assignment"):
        zs.gradient(lambda z: z.__setitem__(0, 1.0), np.array([1j]))


def test_pullback_and_jvp_conventions():
    # back(dy) is the gradient of Re(conj(dy) * f(z)); for z^2 at 1+1j:
    # back(1) = conj(2z) = 2-2j, back(1j) = gradient of Im(z^2) = 2y + 2ix
    y, back = zs.pullback(lambda z: z ** 2, 1 + 1j)
    assert y == 2j and back(1.0) == (2 - 2j,) and back(1j) == (2 + 2j,)
    with pytest.raises(ValueError, match="complex"):
        zs.pullback(lambda x: x ** 2, 1.0)[1](1j)
    assert zs.jvp(lambda z: z ** 2, (1 + 1j,), (1 + 0j,)) == (2j, 2 + 2j)
    assert zs.jvp(lambda z: z ** 2, (1 + 1j,), (1j,)) == (2j, -2 + 2j)


def test_nested_derivatives():
    # d/dz Re(d/dz |z|^2) = d/dz Re(2z) = 2
    g, = zs.gradient(lambda z: np.real(zs.gradient(lambda w: np.real(w * np.conj(w)), z)[0]),
                     1 + 2j)
    assert g == 2.0
    H = zs.hessian(lambda x, y: abs(x + 1j * y) ** 2, 1.0, 2.0)  # the documented way
    np.testing.assert_allclose(np.array(H, float), 2 * np.eye(2), atol=1e-14)


def test_compile_with_a_complex_scalar():
    c = zs.compile(lambda z: abs(np.exp(z)) ** 2)
    g, = c.gradient(0.5 + 0.3j)
    assert g == pytest.approx(2 * np.exp(1.0), abs=1e-14)
    assert c.gradient(0.1 - 0.2j)[0] == pytest.approx(2 * np.exp(0.2), abs=1e-14)


def test_stop_gradient_of_a_complex_value():
    g, = zs.gradient(lambda z: np.real(z * zs.stop_gradient(z)), 1 + 1j)
    assert g == 1 - 1j   # d/dz Re(z w) with w = 1+i fixed: Re(w) - i Im(w)


def test_compiled_complex_arrays_arguments_and_captured():
    z = np.array([1 + 2j, 3 - 1j])
    c = zs.compile(lambda z: np.sum(abs(z) ** 2))
    np.testing.assert_allclose(c.gradient(z)[0], 2 * z)
    np.testing.assert_allclose(c.gradient(2 * z)[0], 4 * z)  # a new value, the same kernel
    C = np.array([1j, 2.0])  # a captured complex array: a constant checked by content
    c2 = zs.compile(lambda x: np.sum(abs(C * x) ** 2))
    np.testing.assert_allclose(c2.gradient(np.ones(2))[0], [2.0, 8.0])
    C[0] = 3j
    np.testing.assert_allclose(c2.gradient(np.ones(2))[0], [18.0, 8.0])
