"""The exact source of a few small kernels: generated code reads as a person
would write it (constants folded, shared values named once, guards first).
A change to code generation that alters these must be deliberate."""
import numpy as np

import zygote_sym as zs


def source(f, *args):
    """The kernel of the value and the gradient (gradient() alone runs one
    without the value: test_compiled)."""
    c = zs.compile(f)
    c.withgradient(*args)
    return c.source


def test_polynomial_math_kernel():
    assert source(lambda x: 3*x**2 + 2*x + 1, 2.0) == (
        "def kernel(x):\n"
        "    return (3*x**2 + 2*x + 1, 2 + 6*x)\n")


def test_guard_is_checked_first():
    assert source(lambda x, y: x**2 if x > y else -x*y, 2.0, 1.0) == (
        "def kernel(x, y):\n"
        "    if not (x > y): return None\n"
        "    return (x**2, 2*x)\n")


def test_rosenbrock_folds_constants_and_names_slices_once():
    f = lambda x: np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)  # noqa: E731
    assert source(f, np.ones(5)) == (
        "def kernel(x):\n"
        "    _t0 = x[1:5]\n"
        "    _t1 = x[0:4]\n"
        "    _t2 = _t0 - _t1**2\n"
        "    _t3 = 1 - _t1\n"
        "    _t4 = np.sum(100*_t2**2 + _t3**2, axis=0)\n"
        "    _t5 = _place(-2*_t3 - 400*_t2*_t1, (5,), np.s_[0:4])\n"
        "    _t6 = _place(200*_t2, (5,), np.s_[1:5])\n"
        "    return (_t4, _t5 + _t6)\n")


def test_sum_of_squares_is_a_dot_and_constants_fold():
    assert source(lambda x: np.sum(3*(2*x*x)), np.ones(3)) == (
        "def kernel(x):\n"
        "    _t0 = np.dot(np.ravel(x), np.ravel(x))\n"
        "    return (6*_t0, 12*x)\n")


def test_safe_select_keeps_the_log_in_its_domain():
    assert source(lambda x: np.sum(np.where(x > 0, np.log(x), 0.0)), np.ones(3)) == (
        "def kernel(x):\n"
        "    _t0 = x > 0\n"
        "    _t1 = np.where(_t0, x, 1)\n"
        "    _t2 = np.where(_t0, np.log(_t1), 0)\n"
        "    _t3 = np.sum(_t2, axis=0)\n"
        "    _t4 = np.where(_t0, 1/_t1, 0)\n"  # the partial inside the select (nan-proof)
        "    return (_t3, _t4)\n")


def test_logistic_loss_shares_one_exp():
    # a large softplus and its derivative sigmoid: NumPy ufuncs around one exp(-|x|)
    # (passes.lower_logistic; below 2048 elements they stay expit and _np_softplus)
    assert source(lambda x: np.sum(np.log1p(np.exp(x))), np.zeros(4096)) == (
        "def kernel(x):\n"
        "    _t0 = np.exp(-np.abs(x))\n"
        "    _t1 = np.sum(np.maximum(0, x) + np.log1p(_t0), axis=0)\n"
        "    return (_t1, np.exp(np.minimum(0, x))/(1 + _t0))\n")


def test_stages_show_every_pass():
    c = zs.compile(lambda x: np.sum(x*x))
    c.withgradient(np.ones(3))  # (the value's kernel: its sum is the Dot)
    text = c.stages()
    assert text.index("# traced") < text.index("# after rewrite_dots") < text.index("# plan") \
        < text.index("# source") and "Dot(x, x)" in text and "def kernel(x):" in text
