"""Issue 3: Zygote's founding example, a colour library written for plain NumPy
(zygote_sym/cli/colordiff.py: sRGB -> XYZ -> CIELAB -> CIEDE2000), differentiates
unchanged."""
import numpy as np
import pytest

import zygote_sym as zs
from zygote_sym.testing import check_grads

from zygote_sym.cli import colordiff as cd


@pytest.fixture(scope="module")
def colordiff():
    return cd.colordiff


RED = np.array([1.0, 0.0, 0.0])
GREEN = np.array([0.0, 1.0, 0.0])


def test_the_library_has_no_zygote_sym_imports():
    assert "zygote_sym" not in open(cd.__file__).read()


def test_value_matches_colour_science(colordiff):
    # reference: colour-science 0.4.7, delta_E(..., method='CIE 2000')
    val, grad = zs.withgradient(colordiff, RED, GREEN)
    assert val == pytest.approx(86.6143118679123, rel=1e-6)
    assert float(colordiff(RED, GREEN)) == pytest.approx(86.6143118679123, rel=1e-6)
    assert len(grad) == 2


def test_gradient_matches_central_differences_of_the_reference(colordiff):
    g_red, g_green = zs.gradient(colordiff, RED, GREEN)
    assert isinstance(g_red, np.ndarray) and g_red.shape == (3,)
    assert isinstance(g_green, np.ndarray) and g_green.shape == (3,)
    np.testing.assert_allclose(g_red, [0.453928, -9.599457, 14.197528], rtol=1e-5)
    np.testing.assert_allclose(g_green, [-1.769712, 28.888155, -0.044928], rtol=1e-5)


def test_gradient_agrees_with_check_grads(colordiff):
    check_grads(colordiff, RED, GREEN)


def test_withgradient_and_gradient_agree(colordiff):
    _, grad = zs.withgradient(colordiff, RED, GREEN)
    for a, b in zip(grad, zs.gradient(colordiff, RED, GREEN)):
        np.testing.assert_array_equal(a, b)


def test_inputs_are_left_untouched(colordiff):
    red, green = RED.copy(), GREEN.copy()
    zs.gradient(colordiff, red, green)
    np.testing.assert_array_equal(red, RED)
    np.testing.assert_array_equal(green, GREEN)


@pytest.mark.parametrize("seed", range(4))
def test_check_grads_at_other_colours(colordiff, seed):
    rng = np.random.default_rng(seed)
    check_grads(colordiff, rng.random(3), rng.random(3))


def test_a_batch_of_colour_pairs(colordiff):
    rng = np.random.default_rng(7)
    a, b = rng.random((4, 3)), rng.random((4, 3))
    check_grads(lambda a, b: np.sum(colordiff(a, b)), a, b)


def test_compiled_kernel_agrees(colordiff):
    loss = zs.compile(colordiff)
    for a, b in [(RED, GREEN), (np.array([0.2, 0.5, 0.3]), np.array([0.4, 0.1, 0.9]))]:
        for x, y in zip(loss.gradient(a, b), zs.gradient(colordiff, a, b)):
            np.testing.assert_allclose(x, y, rtol=1e-12)


def test_the_tour_shows_it():
    from zygote_sym.cli import tour
    lines = []
    tour.run(lines.append)
    assert "WithGradient(val=86.61431186791233" in "\n".join(lines)
