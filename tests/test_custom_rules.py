"""Custom derivative rules (custom_vjp, custom_jvp, hook): JAX's cookbook
examples and an opaque primitive (scipy.integrate.quad), values asserted."""
import numpy as np
import pytest
import scipy.integrate as si

import zygote_sym as zs
from zygote_sym.errors import NoRuleError


@zs.custom_vjp
def area(a):
    """∫_0^1 exp(a t) dt by quadrature: opaque to tracing."""
    return si.quad(lambda t: np.exp(a * t), 0, 1)[0]


area.defvjp(lambda a: (area(a), a),
            lambda a, ct: (ct * si.quad(lambda t: t * np.exp(a * t), 0, 1)[0],))


def exact_area(a):
    return (np.exp(a) - 1) / a


def exact_darea(a):
    return ((a - 1) * np.exp(a) + 1) / a**2


def test_an_opaque_primitive_differentiates_with_its_rule():
    val, (g,) = zs.withgradient(lambda a: area(a) ** 2, 0.7)
    assert val == pytest.approx(exact_area(0.7) ** 2, rel=1e-12)
    assert g == pytest.approx(2 * exact_area(0.7) * exact_darea(0.7), rel=1e-10)


def test_compiled_kernels_call_it_and_recompute_it():
    c = zs.compile(lambda a: area(a) ** 2)
    for a in (0.7, 1.3, -0.4):
        assert c.gradient(a)[0] == pytest.approx(2 * exact_area(a) * exact_darea(a), rel=1e-10)
    assert "_custom" in c.source


def test_it_shows_by_name_in_closed_forms():
    d = zs.derive(lambda a: a * area(a), 0.7)
    assert str(d.value) == "a*area(a)" and r"\operatorname{area}" in d.latex()


def test_an_opaque_rule_refuses_a_second_derivative():
    with pytest.raises(NoRuleError, match="pullback of area runs as plain Python"):
        zs.hessian(area, 0.7)


@zs.custom_vjp
def sin_with_rule(x):
    return np.sin(x)


sin_with_rule.defvjp(lambda x: (np.sin(x), np.cos(x)), lambda c, ct: (c * ct,))


def test_a_traceable_rule_nests():
    assert zs.hessian(sin_with_rule, 0.3) == pytest.approx(-np.sin(0.3), rel=1e-12)
    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(zs.gradient(lambda x: np.sum(sin_with_rule(x)), x)[0], np.cos(x))


@zs.custom_vjp
def clip_gradient(x):
    return x


clip_gradient.defvjp(lambda x: (x, None), lambda _, ct: (np.clip(ct, -1.0, 1.0),))


def test_jax_cookbook_clip_gradient():
    assert zs.gradient(lambda x: 5 * clip_gradient(x), 2.0) == (1.0,)
    assert zs.gradient(lambda x: 0.5 * clip_gradient(x), 2.0) == (0.5,)


@zs.custom_jvp
def log1pexp(x):
    return np.log(1.0 + np.exp(x))


log1pexp.defjvp(lambda p, t: (log1pexp(p[0]), t[0] * (1 - 1 / (1 + np.exp(p[0])))))


def test_jax_cookbook_custom_jvp_is_transposed_for_reverse_mode():
    # the cookbook's point: the naive gradient at 100 is nan in JAX, the rule's is 1
    assert zs.gradient(log1pexp, 100.0) == (1.0,)
    assert zs.gradient(log1pexp, 0.0) == (0.5,)
    assert zs.jvp(log1pexp, (0.0,), (2.0,))[1] == pytest.approx(1.0)


def test_hook_transforms_the_cotangent():
    assert zs.gradient(lambda x: 5 * zs.hook(lambda g: np.clip(g, -1, 1), x), 2.0) == (1.0,)
    assert zs.gradient(lambda x: 3 * zs.hook(lambda g: 2 * g, x), 1.0) == (6.0,)


def test_a_rule_must_be_given():
    @zs.custom_vjp
    def f(x):
        return x
    with pytest.raises(NoRuleError, match="defvjp"):
        zs.gradient(f, 1.0)


def test_plain_calls_are_plain_python():
    assert area(0.7) == pytest.approx(exact_area(0.7)) and log1pexp(0.0) == np.log(2.0)


def test_a_bwd_that_breaks_its_contract_is_named():
    @zs.custom_vjp
    def f(x):
        return np.sin(x)
    f.defvjp(lambda x: (np.sin(x), x), lambda x, g: g * np.cos(x))  # not a tuple
    with pytest.raises(TypeError, match="f's bwd returned one value, not a tuple"):
        zs.gradient(lambda x: f(x) ** 2, 0.3)
