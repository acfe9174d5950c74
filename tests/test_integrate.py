"""scipy.integrate.odeint and solve_ivp through the adjoint (zygote_sym/integrate.py):
gradients w.r.t. y0, times and parameters against analytic solutions
(exponential decay, harmonic oscillator) and central differences."""
import numpy as np
import pytest
import scipy.integrate
import scipy.integrate as si
from numpy.testing import assert_allclose

import zygote_sym as zs
from zygote_sym.errors import NoRuleError, TracerConversionError
from zygote_sym.integrate import odeint, solve_ivp
from zygote_sym.trace import library

TIGHT = dict(rtol=1e-11, atol=1e-12)


def central(f, x, h=1e-4):
    """Central differences of a scalar f at x (a number or an array); h is
    large because the solver's own error (about 1e-11) divided by h is the
    noise of a difference quotient."""
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (f(x + e) - f(x - e)) / (2 * h)
    return out


# --- exponential decay: y(t) = y0 exp(-k (t - t0))
TS = np.array([0.0, 0.4, 1.0, 1.5])
WEIGHTS = np.array([[0.0, 0.0], [1.0, -2.0], [0.5, 3.0], [2.0, 1.0]])


def decay_loss(y0, t, k):
    ys = odeint(lambda y, t, k: -k * y, y0, t, args=(k,), **TIGHT)
    return np.sum(WEIGHTS * ys**2)


def decay_exact(y0, t, k):
    ys = y0[None, :] * np.exp(-k * (t - t[0]))[:, None]
    return np.sum(WEIGHTS * ys**2)


def test_odeint_exponential_decay_matches_the_analytic_gradient():
    y0, k = np.array([1.0, -0.5]), 0.7
    val, grads = zs.withgradient(decay_loss, y0, TS, k)
    exact_val, exact = zs.withgradient(decay_exact, y0, TS, k)  # the closed form, differentiated
    assert val == pytest.approx(exact_val, rel=1e-9)
    for g, e in zip(grads, exact):
        assert_allclose(g, e, rtol=1e-8, atol=1e-10)


# --- harmonic oscillator: x'' = -w² x, as odeint's users write it (a list)
def oscillator(y, t, w):
    return [y[1], -w**2 * y[0]]


def oscillator_exact(y0, t, w):
    x = y0[0] * np.cos(w * t) + y0[1] / w * np.sin(w * t)
    v = -y0[0] * w * np.sin(w * t) + y0[1] * np.cos(w * t)
    return x, v


def oscillator_loss(y0, t, w):
    ys = odeint(oscillator, y0, t, args=(w,), **TIGHT)
    return np.sum(ys[:, 0] ** 2) + ys[-1, 1]


def test_odeint_harmonic_oscillator_against_analytic_and_central_differences():
    y0, t, w = np.array([1.0, 0.3]), np.linspace(0.0, 2.0, 5), 1.3
    grads = zs.gradient(oscillator_loss, y0, t, w)

    def exact_loss(y0, t, w):
        x, v = oscillator_exact(y0, t - t[0], w)
        return np.sum(x**2) + v[-1]
    for g, e in zip(grads, zs.gradient(exact_loss, y0, t, w)):
        assert_allclose(g, e, rtol=1e-8, atol=1e-10)
    assert_allclose(grads[0], central(lambda v: oscillator_loss(v, t, w), y0), rtol=1e-6)
    assert_allclose(grads[1], central(lambda v: oscillator_loss(y0, v, w), t), rtol=1e-6)
    assert grads[2] == pytest.approx(central(lambda v: oscillator_loss(y0, t, v), w), rel=1e-6)


def test_odeint_tfirst_scalar_y0_and_a_time_dependent_force():
    # y' = -y + sin(a t), y(t0) = y0: the t-dependence reaches the cotangent of t0
    def loss(y0, t, a):
        ys = odeint(lambda t, y, a: -y + np.sin(a * t), y0, t, args=(a,), tfirst=True, **TIGHT)
        return np.sum(ys[:, 0] * np.array([0.0, 1.0, 2.0]))

    def exact_loss(y0, t, a):
        p = (np.sin(a * t) - a * np.cos(a * t)) / (1 + a**2)  # the particular solution
        return np.sum(((y0 - p[0]) * np.exp(t[0] - t) + p) * np.array([0.0, 1.0, 2.0]))
    t, y0, a = np.array([0.2, 0.9, 1.7]), 0.4, 2.0
    assert loss(y0, t, a) == pytest.approx(exact_loss(y0, t, a), rel=1e-10)
    for g, e in zip(zs.gradient(loss, y0, t, a), zs.gradient(exact_loss, y0, t, a)):
        assert_allclose(g, e, rtol=1e-8, atol=1e-9)


# --- solve_ivp
def ivp_loss(y0, w, t_span, t_eval):
    sol = solve_ivp(lambda t, y, w: [y[1], -w**2 * y[0]], t_span, y0, t_eval=t_eval,
                    args=(w,), **TIGHT)
    return np.sum(sol.y[0] ** 2) + sol.y[1, -1]


def test_solve_ivp_with_t_eval_against_the_analytic_gradient():
    y0, w, t_span, t_eval = np.array([1.0, 0.3]), 1.3, np.array([0.1, 2.0]), np.array([0.5, 1.0, 2.0])
    grads = zs.gradient(ivp_loss, y0, w, t_span, t_eval)

    def exact_loss(y0, w, t_span, t_eval):  # started at t_span[0] instead of 0
        x0, v0 = oscillator_exact(y0, -t_span[0], w)  # the state at 0 that gives y0 at t0
        x, v = oscillator_exact(np.stack([x0, v0]), t_eval, w)
        return np.sum(x**2) + v[-1]
    exact = zs.gradient(exact_loss, y0, w, t_span, t_eval)
    for g, e in zip(grads, exact):
        assert_allclose(g, 0.0 if e is None else e, rtol=1e-7, atol=1e-9)


def test_solve_ivp_without_t_eval_differentiates_the_end_points():
    def end(y0, w, t1):
        sol = solve_ivp(lambda t, y, w: [y[1], -w**2 * y[0]], (0.0, t1), y0, method="DOP853",
                        args=(w,), **TIGHT)
        return sol.y[0, -1] + 0.5 * sol.y[1, 0]
    y0, w, t1 = np.array([1.0, 0.3]), 1.3, 2.0
    g_y0, g_w, g_t1 = zs.gradient(end, y0, w, t1)
    x = lambda y0, w, t1: oscillator_exact(y0, t1, w)[0] + 0.5 * y0[1]  # noqa: E731
    e_y0, e_w, e_t1 = zs.gradient(x, y0, w, t1)
    assert_allclose(g_y0, e_y0, rtol=1e-8)
    assert g_w == pytest.approx(e_w, rel=1e-8) and g_t1 == pytest.approx(e_t1, rel=1e-8)


def test_solve_ivp_result_keeps_scipys_fields():
    def f(y0):
        sol = solve_ivp(lambda t, y: -y, (0.0, 1.0), y0, t_eval=[0.5, 1.0], **TIGHT)
        assert sol.success and sol.status == 0 and sol.sol is None
        assert_allclose(sol.t, [0.5, 1.0])
        return sol.y[0, 1]
    assert zs.gradient(f, np.array([2.0]))[0][0] == pytest.approx(np.exp(-1.0), rel=1e-9)


# --- autograd's examples/ode_net.py (1.9.1, MIT License, (c) 2014 HIPS), ported
# mechanically: a neural ODE whose parameters are a list of (W, b) in args
def nn_predict(inputs, t, params):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.maximum(0, outputs)
    return outputs


def init_nn_params(scale, layer_sizes, rs=np.random.RandomState(0)):
    return [(rs.randn(insize, outsize) * scale, rs.randn(outsize) * scale)
            for insize, outsize in zip(layer_sizes[:-1], layer_sizes[1:])]


def ode_pred(params, y0, t):
    return odeint(nn_predict, y0, t, tuple((params,)), rtol=0.01)


def L1_loss(pred, targets):
    return np.mean(np.abs(pred - targets))


def test_autograd_ode_net_example_against_central_differences():
    t = np.linspace(0.0, 1.5, 8)
    true_A = np.array([[-0.1, 2.0], [-2.0, -0.1]])
    true_y0 = np.array([2.0, 0.0])
    true_y = si.odeint(lambda y, t0, A: np.dot(y**3, A), true_y0, t, args=(true_A,))
    params = init_nn_params(0.5, layer_sizes=[2, 5, 2])

    def train_loss(params):  # a smooth loss (L1 has kinks) and tight tolerances for differences
        pred = odeint(nn_predict, true_y0, t, tuple((params,)), **TIGHT)
        return np.mean((pred - true_y) ** 2)
    grads = zs.gradient(train_loss, params)[0]
    flat = np.concatenate([p.ravel() for layer in params for p in layer])

    def unflatten(v):
        out, i = [], 0
        for W, b in params:
            out.append((v[i:i + W.size].reshape(W.shape), v[i + W.size:i + W.size + b.size]))
            i += W.size + b.size
        return out
    expected = central(lambda v: train_loss(unflatten(v)), flat)
    got = np.concatenate([g.ravel() for layer in grads for g in layer])
    assert_allclose(got, expected, rtol=1e-5, atol=1e-8)
    assert zs.withgradient(lambda p: L1_loss(ode_pred(p, true_y0, t), true_y), params).val == \
        pytest.approx(L1_loss(ode_pred(params, true_y0, t), true_y), rel=1e-12)


# --- compiled, plain, proxied, refused
def test_compiled_kernels_rerun_the_forward_and_adjoint_solves():
    c = zs.compile(decay_loss)
    for y0, k in ((np.array([1.0, -0.5]), 0.7), (np.array([0.3, 2.0]), 1.9)):
        for g, e in zip(c.gradient(y0, TS, k), zs.gradient(decay_exact, y0, TS, k)):
            assert_allclose(g, e, rtol=1e-8, atol=1e-10)


def test_plain_calls_are_scipys():
    f = lambda y, t: -2 * y  # noqa: E731
    assert_allclose(odeint(f, [1.0], TS), si.odeint(f, [1.0], TS), rtol=0, atol=0)
    ys, info = odeint(f, [1.0], TS, full_output=1)
    assert "nfe" in info and isinstance(solve_ivp(lambda t, y: -y, (0, 1), [1.0]).y, np.ndarray)


def test_full_output_while_traced():
    def f(y0):
        ys, info = odeint(lambda y, t: -2 * y, y0, TS, full_output=1, **TIGHT)
        assert info["nfe"][-1] > 0
        return ys[-1, 0]
    assert zs.gradient(f, 1.0)[0] == pytest.approx(np.exp(-3.0), rel=1e-9)


def test_through_an_explicit_library_proxy_of_scipy_integrate():
    integrate = library.proxy(scipy.integrate)
    g, = zs.gradient(lambda k: integrate.odeint(lambda y, t, k: -k * y, 1.0, [0.0, 1.0],
                                                args=(k,), **TIGHT)[1, 0], 0.5)
    assert g == pytest.approx(-np.exp(-0.5), rel=1e-9)


def test_unchanged_scipy_integrate_odeint():  # f's globals are seen through library proxies
    g, = zs.gradient(lambda k: scipy.integrate.odeint(lambda y, t, k: -k * y, 1.0, [0.0, 1.0],
                                                      args=(k,), **TIGHT)[1, 0], 0.5)
    assert g == pytest.approx(-np.exp(-0.5), rel=1e-9)


def test_a_traced_value_in_the_closure_is_refused():
    with pytest.raises(TracerConversionError, match=r"closure variable k.*pass it through args"):
        zs.gradient(lambda k: odeint(lambda y, t: -k * y, 1.0, TS)[1, 0], 0.5)


def test_events_and_dense_output_are_refused_while_traced():
    with pytest.raises(NoRuleError, match="t_eval"):
        zs.gradient(lambda y0: solve_ivp(lambda t, y: -y, (0, 1), [y0], dense_output=True).y[0, -1], 1.0)


def test_a_second_derivative_is_refused():
    with pytest.raises(NoRuleError, match="pullback of odeint"):
        zs.hessian(lambda k: odeint(lambda y, t, k: -k * y, 1.0, TS, args=(k,))[1, 0], 0.5)


def test_unchanged_solve_ivp_imported_by_name():
    from scipy.integrate import solve_ivp as scipy_solve_ivp

    def end(k):
        return scipy_solve_ivp(lambda t, y, k: -k * y, (0.0, 1.0), [1.0], args=(k,), **TIGHT).y[0, -1]
    assert zs.gradient(end, 0.5)[0] == pytest.approx(-np.exp(-0.5), rel=1e-9)


def test_the_example_of_docs_integrate_md():
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "docs" / "integrate.md").read_text()
    namespace = {}
    exec(text.split("```python\n")[1].split("```")[0], namespace)
    y0, w, t = np.array([1.0, 0.3]), 1.3, np.linspace(0, 2, 5)
    exact = zs.gradient(lambda y0, w: np.sum(oscillator_exact(y0, t, w)[0] ** 2), y0, w)
    got = zs.gradient(namespace["loss"], y0, w)
    assert_allclose(got[0], exact[0], rtol=1e-8)
    assert got[1] == pytest.approx(exact[1], rel=1e-8)


def test_args_nested_in_a_dict_with_an_integer_and_a_string():
    def f(y, t, p):  # p["n"] is used as Python's int, p["mode"] as a string
        assert isinstance(p["n"], int) and p["mode"] == "decay"
        return -p["k"] * y ** p["n"]

    def loss(k):
        return odeint(f, [1.0], TS, args=({"k": k, "n": 1, "mode": "decay"},), **TIGHT)[-1, 0]
    assert zs.gradient(loss, 0.7)[0] == pytest.approx(-TS[-1] * np.exp(-0.7 * TS[-1]), rel=1e-8)


def test_compiled_sees_a_changed_array_the_dynamics_reads():
    rates = np.array([0.5, 1.5])

    def dyn(y, t, k):
        return -k * rates * y

    def loss(k):
        return np.sum(odeint(dyn, np.ones(2), TS, args=(k,), **TIGHT)[-1])
    c = zs.compile(loss)
    for first_rate in (0.5, 2.0):
        rates[0] = first_rate  # changed in place between calls
        exact = -np.sum(rates * TS[-1] * np.exp(-0.7 * rates * TS[-1]))
        assert c.gradient(0.7)[0] == pytest.approx(exact, rel=1e-8)
